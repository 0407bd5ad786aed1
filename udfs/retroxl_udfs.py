"""retroxl in Excel: the worksheet functions and the 重新计算 button.

One module serves both hosts:

- classic xlwings (desktop Excel): ``retroxl addin build`` copies this file beside the
  add-in as ``retroxl_addin.py``; the ribbon button runs :func:`main`, and
  ``ImportPythonUDFsToAddin`` registers the ``RETRO_*`` functions (Windows);
- xlwings Lite: ``retroxl addin lite`` bundles it into ``main.py`` with the engine.

Each function is a thin call into ``retroxl.engine``. Whatever it is given (text such
as ``120万次``, a date, a whole range, garbage) it returns a number, ``""`` for a blank
input, or a readable text: the template's marker (非数值, 目标无效, …), the same text the
workbook's own formulas show. Never a Python traceback in a cell.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import xlwings as xw
from xlwings import arg, func

from retroxl.engine import metrics
from retroxl.engine.numbers import parse_quantities, parse_quantity

LANG = "zh"  # the language of the marker texts the functions return
OUT_OF_RANGE = "数值超出范围"


@functools.cache
def _markers() -> dict[str, str]:
    from retroxl.template import load_template

    return {key: text[LANG] for key, text in load_template().markers.items()}


class _CellError(Exception):
    """An argument that cannot be read; its text is what the cell shows."""


def _friendly(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn any failure into one short readable text in the cell."""

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        try:
            return fn(*args)
        except _CellError as e:
            return str(e)
        except Exception as e:  # a cell must never show a traceback
            return f"retroxl 出错：{type(e).__name__}"

    return wrapper


def _scalar(x: object) -> object:
    """The one value of an argument: a one-cell range unpacks, a larger one is refused."""
    while isinstance(x, (list, tuple)):
        if len(x) != 1:
            raise _CellError("请只选一个单元格")
        x = x[0]
    return x


def _number(x: object) -> float | None:
    """None for a blank cell, the parsed number of ``120万次``/``6.2%``/``1:3.8``; else the marker."""
    q = parse_quantity(_scalar(x))
    if q.missing:
        return None
    if not q.ok:
        raise _CellError(_markers()["not_number"])
    return q.value


def _shown(m: metrics.Metric) -> object:
    """What the cell shows for a metric: the value, "" for a blank input, else the template's marker."""
    if m.ok:
        return m.value if math.isfinite(m.value) else OUT_OF_RANGE  # Excel would show #NUM!
    return "" if m.reason == metrics.BLANK else _markers()[m.reason]


@func
@arg("text", doc="单元格或文字，如 120万次、6.2%、1:3.8")
@arg("part", doc="可选：一格写了多个数值（100万次/5000件/2000人）时取第几个，从 1 起")
@_friendly
def RETRO_NUM(text, part=None):
    """数值：把“120万次”“6.2%”“1:3.8”“百分之六点二”等文字读成数值；空白返回空。"""
    value = _scalar(text)
    if part in (None, ""):
        parsed = _number(value)
        return "" if parsed is None else parsed
    index = _scalar(part)
    if isinstance(index, bool) or not isinstance(index, (int, float)) or index != int(index) or index < 1:
        raise _CellError("序号应为 1、2、3…")
    parts = parse_quantities(value)
    if int(index) > len(parts):
        return ""
    q = parts[int(index) - 1]
    if q.missing:
        return ""
    if not q.ok:
        raise _CellError(_markers()["not_number"])
    return q.value


@func
@arg("actual", doc="实际值（数值或“120万次”等文字）")
@arg("target", doc="目标值")
@arg("direction", doc="可选：越高越好（默认）或 越低越好")
@_friendly
def RETRO_ATTAIN(actual, target, direction=None):
    """达成率：实际÷目标（越高越好）或 目标÷实际（越低越好）。"""
    return _shown(metrics.attainment(_number(actual), _number(target), _scalar(direction)))


@func
@arg("actual", doc="本期实际值")
@arg("previous", doc="往期值")
@_friendly
def RETRO_VAR(actual, previous):
    """环比变化：本期÷往期−1。"""
    return _shown(metrics.variance(_number(actual), _number(previous)))


@func
@arg("returns", doc="收益合计")
@arg("cost", doc="投入合计")
@_friendly
def RETRO_ROI(returns, cost):
    """ROI（投入产出比）：收益÷投入，3.8 即 1:3.8。"""
    return _shown(metrics.roi(_number(returns), _number(cost)))


def recalculate(book: xw.Book, formulas: dict | None = None) -> str:
    """Recalculate and validate an open workbook (recalc + validate through the live book).

    Returns the one line to show the person: the counts of findings, or why it could not run.
    """
    from retroxl.books.live import LiveBook
    from retroxl.errors import RetroxlError
    from retroxl.recalc import recalc_book

    try:
        report = recalc_book(LiveBook(book, formulas), name=book.name).report
    except RetroxlError as e:
        return f"retroxl：{e}"
    return (f"重新计算完成：{report.errors} 个错误，{report.count('warning')} 个警告，"
            f"{report.count('info')} 个提示，详见“校验”表 / done: see the checks sheet")


def main() -> None:
    """The 复盘 ribbon button (classic xlwings): recalculate and validate the active workbook."""
    book = xw.Book.caller()
    book.app.alert(recalculate(book), title="retroxl")
