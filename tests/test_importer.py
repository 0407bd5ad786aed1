"""retroxl import: hand-filled tables in the reference's format → the standard workbook.

The seed workbooks are written here with openpyxl (our own files, never a user's):
the reference's published rows, laid out the ways people lay them out.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from workbook_cells import column_values

from retroxl.cli import main
from retroxl.errors import RetroxlError
from retroxl.generate import plan_workbook
from retroxl.importer import import_workbook
from retroxl.libreoffice import recalculated_values

MISMATCH, ERROR_VALUE = "R204", "R107"  # retroxl.engine.checks: hand-typed value off, Excel error cell

# The reference's four tables, as published (表1's row packs three goals).
GOALS = (["活动名称", "活动周期", "负责人", "核心目标（1-3项）", "目标值", "实际值", "达成率"],
         [["2024夏季新品推广", "2024.06.01-06.15", "张经理", "线上曝光量、新品销量、新增会员数",
           "100万次/5000件/2000人", "120万次/6200件/1800人", "120%/124%/90%"]])
INDICATORS = (["指标类型", "具体指标", "目标值", "实际值", "达成率", "环比变化（vs往期）", "分析说明（如渠道、用户反馈等）"],
              [["流量指标", "曝光量", "100万", "120万", "120%", "+50%", "短视频渠道爆款内容带动，自然流量占比60%"],
               ["转化指标", "新品转化率", "5%", "6.2%", "124%", "+30%", "限时折扣叠加赠品，决策路径缩短"],
               ["成本指标", "ROI（投入产出比）", "1:3", "1:3.8", "127%", "+25%", "精准投放降低获客成本，客单价提升15%"]])
ACTIONS = (["问题描述", "影响程度（高/中/低）", "根因分析", "改进措施", "责任人", "完成时限"],
           [["线下到店转化率未达标（90%）", "中", "福利设置未匹配核心用户需求", "增加“到店专属体验券”，预调研用户偏好",
             "赵运营", "下次活动前"],
            ["客服响应超时率20%", "高", "人力配置不足，话术不统一", "增派临时客服，统一培训话术", "钱主管", "3个工作日内"]])
LESSONS = (["经验类别", "具体内容", "可复用场景", "标准化建议（如SOP、模板）"],
           [["策略层面", "“KOL+素人”矩阵式投放，覆盖多圈层用户", "新品推广、品牌曝光", "制定《KOL合作筛选标准》"],
            ["执行层面", "提前1周进行全流程彩排，避免物料、流程漏洞", "大型线下活动、线上直播", "新增《活动彩排检查清单》"]])
PUBLISHED = {"表1 活动基本信息与目标概览表": GOALS, "表2 关键数据指标分析表": INDICATORS,
             "表3 问题与改进措施表": ACTIONS, "表4 经验总结与标准化建议表": LESSONS}


def write_seed(path: Path, tables: dict = PUBLISHED, *, origin: tuple[int, int] = (0, 0), gap: int = 2,
               blank_col: int | None = None, one_sheet: bool = True, titles: bool = True,
               extra: dict[tuple[int, int], object] | None = None) -> Path:
    """A hand-made workbook in the seed's format.

    ``origin`` is the 0-based (row, col) of the first title; ``gap`` blank rows separate the
    tables; ``blank_col`` inserts an empty column at that position inside every table;
    ``one_sheet=False`` puts each table on a sheet of its own; ``extra`` writes more cells.
    """
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "复盘"
    row = origin[0] + 1
    for n, (title, (header, rows)) in enumerate(tables.items()):
        if not one_sheet and n:
            ws, row = wb.create_sheet(title[:2]), origin[0] + 1
        cols = [c + (c >= blank_col if blank_col is not None else 0) for c in range(len(header))]
        first = origin[1] + 1
        if titles:
            ws.cell(row, first, title)
            ws.merge_cells(start_row=row, start_column=first, end_row=row, end_column=first + cols[-1])
            row += 2  # a blank line under the title
        for values in [header, *rows]:
            for c, v in zip(cols, values):
                ws.cell(row, first + c, v)
            row += 1
        row += gap
    for (r, c), v in (extra or {}).items():
        ws.cell(r + 1, c + 1, v)
    wb.save(path)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- golden: the published rows --------------------------------------------------

def test_published_seed_gives_the_published_figures_in_libreoffice(tmp_path, soffice):
    src = write_seed(tmp_path / "seed.xlsx")
    before = digest(src)
    report = import_workbook(src, tmp_path / "standard.xlsx")
    assert digest(src) == before  # the source is only read

    retro = report.retro
    assert retro.info == {"campaign": "2024夏季新品推广", "owner": "张经理",
                          "start": date(2024, 6, 1), "end": date(2024, 6, 15)}
    goals = retro.rows("goals")
    assert [(g["goal"], g["unit"], g["target"], g["actual"]) for g in goals] == [
        ("线上曝光量", "次", "100万次", "120万次"),  # kept as typed
        ("新品销量", "件", "5000件", "6200件"),
        ("新增会员数", "人", "2000人", "1800人"),
    ]
    assert report.counts() == {"goals": 3, "indicators": 3, "actions": 2, "lessons": 2}
    assert [i["type"] for i in retro.rows("indicators")] == ["流量", "转化", "成本"]  # 流量指标 → the list's 流量

    layout = plan_workbook(retro).layout
    grid = recalculated_values(tmp_path / "standard.xlsx")
    # The reference: 表1 120% / 124% / 90%; 表2 120% / 124% / 127% and 环比 +50% / +30% / +25%.
    assert [round(v * 100) for v in column_values(grid, layout, "goals", "attainment", 3)] == [120, 124, 90]
    assert [round(v * 100) for v in column_values(grid, layout, "indicators", "attainment", 3)] == [120, 124, 127]
    assert [round(v * 100) for v in column_values(grid, layout, "indicators", "variance", 3)] == [50, 30, 25]
    assert column_values(grid, layout, "goals", "target", 3) == ["100万次", "5000件", "2000人"]
    assert column_values(grid, layout, "actions", "deadline", 2) == ["下次活动前", "3个工作日内"]

    # Every hand-typed 达成率 agrees within its rounding (127% vs 126.7%); 往期值 came from 环比.
    attainments = [c for c in report.carried if c.column == "attainment"]
    assert len(attainments) == 6 and all(c.agrees for c in attainments)
    assert [c.derived_previous for c in report.carried if c.column == "variance"] == [800000, 0.0476923, 3.04]
    assert report.findings == []


def test_wrong_hand_typed_attainment_is_flagged(tmp_path):
    goals = (GOALS[0], [[*GOALS[1][0][:6], "130%/124%/90%"]])      # 6200/5000 is 124%, 1200000/1000000 is 120%
    indicators = (INDICATORS[0], [
        [*INDICATORS[1][0][:4], "150%", *INDICATORS[1][0][5:]],     # 120%
        [*INDICATORS[1][1][:4], "124.0%", *INDICATORS[1][1][5:]],   # right, one decimal typed
        [*INDICATORS[1][2][:4], "126%", *INDICATORS[1][2][5:]],     # 126.7%: off by more than rounding
    ])
    src = write_seed(tmp_path / "seed.xlsx", {"表1": goals, "表2": indicators})
    report = import_workbook(src, tmp_path / "out.xlsx")
    flagged = {(f.cell, f.code) for f in report.findings}
    # The title sits at row 1, a blank line, the header at row 3: 表1's data row is 4, 表2's rows 10-12.
    assert flagged == {("G4", MISMATCH), ("E10", MISMATCH), ("E12", MISMATCH)}
    first = next(f for f in report.findings if f.cell == "G4")
    assert first.severity == "error" and first.message == "手填达成率 130% 与计算值 120% 不符"
    assert [c.agrees for c in report.carried if c.table == "goals"] == [False, True, True]


def test_hand_typed_variance_is_checked_against_a_previous_value(tmp_path):
    header = ["具体指标", "目标值", "实际值", "往期值", "环比变化"]
    rows = [["曝光量", "100万", "120万", "80万", "+50%"],       # right
            ["转化率", "5%", "6.2%", "5%", "+30%"],            # 6.2 / 5 - 1 = +24%
            ["客单价", 100, 120, None, "+20%"]]                # no previous: derived, not checked
    src = write_seed(tmp_path / "seed.xlsx", {"表2": (header, rows)})
    report = import_workbook(src, tmp_path / "out.xlsx")
    variance = [c for c in report.carried if c.column == "variance"]
    assert [c.agrees for c in variance] == [True, False, None]
    assert variance[2].derived_previous == 100
    assert [(f.cell, f.code) for f in report.findings] == [("E5", MISMATCH)]
    assert [i.get("previous") for i in report.retro.rows("indicators")] == ["80万", "5%", 100]


# ---- finding the tables wherever they are ------------------------------------------

VARIANT_HEADERS = {
    # half-width brackets, no hints, spaces and line breaks inside the header cells
    "表1": (["活动名称", "活动周期", "负责人", "核心目标(1-3项)", "目标值", "实际值", "达成率"], GOALS[1]),
    "表2": (["指标类型", "具体 指标", "目标值", "实际值", "达成率", "环比变化", "分析说明\n(如渠道、用户反馈等)"], INDICATORS[1]),
    "表3": (["问题描述", "影响程度(高/中/低)", "根因分析", "改进措施", "责任人", "完成时限"], ACTIONS[1]),
    "表4": (["经验类别", "具体内容", "可复用场景", "标准化建议【如SOP、模板】"], LESSONS[1]),
}


@pytest.mark.parametrize("options", [
    {"origin": (4, 2)},                        # tables start at C5
    {"blank_col": 2, "gap": 4},                # an empty column inside every table, more blank rows
    {"one_sheet": False, "titles": False},     # one table per sheet, no titles
    {"tables": VARIANT_HEADERS},               # header spellings
], ids=["offset", "blank-column", "sheet-per-table", "header-spellings"])
def test_tables_are_found_at_any_position(tmp_path, options):
    src = write_seed(tmp_path / "seed.xlsx", **options)
    report = import_workbook(src, tmp_path / "out.xlsx")
    assert report.counts() == {"goals": 3, "indicators": 3, "actions": 2, "lessons": 2}
    assert [g["goal"] for g in report.retro.rows("goals")] == ["线上曝光量", "新品销量", "新增会员数"]
    assert report.retro.rows("actions")[1]["impact"] == "高"
    assert report.retro.rows("lessons")[0]["standard"] == "制定《KOL合作筛选标准》"
    assert report.retro.info["end"] == date(2024, 6, 15)
    assert report.findings == []
    assert [u for u in report.unplaced if u.reason != "表格之外的内容"] == []


def test_what_cannot_be_placed_is_reported(tmp_path):
    goals = (GOALS[0], [GOALS[1][0], ["2023双11大促", "2023.11.01-11.11", "李经理", "GMV", "1亿", "1.2亿", "120%"]])
    actions = ([*ACTIONS[0], "备注"], [[*ACTIONS[1][0], "与门店沟通过"], ACTIONS[1][1], ["注：时限以周为单位"]])
    src = write_seed(tmp_path / "seed.xlsx", {"表1": goals, "表3": actions})
    wb = openpyxl.load_workbook(src)
    wb.create_sheet("原始数据")["B2"] = "明细见附件"
    wb.save(src)

    report = import_workbook(src, tmp_path / "out.xlsx")
    reasons = {(u.sheet, u.cell): u.reason for u in report.unplaced}
    assert reasons[("复盘", "A5")] == "另一个活动：每个标准工作簿只放一个活动，请分开导入"  # the second campaign's row
    assert reasons[("复盘", "G11")] == "标准表格没有「备注」列"
    assert reasons[("复盘", "A13")] == "表格下方的注释"
    assert reasons[("原始数据", "")] == "此工作表没有找到复盘表格，未导入"
    assert report.counts()["goals"] == 3 and report.counts()["actions"] == 2
    assert "GMV" not in [g.get("goal") for g in report.retro.rows("goals")]

    result = CliRunner().invoke(main, ["import", str(src), "-o", str(tmp_path / "cli.xlsx")])
    assert result.exit_code == 0, result.output
    assert "not placed (" in result.output and "标准表格没有「备注」列" in result.output


def test_packed_goals_that_do_not_line_up_stay_one_row(tmp_path):
    goals = (GOALS[0], [["活动", "2024-06-01至2024-06-15", "张", "曝光、销量、会员", "100万次/5000件", "120万次/6200件", ""]])
    report = import_workbook(write_seed(tmp_path / "seed.xlsx", {"表1": goals}), tmp_path / "out.xlsx")
    assert [g["goal"] for g in report.retro.rows("goals")] == ["曝光、销量、会员"]
    assert report.retro.rows("goals")[0]["target"] == "100万次/5000件"  # as typed, not guessed
    assert any(u.reason.startswith("无法拆分：3个目标") for u in report.unplaced)


def test_a_goal_name_with_a_separator_is_one_goal(tmp_path):
    goals = (GOALS[0], [["活动", "2024-06-01", "张", "新品推广、品牌曝光", "100万次", "120万次", "120%"]])
    report = import_workbook(write_seed(tmp_path / "seed.xlsx", {"表1": goals}), tmp_path / "out.xlsx")
    assert [g["goal"] for g in report.retro.rows("goals")] == ["新品推广、品牌曝光"]
    assert report.retro.info["start"] == report.retro.info["end"] == date(2024, 6, 1)
    assert report.unplaced == [] and report.findings == []


def test_excel_error_cells_become_findings(tmp_path):
    indicators = (INDICATORS[0], [[*INDICATORS[1][0][:3], "#N/A", "#DIV/0!", *INDICATORS[1][0][5:]]])
    src = write_seed(tmp_path / "seed.xlsx", {"表2": indicators})
    report = import_workbook(src, tmp_path / "out.xlsx")
    assert sorted((f.cell, f.code) for f in report.findings) == [("D4", ERROR_VALUE), ("E4", MISMATCH)]
    assert next(f.message for f in report.findings if f.cell == "D4") == "实际值是错误值 #N/A，请改为实际内容"
    assert report.carried[0].typed == "#DIV/0!"
    assert report.carried[0].typed_value is None and report.carried[0].agrees is None


def test_english_workbook(tmp_path):
    report = import_workbook(write_seed(tmp_path / "seed.xlsx"), tmp_path / "out.xlsx", lang="en")
    wb = openpyxl.load_workbook(tmp_path / "out.xlsx", read_only=True)
    assert "T1 Goals" in wb.sheetnames
    wb.close()
    assert report.names["goals"] == "T1 Goals"


# ---- refusals ---------------------------------------------------------------------

def test_a_workbook_without_the_tables_is_refused(tmp_path):
    src = tmp_path / "other.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["月份", "销售额"])
    wb.save(src)
    with pytest.raises(RetroxlError, match="none of the four retrospective tables"):
        import_workbook(src, tmp_path / "out.xlsx")
    assert not (tmp_path / "out.xlsx").exists()


def test_the_source_is_never_the_output(tmp_path):
    src = write_seed(tmp_path / "seed.xlsx")
    before = digest(src)
    result = CliRunner().invoke(main, ["import", str(src), "-o", str(src), "--force"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"retroxl: error: {src} is the file being imported; "
                                                  "choose another output file"]
    assert digest(src) == before


def test_an_existing_output_needs_force(tmp_path):
    src = write_seed(tmp_path / "seed.xlsx")
    out = tmp_path / "out.xlsx"
    out.write_bytes(b"keep me")
    result = CliRunner().invoke(main, ["import", str(src), "-o", str(out)])
    assert result.exit_code == 2 and "already exists" in result.output
    assert out.read_bytes() == b"keep me"
    assert CliRunner().invoke(main, ["import", str(src), "-o", str(out), "--force"]).exit_code == 0
    assert out.read_bytes()[:2] == b"PK"


def test_cli_json_report(tmp_path):
    goals = (GOALS[0], [[*GOALS[1][0][:6], "130%/124%/90%"]])
    src = write_seed(tmp_path / "seed.xlsx", {**PUBLISHED, "表1 活动基本信息与目标概览表": goals})
    result = CliRunner().invoke(main, ["import", str(src), "-o", str(tmp_path / "out.xlsx"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["counts"] == {"goals": 3, "indicators": 3, "actions": 2, "lessons": 2}
    assert data["info"] == {"campaign": "2024夏季新品推广", "owner": "张经理", "start": "2024-06-01",
                            "end": "2024-06-15"}
    assert data["findings"] == [{"sheet": "复盘", "cell": "G4", "severity": "error", "code": MISMATCH,
                                 "message": "手填达成率 130% 与计算值 120% 不符"}]
    assert [c["typed"] for c in data["carried"] if c["table"] == "goals"] == ["130%", "124%", "90%"]
    assert data["unplaced"] == []  # the titles above the tables are recognised as titles
