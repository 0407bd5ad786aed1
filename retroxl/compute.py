"""Compute every computed cell of a retrospective, the way its formulas will.

The values become the cached results written beside each formula (so readers that
never calculate show the right numbers) and the figures ``validate`` reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .layout import Layout
from .model import Link, Retrospective
from .rules import Context, evaluate, fallback_number
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


def compute(layout: Layout, retro: Retrospective, today: date | None = None) -> Values:
    """Fill a :class:`Values` with every entry and every computed cell of ``layout``."""
    tpl, lang = layout.template, layout.lang
    ctx = Context({k: v[lang] for k, v in tpl.markers.items()},
                  {k: v[lang] for k, v in tpl.lists.items()}, today or date.today())
    out = Values()
    by_name = {fl.spec.name: key for key, fl in layout.fields.items() if fl.spec.name}
    busy: set[Key] = set()

    def entry(value: object) -> object:
        if isinstance(value, Link):
            return get(("f", by_name[value.name]))
        return "" if value is None else value

    def get(key: Key) -> object:
        if key in out.cells:
            return out.cells[key]
        if key in busy:
            raise ValueError(f"circular reference at {key}")
        busy.add(key)
        if key[0] == "f":
            fl = layout.fields[key[1]]
            value = entry(retro.info.get(key[1])) if fl.spec.formula is None else \
                rule_value(fl.spec.formula, lambda ref: get(("f", ref)), {})
        else:
            _, table, i, col = key
            tl = layout.tables[table]
            column = tl.spec.column(col)
            if column.value is not None:
                value = column.value
            elif column.formula is None:
                rows = retro.rows(table)
                value = entry(rows[i].get(col)) if i < len(rows) else ""
            elif tl.excel_table:
                value = rule_value(column.formula, lambda ref: get(("t", table, i, ref)), {"table": table, "row": i})
            else:
                src = tpl.sheet(table).source
                value = rule_value(column.formula, lambda ref: get(("t", src, i, ref)), {})
        busy.discard(key)
        out.cells[key] = value
        return value

    def global_value(ref: str) -> tuple[bool, object]:
        head, _, rest = ref.partition(".")
        if head == "m":
            return True, ctx.markers[rest]
        if head == "l":
            lst, _, n = rest.partition(".")
            return True, ctx.lists[lst][int(n) - 1]
        if head == "name":
            return True, get(("f", by_name[rest]))
        if rest and head in layout.tables:
            return True, [get(("t", head, i, rest)) for i in range(layout.tables[head].rows)]
        return False, None

    def rule_value(rule: FormulaRule, local, where: dict) -> object:
        args = {}
        for arg, ref in rule.args.items():
            known, value = global_value(ref)
            args[arg] = value if known else local(ref)
        if rule.rule == "number" and where:
            fb = fallback_number(args["x"])
            if fb is not None:
                out.fallbacks[("t", where["table"], where["row"], rule.args["x"])] = fb
                args["fallback"] = fb
        return evaluate(ctx, rule.rule, args)

    for key, fl in layout.fields.items():
        get(("f", key))
    for table, tl in layout.tables.items():
        for i in range(tl.rows):
            for c in tl.spec.columns:
                get(("t", table, i, c.key))
    return out
