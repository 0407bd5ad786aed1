"""The desktop add-in (.xlam + module) and the xlwings Lite main.py, checked without Excel."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from oletools.olevba import VBA_Parser

import xlwings
from retroxl.addin import (
    ADDIN,
    CONF_SHEET,
    LITE_ENTRIES,
    build_addin,
    build_lite,
    install_addin,
    lite_bundle,
)
from retroxl.cli import main
from retroxl.errors import RetroxlError

XLWINGS_DIR = Path(xlwings.__file__).parent
MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
UI_NS = "{http://schemas.microsoft.com/office/2006/01/customui}"
WIN_PYTHON = r"C:\Users\张经理\AppData\Local\Programs\Python\Python311\python.exe"


@pytest.fixture(scope="module")
def addin(tmp_path_factory):
    folder = tmp_path_factory.mktemp("addin & co")  # '&' must survive XML and the VBA command line
    return build_addin(folder, interpreter=WIN_PYTHON, platform="win32")


def _macros(path: Path) -> dict[str, str]:
    parser = VBA_Parser(str(path))
    try:
        assert parser.detect_vba_macros()
        return {stream.split("/")[-1]: code for _, stream, _, code in parser.extract_macros()}
    finally:
        parser.close()


def _settings(xlam: Path) -> dict[str, str]:
    with zipfile.ZipFile(xlam) as z:
        strings = ["".join(t.text or "" for t in si.iter(f"{MAIN_NS}t"))
                   for si in ET.fromstring(z.read("xl/sharedStrings.xml"))]
        sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    cells = {}
    for c in sheet.iter(f"{MAIN_NS}c"):
        if c.get("t") == "s":
            cells[c.get("r")] = strings[int(c.find(f"{MAIN_NS}v").text)]
        elif c.get("t") == "inlineStr":
            cells[c.get("r")] = "".join(t.text or "" for t in c.iter(f"{MAIN_NS}t"))
    return {v: cells.get("B" + ref[1:], "") for ref, v in cells.items() if ref.startswith("A")}


def test_the_package_is_whole_and_keeps_xlwings_vba_byte_for_byte(addin):
    assert addin.addin.name == f"{ADDIN}.xlam" and addin.module.name == f"{ADDIN}.py"
    with zipfile.ZipFile(addin.addin) as z, zipfile.ZipFile(XLWINGS_DIR / "quickstart_addin_ribbon.xlam") as src:
        assert z.testzip() is None
        assert z.namelist() == src.namelist()
        assert z.read("xl/vbaProject.bin") == src.read("xl/vbaProject.bin")
        for name in z.namelist():
            if name.endswith((".xml", ".rels")):
                ET.fromstring(z.read(name))  # well-formed
        assert "macroEnabled" in z.read("[Content_Types].xml").decode()


def test_the_ribbon_button_calls_a_macro_that_exists(addin):
    with zipfile.ZipFile(addin.addin) as z:
        ui = ET.fromstring(z.read("customUI/customUI.xml"))
    tabs = list(ui.iter(f"{UI_NS}tab"))
    assert [t.get("label") for t in tabs] == ["复盘"]
    buttons = list(ui.iter(f"{UI_NS}button"))
    assert [b.get("label") for b in buttons] == ["重新计算"]
    module, _, macro = buttons[0].get("onAction").partition(".")

    macros = _macros(addin.addin)
    assert module in macros, f"no VBA module {module}"
    assert re.search(rf"^Sub {macro}\(control As IRibbonControl\)", macros[module], re.M)
    # RunMain imports the module named like the add-in file and calls its main():
    assert "ThisWorkbook.Name" in macros[module]
    assert '".main()"' in macros[module].replace(" ", "").replace('&".main()"', '".main()"')
    assert Path(addin.addin).stem == Path(addin.module).stem


def test_the_settings_sheet_is_the_one_the_vba_reads(addin):
    macros = _macros(addin.addin)
    project = re.search(r'PROJECT_NAME As String = "(\w+)"', macros["xlwings"])[1]
    assert CONF_SHEET == f"{project}.conf"
    with zipfile.ZipFile(addin.addin) as z:
        workbook = ET.fromstring(z.read("xl/workbook.xml"))
    assert [s.get("name") for s in workbook.iter(f"{MAIN_NS}sheet")] == [CONF_SHEET]
    settings = _settings(addin.addin)
    assert settings["Interpreter_Win"] == WIN_PYTHON
    assert settings["Interpreter_Mac"] == ""
    assert settings["PYTHONPATH"] == str(addin.module.parent)
    assert settings["UDF Modules"] == ADDIN


def test_the_module_imports_cleanly_the_way_runpython_imports_it(addin, tmp_path):
    """RunPython: python -c "import xlwings.utils; prepare_sys_path(...); import retroxl_addin; retroxl_addin.main()"."""
    book = tmp_path / "活动复盘.xlsx"
    args = f"true;{book};{addin.addin};;;;{addin.module.parent}"
    code = (f"import xlwings.utils; xlwings.utils.prepare_sys_path({args!r}); import {ADDIN}; "
            f"import json; print(json.dumps([callable({ADDIN}.main), {ADDIN}.RETRO_ATTAIN(6200, '5000件'), "
            f"{ADDIN}.__file__]))")
    out = subprocess.run([sys.executable, "-B", "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    is_main, attainment, path = json.loads(out.stdout)
    assert is_main and attainment == pytest.approx(1.24)
    assert Path(path) == addin.module


def test_building_is_deterministic_and_refuses_to_overwrite(tmp_path):
    a = build_addin(tmp_path, interpreter=WIN_PYTHON, platform="win32")
    first = a.addin.read_bytes()
    with pytest.raises(RetroxlError, match="already exists"):
        build_addin(tmp_path, interpreter=WIN_PYTHON, platform="win32")
    build_addin(tmp_path, interpreter=WIN_PYTHON, platform="win32", force=True)
    assert a.addin.read_bytes() == first


def test_linux_build_leaves_the_interpreter_to_the_path(tmp_path):
    settings = _settings(build_addin(tmp_path, platform="linux").addin)
    assert settings["Interpreter_Win"] == settings["Interpreter_Mac"] == ""


def test_install_on_windows_puts_the_addin_in_xlstart(tmp_path):
    appdata = tmp_path / "AppData" / "Roaming"
    report = install_addin(platform="win32", home=tmp_path, env={"APPDATA": str(appdata)})
    xlstart = appdata / "Microsoft" / "Excel" / "XLSTART"
    assert (xlstart / f"{ADDIN}.xlam").is_file()
    assert not list(xlstart.glob("*.py"))  # Excel opens everything in XLSTART: the module lives elsewhere
    module = tmp_path / ".retroxl" / "addin" / f"{ADDIN}.py"
    assert module.is_file()
    assert _settings(xlstart / f"{ADDIN}.xlam")["PYTHONPATH"] == str(module.parent)
    assert any("ImportPythonUDFsToAddin" in line for line in report.todo)


def test_install_on_macos_also_enables_runpython(tmp_path):
    office = tmp_path / "Library" / "Group Containers" / "UBF8T346G9.Office"
    office.mkdir(parents=True)
    report = install_addin(platform="darwin", home=tmp_path, env={})
    assert (office / "User Content.localized" / "Startup.localized" / "Excel" / f"{ADDIN}.xlam").is_file()
    scripts = tmp_path / "Library" / "Application Scripts" / "com.microsoft.Excel"
    assert (scripts / f"xlwings-{xlwings.__version__}.applescript").is_file()
    assert report.done and report.todo


def test_install_without_desktop_excel_says_what_to_do(tmp_path):
    report = install_addin(platform="linux", home=tmp_path, env={})
    assert any("xlwings Lite" in line for line in report.todo)
    assert (tmp_path / ".retroxl" / "addin" / f"{ADDIN}.xlam").is_file()


def test_cli_addin_build(tmp_path):
    result = CliRunner().invoke(main, ["addin", "build", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / f"{ADDIN}.xlam").is_file() and (tmp_path / f"{ADDIN}.py").is_file()
    again = CliRunner().invoke(main, ["addin", "build", str(tmp_path)])
    assert again.exit_code == 2 and "already exists" in again.output


def test_cli_addin_install_and_lite(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(sys, "platform", "linux")
    result = CliRunner().invoke(main, ["addin", "install"])
    assert result.exit_code == 0, result.output
    assert "next: " in result.output and "xlwings Lite" in result.output
    result = CliRunner().invoke(main, ["addin", "lite", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "main.py").is_file() and (tmp_path / "requirements.txt").is_file()


def test_cli_addin_build_into_a_missing_folder(tmp_path):
    result = CliRunner().invoke(main, ["addin", "build", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such folder" in result.output


# ---------------------------------------------------------------- xlwings Lite: what main.py carries

def test_the_lite_bundle_is_the_package_own_modules_and_nothing_heavy():
    files = lite_bundle()
    root = Path(__file__).resolve().parent.parent
    for rel, text in files.items():
        if rel.startswith("retroxl/"):
            assert text == (root / rel).read_text(encoding="utf-8")   # built from the package, not a copy
        elif rel.startswith("workbook_templates/"):
            assert text == (root / rel).read_text(encoding="utf-8")
        else:
            assert rel in {f"{m}.py" for m in LITE_ENTRIES}
            assert text == (root / "udfs" / rel).read_text(encoding="utf-8")
    for needed in ("retroxl/engine/numbers.py", "retroxl/books/live.py", "retroxl/recalc.py",
                   "retroxl/validate.py", "retroxl/books/xlsx_writer.py", "workbook_templates/standard.toml"):
        assert needed in files
    for heavy in ("retroxl/libreoffice.py", "retroxl/cli.py", "retroxl/addin.py", "retroxl/books/fast_writer.py"):
        assert heavy not in files
    for rel, text in files.items():
        for module in ("openpyxl", "pandas", "python_calamine", "click", "rich"):
            assert not re.search(rf"^(import|from) {module}\b", text, re.M), f"{rel} imports {module}"


def test_a_module_pyodide_lacks_stops_the_build(tmp_path, monkeypatch):
    import retroxl.addin as addin_module

    fake_udfs = tmp_path / "udfs"
    fake_udfs.mkdir()
    for name in LITE_ENTRIES:
        (fake_udfs / f"{name}.py").write_text("import numpy\n", encoding="utf-8")
    monkeypatch.setattr(addin_module, "udfs_dir", lambda: fake_udfs)
    with pytest.raises(RetroxlError, match="numpy"):
        addin_module.lite_bundle()


def test_build_lite_writes_main_and_requirements(tmp_path):
    files = build_lite(tmp_path)
    assert files.main.read_text(encoding="utf-8").startswith('"""retroxl for xlwings Lite')
    requirements = files.requirements.read_text(encoding="utf-8").split()
    assert any(r.startswith("xlwings") for r in requirements)
    compile(files.main.read_text(encoding="utf-8"), "main.py", "exec")



