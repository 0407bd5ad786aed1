"""retroxl.engine.numbers: golden forms from the reference documents, each rule, and properties."""

from __future__ import annotations

import math
from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retroxl.engine.numbers import KINDS, Quantity, parse_quantities, parse_quantity, to_number


def check(text: object, value: float | None, kind: str, unit: str = "", qualifier: str = "") -> None:
    q = parse_quantity(text)
    assert (q.value, q.kind, q.unit, q.qualifier) == (pytest.approx(value) if value is not None else None, kind, unit, qualifier), q
    assert q.reason == ""


# ---- golden data: "Number forms seen in these documents" and tables 1-2 ------------
@pytest.mark.parametrize(
    ("text", "value", "kind", "unit", "qualifier"),
    [
        ("100万", 1e6, "number", "", ""),
        ("120万", 1.2e6, "number", "", ""),
        ("120万次", 1.2e6, "count", "次", ""),
        ("1.2万人次", 12000, "count", "人次", ""),
        ("6.3万", 63000, "number", "", ""),
        ("5000件", 5000, "count", "件", ""),
        ("2000人", 2000, "count", "人", ""),
        ("5%", 0.05, "percent", "", ""),
        ("6.2%", 0.062, "percent", "", ""),
        ("1:3", 3, "ratio", "", ""),
        ("1:3.8", 3.8, "ratio", "", ""),
        ("+50%", 0.5, "percent", "", ""),
        ("超过5000名", 5000, "count", "名", "超过"),
        ("不足60%", 0.6, "percent", "", "不足"),
        ("超40%", 0.4, "percent", "", "超过"),
        ("约25%", 0.25, "percent", "", "约"),
        ("1亿次", 1e8, "count", "次", ""),
        ("2.3次/人", 2.3, "count", "次/人", ""),
        ("120%", 1.2, "percent", "", ""),
        ("124%", 1.24, "percent", "", ""),
        ("127%", 1.27, "percent", "", ""),
        ("+30%", 0.3, "percent", "", ""),
        ("100万件", 1e6, "count", "件", ""),
        ("5万", 5e4, "number", "", ""),
        ("5000万次", 5e7, "count", "次", ""),
        ("800万次", 8e6, "count", "次", ""),
    ],
)
def test_reference_forms(text: str, value: float, kind: str, unit: str, qualifier: str) -> None:
    check(text, value, kind, unit, qualifier)


def test_percent_is_the_double_excel_stores() -> None:
    # Excel stores "6.2%" as 0.062 exactly, not 6.2 * 0.01 = 0.062000000000000006.
    assert parse_quantity("6.2%").value == 0.062
    assert parse_quantity("百分之六点二").value == 0.062


def test_packed_reference_cells() -> None:
    goals = parse_quantities("100万次/5000件/2000人")
    assert [(q.value, q.unit, q.kind) for q in goals] == [(1e6, "次", "count"), (5000, "件", "count"), (2000, "人", "count")]
    assert [q.value for q in parse_quantities("120%/124%/90%")] == [1.2, 1.24, 0.9]
    assert [q.value for q in parse_quantities("120万次/6200件/1800人")] == [1.2e6, 6200, 1800]


