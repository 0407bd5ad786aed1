"""Shared pytest fixtures."""

import importlib.util
import os
import shutil
from datetime import date
from pathlib import Path
from typing import NoReturn

import pytest
from workbook_cells import EXCEL_MADE, campaign

from retroxl.addin import udfs_dir
from retroxl.generate import demo_workbook, new_workbook
from retroxl.libreoffice import find_soffice
from retroxl.report import find_chromium


# ---- what some tests require: skip locally, fail on CI ----------------------
def _required(message: str) -> NoReturn:
    """Skip when something a test needs is missing, but fail under CI=true: on CI a missing
    engine, tool or file must not turn the tests that need it green."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(message + " (CI=true requires it)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def soffice() -> str:
    """Path of soffice, for the recalculation tests."""
    path = find_soffice()
    if path is None:
        _required("LibreOffice (soffice) is not installed")
    return path


@pytest.fixture(scope="session")
def chromium() -> str:
    """Headless Chromium prints the PDF; poppler-utils read it back."""
    path = find_chromium()
    if path is None or shutil.which("pdftoppm") is None:
        _required("chromium and poppler-utils are needed for PDF reports")
    return path


@pytest.fixture(scope="session")
def excel_made() -> Path:
    """The folder of workbooks Excel itself saved."""
    if not EXCEL_MADE.is_dir() or not any(EXCEL_MADE.glob("*.xls[xm]")):
        _required(f"{EXCEL_MADE} (Excel-made workbooks) is not beside the repository")
    return EXCEL_MADE


# ---- shared books and modules -------------------------------------------------
@pytest.fixture()
def books(tmp_path: Path) -> Path:
    """The published example and two earlier campaigns in one folder."""
    folder = tmp_path / "books"
    folder.mkdir()
    demo_workbook(folder / "demo.xlsx")
    new_workbook(folder / "2023.xlsx", campaign(
        "2023夏季新品推广", date(2023, 6, 1), date(2023, 6, 15),
        [("曝光量", "次", 700_000, "80万次"), ("新品转化率", "%", 0.04, 0.0477)]))
    new_workbook(folder / "2022.xlsx", campaign("2022夏季新品推广", date(2022, 6, 1), date(2022, 6, 15),
                                                [("曝光量", "次", 600_000, 650_000)]))
    return folder


@pytest.fixture
def xw(monkeypatch):
    """xlwings with its remote (JSON-payload) engine, unlocked for this test only."""
    monkeypatch.setenv("XLWINGS_LICENSE_KEY", "noncommercial")
    import xlwings

    engines = xlwings.engines
    saved = (list(engines.engines), dict(engines.engines_by_name))
    if "remote" not in engines.engines_by_name:
        from xlwings.pro import _xlremote

        engines.add(xlwings.Engine(impl=_xlremote.engine))
    yield xlwings
    engines.engines[:], engines.engines_by_name = saved[0], saved[1]


@pytest.fixture(scope="module")
def udfs():
    """The shipped worksheet-functions module (retroxl_udfs.py), loaded as Excel's Python would."""
    spec = importlib.util.spec_from_file_location("retroxl_udfs", udfs_dir() / "retroxl_udfs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