# ---------------------------------------------------------------- xlwings Lite: main.py in a fresh interpreter

_LITE_RUNNER = r"""
import asyncio, json, sys
folder, inputs_path = sys.argv[1:3]
sys.path.insert(0, folder)
import main
import retroxl
import xlwings as xw
from xlwings.server import custom_functions_call, custom_functions_meta, custom_scripts_call, custom_scripts_meta

inputs = json.load(open(inputs_path, encoding="utf-8"))
formulas = inputs["formulas"]

async def get_formula(self):  # Lite asks Excel; here the workbook file's formulas stand in
    grid = formulas[self.sheet.name]
    rows, cols = self.shape
    return [[(grid[r][c] if r < len(grid) and c < len(grid[r]) else None)
             for c in range(self.column - 1, self.column - 1 + cols)] for r in range(self.row - 1, self.row - 1 + rows)]

xw.main.Range.get_formula = get_formula
out = {"retroxl": retroxl.__file__,
       "functions": sorted(f["name"] for f in custom_functions_meta(main)["functions"]),
       "scripts": sorted((s["function_name"], s["name"]) for s in custom_scripts_meta(main)), "calls": []}
for name, args in inputs["calls"]:
    data = {"func_name": name, "args": [[[a]] for a in args], "version": xw.__version__, "client": "Office.js",
            "runtime": "1.18", "culture_info_name": "zh-CN", "date_format": "yyyy/m/d",
            "caller_address": "Sheet1!A1"}
    out["calls"].append(asyncio.run(custom_functions_call(data, main)))

def run(script, payload):
    book = xw.Book(json=payload)
    asyncio.run(custom_scripts_call(main, script, typehint_to_value={xw.Book: book}))
    return book.json()["actions"]

out["recalc"] = run("recalc_button", inputs["payload"])
out["example"] = run("example_button", inputs["empty"])
out["again"] = run("new_sheets_button", inputs["payload"])
print(json.dumps(out, ensure_ascii=False, default=str))
"""

