"""Time `retroxl collect` against a plain python-calamine read of the same workbooks.

    python3 benchmarks/bench_collect.py [--files 10000] [--jobs 2] [--corpus DIR]

Makes (once, then reuses) a corpus of filled retrospective workbooks: every one a
different campaign (name, dates, figures, text entries such as 120万次), written by
``retroxl.new_workbook``. Then, in the same run, with the files in the page cache:

- plain read: open each file with python-calamine and read every sheet to Python
  values, one process (the baseline of the issue) and ``--jobs`` processes;
- collect: ``retroxl.collect.collect`` into a new archive with ``--jobs`` workers
  (read and hash, safety check, read, records, SQLite);
- re-collect: the same files again (all unchanged: hashed and skipped);
- where the time goes: each stage of one file in one process, file by file beside
  the plain read of the same file, and what ``--validate`` adds.

Floor: collect within 1.5× of the one-process plain read. Exit status 1 if missed.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from datetime import date, timedelta
from pathlib import Path

from retroxl import new_workbook
from retroxl.books.safety import check_workbook
from retroxl.collect import collect, load_review
from retroxl.model import Link, Retrospective

FLOOR = 1.5
ROUNDS = 5     # slices of the corpus the measurements alternate over
STORES = ["北京朝阳店", "上海徐汇店", "广州天河店", "成都春熙路店", "杭州西湖店", "深圳南山店", "线上旗舰店"]
KINDS = ["新品推广", "会员日", "双11大促", "618大促", "周年庆", "节日促销"]
INDICATORS = [("流量", "曝光量", "次", 1_000_000), ("转化", "新品转化率", "%", 0.05),
              ("用户", "新增会员数", "人", 2000),
              ("销售", "销售额", "元", 3_000_000), ("服务", "客服响应时长", "小时", 2)]


def filled(i: int) -> Retrospective:
    """Campaign ``i``: a different name, dates and figures each time, some entries as text."""
    rnd = random.Random(i)
    start = date(2021, 1, 4) + timedelta(days=7 * (i % 200) + i // 200)
    end = start + timedelta(days=rnd.randint(3, 20))
    name = f"{start.year}{STORES[i % len(STORES)]}{KINDS[i // len(STORES) % len(KINDS)]}#{i}"
    indicators = []
    for kind, ind, unit, base in rnd.sample(INDICATORS, 4):
        target = base * rnd.uniform(0.8, 1.2)
        actual = target * rnd.uniform(0.7, 1.4)
        lower = ind == "客服响应时长"
        indicators.append({"type": kind, "indicator": ind, "unit": unit,
                           "direction": "越低越好" if lower else "越高越好",
                           "target": round(target, 4), "previous": round(target * rnd.uniform(0.7, 1.1), 4),
                           "actual": f"{actual / 10_000:.1f}万" if unit == "次" else round(actual, 4),
                           "source": "后台数据", "analysis": f"第{i}期：渠道表现{rnd.choice(['好于', '低于'])}预期"})
    indicators.append({"type": "成本", "indicator": "ROI（投入产出比）", "unit": "1:x", "direction": "越高越好",
                       "target": 3, "actual": Link("retro_roi"), "source": "成本收益表"})
    spent = rnd.randint(200, 900) * 1000
    return Retrospective(
        info={"campaign": name, "start": start, "end": end, "owner": rnd.choice(["张经理", "李主管", "王运营"]),
              "review_date": end + timedelta(days=3)},
        tables={
            "goals": [{"goal": r["indicator"], "unit": r["unit"], "direction": r["direction"], "target": r["target"],
                       "actual": r["actual"]} for r in indicators[:3]],
            "indicators": indicators,
            "actions": [{"problem": "客服响应超时", "impact": rnd.choice("高中低"),
                         "root_cause": "人力配置不足，话术不统一",
                         "measure": "增派临时客服，统一培训话术", "owner": "钱主管",
                         "deadline": end + timedelta(days=rnd.randint(3, 40)),
                         "status": rnd.choice(["未开始", "进行中", "已完成"])}],
            "lessons": [{"category": "执行层面", "content": "提前1周全流程彩排", "scenario": "大型线下活动",
                         "standard": "《活动彩排检查清单》"}],
            "costs": [{"item": "广告投放", "budget": spent, "spent": spent}],
            "returns": [{"item": "直接销售额", "amount": spent * rnd.uniform(2, 5)}],
        })


BASE = 500   # workbooks written by new_workbook; the rest are copies with another campaign name


def _make(args: tuple[str, list[int]]) -> None:
    """Write campaigns: the first BASE with new_workbook, later ones as a base file renamed inside."""
    folder, numbers = args
    for i in numbers:
        dest = Path(folder) / f"campaign_{i:05d}.xlsx"
        if i < BASE:
            new_workbook(dest, filled(i), force=True)
            continue
        src = Path(folder) / f"campaign_{i % BASE:05d}.xlsx"
        with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                data = zin.read(info)
                if info.filename == "xl/sharedStrings.xml":  # the campaign name: …#17 → …#517
                    data = data.replace(f"#{i % BASE}<".encode(), f"#{i}<".encode())
                zout.writestr(info, data)


def corpus(folder: Path, n: int, jobs: int) -> list[Path]:
    """The first ``n`` corpus files, made in parallel the first time."""
    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"campaign_{i:05d}.xlsx" for i in range(n)]
    for stage in (range(min(n, BASE)), range(BASE, n)):
        todo = [i for i in stage if not files[i].exists()]
        if todo:
            print(f"making {len(todo)} workbooks in {folder} (once) ...", file=sys.stderr)
            with ProcessPoolExecutor(jobs) as pool:
                list(pool.map(_make, [(str(folder), todo[k::jobs * 4]) for k in range(jobs * 4)]))
    return files


def _plain_read(paths: list[str]) -> int:
    from python_calamine import CalamineWorkbook

    cells = 0
    for p in paths:
        wb = CalamineWorkbook.from_path(p)
        for name in wb.sheet_names:
            cells += sum(len(r) for r in wb.get_sheet_by_name(name).to_python())
    return cells


def plain_read(files: list[Path], jobs: int) -> float:
    paths = [str(f) for f in files]
    t0 = time.perf_counter()
    if jobs == 1:
        _plain_read(paths)
    else:
        chunks = [paths[i::jobs * 8] for i in range(jobs * 8)]
        with ProcessPoolExecutor(jobs) as pool:
            sum(pool.map(_plain_read, chunks))
    return time.perf_counter() - t0


def cpu_seconds() -> float:
    """CPU time of this process and of its ended children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def breakdown(sample: list[Path], validated: list[Path]) -> list[tuple[str, float]]:
    """Milliseconds per file of each stage of collect, in one process, interleaved with the plain read."""
    from retroxl.archive import connect, store, transaction
    from retroxl.collect import _hash

    spent: dict[str, float] = {}

    def timed(what: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        spent[what] = spent.get(what, 0.0) + time.perf_counter() - t0
        return out

    def read_and_hash(f: Path) -> bytes:
        data = f.read_bytes()
        _hash(data)
        return data

    loaded = []
    for f in sample:
        timed("plain calamine read", _plain_read, [str(f)])
        data = timed("read the file and hash it (sha256)", read_and_hash, f)
        loaded.append(timed("load_review: check + read (books.reader on calamine) + records", load_review, f,
                            data=data))
        timed("  of which the safety check (books.safety.check_workbook)", check_workbook, f, data)
    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "archive.db"
        conn = connect(db, create=True)
        facts = [{"file": str(f), "hash": str(i), "size": 0, "collected_at": ""} for i, f in enumerate(sample)]
        t0 = time.perf_counter()
        with transaction(conn, db):
            store(conn, [(fact, one.records) for fact, one in zip(facts, loaded)])
        spent["SQLite: store the records (one transaction)"] = time.perf_counter() - t0
        conn.close()
    rows = [(what, s / len(sample) * 1000) for what, s in spent.items()]
    plain = with_validation = 0.0
    for f in validated:
        data = f.read_bytes()
        t0 = time.perf_counter()
        load_review(f, data=data)
        plain += time.perf_counter() - t0
        t0 = time.perf_counter()
        load_review(f, data=data, validate=True)
        with_validation += time.perf_counter() - t0
    rows.append(("--validate adds (retroxl.validate: a second, formula-aware read)",
                 (with_validation - plain) / len(validated) * 1000))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--corpus", type=Path, default=Path(tempfile.gettempdir()) / "retroxl-bench-collect")
    a = ap.parse_args()
    files = corpus(a.corpus, a.files, a.jobs)
    for f in files:  # the page cache holds every file for every measurement
        f.read_bytes()
    mb = sum(f.stat().st_size for f in files) / 2**20
    # Alternate the three measurements over slices of the corpus, so that a change in
    # machine load during the run weighs on all of them alike. CPU time (this process and
    # its workers) is counted beside the wall time: it does not depend on free cores.
    wall = dict.fromkeys(("serial", "parallel", "collect", "again"), 0.0)
    cpu = dict(wall)
    slices = [files[i::ROUNDS] for i in range(ROUNDS)]

    def measure(what: str, fn, *args):
        c0, t0 = cpu_seconds(), time.perf_counter()
        out = fn(*args)
        wall[what] += time.perf_counter() - t0
        cpu[what] += cpu_seconds() - c0
        return out

    with tempfile.TemporaryDirectory() as d:
        db = Path(d) / "archive.db"
        for part in slices:
            measure("serial", plain_read, part, 1)
            measure("parallel", plain_read, part, a.jobs)
            done = measure("collect", lambda p: collect(p, db, jobs=a.jobs, progress=False), part)
            assert len(done.added) == len(part), done.problems()[:5]
        again = measure("again", lambda: collect(files, db, jobs=a.jobs, progress=False))
        db_mb = db.stat().st_size / 2**20
    assert len(again.unchanged) == len(files)
    n = len(files)
    print(f"{n} workbooks ({mb:.0f} MiB), {a.jobs} jobs, archive {db_mb:.1f} MiB; "
          f"load average {os.getloadavg()[0]:.1f} at the end")
    print(f"{'what':44} {'seconds':>8} {'ms/file':>8} {'files/s':>8} {'× plain':>8} {'CPU ms/file':>12}")
    for what, key in [("plain calamine read, 1 process (baseline)", "serial"),
                      (f"plain calamine read, {a.jobs} processes", "parallel"),
                      (f"retroxl collect, {a.jobs} jobs", "collect"),
                      ("retroxl collect again (all unchanged)", "again")]:
        s = wall[key]
        print(f"{what:44} {s:8.2f} {s / n * 1000:8.3f} {n / s:8.0f} {s / wall['serial']:8.2f} "
              f"{cpu[key] / n * 1000:12.3f}")
    print(f"  (the 2-process plain read took {wall['parallel'] / wall['serial']:.2f}× the 1-process one: "
          f"{'the cores were free' if wall['parallel'] / wall['serial'] < 0.6 else 'other work held a core'}; "
          f"collect's CPU is {cpu['collect'] / cpu['serial']:.2f}× the plain read's)")
    print("where the time goes, one process, ms/file (each stage beside the plain read of the same file):")
    for what, ms in breakdown(files[:300], files[:40]):
        print(f"  {what:58} {ms:8.3f}")
    ratio = wall["collect"] / wall["serial"]
    ok = ratio <= FLOOR
    print(f"floor: collect ≤ {FLOOR}× the one-process plain read: {ratio:.2f}× — {'met' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
