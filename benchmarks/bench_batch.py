"""Benchmark ``retroxl batch`` against the two baselines the issue names, in one run.

    python benchmarks/bench_batch.py [--campaigns 10000] [--jobs 2]
    python benchmarks/bench_batch.py --history [--campaigns 1000]

Prints, side by side and per workbook: building it with XlsxWriter (``new_workbook``),
stamping it with ``WorkbookStamp`` (what the batch does for each campaign) and a
plain copy of a finished workbook; then the whole batch with one process and with
``--jobs`` processes (reading the list, planning and 汇总.xlsx included). Checks the
floors: 10,000 workbooks in at most 10 s, at least 10x faster than XlsxWriter,
within 10x of a copy. Exit status 1 if a floor is missed.

``--history`` measures ``retroxl batch --history`` instead: an archive of the
published example, and a list of 2025 campaigns whose two goals (线上曝光量,
新增会员数) it knows, so that every workbook gets two 往期 rows in 表2 (and their
notes); per workbook, beside the plain batch of the same list.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path
from time import perf_counter

from retroxl.batch import batch
from retroxl.books.fast_writer import WorkbookStamp
from retroxl.campaigns import read_campaigns
from retroxl.collect import collect
from retroxl.generate import demo_workbook, new_workbook
from retroxl.layout import make_layout
from retroxl.model import Retrospective
from retroxl.schedule import make_schedule
from retroxl.template import load_template

# Goals with targets in the forms people write; every campaign gets its own figures.
GOALS = [("线上曝光量", "次", "越高越好", lambda r: f"{r.randint(20, 900)}万"),
         ("新品销量", "件", "越高越好", lambda r: str(r.randint(5, 200) * 100)),
         ("新增会员数", "人", "越高越好", lambda r: f"{r.randint(10, 90) / 10}万人"),
         ("成交额", "万元", "越高越好", lambda r: str(r.randint(50, 5000))),
         ("投入产出比", "1:x", "越高越好", lambda r: f"1:{r.randint(20, 60) / 10}"),
         ("退货率", "%", "越低越好", lambda r: f"{r.randint(10, 90) / 10}%")]
STORES = ["上海徐汇店", "北京朝阳店", "广州天河店", "成都春熙路店", "杭州西湖店", "深圳南山店", "武汉光谷店", "线上旗舰店"]
CHANNELS = ["抖音", "小红书", "微信", "门店", "天猫", "京东"]


def write_list(path: Path, goals: int, rows: Iterable[list[str]]) -> Path:
    """A campaign list file: the four header columns, ``goals`` goal column groups, then ``rows``."""
    header = ["活动名称", "开始日期", "结束日期", "负责人"]
    for k in range(1, goals + 1):
        header += [f"核心目标{k}", f"单位{k}", f"方向{k}", f"目标值{k}"]
    with open(path, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


def campaign_list(path: Path, n: int, seed: int = 7) -> Path:
    """A campaign list like a marketing department's: every store, every channel, every month."""
    rnd = random.Random(seed)

    def rows() -> Iterator[list[str]]:
        for i in range(n):
            start = date(2024, 1, 1) + timedelta(days=rnd.randrange(700))
            end = start + timedelta(days=rnd.randrange(1, 30))
            row = [f"{rnd.choice(STORES)}·{rnd.choice(CHANNELS)}·{start:%Y年%m月}推广 #{i + 1}",
                   start.isoformat(), f"{end.year}年{end.month}月{end.day}日", f"经理{rnd.randrange(60):02d}"]
            for goal, unit, direction, target in rnd.sample(GOALS, rnd.randint(1, 3)):
                row += [goal, unit, direction, target(rnd)]
            yield row

    return write_list(path, 3, rows())


def history_list(path: Path, n: int, seed: int = 7) -> Path:
    """2025 campaigns with the two goals the published example tracked: each gets both 往期."""
    rnd = random.Random(seed)

    def rows() -> Iterator[list[str]]:
        for i in range(n):
            start = date(2025, 1, 1) + timedelta(days=rnd.randrange(330))
            end = start + timedelta(days=rnd.randrange(1, 30))
            yield [f"{rnd.choice(STORES)}·{start:%m月}推广 #{i + 1}", start.isoformat(), end.isoformat(),
                   f"经理{rnd.randrange(60):02d}", "线上曝光量", "次", "越高越好", f"{rnd.randint(20, 900)}万",
                   "新增会员数", "人", "越高越好", str(rnd.randint(5, 90) * 100)]

    return write_list(path, 2, rows())


