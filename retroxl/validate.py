"""``retroxl validate``: every finding about a filled workbook, by sheet and cell.

The rules live in :mod:`retroxl.engine.checks` (pure); this module reads the book,
computes its values, places each finding on its cell and adds what only the book
can tell (a missing sheet or column, a formula someone replaced).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from .books.base import Book
from .books.reader import BookData, Key, read_book
from .books.sheetxml import parse_ref
from .compute import Values, compute
from .engine.checks import CODES, ERROR, INFO, WARNING, Issue, check
from .engine.metrics import as_float, normalize_direction
from .errors import RetroxlError
from .gcpause import gc_paused
from .generate import resolve_template
from .layout import Layout, a1
from .template import Template

if TYPE_CHECKING:
    from .history import FilledCell, History

SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding on a cell: ``cell`` is A1 text ("" when the finding is about a missing sheet)."""

    sheet: str
    cell: str
    severity: str
    code: str
    message: str


@dataclass
class Report:
    """The findings and the key figures of one workbook."""

    file: str
    findings: list[Finding] = field(default_factory=list)
    metrics: list[dict] = field(default_factory=list)

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def errors(self) -> int:
        return self.count(ERROR)

    @property
    def exit_code(self) -> int:
        return 1 if self.errors else 0

    def to_dict(self) -> dict:
        return {"file": self.file, "findings": [asdict(f) for f in self.findings], "metrics": self.metrics}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def summary(self) -> str:
        return (f"{self.file}: {self.errors} error(s), {self.count(WARNING)} warning(s), "
                f"{self.count(INFO)} info")

    def to_text(self) -> str:
        places = [f"{f.sheet}!{f.cell}" if f.cell else f.sheet for f in self.findings]
        width = max(map(len, places), default=0)
        lines = [self.summary()]
        lines += [f"  {p:<{width}}  {f.severity:<7}  {f.code}  {f.message}" for p, f in zip(places, self.findings)]
        return "\n".join(lines)


# ---------------------------------------------------------------- whose formula is it
_QUOTED = re.compile(r'("[^"]*"|\'[^\']*\')')
_NUMBER = r"-?\d+(?:\.\d*)?(?:E[+-]?\d+)?"


def _norm(formula: str) -> str:
    """Formula text compared loosely: no spaces and upper case outside quoted text."""
    parts = _QUOTED.split(formula.lstrip("="))
    return "".join(p if i % 2 else re.sub(r"\s+", "", p).upper() for i, p in enumerate(parts))


