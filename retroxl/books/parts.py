"""The bookkeeping parts of an OOXML package: relationships, content types, element order.

Each is edited as text so that whatever else a part holds (attributes we do not
know, extension lists) stays exactly as it was.
"""

from __future__ import annotations

import posixpath
import re

from .sheetxml import attrs, escape, parse_range

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STRICT_REL = "http://purl.oclc.org/ooxml/officeDocument/relationships"
T_OFFICE_DOCUMENT = REL + "/officeDocument"
T_WORKSHEET = REL + "/worksheet"
T_SHARED_STRINGS = REL + "/sharedStrings"
T_STYLES = REL + "/styles"
T_COMMENTS = REL + "/comments"
T_VML = REL + "/vmlDrawing"
T_TABLE = REL + "/table"
T_DRAWING = REL + "/drawing"
T_CHART = REL + "/chart"

CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_COMMENTS = "application/vnd.openxmlformats-officedocument.spreadsheetml.comments+xml"
CT_VML = "application/vnd.openxmlformats-officedocument.vmlDrawing"
CT_TABLE = "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml"
CT_DRAWING = "application/vnd.openxmlformats-officedocument.drawing+xml"
CT_CHART = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"

# Any namespace prefix: python-calamine goes by local names, and collect finds tables as it does.
_REL_ELEMENT = re.compile(r"<(?:[\w.-]+:)?Relationship\b([^>]*?)/?>(?:</(?:[\w.-]+:)?Relationship>)?", re.S)
_TABLE_HEAD = re.compile(r"<(?:[\w.-]+:)?table\b([^>]*)>")

# The order of a worksheet's elements after sheetData (CT_Worksheet); Excel rejects another order.
WORKSHEET_TAIL = ("sheetCalcPr", "sheetProtection", "protectedRanges", "scenarios", "autoFilter", "sortState",
                  "dataConsolidate", "customSheetViews", "mergeCells", "phoneticPr", "conditionalFormatting",
                  "dataValidations", "hyperlinks", "printOptions", "pageMargins", "pageSetup", "headerFooter",
                  "rowBreaks", "colBreaks", "customProperties", "cellWatches", "ignoredErrors", "smartTags",
                  "drawing", "legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls",
                  "webPublishItems", "tableParts", "extLst")
WORKBOOK_ORDER = ("fileVersion", "fileSharing", "workbookPr", "workbookProtection", "bookViews", "sheets",
                  "functionGroups", "externalReferences", "definedNames", "calcPr", "oleSize",
                  "customWorkbookViews", "pivotCaches", "smartTagPr", "smartTagTypes", "webPublishing",
                  "fileRecoveryPr", "webPublishObjects", "extLst")
STYLES_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
                "tableStyles", "colors", "extLst")
_STYLE_ITEM = {"numFmts": "numFmt", "fonts": "font", "fills": "fill", "borders": "border", "cellXfs": "xf",
               "dxfs": "dxf"}


