"""``retroxl batch``: a prefilled workbook for every campaign of a list, and an index 汇总.xlsx.

Each campaign's workbook holds what ``retroxl new`` would write for it (header,
goals with targets, the six-step due dates), stamped from one rendered copy by
:class:`~retroxl.books.fast_writer.WorkbookStamp`. Existing files are kept unless
``overwrite``, so a batch that stopped halfway can be run again; a bad row is
reported with its row number and skipped; the same list gives the same bytes.
"""

from __future__ import annotations

import multiprocessing
import os
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING

from .batch_index import FAILED, OVERWRITTEN, SKIPPED, WRITTEN, write_index
from .books.base import Note
from .campaigns import GOALS, Campaign, CampaignList, read_campaigns
from .errors import RetroxlError
from .generate import _info_dates, _localize_choices, resolve_template
from .history import History, load_history
from .layout import make_layout, shared_layout
from .model import Retrospective
from .safe_names import UniqueNames
from .schedule import Schedule, make_schedule
from .template import LANGS, Template, load_template, template_dir

if TYPE_CHECKING:
    from .books.fast_writer import WorkbookStamp

INDEX_NAME = "汇总.xlsx"
CHUNK = 250            # campaigns a worker writes and makes durable together


@dataclass
class Outcome:
    """What happened (or, in a dry run, would happen) to one row of the list."""

    row: int
    campaign: str
    status: str                     # written | overwritten | skipped | failed
    file: str = ""                  # file name inside the output folder; "" for a bad row
    reason: str = ""
    template: str = ""
    start: date | None = None
    end: date | None = None
    owner: str = ""
    due: tuple[date, ...] = ()      # the six-step due dates
    previous: int = 0               # goals whose 往期 came from the archive (--history)

    def to_dict(self) -> dict:
        return {"row": self.row, "campaign": self.campaign, "status": self.status, "file": self.file,
                "reason": self.reason, "template": self.template, "previous": self.previous,
                "start": self.start.isoformat() if self.start else None,
                "end": self.end.isoformat() if self.end else None, "owner": self.owner,
                "due": [d.isoformat() for d in self.due]}


@dataclass
class BatchResult:
    campaigns: Path
    outdir: Path
    index: Path | None              # None in a dry run
    dry_run: bool
    outcomes: list[Outcome]
    unused_columns: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == FAILED]

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        """One line: counts, failed rows, time, where the index is."""
        made = self.count(WRITTEN) + self.count(OVERWRITTEN)
        verb = "would write" if self.dry_run else "wrote"
        line = (f"{len(self.outcomes)} rows: {verb} {made}, kept {self.count(SKIPPED)} existing, "
                f"{len(self.failed)} failed")
        if self.failed:
            rows = ", ".join(str(o.row) for o in self.failed[:10]) + (" ..." if len(self.failed) > 10 else "")
            line += f" (rows {rows})"
        prefilled = sum(o.previous for o in self.outcomes)
        if prefilled:
            line += f", {prefilled} 往期 from the archive"
        line += f" in {self.seconds:.1f} s"
        if made and self.seconds > 0 and not self.dry_run:
            line += f" ({made / self.seconds:,.0f}/s)"
        return line + (f"; index {self.index}" if self.index else "")

    def to_dict(self) -> dict:
        return {"campaigns": str(self.campaigns), "outdir": str(self.outdir),
                "index": str(self.index) if self.index else None, "dry_run": self.dry_run, "ok": self.ok,
                "counts": {s: self.count(s) for s in (WRITTEN, OVERWRITTEN, SKIPPED, FAILED)},
                "seconds": round(self.seconds, 3), "unused_columns": self.unused_columns,
                "rows": [o.to_dict() for o in self.outcomes]}


@dataclass(frozen=True)
class _Job:
    """One workbook to write; what a worker process needs, and nothing more."""

    position: int                   # index into the outcomes
    file: str
    retro: Retrospective
    schedule: Schedule
    template: Path
    rows: tuple[tuple[str, int], ...]
    notes: tuple[Note, ...] = ()    # where a prefilled 往期 came from


