"""``retroxl recalc``: recompute a filled workbook in place, mark what is wrong, lose nothing.

Written against the book interface, so the same code runs on a file
(:class:`~retroxl.books.ooxml.OoxmlBook`) and inside Excel (a live adapter). It
writes only cells that hold retroxl's own formulas (their cached values, and the
parsed number behind a text entry such as 120万次 as the hidden number column's
fallback), the six-step due dates, the marks and the 校验 sheet. A cell a person
typed is never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from itertools import compress
from math import inf
from operator import is_not, ne, or_
from pathlib import Path
from typing import TYPE_CHECKING

from .books.base import Book, CellRef, Formula, Mark, Note
from .books.sheetxml import parse_ref, same_value
from .engine.checks import ERROR, INFO, WARNING
from .engine.workdays import HOLIDAY_DATA
from .errors import RetroxlError
from .files import atomic_output
from .gcpause import gc_paused
from .schedule import make_schedule
from .template import Template
from .validate import Checked, Report, check_book

if TYPE_CHECKING:
    from .history import FilledCell, History

CHECK_SHEET = {"zh": "校验", "en": "Checks"}
CHECK_HEADERS = {"zh": ["级别", "代码", "工作表", "单元格", "说明"],
                 "en": ["Severity", "Code", "Sheet", "Cell", "Message"]}
SEVERITY_TEXT = {"zh": {ERROR: "错误", WARNING: "警告", INFO: "提示"},
                 "en": {ERROR: "Error", WARNING: "Warning", INFO: "Info"}}
NO_FINDINGS = {"zh": "未发现问题", "en": "No findings"}


@dataclass
class RecalcResult:
    path: Path
    report: Report
    cells: int          # cells holding retroxl's formulas, all now carrying the right cached value
    changed: int        # of those, cells whose cached value (or number fallback) had to be rewritten
    filled: list[FilledCell] = field(default_factory=list)   # empty 往期值 filled from history


@gc_paused()   # the live add-in's path too
def recalc_book(book: Book, template: Template | str | Path | None = None, *, today: date | None = None,
                name: str = "", history: History | None = None) -> RecalcResult:
    """Recompute, mark and list the findings of a book (file or live); returns what was found.

    With ``history``, every empty 往期值 of 表2 is first filled from the archive
    (see :mod:`retroxl.history`), with a note on the cell naming the campaign it
    came from.
    """
    checked = check_book(book, template, today=today, name=name, history=history)
    book.clear_marks()     # first: an old finding's note must not keep the 往期 source note off its cell
    _write_previous(book, checked)
    cells, changed = _write_values(book, checked)
    _write_schedule(book, checked)
    _write_findings(book, checked)
    book.request_full_recalc()
    return RecalcResult(Path(name), checked.report, cells, changed, checked.filled)


@gc_paused()   # a big book is hundreds of thousands of objects without cycles: collections find nothing
def recalc(path: str | Path, out: str | Path | None = None, template: Template | str | Path | None = None, *,
           today: date | None = None, history: str | Path | History | None = None) -> RecalcResult:
    """Recalculate ``path`` in place (or into ``out``), atomically: the original is intact until the end.

    ``history``: a review archive (``retroxl collect``) to fill empty 往期值 from.

    >>> recalc("复盘.xlsx").report.summary()  # doctest: +SKIP
    '复盘.xlsx: 0 error(s), 1 warning(s), 2 info'
    >>> len(recalc("复盘.xlsx", history="复盘库.db").filled)  # doctest: +SKIP
    3
    """
    from .books.ooxml import OoxmlBook
    from .books.safety import check_workbook
    from .history import History, load_history   # the archive (sqlite3) only when asked for

    path = Path(path)
    dest = Path(out) if out else path
    checked = check_workbook(path)
    if dest.suffix.lower() != path.suffix.lower():
        raise RetroxlError(f"{dest}: keep the extension {path.suffix} (a macro workbook stays .xlsm)")
    if history is not None and not isinstance(history, History):
        history = load_history(history)
    book = OoxmlBook(path, checked)
    try:
        result = recalc_book(book, template, today=today, name=str(path), history=history)
        with atomic_output(dest, force=True) as tmp:
            book.save(tmp)
            book.close()
    finally:
        book.close()
    result.path = dest
    return result


def _write_previous(book: Book, checked: Checked) -> None:
    """The 往期值 taken from history, each with a note naming the campaign it came from."""
    notes = []
    for cell in checked.filled:
        sheet, row, col = checked.data.tables[cell.table].place(cell.row, cell.column)  # type: ignore[misc]
        book.write_values(sheet, row, col, [[cell.previous.value]])
        notes.append(Note(sheet, row, col, cell.note(checked.data.lang)))
    book.add_notes(notes)


def _write_values(book: Book, checked: Checked) -> tuple[int, int]:
    """Cached values of retroxl's formulas, one block per column; returns (cells kept, cells changed).

    A cell whose formula and cached value are already right is not written at all.
    """
    data, values, matcher = checked.data, checked.values, checked.matcher
    kept = changed = 0
    for table, td in data.tables.items():
        n = td.layout.rows
        for column in td.layout.spec.columns:
            formulas = td.formulas.get(column.key)
            if not formulas:
                continue
            number_of = column.formula.args["x"] if column.formula and column.formula.rule == "number" else None
            fallbacks: list[float | None] | None = None
            if number_of:
                fallbacks = [None] * n
                for (_, t, i, x), fb in values.fallbacks.items():
                    if t == table and x == number_of and i < n:
                        fallbacks[i] = fb
            texts = matcher.column(table, column.key, formulas, fallbacks)
            computed = values.columns.get((table, column.key)) or [""] * n
            cached = td.values[column.key]
            kept += len(texts) - texts.count(None)
            if texts == formulas and cached == computed and list(map(type, cached)) == list(map(type, computed)):
                continue        # every formula ours and every cached value right (compared at C speed)
            stale = _stale(formulas, texts, cached, computed)
            if not stale:
                continue
            first, last = stale[0], stale[-1]
            writes: list[str | None] = [None] * (last - first + 1)
            for i in stale:
                writes[i - first] = texts[i]
            sheet, row0, col = td.place(first, column.key)  # type: ignore[misc]
            write_column = getattr(book, "write_formula_column", None)
            if write_column is not None:      # the file adapter's bulk write: no Formula per cell
                write_column(sheet, row0, col, writes, computed[first:last + 1])
            else:
                book.write_formulas(sheet, row0, col, [[None if t is None else Formula(t, v)]
                                                       for t, v in zip(writes, computed[first:last + 1])])
            changed += len(stale)
    for key, fd in data.fields.items():
        if fd.formula is None or data.layout.fields[key].spec.formula is None \
                or not matcher.ours(("f", key), fd.formula):
            continue
        kept += 1
        value = values.field(key)
        if not same_value(fd.value, value):
            sheet, row, col = fd.where
            book.write_formulas(sheet, row, col, [[Formula(fd.formula, value)]])
            changed += 1
    return kept, changed


def _stale(formulas: list[str | None], texts: list[str | None], cached: list, computed: list) -> list[int]:
    """The rows of a column whose cell recalc rewrites: one of ours whose formula or cached value must change.

    The candidates are found at C speed (values or their types unequal, formula texts
    unequal); only those are compared in Python (numbers equal to 15 digits are equal).
    """
    rows = range(len(texts))
    unequal = compress(rows, map(or_, map(ne, cached, computed), map(is_not, map(type, cached), map(type, computed))))
    stale = set()
    for i in unequal:
        if texts[i] is None:
            continue
        old, new = cached[i], computed[i]
        if type(old) is float and type(new) is float:     # most cells: compared inline
            if abs(old - new) <= 1e-15 * max(abs(old), abs(new)) < inf:   # (an infinity differs from all)
                continue
        elif type(old) is float and type(new) is int and old == new:     # a whole number read back as 1.0
            continue
        elif same_value(old, new):
            continue
        stale.add(i)
    if texts != formulas:
        stale.update(i for i in compress(rows, map(ne, texts, formulas)) if texts[i] is not None)
    return sorted(stale)


def _write_schedule(book: Book, checked: Checked) -> None:
    """The six steps' due dates once the end date is known, and the note under them."""
    data = checked.data
    end = data.retro.info.get("end")
    if data.steps_due is None or not isinstance(end, date):
        return
    tpl = data.layout.template
    schedule = make_schedule(tpl, end)
    sheet, row, col = data.steps_due
    book.write_values(sheet, row, col, [[d] for d in schedule.due])
    if data.steps_note is not None:
        sheet, row, col = data.steps_note
        current = book.read(sheet, (row, col, row, col))[0][0]
        ours = {tpl.text("no_end", lang) for lang in ("zh", "en")}
        if current in (None, "") or current in ours or HOLIDAY_DATA in str(current):
            book.write_values(sheet, row, col, [[schedule.note or ""]])


