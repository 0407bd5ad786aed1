"""Attainment (达成率), variance (环比) and ROI: the rules the native formulas follow.

Every function takes already-parsed numbers (or None for a blank cell) and returns a
:class:`Metric`: a value, or a reason code when the value cannot be computed. The
reason codes are the keys of the template's ``[markers]`` table, so the text a
formula shows and the text Python reports come from the same place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime

HIGHER = "higher"
LOWER = "lower"

# Reason codes (also the marker keys of the template).
BLANK = "blank"                  # an input is blank: the cell stays empty
NOT_NUMBER = "not_number"        # an input is text that is not a number
BAD_TARGET = "bad_target"        # target 0, negative
BAD_ACTUAL = "bad_actual"        # 越低越好 with an actual of 0 or less
BAD_PREVIOUS = "bad_previous"    # previous value 0 or negative
BAD_COST = "bad_cost"            # total cost 0 or negative
BAD_BUDGET = "bad_budget"        # budget 0 or negative


@dataclass(frozen=True, slots=True)
class Metric:
    """A computed value, or why there is none (``reason`` is one of the codes above)."""

    value: float | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None


def as_float(x: object) -> float | None:
    """A cell value that is a finite number as a float; None for text, dates, booleans, blanks."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    try:
        value = float(x)  # an int beyond a double's range overflows
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _number(x: object) -> float | None | str:
    """None for blank, a float for a number, NOT_NUMBER otherwise (mirrors ISNUMBER)."""
    if x is None or (isinstance(x, str) and x == ""):
        return None
    value = as_float(x)
    return NOT_NUMBER if value is None else value


def _inputs(*xs: object) -> list[float] | Metric:
    vals = [_number(x) for x in xs]
    if any(v is None for v in vals):
        return Metric(None, BLANK)
    if any(v == NOT_NUMBER for v in vals):
        return Metric(None, NOT_NUMBER)
    return vals  # type: ignore[return-value]


def normalize_direction(direction: object) -> str:
    """'lower' for 越低越好 / lower-is-better wording, else 'higher' (the default)."""
    text = str(direction or "").strip().lower()
    return LOWER if text in {LOWER, "越低越好", "lower is better", "低", "越低越好↓"} else HIGHER


def _quotient(num: object, den: object, bad: str) -> Metric:
    vals = _inputs(num, den)
    if isinstance(vals, Metric):
        return vals
    n, d = vals
    if d <= 0:
        return Metric(None, bad)
    return Metric(n / d)


def attainment(actual: object, target: object, direction: object = HIGHER) -> Metric:
    """达成率: actual ÷ target when higher is better, target ÷ actual when lower is better."""
    m = _quotient(actual, target, BAD_TARGET)  # blanks, text and a bad target first, either way
    if m.value is None or normalize_direction(direction) == HIGHER:
        return m
    return _quotient(target, actual, BAD_ACTUAL)


def _minus_one(m: Metric) -> Metric:
    return Metric(m.value - 1, m.reason) if m.value is not None else m


def variance(actual: object, previous: object) -> Metric:
    """环比变化: actual ÷ previous − 1."""
    return _minus_one(_quotient(actual, previous, BAD_PREVIOUS))


def roi(returns: object, cost: object) -> Metric:
    """ROI as output per 1 of input (shown as 1:x): returns ÷ cost."""
    return _quotient(returns, cost, BAD_COST)


def net_roi(returns: object, cost: object) -> Metric:
    """净ROI: (returns − cost) ÷ cost."""
    return _minus_one(roi(returns, cost))


def budget_rate(spent: object, budget: object) -> Metric:
    """预算执行率: actual spending ÷ budget."""
    return _quotient(spent, budget, BAD_BUDGET)


def overdue(deadline: object, status: object, today: date, done: str = "已完成") -> bool:
    """逾期: a dated deadline before today on an action not yet done."""
    if isinstance(deadline, datetime):
        deadline = deadline.date()
    return isinstance(deadline, date) and deadline < today and str(status or "") != done
