"""`retroxl new` and `retroxl demo` from the command line: bad input gets one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys

import openpyxl
import pytest
from click.testing import CliRunner

from retroxl.cli import main


def run(*args: str):
    return CliRunner().invoke(main, list(args))


def test_new_writes_the_header(tmp_path):
    out = tmp_path / "复盘.xlsx"
    r = run("new", str(out), "--campaign", "@双11大促", "--start", "2024.11.01", "--end", "2024-11-11",
            "--owner", "-王")
    assert r.exit_code == 0, r.output
    ws = openpyxl.load_workbook(out)["说明"]
    assert [ws.cell(i, 2).value for i in (3, 6)] == ["@双11大促", "-王"]
    assert ws.cell(5, 2).value.date().isoformat() == "2024-11-11"


def test_new_refuses_an_existing_file_without_force(tmp_path):
    out = tmp_path / "a.xlsx"
    assert run("new", str(out)).exit_code == 0
    before = out.read_bytes()
    r = run("new", str(out), "--campaign", "other")
    assert r.exit_code == 2 and "--force" in r.output
    assert out.read_bytes() == before
    assert run("new", str(out), "--campaign", "other", "--force").exit_code == 0
    assert out.read_bytes() != before


@pytest.mark.parametrize("args, text", [
    (["--start", "2024-13-45"], "not a date"),
    (["--start", "2024-06-15", "--end", "2024-06-01"], "before the start"),
    (["--lang", "fr"], "fr"),
])
def test_bad_input_one_line_exit_2(tmp_path, args, text):
    out = tmp_path / "a.xlsx"
    r = run("new", str(out), *args)
    assert r.exit_code == 2 and text in r.output and "Traceback" not in r.output
    assert not out.exists() and not list(tmp_path.iterdir())  # no half-written or temp file left


def test_unwritable_path(tmp_path):
    r = run("new", str(tmp_path / "missing" / "a.xlsx"))
    assert r.exit_code == 2 and "does not exist" in r.output
    if os.geteuid() != 0:  # root can write anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o500)
        assert run("new", str(ro / "a.xlsx")).exit_code == 2


def test_demo_command(tmp_path):
    out = tmp_path / "demo.xlsx"
    r = subprocess.run([sys.executable, "-m", "retroxl.cli", "demo", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ws = openpyxl.load_workbook(out, data_only=True)["表1 活动概览"]
    assert [ws.cell(4 + i, 6).value for i in range(3)] == [1.2, 1.24, 0.9]


def test_import_retroxl_stays_light():
    code = ("import sys, retroxl; retroxl.parse_quantity; retroxl.attainment; "
            "heavy = [m for m in ('pandas', 'openpyxl', 'xlsxwriter', 'xlwings', 'python_calamine', 'numpy') "
            "if m in sys.modules]; print(heavy)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == "[]"


@pytest.mark.parametrize("name", ["<r>x</r>", "<r><t>注入</t></r>", "a & <b> \"c\""])
def test_markup_like_names_stay_as_typed(tmp_path, name):
    out = tmp_path / "m.xlsx"
    assert run("new", str(out), "--campaign", name).exit_code == 0
    assert openpyxl.load_workbook(out)["说明"].cell(3, 2).value == name
