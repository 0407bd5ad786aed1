"""The metric rules on the reference's figures and their edge cases."""

import pytest

from retroxl.engine import metrics as m
from retroxl.engine.numbers import parse_quantity


@pytest.mark.parametrize("actual, target, expected", [
    ("120万次", "100万次", 1.2), ("6200件", "5000件", 1.24), ("1800人", "2000人", 0.9),   # 表1
    ("6.2%", "5%", 1.24), ("1:3.8", "1:3", 3.8 / 3),                                       # 表2
])
def test_published_attainment(actual, target, expected):
    got = m.attainment(parse_quantity(actual).value, parse_quantity(target).value)
    assert got.value == pytest.approx(expected)


def test_published_roi_rounds_to_127_percent():
    assert round(m.attainment(3.8, 3).value * 100) == 127


@pytest.mark.parametrize("args, reason", [
    ((5, 0), m.BAD_TARGET), ((5, -1), m.BAD_TARGET), ((None, 3), m.BLANK), ((5, ""), m.BLANK),
    (("abc", 3), m.NOT_NUMBER), ((float("nan"), 3), m.NOT_NUMBER), ((True, 3), m.NOT_NUMBER),
    ((0, 50, "越低越好"), m.BAD_ACTUAL), ((5, 0, "越低越好"), m.BAD_TARGET),
])
def test_attainment_reasons(args, reason):
    got = m.attainment(*args)
    assert got.value is None and got.reason == reason


def test_lower_is_better():
    assert m.attainment(40, 50, "越低越好").value == pytest.approx(1.25)
    assert m.attainment(40, 50, "Lower is better").value == pytest.approx(1.25)
    assert m.attainment(40, 50, "").value == pytest.approx(0.8)


def test_variance_roi_budget():
    assert m.variance(1_200_000, 800_000).value == pytest.approx(0.5)
    assert m.variance(5, 0).reason == m.BAD_PREVIOUS
    assert m.roi(3_800_000, 1_000_000).value == pytest.approx(3.8)
    assert m.net_roi(3_800_000, 1_000_000).value == pytest.approx(2.8)
    assert m.roi(100, 0).reason == m.BAD_COST
    assert m.budget_rate(450, 300).value == pytest.approx(1.5)
    assert m.budget_rate(1, 0).reason == m.BAD_BUDGET
