"""The Python side of every formula rule in the template's ``[formulas]``.

Each function computes what its Excel formula shows, from the values the formula
would see: a number, "" for a blank, text, or a list for a whole column. A test
recalculates generated workbooks in LibreOffice and checks the two agree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from .engine import metrics
from .engine.numbers import parse_quantity

_INF = float("inf")


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
        self.lower = lists["direction"][1] if len(lists.get("direction", ())) > 1 else None   # 越低越好

    def constant(self, ref: str) -> tuple[bool, object]:
        """(True, text) for a template constant: a marker ``m.KEY`` or a list item ``l.LIST.N``."""
        head, _, rest = ref.partition(".")
        if head == "m":
            return True, self.markers[rest]
        if head == "l":
            lst, _, n = rest.partition(".")
            return True, self.lists[lst][int(n) - 1]
        return False, None

    def shown(self, m: metrics.Metric) -> object:
        """The cell value for a metric: the number, "" for a blank input, else the marker.

        A quotient too large for a double (2 ÷ 1e-308) is #NUM! in Excel, which the
        formula's IFERROR turns into the not-a-number marker: so here too.
        """
        if m.value is not None:
            return m.value if -_INF < m.value < _INF else self.markers[metrics.NOT_NUMBER]
        return "" if m.reason == metrics.BLANK else self.markers[m.reason]


def fallback_number(x: object) -> object:
    """What ``retroxl recalc`` writes as the number behind a text entry (None: nothing to write)."""
    if is_number(x) or is_blank(x) or not isinstance(x, str):
        return None
    q = parse_quantity(x)
    return q.value if q.ok else None


def _number(ctx: Context, x: object, fallback: object) -> object:
    if type(x) is float:     # the common case first
        return x
    if isinstance(x, ExcelError):
        return ctx.markers["not_number"]
    if is_number(x):
        return x
    return "" if is_blank(x) else fallback


def _numbers(column: list) -> list[float]:
    """The finite numbers of a column, as floats (floats checked inline: most cells)."""
    return [x for x in (v if type(v) is float and -_INF < v < _INF else metrics.as_float(v) for v in column)
            if x is not None]


def _average(column: list) -> object:
    numbers = _numbers(column)
    return sum(numbers) / len(numbers) if numbers else ""


def _total(column: list) -> object:
    numbers = _numbers(column)
    return sum(numbers) if numbers else ""


def _overdue(ctx: Context, deadline: object, status: object) -> object:
    done = ctx.lists["status"][2]
    return ctx.markers["overdue"] if metrics.overdue(deadline, status, ctx.today, done) else ""


def _count_equal(ctx: Context, column: list, value: object) -> int:
    return sum(1 for v in column if not is_blank(v) and str(v) == str(value))


def _attainment(ctx: Context, actual: object, target: object, direction: object) -> object:
    # Two finite numbers and a valid target (the common case) divide at once; anything else goes through metrics.
    if type(actual) is float and type(target) is float and 0 < target < _INF and -_INF < actual < _INF:
        if direction != ctx.lower:
            q = actual / target
            if -_INF < q < _INF:
                return q
        elif actual > 0:
            q = target / actual
            if q < _INF:
                return q
    lower = direction == ctx.lower and ctx.lower is not None
    return ctx.shown(metrics.attainment(actual, target, metrics.LOWER if lower else metrics.HIGHER))


def _chart_actual(ctx: Context, attainment: object, actual: object, target: object) -> object:
    if type(attainment) is not float and not is_number(attainment):
        return ""
    q = actual / target    # type: ignore[operator]
    return q if -_INF < q < _INF else ctx.markers[metrics.NOT_NUMBER]


def _variance(ctx: Context, actual: object, previous: object) -> object:
    if type(actual) is float and type(previous) is float and 0 < previous < _INF and -_INF < actual < _INF:
        q = actual / previous
        if -_INF < q < _INF:
            return q - 1
    return ctx.shown(metrics.variance(actual, previous))


RULES: dict[str, Callable[..., object]] = {
    "number": _number,
    "attainment": _attainment,
    "variance": _variance,
    "budget_rate": lambda ctx, spent, budget: ctx.shown(metrics.budget_rate(spent, budget)),
    "roi": lambda ctx, returns, cost: ctx.shown(metrics.roi(returns, cost)),
    "net_roi": lambda ctx, returns, cost: ctx.shown(metrics.net_roi(returns, cost)),
    "overdue": _overdue,
    "total": lambda ctx, column: _total(column),
    "count_attained": lambda ctx, column: sum(1 for v in _numbers(column) if v >= 1),
    "count_numbers": lambda ctx, column: len(_numbers(column)),
    "average_numbers": lambda ctx, column: _average(column),
    "count_equal": _count_equal,
    "ref": lambda ctx, x: x,
    "chart_label": lambda ctx, x: "" if is_blank(x) else x,
    "chart_target": lambda ctx, attainment: 1 if type(attainment) is float or is_number(attainment) else "",
    "chart_actual": _chart_actual,
    "chart_attainment": lambda ctx, attainment: attainment if type(attainment) is float or is_number(attainment) else "",
}


def evaluate(ctx: Context, rule: str, args: dict[str, object]) -> object:
    """The value the formula of ``rule`` shows for these argument values."""
    return RULES[rule](ctx, **args)
