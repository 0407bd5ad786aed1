"""``retroxl batch``: prefilled workbooks for a campaign list, equal to what ``retroxl new`` writes."""

import csv
import json
import zipfile
from datetime import date, datetime
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest
import xlsxwriter
from click.testing import CliRunner

import retroxl.batch as batch_module
import retroxl.batch_index as batch_index
from retroxl.batch import INDEX_NAME, batch
from retroxl.books.fast_writer import WorkbookStamp
from retroxl.campaigns import read_campaigns, write_example
from retroxl.cli import main
from retroxl.errors import RetroxlError
from retroxl.generate import new_workbook
from retroxl.layout import make_layout
from retroxl.libreoffice import recalculated_values
from retroxl.model import Retrospective
from retroxl.schedule import make_schedule
from retroxl.template import load_template

TODAY = date(2025, 3, 3)
GOAL_COLUMNS = 7   # more than the template's five rows: those campaigns need a longer 表1

# Row 2 is the reference's published 表1 row; the others reach the corners: text targets,
# English choices in a Chinese book, no end date, dates beyond the holiday data, seven
# goals, text that looks like a formula, text that XML must escape or that looks like rich text.
CAMPAIGNS = [
    ["2024夏季新品推广", "2024-06-01", "2024-06-15", "张经理",
     "线上曝光量", "次", "越高越好", "100万次", "新品销量", "件", "越高越好", "5000件", "新增会员数", "人", "越高越好",
     "2000人"],
    ["2024双11大促", "2024年11月1日", "2024年11月11日", "李主管",
     "投入产出比", "1:x", "越高越好", "1:3", "退货率", "%", "Lower is better", "5%", "成交额", "万元", "越高越好", "1500"],
    ["=SUM(1,2)", "2024/07/01", "2024/07/05", "@张三", "-退货", "+次", "越低越好", "+5", "@目标", "", "", "-3"],
    ["会员日", "2024-07-18", "", "赵运营", "新增会员数", "人", "越高越好", "2千"],
    ["2031新年活动", "2030-12-20", "2031-01-05", "钱主管"],
    ["全渠道周年庆", "20240901", "20240930", "孙总"] +
    [x for k in range(1, GOAL_COLUMNS + 1) for x in (f"目标{k}", "单", "越高越好", str(100 * k))],
    ["_x0041_ 转义 \x01", "2024-08-01", "2024-08-02", "周"],
    ["<r>x</r>", "2024-08-03", "2024-08-04", "吴"],          # XlsxWriter's marker for ready-made rich text
    ["非字符\uffff", "2024-08-05", "2024-08-06", "郑"],      # not a character XML may hold
]


def write_list(path: Path, rows, goals: int = GOAL_COLUMNS, encoding: str = "utf-8-sig") -> Path:
    header = ["活动名称", "开始日期", "结束日期", "负责人"]
    for k in range(1, goals + 1):
        header += [f"核心目标{k}", f"单位{k}", f"方向{k}", f"目标值{k}"]
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def retrospective(campaign) -> Retrospective:
    """The campaign as `retroxl new` would be given it."""
    return Retrospective(dict(campaign.info), {"goals": campaign.goals} if campaign.goals else {})


