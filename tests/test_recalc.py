"""retroxl recalc: values right for every reader, nothing a person typed changed, nothing lost."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook
from workbook_cells import EXCEL_MADE, cached, fill, formula, notes

from retroxl import demo_workbook, new_workbook
from retroxl.books import ooxml
from retroxl.books.base import Formula
from retroxl.books.ooxml import MARK_FORMULA, OoxmlBook
from retroxl.books.sheetxml import SheetXml
from retroxl.engine.periods import parse_date
from retroxl.errors import RetroxlError
from retroxl.layout import col_letter
from retroxl.libreoffice import recalculated_values
from retroxl.model import Retrospective
from retroxl.recalc import CHECK_SHEET, recalc
from retroxl.rules import ExcelError
from retroxl.schedule import make_schedule
from retroxl.template import load_template

TODAY = date(2024, 6, 20)
INFO, T1, T2, T3 = "说明", "表1 活动概览", "表2 关键指标", "表3 问题改进"
CHECKS = CHECK_SHEET["zh"]


def grid(path: Path) -> dict[str, dict[tuple[int, int], tuple]]:
    """Every cell of every sheet: (value, formula, style index)."""
    out = {}
    with OoxmlBook(path) as book:
        for name in book.sheet_names():
            rows, cols = book.extent(name)
            if not rows:
                out[name] = {}
                continue
            values, formulas = book.read_both(name, (0, 0, rows - 1, cols - 1))
            styles = dict(re.findall(rb'<c r="([A-Z]+\d+)" s="(\d+)"', book.pkg.read(book.sheets[name].part)))
            out[name] = {(r, c): (values[r][c], formulas[r][c], styles.get(f"{col_letter(c)}{r + 1}".encode()))
                         for r in range(rows) for c in range(cols)}
    return out


@pytest.fixture()
def demo(tmp_path: Path) -> Path:
    return demo_workbook(tmp_path / "demo.xlsx", today=TODAY)


@pytest.fixture()
def filled(demo: Path, tmp_path: Path) -> Path:
    """The demo as a team filled it: text numbers, a hand-typed 达成率, loose 表3 entries."""
    return fill(demo, tmp_path / "filled.xlsx", {
        T2: {"E4": "100万", "F4": "150万次", "E5": "5%", "F5": "6.2%"},
        T1: {"F6": "95%"},                                  # typed over the 达成率 formula (computed: 90%)
        T3: {"B4": "很高", "F4": "下次活动前", "F5": "3个工作日内", "A6": "物料浪费", "D6": "减少印刷量"},
    })


# ---------------------------------------------------------------- values
def test_text_entries_get_right_values_for_readers_that_never_calculate(filled: Path, tmp_path: Path) -> None:
    out = recalc(filled, tmp_path / "out.xlsx", today=TODAY).path
    assert cached(filled, T2, "G4") == pytest.approx(1.2)     # before recalc: the demo's old value
    assert cached(out, T2, "G4") == pytest.approx(1.5)       # 150万次 / 100万
    assert cached(out, T2, "G5") == pytest.approx(1.24)      # 6.2% / 5%
    assert cached(out, T2, "M4") == 1_500_000                # the hidden number column
    assert cached(out, T2, "F4") == "150万次"                 # the entry itself is kept as typed
    assert "1500000.0" in formula(out, T2, "M4")             # the parsed value is the formula's fallback


def test_libreoffice_computes_the_same_from_the_formulas(filled: Path, tmp_path: Path, soffice: str) -> None:
    out = recalc(filled, tmp_path / "out.xlsx", today=TODAY).path
    lo = recalculated_values(out)
    assert lo[T2][3][6] == pytest.approx(1.5)
    assert lo[T2][4][6] == pytest.approx(1.24)
    assert lo[T2][5][6] == pytest.approx(3.8 / 3)            # ROI 1:3.8 against 1:3 from 成本收益
    assert [lo[T1][r][5] for r in (3, 4)] == [pytest.approx(1.2), pytest.approx(1.24)]
    assert lo[T1][5][5] == "95%"                              # the hand-typed value stays


def test_a_later_plain_number_recomputes_live(filled: Path, tmp_path: Path, soffice: str) -> None:
    out = recalc(filled, tmp_path / "out.xlsx", today=TODAY).path
    edited = fill(out, tmp_path / "edited.xlsx", {T2: {"F4": 1_800_000}})   # no recalc after this edit
    assert recalculated_values(edited)[T2][3][6] == pytest.approx(1.8)


def test_six_step_due_dates_once_the_end_date_is_known(tmp_path: Path) -> None:
    empty = new_workbook(tmp_path / "new.xlsx", Retrospective(info={"campaign": "双11"}), today=TODAY)
    tpl = load_template()
    steps = len(tpl.sheet("info").steps)
    note_ref = f"A{11 + steps}"  # the line under the steps table (they start on row 11)
    assert "结束日期" in cached(empty, INFO, note_ref)
    end = date(2024, 11, 11)
    typed = fill(empty, tmp_path / "typed.xlsx", {INFO: {"B5": end}})
    out = recalc(typed, tmp_path / "out.xlsx", today=TODAY).path
    with OoxmlBook(out) as book:
        due = [row[0] for row in book.read(INFO, (10, 3, 10 + steps - 1, 3))]
    expected = make_schedule(tpl, end).due
    assert [parse_date(d) for d in due] == expected
    assert expected[0] == date(2024, 11, 13)                 # two working days after Monday 11-11
    assert cached(out, INFO, note_ref) in ("", None)


# ---------------------------------------------------------------- nothing a person typed changes
def test_typed_cells_and_styles_never_change(filled: Path, tmp_path: Path) -> None:
    before = grid(filled)
    out = recalc(filled, tmp_path / "out.xlsx", today=TODAY).path
    after = grid(out)
    tpl = load_template()
    computed = set()
    for sheet in tpl.sheets:
        for table in sheet.tables:
            computed |= {(sheet.name["zh"], c.header["zh"]) for c in table.columns if c.computed}
    changed = []
    for sheet, cells in before.items():
        for pos, (value, formula_text, style) in cells.items():
            new = after[sheet].get(pos, (None, None, None))
            assert new[2] == style, f"{sheet}!{col_letter(pos[1])}{pos[0] + 1}: style changed"
            if formula_text is None and new[0] != value:
                changed.append((sheet, pos, value, new[0]))
    assert changed == []
    assert after[T1][(5, 5)][:2] == ("95%", None)


def test_a_formula_a_person_wrote_is_left_alone(demo: Path, tmp_path: Path) -> None:
    with OoxmlBook(demo) as book:
        book.write_formulas(T2, 3, 6, [[ooxml.Formula("=F4/E4*1", 1.2)]])
        book.save(tmp_path / "own.xlsx")
    result = recalc(tmp_path / "own.xlsx", tmp_path / "out.xlsx", today=TODAY)
    assert formula(result.path, T2, "G4") == "=F4/E4*1"
    assert ("R002", "G4") in {(f.code, f.cell) for f in result.report.findings}


def test_recalc_twice_gives_the_same_bytes(filled: Path, tmp_path: Path) -> None:
    once = recalc(filled, tmp_path / "once.xlsx", today=TODAY).path
    twice = recalc(once, tmp_path / "twice.xlsx", today=TODAY).path
    assert once.read_bytes() == twice.read_bytes()
    recalc(twice, today=TODAY)                                 # in place
    assert twice.read_bytes() == once.read_bytes()


def test_unchanged_parts_are_copied_byte_for_byte(demo: Path, tmp_path: Path) -> None:
    out = recalc(demo, tmp_path / "out.xlsx", today=TODAY).path
    a, b = zipfile.ZipFile(demo), zipfile.ZipFile(out)
    for name in ("xl/charts/chart1.xml", "xl/charts/chart2.xml", "xl/drawings/drawing1.xml", "xl/styles.xml",
                 "xl/sharedStrings.xml", "xl/theme/theme1.xml", "xl/tables/table2.xml", "docProps/core.xml"):
        assert a.read(name) == b.read(name), name
    assert b.testzip() is None


def test_rows_added_to_a_table_are_read(demo: Path, tmp_path: Path, soffice: str) -> None:
    """Excel grows the Table and fills its formula columns when a person types below it."""
    grown = tmp_path / "grown.xlsx"
    with OoxmlBook(demo) as book:
        part = "xl/tables/table2.xml"
        text = book.pkg.text(part).replace('ref="A3:N13"', 'ref="A3:N15"')
        book.pkg.write(part, text)
        formulas = book.read_formulas(T2, (12, 0, 12, 13))[0]
        for r in (13, 14):
            book.write_formulas(T2, r, 0, [[ooxml.Formula(f, "") if f else None for f in formulas]])
        book.write_values(T2, 13, 0, [["用户", "新增会员", "人", "越高越好", 2000, 2500, None, None, None, "CRM"]])
        book.write_values(T2, 14, 0, [["销售", "客单价", "元", "越高越好", "200元", "180元", None, None, None, "后台"]])
        book.save(grown)
    result = recalc(grown, tmp_path / "out.xlsx", today=TODAY)
    names = [m["name"] for m in result.report.metrics if m["sheet"] == T2]
    assert names[-2:] == ["新增会员", "客单价"]
    assert cached(result.path, T2, "G14") == pytest.approx(1.25)
    assert cached(result.path, T2, "G15") == pytest.approx(0.9)
    assert recalculated_values(result.path)[T2][14][6] == pytest.approx(0.9)


# ---------------------------------------------------------------- marks
def mark_ranges(path: Path, sheet: str) -> list[str]:
    with OoxmlBook(path) as book:
        tail = book.pkg.text(book.sheets[sheet].part)
    return re.findall(r'<conditionalFormatting sqref="([^"]+)"><cfRule[^>]*><formula>' + re.escape(MARK_FORMULA), tail)


def test_findings_are_marked_on_their_cells_and_listed(filled: Path, tmp_path: Path) -> None:
    result = recalc(filled, tmp_path / "out.xlsx", today=TODAY)
    out = result.path
    t3 = notes(out, T3)
    assert t3["B4"][0] == "retroxl" and "R106" in t3["B4"][1] and "高/中/低" in t3["B4"][1]
    assert "2024-06-21" in t3["F5"][1]                        # 3个工作日内 from the 复盘日期 2024-06-18
    assert "R204" in notes(out, T1)["F6"][1]
    assert "B4" in " ".join(mark_ranges(out, T3))
    wb = openpyxl.load_workbook(out)
    ws = wb[CHECKS]
    assert [c.value for c in ws[1]] == ["级别", "代码", "工作表", "单元格", "说明"]
    listed = {(r[1].value, r[2].value, r[3].value) for r in ws.iter_rows(min_row=2)}
    assert listed == {(f.code, f.sheet, f.cell) for f in result.report.findings}
    link = next(r[3].hyperlink for r in ws.iter_rows(min_row=2) if r[1].value == "R106")
    assert link.location == f"'{T3}'!B4"
    assert wb.sheetnames[-1] == CHECKS


def test_a_persons_notes_stay_and_old_marks_go(filled: Path, tmp_path: Path, monkeypatch) -> None:
    with monkeypatch.context() as m:  # a note by someone else, on a flagged cell and on a clean one
        m.setattr(ooxml, "MARK_AUTHOR", "张三")
        with OoxmlBook(filled) as book:
            book.set_marks([ooxml.Mark(T3, 3, 1, "info", "影响程度待讨论"), ooxml.Mark(T3, 3, 2, "info", "根因待补充")])
            book.save(tmp_path / "noted.xlsx")
    noted = tmp_path / "noted.xlsx"
    first = recalc(noted, tmp_path / "first.xlsx", today=TODAY).path
    t3 = notes(first, T3)
    assert t3["B4"] == ("张三", "张三:\n影响程度待讨论")          # their note kept; ours not added on top
    assert t3["C4"][0] == "张三"
    assert t3["F4"][0] == "retroxl"
    fixed = fill(first, tmp_path / "fixed.xlsx", {T3: {"F4": date(2024, 7, 31), "B4": "高", "F5": date(2024, 6, 21)}})
    second = recalc(fixed, tmp_path / "second.xlsx", today=TODAY).path
    t3 = notes(second, T3)
    assert "F4" not in t3 and "F5" not in t3                  # our marks on fixed cells are gone
    assert t3["B4"][0] == "张三" and t3["C4"][0] == "张三"
    assert all(r not in " ".join(mark_ranges(second, T3)).split() for r in ("F4", "F5"))


def test_marks_vanish_when_everything_is_fixed(demo: Path, tmp_path: Path) -> None:
    bad = fill(demo, tmp_path / "bad.xlsx", {T2: {"E4": "很多"}})
    marked = recalc(bad, tmp_path / "marked.xlsx", today=TODAY).path
    assert "R101" in notes(marked, T2)["E4"][1]
    fixed = fill(marked, tmp_path / "fixed.xlsx", {T2: {"E4": 1_000_000}})
    clean = recalc(fixed, tmp_path / "clean.xlsx", today=TODAY).path
    assert notes(clean, T2) == {}
    assert mark_ranges(clean, T2) == []
    names = zipfile.ZipFile(clean).namelist()
    assert not any("comments" in n or "vmlDrawing" in n for n in names)   # the parts retroxl added are gone
    ws = openpyxl.load_workbook(clean)[CHECKS]
    assert ws["E2"].value == "未发现问题"


def test_an_error_value_cell_is_a_finding_not_a_failure(demo: Path, tmp_path: Path) -> None:
    bad = fill(demo, tmp_path / "bad.xlsx", {T2: {"F5": ExcelError("#DIV/0!")}})
    result = recalc(bad, tmp_path / "out.xlsx", today=TODAY)
    assert ("R107", "F5") in {(f.code, f.cell) for f in result.report.findings}
    assert cached(result.path, T2, "G5") == "非数值"


# ---------------------------------------------------------------- atomic writes
def test_a_recalc_killed_midway_leaves_the_original_intact(filled: Path, tmp_path: Path) -> None:
    original = filled.read_bytes()
    script = textwrap.dedent("""
        import sys, time
        from retroxl.books import zippkg
        real = zippkg.Package._fresh
        def slow(*args):
            print("writing", flush=True)
            time.sleep(60)
            return real(*args)
        zippkg.Package._fresh = staticmethod(slow)
        from retroxl.recalc import recalc
        recalc(sys.argv[1])
    """)
    proc = subprocess.Popen([sys.executable, "-c", script, str(filled)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"   # the new file is half written
        temps = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert temps, "the recalc writes beside the original, not over it"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert filled.read_bytes() == original
    assert recalc(filled, tmp_path / "after.xlsx", today=TODAY).report.findings  # still a good workbook


def test_a_failing_write_leaves_no_half_file(filled: Path, tmp_path: Path, monkeypatch) -> None:
    original = filled.read_bytes()

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("retroxl.books.zippkg.Package._fresh", staticmethod(broken))
    with pytest.raises(OSError):
        recalc(filled, today=TODAY)
    assert filled.read_bytes() == original
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_macro_workbook_keeps_its_extension(demo: Path, tmp_path: Path) -> None:
    with pytest.raises(RetroxlError, match="extension"):
        recalc(demo, tmp_path / "out.xlsm")


def test_a_sheet_named_like_the_checks_sheet_is_not_overwritten(demo: Path, tmp_path: Path) -> None:
    with OoxmlBook(demo) as book:
        book.put_sheet(CHECKS, [["我的备注"]])
        book.save(tmp_path / "mine.xlsx")
    before = (tmp_path / "mine.xlsx").read_bytes()
    with pytest.raises(RetroxlError, match="校验"):
        recalc(tmp_path / "mine.xlsx", today=TODAY)
    assert (tmp_path / "mine.xlsx").read_bytes() == before


# ---------------------------------------------------------------- the sheet part editor
MAIN = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def sheet(rows: str, prefix: str = "") -> SheetXml:
    ns = MAIN.replace("xmlns=", f"xmlns:{prefix[:-1]}=") if prefix else MAIN
    text = (f'<?xml version="1.0"?><{prefix}worksheet {ns}><{prefix}dimension ref="A1:B4"/>'
            f"<{prefix}sheetData>{rows}</{prefix}sheetData><{prefix}pageMargins/></{prefix}worksheet>")
    return SheetXml(text.encode(), ["共享", "文字"])


def test_shared_formulas_read_and_rewritten() -> None:
    xml = sheet('<row r="2"><c r="A2"><v>1</v></c><c r="B2"><f t="shared" ref="B2:B4" si="0">A2*2</f><v>2</v></c></row>'
                '<row r="3"><c r="A3"><v>2</v></c><c r="B3"><f t="shared" si="0"/><v>4</v></c></row>'
                '<row r="4"><c r="A4"><v>3</v></c><c r="B4"><f t="shared" si="0"/><v>6</v></c></row>')
    assert [r[0] for r in xml.block(1, 1, 3, 1)[1]] == ["=A2*2", "=A3*2", "=A4*2"]
    xml.put(2, 1, Formula("=A3*2", 4))        # the same formula and value: nothing to write
    assert not xml.changed
    xml.put(1, 1, Formula("=A2*3", 3))        # the master changes: the others keep their own formula
    again = SheetXml(xml.render(), [])
    assert [r[0] for r in again.block(1, 1, 3, 1)[1]] == ["=A2*3", "=A3*2", "=A4*2"]
    assert b't="shared"' not in xml.render()


def test_cells_without_references_and_prefixed_parts() -> None:
    xml = sheet('<x:row r="1"><x:c t="s"><x:v>0</x:v></x:c><x:c t="inlineStr"><x:is><x:r><x:rPr><x:color rgb="FF0000"/>'
                '</x:rPr><x:t>红</x:t></x:r><x:r><x:t xml:space="preserve">字 </x:t></x:r></x:is></x:c></x:row>'
                '<x:row r="3"><x:c r="B3" t="e"><x:v>#N/A</x:v></x:c></x:row>', prefix="x:")
    values, formulas = xml.block(0, 0, 2, 1)
    assert values == [["共享", "红字 "], [None, None], [None, ExcelError("#N/A")]]
    assert isinstance(values[2][1], ExcelError)
    xml.put(1, 1, "新")                        # a row that does not exist yet goes in its place
    xml.put(0, 2, 5)                          # a cell beyond the row's last one
    out = SheetXml(xml.render(), ["共享"])
    assert out.block(0, 0, 2, 2)[0] == [["共享", "红字 ", 5.0], [None, "新", None], [None, ExcelError("#N/A"), None]]
    assert b'<x:dimension ref="A1:C4"/>' in xml.render()


def test_text_that_looks_like_a_formula_stays_text(demo: Path, tmp_path: Path) -> None:
    typed = fill(demo, tmp_path / "typed.xlsx", {T2: {"K4": "=HYPERLINK(\"http://x\")", "J4": "@SUM(A1)"}})
    out = recalc(typed, tmp_path / "out.xlsx", today=TODAY).path
    assert formula(out, T2, "K4") is None and cached(out, T2, "K4") == '=HYPERLINK("http://x")'
    assert formula(out, T2, "J4") is None and cached(out, T2, "J4") == "@SUM(A1)"


def test_rows_of_every_shape_read_alike() -> None:
    """Rows the one-match-per-row reader takes and rows read cell by cell give the same cells."""
    xml = sheet('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><f>A1&amp;"x"</f><v>2</v></c></row>'
                '<row r="2" spans="1:2"><c r="A2" t="inlineStr"><is><t>行内</t></is></c><c r="B2" t="str"><f>A2</f>'
                '<v>行内</v></c></row>'
                '<row r="3" ht="20" customHeight="1"/>'
                '<row r="4"><c r="A4" s="1"/><c r="B4" t="e"><f>1/0</f><v>#DIV/0!</v></c></row>'
                '<row r="5"><c r="A5"><v>5</v></c><c r="B5"><v/></c></row>'
                '<row r="6"><c r="A6" t="b"><v>1</v></c><c r="C6"><v>9</v></c></row>'
                '<row r="7"><c r="B7" t="str"><f>""</f><v></v></c></row>')
    values, formulas = xml.block(0, 0, 6, 1)
    assert values == [["共享", 2.0], ["行内", "行内"], [None, None], [None, ExcelError("#DIV/0!")], [5.0, None],
                      [True, None], [None, ""]]
    assert formulas == [[None, '=A1&"x"'], [None, "=A2"], [None, None], [None, "=1/0"], [None, None], [None, None],
                        [None, '=""']]
    assert xml.columns(0, 0, 6, 1) == ([list(c) for c in zip(*values)], [list(c) for c in zip(*formulas)])
    assert xml.block(5, 2, 5, 2) == ([[9.0]], [[None]])       # a cell outside the first block read
    disordered = sheet('<row r="3"><c r="A3"><v>3</v></c></row><row r="1"><c r="A1"><v>1</v></c></row>'
                       '<row><c><v>2</v></c></row>')   # a row without a number follows the one before it
    assert disordered.block(0, 0, 3, 0)[0] == [[1.0], [2.0], [3.0], [None]]


def test_cached_values_written_in_place_then_rewritten() -> None:
    xml = sheet('<row r="1"><c r="A1"><v>1</v></c><c r="B1" s="3"><f>A1*2</f><v>2</v></c></row>'
                '<row r="2"><c r="A2"><v>2</v></c><c r="B2" s="3"><f>A2*2</f><v>4</v></c></row>'
                '<row r="3"><c r="A3"><v>3</v></c><c r="B3" s="3"><f>A3*2</f></c></row>')
    xml.block(0, 0, 2, 1)
    xml.put_formulas(0, 1, ["=A1*2", "=A2*2", "=A3*2"], [2.0, "文字", 6.5])
    assert xml.changed and not xml.edits            # only cached values (and a type) replaced in place
    out = xml.render()
    assert '<c r="B2" s="3" t="str"><f>A2*2</f><v>文字</v></c>'.encode() in out and b"<f>A3*2</f><v>6.5</v>" in out
    assert SheetXml(out, []).block(0, 1, 2, 1)[0] == [[2.0], ["文字"], [6.5]]
    xml.put(1, 1, Formula("=A2*3", 6))              # a new formula replaces the in-place value
    xml.put(2, 2, "新")                             # a new cell: that row is rewritten whole, its value kept
    again = SheetXml(xml.render(), [])
    assert again.block(0, 0, 2, 2) == ([[1.0, 2.0, None], [2.0, 6.0, None], [3.0, 6.5, "新"]],
                                       [[None, "=A1*2", None], [None, "=A2*3", None], [None, "=A3*2", None]])


_OLD_CELLS = {   # a cached value as a file may hold it: the cell's type and <v> (None: no <v> at all)
    "number": ("", "2"), "fraction": ("", "0.1"), "text": ("str", "文字"), "empty text": ("str", ""),
    "no value": ("", None), "error": ("e", "#DIV/0!"), "flag": ("b", "1")}
_NEW_VALUES = [2.0, 0.1, 0.30000000000000004, 1e16, "文字", "", None, ExcelError("#N/A"), True, float("inf")]


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(sorted(_OLD_CELLS)), st.sampled_from(range(len(_NEW_VALUES))),
                          st.booleans()), min_size=1, max_size=8))
def test_cached_values_in_place_read_back_as_cell_writes_do(cells: list[tuple[str, int, bool]]) -> None:
    """Writing a column's cached values in place gives what writing each cell whole gives."""
    rows = "".join(f'<row r="{i + 1}"><c r="A{i + 1}"><v>{i}</v></c><c r="B{i + 1}" s="3"'
                   + (f' t="{_OLD_CELLS[old][0]}"' if _OLD_CELLS[old][0] else "") + f"><f>A{i + 1}*2</f>"
                   + (f"<v>{_OLD_CELLS[old][1]}</v>" if _OLD_CELLS[old][1] is not None else "") + "</c></row>"
                   for i, (old, _, _) in enumerate(cells))
    texts = [f"=A{i + 1}*2" if write else None for i, (_, _, write) in enumerate(cells)]
    values = [_NEW_VALUES[k] for _, k, _ in cells]
    n = len(cells)
    column, one_by_one = sheet(rows), sheet(rows)
    column.block(0, 0, n - 1, 1)
    column.put_formulas(0, 1, texts, values)
    for i, (text, value) in enumerate(zip(texts, values)):
        if text is not None:
            one_by_one.put(i, 1, Formula(text, value))
    assert not column.edits                            # every cell was written in place
    assert column.changed == one_by_one.changed
    assert SheetXml(column.render(), []).block(0, 0, n - 1, 1) == SheetXml(one_by_one.render(), []).block(0, 0, n - 1, 1)


