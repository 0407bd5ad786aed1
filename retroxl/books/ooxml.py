"""The file adapter of the book interface: an .xlsx/.xlsm edited part by part.

Only the parts an operation needs are read, and only the parts that change are
written: the sheets whose cells change, their comments and VML drawing (notes),
``styles.xml`` (the mark colours), ``workbook.xml`` (a new sheet, recalc on open),
relationships and content types. Everything else, including charts, pictures,
VBA and parts this code knows nothing about, is copied byte for byte.

Marks are a conditional format whose formula is :data:`MARK_FORMULA` (always true,
so the cell shows the colour) plus a note by :data:`~retroxl.books.base.MARK_AUTHOR`:
removing them never touches a person's own cell colours or notes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import RetroxlError
from ..layout import a1, col_letter, quote_sheet
from . import notes as nt
from .base import HISTORY_AUTHOR, MARK_AUTHOR, MARK_RGB, Block, CellRef, Formula, Mark, Note, Rect, Value
from .parts import (CT_COMMENTS, CT_VML, CT_WORKSHEET, MAIN, REL, STRICT_REL, T_COMMENTS, T_OFFICE_DOCUMENT,
                    T_SHARED_STRINGS, T_STYLES, T_TABLE, T_VML, T_WORKSHEET, WORKBOOK_ORDER, WORKSHEET_TAIL,
                    ContentTypes, Rels, insert_element, rels_path, set_style_list, style_list, table_range)
from .sheetxml import SheetXml, attrs, date_styles, escape, iter_blocks, shared_strings, stored
from .zippkg import Package

if TYPE_CHECKING:
    from .safety import Package as CheckedPackage

MARK_FORMULA = 'N("retroxl")=0'        # identifies retroxl's mark formats, also after Excel re-saves the file
MARK_FILLS = {s: "FF" + rgb for s, rgb in MARK_RGB.items()}
_MARK_CF = re.compile(r"<(?:\w+:)?conditionalFormatting\b[^>]*>(?:(?!</(?:\w+:)?conditionalFormatting>).)*?"
                      r"N\((?:&quot;|\")retroxl(?:&quot;|\")\)=0.*?</(?:\w+:)?conditionalFormatting>", re.S)
_PRIORITY = re.compile(r'(<(?:\w+:)?cfRule\b[^>]*?\bpriority=")(\d+)(")')
_SHEET_ELEMENT = re.compile(r"<(?:\w+:)?sheet\b([^>]*?)/?>")


@dataclass
class _Sheet:
    name: str
    part: str
    xml: SheetXml | None = None


class OoxmlBook:
    """An .xlsx/.xlsm file as a :class:`~retroxl.books.base.Book`; :meth:`save` writes the result."""

    def __init__(self, path: str | Path, checked: CheckedPackage | None = None) -> None:
        """``checked``: what the safety check returned for this file (its parts are not inflated twice)."""
        self.path = Path(path)
        self.pkg = Package(self.path, checked)
        try:
            self._open()
        except KeyError as e:
            self.pkg.close()
            raise RetroxlError(f"{self.path}: not a usable workbook (missing part {e})") from None
        except UnicodeDecodeError:
            self.pkg.close()
            raise RetroxlError(f"{self.path}: not a usable workbook (a part is not UTF-8 text)") from None

    def _open(self) -> None:
        root = Rels("", self._text_or_none("_rels/.rels"))
        if STRICT_REL in root.text:
            raise RetroxlError(f"{self.path}: Strict Open XML workbooks are not supported; "
                               "save it as an ordinary Excel workbook")
        docs = root.of_type(T_OFFICE_DOCUMENT)
        if not docs:
            raise RetroxlError(f"{self.path}: not a workbook (no main document part)")
        self.wb_part = root.target(docs[0])
        self.wb_text = self.pkg.text(self.wb_part)
        if MAIN not in self.wb_text[:2000]:
            raise RetroxlError(f"{self.path}: not an Excel workbook")
        self.wb_rels = Rels(self.wb_part, self.pkg.text(rels_path(self.wb_part)))
        self.types = ContentTypes(self.pkg.text(ContentTypes.PART))
        self._sst: list[str] | None = None
        self._styles: str | None = None
        self._rels_cache: dict[str, Rels] = {}
        self._full_calc = False
        self._date_styles: frozenset[int] | None = None
        self.sheets: dict[str, _Sheet] = {}
        self._order: list[str] = []
        for m in _SHEET_ELEMENT.finditer(self._sheets_block()):
            a = attrs(m.group(1))
            rid = next((v for k, v in a.items() if k.endswith(":id")), "")
            rel = self.wb_rels.by_id(rid)
            name = a.get("name", "")
            self._order.append(name)
            if rel and rel.get("Type") == T_WORKSHEET:
                self.sheets[name] = _Sheet(name, self.wb_rels.target(rel))

    def _text_or_none(self, part: str) -> str | None:
        return self.pkg.text(part) if self.pkg.has(part) else None

    def _sheets_block(self) -> str:
        m = re.search(r"<(?:\w+:)?sheets\b[^>]*>(.*?)</(?:\w+:)?sheets>", self.wb_text, re.S)
        return m.group(1) if m else ""

    def close(self) -> None:
        self.pkg.close()

    def __enter__(self) -> OoxmlBook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ helpers
    def _rels(self, part: str) -> Rels:
        if part not in self._rels_cache:
            self._rels_cache[part] = Rels(part, self._text_or_none(rels_path(part)))
        return self._rels_cache[part]

    @property
    def sst(self) -> list[str]:
        if self._sst is None:
            part = self.wb_rels.part(T_SHARED_STRINGS)
            self._sst = shared_strings(self.pkg.read(part)) if part and self.pkg.has(part) else []
        return self._sst

    def _sheet(self, name: str) -> _Sheet:
        sh = self.sheets.get(name)
        if sh is None:
            raise RetroxlError(f"{self.path}: no worksheet named {name!r}")
        if sh.xml is None:
            sh.xml = SheetXml(self.pkg.read(sh.part), lambda: self.sst, self.date_styles)
        return sh

    @property
    def date_styles(self) -> frozenset[int]:
        """The cell styles whose number format shows a date: their numbers read as dates."""
        if self._date_styles is None:
            part = self.wb_rels.part(T_STYLES)
            self._date_styles = date_styles(self.pkg.text(part)) if part and self.pkg.has(part) else frozenset()
        return self._date_styles

    # ------------------------------------------------------------ reading
    def sheet_names(self) -> list[str]:
        return list(self._order)

    def extent(self, sheet: str) -> tuple[int, int]:
        return self._sheet(sheet).xml.extent()  # type: ignore[union-attr]

    def tables(self, sheet: str) -> dict[str, Rect]:
        sh = self._sheet(sheet)
        out: dict[str, Rect] = {}
        rels = self._rels(sh.part)
        for rel in rels.of_type(T_TABLE):
            part = rels.target(rel)
            if self.pkg.has(part) and (found := table_range(self.pkg.text(part))):
                out[found[0]] = found[1]
        return out

    def read(self, sheet: str, rect: Rect) -> list[list[Value]]:
        return self.read_both(sheet, rect)[0]

    def read_formulas(self, sheet: str, rect: Rect) -> list[list[str | None]]:
        return self.read_both(sheet, rect)[1]

    def read_both(self, sheet: str, rect: Rect) -> tuple[list[list[Value]], list[list[str | None]]]:
        """Values and formulas of a block, from one pass over the sheet's XML.

        Reads see the workbook as it was opened; edits apply when it is saved.
        """
        return self._sheet(sheet).xml.block(*rect)  # type: ignore[union-attr]

    def read_columns(self, sheet: str, rect: Rect) -> tuple[list[list[Value]], list[list[str | None]]]:
        """Values and formulas of a block, one list per column (what table readers want)."""
        return self._sheet(sheet).xml.columns(*rect)  # type: ignore[union-attr]

    # ------------------------------------------------------------ writing cells
    def write_values(self, sheet: str, row: int, col: int, block: Block) -> None:
        xml = self._sheet(sheet).xml
        for r, c, v in iter_blocks(block, row, col):
            xml.put(r, c, v)  # type: ignore[union-attr]

    def write_formulas(self, sheet: str, row: int, col: int, block: Sequence[Sequence[Formula | None]]) -> None:
        xml = self._sheet(sheet).xml
        for r, c, f in iter_blocks(block, row, col):
            xml.put(r, c, f)  # type: ignore[union-attr]

    def write_formula_column(self, sheet: str, row: int, col: int, texts: Sequence[str | None],
                             values: Sequence[Value]) -> None:
        """Formulas (None: leave the cell alone) and their cached values down one column, in bulk.

        What :meth:`write_formulas` does for a one-column block, without a
        :class:`Formula` per cell: recalc uses it when an adapter offers it.
        """
        self._sheet(sheet).xml.put_formulas(row, col, texts, values)  # type: ignore[union-attr]

    def request_full_recalc(self) -> None:
        self._full_calc = True

    # ------------------------------------------------------------ marks
    def clear_marks(self) -> None:
        for name in self.sheets:
            sh = self.sheets[name]
            if sh.xml is None and not self._may_have_marks(sh):
                continue
            sh = self._sheet(name)
            sh.xml.tail = _MARK_CF.sub("", sh.xml.tail)  # type: ignore[union-attr]
            comments, vml = self._note_parts(sh)
            if comments and self.pkg.has(comments):
                text, removed = nt.remove_notes(self.pkg.text(comments), MARK_AUTHOR)
                if removed:
                    self.pkg.write(comments, text)
                    if vml and self.pkg.has(vml):
                        self.pkg.write(vml, nt.remove_shapes(self.pkg.text(vml), removed))

    def _may_have_marks(self, sh: _Sheet) -> bool:
        data = self.pkg.read(sh.part)
        if b'N("retroxl")' in data or b"N(&quot;retroxl&quot;)" in data:
            return True
        comments = self._rels(sh.part).part(T_COMMENTS)   # the rels only: the sheet part is not parsed
        return bool(comments and self.pkg.has(comments) and MARK_AUTHOR.encode() in self.pkg.read(comments))

    def _note_parts(self, sh: _Sheet) -> tuple[str | None, str | None]:
        rels = self._rels(sh.part)
        v = self._legacy_rel(sh)
        return rels.part(T_COMMENTS), (rels.target(v) if v else None)

    def _legacy_rel(self, sh: _Sheet) -> dict[str, str] | None:
        xml = self._sheet(sh.name).xml
        m = re.search(r"<(?:\w+:)?legacyDrawing\b([^>]*?)/?>", xml.tail)  # type: ignore[union-attr]
        if not m:
            return None
        rid = next((v for k, v in attrs(m.group(1)).items() if k.endswith(":id")), "")
        return self._rels(sh.part).by_id(rid)

    def set_marks(self, marks: Sequence[Mark]) -> None:
        by_sheet: dict[str, list[Mark]] = {}
        for mk in marks:
            by_sheet.setdefault(mk.sheet, []).append(mk)
        for name, items in by_sheet.items():
            sh = self._sheet(name)
            cells: dict[tuple[int, int], list[Mark]] = {}
            for mk in items:
                cells.setdefault((mk.row, mk.col), []).append(mk)
            self._mark_fills(sh, cells)
            self._write_notes(sh, MARK_AUTHOR, [(r, c, "\n".join(m.message for m in ms))
                                                for (r, c), ms in sorted(cells.items())])

    def add_notes(self, notes: Sequence[Note], author: str = HISTORY_AUTHOR) -> None:
        by_sheet: dict[str, list[tuple[int, int, str]]] = {}
        for n in notes:
            by_sheet.setdefault(n.sheet, []).append((n.row, n.col, n.text))
        for name, items in by_sheet.items():
            self._write_notes(self._sheet(name), author, items)

    def _mark_fills(self, sh: _Sheet, cells: dict[tuple[int, int], list[Mark]]) -> None:
        order = {s: i for i, s in enumerate(MARK_FILLS)}
        groups: dict[str, list[tuple[int, int]]] = {}
        for pos, ms in cells.items():
            worst = min((m.severity for m in ms), key=lambda s: order.get(s, 2))
            groups.setdefault(worst if worst in MARK_FILLS else "info", []).append(pos)
        xml = sh.xml
        p = xml.p  # type: ignore[union-attr]
        tail = xml.tail  # type: ignore[union-attr]
        used = sorted(groups, key=order.__getitem__)
        rank = {v: i for i, v in enumerate(sorted({int(m.group(2)) for m in _PRIORITY.finditer(tail)}))}
        tail = _PRIORITY.sub(lambda m: f"{m.group(1)}{len(used) + 1 + rank[int(m.group(2))]}{m.group(3)}", tail)
        blocks = []
        for k, severity in enumerate(used):
            dxf = self._dxf(MARK_FILLS[severity])
            blocks.append(f'<{p}conditionalFormatting sqref="{_sqref(groups[severity])}"><{p}cfRule type="expression" '
                          f'dxfId="{dxf}" priority="{k + 1}"><{p}formula>{escape(MARK_FORMULA)}</{p}formula>'
                          f"</{p}cfRule></{p}conditionalFormatting>")
        xml.tail = insert_element(tail, WORKSHEET_TAIL, "conditionalFormatting", "".join(blocks),  # type: ignore[union-attr]
                                  depth=1, before_same=True)

    def _dxf(self, rgb: str) -> int:
        """The index of the differential format filling with ``rgb``, added to styles.xml if missing."""
        part = self.wb_rels.part(T_STYLES)
        if part is None:
            raise RetroxlError(f"{self.path}: the workbook has no styles part")
        text = self.pkg.text(part)
        dxf = f'<dxf><fill><patternFill><bgColor rgb="{rgb}"/></patternFill></fill></dxf>'
        _, existing = style_list(text, "dxfs")
        if dxf in existing:
            return existing.index(dxf)
        self.pkg.write(part, set_style_list(text, "dxfs", existing + [dxf]))
        return len(existing)

    def _write_notes(self, sh: _Sheet, author: str, notes: list[tuple[int, int, str]]) -> None:
        """Add ``author``'s notes to the sheet, except on cells that already carry one."""
        comments, vml = self._note_parts(sh)
        if comments and self.pkg.has(comments):
            taken = nt.note_cells(self.pkg.text(comments))
            notes = [n for n in notes if n[:2] not in taken]
        if not notes:
            return
        rels = self._rels(sh.part)
        if comments is None:
            comments = self.pkg.unused_name("xl/comments%d.xml")
            rels.add(T_COMMENTS, comments)
            self.types.add_override(comments, CT_COMMENTS)
        text = self.pkg.text(comments) if self.pkg.has(comments) else nt.NEW_COMMENTS
        self.pkg.write(comments, nt.add_notes(text, author, notes))
        if vml is None:
            vml = self.pkg.unused_name("xl/drawings/vmlDrawing%d.vml")
            rid = rels.add(T_VML, vml)
            self.types.ensure_default("vml", CT_VML)
            self.pkg.write(vml, nt.NEW_VML.format(block=self._order.index(sh.name) + 1))
            xml = sh.xml
            r = _rel_prefix(xml.head)  # type: ignore[union-attr]
            element = (f'<{xml.p}legacyDrawing {r}:id="{rid}"/>' if r else  # type: ignore[union-attr]
                       f'<{xml.p}legacyDrawing xmlns:r="{REL}" r:id="{rid}"/>')  # type: ignore[union-attr]
            xml.tail = insert_element(xml.tail, WORKSHEET_TAIL, "legacyDrawing", element, depth=1)  # type: ignore[union-attr]
        self.pkg.write(vml, nt.add_shapes(self.pkg.text(vml), [(r, c) for r, c, _ in notes]))

    # ------------------------------------------------------------ sheets
    def put_sheet(self, name: str, rows: Block, links: Mapping[tuple[int, int], CellRef] | None = None,
                  widths: Sequence[float] = ()) -> None:
        text = _sheet_part(rows, links or {}, widths)
        sh = self.sheets.get(name)
        if sh is None:
            self.add_worksheet(name, text)
            return
        self.pkg.write(sh.part, text)
        sh.xml = None

    def add_worksheet(self, name: str, text: str) -> str:
        """Add a worksheet part holding ``text`` as the last sheet; returns its part name."""
        if name in self._order:
            raise RetroxlError(f"{self.path}: the workbook already has a sheet named {name!r}")
        part = self.pkg.unused_name("xl/worksheets/sheet%d.xml")
        rid = self.wb_rels.add(T_WORKSHEET, part)
        self.types.add_override(part, CT_WORKSHEET)
        ids = [int(attrs(m.group(1)).get("sheetId", 0)) for m in _SHEET_ELEMENT.finditer(self._sheets_block())]
        r = _rel_prefix(self.wb_text) or "r"
        element = f'<sheet name="{escape(name, attr=True)}" sheetId="{max(ids, default=0) + 1}" {r}:id="{rid}"/>'
        self.wb_text = re.sub(r"(</(?:\w+:)?sheets>)", lambda m: element + m.group(1), self.wb_text, count=1)
        self.sheets[name] = _Sheet(name, part)
        self._order.append(name)
        self.pkg.write(part, text)
        return part

    # ------------------------------------------------------------ saving
    def save(self, dest: str | Path) -> None:
        """Write the workbook with every edit to ``dest`` (use files.atomic_output for the final place)."""
        for sh in self.sheets.values():
            self._drop_empty_notes(sh)
            if sh.xml is not None and sh.xml.changed:
                self.pkg.write(sh.part, sh.xml.render())
        for part, rels in self._rels_cache.items():
            if rels.empty and rels.original is None:
                continue
            if rels.text != rels.original:
                self.pkg.write(rels.path, rels.text)
        self.pkg.write(rels_path(self.wb_part), self.wb_rels.text)
        if self._full_calc:
            self.wb_text = _full_calc_on_load(self.wb_text)
        self.pkg.write(self.wb_part, self.wb_text)
        self.pkg.write(ContentTypes.PART, self.types.text)
        self.pkg.save(dest)

    def _drop_empty_notes(self, sh: _Sheet) -> None:
        """Remove a comments part (and its VML drawing) left without notes by clear_marks."""
        if sh.xml is None or sh.part not in self._rels_cache:
            return
        comments, vml = self._note_parts(sh)
        rels = self._rels(sh.part)
        if comments and self.pkg.has(comments) and not nt.has_notes(self.pkg.text(comments)):
            self.pkg.remove(comments)
            self.types.remove_override(comments)
            for rel in rels.of_type(T_COMMENTS):
                rels.remove(rel["Id"])
        if vml and self.pkg.has(vml) and not nt.has_shapes(self.pkg.text(vml)):
            legacy = self._legacy_rel(sh)
            self.pkg.remove(vml)
            if legacy:
                rels.remove(legacy["Id"])
            sh.xml.tail = re.sub(r"<(?:\w+:)?legacyDrawing\b[^>]*?/>", "", sh.xml.tail)