def batch(campaigns_path: str | Path, outdir: str | Path, *, overwrite: bool = False, dry_run: bool = False,
          jobs: int = 1, template: Template | str | Path | None = None, lang: str = "zh",
          progress: Callable[[int, int], None] | None = None, today: date | None = None,
          history: str | Path | History | None = None) -> BatchResult:
    """Write one prefilled workbook per campaign of a list into ``outdir``, and the index 汇总.xlsx.

    ``progress(done, total)`` is called as workbooks are written. Bad rows are in
    the result with their reason; :class:`RetroxlError` is raised only when the
    list itself cannot be used. ``history``: a review archive; each goal it knows
    gets its 往期 as a 表2 row (see :meth:`retroxl.history.History.prefill`).

    >>> batch("活动清单.csv", "复盘", jobs=2).summary()  # doctest: +SKIP
    '4 rows: wrote 4, kept 0 existing, 0 failed in 0.3 s (13/s); index 复盘/汇总.xlsx'
    """
    started = perf_counter()
    if lang not in LANGS:
        raise RetroxlError(f"unknown language {lang!r} (one of {', '.join(LANGS)})")
    campaigns_path, outdir = Path(campaigns_path), Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise RetroxlError(f"{outdir} is a file, not a folder")
    default = resolve_template(template)
    listing = read_campaigns(campaigns_path, default, _bundled_templates())
    today = today or date.today()
    if history is not None and not isinstance(history, History):
        history = load_history(history)

    outcomes: list[Outcome] = []
    planned = _planned(listing, outdir, default, lang, overwrite, outcomes, history)
    index = None
    if dry_run:
        for _ in planned:
            pass
    else:
        outdir.mkdir(parents=True, exist_ok=True)
        index = outdir / INDEX_NAME
        failures = _generate(planned, len(listing.campaigns), outdir, lang, today, jobs, overwrite, progress,
                             meanwhile=lambda: write_index(index, outcomes, default, lang))
        for position, reason in failures:
            outcomes[position].status, outcomes[position].reason = FAILED, reason
        if failures:   # the index was written with the planned statuses
            write_index(index, outcomes, default, lang)
    return BatchResult(campaigns_path, outdir, index, dry_run, outcomes, listing.unused_columns,
                       perf_counter() - started)


def _planned(listing: CampaignList, outdir: Path, default: Template, lang: str, overwrite: bool,
             outcomes: list[Outcome], history: History | None = None) -> Iterator[_Job]:
    """Decide each row's file and fate, in list order, into ``outcomes``; yield the workbooks to write
    (so that writing starts while later rows are still being planned)."""
    names = UniqueNames(reserved=[INDEX_NAME], fallback="活动" if lang == "zh" else "campaign")
    schedules: dict[tuple, Schedule] = {}
    for c in sorted([*listing.campaigns, *listing.bad], key=lambda x: x.row):
        if not isinstance(c, Campaign):
            outcomes.append(Outcome(c.row, c.name, FAILED, reason=c.reason))
            continue
        tpl = load_template(c.template) if c.template else default
        layout = shared_layout(tpl, lang)
        retro = _retrospective(c, tpl, lang)
        notes: tuple[Note, ...] = ()
        if history is not None and "indicators" in layout.tables:
            filled = history.prefill(retro)
            tl = layout.tables["indicators"]
            retro, notes = filled.retro, tuple(Note(tl.sheet, tl.first_row + f.row, tl.col(f.column), f.note(lang))
                                               for f in filled.cells)
        end = retro.info.get("end")
        end = end if isinstance(end, date) else None
        if (tpl.path, end) not in schedules:
            schedules[(tpl.path, end)] = make_schedule(tpl, end)
        file = names.take(c.name)
        status, reason = _plan(outdir / file, overwrite)
        outcomes.append(Outcome(c.row, c.name, status, file, reason, tpl.name, retro.info.get("start"), end,
                                str(retro.info.get("owner", "")), tuple(schedules[(tpl.path, end)].due),
                                len(notes)))
        if status in (WRITTEN, OVERWRITTEN):
            rows = tuple((k, max(tl.rows, len(retro.rows(k)))) for k, tl in layout.tables.items())
            yield _Job(len(outcomes) - 1, file, retro, schedules[(tpl.path, end)], tpl.path, rows, notes)


