import importlib.util
import sys
from datetime import date, timedelta

import pytest

from retroxl.engine import workdays as wd
from retroxl.engine.workdays import (
    Calendar,
    add_workdays,
    calendar_note,
    covered_years,
    is_workday,
    workdays_between,
)

FIRST, LAST = covered_years()
BEYOND = LAST + 1  # first year without holiday data


def _weekday_in(year: int, weekday: int) -> date:
    d = date(year, 3, 2)
    return d + timedelta(days=(weekday - d.weekday()) % 7)


def test_covered_years_come_from_the_package_data():
    import chinese_calendar.constants as cc

    assert (FIRST, LAST) == (min(cc.holidays).year, max(cc.holidays).year)
    assert FIRST <= 2024 < LAST


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 10, 1), False),  # 国庆
        (date(2024, 9, 29), True),  # Sunday, 调休 make-up working day
        (date(2024, 6, 15), False),  # Saturday
        (date(2024, 6, 10), False),  # 端午, a Monday
        (date(2024, 6, 11), True),
    ],
)
def test_is_workday(day, expected):
    assert is_workday(day) is expected


def test_add_workdays_over_a_weekend():
    assert add_workdays(date(2024, 6, 15), 2) == date(2024, 6, 18)


def test_add_workdays_skips_duanwu():
    assert add_workdays(date(2024, 6, 7), 1) == date(2024, 6, 11)
    assert add_workdays(date(2024, 6, 15), -5) == date(2024, 6, 7)


def test_add_workdays_across_guoqing():
    assert add_workdays(date(2024, 9, 30), 1) == date(2024, 10, 8)
    assert add_workdays(date(2024, 10, 8), -1) == date(2024, 9, 30)
    # the six-step deadlines from a campaign ending just before 国庆
    assert add_workdays(date(2024, 9, 27), 1) == date(2024, 9, 29)  # 调休 Sunday
    assert add_workdays(date(2024, 9, 27), 3) == date(2024, 10, 8)


def test_add_workdays_zero_returns_start_even_on_a_holiday():
    assert add_workdays(date(2024, 10, 1), 0) == date(2024, 10, 1)


def test_workdays_between():
    assert workdays_between(date(2024, 9, 30), date(2024, 10, 8)) == 1
    assert workdays_between(date(2024, 10, 8), date(2024, 9, 30)) == -1
    assert workdays_between(date(2024, 6, 15), date(2024, 6, 15)) == 0
    # a whole year: 2024 had 251 working days in mainland China
    assert workdays_between(date(2023, 12, 31), date(2024, 12, 31)) == 251


def test_workdays_between_inverts_add_workdays():
    start = date(2024, 9, 20)
    for n in range(-15, 16):
        assert workdays_between(start, add_workdays(start, n)) == n


def test_beyond_the_data_falls_back_to_monday_to_friday():
    monday, saturday = _weekday_in(BEYOND, 0), _weekday_in(BEYOND, 5)
    assert is_workday(monday) and not is_workday(saturday)
    assert add_workdays(saturday, 1) == saturday + timedelta(days=2)
    # 1 Oct is a holiday in every covered year but only a weekday beyond them
    oct1 = date(BEYOND, 10, 1)
    assert is_workday(oct1) is (oct1.weekday() < 5)
    assert is_workday(date(FIRST - 1, 1, 5)) is (date(FIRST - 1, 1, 5).weekday() < 5)


def test_crossing_the_end_of_the_data():
    last_day = date(LAST, 12, 31)
    first_beyond = date(BEYOND, 1, 1)
    steps = workdays_between(last_day, first_beyond + timedelta(days=10))
    assert steps == sum(
        (first_beyond + timedelta(days=i)).weekday() < 5 for i in range(11)
    )


def test_calendar_note():
    assert calendar_note(date(2024, 9, 30), date(2024, 10, 8)) == Calendar(True, "")
    assert calendar_note() == Calendar(True, "")
    beyond = calendar_note(date(LAST, 12, 30), date(BEYOND, 1, 5))
    assert beyond == Calendar(False, f"{BEYOND}年起的法定节假日数据未收录，仅跳过周末")
    before = calendar_note(date(FIRST - 1, 6, 1))
    assert not before.holidays_known and before.note.startswith(f"{FIRST}年以前")


def test_without_the_package(monkeypatch):
    # Load a private copy of the module as if chinese_calendar were absent
    # (as under Pyodide), leaving the imported module untouched.
    monkeypatch.setitem(sys.modules, "chinese_calendar", None)
    spec = importlib.util.spec_from_file_location("_workdays_bare", wd.__file__)
    bare = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bare)  # dataclasses look it up
    spec.loader.exec_module(bare)

    assert bare.covered_years() == (0, -1)
    assert bare.is_workday(date(2024, 10, 1))  # a Tuesday, holiday unknown
    assert not bare.is_workday(date(2024, 9, 29))  # a Sunday, 调休 unknown
    assert bare.add_workdays(date(2024, 9, 30), 1) == date(2024, 10, 1)
    note = bare.calendar_note(date(2024, 10, 1))
    assert not note.holidays_known and "仅跳过周末" in note.note
