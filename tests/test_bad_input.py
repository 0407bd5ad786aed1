"""The bad-input corpus: every file a team may feed retroxl by mistake gets one clear line.

Each refused file: exit code 2, a single ``retroxl: error: ...`` line naming what is
wrong, no traceback, the file byte-identical afterwards and no output written. A
workbook that is usable but holds Excel error values (#DIV/0!, #N/A) is not refused:
those cells become findings.

Most files are made here; ``fixtures/encrypted.xlsx`` (msoffcrypto-tool) and
``fixtures/legacy.xls`` (LibreOffice) come from ``fixtures/make_fixtures.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from test_importer import INDICATORS, write_seed
from workbook_cells import EXCEL_MADE

from retroxl.books.safety import MAX_CELLS, MAX_ROWS, check_workbook
from retroxl.cli import main
from retroxl.errors import RetroxlError
from retroxl.importer import import_workbook
from retroxl.layout import col_letter

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHEET = "xl/worksheets/sheet1.xml"


def _rewrite(src: Path, dest: Path, edit: Callable[[str, bytes], bytes | None]) -> Path:
    """Copy a zip part by part; ``edit(name, data)`` returns new data, or None to leave a part out."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info.filename, data)
    return dest


def _seed(tmp: Path) -> Path:
    return write_seed(tmp / "seed.xlsx")


def _in_sheet(tmp: Path, name: str, edit: Callable[[bytes], bytes]) -> Path:
    return _rewrite(_seed(tmp), tmp / name, lambda part, data: edit(data) if part == SHEET else data)


def encrypted(tmp: Path) -> Path:
    return Path(shutil.copy(FIXTURES / "encrypted.xlsx", tmp / "加密.xlsx"))


def legacy_xls(tmp: Path) -> Path:
    return Path(shutil.copy(FIXTURES / "legacy.xls", tmp / "legacy.xls"))


def xls_renamed(tmp: Path) -> Path:
    return Path(shutil.copy(FIXTURES / "legacy.xls", tmp / "renamed.xlsx"))


def csv_renamed(tmp: Path) -> Path:
    path = tmp / "导出.xlsx"
    path.write_text("活动名称,目标值,实际值\n2024夏季新品推广,100万次,120万次\n", encoding="utf-8")
    return path


def csv_gbk(tmp: Path) -> Path:
    path = tmp / "gbk.xlsx"
    path.write_bytes("活动名称,目标值\n双11大促,1亿\n".encode("gb18030"))
    return path


def unicode_text(tmp: Path) -> Path:
    """Excel's "Unicode text" export: UTF-16 with a byte-order mark and tabs."""
    path = tmp / "unicode.xlsx"
    path.write_bytes("活动名称\t目标值\n双11大促\t1亿\n".encode("utf-16"))
    return path


def html_renamed(tmp: Path) -> Path:
    path = tmp / "report.xlsx"
    path.write_text("<!DOCTYPE html><html><body><table><tr><td>活动名称</td></tr></table></body></html>")
    return path


def empty(tmp: Path) -> Path:
    path = tmp / "empty.xlsx"
    path.write_bytes(b"")
    return path


def folder(tmp: Path) -> Path:
    path = tmp / "folder.xlsx"
    path.mkdir()
    return path


def missing(tmp: Path) -> Path:
    return tmp / "missing.xlsx"


