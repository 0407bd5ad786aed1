"""往期 from the archive in the commands: ``recalc --history`` and ``batch --history``.

The archive holds the published example (2024: 曝光量 120万次) and two earlier
campaigns; a 2025 campaign must get 1,200,000 as its 往期值, a note naming
「2024夏季新品推广」, and a 环比 that LibreOffice computes from the workbook's own
formula as 150万 / 120万 − 1 = +25%.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from test_batch import assert_same_workbook, write_list
from workbook_cells import DEMO, campaign, cached, fill, formula, notes

import retroxl.batch as batch_module
from retroxl.batch import _add_notes as add_notes
from retroxl.batch import batch
from retroxl.books.base import HISTORY_AUTHOR, MARK_AUTHOR, Formula, Note
from retroxl.books.ooxml import OoxmlBook
from retroxl.books.fast_writer import WorkbookStamp
from retroxl.campaigns import read_campaigns
from retroxl.cli import main
from retroxl.collect import collect
from retroxl.generate import new_workbook, plan_workbook
from retroxl.history import load_history
from retroxl.layout import a1
from retroxl.libreoffice import recalculated_values
from retroxl.archive import read
from retroxl.model import Retrospective
from retroxl.recalc import recalc
from retroxl.template import load_template

NOTE = f"往期值取自「{DEMO}」（2024-06-01～2024-06-15）的实际值（复盘库）"


@pytest.fixture()
def db(books: Path, tmp_path: Path) -> Path:
    path = tmp_path / "复盘库.db"
    collect([books], path)
    return path


def next_campaign(tmp_path: Path) -> tuple[Path, object]:
    """2025: 曝光量 with no 往期, 新品转化率 with a typed 往期 of 5%, 复购率 never tracked before."""
    retro = campaign("2025夏季新品推广", date(2025, 6, 1), date(2025, 6, 15),
                     [("曝光量", "次", 1_300_000, 1_500_000), ("新品转化率", "%", 0.06, 0.07, 0.05),
                      ("复购率", "%", 0.2, 0.25)])
    return new_workbook(tmp_path / "2025.xlsx", retro), plan_workbook(retro).layout.tables["indicators"]


def cell(tl, row: int, key: str) -> str:
    return a1(tl.first_row + row, tl.col(key))


def test_recalc_fills_empty_previous_values_and_notes_their_source(db: Path, tmp_path: Path, soffice: str) -> None:
    book, tl = next_campaign(tmp_path)
    result = CliRunner().invoke(main, ["recalc", str(book), "--history", str(db)])
    assert result.exit_code == 0, result.output
    assert "1 往期值 filled" in result.output
    rows = read(book, validate=False).retrospective.rows("indicators")
    assert [r.get("previous") for r in rows[:3]] == [1_200_000, 0.05, None]   # typed 5% kept; 复购率 unknown
    assert notes(book, tl.sheet)[cell(tl, 0, "previous")] == (HISTORY_AUTHOR, f"{HISTORY_AUTHOR}:\n{NOTE}")
    # the cached 环比 (what readers that never calculate show) and LibreOffice's own agree: +25%
    assert cached(book, tl.sheet, cell(tl, 0, "variance")) == pytest.approx(0.25)
    assert recalculated_values(book)[tl.sheet][tl.first_row][tl.col("variance")] == pytest.approx(0.25)


def test_a_rerun_changes_nothing_and_a_plain_recalc_keeps_the_note(db: Path, tmp_path: Path) -> None:
    book, tl = next_campaign(tmp_path)
    recalc(book, history=db, today=date(2025, 6, 20))
    first = book.read_bytes()
    assert recalc(book, history=db, today=date(2025, 6, 20)).filled == []   # now a value: never replaced
    assert book.read_bytes() == first
    recalc(book, today=date(2025, 6, 20))                                    # marks go, the source note stays
    kept = notes(book, tl.sheet)
    assert kept[cell(tl, 0, "previous")][0] == HISTORY_AUTHOR
    assert all(author in (HISTORY_AUTHOR, MARK_AUTHOR) for author, _ in kept.values())


def test_a_missing_archive_is_one_line_and_the_book_is_untouched(tmp_path: Path) -> None:
    book, _ = next_campaign(tmp_path)
    before = book.read_bytes()
    result = CliRunner().invoke(main, ["recalc", str(book), "--history", str(tmp_path / "none.db")])
    assert result.exit_code == 2
    assert "no such archive" in result.output and "Traceback" not in result.output
    assert book.read_bytes() == before and not (tmp_path / "none.db").exists()


# ---------------------------------------------------------------- batch --history
def test_batch_prefills_previous_for_the_goals_history_knows(db: Path, tmp_path: Path, soffice: str) -> None:
    lst = write_list(tmp_path / "活动清单.csv", [
        ["2025夏季新品推广", "2025-06-01", "2025-06-15", "张经理", "线上曝光量", "次", "越高越好", "150万次",
         "新增会员数", "人", "越高越好", "2500", "复购率", "%", "越高越好", "20%"],
        ["2023春季上新", "2023-03-01", "2023-03-10", "李主管", "线上曝光量", "次", "越高越好", "80万次"]])
    result = CliRunner().invoke(main, ["batch", str(lst), "-o", str(tmp_path / "out"), "--history", str(db)])
    assert result.exit_code == 0, result.output
    assert "2 往期 from the archive" in result.output
    book = tmp_path / "out" / "2025夏季新品推广.xlsx"
    rows = [r for r in read(book, validate=False).retrospective.rows("indicators") if r]
    assert [(r["indicator"], r["unit"], r["target"], r["previous"]) for r in rows] == [
        ("线上曝光量", "次", "150万次", 1_200_000), ("新增会员数", "人", 2500, 1800)]   # the 2024 actuals
    tl = plan_workbook(read(book, validate=False).retrospective).layout.tables["indicators"]
    assert notes(book, tl.sheet)[cell(tl, 0, "previous")] == (
        HISTORY_AUTHOR, f"{HISTORY_AUTHOR}:\n{NOTE}")
    # 2023 comes before every campaign in the archive: nothing to prefill, no 表2 rows
    assert not any(read(tmp_path / "out" / "2023春季上新.xlsx", validate=False).retrospective.rows("indicators"))
    # once the actual is typed, the workbook's own 环比 uses the prefilled 往期: 180万 / 120万 − 1 = +50%
    typed = fill(book, tmp_path / "typed.xlsx", {tl.sheet: {cell(tl, 0, "actual"): 1_800_000}})
    grid = recalculated_values(typed)[tl.sheet]
    assert grid[tl.first_row][tl.col("variance")] == pytest.approx(0.5)
    assert grid[tl.first_row + 1][tl.col("variance")] in ("", None)        # no actual yet: no 环比


def test_batch_with_history_writes_what_new_writes_plus_the_notes(db: Path, tmp_path: Path, monkeypatch) -> None:
    """The workbook is stamped (表2 rows and the dashboard charts' caches rewritten), never built in full."""
    lst = write_list(tmp_path / "活动清单.csv", [
        ["2025夏季新品推广", "2025-06-01", "2025-06-15", "张经理", "线上曝光量", "次", "越高越好", "150万次",
         "新增会员数", "人", "越高越好", "2500"]])
    monkeypatch.setattr(batch_module, "_STAMPS", {})
    monkeypatch.setattr(WorkbookStamp, "_written", lambda *a: pytest.fail("built by XlsxWriter, not stamped"))
    result = batch(lst, tmp_path / "out", history=db, today=date(2025, 3, 3))
    assert [o.previous for o in result.outcomes] == [2]
    (stamp,) = batch_module._STAMPS.values()
    assert "indicators" in next(iter(batch_module._STAMPS))[-1] and len(stamp._chart_records) == 1
    history = load_history(db)
    c = read_campaigns(lst, load_template()).campaigns[0]
    filled = history.prefill(Retrospective(dict(c.info), {"goals": c.goals}))
    slow = new_workbook(tmp_path / "new.xlsx", filled.retro, today=date(2025, 3, 3))
    tl = plan_workbook(filled.retro).layout.tables["indicators"]
    add_notes(str(slow), [Note(tl.sheet, tl.first_row + f.row, tl.col(f.column), f.note("zh")) for f in filled.cells])
    assert_same_workbook(tmp_path / "out" / "2025夏季新品推广.xlsx", slow)


def test_a_formula_in_previous_is_never_replaced_even_when_it_shows_nothing(db: Path, tmp_path: Path) -> None:
    book, tl = next_campaign(tmp_path)
    row, col = tl.first_row, tl.col("previous")
    with OoxmlBook(book) as b:
        b.write_formulas(tl.sheet, row, col, [[Formula('=IF(TRUE,"","")', "")]])
        b.save(tmp_path / "formula.xlsx")
    result = recalc(tmp_path / "formula.xlsx", history=db, today=date(2025, 6, 20))
    assert result.filled == []
    assert formula(tmp_path / "formula.xlsx", tl.sheet, cell(tl, 0, "previous")) == '=IF(TRUE,"","")'


def test_an_old_finding_note_does_not_keep_the_source_note_away(db: Path, tmp_path: Path) -> None:
    book, tl = next_campaign(tmp_path)
    at = cell(tl, 0, "previous")
    zero = fill(book, tmp_path / "zero.xlsx", {tl.sheet: {at: 0}})      # 往期 0: a finding, noted on the cell
    recalc(zero, today=date(2025, 6, 20))
    assert notes(zero, tl.sheet)[at][0] == MARK_AUTHOR
    empty = fill(zero, tmp_path / "empty.xlsx", {tl.sheet: {at: ""}})   # the person empties it again
    recalc(empty, history=db, today=date(2025, 6, 20))
    assert notes(empty, tl.sheet)[at] == (HISTORY_AUTHOR, f"{HISTORY_AUTHOR}:\n{NOTE}")