def _rel_prefix(text: str) -> str | None:
    m = re.search(rf'xmlns:(\w+)="{re.escape(REL)}"', text[:4000])
    return m.group(1) if m else None


def _sqref(cells: list[tuple[int, int]]) -> str:
    """Cells as a space-separated range list, runs down a column joined (G4:G9)."""
    refs = []
    for col in sorted({c for _, c in cells}):
        rows = sorted(r for r, c in cells if c == col)
        start = prev = rows[0]
        for r in rows[1:] + [None]:
            if r is not None and r == prev + 1:
                prev = r
                continue
            refs.append(a1(start, col) + (f":{a1(prev, col)}" if prev != start else ""))
            if r is not None:
                start = prev = r
    return " ".join(refs)


def _full_calc_on_load(wb: str) -> str:
    m = re.search(r"<((?:\w+:)?)calcPr\b([^>]*?)(/?)>", wb)
    if m is None:
        p = re.match(r"<(\w+:)?workbook\b", wb[wb.find("<", wb.find("?>") + 2 if "?>" in wb else 0):])
        prefix = p.group(1) or "" if p else ""
        return insert_element(wb, WORKBOOK_ORDER, "calcPr", f'<{prefix}calcPr fullCalcOnLoad="1"/>')
    if re.search(r'\bfullCalcOnLoad="(1|true)"', m.group(2)):
        return wb
    rest = re.sub(r'\s*\bfullCalcOnLoad="[^"]*"', "", m.group(2))
    return wb[:m.start()] + f'<{m.group(1)}calcPr{rest} fullCalcOnLoad="1"{m.group(3)}>' + wb[m.end():]


