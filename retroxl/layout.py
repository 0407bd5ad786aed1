"""Where everything sits in a workbook made from a template, and the formula text.

This is the one place that turns the template's formula rules into Excel formula
text: the generator writes it, recalc rewrites it, the reader finds cells by the
same positions.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from .template import PLACEHOLDER, Column, Field, FormulaRule, Table, Template, per_template

TABLE_HEADER_ROW = 2      # title, a hint line, then the header
INFO_FIELD_ROW = 2
_SPECIAL = re.compile(r"(['#\[\]])")


def col_letter(col: int) -> str:
    s = ""
    col += 1
    while col:
        col, r = divmod(col - 1, 26)
        s = chr(65 + r) + s
    return s


def a1(row: int, col: int, absolute: bool = False) -> str:
    d = "$" if absolute else ""
    return f"{d}{col_letter(col)}{d}{row + 1}"


def quote_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def quote_text(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@dataclass(frozen=True)
class TableLayout:
    """One table placed on a sheet: 0-based header row and first column."""

    sheet: str
    spec: Table
    lang: str
    header_row: int
    first_col: int
    rows: int
    excel_table: bool = True   # an Excel Table (structured references) or a plain range

    @property
    def first_row(self) -> int:
        return self.header_row + 1

    @property
    def last_row(self) -> int:
        return self.header_row + max(self.rows, 1)

    def col(self, key: str) -> int:
        return self.first_col + self.spec.index(key)

    @property
    def last_col(self) -> int:
        return self.first_col + len(self.spec.columns) - 1

    def header(self, key: str) -> str:
        return self.spec.column(key).header[self.lang]

    def _escaped(self, key: str) -> str:
        return _SPECIAL.sub(r"'\1", self.header(key))

    def this_row(self, key: str) -> str:
        # The qualified form: LibreOffice evaluates XlsxWriter's [@col] rewrite to #N/A.
        return f"{self.spec.table}[[#This Row],[{self._escaped(key)}]]"

    def whole(self, key: str) -> str:
        if self.excel_table:
            return f"{self.spec.table}[{self._escaped(key)}]"
        c = self.col(key)
        return f"{quote_sheet(self.sheet)}!{a1(self.first_row, c, True)}:{a1(self.last_row, c, True)}"

    def cell(self, key: str, i: int) -> str:
        """An absolute reference to data row i (0-based) of a column, from any sheet."""
        return f"{quote_sheet(self.sheet)}!{a1(self.first_row + i, self.col(key), True)}"


@dataclass(frozen=True)
class FieldLayout:
    sheet: str
    spec: Field
    row: int
    col: int     # the value cell; the label sits to its left (info, costs) or above (KPIs)


@dataclass
class Layout:
    template: Template
    lang: str
    sheets: dict[str, str] = field(default_factory=dict)          # sheet key → sheet name
    tables: dict[str, TableLayout] = field(default_factory=dict)  # table key → layout
    fields: dict[str, FieldLayout] = field(default_factory=dict)  # field key → layout
    steps_row: int = 0
    rules_row: int = 0

    # ------------------------------------------------------------ formulas
    def constant(self, ref: str) -> str | None:
        """Excel text for a template constant ({m.x}, {l.list.n}, name.x), else None."""
        head, _, rest = ref.partition(".")
        if head == "m":
            return quote_text(self.template.marker(rest, self.lang))
        if head == "l":
            lst, _, n = rest.partition(".")
            return quote_text(self.template.choices(lst, self.lang)[int(n) - 1])
        if head == "name":
            return rest
        return None

    def global_ref(self, ref: str) -> str | None:
        """A workbook-level reference: a constant, a whole table column, or a named field."""
        const = self.constant(ref)
        if const is not None:
            return const
        head, _, rest = ref.partition(".")
        if rest and head in self.tables:
            return self.tables[head].whole(rest)
        if ref in self.fields and self.fields[ref].spec.name:
            return self.fields[ref].spec.name
        return None

    def render(self, rule: FormulaRule, local: Callable[[str], str], overrides: dict[str, str] | None = None) -> str:
        """Formula text ('=…') for a rule; ``local`` resolves row-level arguments."""
        args = {k: (self.global_ref(v) or local(v)) for k, v in rule.args.items()}
        if overrides:
            args.update(overrides)

        def sub(m: re.Match) -> str:
            ph = m.group(1)
            return args[ph] if ph in args else self.constant(ph)  # type: ignore[return-value]

        return "=" + PLACEHOLDER.sub(sub, self.template.formulas[rule.rule])

    def column_formula(self, table_key: str, column: Column, row: int = 0,
                       overrides: dict[str, str] | None = None) -> str:
        """The formula of a computed column in data row ``row`` of a table."""
        tl = self.tables[table_key]
        assert column.formula is not None
        if tl.excel_table:
            return self.render(column.formula, tl.this_row, overrides)
        source = self.tables[self.template.sheet(tl.spec.key).source]  # type: ignore[index]
        return self.render(column.formula, lambda key: source.cell(key, row), overrides)

    def field_formula(self, key: str) -> str:
        f = self.fields[key].spec
        assert f.formula is not None
        return self.render(f.formula, lambda k: self.fields[k].spec.name)


def make_layout(template: Template, lang: str = "zh", rows: dict[str, int] | None = None) -> Layout:
    """Place every sheet of a template; ``rows`` gives data rows per table (default: the template's)."""
    rows = rows or {}
    lay = Layout(template, lang)
    for sheet in template.sheets:
        name = sheet.name[lang]
        lay.sheets[sheet.key] = name
        if sheet.kind == "info":
            for i, f in enumerate(sheet.fields):
                lay.fields[f.key] = FieldLayout(name, f, INFO_FIELD_ROW + i, 1)
            lay.steps_row = INFO_FIELD_ROW + len(sheet.fields) + 1
            lay.rules_row = lay.steps_row + len(sheet.steps) + 3
        elif sheet.kind == "table":
            t = sheet.table
            lay.tables[t.key] = TableLayout(name, t, lang, TABLE_HEADER_ROW, 0, rows.get(t.key, t.rows))
        elif sheet.kind == "costs":
            for i, f in enumerate(sheet.fields):
                lay.fields[f.key] = FieldLayout(name, f, INFO_FIELD_ROW + i, 1)
            header = INFO_FIELD_ROW + len(sheet.fields) + 2
            col = 0
            for t in sheet.tables:
                lay.tables[t.key] = TableLayout(name, t, lang, header, col, rows.get(t.key, t.rows))
                col += len(t.columns) + 1
        elif sheet.kind == "dashboard":
            for i, f in enumerate(sheet.fields):
                lay.fields[f.key] = FieldLayout(name, f, 3, i)
            t = sheet.table
            source_rows = lay.tables[sheet.source].rows if sheet.source in lay.tables else 0
            lay.tables[t.key] = TableLayout(name, t, lang, 6, 0, source_rows, excel_table=False)
    return lay


_SHARED: dict = {}


def shared_layout(template: Template, lang: str) -> Layout:
    """``make_layout(template, lang)`` made once and shared, for callers that only read it."""
    return per_template(_SHARED, template, lang, lambda: make_layout(template, lang))
