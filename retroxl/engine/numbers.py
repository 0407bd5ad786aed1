"""Read the numbers people type into retrospective cells: "120万次", "6.2%", "1:3.8".

``Quantity.value`` is what Excel stores for the same thing (a percent is the
fraction, a ratio input:output is output per 1 of input), so Python results and
the workbook's formulas agree. Parsing never raises: a cell that is blank or not
a number gives ``value=None`` with a short Chinese ``reason``.
"""

from __future__ import annotations

import math
import re
import unicodedata
from functools import lru_cache
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal
from numbers import Real

KINDS = ("number", "count", "percent", "permille", "ratio", "multiple", "money", "missing", "invalid")


@dataclass(frozen=True, slots=True)
class Quantity:
    """One parsed cell value, with the unit, kind and qualifier it was written with."""

    text: str
    value: float | None
    unit: str = ""
    kind: str = "number"
    qualifier: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.value is not None

    @property
    def missing(self) -> bool:
        return self.kind == "missing"


MISSING_REASON = "未填写"
DATE_REASON = "这是日期，不是数值"

# Decimal arithmetic, so "6.2%" becomes the same double Excel stores (0.062, not
# 6.2 * 0.01); no traps, so absurd exponents give Infinity or NaN instead of raising.
_CTX = Context(prec=40, traps=[])

_MISSING = frozenset(
    {"", "空", "-", "--", "—", "——", "–", "―", "/", "n/a", "na", "暂无", "无", "无数据",
     "暂无数据", "待定", "null", "none", "nan"}
)
EXCEL_ERRORS = frozenset(
    {"#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
     "#GETTING_DATA"}
)

# Normalised qualifier for each wording; prefixes are tried longest first so that
# 超过 wins over 超 and 不超过 is not read as something else.
_PREFIX_QUALIFIERS = sorted(
    {
        "约": "约", "大约": "约", "大概": "约", "近": "约", "将近": "约",
        "超过": "超过", "超": "超过", "逾": "超过", "高于": "超过", "多于": "超过", "突破": "超过",
        "不足": "不足", "低于": "不足", "少于": "不足", "不到": "不足",
        "至少": "至少", "不少于": "至少", "不低于": "至少",
        "最多": "至多", "至多": "至多", "不超过": "至多", "不高于": "至多",
    }.items(),
    key=lambda item: -len(item[0]),
)
_SUFFIX_QUALIFIERS = (("左右", "约"), ("以上", "超过"), ("以下", "不足"), ("以内", "至多"), ("+", "超过"))
_AFTER_NUMBER_QUALIFIERS = {"+": "超过", "余": "超过", "多": "超过"}  # "5000+人", "1万余人"

_COUNT_UNITS = frozenset(
    "次 件 人 人次 名 个 单 户 家 场 条 篇 位 台 套 份 笔 张 本 辆 盒 瓶 箱 袋 支 只 款 项 期 轮 "
    "天 日 周 小时 分钟 秒 个月".split()
)
_MONEY_UNITS = frozenset({"元", "块", "块钱", "人民币"})
_PERCENT_UNITS = frozenset({"%", "百分点", "个百分点"})
_PERCENT_PREFIXES = (("百分之", "percent", -2), ("千分之", "permille", -3))

# Powers of ten for magnitude words; "十" is only a numeral, never a suffix on digits.
_MAGNITUDE = {"百": 2, "千": 3, "万": 4, "萬": 4, "亿": 8, "億": 8, "k": 3, "K": 3, "w": 4, "W": 4}

_CN_DIGITS = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "貳": 2, "两": 2, "兩": 2, "三": 3, "叁": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "陸": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
_CN_SMALL = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_CN_BIG = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_CN_CHARS = "".join([*_CN_DIGITS, *_CN_SMALL, *_CN_BIG])
_CN_FRACTION_CHARS = "".join(ch for ch, d in _CN_DIGITS.items() if ch not in "两兩")

