"""Move the sheets of one workbook (freshly written by XlsxWriter) into another.

The receiving workbook keeps every part it has byte for byte except the few that
list what a workbook holds: ``workbook.xml`` (sheets, defined names), its
relationships, ``[Content_Types].xml`` and ``styles.xml`` (the new sheets' formats
are appended, existing indexes stay valid). The new sheets bring their tables,
drawings and charts under fresh part names; their text goes in as inline strings,
so the shared string table is not touched either.
"""

from __future__ import annotations

import re

from ..errors import RetroxlError
from .ooxml import OoxmlBook
from .parts import (CT_CHART, CT_DRAWING, CT_TABLE, T_CHART, T_DRAWING, T_SHARED_STRINGS, T_STYLES, T_TABLE,
                    WORKBOOK_ORDER, Rels, insert_element, rels_path, set_style_list, style_list)
from .sheetxml import attrs, escape, shared_strings, unescape
from .zippkg import Package

_CT_BY_TYPE = {T_TABLE: CT_TABLE, T_DRAWING: CT_DRAWING, T_CHART: CT_CHART}
_PATTERN_BY_TYPE = {T_TABLE: "xl/tables/table%d.xml", T_DRAWING: "xl/drawings/drawing%d.xml",
                    T_CHART: "xl/charts/chart%d.xml"}


class StyleMap:
    """Appends the source workbook's cell and differential formats to the target's styles."""

    def __init__(self, target: str, source: str) -> None:
        if re.search(r"<(\w+):styleSheet\b", target):
            raise RetroxlError("the workbook's styles part uses a namespace prefix; not supported")
        self.text = target
        offsets = {}
        for name in ("fonts", "fills", "borders"):
            _, mine = style_list(self.text, name)
            _, theirs = style_list(source, name)
            offsets[name] = len(mine)
            self.text = set_style_list(self.text, name, mine + theirs)
        # custom number formats: reuse an equal one, else a fresh id
        _, mine = style_list(self.text, "numFmts")
        codes = {attrs(x).get("formatCode"): attrs(x).get("numFmtId") for x in mine}
        next_id = max([163] + [int(attrs(x).get("numFmtId", 0)) for x in mine]) + 1
        self.numfmt: dict[str, str] = {}
        added = []
        for x in style_list(source, "numFmts")[1]:
            a = attrs(x)
            if a.get("formatCode") in codes:
                self.numfmt[a["numFmtId"]] = codes[a["formatCode"]]  # type: ignore[assignment]
            else:
                self.numfmt[a["numFmtId"]] = str(next_id)
                added.append(f'<numFmt numFmtId="{next_id}" formatCode="{escape(a["formatCode"], attr=True)}"/>')
                next_id += 1
        if added:
            self.text = set_style_list(self.text, "numFmts", mine + added)
        _, xfs = style_list(self.text, "cellXfs")
        self.xf_offset = len(xfs)
        moved = [self._xf(x, offsets) for x in style_list(source, "cellXfs")[1]]
        self.text = set_style_list(self.text, "cellXfs", xfs + moved)
        _, dxfs = style_list(self.text, "dxfs")
        self.dxf_offset = len(dxfs)
        theirs = style_list(source, "dxfs")[1]
        if theirs:
            self.text = set_style_list(self.text, "dxfs", dxfs + theirs)

    def _xf(self, xf: str, offsets: dict[str, int]) -> str:
        def move(m: re.Match) -> str:
            name, value = m.group(1), m.group(2)
            if name == "numFmtId":
                value = self.numfmt.get(value, value)
            elif name == "xfId":
                value = "0"
            else:
                value = str(int(value) + offsets[{"fontId": "fonts", "fillId": "fills", "borderId": "borders"}[name]])
            return f'{name}="{value}"'

        head_end = xf.index(">")
        return re.sub(r'\b(numFmtId|fontId|fillId|borderId|xfId)="(\d+)"', move, xf[:head_end]) + xf[head_end:]

    def sheet(self, text: str) -> str:
        """A worksheet's style references moved to the appended formats."""
        text = re.sub(r'(<(?:c|row)\b[^>]*?\bs=")(\d+)(")', lambda m: f"{m.group(1)}{int(m.group(2)) + self.xf_offset}"
                      f"{m.group(3)}", text)
        text = re.sub(r'(<col\b[^>]*?\bstyle=")(\d+)(")', lambda m: f"{m.group(1)}{int(m.group(2)) + self.xf_offset}"
                      f"{m.group(3)}", text)
        return self.dxfs(text)

    def dxfs(self, text: str) -> str:
        return re.sub(r'\b(\w*[dD]xfId)="(\d+)"', lambda m: f'{m.group(1)}="{int(m.group(2)) + self.dxf_offset}"',
                      text)


def _inline_strings(text: str, sst: list[str]) -> str:
    """Shared-string cells as inline strings (the target's string table stays untouched)."""
    def inline(m: re.Match) -> str:
        head = re.sub(r'\s*\bt="s"', "", m.group(1))
        value = sst[int(m.group(2))]
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'<c{head} t="inlineStr"><is><t{space}>{escape(value)}</t></is></c>'

    return re.sub(r'<c\b([^>]*?\bt="s"[^>]*)><v>(\d+)</v></c>', inline, text)


