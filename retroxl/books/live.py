"""The book interface over an open workbook, through xlwings: the add-in's side of recalc.

:class:`LiveBook` drives desktop Excel (classic xlwings, COM/AppleScript) and xlwings
Lite (the JSON-payload book, whose writes are queued as actions and applied by the
add-in) alike. Every method is one bulk call per rectangular block, so the number of
calls into Excel depends on the shape of the data (tables, runs of written cells,
findings), never on the number of rows. :func:`add_standard_sheets` puts the standard
sheets into an open workbook (新建复盘表 / 生成示例) from the same writer code as
``retroxl new``.

xlwings is imported by the caller: this module only receives its ``Book``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from ..layout import a1, quote_sheet, quote_text
from ..rules import ExcelError
from .base import HISTORY_AUTHOR, MARK_AUTHOR, MARK_RGB, Block, CellRef, Formula, Mark, Note, Rect, Value
from .sheetxml import parse_range

# Marks live in a hidden sheet of retroxl's own, so they can be removed exactly: xlwings
# Lite cannot read a fill colour or a note's text without a round trip per cell.
REGISTRY_SHEET = "_retroxl_marks"
REGISTRY_HEADER = ["sheet", "row", "col", "note"]
FILLS = {s: "#" + rgb for s, rgb in MARK_RGB.items()}  # the file adapter's mark colours, worst first
NOTE_PREFIX = f"{MARK_AUTHOR}:\n"  # Excel signs a note with the user's name; the text says it is retroxl's

_ERRORS = frozenset({"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#SPILL!", "#CALC!",
                     "#GETTING_DATA", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#DATA!"})
# Text Excel would turn into a number, date, time or boolean when written as a value.
_COERCIBLE = re.compile(r"[\s\d.,:/%$¥€()eE+\-]*\d[\s\d.,:/%$¥€()eE+\-]*|true|false", re.IGNORECASE)
# Excel hands formulas back with this-row references in its short form ([@x], [@[x y]],
# T[@x]); retroxl writes, and compares, the long form T[[#This Row],[x]].
_QUOTED = re.compile(r'("[^"]*")')
_AT_ROW = re.compile(r"(?P<t>[A-Za-z_\\][\w.]*)?\[@(?:\[(?P<c1>(?:[^\]']|'.)*)\]|(?P<c2>(?:[^\]\['#@]|'.)+))\]")
_BARE_ROW = re.compile(r"(?<![\w.\]])\[\[#This Row\],")
_POINTS_PER_CHAR = 5.7  # xlwings Lite sets widths in points, desktop Excel in characters


def as_text(value: str) -> str:
    """Text Excel keeps as typed: an apostrophe before what it would read as a formula or number."""
    if value[:1] in ("=", "+", "-", "@", "'") or _COERCIBLE.fullmatch(value):
        return "'" + value
    return value


def _cell_value(value: Value) -> Any:
    """A value as written into Excel; ``""`` empties a cell."""
    if isinstance(value, str):
        return as_text(value)
    return value


def _rows(cells: object) -> list[list[object]]:
    """Excel's answer for a block as rows: one cell comes back bare, one row as a flat tuple."""
    if not isinstance(cells, (list, tuple)):
        return [[cells]]
    if cells and not isinstance(cells[0], (list, tuple)):
        return [list(cells)]
    return [list(row) for row in cells]


def parse_rect(address: str) -> Rect:
    """'$A$1:$C$9' (or 'Sheet!A1') → (first_row, first_col, last_row, last_col), 0-based."""
    return parse_range(address.rsplit("!", 1)[-1])


def runs(cells: Sequence[tuple[int, int]], key: Mapping[tuple[int, int], object] | None = None
         ) -> list[tuple[int, int, int]]:
    """Group cells into vertical runs (col, first_row, last_row) of equal ``key`` value."""
    by_col: dict[int, list[int]] = defaultdict(list)
    for r, c in cells:
        by_col[c].append(r)
    out = []
    for c in sorted(by_col):
        rows = sorted(set(by_col[c]))
        start = prev = rows[0]
        for r in rows[1:] + [None]:
            if r is not None and r == prev + 1 and (key is None or key[(r, c)] == key[(prev, c)]):
                prev = r
                continue
            out.append((c, start, prev))
            if r is not None:
                start = prev = r
    return out