# ---------------------------------------------------------------- comparing two workbooks
def snapshot(path: Path) -> dict:
    """Everything openpyxl sees: cells (value, type, cached result, format), merges, validation,
    conditional formats, tables, columns, panes, defined names."""
    formulas, values = openpyxl.load_workbook(path), openpyxl.load_workbook(path, data_only=True)
    out: dict = {"names": sorted((n, d.attr_text) for n, d in formulas.defined_names.items()),
                 "sheets": formulas.sheetnames}
    for ws in formulas.worksheets:
        cached = values[ws.title]
        for row in ws.iter_rows():
            for c in row:
                if c.value is None and not c.has_style:
                    continue
                out[(ws.title, c.coordinate)] = (c.value, c.data_type, cached[c.coordinate].value, c.number_format,
                                                 *map(repr, (c.font, c.fill, c.border, c.alignment, c.protection)))
        out[(ws.title, "merged")] = sorted(str(r) for r in ws.merged_cells.ranges)
        out[(ws.title, "validation")] = sorted((str(v.sqref), v.type, v.formula1, v.formula2, v.error)
                                               for v in ws.data_validations.dataValidation)
        out[(ws.title, "conditional")] = sorted((str(rng.sqref), r.formula, r.dxfId, r.priority)
                                                for rng in ws.conditional_formatting for r in rng.rules)
        out[(ws.title, "tables")] = sorted((t.name, t.ref, [c.name for c in t.tableColumns])
                                           for t in ws.tables.values())
        out[(ws.title, "columns")] = sorted((k, d.width, d.hidden) for k, d in ws.column_dimensions.items())
        out[(ws.title, "rows")] = sorted((k, d.height) for k, d in ws.row_dimensions.items() if d.height)
        out[(ws.title, "view")] = (ws.freeze_panes, ws.print_title_rows, ws.page_setup.orientation)
    return out