# ---- the rules -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("百分之六点二", 0.062, "percent"),
        ("百分之二十", 0.2, "percent"),
        ("3个百分点", 0.03, "percent"),
        ("5‰", 0.005, "permille"),
        ("千分之五", 0.005, "permille"),
        ("-3%", -0.03, "percent"),
        ("2:5", 2.5, "ratio"),
        ("１：３．８", 3.8, "ratio"),
        ("1:0", 0.0, "ratio"),
        ("1比3.8", 3.8, "ratio"),
        ("3.8倍", 3.8, "multiple"),
        ("三点八倍", 3.8, "multiple"),
        ("10k", 10000, "number"),
        ("5w", 50000, "number"),
        ("5W", 50000, "number"),
        ("1.2万", 12000, "number"),
        ("100万", 1e6, "number"),
        ("5千万", 5e7, "number"),
        ("1万亿", 1e12, "number"),
        ("5000", 5000, "number"),
        ("1,200,000", 1.2e6, "number"),
        ("-3.5", -3.5, "number"),
        ("+12", 12, "number"),
        ("1.2e3", 1200, "number"),
        (".5", 0.5, "number"),
        ("１２０万", 1.2e6, "number"),
        ("６．２％", 0.062, "percent"),
        ("  5000 ", 5000, "number"),
        ("一百二十万", 1.2e6, "number"),
        ("两千", 2000, "number"),
        ("十二", 12, "number"),
        ("十", 10, "number"),
        ("三千五百", 3500, "number"),
        ("一万二", 12000, "number"),
        ("三百五", 350, "number"),
        ("一万零二", 10002, "number"),
        ("一亿五千万", 1.5e8, "number"),
        ("零点五", 0.5, "number"),
        ("六点二", 6.2, "number"),
        ("一点二万", 12000, "number"),
        ("〇", 0, "number"),
        ("零", 0, "number"),
        ("二〇二四", 2024, "number"),
        ("壹佰贰拾", 120, "number"),
        ("负五", -5, "number"),
    ],
)
def test_values(text: str, value: float, kind: str) -> None:
    q = parse_quantity(text)
    assert q.value == pytest.approx(value) and q.kind == kind, q


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("¥1,200", 1200, "元"),
        ("1200元", 1200, "元"),
        ("50万元", 5e5, "元"),
        ("￥3.5万", 35000, "元"),
        ("¥ 3.5 万", 35000, "元"),
        ("¥50元", 50, "元"),
        ("¥-50", -50, "元"),
        ("50块", 50, "元"),
        ("88元/人", 88, "元/人"),
    ],
)
def test_money(text: str, value: float, unit: str) -> None:
    check(text, value, "money", unit)


@pytest.mark.parametrize("unit", ["次", "件", "人", "人次", "名", "个", "单", "户", "家", "场", "条", "篇", "位", "台", "套", "份", "笔", "天", "小时"])
def test_counting_units(unit: str) -> None:
    check(f"12{unit}", 12, "count", unit)


def test_units_after_magnitude_and_rates() -> None:
    check("120万次", 1.2e6, "count", "次")
    check("1.5万人次/天", 15000, "count", "人次/天")
    check("两人", 2, "count", "人")
    check("5kg", 5, "number", "kg")  # k before a letter is a unit, not 千


@pytest.mark.parametrize(
    ("text", "value", "qualifier"),
    [
        ("约5000", 5000, "约"),
        ("大约5000", 5000, "约"),
        ("大概5000", 5000, "约"),
        ("近5000", 5000, "约"),
        ("将近5000", 5000, "约"),
        ("5000左右", 5000, "约"),
        ("5000人左右", 5000, "约"),
        ("超过5000", 5000, "超过"),
        ("超5000", 5000, "超过"),
        ("逾5000", 5000, "超过"),
        ("高于5000", 5000, "超过"),
        ("多于5000", 5000, "超过"),
        ("5000以上", 5000, "超过"),
        ("5000+", 5000, "超过"),
        ("5000+人", 5000, "超过"),
        ("1万余人", 10000, "超过"),
        ("突破1亿次", 1e8, "超过"),
        ("不足5000", 5000, "不足"),
        ("低于5000", 5000, "不足"),
        ("少于5000", 5000, "不足"),
        ("不到5000", 5000, "不足"),
        ("5000以下", 5000, "不足"),
        ("至少5000", 5000, "至少"),
        ("不少于5000", 5000, "至少"),
        ("最多5000", 5000, "至多"),
        ("至多5000", 5000, "至多"),
        ("不超过5000", 5000, "至多"),
        ("约1:3", 3, "约"),
        ("约¥3.5万", 35000, "约"),
    ],
)
def test_qualifiers(text: str, value: float, qualifier: str) -> None:
    q = parse_quantity(text)
    assert (q.value, q.qualifier) == (pytest.approx(value), qualifier), q


@pytest.mark.parametrize(
    "value", [None, "", "   ", "空", "-", "—", "--", "——", "N/A", "n/a", "NA", "暂无", "无", "无数据", "/", "待定", float("nan")]
)
def test_missing(value: object) -> None:
    q = parse_quantity(value)
    assert (q.value, q.kind, q.reason, q.missing, q.ok) == (None, "missing", "未填写", True, False)
    assert parse_quantities(value) == [q]


@pytest.mark.parametrize("error", ["#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!"])
def test_excel_errors(error: str) -> None:
    q = parse_quantity(error)
    assert (q.value, q.kind, q.reason) == (None, "invalid", f"单元格是错误值 {error}")
    assert parse_quantities(error) == [q]


