"""The book interface: what recalc and validate need from a workbook, nothing more.

Two adapters implement it: :class:`retroxl.books.ooxml.OoxmlBook` edits an .xlsx/.xlsm
file part by part (nothing else in the package changes), and a live adapter drives an
open Excel workbook through xlwings. The job code (``retroxl.recalc``,
``retroxl.validate``) only talks to this protocol, so it runs unchanged on both.

Conventions every adapter follows:

- Positions are 0-based ``(row, col)``; A1 is ``(0, 0)``. A :data:`Rect` is
  ``(first_row, first_col, last_row, last_col)``, inclusive.
- Every call is a bulk call: one call per rectangular block, never one per cell, so
  the number of calls does not grow with the number of rows (this matters for the
  live adapter, where each call crosses into Excel).
- Values read are what the cell shows as data: ``None`` for an empty cell, ``str``
  for text, ``float`` (or ``int``) for numbers, ``bool``, and Excel errors as their
  text (``"#DIV/0!"``). A date cell may come back as a serial number or as a
  ``date``/``datetime`` (the live adapter knows the number format, the file adapter
  need not); readers accept both.
- In blocks that are written, ``None`` means "leave this cell alone"; adapters
  group the runs of cells that are written into contiguous ranges. ``""`` empties
  a cell (its formatting stays).
- An adapter that gets values and formulas from the same pass may also offer
  ``read_both(sheet, rect) -> (values, formulas)``; readers use it when present.
- Marks and the checks sheet belong to retroxl: :meth:`Book.clear_marks` removes
  exactly what an earlier :meth:`Book.set_marks` added and leaves a person's own
  notes and colours alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

Value = None | str | float | int | bool | date | datetime
Rect = tuple[int, int, int, int]          # first_row, first_col, last_row, last_col (inclusive)
Block = Sequence[Sequence[Value]]

MARK_RGB = {"error": "FF8B8B", "warning": "FFD966", "info": "BDD7EE"}  # mark fill per severity, worst first
MARK_AUTHOR = "retroxl"                   # the author of the notes on findings (replaced on every run)
HISTORY_AUTHOR = "retroxl 复盘库"          # the author of the notes saying where a 往期值 came from (kept)


@dataclass(frozen=True, slots=True)
class Formula:
    """A formula (text with the leading ``=``) and the value to cache beside it.

    File adapters store ``value`` as the cell's cached result, so readers that
    never calculate show it; a live adapter writes ``text`` and lets Excel compute.
    """

    text: str
    value: Value = ""


@dataclass(frozen=True, slots=True)
class Mark:
    """A finding shown on its cell: a fill colour by ``severity`` and a note with ``message``."""

    sheet: str
    row: int
    col: int
    severity: str       # a key of MARK_RGB: "error", "warning" or "info"
    message: str


@dataclass(frozen=True, slots=True)
class Note:
    """A note on a cell that is not a finding (for example where a filled-in value came from)."""

    sheet: str
    row: int
    col: int
    text: str


@dataclass(frozen=True, slots=True)
class CellRef:
    """A hyperlink from a cell of the checks sheet to a cell of another sheet."""

    sheet: str
    row: int
    col: int


@runtime_checkable
class Book(Protocol):
    """A workbook recalc and validate can read and write; see the module docstring."""

    def sheet_names(self) -> list[str]:
        """The sheet names in workbook order."""
        ...

    def extent(self, sheet: str) -> tuple[int, int]:
        """(rows, cols): the used range of a sheet, counted from A1 (0, 0 when empty)."""
        ...

    def tables(self, sheet: str) -> dict[str, Rect]:
        """The Excel Tables (ListObjects) of a sheet: name → range, header row included."""
        ...

    def read(self, sheet: str, rect: Rect) -> list[list[Value]]:
        """The values of a block, one list per row, ``None`` padding empty cells."""
        ...

    def read_formulas(self, sheet: str, rect: Rect) -> list[list[str | None]]:
        """The formulas of a block (text with the leading ``=``), ``None`` where a cell holds none."""
        ...

    def write_values(self, sheet: str, row: int, col: int, block: Block) -> None:
        """Write constants from (row, col); ``None`` skips a cell, ``""`` empties it, a formula becomes plain data."""
        ...

    def write_formulas(self, sheet: str, row: int, col: int, block: Sequence[Sequence[Formula | None]]) -> None:
        """Write formulas with their cached values from (row, col); ``None`` skips a cell."""
        ...

    def clear_marks(self) -> None:
        """Remove every mark an earlier :meth:`set_marks` made (fills and notes by retroxl)."""
        ...

    def set_marks(self, marks: Sequence[Mark]) -> None:
        """Colour each marked cell by severity and attach a note authored :data:`MARK_AUTHOR`.

        A cell that already carries a person's note keeps it (the fill is still set).
        """
        ...

    def add_notes(self, notes: Sequence[Note], author: str = HISTORY_AUTHOR) -> None:
        """Attach a note signed ``author`` to each cell; a cell that already has a note keeps it.

        :meth:`clear_marks` leaves these notes alone (unless ``author`` is :data:`MARK_AUTHOR`).
        """
        ...

    def put_sheet(self, name: str, rows: Block, links: Mapping[tuple[int, int], CellRef] | None = None,
                  widths: Sequence[float] = ()) -> None:
        """Replace (or add, as the last sheet) a sheet holding ``rows`` from A1.

        ``links`` maps a (row, col) of the new sheet to the cell it links to;
        ``widths`` gives column widths in characters. The first row is the header.
        """
        ...

    def request_full_recalc(self) -> None:
        """Ask the application to recalculate every formula (file: on next open; live: now)."""
        ...