def assert_same_workbook(fast: Path, slow: Path) -> None:
    a, b = snapshot(fast), snapshot(slow)
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b), key=str)[:10]
    diff = [(k, a[k], b[k]) for k in a if a[k] != b[k]]
    assert not diff, diff[:5]
    # What openpyxl cannot see (charts, drawings, styles, table parts) is the rendered bytes.
    with zipfile.ZipFile(fast) as za, zipfile.ZipFile(slow) as zb:
        assert za.namelist() == zb.namelist()
        for name in za.namelist():
            if not name.startswith("xl/worksheets/sheet") and name != "xl/sharedStrings.xml":
                assert za.read(name) == zb.read(name), name


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One batch over CAMPAIGNS, and `new_workbook` for each of the same campaigns."""
    root = tmp_path_factory.mktemp("batch")
    lst = write_list(root / "活动清单.csv", CAMPAIGNS)
    result = batch(lst, root / "out", today=TODAY)
    (root / "new").mkdir()
    slow = {o.file: new_workbook(root / "new" / o.file, retrospective(c), today=TODAY)
            for c, o in zip(read_campaigns(lst, load_template()).campaigns, result.outcomes)}
    return result, slow


def test_every_campaign_gets_the_workbook_retroxl_new_writes(made):
    result, slow = made
    assert result.ok and [o.status for o in result.outcomes] == ["written"] * len(CAMPAIGNS)
    for o in result.outcomes:
        assert_same_workbook(result.outdir / o.file, slow[o.file])


def test_prefilled_header_goals_and_schedule(made):
    result, _ = made
    tpl = load_template()
    layout = make_layout(tpl)
    wb = openpyxl.load_workbook(result.outdir / "2024夏季新品推广.xlsx")
    info = wb[layout.sheets["info"]]
    cell = {k: info.cell(fl.row + 1, fl.col + 1).value for k, fl in layout.fields.items() if fl.sheet == info.title}
    assert cell["campaign"] == "2024夏季新品推广" and cell["owner"] == "张经理"
    assert cell["start"].date() == date(2024, 6, 1) and cell["end"].date() == date(2024, 6, 15)
    goals = layout.tables["goals"]
    sheet = wb[goals.sheet]
    rows = [[sheet.cell(goals.first_row + i + 1, goals.col(k) + 1).value for k in ("goal", "unit", "target")]
            for i in range(3)]
    assert rows == [["线上曝光量", "次", "100万次"], ["新品销量", "件", "5000件"], ["新增会员数", "人", "2000人"]]
    due = [r[0].date() for r in info.iter_rows(min_row=layout.steps_row + 3, max_row=layout.steps_row + 8,
                                               min_col=4, max_col=4, values_only=True)]
    assert due == make_schedule(tpl, date(2024, 6, 15)).due
    assert due[0] == date(2024, 6, 18)          # two working days after Saturday 15 June (端午 is 10 June)


def test_libreoffice_computes_the_same_values(made, soffice):
    result, slow = made
    layout = make_layout(load_template())
    goals = layout.tables["goals"]
    computed = {}
    for name in ("2024夏季新品推广.xlsx", "2024双11大促.xlsx", "全渠道周年庆.xlsx"):
        computed[name] = recalculated_values(result.outdir / name)
        assert computed[name] == recalculated_values(slow[name]), name
    # The reference's targets 100万次/5000件/2000人, as the workbook's hidden number column computed them.
    rows = computed["2024夏季新品推广.xlsx"][goals.sheet]
    assert [rows[goals.first_row + i][goals.col("target_n")] for i in range(3)] == [1_000_000, 5000, 2000]


def test_text_that_looks_like_a_formula_stays_text(made):
    result, _ = made
    o = next(o for o in result.outcomes if o.campaign == "=SUM(1,2)")
    wb = openpyxl.load_workbook(result.outdir / o.file)
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert {c.value for c in cells if c.data_type == "s" and c.value[:1] in "=+-@"} == \
        {"=SUM(1,2)", "@张三", "-退货", "+次", "@目标"}
    assert not [c.value for c in cells if c.data_type == "f" and "SUM(1,2)" in c.value]
    index = openpyxl.load_workbook(result.outdir / INDEX_NAME).active
    assert [(c.value, c.data_type) for c in index["B"] if c.value == "=SUM(1,2)"] == [("=SUM(1,2)", "s")]


def test_index_links_every_workbook_with_schedule_and_status(made):
    result, _ = made
    tpl = load_template()
    ws = openpyxl.load_workbook(result.outdir / INDEX_NAME).active
    header = [c.value for c in ws[1]]
    assert header[:7] == ["行号", "活动名称", "开始日期", "结束日期", "负责人", "模板", "文件"]
    assert header[-2:] == ["状态", "说明"] and header[7] == "复盘准备截止"
    for r, o in enumerate(result.outcomes, start=2):
        row = [c.value for c in ws[r]]
        assert row[0] == o.row and row[-2] == "已生成"
        assert row[1] == o.campaign.replace("\x01", "_x0001_").replace("\uffff", "_xFFFF_")   # openpyxl leaves
        # Excel's escapes as they are
        assert unquote(ws.cell(r, 7).hyperlink.target) == o.file and (result.outdir / o.file).is_file()
        due = [d.date() for d in row[7:13] if d]
        assert due == (make_schedule(tpl, o.end).due if o.end else [])


def test_same_list_same_bytes_in_one_process_or_several(tmp_path, monkeypatch):
    lst = write_list(tmp_path / "list.csv", CAMPAIGNS)
    monkeypatch.setattr(batch_module, "CHUNK", 2)      # several chunks, so the workers really run
    one = batch(lst, tmp_path / "one", today=TODAY)
    two = batch(lst, tmp_path / "two", jobs=2, today=TODAY)
    assert one.ok and two.ok
    files = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "two").iterdir())
    assert len(files) == len(CAMPAIGNS) + 1
    for name in files:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes(), name


def test_rerun_keeps_existing_files_and_fills_the_gaps(tmp_path):
    lst = write_list(tmp_path / "list.csv", CAMPAIGNS)
    out = tmp_path / "out"
    first = batch(lst, out, today=TODAY)
    files = [o.file for o in first.outcomes]
    original = {f: (out / f).read_bytes() for f in files}
    (out / files[0]).write_bytes(b"what a person typed")          # edited since
    (out / files[1]).unlink()                                      # the run stopped before this one

    again = batch(lst, out, today=TODAY)
    assert [o.status for o in again.outcomes] == ["skipped", "written"] + ["skipped"] * (len(files) - 2)
    assert (out / files[0]).read_bytes() == b"what a person typed"
    assert (out / files[1]).read_bytes() == original[files[1]]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]   # no temporary files left

    forced = batch(lst, out, overwrite=True, today=TODAY)
    assert {o.status for o in forced.outcomes} == {"overwritten"}
    assert {f: (out / f).read_bytes() for f in files} == original


def test_dry_run_writes_nothing(tmp_path):
    lst = write_list(tmp_path / "list.csv", CAMPAIGNS[:2])
    result = batch(lst, tmp_path / "out", dry_run=True)
    assert [o.status for o in result.outcomes] == ["written", "written"] and result.index is None
    assert not (tmp_path / "out").exists()
    assert "would write 2" in result.summary()


BAD_ROWS = [
    ["", "2024-01-01", "2024-01-02", "无名"],
    ["日期错", "2024-13-01", "2024-12-02", "a"],
    ["倒序", "2024-03-01", "2024-02-01", "a"],
    ["目标错", "2024-01-01", "2024-01-02", "a", "曝光", "次", "越高越好", "很多"],
    ["方向错", "2024-01-01", "2024-01-02", "a", "曝光", "次", "越快越好", "100"],
    ["正常", "2024-01-01", "2024-01-02", "a"],
    ["正常", "2024-01-01", "2024-01-02", "b"],
]


def test_bad_rows_are_reported_and_the_rest_written(tmp_path):
    lst = write_list(tmp_path / "list.csv", BAD_ROWS, goals=1)
    result = CliRunner().invoke(main, ["batch", str(lst), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1
    errors = {int(line.split()[2]): line for line in result.stderr.splitlines() if line.startswith("retroxl: row")}
    assert sorted(errors) == [2, 3, 4, 5, 6, 8]
    assert "no campaign name" in errors[2] and "unreadable date" in errors[3]
    assert "end date before start date" in errors[4] and "很多" in errors[5]
    assert "越快越好" in errors[6] and "duplicate of row 7" in errors[8]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["正常.xlsx", INDEX_NAME]
    assert "7 rows: wrote 1, kept 0 existing, 6 failed (rows 2, 3, 4, 5, 6, 8)" in result.stdout
    index = openpyxl.load_workbook(tmp_path / "out" / INDEX_NAME).active
    statuses = [(r[0], r[-2]) for r in index.iter_rows(min_row=2, values_only=True)]
    assert statuses == [(2, "失败"), (3, "失败"), (4, "失败"), (5, "失败"), (6, "失败"), (7, "已生成"), (8, "失败")]


def test_unsafe_names_stay_inside_the_folder(tmp_path):
    names = ["../../逃逸", "/etc/passwd", "C:\\Windows\\x", "CON", "con", "汇总", "名" * 300, "尾点. . ",
             "大小写", "大小写".upper() + "A", "a" * 5]
    rows = [[n, "2024-01-01", f"2024-01-{i + 2:02d}", "a"] for i, n in enumerate(names)]
    out = tmp_path / "out"
    result = batch(write_list(tmp_path / "list.csv", rows, goals=0), out)
    assert result.ok
    files = [o.file for o in result.outcomes]
    assert len(set(f.casefold() for f in files)) == len(names) and INDEX_NAME not in files
    assert sorted(p.name for p in out.iterdir()) == sorted(files + [INDEX_NAME])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["list.csv", "out"]
    assert files[3:6] == ["_CON.xlsx", "_con (2).xlsx", "汇总 (2).xlsx"]
    for f in files:
        assert len(f.encode()) <= 255 and not f.startswith(".") and "/" not in f and "\\" not in f


def test_example_then_batch_from_the_command_line(tmp_path):
    runner = CliRunner()
    with runner.isolated_filesystem(temp_dir=tmp_path):
        assert runner.invoke(main, ["batch", "--example"]).output == "wrote 活动清单.csv\n"
        again = runner.invoke(main, ["batch", "--example"])
        assert again.exit_code == 2 and "--overwrite" in again.stderr
        result = runner.invoke(main, ["batch", "活动清单.csv", "-o", "复盘", "--json"])
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["counts"]["written"] == 4 and report["ok"]
        assert sorted(p.name for p in Path("复盘").iterdir()) == sorted(
            [r["file"] for r in report["rows"]] + [INDEX_NAME])
        rerun = runner.invoke(main, ["batch", "活动清单.csv", "-o", "复盘"])
        assert rerun.exit_code == 0 and "wrote 0, kept 4 existing, 0 failed" in rerun.stdout


def test_progress_is_reported(tmp_path):
    calls = []
    batch(write_list(tmp_path / "l.csv", CAMPAIGNS[:3]), tmp_path / "o", progress=lambda d, t: calls.append((d, t)))
    assert calls[0] == (0, 3) and calls[-1] == (3, 3)


def test_english_headers_period_and_gbk(tmp_path):
    rows = [["Campaign", "Period", "Owner", "Core goal 1", "Target 1", "Direction 1", "Remarks"],
            ["Spring sale", "2024.03.01-03.15", "Ann", "Reach", "1.2万", "Higher is better", "x"]]
    lst = tmp_path / "en.csv"
    with open(lst, "w", encoding="gb18030", newline="") as f:
        csv.writer(f).writerows(rows)
    result = batch(lst, tmp_path / "out", lang="en", today=TODAY)
    assert result.ok and result.unused_columns == ["Remarks"]
    o = result.outcomes[0]
    assert (o.start, o.end) == (date(2024, 3, 1), date(2024, 3, 15))
    c = read_campaigns(lst, load_template()).campaigns[0]
    slow = new_workbook(tmp_path / "new.xlsx", retrospective(c), lang="en", today=TODAY)
    assert_same_workbook(tmp_path / "out" / o.file, slow)


def test_spreadsheet_list_with_a_title_line_and_date_cells(tmp_path):
    path = tmp_path / "list.xlsx"
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet()
    day = wb.add_format({"num_format": "yyyy-mm-dd"})
    ws.write_string(0, 0, "2024 年活动计划")
    ws.write_row(2, 0, ["活动名称（必填）", "开始日期", "结束日期", "负责人", "模板", "核心目标（1-3项）", "目标值 1"])
    ws.write_string(3, 0, "七夕")
    ws.write_datetime(3, 1, date(2024, 8, 10), day)
    ws.write_datetime(3, 2, date(2024, 8, 12), day)
    ws.write_row(3, 3, ["周", "standard", "成交"])
    ws.write_number(3, 6, 5000)
    ws.write_row(4, 0, ["中秋", "2024-09-15", "2024-09-17", "吴", "节日专用"])
    wb.close()
    listing = read_campaigns(path, load_template(), ["standard"])
    (c,) = listing.campaigns
    assert c.row == 4 and c.info["end"] == date(2024, 8, 12) and c.goals == [{"goal": "成交", "target": 5000}]
    assert c.template == "standard"
    (bad,) = listing.bad
    assert bad.row == 5 and "节日专用" in bad.reason


def test_a_list_without_a_name_column_is_refused(tmp_path):
    lst = tmp_path / "x.csv"
    lst.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(RetroxlError, match="no 活动名称"):
        batch(lst, tmp_path / "out")
    result = CliRunner().invoke(main, ["batch", str(lst), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and result.stderr.startswith("retroxl: error:")


def test_past_the_hyperlink_limit_links_are_formulas(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_index, "URL_LIMIT", 1)
    result = batch(write_list(tmp_path / "l.csv", CAMPAIGNS[:2]), tmp_path / "o")
    ws = openpyxl.load_workbook(result.index).active
    assert unquote(ws["G2"].hyperlink.target) == result.outcomes[0].file
    assert ws["G3"].value == f'=HYPERLINK("{result.outcomes[1].file}","{result.outcomes[1].file}")'


def test_values_seen_before_are_stamped_as_faithfully(tmp_path):
    """The stamp keeps each changed cell's XML by value: a campaign whose goals, dates and schedule
    repeat an earlier one's (and one whose figures differ in type only) gets the same workbook as `retroxl new`."""
    first = CAMPAIGNS[0]
    rows = [first, ["复刻", *first[1:]], ["同日", *first[1:4], "新品销量", "件", "越高越好", "5000", "线上曝光量", "次",
                                         "越高越好", "100万次"], ["同日 2", *first[1:4], "新品销量", "件", "越高越好", "5000.0"]]
    result = batch(write_list(tmp_path / "l.csv", rows), tmp_path / "o", today=TODAY)
    assert result.ok
    for c, o in zip(read_campaigns(tmp_path / "l.csv", load_template()).campaigns, result.outcomes):
        assert_same_workbook(result.outdir / o.file, new_workbook(tmp_path / f"new-{o.file}", retrospective(c),
                                                                   today=TODAY))