def test_without_zlib_ng_the_standard_zlib_writes_the_same_parts(filled: Path, tmp_path: Path) -> None:
    """Pyodide (xlwings Lite) has no zlib-ng: recalc then deflates with zlib, and the parts say the same."""
    code = textwrap.dedent("""
        import sys, zlib
        from datetime import date
        sys.modules["zlib_ng"] = None          # as if it were not installed
        from retroxl.books import zcodec
        assert zcodec.zlib is zlib
        from retroxl.recalc import recalc
        recalc(sys.argv[1], sys.argv[2], today=date(2024, 6, 20))
    """)
    subprocess.run([sys.executable, "-c", code, str(filled), str(tmp_path / "zlib.xlsx")], check=True)
    recalc(filled, tmp_path / "fast.xlsx", today=TODAY)
    with zipfile.ZipFile(tmp_path / "zlib.xlsx") as a, zipfile.ZipFile(tmp_path / "fast.xlsx") as b:
        assert a.namelist() == b.namelist()
        assert all(a.read(n) == b.read(n) for n in a.namelist())
        assert a.testzip() is None and b.testzip() is None


def test_an_infinite_result_is_not_taken_for_a_cached_number() -> None:
    from retroxl.books.sheetxml import same_value

    assert same_value(0.1, 0.1 + 1e-17) and not same_value(0.1, float("inf")) and not same_value(float("-inf"), 1e308)
    one = sheet('<row r="1"><c r="A1"><f>1/0</f><v>0.1</v></c></row>')
    one.put(0, 0, Formula("=1/0", float("inf")))
    assert SheetXml(one.render(), []).block(0, 0, 0, 0)[0] == [[ExcelError("#NUM!")]]
    from retroxl.recalc import _stale      # recalc's own screen of a column's cached values agrees
    assert _stale(["=1/0"] * 2, ["=1/0"] * 2, [0.1, 0.1], [0.1 + 1e-17, float("inf")]) == [1]


