"""Run LibreOffice headless: convert workbooks and recalculate their formulas.

Used to check that the formulas we write compute what the Python engine
computes, and to render workbooks to PDF/PNG. Things learned the hard way:

- LibreOffice trusts the cached values in an .xlsx unless its profile says
  "always recalculate", so every call uses a private profile that does.
- Concurrent runs sharing one profile silently lose files, hence a fresh
  profile directory per call.
- soffice exits 0 even when it could not load a file, so success is judged by
  the output file existing.
- On timeout the whole process group is killed, or soffice.bin lives on.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

__all__ = [
    "LibreOfficeError",
    "find_soffice",
    "convert",
    "convert_many",
    "recalculated_values",
    "run_in_group",
]

# A fresh profile is created on first start (~5-20 s), so be generous.
DEFAULT_TIMEOUT = 180.0

_COMMON_PATHS = (
    "/usr/bin/soffice",
    "/usr/lib/libreoffice/program/soffice",
    "/opt/libreoffice/program/soffice",
    "/usr/local/bin/soffice",
    "/Applications/LibreOffice.app/Contents/MacOS/soffice",
    r"C:\Program Files\LibreOffice\program\soffice.exe",
)

# 0 = always recalculate on load (1 = never, 2 = ask). The OOXML setting is
# the one that matters for .xlsx; ODF is set too so .ods inputs behave alike.
_PROFILE_XCU = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


class LibreOfficeError(RuntimeError):
    """LibreOffice is missing, timed out or produced no output."""


def find_soffice() -> str | None:
    """Path of the soffice executable, or None if LibreOffice is not installed."""
    for name in ("soffice", "libreoffice"):
        if found := shutil.which(name):
            return found
    return next((p for p in _COMMON_PATHS if os.access(p, os.X_OK)), None)


def _output_path(src: Path, fmt: str, outdir: Path) -> Path:
    # fmt may carry a filter, e.g. "pdf:calc_pdf_Export"; the extension is
    # the part before the colon.
    return outdir / f"{src.stem}.{fmt.split(':', 1)[0]}"


def run_in_group(args: list[str], timeout: float) -> str:
    """Run a program in its own process group; return its combined output.

    On timeout the whole group is killed (a headless office or browser leaves
    helper processes behind otherwise) and ``subprocess.TimeoutExpired`` is raised.
    """
    proc = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise
    return out


def _run(args: list[str], timeout: float) -> str:
    """Run soffice in its own process group; return its combined output."""
    try:
        return run_in_group(args, timeout)
    except subprocess.TimeoutExpired:
        raise LibreOfficeError(f"LibreOffice timed out after {timeout:g} s") from None


def convert_many(
    srcs: Sequence[Path], fmt: str, outdir: Path, *, timeout: float = DEFAULT_TIMEOUT
) -> list[Path]:
    """Convert several files in one soffice run (start-up dominates the cost).

    fmt is a --convert-to target such as "xlsx" or "pdf" (optionally with a
    filter: "pdf:calc_pdf_Export"). "png" fails with libreoffice-calc-nogui
    ("no export filter"): render a PDF and rasterise it with pdftoppm instead.
    Returns the output paths in the order of srcs; raises LibreOfficeError if
    soffice is missing, times out, or any output is missing.
    """
    if not srcs:
        return []
    soffice = find_soffice()
    if soffice is None:
        raise LibreOfficeError("LibreOffice (soffice) not found; install libreoffice-calc")
    srcs = [Path(s).resolve() for s in srcs]
    outdir = Path(outdir).resolve()
    outs = [_output_path(s, fmt, outdir) for s in srcs]
    if len(set(outs)) != len(outs):
        raise LibreOfficeError("two inputs would convert to the same output name")
    if any(o == s for o, s in zip(outs, srcs)):
        raise LibreOfficeError("output would overwrite its input; choose another outdir")
    for src in srcs:
        if not src.is_file():
            raise LibreOfficeError(f"no such file: {src}")
    outdir.mkdir(parents=True, exist_ok=True)
    # A stale output from an earlier run would pass the existence check below.
    for out in outs:
        out.unlink(missing_ok=True)

    with tempfile.TemporaryDirectory(
        prefix="retroxl-lo-", ignore_cleanup_errors=True
    ) as profile:
        user = Path(profile, "user")
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_PROFILE_XCU, encoding="utf-8")
        log = _run(
            [
                soffice,
                f"-env:UserInstallation={Path(profile).as_uri()}",
                "--headless",
                "--norestore",
                "--nolockcheck",
                "--convert-to",
                fmt,
                "--outdir",
                str(outdir),
                *map(str, srcs),
            ],
            timeout,
        )

    missing = [s.name for s, o in zip(srcs, outs) if not o.is_file()]
    if missing:
        # soffice also prints noise such as javaldx warnings; prefer its error.
        lines = log.strip().splitlines()
        reason = next((ln for ln in reversed(lines) if ln.startswith("Error")), None)
        reason = reason or (lines[-1] if lines else "no output and no message")
        raise LibreOfficeError(
            f"LibreOffice could not convert {', '.join(missing)} to {fmt}: {reason}"
        )
    return outs


def convert(src: Path, fmt: str, outdir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Convert one file with LibreOffice (recalculating on load); return the output path."""
    return convert_many([src], fmt, outdir, timeout=timeout)[0]


def recalculated_values(
    src: Path, *, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, list[list[object]]]:
    """Cell values of every sheet of src after LibreOffice recalculated it.

    Returns {sheet name: rows of cell values}. The converted copy is only read
    for its values and then discarded: LibreOffice rewrites the formulas it
    saves, so it must never replace the original.
    """
    import openpyxl  # only needed here; keeps `import retroxl.libreoffice` light

    with tempfile.TemporaryDirectory(prefix="retroxl-recalc-") as tmp:
        out = convert(src, "xlsx", Path(tmp), timeout=timeout)
        wb = openpyxl.load_workbook(out, data_only=True)
        return {
            ws.title: [list(row) for row in ws.iter_rows(values_only=True)]
            for ws in wb.worksheets
        }