def test_index_shows_dates_panes_filter_widths_and_failed_rows(tmp_path):
    """汇总.xlsx is written as XML text: what it shows is checked as a reader sees it."""
    rows = [["A & B <促销> \"引号\"", "2024-06-01", "2024-06-15", " 前后空格 "], BAD_ROWS[2], ["无日期", "", "", "钱"]]
    result = batch(write_list(tmp_path / "l.csv", rows, goals=0), tmp_path / "o", lang="en", today=TODAY)
    wb = openpyxl.load_workbook(result.index)
    ws = wb.active
    assert ws.title == "Index" and ws.freeze_panes == "C2" and ws.auto_filter.ref == "A1:O4"
    assert [ws.column_dimensions[c].width for c in "ABG"] == [pytest.approx(w + 0.7109375) for w in (6, 28, 32)]
    assert [c.value for c in ws[2]][:7] == [2, rows[0][0], datetime(2024, 6, 1), datetime(2024, 6, 15),
                                            result.outcomes[0].owner, "standard", result.outcomes[0].file]
    assert ws["C2"].number_format == "yyyy-mm-dd" and ws["H2"].value.date() == make_schedule(
        load_template(), date(2024, 6, 15)).due[0]
    assert ws["G2"].font.u == "single" and unquote(ws["G2"].hyperlink.target) == result.outcomes[0].file
    failed = ws[3]
    assert [failed[0].value, failed[-2].value] == [3, "failed"] and "end date before start date" in failed[-1].value
    assert failed[-2].fill.fgColor.rgb == "FFFFC7CE" and failed[6].value is None and failed[6].hyperlink is None
    assert [c.value for c in ws[4]][2:4] == [None, None] and ws[4][13].value == "written"
    assert ws.max_row == 4 and [c.value for c in ws[1]][-2:] == ["Status", "Note"]


