"""Shared pytest fixtures."""

import os

import pytest

from retroxl.libreoffice import find_soffice


# ---- soffice: require LibreOffice (skip locally, fail on CI) ----------------
@pytest.fixture(scope="session")
def soffice() -> str:
    """Path of soffice. Skips when LibreOffice is missing, but fails under
    CI=true: on CI a missing engine must not turn recalculation tests green."""
    path = find_soffice()
    if path is None:
        message = "LibreOffice (soffice) is not installed"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(message + " but CI=true requires it", pytrace=False)
        pytest.skip(message)
    return path
