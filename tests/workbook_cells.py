"""Test helpers: the computed cells of a generated workbook, by sheet and position."""

from __future__ import annotations

import math

from retroxl.compute import Values
from retroxl.layout import Layout


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
