"""retroxl new --into: the retrospective sheets added to workbooks Excel saved, every original part intact.

The fixtures are Excel's own files (charts, a picture in a cell, comments, a text
box, VBA, a form button, a Table, validation, defined names, protection). Each one
gets the sheets, a person's entries and a recalc; then every part it had must be
byte-identical except the four that list what a workbook holds, and LibreOffice
must compute the published figures from the result.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from workbook_cells import EXCEL_MADE

from retroxl.books.ooxml import OoxmlBook
from retroxl.cli import main
from retroxl.demo import demo_retrospective
from retroxl.libreoffice import convert_many
from retroxl.merge import add_retrospective
from retroxl.recalc import recalc

FIXTURES = sorted(p.name for p in EXCEL_MADE.glob("*.xls[xm]")) if EXCEL_MADE.is_dir() else []
LISTS = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"}
T1, T2 = "表1 活动概览", "表2 关键指标"


def parts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def add_fill_recalc(src: Path, work: Path) -> Path:
    """What a team does: add the sheets, type the published 表1 (one goal as text) and a 表2 row, recalc."""
    book_path = work / src.name
    shutil.copyfile(src, book_path)
    result = CliRunner().invoke(main, ["new", "--into", str(book_path), "--campaign", "2024夏季新品推广",
                                       "--start", "2024-06-01", "--end", "2024-06-15"])
    assert result.exit_code == 0, result.output
    with OoxmlBook(book_path) as book:
        book.write_values(T1, 3, 0, [["线上曝光量", "次", "越高越好", "100万次", "120万次"],
                                     ["新品销量", "件", "越高越好", 5000, 6200],
                                     ["新增会员数", "人", "越高越好", 2000, 1800]])
        book.write_values(T2, 3, 0, [["流量", "曝光量", "次", "越高越好", "100万", "120万次", None, "80万", None,
                                      "后台数据"]])
        book.save(work / "typed.tmp")
    (work / "typed.tmp").replace(book_path)
    recalc(book_path)
    return book_path


@pytest.fixture(scope="module")
def results(excel_made: Path, tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("into")
    return {name: add_fill_recalc(excel_made / name, work) for name in FIXTURES}


@pytest.mark.parametrize("name", FIXTURES)
def test_every_original_part_is_intact(name: str, excel_made: Path, results: dict[str, Path]) -> None:
    before, after = parts(excel_made / name), parts(results[name])
    assert set(before) <= set(after)
    changed = {n for n in before if before[n] != after[n]}
    assert changed <= LISTS, f"changed: {sorted(changed - LISTS)}"
    assert zipfile.ZipFile(results[name]).testzip() is None
    if name.endswith(".xlsm"):
        assert results[name].suffix == ".xlsm"
        assert after["xl/vbaProject.bin"] == before["xl/vbaProject.bin"]
        assert b"macroEnabled" in after["[Content_Types].xml"]
    wb = openpyxl.load_workbook(results[name])   # opens as a valid package (read only, never saved)
    assert wb.sheetnames[len(wb.sheetnames) - 8:] == ["说明", "表1 活动概览", "表2 关键指标", "表3 问题改进",
                                                       "表4 经验总结", "成本收益", "仪表盘", "校验"]


def test_libreoffice_computes_the_published_figures(excel_made: Path, results: dict[str, Path], tmp_path: Path,
                                                    soffice: str) -> None:
    names = list(results)
    after = convert_many([results[n] for n in names], "xlsx", tmp_path / "after")
    before = convert_many([excel_made / n for n in names], "xlsx", tmp_path / "before")
    for name, out, orig in zip(names, after, before):
        wb = openpyxl.load_workbook(out, data_only=True)
        goals = [wb[T1].cell(r, 6).value for r in (4, 5, 6)]
        assert goals == [pytest.approx(1.2), pytest.approx(1.24), pytest.approx(0.9)], name
        assert wb[T2]["G4"].value == pytest.approx(1.2), name
        assert wb[T2]["I4"].value == pytest.approx(0.5), name        # 120万 against 80万
        assert wb["说明"]["D11"].value is not None, name              # six-step due dates from the end date
        original = openpyxl.load_workbook(orig, data_only=True)
        for sheet in original.sheetnames:                             # the team's own sheets compute as before
            old = [list(r) for r in original[sheet].iter_rows(values_only=True)]
            new = [list(r) for r in wb[sheet].iter_rows(values_only=True)]
            assert new == old, f"{name}: {sheet}"


def test_adding_twice_is_refused_and_changes_nothing(excel_made: Path, results: dict[str, Path]) -> None:
    path = results["table01.xlsx"]
    before = path.read_bytes()
    result = CliRunner().invoke(main, ["new", "--into", str(path)])
    assert result.exit_code == 2
    assert "already has a sheet named '说明'" in result.output
    assert path.read_bytes() == before


def test_into_another_file_leaves_the_source_alone(excel_made: Path, tmp_path: Path) -> None:
    src = excel_made / "macro01.xlsm"
    before = src.read_bytes()
    out = add_retrospective(src, demo_retrospective(), out=tmp_path / "with-retro.xlsm")
    assert src.read_bytes() == before
    assert "xl/vbaProject.bin" in parts(out)
    result = CliRunner().invoke(main, ["new", "--into", str(src), str(tmp_path / "other.xlsx")])
    assert result.exit_code == 2 and ".xlsm" in result.output


def test_new_needs_a_target() -> None:
    result = CliRunner().invoke(main, ["new"])
    assert result.exit_code == 2 and "--into" in result.output