def rels_path(part: str) -> str:
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def resolve(source_part: str, target: str) -> str:
    """The part name a relationship target points to, from the part that holds the relationship."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def relative(source_part: str, target_part: str) -> str:
    return posixpath.relpath(target_part, posixpath.dirname(source_part) or ".")


class Rels:
    """The relationships of one part (its ``_rels/*.rels`` part), kept as text."""

    EMPTY = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>')

    def __init__(self, source_part: str, text: str | None) -> None:
        self.source = source_part
        self.path = rels_path(source_part)
        self.original = text
        self.text = text if text is not None else self.EMPTY

    def items(self) -> list[dict[str, str]]:
        return [attrs(m.group(1)) for m in _REL_ELEMENT.finditer(self.text)]

    def of_type(self, rel_type: str) -> list[dict[str, str]]:
        return [r for r in self.items() if r.get("Type") == rel_type]

    def target(self, rel: dict[str, str]) -> str:
        return resolve(self.source, rel.get("Target", ""))

    def part(self, rel_type: str) -> str | None:
        """The part the first relationship of ``rel_type`` points to, if any."""
        rels = self.of_type(rel_type)
        return self.target(rels[0]) if rels else None

    def by_id(self, rid: str) -> dict[str, str] | None:
        return next((r for r in self.items() if r.get("Id") == rid), None)

    def add(self, rel_type: str, target_part: str, rid: str | None = None) -> str:
        """Add a relationship (``rid``: its id, else the first free rIdN); returns its id."""
        if rid is None:
            ids = {r.get("Id") for r in self.items()}
            n = 1
            while f"rId{n}" in ids:
                n += 1
            rid = f"rId{n}"
        element = (f'<Relationship Id="{escape(rid, attr=True)}" Type="{rel_type}" '
                   f'Target="{escape(relative(self.source, target_part), attr=True)}"/>')
        if re.search(r"<Relationships\b[^>]*/>", self.text):
            self.text = re.sub(r"<Relationships\b([^>]*)/>", r"<Relationships\1></Relationships>", self.text)
        self.text = self.text.replace("</Relationships>", element + "</Relationships>", 1)
        return rid

    def remove(self, rid: str) -> None:
        self.text = _REL_ELEMENT.sub(lambda m: "" if attrs(m.group(1)).get("Id") == rid else m.group(0), self.text)

    @property
    def empty(self) -> bool:
        return not self.items()


def table_range(xml: str) -> tuple[str, tuple[int, int, int, int]] | None:
    """An Excel Table part's name (displayName, else name) and range, header row included; None without a
    readable ref."""
    head = _TABLE_HEAD.search(xml)
    a = attrs(head.group(1)) if head else {}
    try:
        return a.get("displayName") or a.get("name", ""), parse_range(a.get("ref", ""))
    except ValueError:
        return None


class ContentTypes:
    """``[Content_Types].xml``: overrides per part, defaults per extension."""

    PART = "[Content_Types].xml"

    def __init__(self, text: str) -> None:
        self.text = text

    def add_override(self, part: str, content_type: str) -> None:
        name = "/" + part
        if f'PartName="{name}"' in self.text:
            return
        self.text = self.text.replace(
            "</Types>", f'<Override PartName="{escape(name, attr=True)}" ContentType="{content_type}"/></Types>', 1)

    def remove_override(self, part: str) -> None:
        self.text = re.sub(rf'<Override\b[^>]*PartName="{re.escape("/" + part)}"[^>]*/>', "", self.text)

    def ensure_default(self, ext: str, content_type: str) -> None:
        if re.search(rf'<Default\b[^>]*Extension="{re.escape(ext)}"', self.text, re.I):
            return
        self.text = self.text.replace(
            "</Types>", f'<Default Extension="{ext}" ContentType="{content_type}"/></Types>', 1)


_TAG = re.compile(r"<!--.*?-->|<\?.*?\?>|<!\[CDATA\[.*?\]\]>|<(/?)(?:[\w.-]+:)?([\w.-]+)(?:\s[^>]*?)?(/?)>", re.S)


def children(text: str, depth: int = 0) -> list[tuple[str, int]]:
    """(local name, start) of each child of the root element; ``depth`` 1 when ``text`` starts inside the root."""
    out = []
    for m in _TAG.finditer(text):
        if m.group(2) is None:
            continue
        closing, name, empty = m.group(1), m.group(2), m.group(3)
        if closing:
            depth -= 1
            continue
        if depth == 1:
            out.append((name, m.start()))
        if not empty:
            depth += 1
    return out


def insert_element(text: str, order: tuple[str, ...], name: str, element: str, *, depth: int = 0,
                   before_same: bool = False) -> str:
    """Insert ``element`` where schema ``order`` puts ``name``: before the first later child present."""
    later = set(order[order.index(name) + (0 if before_same else 1):])
    at = next((start for child, start in children(text, depth) if child in later), None)
    if at is None:
        at = text.rfind("</")   # the root's end tag
    return text[:at] + element + text[at:]


def style_list(text: str, name: str) -> tuple[re.Match | None, list[str]]:
    """A styles.xml list element (fonts, cellXfs, dxfs…) and its items."""
    m = re.search(rf"<{name}\b[^>]*?(?:/>|>(.*?)</{name}>)", text, re.S)
    if not m:
        return None, []
    item = _STYLE_ITEM[name]
    return m, re.findall(rf"<{item}\b[^>]*?(?:/>|>.*?</{item}>)", m.group(1) or "", re.S)


def set_style_list(text: str, name: str, items: list[str]) -> str:
    """styles.xml with the list element ``name`` holding ``items`` (added in schema order if missing)."""
    m, _ = style_list(text, name)
    element = f'<{name} count="{len(items)}">{"".join(items)}</{name}>'
    if m is None:
        return insert_element(text, STYLES_ORDER, name, element)
    return text[:m.start()] + element + text[m.end():]
