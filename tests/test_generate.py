"""The standard workbook: native formulas checked in a real spreadsheet engine."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest
from workbook_cells import column_values, computed_cells, grid_value, same

from retroxl import demo_retrospective, new_workbook
from retroxl.generate import plan_workbook
from retroxl.libreoffice import recalculated_values
from retroxl.model import Link, Retrospective

TODAY = date.today()


def _layout_values(retro: Retrospective, lang: str = "zh"):
    plan = plan_workbook(retro, lang=lang, today=TODAY)
    return plan.layout, plan.values


def _assert_engine_agrees(path: Path, retro: Retrospective, lang: str = "zh") -> dict:
    """LibreOffice's results equal Python's for every formula cell; returns the grid."""
    layout, values = _layout_values(retro, lang)
    grid = recalculated_values(path)
    expected = computed_cells(layout, values)
    assert len(expected) > 100  # every sheet's formulas are covered
    wrong = {k: (grid_value(grid, *k), v) for k, v in expected.items() if not same(grid_value(grid, *k), v)}
    assert not wrong, f"LibreOffice and Python disagree: {dict(list(wrong.items())[:8])}"
    return grid


def test_demo_published_figures_computed_by_libreoffice(tmp_path, soffice):
    path = new_workbook(tmp_path / "demo.xlsx", demo_retrospective(), today=TODAY)
    grid = _assert_engine_agrees(path, demo_retrospective())
    layout, _ = _layout_values(demo_retrospective())
    goals = column_values(grid, layout, "goals", "attainment", 3)
    indicators = column_values(grid, layout, "indicators", "attainment", 3)
    # The reference: 表1 120% / 124% / 90%; 表2 120% / 124% / 127%.
    assert [round(v * 100) for v in goals] == [120, 124, 90]
    assert [round(v * 100) for v in indicators] == [120, 124, 127]
    # 环比 of the published table: +50% / +30% / +25%.
    assert [round(v * 100) for v in column_values(grid, layout, "indicators", "variance", 3)] == [50, 30, 25]
    roi = layout.fields["roi"]
    assert grid_value(grid, roi.sheet, roi.row, roi.col) == pytest.approx(3.8)


EDGE = Retrospective(
    info={"campaign": "=边界用例", "start": "2024/6/1", "end": "2024年6月15日", "owner": "+李"},
    tables={
        "goals": [
            {"goal": "目标为0", "direction": "越高越好", "target": 0, "actual": 5},
            {"goal": "只有目标", "target": 100},
            {"goal": "越低越好", "direction": "越低越好", "target": 50, "actual": 40},
            {"goal": "越低越好实际为0", "direction": "越低越好", "target": 50, "actual": 0},
            {"goal": "负目标", "target": -10, "actual": 5},
            {"goal": "文字目标", "target": "120万次", "actual": 1_500_000},
            {"goal": "无法识别", "target": "很多", "actual": 3},
            {"goal": "像错误值的文字", "target": "#DIV/0!", "actual": 3},
            {"goal": "商超出范围", "direction": "越高越好", "target": 1e-300, "actual": 1e10},      # #NUM! in Excel
            {"goal": "越低越好商超出范围", "direction": "越低越好", "target": 1e10, "actual": 1e-300},
        ],
        "indicators": [
            {"type": "成本", "indicator": "获客成本", "unit": "元", "direction": "越低越好", "target": 20,
             "actual": 25, "previous": 30, "source": "财务"},
            {"type": "成本", "indicator": "ROI", "unit": "1:x", "target": "1:3", "actual": Link("retro_roi"),
             "previous": 0},
            {"type": "转化", "indicator": "转化率", "unit": "%", "target": "5%", "actual": "6.2%", "previous": "-"},
            {"type": "流量", "indicator": "空行"},
            {"type": "流量", "indicator": "环比超出范围", "target": 100, "actual": 1e10, "previous": 1e-300, "source": "后台"},
        ],
        "actions": [
            {"problem": "过期未完成", "impact": "高", "measure": "补救", "owner": "王", "deadline": date(2024, 1, 1),
             "status": "进行中"},
            {"problem": "过期已完成", "impact": "低", "deadline": date(2024, 1, 1), "status": "已完成"},
            {"problem": "未到期", "impact": "中", "deadline": date(2099, 1, 1), "status": "未开始"},
        ],
        "costs": [
            {"item": "广告投放", "budget": 0, "spent": 500},
            {"item": "物料制作", "budget": 300, "spent": 500},
        ],
        "returns": [{"item": "直接销售额", "amount": 3700}],
    },
)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_edge_cases_agree_with_libreoffice(tmp_path, soffice, lang):
    path = new_workbook(tmp_path / f"edge-{lang}.xlsx", EDGE, lang=lang, today=TODAY)
    grid = _assert_engine_agrees(path, EDGE, lang)
    layout, _ = _layout_values(EDGE, lang)
    tpl = layout.template
    m = {k: tpl.marker(k, lang) for k in tpl.markers}
    got = column_values(grid, layout, "goals", "attainment", 10)
    assert got[0] == m["bad_target"]
    assert got[1] in ("", None)
    assert got[2] == pytest.approx(50 / 40)
    assert got[3] == m["bad_actual"]
    assert got[4] == m["bad_target"]
    assert got[5] == pytest.approx(1.25)      # 120万次 read through the hidden number column
    assert got[6] == m["not_number"]
    assert got[7] == m["not_number"]
    assert got[8] == got[9] == m["not_number"]  # a quotient beyond a double's range: #NUM!, caught
    ind = column_values(grid, layout, "indicators", "attainment", 3)
    assert ind[0] == pytest.approx(20 / 25)
    assert ind[1] == pytest.approx(3.7 / 3)  # ROI 3700 / 1000 from 成本收益, against the text target 1:3
    assert column_values(grid, layout, "indicators", "variance", 5)[1::3] == [m["bad_previous"], m["not_number"]]
    assert column_values(grid, layout, "actions", "overdue", 3) == [m["overdue"], None, None]
    assert column_values(grid, layout, "costs", "budget_rate", 2)[0] == m["bad_budget"]


def test_cached_values_are_the_computed_ones(tmp_path):
    """Readers that never calculate (pandas, previews) see the real results, not XlsxWriter's 0."""
    path = new_workbook(tmp_path / "demo.xlsx", demo_retrospective(), today=TODAY)
    layout, values = _layout_values(demo_retrospective())
    wb = openpyxl.load_workbook(path, data_only=True)
    for (sheet, row, col), v in computed_cells(layout, values).items():
        assert same(wb[sheet].cell(row + 1, col + 1).value, v), (sheet, row, col)
    tl = layout.tables["goals"]
    assert wb[tl.sheet].cell(tl.first_row + 2, tl.col("attainment") + 1).value == pytest.approx(1.24)  # 新品销量


