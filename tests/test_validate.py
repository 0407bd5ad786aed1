"""retroxl validate: every rule on its cell, the JSON shape, exit codes; the pure rules alone."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from workbook_cells import fill

from retroxl import demo_retrospective, demo_workbook, new_workbook
from retroxl.books.ooxml import Formula, OoxmlBook
from retroxl.cli import main
from retroxl.compute import compute, template_context
from retroxl.engine.checks import CODES, check, resolve_deadline
from retroxl.generate import plan_workbook
from retroxl.layout import make_layout
from retroxl.model import Retrospective
from retroxl.rules import ExcelError
from retroxl.template import load_template
from retroxl.validate import validate

TODAY = date(2024, 6, 20)
INFO, T1, T2, T3, T4, COSTS = "说明", "表1 活动概览", "表2 关键指标", "表3 问题改进", "表4 经验总结", "成本收益"


def found(path: Path) -> set[tuple[str, str, str]]:
    return {(f.sheet, f.cell, f.code) for f in validate(path, today=TODAY).findings}


@pytest.fixture()
def messy(tmp_path: Path) -> Path:
    """One workbook that breaks most rules, each at a known cell."""
    retro = Retrospective(
        info={"campaign": "测试活动", "end": date(2024, 6, 15), "owner": "张经理", "review_date": date(2024, 6, 18)},
        tables={
            "goals": [
                {"goal": "曝光量", "unit": "次", "direction": "越高越好", "target": 0, "actual": 100},
                {"goal": "销量", "unit": "件", "direction": "越高越好", "actual": 500},
                {"goal": "会员数", "unit": "人", "direction": "越高越好", "target": 2000, "actual": 1800},
                {"goal": "好评率", "unit": "%", "direction": "越高越好", "target": 5, "actual": 6},
                {"goal": "复购", "unit": "人", "direction": "越高越好", "target": 100, "actual": 150},
            ],
            "indicators": [
                {"type": "流量", "indicator": "曝光量", "unit": "次", "direction": "越高越好", "target": "很多",
                 "actual": 100, "source": "后台"},
                {"type": "成本", "indicator": "获客成本", "unit": "元", "target": 50, "actual": 40, "source": "后台"},
                {"type": "转化", "indicator": "转化率", "direction": "越低越好", "target": 0.05, "actual": 0},
                {"type": "转化", "indicator": "曝光量", "target": 100, "actual": 200, "source": "后台"},
                {"type": "用户", "indicator": "新客", "target": 10, "actual": 20000, "previous": 0, "source": "CRM"},
                {"type": "很多", "indicator": "老客", "target": 10, "actual": 12, "source": "CRM"},
                {"type": "流量", "indicator": "文字数", "target": "100万", "actual": "120万次", "source": "后台"},
            ],
            "actions": [
                {"problem": "客服响应慢", "impact": "很高", "root_cause": "人手不足", "measure": "增派客服",
                 "owner": "钱主管", "deadline": "3个工作日内", "status": "进行中"},
                {"problem": "到店转化低", "impact": "中", "measure": "体验券", "owner": "赵运营",
                 "deadline": "下次活动前", "status": "未开始"},
                {"problem": "物料浪费", "impact": "低", "deadline": date(2024, 6, 1), "status": "进行中"},
            ],
            "costs": [{"item": "广告投放", "budget": 100, "spent": 150}, {"item": "物料制作", "budget": 100, "spent": -5}],
            "returns": [{"item": "直接销售额", "amount": 1000}],
        })
    path = new_workbook(tmp_path / "messy.xlsx", retro, today=TODAY)
    return fill(path, path, {
        INFO: {"B4": "六月初"},                                  # 开始日期 that is no date
        T1: {"F6": 0.95, "F8": "150%"},                          # hand-typed 达成率: wrong, right
        T2: {"F9": ExcelError("#N/A")},                          # an error value pasted in
    })


EXPECTED = {
    (INFO, "B4", "R105"),
    (T1, "D4", "R201"), (T1, "D5", "R201"), (T1, "F6", "R204"), (T1, "F6", "R401"), (T1, "D7", "R103"),
    (T1, "E7", "R103"), (T1, "A7", "R404"), (T1, "F8", "R205"),
    (T2, "E4", "R101"), (T2, "D5", "R203"), (T2, "F6", "R202"), (T2, "J6", "R402"), (T2, "B7", "R403"),
    (T2, "G8", "R104"), (T2, "H8", "R202"), (T2, "A9", "R106"), (T2, "F9", "R107"), (T2, "E10", "R102"),
    (T2, "F10", "R102"),
    (T3, "B4", "R106"), (T3, "F4", "R302"), (T3, "F5", "R303"), (T3, "D6", "R301"), (T3, "E6", "R301"),
    (T3, "F6", "R304"),
    (T4, "A1", "R003"),
    (COSTS, "C11", "R502"), (COSTS, "C12", "R503"),
}


def test_each_rule_flags_its_cell(messy: Path) -> None:
    got = found(messy)
    assert EXPECTED <= got, sorted(EXPECTED - got)
    codes = {code for _, _, code in got}
    assert not {"R501", "R108", "R109"} & codes                # not provoked here


def test_messages_are_chinese_and_specific(messy: Path) -> None:
    by_cell = {(f.sheet, f.cell, f.code): f for f in validate(messy, today=TODAY).findings}
    assert by_cell[(T3, "F4", "R302")].message == \
        "相对时限“3个工作日内”按复盘日期 2024-06-18 计为 2024-06-21，建议直接填写日期"
    assert by_cell[(T1, "F6", "R204")].message == "手填达成率 95% 与计算值 90% 不符"
    assert "高/中/低" in by_cell[(T3, "B4", "R106")].message
    assert all(f.severity == CODES[f.code][0] for f in by_cell.values())


def test_dates_costs_and_missing_sheets(tmp_path: Path) -> None:
    retro = Retrospective(info={"campaign": "x"}, tables={"returns": [{"item": "直接销售额", "amount": 500}],
                                                        "costs": [{"item": "广告投放", "budget": 100, "spent": 0}]})
    path = new_workbook(tmp_path / "costs.xlsx", retro, today=TODAY)
    fill(path, path, {INFO: {"B4": date(2024, 6, 15), "B5": date(2024, 6, 1)}})   # end before start
    got = found(path)
    assert {(INFO, "B5", "R108"), (COSTS, "B4", "R501")} <= got
    no_end = new_workbook(tmp_path / "no_end.xlsx", Retrospective(info={"campaign": "x"}), today=TODAY)
    assert (INFO, "B5", "R109") in found(no_end)
    # a workbook whose 表4 sheet was deleted
    with OoxmlBook(path) as book:
        book.wb_text = re.sub(r'<sheet name="表4 经验总结"[^>]*/>', "", book.wb_text)
        book.save(tmp_path / "no_t4.xlsx")
    assert (T4, "", "R001") in found(tmp_path / "no_t4.xlsx")


def test_a_formula_someone_replaced(tmp_path: Path) -> None:
    path = demo_workbook(tmp_path / "demo.xlsx", today=TODAY)
    fill(path, path, {T2: {"I4": Formula("=0.5", 0.5)}})
    assert (T2, "I4", "R002") in found(path)


def test_the_published_example_has_its_golden_figures(tmp_path: Path) -> None:
    report = validate(demo_workbook(tmp_path / "demo.xlsx", today=TODAY), today=TODAY)
    assert report.errors == 0 and report.exit_code == 0
    goals = [m for m in report.metrics if m["sheet"] == T1]
    assert [(m["name"], m["attainment"]) for m in goals] == [
        ("线上曝光量", pytest.approx(1.2)), ("新品销量", pytest.approx(1.24)), ("新增会员数", pytest.approx(0.9))]
    indicators = [m for m in report.metrics if m["sheet"] == T2]
    assert [round(m["attainment"], 2) for m in indicators] == [1.2, 1.24, 1.27]
    assert [round(m["variance"], 2) for m in indicators] == [0.5, 0.3, 0.25]
    assert indicators[2]["actual"] == pytest.approx(3.8)       # ROI taken from 成本收益 (1:3.8)


def test_english_about_sheet_where_a_label_is_also_the_title(tmp_path: Path) -> None:
    """On the English About sheet "Campaign" titles the block and labels the campaign field below it."""
    from retroxl.books.reader import read_book

    path = demo_workbook(tmp_path / "en.xlsx", lang="en", today=TODAY)
    with OoxmlBook(path) as book:
        data = read_book(book, load_template())
    assert data.retro.info["campaign"] == demo_retrospective().info["campaign"]
    assert data.fields["campaign"].where == ("About", 2, 1) and data.fields["owner"].where == ("About", 5, 1)
    fill(path, path, {"About": {"B3": ""}})                      # not filled yet: still the field's own row
    with OoxmlBook(path) as book:
        data = read_book(book, load_template())
    assert "campaign" not in data.retro.info and data.fields["campaign"].where == ("About", 2, 1)


def test_validate_only_reads(messy: Path) -> None:
    before = messy.read_bytes()
    validate(messy, today=TODAY)
    assert messy.read_bytes() == before


# ---------------------------------------------------------------- CLI
def test_json_shape_and_exit_codes(messy: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["validate", str(messy), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert set(data) == {"file", "findings", "metrics"}
    assert data["file"] == str(messy)
    assert all(set(f) == {"sheet", "cell", "severity", "code", "message"} for f in data["findings"])
    assert {f["severity"] for f in data["findings"]} <= {"error", "warning", "info"}
    keys = {"sheet", "row", "name", "direction", "target", "actual", "attainment", "previous", "variance"}
    assert all(set(m) == keys for m in data["metrics"])
    row = next(m for m in data["metrics"] if m["name"] == "文字数")
    assert row == {"sheet": T2, "row": 10, "name": "文字数", "direction": "higher", "target": 1000000.0,
                   "actual": 1200000.0, "attainment": 1.2, "previous": None, "variance": None}
    assert all(isinstance(m["attainment"], float) for m in data["metrics"] if m["attainment"] is not None)

    demo = demo_workbook(tmp_path / "demo.xlsx", today=TODAY)
    ok = runner.invoke(main, ["validate", str(demo)])
    assert ok.exit_code == 0 and ok.output.startswith(f"{demo}: 0 error(s)")


@pytest.mark.parametrize("make", ["text", "missing", "foreign", "zip"])
def test_an_unusable_file_exits_2_with_one_line(make: str, tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    if make == "text":
        path.write_text("指标,目标\n曝光,100\n", encoding="utf-8")
    elif make == "foreign":   # a good workbook, but not a retrospective
        import xlsxwriter

        wb = xlsxwriter.Workbook(str(path))
        wb.add_worksheet("销售").write("A1", "月份")
        wb.close()
    elif make == "zip":
        data = demo_workbook(tmp_path / "d.xlsx").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("retroxl: error:")
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- the pure rules
def test_relative_deadlines() -> None:
    tuesday = date(2024, 6, 18)
    assert resolve_deadline("3个工作日内", tuesday) == date(2024, 6, 21)
    assert resolve_deadline("三个工作日内", tuesday) == date(2024, 6, 21)
    # from Friday 09-27: Sunday 09-29 is a 调休 working day, 10-01..07 is 国庆: 09-29, 09-30, 10-08, 10-09, 10-10
    assert resolve_deadline("5个工作日内", date(2024, 9, 27)) == date(2024, 10, 10)
    assert resolve_deadline("两周内", tuesday) == date(2024, 7, 2)
    assert resolve_deadline("1个月内", date(2024, 1, 31)) == date(2024, 2, 29)
    assert resolve_deadline("本月底", tuesday) == date(2024, 6, 30)
    assert resolve_deadline("下次活动前", tuesday) is None
    assert resolve_deadline("3个工作日内", None) == "no_base"


def test_rules_run_on_plain_records_without_a_workbook() -> None:
    tpl = load_template()
    retro = demo_retrospective()
    retro.tables["goals"][2]["attainment"] = "95%"             # an old file's hand-typed value
    plan = plan_workbook(retro, today=TODAY)
    issues = check(tpl, "zh", plan.retro, plan.values, TODAY)
    # only the typed value is wrong: the published 90% goal is covered by the published problem
    # "线下到店转化率未达标（90%）", every improvement says what, who and when
    assert [(i.where, i.code) for i in issues] == [(("t", "goals", 2, "attainment"), "R204")]
    assert plan.values.table("goals", 2, "attainment") == pytest.approx(0.9)


def test_a_quotient_beyond_a_double_is_not_a_number() -> None:
    """2 ÷ 1e-308 is #NUM! in Excel (the formulas' IFERROR shows 非数值): never inf on the Python side."""
    from retroxl.rules import RULES

    tpl = load_template()
    ctx = template_context(tpl, "zh", TODAY)
    marker = tpl.marker("not_number", "zh")
    assert RULES["attainment"](ctx, 2.0, 1e-308, "越高越好") == marker
    assert RULES["attainment"](ctx, 1e-308, 2.0, "越低越好") == marker
    assert RULES["attainment"](ctx, -2.0, 1e-308, "越高越好") == marker
    assert RULES["variance"](ctx, 2, 1e-308) == RULES["roi"](ctx, 2.0, 1e-308) == marker
    assert RULES["net_roi"](ctx, 2.0, 1e-308) == RULES["budget_rate"](ctx, 2.0, 1e-308) == marker
    assert RULES["chart_actual"](ctx, 1e-300, 1e10, 1e-300) == marker
    assert RULES["attainment"](ctx, 3.0, 2.0, "越高越好") == 1.5 and RULES["variance"](ctx, 3.0, 2.0) == 0.5
    # a finite but huge miss, and a problem in 表3 to compare it with: a finding, not an OverflowError
    retro = Retrospective(tables={"goals": [{"goal": "曝光量", "target": 1.0, "actual": -1e307}],
                                  "actions": [{"problem": "曝光不足", "measure": "加投", "owner": "王", "deadline": TODAY}]})
    plan = plan_workbook(retro, today=TODAY)
    assert ("R401", ("t", "goals", 0, "attainment")) in {(i.code, i.where) for i in check(tpl, "zh", plan.retro,
                                                                                           plan.values, TODAY)}


