"""The review archive: collect, retroxl.read, the database's safety, and 往期 from history.

Figures are the reference's published ones (120% / 124% / 90%, 1:3.8, +50%) read back
from workbooks that retroxl wrote and LibreOffice recalculated where formulas matter.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_importer import write_seed
from workbook_cells import DEMO, campaign, grid_value

from retroxl import archive
from retroxl.archive import MIGRATIONS, SCHEMA_VERSION, TABLE_COLUMNS
from retroxl.cli import main
from retroxl.collect import collect
from retroxl.demo import demo_retrospective
from retroxl.errors import RetroxlError
from retroxl.generate import new_workbook, plan_workbook
from retroxl.history import load_history
from retroxl.libreoffice import recalculated_values
from retroxl.model import Retrospective

def test_the_progress_bar_leaves_stdout_to_the_json(books: Path, tmp_path: Path, capsys) -> None:
    collect([books], tmp_path / "bar.db", progress=True)
    out, err = capsys.readouterr()
    assert out == "" and err != ""


def test_collect_stores_the_published_figures(books: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    result = collect([books], db)
    assert sorted(p.name for p in result.added) == ["2022.xlsx", "2023.xlsx", "demo.xlsx"]
    assert not result.failed and not result.duplicates
    with archive.open(db) as a:
        assert a.schema_version == SCHEMA_VERSION
        c = a.query("SELECT * FROM campaigns WHERE campaign = ?", (DEMO,)).iloc[0]
        assert (c.start, c.end, c.owner, c.format, c.lang) == ("2024-06-01", "2024-06-15", "张经理", "standard", "zh")
        assert c.campaign_key == f"{DEMO}|2024-06-01"
        assert c.roi == pytest.approx(3.8) and c.cost_total == 1_000_000 and c.return_total == 3_800_000
        goals = a.query("SELECT goal, attainment FROM goals WHERE campaign_id = ? ORDER BY row", (int(c.id),))
        assert goals.goal.tolist() == ["线上曝光量", "新品销量", "新增会员数"]
        assert goals.attainment.round(4).tolist() == [1.2, 1.24, 0.9]
        ind = a.query("SELECT indicator, actual_n, attainment, variance FROM indicators WHERE campaign_id = ? "
                      "ORDER BY row", (int(c.id),))
        assert ind.attainment.round(3).tolist() == [1.2, 1.24, 1.267]          # published 120% / 124% / 127%
        assert ind.variance.round(2).tolist() == [0.5, 0.3, 0.25]              # published +50% / +30% / +25%
        assert ind.actual_n.iloc[2] == pytest.approx(3.8)                      # the ROI row links to 成本收益
        earlier = a.query("SELECT i.actual, i.actual_n FROM indicators i JOIN campaigns c ON c.id = i.campaign_id "
                          "WHERE c.campaign = '2023夏季新品推广' AND i.indicator = '曝光量'").iloc[0]
        assert (earlier.actual, earlier.actual_n) == ("80万次", 800_000)     # text as typed, number read from it
        actions = a.actions
        assert str(actions.deadline.dtype).startswith("datetime64")
        assert set(a.table("findings").columns) >= set(TABLE_COLUMNS["findings"])


def test_read_returns_typed_records_and_dataframes(books: Path) -> None:
    review = archive.read(books / "demo.xlsx", today=date(2024, 8, 1))
    assert review.campaign.name == DEMO and review.campaign.start == date(2024, 6, 1)
    assert review.campaign.roi == pytest.approx(3.8)
    assert list(review.goals.columns) == ["row", *TABLE_COLUMNS["goals"]]
    assert review.goals.attainment.round(2).tolist() == [1.2, 1.24, 0.9]
    assert str(review.actions.deadline.dtype).startswith("datetime64")
    # the 进行中 action due 2024-07-31 is overdue on 2024-08-01: retroxl validate reports it
    assert "R304" in review.findings.code.tolist()
    assert review.retrospective.info["campaign"] == DEMO


def test_recollect_skips_unchanged_and_replaces_changed(books: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    collect([books], db)
    again = collect([books], db)
    assert len(again.unchanged) == 3 and not again.added and not again.replaced
    retro = demo_retrospective()
    retro.tables["goals"] = retro.tables["goals"][:2]
    new_workbook(books / "demo.xlsx", retro, force=True)
    changed = collect([books], db)
    assert [p.name for p in changed.replaced] == ["demo.xlsx"] and len(changed.unchanged) == 2
    with archive.open(db) as a:
        assert len(a.campaigns) == 3
        assert a.query("SELECT count(*) AS n FROM goals g JOIN campaigns c ON c.id = g.campaign_id "
                       "WHERE c.campaign = ?", (DEMO,)).n[0] == 2


def test_duplicates_are_reported_and_not_stored_twice(books: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    shutil.copyfile(books / "demo.xlsx", books / "demo-copy.xlsx")            # the same bytes
    retro = demo_retrospective()
    retro.info["owner"] = "李主管"
    new_workbook(books / "demo-v2.xlsx", retro)                               # the same campaign, edited
    result = collect([books], db)
    assert len(result.added) == 3
    reasons = sorted(why for _, _, why in result.duplicates)
    assert reasons == ["the same campaign (name and start date)", "the same content"]
    with archive.open(db) as a:
        assert a.query("SELECT count(*) AS n FROM campaigns WHERE campaign = ?", (DEMO,)).n[0] == 1


def test_same_name_in_two_years_is_two_campaigns(tmp_path: Path) -> None:
    for year in (2023, 2024):
        new_workbook(tmp_path / f"{year}.xlsx", campaign("双11大促", date(year, 11, 1), date(year, 11, 11),
                                                         [("销售额", "元", 100, 120)]))
    result = collect([tmp_path / "2023.xlsx", tmp_path / "2024.xlsx"], tmp_path / "a.db")
    assert len(result.added) == 2 and not result.duplicates


def test_a_moved_file_keeps_its_rows(books: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    collect([books], db)
    (books / "demo.xlsx").rename(books / "2024夏季.xlsx")
    result = collect([books], db)
    assert [(a.name, b.name) for a, b in result.moved] == [("demo.xlsx", "2024夏季.xlsx")]
    with archive.open(db) as a:
        files = sorted(Path(f).name for f in a.campaigns.file)
    assert files == ["2022.xlsx", "2023.xlsx", "2024夏季.xlsx"]


def test_unreadable_files_are_listed_and_the_rest_go_in(books: Path, tmp_path: Path) -> None:
    (books / "truncated.xlsx").write_bytes((books / "demo.xlsx").read_bytes()[:5000])
    (books / "table.xlsx").write_text("活动名称,负责人\n双11,张经理\n", encoding="utf-8")
    (books / "~$demo.xlsx").write_bytes(b"owner file Excel leaves while a book is open")
    new_workbook(books / "noname.xlsx", Retrospective())
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active["A1"] = "销售日报"
    wb.save(books / "foreign.xlsx")
    result = collect([books, tmp_path / "missing.xlsx"], tmp_path / "a.db")
    assert len(result.added) == 3
    why = {p.name: reason for p, reason in result.failed}
    assert set(why) == {"truncated.xlsx", "table.xlsx", "noname.xlsx", "foreign.xlsx", "missing.xlsx"}
    assert "damaged" in why["truncated.xlsx"] and "text or CSV" in why["table.xlsx"]
    assert "活动名称" in why["noname.xlsx"] and "none of the four retrospective tables" in why["foreign.xlsx"]
    assert all("\n" not in r for r in why.values())


def test_summaries_and_campaign_lists_are_not_taken_for_reviews(books: Path, tmp_path: Path) -> None:
    from retroxl.batch import batch
    from retroxl.portfolio import build_portfolio

    db = tmp_path / "a.db"
    collect([books], db)
    build_portfolio(db, books / "汇总.xlsx")                       # retroxl's portfolio, saved among the books
    (books / "plans").mkdir()
    (books / "plans" / "list.csv").write_text(
        "活动名称,开始日期,结束日期,负责人\n2025春季上新,2025-03-01,2025-03-10,张经理\n", encoding="utf-8")
    batch(books / "plans" / "list.csv", books / "plans")          # one prefilled workbook and the index 汇总.xlsx
    result = collect([books], db)
    why = {str(p.relative_to(books)): reason for p, reason in result.skipped}
    assert "is a retroxl portfolio" in why.pop("汇总.xlsx")
    assert "a list of campaigns" in why.pop("plans/汇总.xlsx")
    assert not why and not result.failed and [p.name for p in result.added] == ["2025春季上新.xlsx"]
    cli = CliRunner().invoke(main, ["collect", str(books), "--db", str(db)])
    assert cli.exit_code == 0 and "2 not reviews" in cli.output


def test_seed_format_workbooks_are_collected_through_the_importer(tmp_path: Path) -> None:
    seed = write_seed(tmp_path / "old.xlsx")
    result = collect([seed], tmp_path / "a.db")
    assert result.added == [seed.resolve()]
    with archive.open(tmp_path / "a.db") as a:
        c = a.campaigns.iloc[0]
        assert (c.campaign, c.format, c.start.date(), c.end.date()) == (DEMO, "seed", date(2024, 6, 1),
                                                                          date(2024, 6, 15))
        assert a.goals.attainment.round(2).tolist() == [1.2, 1.24, 0.9]    # the packed 表1 row, unpacked
        assert a.actions.deadline_text.tolist() == ["下次活动前", "3个工作日内"]


def test_parallel_workers_store_the_same_rows(tmp_path: Path) -> None:
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(20):
        new_workbook(folder / f"c{i:02}.xlsx", campaign(f"门店{i}", date(2023, 1, 1 + i), date(2023, 2, 1),
                                                         [("销售额", "元", 100 + i, 90 + 2 * i)]))
    one = collect([folder], tmp_path / "one.db", jobs=1)
    two = collect([folder], tmp_path / "two.db", jobs=2)
    assert len(one.added) == len(two.added) == 20
    query = ("SELECT c.campaign, i.indicator, i.attainment FROM indicators i JOIN campaigns c ON c.id = i.campaign_id "
             "ORDER BY 1, 2")
    with archive.open(tmp_path / "one.db") as a, archive.open(tmp_path / "two.db") as b:
        assert a.query(query).equals(b.query(query))


def test_a_failed_batch_leaves_earlier_batches_and_nothing_half_written(books: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import retroxl.collect as collect_module

    real, calls = collect_module.store, []

    def failing(conn, reviews):
        calls.append(len(reviews))
        real(conn, reviews)
        if len(calls) == 2:    # the second batch fails after writing part of its rows
            raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(collect_module, "store", failing)
    db = tmp_path / "a.db"
    with pytest.raises(RetroxlError, match="disk I/O error"):
        collect([books], db, batch_size=2)
    with archive.open(db) as a:
        assert len(a.campaigns) == 2                       # the first batch, whole
        assert len(a.goals) == a.query("SELECT count(*) AS n FROM goals").n[0]
        assert set(a.goals.campaign_id) == set(a.campaigns.id)


def test_a_locked_archive_gives_one_clear_line(books: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "a.db"
    collect([books / "2022.xlsx"], db)
    monkeypatch.setattr(archive, "BUSY_TIMEOUT", 0.2)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")       # another collect, mid-write
    try:
        result = CliRunner().invoke(main, ["collect", str(books), "--db", str(db)])
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 2
    assert "is locked by another program" in result.output and "Traceback" not in result.output
    with archive.open(db) as a:
        assert len(a.campaigns) == 1


def test_an_older_archive_is_migrated_and_keeps_its_data(books: Path, tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db)
    conn.executescript(MIGRATIONS[1])   # the first released schema
    conn.execute("INSERT INTO campaigns (file, hash, size, collected_at, format, campaign, start, campaign_key) "
                 "VALUES ('/old/2021.xlsx', 'abc', 1, '2022-01-01', 'standard', '2021夏季', '2021-06-01', "
                 "'2021夏季|2021-06-01')")
    conn.execute("INSERT INTO goals (campaign_id, row, goal, attainment) VALUES (1, 1, '曝光量', 1.1)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    result = collect([books / "demo.xlsx"], db)
    assert len(result.added) == 1
    with archive.open(db) as a:
        assert a.schema_version == SCHEMA_VERSION
        assert sorted(a.campaigns.campaign) == ["2021夏季", DEMO]
        assert a.query("SELECT attainment FROM goals WHERE campaign_id = 1").attainment.tolist() == [1.1]
        assert "campaign_type" in a.campaigns.columns


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"not a database at all, but some text" * 100), "not a retroxl archive"),
    (lambda p: sqlite3.connect(p).execute("CREATE TABLE orders (id)").connection.commit(),
     "SQLite database but not a retroxl archive"),
    (lambda p: sqlite3.connect(p).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}").connection.commit(),
     "newer retroxl"),
])
def test_a_foreign_or_newer_database_is_refused_untouched(tmp_path: Path, make, message: str) -> None:
    db = tmp_path / "x.db"
    make(db)
    before = db.read_bytes()
    with pytest.raises(RetroxlError, match=message):
        archive.open(db)
    assert db.read_bytes() == before


def test_open_needs_an_existing_archive(tmp_path: Path) -> None:
    with pytest.raises(RetroxlError, match="no such archive"):
        archive.open(tmp_path / "typo.db")
    assert not (tmp_path / "typo.db").exists()


def test_collect_cli_lists_problems_and_exits_1(books: Path, tmp_path: Path) -> None:
    (books / "bad.xlsx").write_bytes(b"PK\x03\x04broken")
    db = tmp_path / "a.db"
    result = CliRunner().invoke(main, ["collect", str(books), "--db", str(db), "--json"])
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert len(out["added"]) == 3 and [Path(f["file"]).name for f in out["failed"]] == ["bad.xlsx"]
    again = CliRunner().invoke(main, ["collect", str(books / "demo.xlsx"), "--db", str(db)])
    assert again.exit_code == 0 and "1 unchanged" in again.output


# ----------------------------------------------------------------- history (往期)

def test_history_fills_previous_from_the_latest_earlier_campaign(books: Path, tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    collect([books], db)
    history = load_history(db)
    nxt = campaign("2025夏季新品推广", date(2025, 6, 1), date(2025, 6, 15),
                   [("曝光量", "次", 1_300_000, 1_500_000), ("新品转化率", "%", 0.06, 0.07, 0.05),
                    ("新品转化率", "人", 10, 12), ("复购率", "%", 0.2, 0.25)])
    filled = history.fill(nxt)
    rows = filled.retro.rows("indicators")
    assert rows[0]["previous"] == 1_200_000          # 2024's 曝光量, not 2023's or 2022's
    assert rows[1]["previous"] == 0.05               # typed by a person: kept
    assert rows[2]["previous"] is None and rows[3]["previous"] is None   # other unit / never tracked
    assert [(c.row, c.previous.campaign) for c in filled.cells] == [(0, DEMO)]
    assert filled.cells[0].note("zh") == f"往期值取自「{DEMO}」（2024-06-01～2024-06-15）的实际值（复盘库）"
    # the 2024 campaign itself looks back to 2023, whose 曝光量 was typed as 80万次
    assert history.previous("曝光量", "次", before=date(2024, 6, 1)).value == 800_000
    assert history.previous("曝光量", "次", before=date(2022, 6, 1)) is None
    assert history.previous("曝光量", "次", before=None) is None


def test_history_respects_campaign_type_when_both_know_it(tmp_path: Path) -> None:
    new_workbook(tmp_path / "a.xlsx", campaign("门店A", date(2024, 1, 1), date(2024, 1, 5), [("销售额", "元", 1, 100)]))
    new_workbook(tmp_path / "b.xlsx", campaign("门店B", date(2024, 2, 1), date(2024, 2, 5), [("销售额", "元", 1, 200)]))
    db = tmp_path / "a.db"
    collect([tmp_path], db)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE campaigns SET campaign_type = '会员日' WHERE campaign = '门店B'")
        conn.execute("UPDATE campaigns SET campaign_type = '大促' WHERE campaign = '门店A'")
    history = load_history(db)
    assert history.previous("销售额", "元", before=date(2024, 3, 1), campaign_type="大促").value == 100
    assert history.previous("销售额", "元", before=date(2024, 3, 1), campaign_type="会员日").value == 200
    assert history.previous("销售额", "元", before=date(2024, 3, 1)).value == 200


def test_prefilled_previous_computes_change_in_libreoffice(books: Path, tmp_path: Path, soffice: str) -> None:
    """往期 filled from history on a second campaign: the workbook's own 环比 formula uses it."""
    db = tmp_path / "a.db"
    collect([books / "demo.xlsx"], db)
    nxt = campaign("2025夏季新品推广", date(2025, 6, 1), date(2025, 6, 15), [("曝光量", "次", 1_300_000, 1_500_000)])
    filled = load_history(db).fill(nxt)
    out = new_workbook(tmp_path / "2025.xlsx", filled.retro)
    layout = plan_workbook(filled.retro).layout
    tl = layout.tables["indicators"]
    grid = recalculated_values(out)
    assert grid_value(grid, tl.sheet, tl.first_row, tl.col("previous")) == 1_200_000
    assert grid_value(grid, tl.sheet, tl.first_row, tl.col("variance")) == pytest.approx(0.25)  # 150万 / 120万 − 1