def test_date_formats_read_as_dates() -> None:
    from retroxl.books.sheetxml import date_styles

    styles = ('<styleSheet><numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;"/>'
              '<numFmt numFmtId="165" formatCode="[h]:mm"/></numFmts><cellXfs count="5"><xf numFmtId="0"/>'
              '<xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="22"/></cellXfs></styleSheet>')
    assert date_styles(styles) == {1, 2, 4}
    xml = SheetXml(sheet('<row r="1"><c r="A1" s="1"><v>45458</v></c><c r="B1" s="2"><v>45458</v></c>'
                         '<c r="C1" s="3"><v>1.5</v></c><c r="D1" s="4"><v>45458.75</v></c><c r="E1"><v>45458</v></c>'
                         '</row>').data, [], date_styles(styles))
    assert xml.block(0, 0, 0, 4)[0] == [[date(2024, 6, 15), date(2024, 6, 15), 1.5, datetime(2024, 6, 15, 18),
                                         45458.0]]


def test_bulk_writes_give_the_bytes_cell_by_cell_writes_give(demo: Path, tmp_path: Path, monkeypatch) -> None:
    with OoxmlBook(demo) as book:     # every entry retyped by a tool that does not calculate
        book.write_values(T2, 3, 4, [[v] for v in (2000.0, "300万", 0.0)])
        book.write_values(T2, 3, 5, [[v] for v in (1500.0, 9.5, "#N/A")])
        book.save(tmp_path / "typed.xlsx")
    bulk = recalc(tmp_path / "typed.xlsx", tmp_path / "bulk.xlsx", today=TODAY).path.read_bytes()
    monkeypatch.setattr(SheetXml, "put_formulas", lambda self, row0, col, texts, values: [
        self.put(row0 + k, col, Formula(t, v)) for k, (t, v) in enumerate(zip(texts, values)) if t is not None])
    single = recalc(tmp_path / "typed.xlsx", tmp_path / "single.xlsx", today=TODAY).path.read_bytes()
    assert bulk == single


@pytest.mark.parametrize("name", sorted(p.name for p in EXCEL_MADE.glob("*.xls[xm]")) if EXCEL_MADE.is_dir() else [])
def test_the_reader_agrees_with_calamine_on_excel_files(name: str) -> None:
    """Every value the own parser reads is what python-calamine reads (dates included)."""
    compare_with_calamine(EXCEL_MADE / name)


def test_the_reader_agrees_with_calamine_on_a_filled_workbook(filled: Path) -> None:
    compare_with_calamine(filled)


def compare_with_calamine(path: Path) -> None:
    workbook = CalamineWorkbook.from_path(str(path))
    with OoxmlBook(path) as book:
        for sheet_name in book.sheets:
            expected = workbook.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
            rows, cols = book.extent(sheet_name)
            if not rows:
                continue
            own, _ = book.read_both(sheet_name, (0, 0, rows - 1, cols - 1))
            for r, row in enumerate(own):
                for c, y in enumerate(row):
                    x = expected[r][c] if r < len(expected) and c < len(expected[r]) else ""
                    if isinstance(y, ExcelError) and x in ("", y):   # calamine shows some error cells as empty
                        continue
                    assert x == y or (x == "" and y in ("", None)), (sheet_name, r, c, x, y)
