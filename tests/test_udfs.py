"""The worksheet functions RETRO_NUM / RETRO_ATTAIN / RETRO_VAR / RETRO_ROI, called as Python functions."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retroxl.compute import template_context
from retroxl.rules import evaluate
from retroxl.template import load_template

MARKERS = {k: v["zh"] for k, v in load_template().markers.items()}


@pytest.mark.parametrize("text, value", [
    ("120万次", 1_200_000), ("1:3.8", 3.8), ("6.2%", 0.062), ("百分之六点二", 0.062), ("超过5000名", 5000),
    ("1.2万人次", 12_000), ("6.3万", 63_000), ("1亿次", 100_000_000), (5000, 5000), ("１２０万", 1_200_000),
])
def test_num_reads_the_reference_forms(udfs, text, value):
    assert udfs.RETRO_NUM(text) == pytest.approx(value, rel=1e-12)


def test_num_blank_and_not_a_number(udfs):
    assert udfs.RETRO_NUM(None) == ""
    assert udfs.RETRO_NUM("") == ""
    assert udfs.RETRO_NUM("暂无") == ""
    assert udfs.RETRO_NUM("下次活动前") == MARKERS["not_number"]
    assert udfs.RETRO_NUM(datetime(2024, 6, 1)) == MARKERS["not_number"]
    assert udfs.RETRO_NUM(True) == MARKERS["not_number"]


def test_num_takes_one_part_of_a_packed_cell(udfs):
    packed = "100万次/5000件/2000人"
    assert udfs.RETRO_NUM(packed) == MARKERS["not_number"]   # three numbers are not one
    assert [udfs.RETRO_NUM(packed, i) for i in (1, 2, 3)] == [1_000_000, 5000, 2000]
    assert udfs.RETRO_NUM(packed, 4) == ""
    assert udfs.RETRO_NUM(packed, 0) == "序号应为 1、2、3…"
    assert udfs.RETRO_NUM(packed, 1.5) == "序号应为 1、2、3…"


def test_published_figures(udfs):
    # 表1: 120% / 124% / 90%; 表2: 120% / 124% / 127%, 环比 +50%, ROI 1:3.8
    assert udfs.RETRO_ATTAIN("120万次", "100万次") == pytest.approx(1.2)
    assert udfs.RETRO_ATTAIN(6200, "5000件") == pytest.approx(1.24)
    assert udfs.RETRO_ATTAIN("1800人", 2000) == pytest.approx(0.9)
    assert udfs.RETRO_ATTAIN("6.2%", "5%") == pytest.approx(1.24)
    assert round(udfs.RETRO_ATTAIN("1:3.8", "1:3"), 2) == 1.27
    assert udfs.RETRO_VAR("120万", "80万") == pytest.approx(0.5)
    assert udfs.RETRO_ROI(3_800_000, "100万") == pytest.approx(3.8)


def test_lower_is_better_and_markers(udfs):
    assert udfs.RETRO_ATTAIN(4, 5, "越低越好") == pytest.approx(1.25)
    assert udfs.RETRO_ATTAIN(4, 5, "Lower is better") == pytest.approx(1.25)
    assert udfs.RETRO_ATTAIN(0, 5, "越低越好") == MARKERS["bad_actual"]
    assert udfs.RETRO_ATTAIN(5, 0) == MARKERS["bad_target"]
    assert udfs.RETRO_ATTAIN(5, -1) == MARKERS["bad_target"]
    assert udfs.RETRO_ATTAIN("很多", 5) == MARKERS["not_number"]
    assert udfs.RETRO_ATTAIN("", 5) == ""
    assert udfs.RETRO_VAR(5, 0) == MARKERS["bad_previous"]
    assert udfs.RETRO_ROI(5, 0) == MARKERS["bad_cost"]
    assert udfs.RETRO_ROI(None, 5) == ""


def test_a_range_of_one_cell_counts_a_larger_one_does_not(udfs):
    assert udfs.RETRO_ATTAIN([[6200.0]], [5000.0]) == pytest.approx(1.24)
    assert udfs.RETRO_ATTAIN([1, 2], 5) == "请只选一个单元格"


# Realistic magnitudes: the Python twin gives inf where Excel shows #NUM! (x / 1e-308).
_FIGURE = st.one_of(st.none(), st.just(""), st.just(0.0),
                    st.floats(-1e6, 1e6).filter(lambda x: abs(x) >= 1e-9))


@given(actual=_FIGURE, target=_FIGURE,
       lower=st.booleans())
@settings(max_examples=300, deadline=None)
def test_functions_agree_with_the_workbook_formulas(udfs, actual, target, lower):
    """What RETRO_ATTAIN/VAR/ROI show is what the native formulas show for the same numbers."""
    tpl = load_template()
    ctx = template_context(tpl, "zh", date(2024, 6, 18))
    direction = tpl.lists["direction"]["zh"][1 if lower else 0]
    a = "" if actual is None else actual
    t = "" if target is None else target
    pairs = [
        (udfs.RETRO_ATTAIN(actual, target, direction), evaluate(ctx, "attainment", {"actual": a, "target": t,
                                                                                     "direction": direction})),
        (udfs.RETRO_VAR(actual, target), evaluate(ctx, "variance", {"actual": a, "previous": t})),
        (udfs.RETRO_ROI(actual, target), evaluate(ctx, "roi", {"returns": a, "cost": t})),
    ]
    for got, want in pairs:
        if isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-12)
        else:
            assert got == want


class _Hostile:
    def __str__(self):
        raise RuntimeError("boom")


_HOSTILE = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=300),
    st.datetimes(), st.dates(), st.just(_Hostile()), st.just(10 ** 400), st.just("1" * 5000 + "万"),
    st.lists(st.one_of(st.floats(), st.text(max_size=5)), max_size=3),
    st.lists(st.lists(st.text(max_size=5), max_size=2), max_size=2),
)


@given(x=_HOSTILE, y=_HOSTILE, z=_HOSTILE)
@settings(max_examples=500, deadline=None)
def test_hostile_inputs_give_a_readable_cell(udfs, x, y, z):
    for result in (udfs.RETRO_NUM(x), udfs.RETRO_NUM(x, y), udfs.RETRO_ATTAIN(x, y, z), udfs.RETRO_VAR(x, y),
                   udfs.RETRO_ROI(x, y)):
        if isinstance(result, float):
            assert math.isfinite(result)
        else:
            assert isinstance(result, str)
            assert "Traceback" not in result and "\n" not in result and len(result) <= 40


def test_an_unexpected_failure_is_one_short_text(udfs, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("deep inside")

    monkeypatch.setattr(udfs.metrics, "roi", broken)
    assert udfs.RETRO_ROI(1, 2) == "retroxl 出错：ZeroDivisionError"


def test_the_button_says_in_one_line_why_it_cannot_run(udfs, xw):
    from test_live import _payload

    book = xw.Book(json=_payload({"Sheet1": [["随便什么"]]}))
    message = udfs.recalculate(book)
    assert message.startswith("retroxl：no retrospective sheets") and "\n" not in message
    assert book.json()["actions"] == []