def test_formulas_use_qualified_structured_references(tmp_path):
    path = new_workbook(tmp_path / "demo.xlsx", demo_retrospective())
    wb = openpyxl.load_workbook(path)
    layout, _ = _layout_values(demo_retrospective())
    tl = layout.tables["indicators"]
    formula = wb[tl.sheet].cell(tl.first_row + 1, tl.col("attainment") + 1).value
    assert formula.startswith("=IF(") and "tbl_indicators[[#This Row],[实际值（数值）]]" in formula
    assert "[@" not in formula and "#DIV/0!" not in formula
    assert wb[tl.sheet].tables["tbl_indicators"].ref == f"A3:N{3 + tl.rows}"


def test_user_text_is_never_a_formula(tmp_path):
    path = new_workbook(tmp_path / "edge.xlsx", EDGE)
    wb = openpyxl.load_workbook(path)
    layout, _ = _layout_values(EDGE)
    for key, text in (("campaign", "=边界用例"), ("owner", "+李")):
        fl = layout.fields[key]
        cell = wb[fl.sheet].cell(fl.row + 1, fl.col + 1)
        assert cell.value == text and cell.data_type == "s"


def test_entry_columns_have_validation_and_conditional_formats(tmp_path):
    path = new_workbook(tmp_path / "x.xlsx")
    wb = openpyxl.load_workbook(path)
    layout, _ = _layout_values(Retrospective())
    ws = wb[layout.sheets["actions"]]
    lists = {dv.formula1 for dv in ws.data_validations.dataValidation if dv.type == "list"}
    assert '"高,中,低"' in lists and '"未开始,进行中,已完成"' in lists
    assert any("逾期" in r.formula[0] for rng in ws.conditional_formatting for r in rng.rules)
    ws2 = wb[layout.sheets["indicators"]]
    assert {dv.type for dv in ws2.data_validations.dataValidation} >= {"list", "decimal"}
    assert ws2.freeze_panes == "A4"
    hidden = [k for k, d in ws2.column_dimensions.items() if d.hidden]
    assert hidden  # the hidden number columns


def test_schedule_counts_chinese_working_days(tmp_path):
    # Ends Monday 2024-09-30: 国庆 1-7 Oct are holidays, so step 1 (2 working days) is due 2024-10-09.
    path = new_workbook(tmp_path / "s.xlsx", Retrospective(info={"end": "2024-09-30"}))
    ws = openpyxl.load_workbook(path)["说明"]
    layout, _ = _layout_values(Retrospective())
    first = layout.steps_row + 2
    assert ws.cell(first + 1, 4).value.date() == date(2024, 10, 9)


def test_schedule_beyond_the_calendar_says_so(tmp_path):
    path = new_workbook(tmp_path / "s.xlsx", Retrospective(info={"end": "2031-03-03"}))
    texts = [c.value for row in openpyxl.load_workbook(path)["说明"].iter_rows() for c in row if c.value]
    assert any(isinstance(t, str) and "仅跳过周末" in t for t in texts)


def test_english_workbook(tmp_path, soffice):
    path = new_workbook(tmp_path / "en.xlsx", demo_retrospective(), lang="en")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[:3] == ["About", "T1 Goals", "T2 Indicators"]
    ws = wb["T1 Goals"]
    assert ws.cell(4, 3).value == "Higher is better"   # choices translated from the zh demo data
    grid = _assert_engine_agrees(path, demo_retrospective(), "en")
    assert [round(v * 100) for v in [grid["T1 Goals"][3 + i][5] for i in range(3)]] == [120, 124, 90]
