"""The Python side of every formula rule in the template's ``[formulas]``.

Each function computes what its Excel formula shows, from the values the formula
would see: a number, "" for a blank, text, or a list for a whole column. A test
recalculates generated workbooks in LibreOffice and checks the two agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from .engine import metrics
from .engine.numbers import parse_quantity



class ExcelError(str):
    """A cell holding an Excel error value (#DIV/0!, #N/A, …), as opposed to text that reads the same.

    Readers wrap error cells in it: a formula sees an error (IFERROR catches it), not text.
    """


def is_number(x: object) -> bool:
    """Excel's ISNUMBER: dates are numbers too."""
    return isinstance(x, (int, float, date)) and not isinstance(x, bool)


def is_blank(x: object) -> bool:
    return x is None or x == ""


class Context:
    """What a rule needs beyond its arguments: marker and list texts, today's date."""

    def __init__(self, markers: dict[str, str], lists: dict[str, list[str]], today: date) -> None:
        self.markers, self.lists, self.today = markers, lists, today

    def shown(self, m: metrics.Metric) -> object:
        """The cell value for a metric: the number, "" for a blank input, else the marker."""
        if m.value is not None:
            return m.value
        return "" if m.reason == metrics.BLANK else self.markers[m.reason]


def fallback_number(x: object) -> object:
    """What ``retroxl recalc`` writes as the number behind a text entry (None: nothing to write)."""
    if is_number(x) or is_blank(x) or not isinstance(x, str):
        return None
    q = parse_quantity(x)
    return q.value if q.ok else None


def _number(ctx: Context, x: object, fallback: object) -> object:
    if isinstance(x, ExcelError):
        return ctx.markers["not_number"]
    if is_number(x):
        return x
    return "" if is_blank(x) else fallback


def _numbers(column: list) -> list[float]:
    return [v for v in map(metrics.as_float, column) if v is not None]


def _overdue(ctx: Context, deadline: object, status: object) -> object:
    done = ctx.lists["status"][2]
    return ctx.markers["overdue"] if metrics.overdue(deadline, status, ctx.today, done) else ""


def _count_equal(ctx: Context, column: list, value: object) -> int:
    return sum(1 for v in column if not is_blank(v) and str(v) == str(value))


def _lower(ctx: Context) -> str:
    return ctx.lists["direction"][1]


RULES: dict[str, Callable[..., object]] = {
    "number": _number,
    "attainment": lambda ctx, actual, target, direction: ctx.shown(
        metrics.attainment(actual, target, metrics.LOWER if direction == _lower(ctx) else metrics.HIGHER)),
    "variance": lambda ctx, actual, previous: ctx.shown(metrics.variance(actual, previous)),
    "budget_rate": lambda ctx, spent, budget: ctx.shown(metrics.budget_rate(spent, budget)),
    "roi": lambda ctx, returns, cost: ctx.shown(metrics.roi(returns, cost)),
    "net_roi": lambda ctx, returns, cost: ctx.shown(metrics.net_roi(returns, cost)),
    "overdue": _overdue,
    "total": lambda ctx, column: sum(_numbers(column)) if _numbers(column) else "",
    "count_attained": lambda ctx, column: sum(1 for v in _numbers(column) if v >= 1),
    "count_numbers": lambda ctx, column: len(_numbers(column)),
    "average_numbers": lambda ctx, column: (sum(_numbers(column)) / len(_numbers(column))) if _numbers(column) else "",
    "count_equal": _count_equal,
    "ref": lambda ctx, x: x,
    "chart_label": lambda ctx, x: "" if is_blank(x) else x,
    "chart_target": lambda ctx, attainment: 1 if is_number(attainment) else "",
    "chart_actual": lambda ctx, attainment, actual, target: actual / target if is_number(attainment) else "",
    "chart_attainment": lambda ctx, attainment: attainment if is_number(attainment) else "",
}


def evaluate(ctx: Context, rule: str, args: dict[str, object]) -> object:
    """The value the formula of ``rule`` shows for these argument values."""
    return RULES[rule](ctx, **args)