def transplant(target: OoxmlBook, source_path: str) -> list[str]:
    """Add every sheet of the workbook at ``source_path`` to ``target``; returns the new sheet names."""
    src = Package(source_path)
    try:
        return _Transplant(target, src).run()
    finally:
        src.close()


class _Transplant:
    def __init__(self, target: OoxmlBook, src: Package) -> None:
        self.t, self.src = target, src
        self.src_wb = src.text("xl/workbook.xml")
        self.src_rels = Rels("xl/workbook.xml", src.text(rels_path("xl/workbook.xml")))
        sst = self.src_rels.part(T_SHARED_STRINGS)
        self.sst = shared_strings(src.text(sst)) if sst else []

    def run(self) -> list[str]:
        t = self.t
        sheets = [attrs(m.group(1)) for m in re.finditer(r"<sheet\b([^>]*?)/>", self.src_wb)]
        names = [s["name"] for s in sheets]
        clash = [n for n in names if n in t.sheet_names()]
        if clash:
            raise RetroxlError(f"{t.path}: already has a sheet named {clash[0]!r} (retrospective sheets added "
                               "before?)")
        self.check_names()
        self.check_tables()
        styles_part = t.wb_rels.part(T_STYLES)
        if styles_part is None:
            raise RetroxlError(f"{t.path}: the workbook has no styles part")
        src_styles = self.src.text(self.src_rels.part(T_STYLES))  # type: ignore[arg-type]
        self.styles = StyleMap(t.pkg.text(styles_part), src_styles)
        t.pkg.write(styles_part, self.styles.text)
        self.table_id = self.max_table_id()
        first_new = len(t.sheet_names())
        for s in sheets:
            rid = next(v for k, v in s.items() if k.endswith(":id"))
            part = self.src_rels.target(self.src_rels.by_id(rid))  # type: ignore[arg-type]
            text = self.styles.sheet(_inline_strings(self.src.text(part), self.sst))
            text = re.sub(r'\s*\btabSelected="1"', "", text)
            new_part = t.add_worksheet(s["name"], text)
            self.copy_rels(part, new_part)
        self.defined_names(first_new)
        t.request_full_recalc()
        return names

    def check_names(self) -> None:
        existing = {unescape(a).lower() for a in re.findall(r'<definedName\b[^>]*?\bname="([^"]*)"', self.t.wb_text)}
        for name in re.findall(r'<definedName\b[^>]*?\bname="([^"]*)"', self.src_wb):
            if not name.startswith("_xlnm.") and unescape(name).lower() in existing:
                raise RetroxlError(f"{self.t.path}: already has a defined name {unescape(name)!r}")

    def all_tables(self) -> list[str]:
        return [n for n in self.t.pkg.names() if n.startswith("xl/tables/") and n.endswith(".xml")]

    def check_tables(self) -> None:
        mine = {m.group(1).lower() for p in self.all_tables()
                if (m := re.search(r'displayName="([^"]*)"', self.t.pkg.text(p)))}
        for part in self.src.names():
            if part.startswith("xl/tables/"):
                m = re.search(r'displayName="([^"]*)"', self.src.text(part))
                if m and m.group(1).lower() in mine:
                    raise RetroxlError(f"{self.t.path}: already has a table named {m.group(1)!r}")

    def max_table_id(self) -> int:
        ids = [int(m.group(1)) for p in self.all_tables()
               for m in [re.search(r'<table\b[^>]*?\bid="(\d+)"', self.t.pkg.text(p))] if m]
        return max(ids, default=0)

    def copy_rels(self, src_part: str, new_part: str) -> None:
        """Copy the parts a source part points to (tables, drawings, charts) under fresh names."""
        path = rels_path(src_part)
        if not self.src.has(path):
            return
        rels = Rels(src_part, self.src.text(path))
        copied = Rels(new_part, None)
        for rel in rels.items():
            kind = rel.get("Type", "")
            if kind not in _PATTERN_BY_TYPE:
                raise RetroxlError(f"cannot carry a {kind.rsplit('/', 1)[-1]} part into the workbook")
            old = rels.target(rel)
            new = self.t.pkg.unused_name(_PATTERN_BY_TYPE[kind])
            body = self.src.text(old)
            if kind == T_TABLE:
                self.table_id += 1
                body = self.styles.dxfs(re.sub(r'(<table\b[^>]*?\bid=")(\d+)(")',
                                               lambda m: f"{m.group(1)}{self.table_id}{m.group(3)}", body, count=1))
            self.t.pkg.write(new, body)
            self.t.types.add_override(new, _CT_BY_TYPE[kind])
            copied.add(kind, new, rel["Id"])
            self.copy_rels(old, new)
        self.t.pkg.write(copied.path, copied.text)

    def defined_names(self, first_new: int) -> None:
        m = re.search(r"<definedNames>(.*?)</definedNames>", self.src_wb, re.S)
        if not m:
            return
        names = re.sub(r'localSheetId="(\d+)"', lambda x: f'localSheetId="{int(x.group(1)) + first_new}"', m.group(1))
        wb = self.t.wb_text
        if re.search(r"<definedNames\s*/>", wb):
            wb = re.sub(r"<definedNames\s*/>", "<definedNames></definedNames>", wb, count=1)
        if "</definedNames>" in wb:
            wb = wb.replace("</definedNames>", names + "</definedNames>", 1)
        else:
            wb = insert_element(wb, WORKBOOK_ORDER, "definedNames", f"<definedNames>{names}</definedNames>")
        self.t.wb_text = wb
