"""retroxl portfolio: the cross-campaign workbook, checked through a real LibreOffice recalculation."""

from __future__ import annotations

import math
import re
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from workbook_cells import DEMO, campaign

from retroxl.cli import main
from retroxl.collect import collect
from retroxl.errors import RetroxlError
from retroxl.generate import demo_workbook, new_workbook
from retroxl.libreoffice import recalculated_values
from retroxl.portfolio import build_portfolio, root_causes

ACTIONS_2023 = [
    {"problem": "客服排队过长", "impact": "高", "root_cause": "人力配置不足；排班不合理", "measure": "增加晚班客服",
     "owner": "钱主管", "deadline": date(2023, 7, 1), "status": "进行中"},
    {"problem": "物料到店晚", "impact": "中", "root_cause": "供应商交付延迟", "measure": "提前两周下单",
     "owner": "赵运营", "deadline": date(2023, 7, 10), "status": "已完成"},
]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("books")
    demo_workbook(folder / "demo.xlsx")
    new_workbook(folder / "2023.xlsx", campaign(
        "2023夏季新品推广", date(2023, 6, 1), date(2023, 6, 15),
        [("曝光量", "次", 700_000, "80万次"), ("新品转化率", "%", 0.04, 0.0477)], actions=ACTIONS_2023,
        lessons=[{"category": "工具层面", "content": "=1+1 这样的公式文字", "scenario": "@所有门店",
                  "standard": "-"}]))
    new_workbook(folder / "2022.xlsx", campaign("2022夏季新品推广", date(2022, 6, 1), date(2022, 6, 15),
                                                [("曝光量", "次", 600_000, 650_000)]))
    path = folder / "archive.db"
    assert len(collect([folder], path).added) == 3
    return path


@pytest.fixture(scope="module")
def book(db: Path) -> Path:
    out = db.parent / "汇总.xlsx"
    result = build_portfolio(db, out)
    assert (result.campaigns, result.goals, result.lessons) == (3, 6, 3)
    return out


def _same(a: object, b: object) -> bool:
    a, b = ("" if a is None else a), ("" if b is None else b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def test_libreoffice_computes_what_the_workbook_caches(book: Path, soffice: str) -> None:
    lo = recalculated_values(book)
    cached = openpyxl.load_workbook(book, data_only=True)
    formulas = openpyxl.load_workbook(book)
    checked = 0
    for ws in formulas.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type != "f":
                    continue
                got = lo[ws.title][cell.row - 1][cell.column - 1]
                want = cached[ws.title].cell(cell.row, cell.column).value
                assert _same(got, want), (ws.title, cell.coordinate, cell.value, got, want)
                checked += 1
    assert checked > 40
    goals = lo["目标达成"]
    demo = [r[8] for r in goals[3:] if r[1] == DEMO]
    assert [round(x, 2) for x in demo] == [1.2, 1.24, 0.9]          # the published 120% / 124% / 90%
    overview = lo["概览"]
    assert overview[3][:6] == ["活动数", "目标数", "平均目标达成率", "未完成改进", "逾期改进", "重复根因"]
    assert overview[4][0] == 3 and overview[4][1] == 6
    campaigns = {r[1]: r for r in lo["活动汇总"][3:]}
    assert campaigns[DEMO][6:9] == [3, 2, pytest.approx((1.2 + 1.24 + 0.9) / 3)]
    assert campaigns[DEMO][11] == pytest.approx(3.8)                 # ROI 1:3.8 by formula


def test_open_actions_carry_owner_deadline_and_a_live_overdue_flag(book: Path, soffice: str) -> None:
    rows = recalculated_values(book)["改进跟踪"][3:]
    open_ = {r[2]: r for r in rows if r[2]}
    assert set(open_) == {"线下到店转化率未达标（90%）", "客服排队过长"}     # 已完成 ones are not open
    late = open_["客服排队过长"]
    assert (late[6], late[9]) == ("钱主管", "逾期")
    assert late[10] == 1                # one campaign (2024) started since: the fix was due before it


def test_recurring_root_causes_count_campaigns(book: Path) -> None:
    ws = openpyxl.load_workbook(book, data_only=True)["重复根因"]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=4)]
    assert rows == [["人力配置不足", 2, rows[0][2], f"2023夏季新品推广、{DEMO}"]]
    assert root_causes("人力配置不足，话术不统一") == ["人力配置不足", "话术不统一"]


def test_lessons_are_a_filterable_table_and_text_stays_text(book: Path) -> None:
    with zipfile.ZipFile(book) as z:
        tables = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/tables/")]
        charts = [z.read(n).decode() for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
    lessons = next(t for t in tables if 'name="tbl_p_lessons"' in t)
    assert "<autoFilter" in lessons and "可复用场景" in lessons
    assert sum("<c:lineChart>" in c for c in charts) == 2            # 曝光量 and 新品转化率 span campaigns
    ws = openpyxl.load_workbook(book)["经验库"]
    cells = {c.value: c.data_type for r in ws.iter_rows(min_row=4) for c in r if c.value}
    assert cells["=1+1 这样的公式文字"] == "s" and cells["@所有门店"] == "s" and cells["-"] == "s"


def test_portfolio_cli_and_bad_input(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "p.xlsx"
    result = CliRunner().invoke(main, ["portfolio", "--db", str(db), "-o", str(out), "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "3 campaigns" in result.output
    assert openpyxl.load_workbook(out).sheetnames[:3] == ["Overview", "Campaigns", "Goals"]
    again = CliRunner().invoke(main, ["portfolio", "--db", str(db), "-o", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output
    recent = CliRunner().invoke(main, ["portfolio", "--db", str(db), "-o", str(tmp_path / "r.xlsx"),
                                       "--since", "2023-01-01"])
    assert recent.exit_code == 0 and "2 campaigns, 5 goals" in recent.output
    with pytest.raises(RetroxlError, match="no campaigns that ended on or after 2030-01-01"):
        build_portfolio(db, tmp_path / "x.xlsx", since=date(2030, 1, 1))
    with pytest.raises(RetroxlError, match="no such archive"):
        build_portfolio(tmp_path / "none.db", tmp_path / "x.xlsx")
    empty = tmp_path / "empty.db"
    collect([], empty)
    with pytest.raises(RetroxlError, match="no campaigns"):
        build_portfolio(empty, tmp_path / "x.xlsx")
    assert not (tmp_path / "x.xlsx").exists()