def test_non_string_inputs() -> None:
    assert parse_quantity(5) == Quantity("5", 5.0)
    assert parse_quantity(2.5) == Quantity("2.5", 2.5)
    assert parse_quantity(Decimal("1.5")).value == 1.5
    for value, reason in [
        (True, "布尔值不是数值"),
        (date(2024, 6, 1), "这是日期，不是数值"),
        (datetime(2024, 6, 1, 8), "这是日期，不是数值"),
        (float("inf"), "数值超出范围"),
        (10**400, "数值超出范围"),
        ([1], "不支持的数据类型：list"),
    ]:
        q = parse_quantity(value)
        assert (q.value, q.kind, q.reason) == (None, "invalid", reason), q
    assert parse_quantity(date(2024, 6, 1)).text == "2024-06-01"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0:3", "比例的投入为0，无法换算"),
        ("2024-06-01", "这是日期，不是数值"),
        ("2024年6月1日", "这是日期，不是数值"),
        ("abc", "无法识别为数值：abc"),
        ("约", "无法识别为数值：约"),
        ("一些", "无法识别为数值：一些"),  # Chinese numerals only with known units
        ("万", "无法识别为数值：万"),
        ("百分比", "无法识别为数值：百分比"),
        ("85%用户满意", "无法识别为数值：85%用户满意"),
        ("¥5次", "无法识别为数值：¥5次"),
        ("1e999999", "数值超出范围"),
    ],
)
def test_invalid(text: str, reason: str) -> None:
    q = parse_quantity(text)
    assert (q.value, q.kind, q.reason, q.ok) == (None, "invalid", reason, False), q


def test_long_text_is_truncated_in_reason() -> None:
    text = "短视频渠道爆款内容带动，自然流量占比60%，限时折扣叠加赠品"
    assert parse_quantity(text).reason == f"无法识别为数值：{text[:20]}…"


def test_text_is_kept_verbatim() -> None:
    assert parse_quantity(" １２０万 ").text == " １２０万 "


def test_packing_rules() -> None:
    assert len(parse_quantities("2.3次/人")) == 1  # "人" holds no number
    assert parse_quantities("1:3") == [parse_quantity("1:3")]
    assert parse_quantities("2024/6/1") == [parse_quantity("2024/6/1")]
    assert [q.value for q in parse_quantities("1万、2万；3万 | 4万")] == [1e4, 2e4, 3e4, 4e4]
    assert [q.value for q in parse_quantities("１２０％／１２４％")] == [1.2, 1.24]
    assert [q.text for q in parse_quantities("5% / abc")] == ["5% / abc"]  # "abc" holds no number
    assert parse_quantities(5) == [Quantity("5", 5.0)]
    assert parse_quantities("5000件") == [parse_quantity("5000件")]


def test_to_number() -> None:
    assert to_number("120万") == 1.2e6
    assert to_number("-") is None
    assert to_number(3) == 3.0


# ---- properties ------------------------------------------------------------------
def assert_well_formed(q: Quantity) -> None:
    assert isinstance(q, Quantity)
    assert q.kind in KINDS
    assert q.value is None or math.isfinite(q.value)
    assert (q.value is None) == bool(q.reason)


@settings(max_examples=3000)
@given(st.text())
def test_any_text_never_raises(text: str) -> None:
    assert_well_formed(parse_quantity(text))
    for q in parse_quantities(text):
        assert_well_formed(q)


_cell_chars = st.sampled_from(list("0123456789.,:%‰+-¥万亿千百十kw一二两三五零点次人/、 约超不足以上倍元"))


@settings(max_examples=3000)
@given(st.text(_cell_chars, max_size=12))
def test_cell_like_text_never_raises(text: str) -> None:
    assert_well_formed(parse_quantity(text))
    for q in parse_quantities(text):
        assert_well_formed(q)


@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.decimals(), st.dates(),
                 st.datetimes(), st.complex_numbers(), st.binary(), st.lists(st.integers())))
def test_any_object_never_raises(value: object) -> None:
    assert_well_formed(parse_quantity(value))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_round_trips(x: float) -> None:
    for text in (str(x), repr(x), f"{x:.17g}"):
        assert parse_quantity(text).value == pytest.approx(x, rel=1e-9, abs=0)


@given(st.integers(min_value=-(10**30), max_value=10**30))
def test_thousands_separated_ints_round_trip(n: int) -> None:
    value = parse_quantity(f"{n:,}").value
    assert value == pytest.approx(n, rel=1e-9, abs=0)
    if abs(n) < 2**53:
        assert value == n