def bench_history(n: int, folder: str | None) -> int:
    """``batch --history`` where every campaign gets 往期 rows, beside the plain batch of the same list."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="retroxl-bench-", dir=folder) as tmp:
        root = Path(tmp)
        collect([demo_workbook(root / "demo.xlsx")], root / "archive.db", jobs=1, progress=False)
        lst = history_list(root / "campaigns.csv", n)
        plain = batch(lst, root / "plain")
        os.sync()
        history = batch(lst, root / "history", history=root / "archive.db")
        os.sync()
        assert plain.ok and history.ok and [o.previous for o in history.outcomes] == [2] * n, history.summary()
    print(f"{n:,} campaigns, each with 2 往期 from the archive, {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print("whole batch, per workbook (list, names, plan, workbooks, 汇总.xlsx):")
    for name, run in (("retroxl batch", plain), ("retroxl batch --history", history)):
        print(f"  {name:<30}{per_workbook_ms(run.seconds, n):8.3f} ms  {n / run.seconds:8,.0f}/s")
    return 0


def per_workbook_ms(seconds: float, count: int) -> float:
    return seconds / count * 1000


def copy_files(src: Path, folder: Path, n: int) -> float:
    """Milliseconds per plain copy of ``src`` into ``folder``, ``n`` times."""
    folder.mkdir()
    t = perf_counter()
    for i in range(n):
        shutil.copyfile(src, folder / f"{i}.xlsx")
    return per_workbook_ms(perf_counter() - t, n)


def stamp_files(retros: list[Retrospective], folder: Path) -> tuple[float, float]:
    """Milliseconds to render the stamp, and per workbook stamped and written (schedules included)."""
    tpl = load_template()
    t = perf_counter()
    stamp = WorkbookStamp(make_layout(tpl, "zh"), date.today(), frozenset({"goals"}))
    once = (perf_counter() - t) * 1000
    folder.mkdir()
    schedules = {}
    t = perf_counter()
    for i, retro in enumerate(retros):
        end = retro.info.get("end")
        if end not in schedules:
            schedules[end] = make_schedule(tpl, end)
        (folder / f"{i}.xlsx").write_bytes(stamp.render(retro, schedules[end]))
    return once, per_workbook_ms(perf_counter() - t, len(retros))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--campaigns", type=int, help="default: 10,000; 1,000 with --history")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--xlsxwriter-sample", type=int, default=30, help="workbooks built with new_workbook")
    ap.add_argument("--dir", help="where to write (default: the system's temporary folder)")
    ap.add_argument("--history", action="store_true", help="measure batch --history instead")
    args = ap.parse_args()
    if args.history:
        return bench_history(args.campaigns or 1_000, args.dir)
    n = args.campaigns or 10_000
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="retroxl-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        lst = campaign_list(root / "campaigns.csv", n)
        campaigns = read_campaigns(lst, load_template()).campaigns
        retros = [Retrospective(dict(c.info), {"goals": c.goals}) for c in campaigns]

        # Per workbook, each phase after the disk is flushed: XlsxWriter for a sample of the
        # campaigns, the stamp for all of them, a plain copy of a finished workbook as often.
        (root / "xlsxwriter").mkdir()
        t = perf_counter()
        for i, retro in enumerate(retros[:args.xlsxwriter_sample]):
            new_workbook(root / "xlsxwriter" / f"{i}.xlsx", retro)
        xlsxwriter_ms = per_workbook_ms(perf_counter() - t, args.xlsxwriter_sample)
        os.sync()
        stamp_once_ms, stamped_ms = stamp_files(retros, root / "stamped")
        os.sync()
        copy_ms = copy_files(root / "xlsxwriter" / "0.xlsx", root / "copies", n)
        os.sync()

        # The whole batch: reading the list, naming, planning, the workbooks, 汇总.xlsx.
        runs = {}
        for jobs in (1, args.jobs):
            runs[jobs] = batch(lst, root / f"batch{jobs}", jobs=jobs)
            assert runs[jobs].ok and runs[jobs].count("written") == n, runs[jobs].summary()
            os.sync()

    print(f"{n:,} campaigns in {args.dir or tempfile.gettempdir()}, {os.cpu_count()} CPUs, "
          f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print("per workbook:")
    print(f"  {'XlsxWriter (new_workbook)':<30}{xlsxwriter_ms:8.3f} ms  {1000 / xlsxwriter_ms:8,.0f}/s")
    print(f"  {'stamped (WorkbookStamp)':<30}{stamped_ms:8.3f} ms  {1000 / stamped_ms:8,.0f}/s"
          f"   (the stamp itself: {stamp_once_ms:.0f} ms, once)")
    print(f"  {'plain file copy':<30}{copy_ms:8.3f} ms  {1000 / copy_ms:8,.0f}/s")
    print("whole batch (list, names, plan, workbooks, 汇总.xlsx):")
    for jobs, run in runs.items():
        print(f"  {f'retroxl batch --jobs {jobs}':<30}{run.seconds:8.2f} s   {n / run.seconds:8,.0f}/s")
    best = min(r.seconds for r in runs.values()) / n * 10_000
    floors = [
        (f"10,000 workbooks in <= 10 s: {best:.2f} s", best <= 10),
        (f">= 10x faster than XlsxWriter: {xlsxwriter_ms / stamped_ms:.0f}x", xlsxwriter_ms / stamped_ms >= 10),
        (f"within 10x of a copy: {stamped_ms / copy_ms:.1f}x", stamped_ms / copy_ms <= 10),
    ]
    for text, ok in floors:
        print(f"  [{'ok' if ok else 'MISSED'}] {text}")
    return 0 if all(ok for _, ok in floors) else 1


if __name__ == "__main__":
    sys.exit(main())
