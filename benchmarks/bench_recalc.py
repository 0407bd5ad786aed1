"""Time `retroxl recalc` and `retroxl validate` on big workbooks beside a plain python-calamine read.

    python3 benchmarks/bench_recalc.py [ROWS ...]        (default: 1000 10000)

For each size, a standard workbook with that many 表2 rows (2% of them text
entries such as 120万次) is written once and kept in the temp folder. Then, best of 3 runs each:

- calamine read: python-calamine reading every sheet of the file (the baseline:
  a plain read, no formulas, no writing);
- validate: read, compute, check (the file is only read);
- recalc, values current: the file as generated (cached values already right; the
  text entries' findings are marked, so the 表2 part is rewritten once);
- recalc, again: the result of that recalc recalculated (nothing left to change);
- recalc, entries changed: every 实际值 retyped by a tool that does not calculate,
  so every computed cell of 表2 and the dashboard gets a new cached value.

validate and recalc first check that the file is a safe workbook (retroxl.books.safety);
its own time is printed too, and every figure is measured twice: as the commands run, and
with that check left out (the part recalc and validate themselves take).

Floor (issue 3): 10,000 rows in at most 1 s, cost linear in rows.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from python_calamine import CalamineWorkbook

from retroxl import __version__, demo_retrospective, new_workbook
from retroxl.books import safety
from retroxl.books.ooxml import OoxmlBook
from retroxl.books.zcodec import zlib
from retroxl.recalc import recalc
from retroxl.validate import validate

TODAY = date(2024, 6, 20)
T2 = "表2 关键指标"


def workbook(rows: int, folder: Path) -> Path:
    """The benchmark workbook for ``rows`` 表2 rows, written once and reused."""
    path = folder / f"retroxl-bench-{__version__}-v3-{rows}.xlsx"
    if path.exists():
        return path
    retro = demo_retrospective()
    base = retro.tables["indicators"][0]       # 流量 / 曝光量 / 次 / 越高越好 / 后台数据
    types = ("流量", "转化", "用户", "销售")
    retro.tables["indicators"] = [
        dict(base, type=types[i % 4], indicator=f"指标{i}", target=("100万次" if i % 50 == 0 else 1000 + i),
             actual=("120万次" if i % 50 == 0 else 1100 + i), previous=900 + i)
        for i in range(rows)]
    print(f"  (writing the {rows}-row workbook once: {path})", file=sys.stderr)
    new_workbook(path.with_suffix(".tmp.xlsx"), retro, force=True, today=TODAY).replace(path)
    return path


def retyped(src: Path) -> Path:
    """The same workbook with every 实际值 changed and no cached value updated."""
    path = src.with_name(src.stem + "-retyped.xlsx")
    if path.exists():
        return path
    with OoxmlBook(src) as book:
        rows = book.tables(T2)["tbl_indicators"][2] - 2
        book.write_values(T2, 3, 5, [[1200 + i] for i in range(rows)])
        book.save(path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)
    return path


def best(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def calamine_read(path: Path) -> None:
    wb = CalamineWorkbook.from_path(str(path))
    for name in wb.sheet_names:
        wb.get_sheet_by_name(name).to_python()


def timings(path: Path, changed: Path, out: Path, again: Path) -> dict[str, float]:
    return {
        "validate": best(lambda: validate(path, today=TODAY)),
        "recalc, values current": best(lambda: recalc(path, out, today=TODAY)),
        "recalc, again": best(lambda: recalc(out, again, today=TODAY)),
        "recalc, entries changed": best(lambda: recalc(changed, out, today=TODAY)),
    }


def table(title: str, results: list[tuple[int, int, dict[str, float]]]) -> None:
    names = list(results[0][2])
    print(f"\n{title}")
    print(f"{'表2 rows':>9} {'file KiB':>9} " + " ".join(f"{n:>24}" for n in names))
    for rows, size, t in results:
        print(f"{rows:>9} {size / 1024:>9.0f} " + " ".join(f"{t[n]:>22.3f} s" for n in names))
    if len(results) > 1:
        (r0, _, t0), (r1, _, t1) = results[0], results[-1]
        print(f"cost per row (s per 1,000 rows), {r0} → {r1} rows: "
              + ", ".join(f"{n}: {(t1[n] - t0[n]) / (r1 - r0) * 1000:.3f}" for n in names))


def main(sizes: list[int]) -> None:
    folder = Path(tempfile.gettempdir())
    full, own = [], []
    check_workbook = safety.check_workbook
    with tempfile.TemporaryDirectory() as tmp:
        out, again = Path(tmp) / "out.xlsx", Path(tmp) / "again.xlsx"
        for rows in sizes:
            path = workbook(rows, folder)
            changed = retyped(path)
            validate(path, today=TODAY)  # imports and template load outside the timing
            size = path.stat().st_size
            base = {"calamine read": best(lambda: calamine_read(path)),
                    "safety check": best(lambda: check_workbook(path))}
            full.append((rows, size, {**base, **timings(path, changed, out, again)}))
            safety.check_workbook = lambda path: None     # validate and recalc import it when they run
            try:
                own.append((rows, size, {"calamine read": base["calamine read"],
                                         **timings(path, changed, out, again)}))
            finally:
                safety.check_workbook = check_workbook
    table("as the commands run (safety check included):", full)
    table("without the safety check:", own)
    print("(best of 3 wall-clock runs; the calamine read is the baseline measured in the same run; "
          f"deflate and CRC-32 by {zlib.__name__})")
    r1, _, t1 = own[-1]
    ratio = t1["recalc, entries changed"] / t1["calamine read"]
    print(f"recalc (entries changed, no safety check) at {r1} rows = {ratio:.1f} × the calamine read of the same file")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000])
