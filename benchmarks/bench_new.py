"""Time `retroxl new` (XlsxWriter, every cell computed) against a plain copy of the same file.

    python3 benchmarks/bench_new.py [N]

Prints ms per workbook for: building the demo workbook, building an empty one, and
shutil.copyfile of the finished file (the floor any generator is compared with).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from retroxl import demo_retrospective, new_workbook
from retroxl.model import Retrospective


def per_file(fn, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t0) / n * 1000


def main(n: int = 200) -> None:
    with tempfile.TemporaryDirectory() as d:
        out = Path(d)
        demo = demo_retrospective()
        new_workbook(out / "warm.xlsx", demo)  # imports and template load outside the timing
        rows = [
            ("retroxl new (demo, filled)", per_file(lambda i: new_workbook(out / f"d{i}.xlsx", demo), n)),
            ("retroxl new (empty)", per_file(lambda i: new_workbook(out / f"e{i}.xlsx", Retrospective()), n)),
            ("plain file copy", per_file(lambda i: shutil.copyfile(out / "warm.xlsx", out / f"c{i}.xlsx"), n)),
        ]
        size = (out / "warm.xlsx").stat().st_size
    print(f"{n} workbooks each, {size / 1024:.0f} KiB per file")
    print(f"{'what':32} {'ms/workbook':>12} {'workbooks/s':>12}")
    for what, ms in rows:
        print(f"{what:32} {ms:12.2f} {1000 / ms:12.0f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