def rects(cells: Mapping[tuple[int, int], object]) -> list[tuple[Rect, object]]:
    """Cells of equal value grouped into rectangles: vertical runs, side by side ones joined."""
    out: list[tuple[Rect, object]] = []
    for c, r1, r2 in runs(list(cells), cells):
        value = cells[(r1, c)]
        if out:
            (pr1, pc1, pr2, pc2), pv = out[-1]
            if (pr1, pr2, pc2 + 1, pv) == (r1, r2, c, value):
                out[-1] = ((pr1, pc1, pr2, c), pv)
                continue
        out.append(((r1, c, r2, c), value))
    return out


def bands(block: Sequence[Sequence[object]]) -> list[tuple[int, int, int, int]]:
    """The written part of a block (cells not None) as rectangles (r1, c1, r2, c2), relative.

    Consecutive rows that write the same columns form one band; each run of written
    columns in a band is one rectangle. A dense block is one rectangle.
    """
    out: list[tuple[int, int, int, int]] = []
    start = 0
    masks = [tuple(v is not None for v in row) for row in block]
    for i in range(1, len(masks) + 1):
        if i < len(masks) and masks[i] == masks[start]:
            continue
        mask = masks[start]
        j = 0
        while j < len(mask):
            if mask[j]:
                k = j
                while k + 1 < len(mask) and mask[k + 1]:
                    k += 1
                out.append((start, j, i - 1, k))
                j = k + 1
            else:
                j += 1
        start = i
    return out


@lru_cache(maxsize=4096)  # a table column repeats the same few formula texts on every row
def canonical_formula(formula: str, table: str | None) -> str:
    """A formula with Excel's short this-row references spelled out for ``table`` (the cell's own)."""
    if "[" not in formula or table is None:
        return formula

    def spell(m: re.Match) -> str:
        return f"{m['t'] or table}[[#This Row],[{m['c1'] if m['c1'] is not None else m['c2']}]]"

    parts = _QUOTED.split(formula)
    return "".join(p if i % 2 else _BARE_ROW.sub(f"{table}[[#This Row],", _AT_ROW.sub(spell, p))
                   for i, p in enumerate(parts))


def hyperlink(target: CellRef, text: object) -> str:
    """A HYPERLINK formula to a cell of another sheet (written in bulk with the values)."""
    shown = "" if text is None else str(text)
    address = f"#{quote_sheet(target.sheet)}!{a1(target.row, target.col)}"
    return f"=HYPERLINK({quote_text(address)},{quote_text(shown)})"