def truncated(tmp: Path) -> Path:
    data = _seed(tmp).read_bytes()
    path = tmp / "truncated.xlsx"
    path.write_bytes(data[: len(data) // 2])
    return path


def corrupt(tmp: Path) -> Path:
    """Garbage in the middle of the sheet's compressed data; the zip directory is intact."""
    src = _seed(tmp)
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo(SHEET)
    data = bytearray(src.read_bytes())
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26: info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    middle = start + info.compress_size // 2
    data[middle: middle + 16] = bytes(0xA5 ^ b for b in data[middle: middle + 16])
    path = tmp / "corrupt.xlsx"
    path.write_bytes(bytes(data))
    return path


def bad_checksum(tmp: Path) -> Path:
    """A stored (uncompressed) sheet part with one byte changed: it reads, but not its checksum."""
    stored = tmp / "stored.xlsx"
    with zipfile.ZipFile(_seed(tmp)) as zin, zipfile.ZipFile(stored, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
    data = stored.read_bytes()
    at = data.index(b"<sheetData>")
    path = tmp / "checksum.xlsx"
    path.write_bytes(data[:at] + b"<sheetDatA>" + data[at + len(b"<sheetData>"):])
    return path


def zip_bomb(tmp: Path) -> Path:
    """A sheet part that inflates 64 MiB of blanks from about 64 KB."""
    path = tmp / "bomb.xlsx"
    with zipfile.ZipFile(_seed(tmp)) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != SHEET:
                zout.writestr(info.filename, zin.read(info))
                continue
            with zout.open(SHEET, "w") as f:
                f.write(zin.read(info)[:-len(b"</worksheet>")])
                for _ in range(64):
                    f.write(b" " * (1 << 20))
                f.write(b"</worksheet>")
    assert path.stat().st_size < 1 << 20
    return path


def zip_bomb_declared(tmp: Path) -> Path:
    """A zip directory that claims a 4 GB sheet part (the data itself is small)."""
    src = _seed(tmp)
    data = bytearray(src.read_bytes())
    name = SHEET.encode()
    at = data.find(b"PK\x01\x02")  # central directory headers
    while at >= 0:
        name_len = struct.unpack("<H", data[at + 28: at + 30])[0]
        if data[at + 46: at + 46 + name_len] == name:
            data[at + 24: at + 28] = struct.pack("<I", 0xFFFFFFF0)  # uncompressed size
            break
        at = data.find(b"PK\x01\x02", at + 4)
    path = tmp / "declared-bomb.xlsx"
    path.write_bytes(bytes(data))
    return path


def many_parts(tmp: Path) -> Path:
    path = tmp / "many.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(10_001):
            zf.writestr(f"xl/media/p{i}.bin", b"")
    return path


def zip_not_workbook(tmp: Path) -> Path:
    path = tmp / "archive.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "not a workbook")
    return path


def million_rows_declared(tmp: Path) -> Path:
    return _in_sheet(tmp, "declared-rows.xlsx",
                     lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:G1048576"', xml))


def million_rows_present(tmp: Path) -> Path:
    """A cell far down the sheet: a dense reader would allocate every row up to it."""
    return _in_sheet(tmp, "far-row.xlsx", lambda xml: xml.replace(
        b"</sheetData>", b'<row r="1000000"><c r="A1000000" t="n"><v>1</v></c></row></sheetData>'))


def wide_sparse(tmp: Path) -> Path:
    """A cell in the last column (XFD) on row 400: 400 × 16,384 cells of used range."""
    return _in_sheet(tmp, "far-column.xlsx", lambda xml: xml.replace(
        b"</sheetData>", b'<row r="400"><c r="XFD400" t="n"><v>1</v></c></row></sheetData>'))


_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
           b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>')


def wide_declared(tmp: Path) -> Path:
    return _in_sheet(tmp, "wide-dimension.xlsx",
                     lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1000"', xml))


def entity_bomb(tmp: Path) -> Path:
    """The "billion laughs" in the workbook part: entities that expand exponentially when parsed."""
    return _rewrite(_seed(tmp), tmp / "entities.xlsx", lambda part, data:
                    _LAUGHS + re.sub(rb"^<\?xml[^>]*\?>", b"", data) if part == "xl/workbook.xml" else data)


def entity_bomb_in_sheet(tmp: Path) -> Path:
    return _in_sheet(tmp, "sheet-entities.xlsx", lambda xml: _LAUGHS + re.sub(rb"^<\?xml[^>]*\?>", b"", xml))


CORPUS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "encrypted": (encrypted, "is password-protected (encrypted)"),
    "legacy-xls": (legacy_xls, "is a legacy Excel 97-2003 workbook (.xls)"),
    "xls-renamed-xlsx": (xls_renamed, "is a legacy Excel 97-2003 workbook (.xls)"),
    "csv-renamed-xlsx": (csv_renamed, "is a text or CSV file, not an Excel workbook"),
    "csv-gbk": (csv_gbk, "is a text or CSV file, not an Excel workbook"),
    "unicode-text": (unicode_text, "is a text or CSV file, not an Excel workbook"),
    "html": (html_renamed, "is an HTML page, not an Excel workbook"),
    "empty": (empty, "is empty (0 bytes)"),
    "folder": (folder, "is a folder, not a workbook"),
    "missing": (missing, ": no such file"),
    "truncated": (truncated, "is damaged (File is not a zip file)"),
    "corrupt": (corrupt, "is damaged (Error -3 while decompressing data"),
    "bad-checksum": (bad_checksum, f"is damaged (Bad CRC-32 for file '{SHEET}')"),
    "zip-bomb": (zip_bomb, "refusing it as a zip bomb"),
    "zip-bomb-declared": (zip_bomb_declared, "expands to 4.0 GB (limit 1.0 GB); refusing it as a possible zip bomb"),
    "many-parts": (many_parts, "has 10,001 parts (limit 10,000)"),
    "zip-not-workbook": (zip_not_workbook, "is a zip file but not an Excel workbook (it has no xl/workbook.xml)"),
    "million-rows-declared": (million_rows_declared, f"declares 1,048,576 rows; retroxl reads at most {MAX_ROWS:,}"),
    "million-rows-present": (million_rows_present,
                             f"has cells down to row 1,000,000; retroxl reads at most {MAX_ROWS:,} rows"),
    "wide-sparse": (wide_sparse, f"has cells out to XFD400 (6,553,600 cells); retroxl reads at most {MAX_CELLS:,}"),
    "wide-declared": (wide_declared, f"declares a used range up to XFD1000 (16,384,000 cells); retroxl reads at most "
                                     f"{MAX_CELLS:,}"),
    "entity-bomb": (entity_bomb, "part xl/workbook.xml declares a DTD"),
    "entity-bomb-in-sheet": (entity_bomb_in_sheet, f"part {SHEET} declares a DTD"),
}


# Sheets that make python-calamine allocate a huge grid in ways a cheap check could miss: the reference
# that is too far sits in the middle, is written in lower case or with other quotes, or there is none and
# python-calamine counts positions itself. (Each stays a small file.)
_MAIN_NS = b"http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def _sheet_end(tail: bytes) -> Callable[[bytes], bytes]:
    return lambda xml: xml.replace(b"</sheetData>", tail + b"</sheetData>")


HOSTILE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "far-row-in-the-first-row": (lambda xml: xml.replace(b'<row r="1">', b'<row r="1"><c r="A1000000"><v>1</v></c>'),
                                 "has cells down to row 1,000,000"),
    "far-column-in-lower-case": (_sheet_end(b'<row r="400"><c r="xfd400"><v>1</v></c></row>'),
                                 "has cells out to XFD400 (6,553,600 cells)"),
    "reference-in-other-quotes": (_sheet_end(b"<row r='400'><c r = 'A1000000'><v>1</v></c></row>"),
                                  "has cells down to row 1,000,000"),
    "reference-on-prefixed-cell": (_sheet_end(b'<row r="400"><x:c xmlns:x="' + _MAIN_NS + b'" r="A1000000">'
                                              b'<x:v>1</x:v></x:c></row>'), "has cells down to row 1,000,000"),
    "cells-without-reference": (_sheet_end(b'<row r="300">' + b"<c><v>1</v></c>" * 20_000 + b"</row>"),
                                f"has cells out to {col_letter(19_999)}300 (6,000,000 cells)"),
    "rows-without-reference": (_sheet_end(b"<row><c><v>1</v></c></row>" * 100_001),   # more than one chunk
                               "has cells down to row 100,027"),
    "empty-cells-without-reference": (_sheet_end(b'<row r="300">' + b"<c/>" * 20_000 + b"<c><v>1</v></c></row>"),
                                      f"has cells out to {col_letter(20_000)}300 (6,000,300 cells)"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_sheets_are_measured_as_python_calamine_would_place_their_cells(tmp_path, name):
    edit, expected = HOSTILE[name]
    path = _in_sheet(tmp_path, f"{name}.xlsx", edit)
    with pytest.raises(RetroxlError, match=re.escape(expected)):
        check_workbook(path)


def test_a_dtd_behind_a_comment_and_utf16_xml_are_refused(tmp_path):
    hidden = _in_sheet(tmp_path, "hidden-dtd.xlsx", lambda xml: b"<!-- <worksheet> -->" + _LAUGHS[21:] + xml)
    with pytest.raises(RetroxlError, match=f"part {SHEET} declares a DTD"):
        check_workbook(hidden)
    wide = _in_sheet(tmp_path, "utf16.xlsx", lambda xml: xml.decode("utf-8").encode("utf-16"))
    with pytest.raises(RetroxlError, match=f"part {SHEET} is UTF-16 XML"):
        check_workbook(wide)


_FRAGMENTS = [b"<c>", b'<c r="A1000000">', b"r='Z9'", b"<row>", b"</row>", b"<c/>", b"<row/>", b"r =", b'"', b"'",
              b"<", b">", b"<!DOCTYPE x>", b"<!--", b"sheetData", b"</sheetData>", b'<x:c r="B2">', b"\x00",
              b"9" * 30]


@settings(max_examples=120, deadline=None)
@given(part=st.sampled_from([SHEET, "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"]),
       edits=st.lists(st.tuples(st.floats(0, 1), st.sampled_from(_FRAGMENTS), st.integers(0, 12)), min_size=1,
                      max_size=4))
def test_a_mangled_part_passes_or_gives_one_clear_error(tmp_path_factory, part, edits):
    """Whatever is inserted or cut, the check and the collect reader raise RetroxlError or nothing else."""
    from retroxl.collect import CalamineBook

    tmp = tmp_path_factory.mktemp("mangled")

    def mangle(name: str, data: bytes) -> bytes:
        if name != part:
            return data
        for where, fragment, cut in edits:
            at = int(where * len(data))
            data = data[:at] + fragment + data[at + cut:]
        return data

    path = _rewrite(_seed(tmp), tmp / "mangled.xlsx", mangle)
    try:
        book = CalamineBook(check_workbook(path, path.read_bytes()))
        for sheet in book.sheet_names():
            book.extent(sheet)
    except RetroxlError as e:
        assert "\n" not in str(e)


def _rows(first: int, last: int) -> bytes:
    return b"".join(b'<row r="%d"><c r="B%d" t="n"><v>%d</v></c></row>' % (i, i, i) for i in range(first, last + 1))


def test_a_sheet_of_exactly_max_rows_passes_and_one_more_row_is_refused(tmp_path):
    """Honest sheets near the limit: several chunks, and the exact count decides (no false alarm)."""
    full = _in_sheet(tmp_path, "full.xlsx", _sheet_end(_rows(27, MAX_ROWS)))
    check_workbook(full)
    over = _in_sheet(tmp_path, "over.xlsx", _sheet_end(_rows(27, MAX_ROWS + 1)))
    with pytest.raises(RetroxlError, match=f"has cells down to row {MAX_ROWS + 1:,}"):
        check_workbook(over)


@pytest.mark.parametrize("tail", [
    b"<row><c><v>1</v></c><c><v>2</v></c></row>" * 30,                              # no references at all
    b'<row r="40"><c r="C40"><v>1</v></c><c><v>2</v></c></row><row><c><v>3</v></c></row>',  # after a reference
    b"<row r='45'><c r = 'AB45'><v>1</v></c></row>",                                 # other quotes and spaces
    b'<row r="50"><c r="H50"/><c><v>1</v></c></row>',                                 # an empty cell takes a column
    b'<row r="60"><x:c xmlns:x="' + _MAIN_NS + b'"><x:v>1</x:v></x:c></row>',       # a prefixed cell
    b'<row r="3"><c r="J70"><v>1</v></c></row>',                                       # rows out of order
    b'<row r="30"/><row/><row><c/><c><v>1</v></c></row>',                              # empty rows and cells
], ids=["no-references", "after-a-reference", "other-quotes", "empty-element", "prefixed", "out-of-order",
        "empty-rows"])
def test_the_walk_places_cells_where_python_calamine_does(tmp_path, tail):
    from python_calamine import CalamineWorkbook

    from retroxl.books.safety import _walk

    path = _in_sheet(tmp_path, "odd.xlsx", _sheet_end(tail))
    check_workbook(path)  # small: passes
    with zipfile.ZipFile(path) as zf:
        walked = _walk([zf.read(SHEET)])
    sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
    assert walked == (sheet.end[0] + 1, sheet.end[1] + 1)


def _plain_beyond(lead: int, power: int, letters: int) -> re.Pattern[bytes]:
    """The reference search of the cheap sheet check as first written (no possessive repeats, no early test)."""
    rows = rb"[1-9]\d{%d}" % (power + 1) if lead == 10 else rb"(?:[%d-9]\d{%d}|[1-9]\d{%d,})" % (lead, power, power + 1)
    return re.compile(rb"""r(?<![\w:.-]r)\s*=\s*["'](?=[A-Za-z]{%d}|[A-Za-z]*0*%s)([A-Za-z]*)(\d*)""" % (letters, rows))


_REFERENCE_BITS = [b"r", b"R", b"=", b'"', b"'", b" ", b"\t", b"\n", b"x", b":", b"-", b".", b"_", b"<c ", b"<row ",
                   b"0", b"1", b"2", b"9", b"A", b"Z", b"z", b"AB", b"XFD", b"00", b"99999", b"123456"]


@pytest.mark.parametrize(("text", "far"), [
    (b"""<c r = 'A1000000'>""", [(b"A", b"1000000")]), (b"""<c r='A1000000'>""", [(b"A", b"1000000")]),
    (b"""<c r\t=\n"A1000000">""", [(b"A", b"1000000")]), (b"""<x:c r="A1000000">""", [(b"A", b"1000000")]),
    (b"""<c xr="A1000000" r="B2">""", []), (b"""<c r:r="A1000000">""", []),
    (b"""<c r="r="ZZ99999">""", [(b"ZZ", b"99999")]), (b"""r="AB1""", [(b"AB", b"1")]),
    (b"""<c r="A0001000000">""", [(b"A", b"0001000000")]), (b"""<c r="A19999"><c r="a20000">""", [(b"a", b"20000")]),
    (b"""<c r=" A1000000">""", []), (b"""<c r="rr="XX9">""", [(b"rr", b"")]),
    (b"""<c r  =  "xfd400">""", [(b"xfd", b"400")]),
    (b"""<c r ='B123456'r="Q3">""", [(b"B", b"123456")]), (b"""<c r="A1999"/>""", []),
])
def test_the_reference_search_finds_what_the_plain_one_finds(text, far):
    from retroxl.books.safety import _beyond

    assert _beyond(2, 4, 2).findall(text) == far
    for lead, power, letters in ((2, 4, 2), (2, 0, 3), (10, 2, 2), (5, 5, 3)):
        assert _beyond(lead, power, letters).findall(text) == _plain_beyond(lead, power, letters).findall(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_REFERENCE_BITS), max_size=40), st.integers(1, 10), st.integers(0, 6),
       st.integers(2, 3))
def test_hostile_text_gives_the_reference_search_the_plain_ones_answer(bits, lead, power, letters):
    from retroxl.books.safety import _beyond

    text = b"".join(bits)
    assert _beyond(lead, power, letters).findall(text) == _plain_beyond(lead, power, letters).findall(text)


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _args(command: str, path: Path, out: Path) -> list[str]:
    return ["import", str(path), "-o", str(out)] if command == "import" else [command, str(path)]


# validate and recalc join the corpus as soon as cli.py has them.
COMMANDS = [c for c in ("import", "validate", "recalc") if c in main.commands]


@pytest.mark.parametrize("name", CORPUS)
def test_check_workbook_refuses_with_one_clear_line(tmp_path, name):
    make, expected = CORPUS[name]
    path = make(tmp_path)
    before = _digest(path)
    with pytest.raises(RetroxlError) as caught:
        check_workbook(path)
    message = str(caught.value)
    assert expected in message and str(path) in message
    assert "\n" not in message and len(message) < 300
    assert _digest(path) == before


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("name", CORPUS)
def test_cli_refuses_with_exit_2_and_leaves_the_file_alone(tmp_path, name, command):
    make, expected = CORPUS[name]
    path = make(tmp_path)
    before = _digest(path)
    out = tmp_path / "out.xlsx"
    result = CliRunner().invoke(main, _args(command, path, out))
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("retroxl: error: ") and expected in lines[0], result.output
    assert isinstance(result.exception, SystemExit)  # handled, not a crash
    assert _digest(path) == before
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no half-written output left


@pytest.mark.parametrize("name", ["zip-bomb", "million-rows-declared", "million-rows-present"])
def test_a_hostile_campaign_list_is_refused_before_it_is_read(tmp_path, name):
    make, expected = CORPUS[name]
    path = make(tmp_path)
    result = CliRunner().invoke(main, ["batch", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2 and expected in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_real_process_prints_no_traceback(tmp_path):
    for make in (encrypted, zip_bomb, million_rows_declared):
        path = make(tmp_path)
        run = subprocess.run([sys.executable, "-m", "retroxl.cli", "import", str(path), "-o", str(tmp_path / "o.xlsx")],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 2
        assert run.stdout == "" and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr


def test_a_workbook_without_the_retrospective_tables(tmp_path):
    path = tmp_path / "销售数据.xlsx"
    wb = openpyxl.Workbook()
    wb.active.append(["月份", "销售额"])
    wb.active.append(["2024-06", 1_200_000])
    wb.save(path)
    check_workbook(path)  # a sound workbook: refused by the import, not by the file check
    before = _digest(path)
    result = CliRunner().invoke(main, ["import", str(path), "-o", str(tmp_path / "out.xlsx")])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"retroxl: error: {path}: none of the four retrospective tables was found in its 1 sheet(s) "
        "(looked for headers such as 核心目标, 具体指标, 问题描述, 经验类别)"]
    assert _digest(path) == before and not (tmp_path / "out.xlsx").exists()


def test_error_values_in_cells_are_findings_not_file_errors(tmp_path):
    row = [*INDICATORS[1][0][:3], "#N/A", "#DIV/0!", *INDICATORS[1][0][5:]]
    path = write_seed(tmp_path / "errors.xlsx", {"表2": (INDICATORS[0], [row])})
    with zipfile.ZipFile(path) as zf:  # openpyxl stored them as real error cells
        assert zf.read(SHEET).count(b't="e"') == 2
    before = _digest(path)
    result = CliRunner().invoke(main, ["import", str(path), "-o", str(tmp_path / "out.xlsx"), "--json"])
    assert result.exit_code == 0, result.output
    findings = json.loads(result.output)["findings"]
    assert {(f["cell"], f["code"]) for f in findings} == {("D4", "R107"), ("E4", "R204")}
    assert _digest(path) == before


def _number_cell(tmp: Path, name: str, text: bytes) -> Path:
    """The seed with 表2's first 实际值 (D10) stored as the number ``text``, as no spreadsheet would write it."""
    return _in_sheet(tmp, name, lambda xml: re.sub(rb'<c r="D10"[^>]*>.*?</c>',
                                                   b'<c r="D10" t="n"><v>' + text + b"</v></c>", xml))


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("text", [b"1" + b"0" * 400, b"1E999", b"-1E999", b"NaN"],
                         ids=["huge-int", "inf", "-inf", "nan"])
def test_numbers_beyond_float_range_are_no_crash(tmp_path, text, command):
    path = _number_cell(tmp_path, "odd-number.xlsx", text)
    result = CliRunner().invoke(main, _args(command, path, tmp_path / "out.xlsx"))
    assert result.exit_code in (0, 1, 2) and isinstance(result.exception, (SystemExit, type(None))), result.output
    if result.exit_code == 2:
        assert len(result.output.strip().splitlines()) == 1, result.output


def test_an_unreadable_number_keeps_its_text(tmp_path):
    report = import_workbook(_number_cell(tmp_path, "huge.xlsx", b"1" + b"0" * 400), tmp_path / "out.xlsx")
    assert report.retro.rows("indicators")[0]["actual"] == "1" + "0" * 400  # kept, then flagged as not a number


def _calamine_values(data: bytes) -> list:
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    return [(name, book.get_sheet_by_name(name).to_python()) for name in book.sheet_names]


def test_python_calamine_reads_the_same_from_the_checked_parts(tmp_path):
    """collect hands python-calamine the parts the check inflated (stored): the values must not change."""
    from retroxl.generate import demo_workbook

    books = [demo_workbook(tmp_path / "demo.xlsx"), _seed(tmp_path)]
    books += sorted(p for p in EXCEL_MADE.glob("*.xls*")) if EXCEL_MADE.is_dir() else []
    for path in books:
        data = Path(path).read_bytes()
        package = check_workbook(path, data)
        assert package.inflated and _calamine_values(package.checked_zip()) == _calamine_values(data), path


@pytest.mark.skipif(not EXCEL_MADE.is_dir(), reason="shared/fixtures/excel-made is not beside the repository")
def test_workbooks_saved_by_excel_pass_the_file_check():
    books = sorted(p for p in EXCEL_MADE.iterdir() if p.suffix in (".xlsx", ".xlsm"))
    assert len(books) >= 10
    for path in books:
        check_workbook(path)  # charts, VBA, pictures, comments, tables...: no false alarm