CALLS = [
    ("RETRO_NUM", ["120万次"]), ("RETRO_NUM", ["1:3.8"]), ("RETRO_NUM", ["百分之六点二"]), ("RETRO_NUM", ["下次活动前"]),
    ("RETRO_NUM", ["100万次/5000件/2000人", 2]), ("RETRO_NUM", [None]), ("RETRO_ATTAIN", ["120万次", "100万次", None]),
    ("RETRO_ATTAIN", [6200, 5000, "越高越好"]), ("RETRO_ATTAIN", [4, 5, "越低越好"]), ("RETRO_ATTAIN", [5, 0, None]),
    ("RETRO_ATTAIN", ["1:3.8", "1:3", None]), ("RETRO_VAR", [1_200_000, 800_000]), ("RETRO_VAR", [1, "=1/0"]),
    ("RETRO_ROI", [3_800_000, 1_000_000]), ("RETRO_ROI", [1, 0]),
]


def test_lite_main_runs_in_a_fresh_interpreter_like_the_package(tmp_path, xw, udfs):
    import copy
    import os

    from retroxl.books.live import add_standard_sheets
    from retroxl.demo import demo_retrospective
    from retroxl.generate import demo_workbook
    from test_live import _payload, payload_from_file

    lite = build_lite(tmp_path)
    book_path = demo_workbook(tmp_path / "示例.xlsx")
    payload, formulas = payload_from_file(book_path)
    empty = _payload({"Sheet1": [[""]]})
    inputs = tmp_path / "inputs.json"
    inputs.write_text(json.dumps({"payload": payload, "formulas": formulas, "empty": empty, "calls": CALLS},
                                 ensure_ascii=False, default=str), encoding="utf-8")
    runner = tmp_path / "runner.py"
    runner.write_text(_LITE_RUNNER, encoding="utf-8")
    env = {**os.environ, "XLWINGS_ON_SERVER": "true", "XLWINGS_LICENSE_KEY": "noncommercial",
           "TMPDIR": str(tmp_path)}  # main.py unpacks its modules under the temp folder
    out = subprocess.run([sys.executable, str(runner), str(lite.main.parent), str(inputs)], cwd=tmp_path,
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    *printed, last = out.stdout.splitlines()
    got = json.loads(last)
    assert printed[0].startswith("重新计算完成")   # what Lite's output pane shows

    # retroxl came from main.py's bundle, not from this checkout
    root = Path(__file__).resolve().parent.parent
    assert not Path(got["retroxl"]).resolve().is_relative_to(root)
    assert got["functions"] == ["RETRO_ATTAIN", "RETRO_NUM", "RETRO_ROI", "RETRO_VAR"]
    assert got["scripts"] == [["example_button", "生成示例"], ["new_sheets_button", "新建复盘表"],
                              ["recalc_button", "重新计算"]]

    for (name, args), result in zip(CALLS, got["calls"]):
        want = getattr(udfs, name)(*args)
        assert result == [[want]] or result[0][0] == pytest.approx(want), (name, args, result)

    def alert(actions):
        assert actions[-1]["func"] == "alert"
        return actions[:-1], actions[-1]["args"][0]

    # 重新计算: the same queued writes as the package's live adapter, and the same message
    book = xw.Book(json=copy.deepcopy(payload))
    message = udfs.recalculate(book, formulas)
    writes, shown = alert(got["recalc"])
    assert json.loads(json.dumps(book.json()["actions"], ensure_ascii=False, default=str)) == writes
    assert shown == message and message.startswith("重新计算完成")

    # 生成示例: the sheets the package adds
    book = xw.Book(json=copy.deepcopy(empty))
    names = add_standard_sheets(book, demo_retrospective())
    writes, shown = alert(got["example"])
    assert json.loads(json.dumps(book.json()["actions"], ensure_ascii=False, default=str)) == writes
    assert all(n in shown for n in names)

    # 新建复盘表 on a workbook that has them already: one line, nothing written
    writes, shown = alert(got["again"])
    assert writes == [] and shown.startswith("retroxl：") and "说明" in shown
