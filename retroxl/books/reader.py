"""Read a filled retrospective workbook through the book interface.

Sheets are found by their names in either language, each table by its Excel Table
(or, failing that, by its header row), and each column by its header text, so rows
a person added (the Table grows) and columns moved inside the table are read
correctly. The result says where every entry and computed cell sits, which cells
still hold a formula (recalc may rewrite retroxl's own) and which hold something a
person typed (recalc leaves those alone; validate checks them).

Tables are kept column by column (one list per column), which is what recalc
writes back and keeps a 10,000-row table cheap to read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from ..engine.periods import parse_date
from ..errors import RetroxlError
from ..layout import Layout, TableLayout, make_layout, shared_layout
from ..model import Link, Retrospective
from ..template import LANGS, Column, Template
from .base import Book, Value

Key = tuple          # ("t", table, row, column) or ("f", field)
Where = tuple[str, int, int]   # sheet name, 0-based row, col
HEADER_SCAN_ROWS = 30
_NAME_FORMULA = re.compile(r"=\s*([A-Za-z_][\w.]*)\s*")


@dataclass
class TableData:
    """One table as found: its layout, where each column sits, and each column's cells."""

    layout: TableLayout
    cols: dict[str, int]                                  # column key → sheet column
    values: dict[str, list[Value]]                        # column key → value per row, as read
    formulas: dict[str, list[str | None]]                 # column key → formula per row (None: no formula)
    # Entry columns only: every formula a person put there (links to named cells included), by row.
    entry_formulas: dict[str, list[str | None]] = field(default_factory=dict)

    @property
    def sheet(self) -> str:
        return self.layout.sheet

    def place(self, row: int, col_key: str) -> Where | None:
        if col_key not in self.cols:
            return None
        return self.layout.sheet, self.layout.first_row + row, self.cols[col_key]


@dataclass
class FieldData:
    where: Where
    value: Value
    formula: str | None


@dataclass
class BookData:
    """What was read: the entries, where every cell sits, and what the computed cells hold."""

    layout: Layout
    retro: Retrospective
    tables: dict[str, TableData] = field(default_factory=dict)
    fields: dict[str, FieldData] = field(default_factory=dict)
    missing_sheets: list[str] = field(default_factory=list)    # template sheet keys not in the workbook
    missing_columns: dict[str, list[str]] = field(default_factory=dict)  # table key → column keys not found
    steps_due: Where | None = None                             # 说明: first due-date cell of the six steps
    steps_note: Where | None = None                            # 说明: the note under the steps

    @property
    def lang(self) -> str:
        return self.layout.lang

    def sheet_name(self, key: str) -> str:
        return self.layout.sheets[key]

    def place(self, key: Key) -> Where | None:
        """Where a ("t", table, row, column) or ("f", field) cell sits, None if it was not found."""
        if key[0] == "f":
            fd = self.fields.get(key[1])
            return fd.where if fd else None
        td = self.tables.get(key[1])
        return td.place(key[2], key[3]) if td else None

    def formula(self, key: Key) -> str | None:
        if key[0] == "f":
            fd = self.fields.get(key[1])
            return fd.formula if fd else None
        td = self.tables.get(key[1])
        column = td.formulas.get(key[3]) if td else None
        return column[key[2]] if column is not None and key[2] < len(column) else None


def detect_language(template: Template, names: list[str]) -> str:
    """The language whose standard sheet names the workbook uses most."""
    present = set(names)
    scores = {lang: sum(s.name[lang] in present for s in template.sheets) for lang in LANGS}
    lang = max(LANGS, key=lambda x: scores[x])
    if scores[lang] == 0:
        wanted = "、".join(s.name["zh"] for s in template.sheets if s.kind in ("table", "info"))
        raise RetroxlError(f"no retrospective sheets in this workbook (expected {wanted}; "
                           "add them with: retroxl new --into BOOK)")
    return lang


def read_book(book: Book, template: Template) -> BookData:
    """Read every standard sheet of ``book`` into a Retrospective with cell positions."""
    names = book.sheet_names()
    lang = detect_language(template, names)
    return _Reader(book, template, lang, set(names)).read()


