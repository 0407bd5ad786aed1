import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
import time
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter

from retroxl import libreoffice as lo
from retroxl.libreoffice import (
    LibreOfficeError,
    convert,
    convert_many,
    recalculated_values,
)


def _book(path: Path, sheet: str = "Sheet1") -> Path:
    """A tiny workbook whose formulas carry deliberately WRONG cached values."""
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet(sheet)
    ws.write_row(0, 0, ["目标值", "实际值", "达成率"])
    ws.write_row(1, 0, [5000, 6200])
    ws.write_formula(1, 2, "=B2/A2", None, 999)
    ws.write_formula(2, 2, '=IF(C2>=1,"达成","未达成")', None, "wrong")
    wb.close()
    return path


def test_recalculation_ignores_cached_values(soffice, tmp_path):
    src = _book(tmp_path / "book.xlsx")
    # Guard against a vacuous test: the file really caches the wrong value.
    cached = openpyxl.load_workbook(src, data_only=True)["Sheet1"]["C2"].value
    assert cached == 999

    values = recalculated_values(src)

    rows = values["Sheet1"]
    assert rows[0] == ["目标值", "实际值", "达成率"]
    assert rows[1][:2] == [5000, 6200]
    assert rows[1][2] == pytest.approx(1.24)
    assert rows[2][2] == "达成"


def test_recalculation_leaves_the_source_untouched(soffice, tmp_path):
    src = _book(tmp_path / "book.xlsx")
    before = src.read_bytes()
    recalculated_values(src)
    assert src.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


def test_chinese_sheet_and_file_names(soffice, tmp_path):
    src = _book(tmp_path / "活动复盘.xlsx", sheet="关键数据指标")
    values = recalculated_values(src)
    assert list(values) == ["关键数据指标"]
    assert values["关键数据指标"][1][2] == pytest.approx(1.24)


def test_concurrent_calls_do_not_lose_files(soffice, tmp_path):
    srcs = [_book(tmp_path / f"book{i}.xlsx") for i in range(3)]
    with ThreadPoolExecutor(len(srcs)) as pool:
        results = list(pool.map(recalculated_values, srcs))
    assert all(r["Sheet1"][1][2] == pytest.approx(1.24) for r in results)


def test_not_a_spreadsheet_raises(soffice, tmp_path):
    bogus = tmp_path / "bogus.xlsx"
    bogus.write_bytes(b"\x00\x01 this is not a workbook")
    with pytest.raises(LibreOfficeError, match="could not convert bogus.xlsx"):
        recalculated_values(bogus)


def test_missing_input_raises(tmp_path):
    with pytest.raises(LibreOfficeError, match="no such file"):
        convert(tmp_path / "absent.xlsx", "pdf", tmp_path)


def test_missing_soffice_raises(monkeypatch, tmp_path):
    monkeypatch.setattr(lo, "find_soffice", lambda: None)
    with pytest.raises(LibreOfficeError, match="not found"):
        convert(_book(tmp_path / "book.xlsx"), "pdf", tmp_path / "out")


def test_convert_many_to_pdf_in_one_run(soffice, tmp_path):
    srcs = [_book(tmp_path / "a.xlsx"), _book(tmp_path / "复盘.xlsx")]
    outdir = tmp_path / "pdf"
    outs = convert_many(srcs, "pdf", outdir)
    assert outs == [outdir / "a.pdf", outdir / "复盘.pdf"]
    for out in outs:
        assert out.read_bytes().startswith(b"%PDF")


def test_a_stale_output_does_not_count_as_success(soffice, tmp_path):
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "bogus.pdf").write_bytes(b"%PDF left over from an earlier run")
    bogus = tmp_path / "bogus.xlsx"
    bogus.write_bytes(b"not a workbook")
    with pytest.raises(LibreOfficeError):
        convert(bogus, "pdf", outdir)


def test_refuses_to_overwrite_its_input(tmp_path):
    src = _book(tmp_path / "book.xlsx")
    with pytest.raises(LibreOfficeError, match="overwrite"):
        convert(src, "xlsx", tmp_path)


def test_timeout_kills_the_whole_process_group(soffice, tmp_path, monkeypatch):
    started: list[subprocess.Popen] = []
    real_popen = subprocess.Popen

    def spy(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(lo.subprocess, "Popen", spy)
    with pytest.raises(LibreOfficeError, match="timed out"):
        convert(_book(tmp_path / "book.xlsx"), "pdf", tmp_path / "out", timeout=0.2)

    (proc,) = started
    # soffice forks soffice.bin into the same group; none of it may survive.
    deadline = time.monotonic() + 5
    while True:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline, "soffice process group still alive"
        time.sleep(0.1)