def _sheet_part(rows: Block, links: Mapping[tuple[int, int], CellRef], widths: Sequence[float]) -> str:
    """A plain worksheet: inline-string text, a frozen header row, internal hyperlinks."""
    out = []
    for r, row in enumerate(rows):
        cells = []
        for c, v in enumerate(row):
            if v is None or v == "":
                continue
            t, text = stored(v)
            ref = a1(r, c)
            if t == "inlineStr":
                space = ' xml:space="preserve"' if text != text.strip() else ""  # type: ignore[union-attr]
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t{space}>{text}</t></is></c>')
            else:
                t_attr = f' t="{t}"' if t else ""
                cells.append(f'<c r="{ref}"{t_attr}><v>{text}</v></c>')
        out.append(f'<row r="{r + 1}">{"".join(cells)}</row>')
    data = f"<sheetData>{''.join(out)}</sheetData>"
    n_rows = max(len(rows), 1)
    n_cols = max((len(r) for r in rows), default=1) or 1
    cols = "".join(f'<col min="{i + 1}" max="{i + 1}" width="{w}" customWidth="1"/>' for i, w in enumerate(widths))
    link_xml = "".join(
        f'<hyperlink ref="{a1(r, c)}" location="{escape(quote_sheet(t.sheet) + "!" + a1(t.row, t.col), attr=True)}" '
        f'display="{escape(t.sheet + "!" + a1(t.row, t.col), attr=True)}"/>'
        for (r, c), t in sorted(links.items()))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{MAIN}" xmlns:r="{REL}">'
            f'<dimension ref="A1:{col_letter(n_cols - 1)}{n_rows}"/>'
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
            'state="frozen"/></sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "") + data
            + (f"<hyperlinks>{link_xml}</hyperlinks>" if link_xml else "")
            + '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/></worksheet>')