def _plan(dest: Path, overwrite: bool) -> tuple[str, str]:
    """What to do with a campaign's file: write it, keep the one there, or replace it."""
    try:
        mode = os.lstat(dest).st_mode
    except FileNotFoundError:
        return WRITTEN, ""
    if stat.S_ISDIR(mode):
        return FAILED, "a folder has this name"
    return (OVERWRITTEN, "") if overwrite else (SKIPPED, "")


def _bundled_templates() -> list[str]:
    return sorted(p.stem for p in template_dir().glob("*.toml"))


def _retrospective(c: Campaign, tpl: Template, lang: str) -> Retrospective:
    """The campaign as ``new_workbook`` would receive it, prepared the same way."""
    retro = Retrospective(info=dict(c.info), tables={GOALS: c.goals} if c.goals else {})
    return _localize_choices(tpl, lang, _info_dates(retro))


# ---------------------------------------------------------------- writing the workbooks
def _generate(work: Iterable[_Job], expected: int, outdir: Path, lang: str, today: date, jobs: int,
              overwrite: bool, progress: Callable[[int, int], None] | None,
              meanwhile: Callable[[], object]) -> list[tuple[int, str]]:
    """Write the workbooks, in chunks, in this process or ``jobs`` worker processes; return the failures.

    ``expected`` bounds the count while ``work`` is still being planned. ``meanwhile``
    (the index, which needs the whole plan) runs once: after the workbooks in this
    process, or while the workers write.
    """
    failures: list[tuple[int, str]] = []
    done, total = 0, expected
    chunks = _chunked(work, CHUNK)
    if progress:
        progress(0, total)
    if jobs <= 1 or expected <= CHUNK:
        # One chunk is flushed and renamed in a thread while the next is written (the flush waits
        # on the disk, not on Python).
        with ThreadPoolExecutor(1) as committer:
            committing = None
            for chunk in chunks:
                staged, failed = _stage(chunk, outdir, lang, today)
                failures += failed
                if committing is not None:
                    failures += committing.result()
                committing = committer.submit(_commit, staged, str(outdir), overwrite)
                done += len(chunk)
                if progress:
                    progress(done, total)
            if committing is not None:
                failures += committing.result()
        if progress:
            progress(done, done)
        meanwhile()
        return failures
    with ExitStack() as stack:
        pool, futures = None, {}
        for chunk in chunks:
            if pool is None:   # no processes for a rerun with nothing left to write
                pool = stack.enter_context(ProcessPoolExecutor(jobs, mp_context=_process_context()))
            futures[pool.submit(_write_chunk, chunk, outdir, lang, today, overwrite)] = len(chunk)
        total = sum(futures.values())
        side_task = stack.enter_context(ThreadPoolExecutor(1)).submit(meanwhile)
        for future in as_completed(futures):
            failures += future.result()
            done += futures[future]
            if progress:
                progress(done, total)
        side_task.result()
    if progress and not futures:
        progress(0, 0)
    return failures