class LiveBook:
    """:class:`retroxl.books.base.Book` over an ``xlwings.Book``.

    ``formulas`` holds the formulas of whole sheets fetched ahead (sheet → rows from A1);
    xlwings Lite reads formulas only asynchronously, so its script fetches them first
    with :func:`fetch_formulas`. Desktop Excel reads them on demand.
    """

    def __init__(self, book: Any, formulas: Mapping[str, Sequence[Sequence[object]]] | None = None) -> None:
        self.book = book
        self.formulas = dict(formulas or {})
        self.remote = type(book.impl).__module__.endswith("_xlremote")
        self._registry_clear = False   # clear_marks emptied the registry sheet already

    # ---------------------------------------------------------------- reading
    def _range(self, sheet: str, r1: int, c1: int, r2: int, c2: int) -> Any:
        return self.book.sheets[sheet].range((r1 + 1, c1 + 1), (r2 + 1, c2 + 1))

    def sheet_names(self) -> list[str]:
        return [s.name for s in self.book.sheets]

    def extent(self, sheet: str) -> tuple[int, int]:
        used = self.book.sheets[sheet].used_range
        last = used.last_cell
        if last.row == 1 and last.column == 1 and used.value is None:
            return 0, 0
        return last.row, last.column

    def tables(self, sheet: str) -> dict[str, Rect]:
        return {t.name: parse_rect(t.range.address) for t in self.book.sheets[sheet].tables}

    def read(self, sheet: str, rect: Rect) -> list[list[Value]]:
        rows = self._range(sheet, *rect).options(ndim=2, err_to_str=True).value
        return [[ExcelError(v) if isinstance(v, str) and v in _ERRORS else v for v in row] for row in rows]

    def read_formulas(self, sheet: str, rect: Rect) -> list[list[str | None]]:
        r1, c1, r2, c2 = rect
        if sheet in self.formulas:
            grid = self.formulas[sheet]
            cells = [[grid[r][c] if r < len(grid) and c < len(grid[r]) else None for c in range(c1, c2 + 1)]
                     for r in range(r1, r2 + 1)]
        else:
            cells = _rows(self._range(sheet, *rect).formula)
        tables = self.tables(sheet)

        def own(r: int, c: int) -> str | None:
            return next((n for n, (t1, tc1, t2, tc2) in tables.items() if t1 <= r <= t2 and tc1 <= c <= tc2), None)

        return [[canonical_formula(f, own(r1 + i, c1 + j)) if isinstance(f, str) and f.startswith("=") else None
                 for j, f in enumerate(row)] for i, row in enumerate(cells)]

    # ---------------------------------------------------------------- writing
    def _write(self, sheet: str, row: int, col: int, block: Sequence[Sequence[object]], raw: bool = False) -> None:
        for r1, c1, r2, c2 in bands(block):
            values = [[block[r][c] for c in range(c1, c2 + 1)] for r in range(r1, r2 + 1)]
            rng = self._range(sheet, row + r1, col + c1, row + r2, col + c2)
            if raw:  # text only: skip xlwings' per-cell conversion
                rng.raw_value = values
            else:
                rng.value = values

    def write_values(self, sheet: str, row: int, col: int, block: Block) -> None:
        self._write(sheet, row, col, [[None if v is None else _cell_value(v) for v in r] for r in block])

    def write_formulas(self, sheet: str, row: int, col: int, block: Sequence[Sequence[Formula | None]]) -> None:
        self._write(sheet, row, col, [[None if f is None else f.text for f in r] for r in block], raw=True)

    # ---------------------------------------------------------------- marks
    def _registry(self) -> list[tuple[str, int, int, bool]]:
        if REGISTRY_SHEET not in self.sheet_names():
            return []
        rows, _ = self.extent(REGISTRY_SHEET)
        if rows < 2:
            return []
        out = []
        for sheet, r, c, note in self.read(REGISTRY_SHEET, (1, 0, rows - 1, 3)):
            if isinstance(sheet, str) and isinstance(r, (int, float)) and isinstance(c, (int, float)):
                out.append((sheet, int(r), int(c), bool(note)))
        return out

    def _fill(self, sheet: str, colours: Mapping[tuple[int, int], str | None]) -> None:
        for rect, colour in rects(colours):
            self._range(sheet, *rect).color = colour

    def clear_marks(self) -> None:
        marked = self._registry()
        present = set(self.sheet_names())
        by_sheet: dict[str, dict[tuple[int, int], str | None]] = defaultdict(dict)
        for sheet, r, c, note in marked:
            if sheet not in present:
                continue
            by_sheet[sheet][(r, c)] = None
            if note:
                existing = self._range(sheet, r, c, r, c).note
                if existing is not None:
                    existing.delete()
        for sheet, cells in by_sheet.items():
            self._fill(sheet, cells)
        if marked:
            self.book.sheets[REGISTRY_SHEET].clear_contents()
            self._registry_clear = True

    def set_marks(self, marks: Sequence[Mark]) -> None:
        if not marks:
            return
        by_sheet: dict[str, dict[tuple[int, int], str | None]] = defaultdict(dict)
        messages: dict[tuple[str, int, int], list[str]] = defaultdict(list)
        rank = {s: i for i, s in enumerate(FILLS)}
        for m in sorted(marks, key=lambda m: rank.get(m.severity, len(rank))):
            by_sheet[m.sheet].setdefault((m.row, m.col), FILLS.get(m.severity, FILLS["info"]))
            messages[(m.sheet, m.row, m.col)].append(m.message)
        for sheet, cells in by_sheet.items():
            self._fill(sheet, cells)
        registry = []
        for (sheet, r, c), texts in messages.items():
            cell = self._range(sheet, r, c, r, c)
            noted = cell.note is None  # a person's own note stays; the fill still shows the finding
            if noted:
                cell.add_note(NOTE_PREFIX + "\n".join(texts))
            registry.append([_cell_value(sheet), r, c, 1 if noted else 0])
        self._put_registry(registry)

    def add_notes(self, notes: Sequence[Note], author: str = HISTORY_AUTHOR) -> None:
        for n in notes:
            cell = self._range(n.sheet, n.row, n.col, n.row, n.col)
            if cell.note is None:
                cell.add_note(f"{author}:\n{n.text}")

    def _put_registry(self, rows: list[list[object]]) -> None:
        if REGISTRY_SHEET in self.sheet_names():
            sheet = self.book.sheets[REGISTRY_SHEET]
            if not self._registry_clear:
                sheet.clear_contents()
        else:
            sheet = self.book.sheets.add(REGISTRY_SHEET, after=self.book.sheets[-1])
            sheet.visible = False
        sheet.range((1, 1), (len(rows) + 1, len(REGISTRY_HEADER))).value = [REGISTRY_HEADER, *rows]

    # ---------------------------------------------------------------- sheets
    def put_sheet(self, name: str, rows: Block, links: Mapping[tuple[int, int], CellRef] | None = None,
                  widths: Sequence[float] = ()) -> None:
        if name in self.sheet_names():
            sheet = self.book.sheets[name]
            sheet.clear()
        else:
            visible = [s for s in self.book.sheets if s.name != REGISTRY_SHEET]
            sheet = self.book.sheets.add(name, after=(visible or list(self.book.sheets))[-1])
        links = links or {}
        width = max((len(r) for r in rows), default=0)
        block = [[hyperlink(links[(i, j)], v) if (i, j) in links else _cell_value("" if v is None else v)
                  for j, v in enumerate(list(r) + [None] * (width - len(r)))] for i, r in enumerate(rows)]
        if block and width:
            sheet.range((1, 1), (len(block), width)).value = block
        for j, w in enumerate(widths):
            sheet.range((1, j + 1)).column_width = w * _POINTS_PER_CHAR if self.remote else w

    def request_full_recalc(self) -> None:
        self.book.app.calculate()


