"""Test helpers: the cells of a workbook by sheet and position (typed, cached, computed), and the reviews
the tests fill workbooks with."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import openpyxl
from python_calamine import CalamineWorkbook

from retroxl.books.base import Formula
from retroxl.books.ooxml import OoxmlBook
from retroxl.books.sheetxml import parse_ref
from retroxl.compute import Values
from retroxl.layout import Layout
from retroxl.model import Retrospective

# Workbooks Excel itself saved, kept beside the repository (not in it).
EXCEL_MADE = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "excel-made"
DEMO = "2024夏季新品推广"


def campaign(name: str, start: date, end: date, indicators: list[tuple], *, kind: str | None = None,
             actions: list[dict] | None = None, lessons: list[dict] | None = None) -> Retrospective:
    """A filled review; ``indicators`` are (name, unit, target, actual[, previous])."""
    info = {"campaign": name, "start": start, "end": end, "owner": "张经理"}
    if kind:
        info["type"] = kind
    rows = [{"type": "流量", "indicator": n, "unit": u, "direction": "越高越好", "target": t, "actual": a,
             "previous": rest[0] if rest else None, "source": "后台数据"} for n, u, t, a, *rest in indicators]
    return Retrospective(info=info, tables={
        "goals": [{"goal": r["indicator"], "unit": r["unit"], "direction": "越高越好", "target": r["target"],
                   "actual": r["actual"]} for r in rows],
        "indicators": rows, "actions": actions or [], "lessons": lessons or []})


def fill(src: Path, dest: Path, cells: dict[str, dict[str, object]]) -> Path:
    """A person typing values (a Formula for a formula): {sheet: {"E4": value}}, no recalculation.
    ``dest`` may be ``src``: the package is read from src while it is written, hence the temp file."""
    tmp = dest.with_suffix(".tmp.xlsx")
    with OoxmlBook(src) as book:
        for sheet, entries in cells.items():
            for ref, value in entries.items():
                row, col = parse_ref(ref)
                if isinstance(value, Formula):
                    book.write_formulas(sheet, row, col, [[value]])
                else:
                    book.write_values(sheet, row, col, [[value]])
        book.save(tmp)
    tmp.replace(dest)
    return dest


def cached(path: Path, sheet: str, ref: str) -> object:
    """What a reader that never calculates sees (python-calamine reads the cached values)."""
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python()
    r, c = parse_ref(ref)
    return rows[r][c]


def formula(path: Path, sheet: str, ref: str) -> str | None:
    r, c = parse_ref(ref)
    with OoxmlBook(path) as book:
        return book.read_formulas(sheet, (r, c, r, c))[0][0]


def notes(path: Path, sheet: str) -> dict[str, tuple[str, str]]:
    """{"E4": (author, text)} for every note on a sheet."""
    ws = openpyxl.load_workbook(path)[sheet]
    return {c.coordinate: (c.comment.author, c.comment.text) for row in ws.iter_rows() for c in row if c.comment}


def computed_cells(layout: Layout, values: Values) -> dict[tuple[str, int, int], object]:
    """(sheet, row, col) → the value Python computed, for every formula cell of the layout."""
    out: dict[tuple[str, int, int], object] = {}
    for key, tl in layout.tables.items():
        for c in tl.spec.columns:
            if c.formula is None:
                continue
            for i in range(tl.rows):
                out[(tl.sheet, tl.first_row + i, tl.col(c.key))] = values.table(key, i, c.key)
    for key, fl in layout.fields.items():
        if fl.spec.formula is not None:
            out[(fl.sheet, fl.row, fl.col)] = values.field(key)
    return out


def same(a: object, b: object) -> bool:
    """Equal as a spreadsheet shows it: blanks alike, numbers to 1e-9."""
    a = "" if a is None else a
    b = "" if b is None else b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def grid_value(grid: dict[str, list[list[object]]], sheet: str, row: int, col: int) -> object:
    rows = grid[sheet]
    if row >= len(rows) or col >= len(rows[row]):
        return None
    return rows[row][col]


def column_values(grid: dict[str, list[list[object]]], layout: Layout, table: str, key: str, n: int) -> list:
    """The first ``n`` cells of a table's column in a grid of values."""
    tl = layout.tables[table]
    return [grid_value(grid, tl.sheet, tl.first_row + i, tl.col(key)) for i in range(n)]
