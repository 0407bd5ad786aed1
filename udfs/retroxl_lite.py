"""The xlwings Lite scripts (the buttons in the Lite task pane): 重新计算, 新建复盘表, 生成示例.

``retroxl addin lite`` bundles this module with retroxl into ``main.py``. Each script
works on the open workbook through :class:`retroxl.books.live.LiveBook`, the same
adapter the desktop button uses; a problem is shown as one line, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable

import xlwings as xw
from xlwings import script

from retroxl.books.live import add_standard_sheets, fetch_formulas
from retroxl.errors import RetroxlError
from retroxl.template import LANGS, load_template
from retroxl_udfs import recalculate


def _tell(book: xw.Book, message: str) -> None:
    print(message)
    book.app.alert(message, title="retroxl")


def _added(book: xw.Book, make: Callable[[], list[str]]) -> None:
    try:
        names = make()
    except RetroxlError as e:
        _tell(book, f"retroxl：{e}")
        return
    _tell(book, f"已添加 {len(names)} 张表：{'、'.join(names)}；填写后点“重新计算” / added {len(names)} sheets")


@script(name="重新计算")
async def recalc_button(book: xw.Book) -> None:
    """重新计算达成率、环比、ROI 并校验全部填写内容；问题单元格标色加批注，汇总在“校验”表。"""
    standard = {sheet.name[lang] for sheet in load_template().sheets for lang in LANGS}
    formulas = await fetch_formulas(book, [s.name for s in book.sheets if s.name in standard])
    _tell(book, recalculate(book, formulas))


@script(name="新建复盘表")
def new_sheets_button(book: xw.Book) -> None:
    """在当前工作簿里添加标准复盘表（说明、表1-表4、成本收益、仪表盘）。"""
    _added(book, lambda: add_standard_sheets(book))


@script(name="生成示例")
def example_button(book: xw.Book) -> None:
    """添加填好参考示例（2024夏季新品推广）的复盘表，看看公式如何计算。"""
    from retroxl.demo import demo_retrospective

    _added(book, lambda: add_standard_sheets(book, demo_retrospective()))