async def fetch_formulas(book: Any, sheets: Sequence[str]) -> dict[str, list[list[object]]]:
    """The formulas of whole sheets, one request per sheet (xlwings Lite reads them only asynchronously)."""
    out = {}
    for name in sheets:
        used = book.sheets[name].used_range
        grid = await book.sheets[name].range((1, 1), (used.last_cell.row, used.last_cell.column)).get_formula()
        out[name] = _rows(grid)
    return out



# ---------------------------------------------------------------- adding the standard sheets

class _Ignore:
    """Absorbs what a live workbook does not take from the writer (print setup, charts, panes)."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: _IGNORE


_IGNORE = _Ignore()


class _Format:
    def __init__(self, props: Mapping[str, Any] | None) -> None:
        self.props = dict(props or {})


class _SheetRecorder(_Ignore):
    """Takes ``WorkbookWriter``'s calls for one sheet in place of an XlsxWriter worksheet."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cells: dict[tuple[int, int], tuple[str, object]] = {}   # ("v", constant) or ("f", formula)
        self.formats: dict[tuple[int, int], dict[str, Any]] = {}
        self.merges: list[Rect] = []
        self.widths: dict[int, tuple[float, bool]] = {}
        self.heights: dict[int, float] = {}
        self.tables: list[tuple[Rect, dict]] = []
        self.validations: list[tuple[Rect, dict]] = []
        self.conditions: list[tuple[Rect, dict]] = []

    def _put(self, row: int, col: int, cell: tuple[str, object] | None, fmt: object) -> None:
        if cell is not None:
            self.cells[(row, col)] = cell
        if isinstance(fmt, _Format):
            self.formats[(row, col)] = fmt.props

    def write_string(self, row: int, col: int, text: str, fmt: object = None) -> None:
        self._put(row, col, ("v", text), fmt)

    write_number = write_boolean = write_datetime = write_string

    def write_blank(self, row: int, col: int, _: object, fmt: object = None) -> None:
        self._put(row, col, None, fmt)

    def write_formula(self, row: int, col: int, formula: str, fmt: object = None, value: object = None) -> None:
        self._put(row, col, ("f", formula), fmt)

    def merge_range(self, r1: int, c1: int, r2: int, c2: int, data: object, fmt: object = None) -> None:
        self.merges.append((r1, c1, r2, c2))
        for r in range(r1, r2 + 1):
            for c in range(c1, c2 + 1):
                self._put(r, c, ("v", data) if (r, c) == (r1, c1) else None, fmt)

    def set_column(self, c1: int, c2: int, width: float, fmt: object = None, options: dict | None = None) -> None:
        for c in range(c1, c2 + 1):
            self.widths[c] = (width, bool((options or {}).get("hidden")))

    def set_row(self, row: int, height: float, *args: object) -> None:
        self.heights[row] = height

    def add_table(self, r1: int, c1: int, r2: int, c2: int, options: dict) -> None:
        self.tables.append(((r1, c1, r2, c2), options))
        for j, column in enumerate(options.get("columns", [])):
            self._put(r1, c1 + j, ("v", column["header"]), column.get("header_format"))

    def data_validation(self, r1: int, c1: int, r2: int, c2: int, options: dict) -> None:
        self.validations.append(((r1, c1, r2, c2), options))

    def conditional_format(self, r1: int, c1: int, r2: int, c2: int, options: dict) -> None:
        self.conditions.append(((r1, c1, r2, c2), options))