def test_index_reads_the_same_in_libreoffice(tmp_path, monkeypatch, soffice):
    monkeypatch.setattr(batch_index, "URL_LIMIT", 2)      # the third row's link is a HYPERLINK formula
    result = batch(write_list(tmp_path / "l.csv", CAMPAIGNS[:3] + BAD_ROWS[:1]), tmp_path / "o", today=TODAY)
    ours = [list(r) for r in openpyxl.load_workbook(result.index, data_only=True).active.iter_rows(values_only=True)]
    (theirs,) = recalculated_values(result.index).values()
    assert theirs == ours and theirs[3][6] == result.outcomes[2].file and theirs[4][-2] == "失败"


def test_example_lists_read_back(tmp_path):
    tpl = load_template()
    for name, lang in (("a.csv", "zh"), ("b.xlsx", "zh"), ("c.csv", "en")):
        listing = read_campaigns(write_example(tmp_path / name, tpl, lang=lang), tpl, ["standard"])
        assert [c.name for c in listing.campaigns][:2] == ["2024夏季新品推广", "2024双11大促"]
        assert not listing.bad and not listing.unused_columns
        assert listing.campaigns[0].goals[0] == {"goal": "线上曝光量", "unit": "次" if lang == "zh" else "times",
                                                 "direction": "越高越好" if lang == "zh" else "Higher is better",
                                                 "target": "100万"}