def _write_findings(book: Book, checked: Checked) -> None:
    """Marks on the flagged cells and the 校验 sheet listing every finding with a link."""
    lang = checked.data.lang
    name = CHECK_SHEET[lang]
    if name in book.sheet_names():
        head = book.read(name, (0, 0, 0, 0))[0][0]
        if head not in {h[0] for h in CHECK_HEADERS.values()}:
            raise RetroxlError(f"the workbook has its own sheet named {name!r}; rename it so that "
                               "retroxl can write its findings there")
    report = checked.report
    marks = []
    rows: list[list[object]] = [list(CHECK_HEADERS[lang])]
    links = {}
    for f in report.findings:
        rows.append([SEVERITY_TEXT[lang][f.severity], f.code, f.sheet, f.cell, f.message])
        if f.cell and f.sheet in checked.data.layout.sheets.values():
            row, col = parse_ref(f.cell)
            marks.append(Mark(f.sheet, row, col, f.severity, f"{f.code} {f.message}"))
            links[(len(rows) - 1, 3)] = CellRef(f.sheet, row, col)
    if not report.findings:
        rows.append(["", "", "", "", NO_FINDINGS[lang]])
    book.set_marks(marks)
    book.put_sheet(name, rows, links, widths=(8, 8, 16, 10, 90))