class _BookRecorder(_Ignore):
    def __init__(self) -> None:
        self.sheets: list[_SheetRecorder] = []
        self.names: dict[str, str] = {}

    def add_worksheet(self, name: str, **_: object) -> _SheetRecorder:
        self.sheets.append(_SheetRecorder(name))
        return self.sheets[-1]

    def add_format(self, props: Mapping[str, Any] | None = None) -> _Format:
        return _Format(props)

    def define_name(self, name: str, formula: str) -> None:
        self.names[name] = formula


_FORMAT_SETTERS: tuple[tuple[str, Any], ...] = (
    ("num_format", lambda rng, v: setattr(rng, "number_format", v)),
    ("bg_color", lambda rng, v: setattr(rng, "color", v)),
    ("bold", lambda rng, v: setattr(rng.font, "bold", bool(v))),
    ("font_color", lambda rng, v: setattr(rng.font, "color", {"white": "#FFFFFF"}.get(v, v))),
    ("font_size", lambda rng, v: setattr(rng.font, "size", v)),
    ("text_wrap", lambda rng, v: setattr(rng, "wrap_text", bool(v))),
)


class _Replay:
    """Puts recorded sheets into an open workbook: a bounded number of calls per column, not per row."""

    def __init__(self, live: LiveBook) -> None:
        self.live = live
        self.book = live.book

    def rng(self, sheet: str, rect: Rect) -> Any:
        return self.live._range(sheet, *rect)

    def run(self, rec: _BookRecorder) -> None:
        after = [s for s in self.book.sheets if s.name != REGISTRY_SHEET][-1]
        for ws in rec.sheets:                      # 1. the sheets and their constants
            after = self.book.sheets.add(ws.name, after=after)
            self.constants(ws)
        for ws in rec.sheets:                      # 2. tables, then names: formulas refer to both
            for (r1, c1, r2, c2), options in ws.tables:
                self.book.sheets[ws.name].tables.add(
                    source=self.rng(ws.name, (r1, c1, r2, c2)), name=options["name"], has_headers=True,
                    table_style_name=options.get("style", "Table Style Light 9").replace(" ", ""))
        for name, refers_to in rec.names.items():
            self.book.names.add(name, refers_to)
        for ws in rec.sheets:                      # 3. formulas, then the look
            formulas = {k: v for k, (kind, v) in ws.cells.items() if kind == "f"}
            if formulas:
                r0, c0, block = self.block(formulas, None)
                self.live._write(ws.name, r0, c0, block, raw=True)
            self.looks(ws)

    @staticmethod
    def block(cells: Mapping[tuple[int, int], object], empty: object) -> tuple[int, int, list[list[object]]]:
        r0, r1 = min(r for r, _ in cells), max(r for r, _ in cells)
        c0, c1 = min(c for _, c in cells), max(c for _, c in cells)
        return r0, c0, [[cells.get((r, c), empty) for c in range(c0, c1 + 1)] for r in range(r0, r1 + 1)]

    def constants(self, ws: _SheetRecorder) -> None:
        """Every constant of a new sheet in one call from A1 (formula cells stay empty for now)."""
        values = {k: _cell_value("" if v is None else v) for k, (kind, v) in ws.cells.items() if kind == "v"}
        if values:
            rows, cols = max(r for r, _ in values) + 1, max(c for _, c in values) + 1
            block = [[values.get((r, c), "") for c in range(cols)] for r in range(rows)]
            self.rng(ws.name, (0, 0, rows - 1, cols - 1)).value = block

    def looks(self, ws: _SheetRecorder) -> None:
        sheet = self.book.sheets[ws.name]
        sizes = [p["font_size"] for p in ws.formats.values() if "font_size" in p]
        base = max(set(sizes), key=sizes.count) if sizes else None
        if base is not None:   # the body size once for the whole sheet, then only the titles
            rows, cols = max(r for r, _ in ws.formats) + 1, max(c for _, c in ws.formats) + 1
            self.rng(ws.name, (0, 0, rows - 1, cols - 1)).font.size = base
        for key, setter in _FORMAT_SETTERS:
            cells = {k: p[key] for k, p in ws.formats.items()
                     if p.get(key) not in (None, False) and not (key == "font_size" and p[key] == base)}
            for rect, value in rects(cells):
                setter(self.rng(ws.name, rect), value)
        for rect in ws.merges:
            self.rng(ws.name, rect).merge()
        for c, (width, hidden) in sorted(ws.widths.items()):
            column = sheet.range((1, c + 1))
            column.column_width = width * _POINTS_PER_CHAR if self.live.remote else width
            if hidden:
                column.columns.hidden = True
        for r, height in sorted(ws.heights.items()):
            sheet.range((r + 1, 1)).row_height = height
        for rect, options in ws.validations:
            validation = self.rng(ws.name, rect).data_validation
            if options["validate"] == "list":
                validation.set_list(list(options["source"]))
            elif options["validate"] == "decimal":
                validation.set_decimal("between", options["minimum"], options["maximum"])
            elif options["validate"] == "date":
                validation.set_date("between", options["minimum"], options["maximum"])
        for rect, options in ws.conditions:
            props = options["format"].props
            if not any(k in props for k in ("bg_color", "font_color", "bold")):
                continue  # number-format-only rules (1:x, %) need Excel's own rule editor
            self.rng(ws.name, rect).conditional_formats.add_custom(
                options["criteria"], fill_color=props.get("bg_color"), font_color=props.get("font_color"),
                font_bold=props.get("bold"))


def add_standard_sheets(book: Any, retro: Any = None, *, template: Any = None, lang: str = "zh",
                        today: Any = None) -> list[str]:
    """Add the standard retrospective sheets (filled with ``retro``, if given) to an open workbook.

    The sheets, formulas, tables, names, validation and formats are those ``retroxl new``
    writes (the same writer code runs against a recorder); charts are left out. Returns
    the names of the sheets added.
    """
    from ..errors import RetroxlError
    from ..generate import plan_workbook
    from .xlsx_writer import WorkbookWriter

    plan = plan_workbook(retro, template=template, lang=lang, today=today)
    present = {s.name for s in book.sheets}
    clash = [name for name in plan.layout.sheets.values() if name in present]
    if clash:
        raise RetroxlError(f"工作簿里已有“{clash[0]}”：请在没有复盘表的工作簿里运行 / "
                           f"the workbook already has a sheet named {clash[0]!r}")
    rec = _BookRecorder()
    WorkbookWriter(plan.layout, plan.retro, plan.values, plan.schedule).write_sheets(rec)  # type: ignore[arg-type]
    _Replay(LiveBook(book)).run(rec)
    return [ws.name for ws in rec.sheets]