class FormulaMatcher:
    """Tells retroxl's formulas (recalc may rewrite them) from formulas a person wrote.

    A table column repeats one formula text (the hidden number columns vary only in
    the fallback number), the dashboard's differ only in row numbers: each column is
    matched with one pattern built from the layout, so checking 10,000 rows costs a
    set lookup or one pattern match per cell, not a formula rendering.
    """

    _FALLBACK, _ROW = "\x00", "\x01"

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self._patterns: dict[tuple, tuple[str, re.Pattern, int | None]] = {}
        self._known: dict[tuple, set[str]] = {}       # per column: texts already found to be ours
        self._computed: dict[tuple, bool] = {}
        self._defaults: dict[tuple, str] = {}
        self._ours: dict[tuple, list[bool]] = {}        # per column: which cells hold retroxl's formula

    def _column(self, key: Key) -> tuple[str, re.Pattern, int | None]:
        """(template text, pattern, first row number or None) for the column (or field) of ``key``."""
        ck = key if key[0] == "f" else (key[1], key[3])
        if ck in self._patterns:
            return self._patterns[ck]
        lay = self.layout
        if key[0] == "f":
            text = lay.field_formula(key[1])
            found = (text, re.compile(re.escape(text)), None)
        else:
            tl = lay.tables[key[1]]
            column = tl.spec.column(key[3])
            overrides = {"fallback": self._FALLBACK} if column.formula.rule == "number" else None  # type: ignore[union-attr]
            first = None
            if tl.excel_table:
                text = lay.column_formula(key[1], column, 0, overrides)
            else:   # the dashboard: absolute references to the source table's row
                source = lay.tables[lay.template.sheet(key[1]).source]  # type: ignore[index]
                first = source.first_row + 1

                def ref(k: str) -> str:
                    cell = source.cell(k, 0)
                    return cell[:cell.rindex("$") + 1] + self._ROW

                text = lay.render(column.formula, ref, overrides)  # type: ignore[arg-type]
            fb = ""
            if overrides:
                default = self.default(key)
                head, _, tail = text.partition(self._FALLBACK)
                fb = re.escape(default[len(head):len(default) - len(tail)])
            pattern = "".join(
                re.escape(part) if k % 2 == 0 else (f"(?:{fb}|{_NUMBER})" if part == self._FALLBACK else r"(\d+)")
                for k, part in enumerate(re.split(f"([{self._FALLBACK}{self._ROW}])", text)))
            found = (text, re.compile(pattern, re.I), first)
        self._patterns[ck] = found
        return found

    def computed(self, table: str, col: str) -> bool:
        ck = (table, col)
        if ck not in self._computed:
            self._computed[ck] = self.layout.tables[table].spec.column(col).computed
        return self._computed[ck]

    def default(self, key: Key) -> str:
        """A number column's formula with its default fallback (the entry itself)."""
        ck = (key[1], key[3])
        if ck not in self._defaults:
            column = self.layout.tables[key[1]].spec.column(key[3])
            self._defaults[ck] = self.layout.column_formula(key[1], column, 0)
        return self._defaults[ck]

    def _has_formula(self, table: str, col: str) -> bool:
        ck = ("formula", table, col)
        if ck not in self._computed:
            self._computed[ck] = self.layout.tables[table].spec.column(col).formula is not None
        return self._computed[ck]

    def ours(self, key: Key, formula: str) -> bool:
        if key[0] == "t" and not self.computed(key[1], key[3]):
            return True  # a link such as =retro_roi: the reader only keeps those
        if key[0] == "t" and not self._has_formula(key[1], key[3]):
            return False  # a constant column (the chart's 100% line) holding someone's formula
        text, pattern, first = self._column(key)
        known = self._known.setdefault(key[:2] + key[3:], set())
        if formula in known:
            return True
        m = pattern.fullmatch(formula)
        ok = m is not None and (first is None or all(int(g) == first + key[2] for g in m.groups()))
        if not ok:   # spacing or case changed by another program: compare loosely
            expected = self.layout.field_formula(key[1]) if key[0] == "f" else self.layout.column_formula(
                key[1], self.layout.tables[key[1]].spec.column(key[3]), key[2])
            ok = _norm(formula) == _norm(expected)
        if ok and first is None:
            known.add(formula)
        return ok

    def column(self, table: str, col: str, formulas: list[str | None],
               fallbacks: list[float | None] | None = None) -> list[str | None]:
        """For a column's cells: the formula recalc writes, or None (no formula, or one a person wrote)."""
        ck = (table, col)
        ours = self._ours.get(ck)
        if ours is None or len(ours) != len(formulas):
            known = self._known.setdefault(("t", table, col), set())   # texts already found to be ours
            expected: list[str | None] = [None] * len(formulas)
            if self.computed(table, col) and self._has_formula(table, col):
                text, _, first = self._column(("t", table, 0, col))
                if first is not None and self._FALLBACK not in text:   # the dashboard's: one text per row
                    parts = text.split(self._ROW)
                    expected = [str(first + i).join(parts) for i in range(len(formulas))]
            ours = self._ours[ck] = [f is not None and (f in known or f == e or self.ours(("t", table, i, col), f))
                                     for i, (f, e) in enumerate(zip(formulas, expected))]
        if not self.computed(table, col) or not self._has_formula(table, col):
            return [f if ok else None for f, ok in zip(formulas, ours)]
        template = self._column(("t", table, 0, col))[0]
        if self._FALLBACK not in template:
            return [f if ok else None for f, ok in zip(formulas, ours)]
        default = self.default(("t", table, 0, col))
        fallbacks = fallbacks or [None] * len(formulas)
        return [None if not ok else default if fb is None else template.replace(self._FALLBACK, repr(float(fb)))
                for ok, fb in zip(ours, fallbacks)]


# ---------------------------------------------------------------- validating
@dataclass
class Checked:
    """A book read, computed and checked: what recalc needs to write it back."""

    data: BookData
    values: Values
    matcher: FormulaMatcher
    report: Report
    filled: list[FilledCell] = field(default_factory=list)   # empty 往期值 taken from history


def check_book(book: Book, template: Template | str | Path | None = None, *, today: date | None = None,
               name: str = "", history: History | None = None) -> Checked:
    """Read, compute and check a book (any adapter); ``history`` fills empty 往期值 first."""
    tpl = resolve_template(template)
    data = read_book(book, tpl)
    filled: list[FilledCell] = []
    indicators = data.tables.get("indicators")
    if history is not None and indicators is not None and "previous" in indicators.cols:
        formulas = indicators.entry_formulas.get("previous", ())
        result = history.fill(data.retro, keep={i for i, f in enumerate(formulas) if f is not None})
        data.retro, filled = result.retro, result.cells
    today = today or date.today()
    try:
        values = compute(data.layout, data.retro, today)
    except ValueError as e:   # a circular link between named cells
        raise RetroxlError(f"cannot compute the workbook: {e}") from None
    matcher = FormulaMatcher(data.layout)
    issues = check(tpl, data.lang, data.retro, values, today)
    report = Report(name, _place(data, issues) + _book_findings(data, matcher), _metrics(data, values))
    order = {n: i for i, n in enumerate(book.sheet_names())}
    report.findings.sort(key=lambda f: (order.get(f.sheet, len(order)), parse_ref(f.cell) if f.cell else (-1, -1),
                                        SEVERITY_ORDER[f.severity], f.code))
    return Checked(data, values, matcher, report, filled)