class _Reader:
    def __init__(self, book: Book, tpl: Template, lang: str, names: set[str]) -> None:
        self.book, self.tpl, self.lang, self.names = book, tpl, lang, names
        self.field_names = {f.name for s in tpl.sheets for f in s.fields if f.name}
        self.base = shared_layout(tpl, lang)   # where to start looking
        self.data = BookData(self.base, Retrospective())

    def read(self) -> BookData:
        found: dict[str, tuple[TableLayout, dict[str, int]]] = {}
        for sheet in self.tpl.sheets:
            name = sheet.name[self.lang]
            if name not in self.names:
                self.data.missing_sheets.append(sheet.key)
                continue
            if sheet.kind in ("table", "costs"):
                for t in sheet.tables:
                    located = self.locate(name, self.base.tables[t.key])
                    if located is not None:
                        found[t.key] = located
        layout = make_layout(self.tpl, self.lang, {k: tl.rows for k, (tl, _) in found.items()})
        for key, (tl, _) in found.items():
            layout.tables[key] = tl
        self.layout = self.data.layout = layout
        self.fields()
        for key, (tl, cols) in found.items():
            self.table(tl, cols)
        self.dashboard()
        return self.data

    # ------------------------------------------------------------ finding tables
    def locate(self, sheet: str, expected: TableLayout) -> tuple[TableLayout, dict[str, int]] | None:
        """The table's header row, columns and data rows on ``sheet``."""
        spec = expected.spec
        rect = self.book.tables(sheet).get(spec.table)
        if rect is not None:
            header, first, last, right = rect
            cols = self.columns(spec.columns, self.book.read(sheet, (header, first, header, right))[0], first)
            n_rows = max(last - header, 1)
        else:
            n_rows_sheet, n_cols = self.book.extent(sheet)
            if n_rows_sheet == 0:
                return None
            top = self.book.read(sheet, (0, 0, min(HEADER_SCAN_ROWS, n_rows_sheet) - 1, max(n_cols - 1, 0)))
            best = max(range(len(top)), key=lambda r: len(self.columns(spec.columns, top[r], 0)))
            cols = self.columns(spec.columns, top[best], 0)
            if len(cols) < max(2, len([c for c in spec.columns if not c.hidden]) // 2):
                return None
            header = best
            n_rows = self.data_rows(sheet, header, cols, n_rows_sheet)
        missing = [c.key for c in spec.columns if c.key not in cols]
        if missing:
            self.data.missing_columns[spec.key] = missing
        if not cols:
            return None
        return replace(expected, header_row=header, first_col=min(cols.values()), rows=n_rows), cols

    def columns(self, columns: tuple[Column, ...], heads: list[Value], offset: int) -> dict[str, int]:
        """Column key → sheet column, by header text (either language, surrounding spaces ignored)."""
        at: dict[str, int] = {}
        for j, h in enumerate(heads):
            if isinstance(h, str) and h.strip():
                at.setdefault(h.strip(), offset + j)
        out = {}
        for c in columns:
            for lang in (self.lang, *LANGS):
                if c.header[lang] in at:
                    out[c.key] = at[c.header[lang]]
                    break
        return out

    def data_rows(self, sheet: str, header: int, cols: dict[str, int], n_rows: int) -> int:
        """Rows below a plain-range header down to the last non-empty one (a blank row ends the table)."""
        lo, hi = min(cols.values()), max(cols.values())
        block = self.book.read(sheet, (header + 1, lo, max(n_rows - 1, header + 1), hi))
        count = 0
        for i, row in enumerate(block):
            if all(v is None or v == "" for v in row):
                break
            count = i + 1
        return max(count, 1)

    # ------------------------------------------------------------ reading
    def table(self, tl: TableLayout, cols: dict[str, int]) -> None:
        lo, hi = min(cols.values()), max(cols.values())
        n = tl.rows
        by_col, f_by_col = _read_columns(self.book, tl.sheet, (tl.first_row, lo, tl.first_row + n - 1, hi))
        td = TableData(tl, cols, {}, {})
        entries: dict[str, list] = {}
        for c in tl.spec.columns:
            if c.key not in cols:
                continue
            j = cols[c.key] - lo
            column, fcolumn = by_col[j], f_by_col[j]
            td.values[c.key] = column
            if fcolumn.count(None) != len(fcolumn):
                td.formulas[c.key] = fcolumn
            if c.computed:
                if c.key not in td.formulas or None in fcolumn and any(
                        f is None and v not in (None, "") for v, f in zip(column, fcolumn)):
                    # values typed over the formula (or no formula at all): checked against the computed ones
                    entries[c.key] = [v if f is None else None for v, f in zip(column, fcolumn)]
                continue
            if c.key in td.formulas:       # entries that are formulas: links to named cells, else their value
                td.entry_formulas[c.key] = fcolumn
                td.formulas[c.key] = [f if f is not None and self.is_link(f) else None for f in fcolumn]
                column = [Link(_NAME_FORMULA.fullmatch(f).group(1)) if f is not None and self.is_link(f)  # type: ignore
                          else v for v, f in zip(column, fcolumn)]
            if c.type == "date":
                column = [_date(v) for v in column]
            entries[c.key] = column
        keys = list(entries)
        self.data.retro.tables[tl.spec.key] = [
            {k: v for k, v in zip(keys, row) if v is not None} for row in zip(*entries.values())
        ] if keys else [{} for _ in range(n)]
        self.data.tables[tl.spec.key] = td

    def is_link(self, formula: str) -> bool:
        m = _NAME_FORMULA.fullmatch(formula)
        return bool(m) and m.group(1) in self.field_names

    def fields(self) -> None:
        """Header fields (说明), totals (成本收益) and KPIs (仪表盘), by their label or fixed place."""
        for sheet in self.tpl.sheets:
            name = sheet.name[self.lang]
            if name not in self.names or not sheet.fields:
                continue
            pos = {f.key: (self.layout.fields[f.key].row, self.layout.fields[f.key].col) for f in sheet.fields}
            if sheet.kind in ("info", "costs"):
                pos.update(self.labelled(name, sheet))
            r0 = min(r for r, _ in pos.values())
            r1 = max(r for r, _ in pos.values())
            c1 = max(c for _, c in pos.values())
            values, formulas = _read_both(self.book, name, (r0, 0, r1, c1))
            for f in sheet.fields:
                r, c = pos[f.key]
                value, formula = values[r - r0][c], formulas[r - r0][c]
                self.data.fields[f.key] = FieldData((name, r, c), value, formula)
                if f.formula is None and value not in (None, ""):
                    self.data.retro.info[f.key] = _date(value) if f.type == "date" else value
            if sheet.kind == "info":
                self.steps(name, sheet, r1)

    def labelled(self, sheet: str, spec) -> dict[str, tuple[int, int]]:
        """Fields whose label (column A) moved: found by the label text, value to its right."""
        n_rows, _ = self.book.extent(sheet)
        if n_rows == 0:
            return {}
        labels = self.book.read(sheet, (0, 0, min(n_rows, 60) - 1, 1))
        at: dict[str, list[int]] = {}
        for r, (v, _) in enumerate(labels):
            if isinstance(v, str):
                at.setdefault(v.strip(), []).append(r)
        out = {}
        for f in spec.fields:
            for lang in (self.lang, *LANGS):
                rows = at.get(f.label[lang])
                if rows:
                    if len(rows) > 1:   # the label is also a title (English "Campaign" above the campaign field):
                        rows = [r for r in rows if labels[r][1] not in (None, "")] or rows[1:]  # the one with a value
                    out[f.key] = (rows[0], 1)
                    break
        return out

    def steps(self, sheet: str, spec, last_field_row: int) -> None:
        """The six steps' due-date column and note, if the block still sits where it was written."""
        first = self.layout.steps_row + 2
        if not spec.steps or last_field_row >= first:
            return
        n = len(spec.steps)
        block = self.book.read(sheet, (first, 1, first + n - 1, 1))
        if all(block[i][0] == s.name[self.lang] for i, s in enumerate(spec.steps)):
            self.data.steps_due = (sheet, first, 3)
            self.data.steps_note = (sheet, first + n, 0)

    def dashboard(self) -> None:
        """The dashboard's chart rows: as many as still hold the label formula."""
        for sheet in self.tpl.sheets:
            if sheet.kind != "dashboard" or sheet.name[self.lang] not in self.names:
                continue
            tl = self.layout.tables[sheet.table.key]
            heads = self.book.read(tl.sheet, (tl.header_row, tl.first_col, tl.header_row, tl.last_col))[0]
            source = self.layout.tables.get(sheet.source) if sheet.source else None
            limit = source.rows if source else tl.rows
            if heads != [c.header[self.lang] for c in sheet.table.columns] or limit == 0:
                self.layout.tables[sheet.table.key] = replace(tl, rows=0)
                continue
            by_col, f_by_col = _read_columns(self.book, tl.sheet, (tl.first_row, tl.first_col,
                                                                  tl.first_row + limit - 1, tl.last_col))
            rows = next((i for i, f in enumerate(f_by_col[0]) if f is None), len(f_by_col[0]))
            tl = self.layout.tables[sheet.table.key] = replace(tl, rows=rows)
            cols = {c.key: tl.first_col + j for j, c in enumerate(sheet.table.columns)}
            self.data.tables[tl.spec.key] = TableData(
                tl, cols, {c.key: list(by_col[j][:rows]) for j, c in enumerate(sheet.table.columns)},
                {c.key: list(f_by_col[j][:rows]) for j, c in enumerate(sheet.table.columns)})


def _read_both(book: Book, sheet: str, rect: tuple[int, int, int, int]):
    """Values and formulas of a block: one pass on adapters that can, two bulk calls otherwise."""
    both = getattr(book, "read_both", None)
    if both is not None:
        return both(sheet, rect)
    return book.read(sheet, rect), book.read_formulas(sheet, rect)


def _read_columns(book: Book, sheet: str, rect: tuple[int, int, int, int]):
    """Values and formulas of a block, one list per column."""
    columns = getattr(book, "read_columns", None)
    if columns is not None:
        return columns(sheet, rect)
    values, formulas = _read_both(book, sheet, rect)
    width = rect[3] - rect[1] + 1
    return [list(c) for c in zip(*values)] or [[] for _ in range(width)], \
        [list(c) for c in zip(*formulas)] or [[] for _ in range(width)]


def _date(value: Value) -> object:
    """A date entry as a date when it reads as one (serial numbers included), else as typed."""
    if value is None or isinstance(value, (date, datetime)):
        return value
    return parse_date(value) or value
