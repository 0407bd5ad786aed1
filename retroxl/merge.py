"""``retroxl new --into``: add the retrospective sheets to a workbook a team already has.

The standard sheets are written by the same generator as ``retroxl new`` into a
temporary file, then carried into the existing workbook part by part (see
:mod:`retroxl.books.transplant`): every part the workbook already had stays byte
for byte, except the lists of what it holds (workbook, relationships, content
types, styles). A macro workbook keeps its .xlsm extension and its VBA.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from .errors import RetroxlError
from .files import atomic_output
from .generate import new_workbook
from .model import Retrospective
from .template import Template


def add_retrospective(path: str | Path, retro: Retrospective | None = None, *, out: str | Path | None = None,
                      template: Template | str | Path | None = None, lang: str = "zh", force: bool = False,
                      today: date | None = None) -> Path:
    """Add the standard sheets to the workbook at ``path`` (in place, or written to ``out``).

    >>> add_retrospective("销售周报.xlsm", Retrospective(info={"campaign": "双11"}))  # doctest: +SKIP
    """
    from .books.ooxml import OoxmlBook
    from .books.safety import check_workbook
    from .books.transplant import transplant

    path = Path(path)
    dest = Path(out) if out else path
    checked = check_workbook(path)
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise RetroxlError(f"{path}: only .xlsx and .xlsm workbooks can take the retrospective sheets")
    if dest.suffix.lower() != path.suffix.lower():
        raise RetroxlError(f"{dest}: keep the extension {path.suffix} (a macro workbook stays .xlsm)")
    with tempfile.TemporaryDirectory(prefix="retroxl-into-") as tmp:
        fresh = new_workbook(Path(tmp) / "sheets.xlsx", retro, template=template, lang=lang, today=today)
        book = OoxmlBook(path, checked)
        try:
            transplant(book, str(fresh))
            with atomic_output(dest, force=force or dest == path) as target:
                book.save(target)
                book.close()
        finally:
            book.close()
    return dest