def test_a_team_template_is_stamped_as_faithfully(tmp_path):
    """The fast path follows the template: other headers, fewer rows, an extra column."""
    text = (Path(load_template().path)).read_text(encoding="utf-8")
    text = text.replace('rows = 5', 'rows = 3', 1).replace('header = { zh = "核心目标", en = "Core goal" }',
                                                           'header = { zh = "目标名称", en = "Goal" }', 1)
    text = text.replace('[[sheets.columns]]\nkey = "unit"', '[[sheets.columns]]\nkey = "memo"\n'
                        'header = { zh = "备注", en = "Memo" }\ntype = "text"\nwidth = 20\n\n'
                        '[[sheets.columns]]\nkey = "unit"', 1)
    team = tmp_path / "team.toml"
    team.write_text(text, encoding="utf-8")
    lst = tmp_path / "list.csv"
    lst.write_text("活动名称,结束日期,目标名称1,备注1,目标值1,目标名称2,目标值2,目标名称3,目标值3,目标名称4,目标值4\n"
                   "团队活动,2024-05-31,曝光,首发,10万,销量,300,会员,50,复购,5%\n"
                   "小活动,2024-06-28,曝光,,2万\n", encoding="utf-8")
    result = batch(lst, tmp_path / "out", template=team, today=TODAY)
    assert result.ok
    for c, o in zip(read_campaigns(lst, load_template(team)).campaigns, result.outcomes):
        slow = new_workbook(tmp_path / f"new-{o.file}", retrospective(c), template=team, today=TODAY)
        assert_same_workbook(result.outdir / o.file, slow)
    goals = make_layout(load_template(team)).tables["goals"]
    sheet = openpyxl.load_workbook(result.outdir / "团队活动.xlsx")[goals.sheet]
    assert sheet.cell(goals.first_row + 1, goals.col("memo") + 1).value == "首发"
    assert sheet.cell(goals.first_row + 4, goals.col("goal") + 1).value == "复购"     # 表1 grew to four rows


