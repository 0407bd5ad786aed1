"""retroxl.engine.periods: dates and campaign periods as the documents write them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retroxl.engine.periods import Period, parse_date, parse_period

JUNE_1 = date(2024, 6, 1)
JUNE_15 = date(2024, 6, 15)


# ---- parse_date ------------------------------------------------------------------
@pytest.mark.parametrize(
    "value",
    [
        "2024-06-01", "2024/6/1", "2024.06.01", "2024年6月1日", "2024年6月1号", "20240601",
        "２０２４－０６－０１", "２０２４年６月１日", " 2024-06-01 ", "2024 年 6 月 1 日",
        "2024-06-01 08:30", "2024-06-01 08:30:15", "2024-06-01T08:30:15",
        JUNE_1, datetime(2024, 6, 1, 23, 59), 45444, 45444.99, 20240601,
    ],
)
def test_parse_date(value: object) -> None:
    assert parse_date(value) == JUNE_1


@pytest.mark.parametrize("value", ["6.15", "06-15", "6月15日", "6/15", "6月15号", "６．１５"])
def test_parse_date_with_default_year(value: str) -> None:
    assert parse_date(value, default_year=2024) == JUNE_15
    assert parse_date(value) is None  # no year, no date


@pytest.mark.parametrize(
    "value",
    ["2024-02-30", "2023-02-29", "2024-13-01", "2024/6-1", "20241301", "2024年6月", "2024", "abc", "",
     None, True, 19999, 80001, 1.5, float("nan"), float("inf"), [2024, 6, 1]],
)
def test_parse_date_rejects(value: object) -> None:
    assert parse_date(value) is None


def test_parse_date_leap_day() -> None:
    assert parse_date("2024-02-29") == date(2024, 2, 29)
    assert parse_date("2.29", default_year=2023) is None


# ---- parse_period ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("2024.06.01-06.15", JUNE_1, JUNE_15),  # 表1, the year left off the end
        ("2023-09-01 至 2023-10-31", date(2023, 9, 1), date(2023, 10, 31)),  # promotion report
        ("2024.06.01-15", JUNE_1, JUNE_15),
        ("2024/6/1~2024/6/15", JUNE_1, JUNE_15),
        ("2024/6/1～2024/6/15", JUNE_1, JUNE_15),
        ("2024年6月1日至6月15日", JUNE_1, JUNE_15),
        ("2024年6月1日-15日", JUNE_1, JUNE_15),
        ("2024-06-01 至 2024-06-15", JUNE_1, JUNE_15),
        ("2024-06-01-2024-06-15", JUNE_1, JUNE_15),
        ("2024-06-01-06-15", JUNE_1, JUNE_15),
        ("2023-09-01到2023-10-31", date(2023, 9, 1), date(2023, 10, 31)),
        ("2024.06.01–06.15", JUNE_1, JUNE_15),
        ("2024.06.01—06.15", JUNE_1, JUNE_15),
        ("2024.06.01——06.15", JUNE_1, JUNE_15),
        ("2024.06.01--06.15", JUNE_1, JUNE_15),
        ("20240601-20240615", JUNE_1, JUNE_15),
        ("2024-06-01 09:00 至 2024-06-15 18:00", JUNE_1, JUNE_15),
        ("２０２４．０６．０１－０６．１５", JUNE_1, JUNE_15),
        ("2024.12.20-01.05", date(2024, 12, 20), date(2025, 1, 5)),  # the end rolls into next year
        ("2024.06.25-05", date(2024, 6, 25), date(2024, 7, 5)),  # the end rolls into next month
        ("2024.12.25-05", date(2024, 12, 25), date(2025, 1, 5)),
        ("2024-06-01", JUNE_1, JUNE_1),  # a single day
    ],
)
def test_parse_period(text: str, start: date, end: date) -> None:
    assert parse_period(text) == Period(text, start, end)
    assert parse_period(text).ok


def test_period_from_date_objects_and_serials() -> None:
    assert parse_period(JUNE_1) == Period("2024-06-01", JUNE_1, JUNE_1)
    assert parse_period(45444) == Period("45444", JUNE_1, JUNE_1)


def test_end_before_start_keeps_both_dates() -> None:
    period = parse_period("2024-06-15 至 2024-06-01")
    assert (period.start, period.end, period.reason, period.ok) == (JUNE_15, JUNE_1, "结束日期早于开始日期", False)


@pytest.mark.parametrize("value", [None, "", "  ", "-", "待定", float("nan")])
def test_blank_period(value: object) -> None:
    period = parse_period(value)
    assert (period.start, period.end, period.reason, period.ok) == (None, None, "未填写", False)


@pytest.mark.parametrize("value", ["下次活动前", "3个工作日内", "2024-02-30", "2024.06.01-31", "2024.06.01-", "06.01-06.15", True])
def test_unreadable_period(value: object) -> None:
    period = parse_period(value)
    assert (period.start, period.end, period.ok) == (None, None, False)
    assert period.reason == f"无法识别为日期或周期：{period.text}"


def test_unreadable_reason_is_truncated() -> None:
    text = "活动周期待与渠道方确认后再补充到本表格中，预计下周"
    assert parse_period(text).reason == f"无法识别为日期或周期：{text[:20]}…"


# ---- properties ------------------------------------------------------------------
@settings(max_examples=2000)
@given(st.text())
def test_any_text_never_raises(text: str) -> None:
    period = parse_period(text)
    assert isinstance(period, Period)
    assert period.ok == (period.start is not None and period.end is not None and not period.reason)
    assert isinstance(parse_date(text, default_year=2024), (date, type(None)))


@settings(max_examples=2000)
@given(st.text(st.sampled_from(list("0123456789.-/~至到年月日号 ")), max_size=24))
def test_date_like_text_never_raises(text: str) -> None:
    period = parse_period(text)
    if period.ok:
        assert period.start <= period.end


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.decimals(), st.dates(),
                 st.datetimes(), st.binary(), st.lists(st.integers())))
def test_any_object_never_raises(value: object) -> None:
    assert isinstance(parse_period(value), Period)
    assert isinstance(parse_date(value), (date, type(None)))


@given(st.dates(min_value=date(1000, 1, 1)))
def test_iso_and_chinese_dates_round_trip(d: date) -> None:
    assert parse_date(d.isoformat()) == d
    assert parse_date(f"{d.year}年{d.month}月{d.day}日") == d
    assert parse_date(d.strftime("%Y%m%d")) == d


@given(st.integers(min_value=20000, max_value=80000))
def test_excel_serials(serial: int) -> None:
    assert parse_date(serial) == date(1899, 12, 30) + timedelta(days=serial)


@given(st.dates(min_value=date(1000, 1, 1), max_value=date(9998, 12, 31)), st.integers(0, 364))
def test_year_less_end_follows_start(start: date, days: int) -> None:
    end = start + timedelta(days=days)
    period = parse_period(f"{start:%Y.%m.%d}-{end:%m.%d}")
    assert (period.start, period.end) == (start, end)