def _chunked(items: Iterable[_Job], size: int) -> Iterator[list[_Job]]:
    chunk: list[_Job] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _process_context() -> multiprocessing.context.BaseContext:
    """Workers forked from a clean server process where possible (the caller may run threads,
    e.g. a progress bar, which fork must not copy), else spawned."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["retroxl.batch", "retroxl.books.fast_writer"])
        return ctx
    return multiprocessing.get_context("spawn")


_STAMPS: dict[tuple, WorkbookStamp] = {}


def _stamp(job: _Job, lang: str, today: date) -> WorkbookStamp:
    """This process's stamp for a template, language, table size and the tables the campaign fills
    (表1; 表2 too when --history added rows, whose stamp also rewrites the dashboard's charts),
    rendered on first use."""
    from .books.fast_writer import WorkbookStamp

    inputs = frozenset({GOALS, *(k for k, rows in job.retro.tables.items() if rows)})
    key = (job.template, lang, job.rows, today, inputs)
    if key not in _STAMPS:
        layout = make_layout(load_template(job.template), lang, dict(job.rows))
        _STAMPS[key] = WorkbookStamp(layout, today, inputs)
    return _STAMPS[key]


Staged = list[tuple[int, str, str]]   # (position, temporary path, final path)


def _write_chunk(chunk: Sequence[_Job], outdir: Path, lang: str, today: date,
                 overwrite: bool) -> list[tuple[int, str]]:
    """Write a chunk of workbooks beside their names, flush them to disk, rename them into place."""
    staged, failures = _stage(chunk, outdir, lang, today)
    return failures + _commit(staged, str(outdir), overwrite)


def _stage(chunk: Sequence[_Job], outdir: Path, lang: str, today: date) -> tuple[Staged, list[tuple[int, str]]]:
    """Write each workbook to a temporary file beside its name."""
    failures: list[tuple[int, str]] = []
    staged: Staged = []
    folder, pid = str(outdir), os.getpid()
    try:
        for job in chunk:
            tmp = os.path.join(folder, f".{job.file}.{pid}.tmp")
            try:
                _write_file(tmp, _stamp(job, lang, today).render(job.retro, job.schedule))
                if job.notes:
                    _add_notes(tmp, job.notes)
                staged.append((job.position, tmp, os.path.join(folder, job.file)))
            except OSError as e:
                _remove(tmp)
                failures.append((job.position, f"cannot write: {e.strerror or e}"))
            except BaseException:
                _remove(tmp)
                raise
    except BaseException:
        for _, tmp, _ in staged:   # interrupted: leave no temporary file behind
            _remove(tmp)
        raise
    return staged, failures


def _write_file(path: str, data: bytes) -> None:
    """Write bytes to a new file with plain system calls (no buffered file object: thousands of small files)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _add_notes(path: str, notes: Sequence[Note]) -> None:
    """Add signed cell notes to a written workbook, editing only its note parts."""
    from .books.ooxml import OoxmlBook

    with OoxmlBook(path) as book:
        book.add_notes(notes)
        try:
            book.save(path + ".notes")
        except BaseException:
            _remove(path + ".notes")
            raise
    os.replace(path + ".notes", path)


def _commit(staged: Staged, folder: str, overwrite: bool) -> list[tuple[int, str]]:
    """Flush staged files to disk, then rename them into place.

    One flush per chunk instead of one fsync per file (which alone would take longer
    than writing): a name never points at a file that is not completely on disk.
    """
    failures: list[tuple[int, str]] = []
    try:
        _flush([tmp for _, tmp, _ in staged])
        while staged:
            position, tmp, dest = staged.pop()
            if not overwrite and os.path.lexists(dest):
                failures.append((position, "the file appeared while the batch ran; kept it"))
                _remove(tmp)
                continue
            try:
                os.replace(tmp, dest)
            except OSError as e:
                failures.append((position, f"cannot write: {e.strerror or e}"))
                _remove(tmp)
        _flush_folder(folder)
    finally:
        for _, tmp, _ in staged:
            _remove(tmp)
    return failures


def _remove(path: str) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _flush(paths: Sequence[str]) -> None:
    if not paths:
        return
    if hasattr(os, "sync"):
        os.sync()
        return
    for p in paths:  # Windows: no sync(); flush each file
        with open(p, "rb+") as f:
            os.fsync(f.fileno())


def _flush_folder(folder: str) -> None:
    """Make the renames durable too (POSIX; Windows has no directory handles to flush)."""
    if sys.platform == "win32":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

