"""Read campaign dates and periods (活动周期) the way people write them.

"2024.06.01-06.15" leaves the year off the end date (and "2024.06.01-15" the month
too), so the end inherits them from the start, rolling over to the next year or
month when it would otherwise fall before the start. Parsing never raises.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from numbers import Real

from .numbers import parse_quantity

# Excel's day 0; counting from 1899-12-30 absorbs its fictitious 1900-02-29.
_EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL_MIN, _SERIAL_MAX = 20000, 80000  # 1954..2119: plausible campaign dates only

_TIME = r"(?:(?:\s+|T)\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_FULL_DATE_RES = (
    re.compile(rf"(?P<y>\d{{4}})\s*(?P<sep>[-/.])\s*(?P<m>\d{{1,2}})\s*(?P=sep)\s*(?P<d>\d{{1,2}}){_TIME}"),
    re.compile(rf"(?P<y>\d{{4}})\s*年\s*(?P<m>\d{{1,2}})\s*月\s*(?P<d>\d{{1,2}})\s*[日号]?{_TIME}"),
    re.compile(r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})"),
)
_MONTH_DAY_RES = (
    re.compile(r"(?P<m>\d{1,2})\s*[-/.]\s*(?P<d>\d{1,2})"),
    re.compile(r"(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})\s*[日号]?"),
)
_DAY_RE = re.compile(r"(?P<d>\d{1,2})\s*[日号]?")
# "--" and "——" first, so a doubled dash is one separator.
_SEPARATOR_RE = re.compile(r"\s*(?:--|——|[-–—~〜至到])\s*")


@dataclass(frozen=True, slots=True)
class Period:
    """A start and end date, or a Chinese reason why they could not be read."""

    text: str
    start: date | None
    end: date | None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.start is not None and self.end is not None and not self.reason


def parse_date(value: object, *, default_year: int | None = None) -> date | None:
    """A calendar date from a date, an Excel serial number or text; None if there is none.

    ``default_year`` lets year-less text such as "6.15" or "6月15日" be read.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, Real, Decimal)):
        return None
    if not isinstance(value, str):
        return _from_number(value)
    text = unicodedata.normalize("NFKC", value).strip()
    for pattern in _FULL_DATE_RES:
        if match := pattern.fullmatch(text):
            return _make(int(match["y"]), int(match["m"]), int(match["d"]))
    if default_year is not None:
        for pattern in _MONTH_DAY_RES:
            if match := pattern.fullmatch(text):
                return _make(default_year, int(match["m"]), int(match["d"]))
    return None


def parse_period(value: object) -> Period:
    """A campaign period such as "2024.06.01-06.15" or "2023-09-01 至 2023-10-31".

    A single date is a one-day period; an end before the start keeps both dates
    but carries the reason "结束日期早于开始日期".
    """
    quantity = parse_quantity(value)  # shares the blank-cell rules with numbers
    if quantity.missing:
        return Period(quantity.text, None, None, quantity.reason)
    text = quantity.text
    if (single := parse_date(value)) is not None:
        return Period(text, single, single)
    if isinstance(value, str):
        normalised = unicodedata.normalize("NFKC", value).strip()
        # Try every separator: the same "-" may also sit inside the dates themselves.
        for separator in _SEPARATOR_RE.finditer(normalised):
            start = parse_date(normalised[: separator.start()])
            if start is None:
                continue
            end = _end_after(start, normalised[separator.end():])
            if end is None:
                continue
            reason = "结束日期早于开始日期" if end < start else ""
            return Period(text, start, end, reason)
    short = text.strip()
    short = short[:20] + "…" if len(short) > 20 else short
    return Period(text, None, None, f"无法识别为日期或周期：{short}")


def _end_after(start: date, text: str) -> date | None:
    """The end date, taking the year (and month) the text leaves out from ``start``."""
    if (full := parse_date(text)) is not None:
        return full
    for year in (start.year, start.year + 1):  # 2024.12.20-01.05 ends in 2025
        month_day = parse_date(text, default_year=year)
        if month_day is not None and month_day >= start:
            return month_day
    if match := _DAY_RE.fullmatch(text):
        day = int(match["d"])
        same_month = _make(start.year, start.month, day)
        if same_month is None or same_month >= start:
            return same_month
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return _make(year, month, day)  # 2024.06.25-05
    return None


def _from_number(value: Real | Decimal) -> date | None:
    """An Excel serial day number, or a yyyymmdd number such as 20240601."""
    try:
        number = float(value)
    except (ArithmeticError, TypeError, ValueError):
        return None
    if _SERIAL_MIN <= number <= _SERIAL_MAX:
        return _EXCEL_EPOCH + timedelta(days=math.floor(number))  # the fraction is the time of day
    if 10000101 <= number <= 99991231 and number.is_integer():
        return parse_date(str(int(number)))
    return None


def _make(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