@gc_paused()   # also while the book is dropped: its objects are freed by reference counting
def validate(path: str | Path, template: Template | str | Path | None = None, *,
             today: date | None = None) -> Report:
    """Check a filled workbook; the file is only read.

    >>> report = validate("复盘.xlsx")  # doctest: +SKIP
    >>> report.exit_code, report.findings[0].code  # doctest: +SKIP
    (1, 'R101')
    """
    from .books.ooxml import OoxmlBook
    from .books.safety import check_workbook

    path = Path(path)
    with OoxmlBook(path, check_workbook(path)) as book:
        return check_book(book, template, today=today, name=str(path)).report


def _place(data: BookData, issues: list[Issue]) -> list[Finding]:
    out = []
    for issue in issues:
        sheet, cell = _where(data, issue.where)
        out.append(Finding(sheet, cell, issue.severity, issue.code, issue.message))
    return out


def _where(data: BookData, key: tuple) -> tuple[str, str]:
    if key[0] == "s":
        name = data.sheet_name(key[1])
        return name, "" if key[1] in data.missing_sheets else "A1"
    place = data.place(key)
    if place is not None:
        sheet, row, col = place
        return sheet, a1(row, col)
    if key[0] == "t":   # the column is missing: point at the row's first cell
        td = data.tables.get(key[1])
        if td is not None and td.cols:
            return td.sheet, a1(td.layout.first_row + key[2], min(td.cols.values()))
        tl = data.layout.tables[key[1]]
        return tl.sheet, a1(tl.header_row, tl.first_col)
    return data.layout.fields[key[1]].sheet, ""


def _book_findings(data: BookData, matcher: FormulaMatcher) -> list[Finding]:
    tpl = data.layout.template
    out = []
    for key in data.missing_sheets:
        name = tpl.sheet(key).name[data.lang]
        out.append(Finding(name, "", CODES["R001"][0], "R001", f"缺少工作表“{name}”"))
    for table, cols in data.missing_columns.items():
        tl = data.layout.tables[table]
        heads = "、".join(tl.spec.column(c).header[data.lang] for c in cols)
        out.append(Finding(tl.sheet, a1(tl.header_row, tl.first_col), CODES["R001"][0], "R001",
                           f"表格 {tl.spec.table} 缺少列：{heads}"))
    replaced = "公式已被改动，recalc 不会改写它；如需恢复，请从同列其他单元格复制公式"
    for table, td in data.tables.items():
        for col_key, formulas in td.formulas.items():
            if not matcher.computed(table, col_key):
                continue
            texts = matcher.column(table, col_key, formulas)
            if texts.count(None) == formulas.count(None):    # no formula turned down
                continue
            for i, (formula, kept) in enumerate(zip(formulas, texts)):
                if formula is not None and kept is None:
                    sheet, row, col = td.place(i, col_key)  # type: ignore[misc]
                    out.append(Finding(sheet, a1(row, col), CODES["R002"][0], "R002", replaced))
    for key, fd in data.fields.items():
        if fd.formula is not None and data.layout.fields[key].spec.formula is not None \
                and not matcher.ours(("f", key), fd.formula):
            out.append(Finding(fd.where[0], a1(fd.where[1], fd.where[2]), CODES["R002"][0], "R002", replaced))
    return out


def _metrics(data: BookData, values: Values) -> list[dict]:
    out = []
    directions: dict[object, str] = {}
    for table, name_col in (("goals", "goal"), ("indicators", "indicator")):
        tl = data.layout.tables.get(table)
        if tl is None:
            continue
        rows = data.retro.rows(table)
        cols = {c.key for c in tl.spec.columns}
        entry_keys = [c.key for c in tl.spec.columns if not c.computed]
        numbers = [[v if type(v) is float else as_float(v) for v in values.columns.get((table, col)) or
                    [values.table(table, i, col) for i in range(len(rows))]] if col in cols else [None] * len(rows)
                   for col in ("target_n", "actual_n", "attainment", "previous_n", "variance")]
        for i, (row, target, actual, attainment, previous, variance) in enumerate(zip(rows, *numbers)):
            entries = list(map(row.get, entry_keys))
            if entries.count(None) + entries.count("") == len(entries):     # a blank row (counted at C speed)
                continue
            d = row.get("direction")
            direction = directions.get(d) if isinstance(d, (str, type(None))) else None
            if direction is None:
                direction = normalize_direction(d)
                if isinstance(d, (str, type(None))):
                    directions[d] = direction
            out.append({"sheet": tl.sheet, "row": tl.first_row + i + 1, "name": str(row.get(name_col) or ""),
                        "direction": direction, "target": target, "actual": actual, "attainment": attainment,
                        "previous": previous, "variance": variance})
    return out
