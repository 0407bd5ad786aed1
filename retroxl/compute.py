"""Compute every computed cell of a retrospective, the way its formulas will.

The values become the cached results written beside each formula (so readers that
never calculate show the right numbers) and the figures ``validate`` reports.
Work goes a column at a time: a formula rule is applied down a whole column, and a
column another one needs is computed first (the dependency order comes from the
template's formula arguments).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from .layout import Layout
from .model import Link, Retrospective
from .rules import RULES, Context, fallback_number
from .template import FormulaRule

Key = tuple  # ("t", table, row, column) or ("f", field)


@dataclass
class Values:
    """Entries and computed values by position in the template."""

    cells: dict[Key, object] = field(default_factory=dict)
    fallbacks: dict[Key, float] = field(default_factory=dict)  # number behind a text entry

    def table(self, table: str, i: int, column: str) -> object:
        return self.cells.get(("t", table, i, column), "")

    def field(self, key: str) -> object:
        return self.cells.get(("f", key), "")


class _Computer:
    def __init__(self, layout: Layout, retro: Retrospective, today: date | None) -> None:
        tpl, lang = layout.template, layout.lang
        self.layout, self.retro = layout, retro
        self.ctx = Context({k: v[lang] for k, v in tpl.markers.items()},
                           {k: v[lang] for k, v in tpl.lists.items()}, today or date.today())
        self.by_name = {fl.spec.name: key for key, fl in layout.fields.items() if fl.spec.name}
        self.out = Values()
        self.fields: dict[str, object] = {}
        self.columns: dict[tuple[str, str], list] = {}
        self.busy: set[tuple] = set()

    def _enter(self, key: tuple) -> None:
        if key in self.busy:
            raise ValueError(f"circular reference at {key}")
        self.busy.add(key)

    def entry(self, value: object) -> object:
        if isinstance(value, Link):
            return self.field(self.by_name[value.name])
        return "" if value is None else value

    def constant(self, ref: str) -> tuple[bool, object]:
        """The value of a workbook-level argument: a marker, a list item, a named cell, a whole column."""
        ctx = self.ctx
        head, _, rest = ref.partition(".")
        if head == "m":
            return True, ctx.markers[rest]
        if head == "l":
            lst, _, n = rest.partition(".")
            return True, ctx.lists[lst][int(n) - 1]
        if head == "name":
            return True, self.field(self.by_name[rest])
        if rest and head in self.layout.tables:
            return True, self.column(head, rest)
        return False, None

    def field(self, key: str) -> object:
        if key in self.fields:
            return self.fields[key]
        self._enter(("f", key))
        rule = self.layout.fields[key].spec.formula
        if rule is None:
            value = self.entry(self.retro.info.get(key))
        else:
            value = self.apply(rule, 1, lambda ref: [self.field(ref)], None)[0]
        self.busy.discard(("f", key))
        self.fields[key] = value
        return value

    def column(self, table: str, col: str) -> list:
        if (table, col) in self.columns:
            return self.columns[(table, col)]
        self._enter(("t", table, col))
        tl = self.layout.tables[table]
        spec, n = tl.spec.column(col), tl.rows
        if spec.value is not None:
            values = [spec.value] * n
        elif spec.formula is None:
            rows = self.retro.rows(table)
            values = [self.entry(rows[i].get(col)) if i < len(rows) else "" for i in range(n)]
        else:
            source = table if tl.excel_table else self.layout.template.sheet(table).source
            values = self.apply(spec.formula, n, lambda ref: self.column(source, ref),
                                table if tl.excel_table else None)
        self.busy.discard(("t", table, col))
        self.columns[(table, col)] = values
        return values

    def apply(self, rule: FormulaRule, n: int, local: Callable[[str], list], table: str | None) -> list:
        """The rule's value for rows 0..n-1; ``local`` gives a row-level argument's column."""
        args: dict[str, list] = {}
        for arg, ref in rule.args.items():
            known, value = self.constant(ref)
            args[arg] = [value] * n if known else (local(ref) + [""] * n)[:n]
        fn, ctx, names = RULES[rule.rule], self.ctx, list(args)
        rows = [dict(zip(names, row)) for row in zip(*args.values())] if args else [{} for _ in range(n)]
        if rule.rule == "number" and table is not None:
            # A text entry that reads as a number: the parsed value becomes the formula's fallback.
            x = rule.args["x"]
            for i, kw in enumerate(rows):
                fb = fallback_number(kw["x"])
                if fb is not None:
                    self.out.fallbacks[("t", table, i, x)] = fb
                    kw["fallback"] = fb
        return [fn(ctx, **kw) for kw in rows]

    def run(self) -> Values:
        cells = self.out.cells
        for key in self.layout.fields:
            cells[("f", key)] = self.field(key)
        for table, tl in self.layout.tables.items():
            for c in tl.spec.columns:
                for i, v in enumerate(self.column(table, c.key)):
                    cells[("t", table, i, c.key)] = v
        return self.out


def compute(layout: Layout, retro: Retrospective, today: date | None = None) -> Values:
    """Fill a :class:`Values` with every entry and every computed cell of ``layout``."""
    return _Computer(layout, retro, today).run()