_DIGITS = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+"
_DIGIT_NUMBER_RE = re.compile(
    rf"(?P<num>(?:{_DIGITS})(?:[eE][+-]?\d+)?)(?P<mag>[百千万亿萬億]+|[kKwW](?![A-Za-z]))?"
)
_CN_NUMBER_RE = re.compile(
    rf"(?P<int>[{_CN_CHARS}]+)(?:点(?P<frac>[{_CN_FRACTION_CHARS}]+)(?P<mag>[百千万亿萬億]*))?"
)
_RATIO_RE = re.compile(rf"(?P<a>{_DIGITS})[:比](?P<b>{_DIGITS})")
_DATE_RE = re.compile(
    r"\d{4}(?:([-/.])\d{1,2}\1\d{1,2}|年\d{1,2}月(?:\d{1,2}[日号])?)(?:T?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
_SPACES_RE = re.compile(r"\s+")
_PACK_SEPARATORS_RE = re.compile(r"[/／、;；|｜]")
_HAS_NUMBER_RE = re.compile(rf"[0-9{_CN_CHARS}]")


def parse_quantity(value: object) -> Quantity:
    """Parse one cell value (text, number, None...) into a :class:`Quantity`; never raises."""
    if isinstance(value, str):
        return _parse_text(value)
    if value is None:
        return _missing("")
    text = _safe_str(value)
    if isinstance(value, bool):
        return _invalid(text, "布尔值不是数值")
    if isinstance(value, date):  # datetime included
        return _invalid(text, DATE_REASON)
    if isinstance(value, (Real, Decimal)):
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range
            return _invalid(text, "数值超出范围")
        except (ArithmeticError, TypeError, ValueError):  # e.g. Decimal("sNaN")
            return _invalid(text, _unreadable(text))
        if math.isnan(number):  # pandas' blank cell
            return _missing(text)
        if math.isinf(number):
            return _invalid(text, "数值超出范围")
        return Quantity(text, number)
    return _invalid(text, f"不支持的数据类型：{type(value).__name__}")


def parse_quantities(value: object) -> list[Quantity]:
    """Parse a cell that may pack several goals, e.g. "100万次/5000件/2000人".

    Split only when the cell is not one quantity by itself and every part holds a
    number, so "2.3次/人", "1:3" and dates stay whole.
    """
    whole = parse_quantity(value)
    if whole.ok or whole.missing or whole.reason == DATE_REASON or not isinstance(value, str):
        return [whole]
    parts = _PACK_SEPARATORS_RE.split(value)
    if len(parts) > 1 and all(_HAS_NUMBER_RE.search(unicodedata.normalize("NFKC", p)) for p in parts):
        return [parse_quantity(p.strip()) for p in parts]
    return [whole]


def to_number(value: object) -> float | None:
    """The numeric value of a cell, or None when it is blank or not a number."""
    return parse_quantity(value).value


@lru_cache(maxsize=4096)  # the same targets (100万, 5%) recur row after row and book after book
def _parse_text(text: str) -> Quantity:
    s = unicodedata.normalize("NFKC", text).replace("−", "-").strip()
    if s.lower() in _MISSING:
        return _missing(text)
    if s.upper() in EXCEL_ERRORS:
        return _invalid(text, f"单元格是错误值 {s.upper()}")
    s = _SPACES_RE.sub("", s)
    if _DATE_RE.fullmatch(s):
        return _invalid(text, DATE_REASON)

    body, qualifier = _strip_qualifiers(s)
    if ratio := _RATIO_RE.fullmatch(body):
        return _ratio(text, ratio, qualifier)

    negative = body[:1] in ("-", "负")
    body = body[1:] if body[:1] in ("+", "-", "负") else body
    money = body.startswith("¥")
    body = body.removeprefix("¥")
    if money and not negative and body[:1] in ("+", "-"):  # "¥-50"
        negative, body = body[0] == "-", body[1:]

    prefix_kind, exponent = "", 0
    for prefix, kind, power in _PERCENT_PREFIXES:  # 百分之六点二
        if body.startswith(prefix):
            prefix_kind, exponent, body = kind, power, body[len(prefix):]
            break

    number = _take_number(body)
    if number is None:
        return _invalid(text, _unreadable(text))
    amount, magnitude, rest, chinese = number
    if rest[:1] in _AFTER_NUMBER_QUALIFIERS:
        qualifier = qualifier or _AFTER_NUMBER_QUALIFIERS[rest[0]]
        rest = rest[1:]

    shape = _classify(rest, money=money, chinese=chinese, prefix_kind=prefix_kind)
    if shape is None:
        return _invalid(text, _unreadable(text))
    kind, unit, power = shape
    result = float(amount.scaleb(magnitude + exponent + power, _CTX))
    if not math.isfinite(result):
        return _invalid(text, "数值超出范围")
    return Quantity(text, -result if negative else result, unit, kind, qualifier)


def _strip_qualifiers(s: str) -> tuple[str, str]:
    """Remove qualifier words (约, 超过, ...以上); the prefix wins if both are present."""
    suffix_qualifier = ""
    for word, qualifier in _SUFFIX_QUALIFIERS:
        if s.endswith(word) and len(s) > len(word):
            s, suffix_qualifier = s[: -len(word)], qualifier
            break
    for word, qualifier in _PREFIX_QUALIFIERS:
        if s.startswith(word):
            return s[len(word):], qualifier
    return s, suffix_qualifier


def _ratio(text: str, match: re.Match[str], qualifier: str) -> Quantity:
    """ "input:output" → output per 1 of input, as the ROI column writes 1:3.8."""
    a = _CTX.create_decimal(match["a"].replace(",", ""))
    b = _CTX.create_decimal(match["b"].replace(",", ""))
    if a == 0:
        return _invalid(text, "比例的投入为0，无法换算")
    result = float(_CTX.divide(b, a))
    if not math.isfinite(result):
        return _invalid(text, "数值超出范围")
    return Quantity(text, result, kind="ratio", qualifier=qualifier)


def _take_number(body: str) -> tuple[Decimal, int, str, bool] | None:
    """The leading number as (amount, power of ten from 万/k..., rest of text, written in Chinese)."""
    if match := _DIGIT_NUMBER_RE.match(body):
        amount = _CTX.create_decimal(match["num"].replace(",", ""))
        power = sum(_MAGNITUDE[ch] for ch in match["mag"] or "")
        return amount, power, body[match.end():], False
    if match := _CN_NUMBER_RE.match(body):
        integer = _chinese_integer(match["int"])
        if integer is None:
            return None
        fraction = "".join(str(_CN_DIGITS[ch]) for ch in match["frac"] or "")
        amount = _CTX.add(integer, _CTX.create_decimal(f"0.{fraction}" if fraction else 0))
        power = sum(_MAGNITUDE[ch] for ch in match["mag"] or "")
        return amount, power, body[match.end():], True
    return None


def _chinese_integer(s: str) -> Decimal | None:
    """一百二十万 → 1200000, 一万二 → 12000 (colloquial), 二〇二四 → 2024; None if malformed."""
    if not any(ch in _CN_SMALL or ch in _CN_BIG for ch in s):
        return _CTX.create_decimal("".join(str(_CN_DIGITS[ch]) for ch in s))
    total = section = 0
    digit: int | None = None
    last_unit = 0
    after_zero = False  # 一万零二 is 10002, not the colloquial 12000
    for ch in s:
        if ch in _CN_DIGITS:
            if digit:  # two digits in a row, as in 一二百
                return None
            digit = _CN_DIGITS[ch]
            after_zero = after_zero or digit == 0
        elif ch in _CN_SMALL:
            unit = _CN_SMALL[ch]
            if digit is None:
                if unit != 10:  # only 十 may stand alone (十二); a bare 百 is not a number
                    return None
                digit = 1
            section += digit * unit
            digit, last_unit, after_zero = None, unit, False
        else:
            unit = _CN_BIG[ch]
            section += digit or 0
            if unit == 10**8:
                if not (total or section):
                    return None
                total = (total + section) * unit
            else:
                if not section:
                    return None
                total += section * unit
            section, digit, last_unit, after_zero = 0, None, unit, False
    if digit:
        section += digit * last_unit // 10 if last_unit and not after_zero else digit
    return _CTX.create_decimal(total + section)


def _classify(rest: str, *, money: bool, chinese: bool, prefix_kind: str) -> tuple[str, str, int] | None:
    """(kind, unit, extra power of ten) for the text after the number, or None if it is not a unit."""
    if prefix_kind:
        return (prefix_kind, "", 0) if not rest and not money else None
    if rest in _PERCENT_UNITS and not money:
        return "percent", "", -2
    if rest == "‰" and not money:
        return "permille", "", -3
    if rest == "倍" and not money:
        return "multiple", "", 0
    if not rest:
        return ("money", "元", 0) if money else ("number", "", 0)
    parts = rest.split("/")
    if len(parts) > 2 or not all(0 < len(part) <= 4 and part.isalpha() for part in parts):
        return None  # a unit is one or two short words ("次", "次/人"), not a sentence
    first, *others = parts
    if first in _MONEY_UNITS:
        return "money", "/".join(["元", *others]), 0
    if money:
        return None
    if all(part in _COUNT_UNITS for part in parts):
        return "count", rest, 0
    # Free-form units only after digits: "一些" or "一线城市" are words, not numbers.
    return None if chinese else ("number", rest, 0)


def _missing(text: str) -> Quantity:
    return Quantity(text, None, kind="missing", reason=MISSING_REASON)


def _invalid(text: str, reason: str) -> Quantity:
    return Quantity(text, None, kind="invalid", reason=reason)


def _unreadable(text: str) -> str:
    short = text.strip()
    return f"无法识别为数值：{short[:20] + '…' if len(short) > 20 else short}"


def _safe_str(value: object) -> str:
    """str(value), falling back to the default repr when a foreign object's __str__ fails."""
    try:
        return str(value)
    except Exception:
        return object.__repr__(value)
