"""Compute every computed cell of a retrospective, the way its formulas will.

The values become the cached results written beside each formula (so readers that
never calculate show the right numbers) and the figures ``validate`` reports.
Work goes a column at a time: a formula rule is applied down a whole column, and a
column another one needs is computed first (the dependency order comes from the
template's formula arguments).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from itertools import repeat

from .layout import Layout
from .model import Link, Retrospective
from .rules import RULES, Context, fallback_number
from .template import FormulaRule, Template, per_template

Key = tuple  # ("t", table, row, column) or ("f", field)


class Values:
    """Entries and computed values by position in the template: ``columns`` (a list per table
    column) and ``fields``, as ``compute`` fills them."""

    def __init__(self, fallbacks: dict[Key, float] | None = None, *,
                 columns: dict[tuple[str, str], list] | None = None, fields: dict[str, object] | None = None) -> None:
        self.fallbacks = fallbacks if fallbacks is not None else {}   # number behind a text entry
        self.columns = columns if columns is not None else {}
        self.fields = fields if fields is not None else {}

    def table(self, table: str, i: int, column: str) -> object:
        values = self.columns.get((table, column))
        return values[i] if values is not None and 0 <= i < len(values) else ""

    def field(self, key: str) -> object:
        return self.fields.get(key, "")


_CONTEXTS: dict = {}
_PREPARED: dict[int, tuple[FormulaRule, Callable, tuple[str, ...], tuple]] = {}   # by id(rule); the rule is kept


_TEMPLATE, _ROW, _BOOK = "template", "row", "book"


def template_context(tpl: Template, lang: str, today: date) -> Context:
    """The rules' context for a template, language and day (markers and list items as shown), kept for reuse."""
    return per_template(_CONTEXTS, tpl, (lang, today), lambda: Context(
        {k: v[lang] for k, v in tpl.markers.items()}, {k: v[lang] for k, v in tpl.lists.items()}, today))


def _prepared(rule: FormulaRule) -> tuple[Callable, tuple[str, ...], tuple]:
    """A rule's function, its parameters after ctx in order, and each argument as (name, ref, kind):
    worked out once, not per column per book. Kind: a template constant (a marker ``m.KEY`` or a list
    item ``l.LIST.N``), a column of the same row (no dot), or a book-level value (a named cell, a column)."""
    if id(rule) not in _PREPARED:
        fn = RULES[rule.rule]
        args = tuple((arg, ref, _TEMPLATE if ref.partition(".")[0] in ("m", "l") else _BOOK if "." in ref else _ROW)
                     for arg, ref in rule.args.items())
        _PREPARED[id(rule)] = (rule, fn, fn.__code__.co_varnames[1:fn.__code__.co_argcount], args)
    return _PREPARED[id(rule)][1:]


class _Computer:
    def __init__(self, layout: Layout, retro: Retrospective, today: date | None) -> None:
        self.layout, self.retro = layout, retro
        self.ctx = template_context(layout.template, layout.lang, today or date.today())
        self.by_name = {fl.spec.name: key for key, fl in layout.fields.items() if fl.spec.name}
        self.fields: dict[str, object] = {}
        self.columns: dict[tuple[str, str], list] = {}
        self.fallbacks: dict[Key, float] = {}
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
        """The value of a book-level argument: a named cell or a whole column (markers and list items
        are template constants, which ``apply`` takes from the context)."""
        head, _, rest = ref.partition(".")
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
            values = [r.get(col) for r in self.retro.rows(table)[:n]]
            if None in values or any(isinstance(v, Link) for v in values):
                values = [self.entry(v) for v in values]
            values += [""] * (n - len(values))
        else:
            source = table if tl.excel_table else self.layout.template.sheet(table).source
            values = self.apply(spec.formula, n, lambda ref: self.column(source, ref),
                                table if tl.excel_table else None)
        self.busy.discard(("t", table, col))
        self.columns[(table, col)] = values
        return values

    def apply(self, rule: FormulaRule, n: int, local: Callable[[str], list], table: str | None) -> list:
        """The rule's value for rows 0..n-1; ``local`` gives a row-level argument's column."""
        fn, params, prepared = _prepared(rule)
        args: dict[str, list] = {}
        for arg, ref, kind in prepared:
            known, value = (False, None) if kind is _ROW else self.ctx.constant(ref) if kind is _TEMPLATE \
                else self.constant(ref)
            args[arg] = [value] * n if known else (local(ref) + [""] * n)[:n]
        if rule.rule == "number" and table is not None:
            # A text entry that reads as a number: the parsed value becomes the formula's fallback.
            x = rule.args["x"]
            args["fallback"] = fallback = list(args.get("fallback", args["x"]))
            for i, value in enumerate(args["x"]):
                if type(value) is str and value:
                    fb = fallback_number(value)
                    if fb is not None:
                        self.fallbacks[("t", table, i, x)] = fb
                        fallback[i] = fb
        if args.keys() == set(params):     # positional calls down the columns: no dict per row
            return list(map(fn, repeat(self.ctx, n), *(args[p] for p in params)))
        names = list(args)
        return [fn(self.ctx, **dict(zip(names, row))) for row in zip(*args.values())]

    def run(self, fields: Iterable[str], tables: Iterable[str]) -> Values:
        for key in fields:
            self.field(key)
        for table in tables:
            for c in self.layout.tables[table].spec.columns:
                self.column(table, c.key)
        return Values(fallbacks=self.fallbacks, fields=self.fields, columns=self.columns)


def compute(layout: Layout, retro: Retrospective, today: date | None = None, *,
            fields: Iterable[str] | None = None, tables: Iterable[str] | None = None) -> Values:
    """Fill a :class:`Values` with every entry and every computed cell of ``layout``.

    ``fields`` / ``tables`` limit the work to those (and what they depend on), for
    callers that need a few figures of thousands of books (``retroxl collect``).
    """
    return _Computer(layout, retro, today).run(layout.fields if fields is None else fields,
                                               layout.tables if tables is None else tables)