def indicator_rows(n: int, numeric_labels: bool = False) -> list[dict]:
    """表2 rows as batch --history adds them, some with actuals (so the charts cache 达成率 figures too):
    text and number targets, a percent, a zero target (the 非数值 marker), an actual that is text."""
    kinds = [("次", "越高越好", "120万次", 1_500_000), ("人", "越高越好", 2000, 1800), ("%", "越低越好", 0.05, 0.04),
             ("次", "越高越好", 0, 3), ("件", "越高越好", "5000件", "很多"), ("元", "越低越好", 100, None)]
    rows = []
    for k in range(n):
        unit, direction, target, actual = kinds[k % len(kinds)]
        rows.append({"indicator": k + 1 if numeric_labels else f"指标{k + 1} & <{unit}>", "unit": unit,
                     "direction": direction, "target": target, "previous": 1000.0 * (k + 1),
                     **({"actual": actual} if actual is not None else {})})
    return rows


@pytest.mark.parametrize("rows, numeric_labels", [(1, False), (3, False), (12, False), (12, True)])
def test_table2_rows_are_stamped_with_the_dashboard_charts_as_new_writes_them(tmp_path, rows, numeric_labels):
    """batch --history adds 表2 rows, which the dashboard's chart data links to: the stamp rewrites the
    charts' cached names, categories and values byte for byte as XlsxWriter writes them (12 rows: more
    than the template's 10; numbers as every category: XlsxWriter writes the chart otherwise, and the
    stamp hands such a workbook to XlsxWriter)."""
    tpl = load_template()
    retro = Retrospective({"campaign": "2025夏季新品推广", "start": date(2025, 6, 1), "end": date(2025, 6, 15)},
                          {"goals": [{"goal": "线上曝光量", "unit": "次", "target": "150万次"}],
                           "indicators": indicator_rows(rows, numeric_labels)})
    sizes = {k: max(tl.rows, len(retro.rows(k))) for k, tl in make_layout(tpl).tables.items()}
    stamp = WorkbookStamp(make_layout(tpl, "zh", sizes), TODAY, frozenset({"goals", "indicators"}))
    assert len(stamp._charts) == 2       # both dashboard charts read 表2's chart data
    stamped = tmp_path / "stamped.xlsx"
    stamped.write_bytes(stamp.render(retro))
    assert_same_workbook(stamped, new_workbook(tmp_path / "new.xlsx", retro, today=TODAY))
    with zipfile.ZipFile(stamped) as z:
        chart = z.read("xl/charts/chart1.xml").decode()
    assert f'<c:ptCount val="{max(rows, 10)}"/>' in chart
    if not numeric_labels:
        assert "<c:v>指标1 &amp; &lt;次&gt;</c:v>" in chart and "<c:v>1.25</c:v>" in chart   # 150万 / 120万


def test_campaigns_without_table2_rows_need_no_chart_work():
    stamp = WorkbookStamp(make_layout(load_template()), TODAY, frozenset({"goals"}))
    assert stamp._charts == [] and stamp._ranges == {}