def test_hostile_text_never_breaks_the_rules() -> None:
    tpl = load_template()
    layout = make_layout(tpl, "zh")
    nasty = ["", " ", "=1+1", "@SUM(A1)", "-", "#N/A", "1e999", "１２０万", "\x00\x07", "百分之", "1:0", "0:5",
             "下周三前", "999999999个工作日内", "三十天内", "🙂", "x" * 5000, None, True, 1e308, -0.0, float("nan")]
    for value in nasty:
        retro = Retrospective(info={"end": date(2024, 6, 15), "review_date": value},
                              tables={"goals": [{"goal": value, "target": value, "actual": value, "direction": value}],
                                      "actions": [{"problem": value, "deadline": value, "status": value}],
                                      "indicators": [{"indicator": value, "target": 1, "actual": value,
                                                      "attainment": value}]})
        for issue in check(tpl, "zh", retro, compute(layout, retro, TODAY), TODAY):
            assert issue.code in CODES and issue.message


def test_the_parts_the_safety_check_inflated_are_reused_only_while_the_file_is_unchanged(tmp_path: Path) -> None:
    """validate and recalc read the sheets the safety check inflated, never a stale copy of an edited file."""
    import zipfile

    from retroxl.books.safety import check_workbook
    from retroxl.books.zippkg import Package

    path = demo_workbook(tmp_path / "d.xlsx", today=TODAY)
    checked = check_workbook(path)
    with zipfile.ZipFile(path) as z:
        sheet = next(i for i in z.infolist() if i.filename.startswith("xl/worksheets/"))
        original = z.read(sheet)
    pkg = Package(path, checked)
    assert pkg.read(sheet.filename) is checked.inflated[sheet.header_offset]   # not inflated again
    assert pkg.read(sheet.filename) == original
    pkg.close()

    fill(path, path, {T2: {"F4": 999}})                 # the file changes after the check
    stale = Package(path, checked)                     # a check of the old file is not trusted for the new one
    with zipfile.ZipFile(path) as z:
        sheets = [i for i in z.infolist() if i.filename.startswith("xl/worksheets/sheet")]
        assert all(stale.read(i.filename) == z.read(i) for i in sheets)
    stale.close()
    first = next(m for m in validate(path, today=TODAY).metrics if m["sheet"] == T2)
    assert first["actual"] == 999
