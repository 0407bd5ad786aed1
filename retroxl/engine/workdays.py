"""Chinese working days, for the six-step retrospective deadlines (复盘流程时限).

Deadlines such as "活动结束后1-2个工作日内" count working days, not calendar
days. Statutory holidays and 调休 make-up working days come from the
`chinese_calendar` package (PyPI: chinesecalendar) for the years it covers;
outside those years, or where the package is absent (e.g. under Pyodide), only
weekends are skipped, and `calendar_note` says so, so the workbook can show it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import date, timedelta

try:
    import chinese_calendar as _cc
except ImportError:  # weekends-only fallback, e.g. under Pyodide
    _cc = None

_DAY = timedelta(days=1)
HOLIDAY_DATA = "法定节假日数据"   # in every note below: how recalc knows a note is one of ours


@dataclass(frozen=True, slots=True)
class Calendar:
    """Which calendar a computation used, so the workbook can show a note."""

    holidays_known: bool  # False when some counted day lies outside the holiday data
    note: str  # Chinese note for the workbook, "" when holidays_known


def _data_years() -> tuple[int, int]:
    if _cc is None:
        return (0, -1)
    # Mirror the package's own range check (it validates against its holidays
    # dict) instead of hard-coding years: the data grows with every release.
    years = [d.year for d in _cc.holidays]
    return (min(years), max(years))


_YEARS = _data_years()  # computed once: is_workday runs in loops


def covered_years() -> tuple[int, int]:
    """(first, last) year of the holiday data, or (0, -1) without the package."""
    return _YEARS


def _covered(d: date) -> bool:
    return _YEARS[0] <= d.year <= _YEARS[1]


@lru_cache(maxsize=8192)  # chinese_calendar rescans its whole holiday table on every call
def is_workday(d: date) -> bool:
    """Whether d is a working day in mainland China (Mon–Fri beyond the data)."""
    if _covered(d):
        try:
            return bool(_cc.is_workday(d))
        except NotImplementedError:
            # Should not happen given _YEARS, but a package release that
            # changes its range check must not break deadline computation.
            pass
    return d.weekday() < 5


def add_workdays(start: date, n: int) -> date:
    """The n-th working day after start (start not counted); n < 0 goes back."""
    step = _DAY if n >= 0 else -_DAY
    d = start
    for _ in range(abs(n)):
        d += step
        while not is_workday(d):
            d += step
    return d


def workdays_between(a: date, b: date) -> int:
    """Working days after a up to and including b; negative when b < a.

    The inverse of add_workdays: add_workdays(a, workdays_between(a, b)) == b
    whenever b is a working day.
    """
    if b < a:
        return -workdays_between(b, a)
    count = 0
    d = a + _DAY
    while d <= b:
        count += is_workday(d)
        d += _DAY
    return count


def calendar_note(*days: date) -> Calendar:
    """Whether all given days are covered by the holiday data, with a note if not."""
    if _cc is None:
        return Calendar(False, f"未安装{HOLIDAY_DATA}（chinesecalendar），仅跳过周末")
    first, last = _YEARS
    gaps = []
    if any(d.year < first for d in days):
        gaps.append(f"{first}年以前")
    if any(d.year > last for d in days):
        gaps.append(f"{last + 1}年起")
    if not gaps:
        return Calendar(True, "")
    return Calendar(False, f"{'及'.join(gaps)}的{HOLIDAY_DATA}未收录，仅跳过周末")
