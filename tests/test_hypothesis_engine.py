"""Hostile input for the engine and the validator: no exception may escape.

Cells arrive from files people filled by hand (and from other programs), so the
parsers and the rules get arbitrary Unicode, numbers at the edges of float and
date ranges, and objects of any type. Each property runs thousands of examples
in total (about 7,000); on failure hypothesis prints the smallest input that breaks it.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from retroxl.compute import compute
from retroxl.engine import checks, metrics
from retroxl.engine.numbers import KINDS, Quantity, parse_quantities, parse_quantity, to_number
from retroxl.engine.periods import Period, parse_date, parse_period
from retroxl.layout import make_layout
from retroxl.model import Retrospective
from retroxl.template import load_template

MANY = settings(max_examples=1000, deadline=None)
# Whole retrospectives through compute and check, and deadlines counted in working days, cost more per example.
SOME = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Pieces of the ways numbers, periods and deadlines are written, to build near-misses from.
FRAGMENTS = [
    "0", "1", "5", "9", "12", "100", "1,000", "1,00", ".", "..", "-", "+", "−", "±", "e", "E", "e999", "e-999", "1e308",
    "万", "亿", "萬", "千", "百", "十", "k", "w", "K", "%", "％", "‰", "‱", ":", "：", "比", "/", "／", "、", "|",
    "次", "件", "人", "人次", "元", "¥", "￥", "倍", "约", "超过", "不足", "以上", "左右", "余", "多", "+",
    "百分之", "千分之", "点", "零", "〇", "一", "二", "两", "三", "九", "壹", "贰", "负",
    "年", "月", "日", "号", "至", "到", "~", "〜", "—", "——", "--", "T", " ", "\u3000", "\t", "\n", "\u200b",
    "\u202e", "\ufeff", "#DIV/0!", "#N/A", "NaN", "nan", "inf", "Infinity", "∞", "２０２４", "１２０％",
    "2024", "2024.06.01", "06.15", "9999-12-31", "0001-01-01", "2024-02-30", "个工作日", "工作日内", "天内",
    "周内", "个月内", "本周", "本月底", "下次活动前", "3", "99999999999999999999",
]
HOSTILE_TEXT = st.one_of(
    st.text(),
    st.text(st.characters(codec=None), max_size=40),              # lone surrogates, private use, controls
    st.lists(st.sampled_from(FRAGMENTS), max_size=8).map("".join),
    st.builds(lambda a, b: a + b, st.lists(st.sampled_from(FRAGMENTS), max_size=4).map("".join), st.text(max_size=6)),
    st.text(max_size=3).map(lambda s: s * 5000),                  # long cells
)


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")

    def __float__(self) -> float:
        raise RuntimeError("no float")


class Liar(float):
    """A float subclass whose str lies: parsers must not trust str() of a number."""

    def __str__(self) -> str:
        return "很多"


# What a reader can hand over from a cell: text, numbers at their edges, booleans, dates, blanks.
CELL_VALUE = st.one_of(
    HOSTILE_TEXT, st.none(), st.booleans(), st.integers(), st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308, 10**400]),
    st.dates(), st.datetimes(), st.sampled_from([date.min, date.max, datetime.min, datetime.max]),
)
# What a caller of the parsers might pass: anything at all.
HOSTILE_VALUE = st.one_of(
    HOSTILE_TEXT,
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=10**300, max_value=10**400),
    st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]),
    st.decimals(), st.sampled_from([Decimal("NaN"), Decimal("sNaN"), Decimal("-Infinity"), Decimal("1E+999999")]),
    st.fractions(), st.complex_numbers(),
    st.dates(), st.datetimes(), st.times(), st.timedeltas(),
    st.sampled_from([date.min, date.max, datetime.min, datetime.max, time.max, timedelta.max]),
    st.binary(max_size=20), st.builds(Unprintable), st.floats(allow_nan=False).map(Liar),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def _quantity_is_sound(q: Quantity) -> None:
    assert isinstance(q, Quantity) and isinstance(q.text, str)
    assert q.kind in KINDS
    if q.value is None:
        assert q.reason  # a blank or invalid cell always says why
    else:
        assert isinstance(q.value, float) and math.isfinite(q.value) and not q.reason


# ---- engine.numbers ------------------------------------------------------------------

@MANY
@given(HOSTILE_VALUE)
def test_parse_quantity_never_raises(value):
    q = parse_quantity(value)
    _quantity_is_sound(q)
    assert to_number(value) == q.value


@MANY
@given(HOSTILE_VALUE)
def test_parse_quantities_never_raises(value):
    parts = parse_quantities(value)
    assert parts
    for q in parts:
        _quantity_is_sound(q)


# ---- engine.periods --------------------------------------------------------------------

@MANY
@given(HOSTILE_VALUE, st.one_of(st.none(), st.integers(min_value=1, max_value=9999)))
def test_parse_date_never_raises(value, default_year):
    d = parse_date(value, default_year=default_year)
    assert d is None or type(d) is date


@MANY
@given(HOSTILE_VALUE)
def test_parse_period_never_raises(value):
    p = parse_period(value)
    assert isinstance(p, Period)
    if p.ok:
        assert p.start <= p.end
    else:
        assert p.reason


# ---- engine.metrics ---------------------------------------------------------------------

NUMBERS = st.one_of(CELL_VALUE, st.builds(Unprintable), st.complex_numbers(), st.decimals())


@MANY
@given(NUMBERS, NUMBERS, st.one_of(CELL_VALUE, st.sampled_from(["越低越好", "越高越好", "Lower is better"])))
@example(None, 10**400, None)  # an integer beyond the float range (openpyxl reads <v>1000…</v> as int)
def test_metrics_never_raise(a, b, direction):
    for m in (metrics.attainment(a, b, direction), metrics.variance(a, b), metrics.roi(a, b),
              metrics.net_roi(a, b), metrics.budget_rate(a, b)):
        assert isinstance(m, metrics.Metric)
        assert (m.value is None) == bool(m.reason)
    assert metrics.normalize_direction(direction) in (metrics.HIGHER, metrics.LOWER)


@MANY
@given(CELL_VALUE, CELL_VALUE, st.dates())
@example(datetime(2024, 6, 1, 9, 30), "进行中", date(2024, 7, 1))  # readers give dates as datetimes
def test_overdue_never_raises(deadline, status, today):
    assert metrics.overdue(deadline, status, today) in (True, False)


# ---- engine.checks: the validator's rules on whole retrospectives -------------------------

TEMPLATE = load_template()
LINES = {key: [c.key for c in TEMPLATE.table(key)[1].columns]
         for key in ("goals", "indicators", "actions", "lessons", "costs", "returns")}


@st.composite
def retrospectives(draw) -> Retrospective:
    """Any entries in any columns (computed ones too: old files type 达成率 by hand)."""
    info = draw(st.dictionaries(st.sampled_from(["campaign", "start", "end", "owner", "review_date"]),
                                CELL_VALUE, max_size=5))
    tables = {}
    for key, columns in LINES.items():
        row = st.dictionaries(st.sampled_from(columns), CELL_VALUE, max_size=len(columns))
        tables[key] = draw(st.lists(row, max_size=3))
    return Retrospective(info=info, tables=tables)


@SOME
@given(retrospectives(), st.sampled_from(["zh", "en"]), st.one_of(st.dates(), st.sampled_from([date.min, date.max])))
@example(Retrospective(tables={"returns": [{"amount": 10**400}], "goals": [{"goal": "曝光", "actual": 10**400}]}),
         "zh", date(2024, 7, 1))
@example(Retrospective(info={"review_date": date(9999, 12, 30)},
                       tables={"actions": [{"problem": "超时", "measure": "培训", "owner": "钱", "deadline": "3个工作日内"}]}),
         "zh", date(2024, 7, 1))
def test_check_never_raises(retro, lang, today):
    rows = {key: max(tl.rows, len(retro.rows(key))) for key, tl in make_layout(TEMPLATE, lang).tables.items()}
    layout = make_layout(TEMPLATE, lang, rows)
    values = compute(layout, retro, today)
    for issue in checks.check(TEMPLATE, lang, retro, values, today):
        assert issue.code in checks.CODES and issue.severity == checks.CODES[issue.code][0]
        assert isinstance(issue.message, str) and issue.message


@SOME
@given(HOSTILE_TEXT, st.one_of(st.none(), st.dates(), st.sampled_from([date.min, date.max])))
@example("1天内", date(9999, 12, 31))
def test_resolve_deadline_never_raises(text, base):
    result = checks.resolve_deadline(text, base)
    assert result is None or result == "no_base" or type(result) is date


@MANY
@given(CELL_VALUE)
def test_shown_never_raises(value):
    assert isinstance(checks.shown(value), str)
