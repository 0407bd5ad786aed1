"""``retroxl collect``: read many retrospective workbooks into the archive, fast and safely.

Reading is the cost, so it runs in worker processes (one per core; in-process for
a handful of files), each file from one read of its bytes: they are hashed, the
safety check inflates and checks the parts python-calamine will parse, and
python-calamine gets those very bytes (stored, not inflated twice). No pandas in the
workers: records are plain tuples. The main process alone writes the archive, in
one transaction per batch of files (one INSERT per table per batch), so an
interrupted run leaves every file either fully stored or not at all. A file is
identified by its path and its content hash:

- unchanged (same path, same hash): skipped without parsing;
- changed: its rows are replaced;
- the same bytes under a new path while the old path is gone: a move, the rows follow;
- the same bytes or the same campaign (name + start date) as another file that
  still exists: a duplicate, reported and not stored twice;
- unreadable (damaged, foreign, not a retrospective): listed with its reason, the rest go in.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import io
import os
import stat
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from .archive import ReviewRecords, connect, review_records, store, transaction
from .books.safety import Package, check_workbook
from .errors import RetroxlError
from .model import Retrospective
from .template import Template

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
BATCH_SIZE = 500            # files per transaction: a crash loses at most this much work, never consistency
PARALLEL_FROM = 16          # fewer files than this are read in-process (starting workers costs more)


class NotAReview(RetroxlError):
    """A workbook retroxl recognises as something else (a portfolio, a campaign list): skipped, not failed."""


@dataclass
class Loaded:
    """One workbook read: its entries and its archive records."""

    retro: Retrospective
    records: ReviewRecords


def load_review(path: Path, *, data: bytes | None = None, validate: bool = False,
                today: date | None = None) -> Loaded:
    """Read one workbook (standard, else seed format) into records; RetroxlError if it cannot be used.

    ``data``: the file's bytes if the caller has read them already (collect hashes
    them), so the file is read once. ``validate`` also stores the findings of
    :func:`retroxl.validate.validate`, which reads the file a second time with
    formulas; a seed-format file always brings the importer's findings.
    """
    from .books.reader import detect_language, read_book

    if data is None and path.is_file():
        data = path.read_bytes()
    tpl, dashboards = _standard()
    book = CalamineBook(check_workbook(path, data), skip=dashboards)
    _refuse_summaries(path, book.sheet_names())
    try:
        lang: str | None = detect_language(tpl, book.sheet_names())
    except RetroxlError:  # no standard sheets: the importer looks for the seed's tables by their headers
        retro, findings = _read_seed(path)
        lang, fmt = None, "seed"
    else:
        retro = read_book(book, tpl).retro
        fmt = "standard"
        findings = _findings(path, today) if validate else []
    if not str(retro.info.get("campaign") or "").strip():
        raise RetroxlError(f"{path}: no 活动名称 (campaign name) in the workbook; fill it in and collect again")
    records = review_records(retro, template=tpl, fmt=fmt, lang=lang)
    records.tables["findings"] = findings
    return Loaded(retro, records)


@functools.cache
def _standard() -> tuple[Template, frozenset[str]]:
    """The standard template (loaded once per process: collect reads thousands of books) and its dashboard
    sheets, which only show formulas over the other sheets: nothing of them is stored, so they are not parsed."""
    from .template import LANGS, load_template

    tpl = load_template()
    return tpl, frozenset(s.name[lang] for s in tpl.sheets if s.kind == "dashboard" for lang in LANGS)


def _findings(path: Path, today: date | None) -> list[tuple]:
    from .validate import validate

    return [(f.sheet, f.cell, f.severity, f.code, f.message) for f in validate(path, today=today).findings]


class CalamineBook:
    """A read-only :class:`retroxl.books.base.Book` over python-calamine: cached values, fast.

    Made from the :class:`~retroxl.books.safety.Package` the safety check returns:
    python-calamine reads the parts that were checked, as they were inflated there.
    Collect only needs what each cell shows, so no formulas are reported (a link
    such as ``=retro_roi`` reads as its cached value) and nothing is ever written.
    Recalc and validate use :class:`retroxl.books.ooxml.OoxmlBook`.
    """

    def __init__(self, package: Package, *, skip: Iterable[str] = ()) -> None:
        """``package``: what check_workbook returned; ``skip``: sheets the reader should not see (nor parse)."""
        from python_calamine import CalamineWorkbook

        self.path, self.package = package.path, package
        try:
            self.wb = CalamineWorkbook.from_filelike(io.BytesIO(package.checked_zip()))
        except Exception as e:  # calamine's own error types: a damaged part, an unknown format
            raise RetroxlError(f"{self.path} cannot be read ({str(e)[:160]})") from None
        skip = set(skip)
        self.names = [name for name in self.wb.sheet_names if name not in skip]
        self._grids: dict[str, tuple[list[list[object]], int, int]] = {}
        self._tables: dict[str, dict[str, tuple[int, int, int, int]]] | None = None

    def sheet_names(self) -> list[str]:
        return list(self.names)

    def _grid(self, sheet: str) -> tuple[list[list[object]], int, int]:
        """The sheet's used range as rows of values (None for an empty cell), and its top-left corner."""
        if sheet not in self._grids:
            try:
                ws = self.wb.get_sheet_by_name(sheet)
                rows = [[None if v == "" else v for v in row] for row in ws.to_python()]
            except Exception as e:
                raise RetroxlError(f"{self.path}: sheet {sheet!r} cannot be read ({str(e)[:160]})") from None
            r0, c0 = ws.start or (0, 0)
            self._grids[sheet] = (rows, r0, c0)
        return self._grids[sheet]

    def extent(self, sheet: str) -> tuple[int, int]:
        rows, r0, c0 = self._grid(sheet)
        return (r0 + len(rows), c0 + max(map(len, rows))) if rows else (0, 0)

    def tables(self, sheet: str) -> dict[str, tuple[int, int, int, int]]:
        """Each Excel Table of the sheet, header row included, from the table parts themselves.

        (python-calamine's own table lookup parses the whole sheet again for every table.)
        """
        if self._tables is None:
            self._tables = _table_ranges(self.package)
        return self._tables.get(sheet, {})

    def read(self, sheet: str, rect: tuple[int, int, int, int]) -> list[list[object]]:
        rows, r0, c0 = self._grid(sheet)
        top, left, bottom, right = rect
        width = right - left + 1
        lo, hi = left - c0, right - c0 + 1
        out = []
        for r in range(top - r0, bottom - r0 + 1):
            src = rows[r] if 0 <= r < len(rows) else []
            row = src[lo:hi] if lo >= 0 else [None] * -lo + src[:max(hi, 0)]
            if len(row) < width:
                row += [None] * (width - len(row))
            out.append(row)
        return out

    def read_formulas(self, sheet: str, rect: tuple[int, int, int, int]) -> list[list[str | None]]:
        return [[None] * (rect[3] - rect[1] + 1) for _ in range(rect[2] - rect[0] + 1)]

    def read_columns(self, sheet: str, rect: tuple[int, int, int, int]):
        """Values and formulas of a block, one list per column (what table readers want)."""
        height, width = max(rect[2] - rect[0] + 1, 0), rect[3] - rect[1] + 1
        block = self.read(sheet, rect)
        values = [list(c) for c in zip(*block)] if block else [[] for _ in range(width)]
        return values, [[None] * height for _ in range(width)]


_TABLE_PARTS = ("xl/worksheets/_rels/", "xl/tables/")
# Table ranges by what they are read from (the sheets, and the name, CRC-32 and size of every part in
# _TABLE_PARTS): workbooks made from one template share them, so most files need not read them again.
_RANGES_SEEN: dict[tuple, dict[str, dict[str, tuple[int, int, int, int]]]] = {}


def _table_ranges(package: Package) -> dict[str, dict[str, tuple[int, int, int, int]]]:
    """Sheet name → {table name: range}: each worksheet's table relationships, each table part's ref."""
    key = (tuple(package.sheets.items()),
           tuple((e.filename, e.CRC, e.file_size) for e in package.entries if e.filename.startswith(_TABLE_PARTS)))
    if key in _RANGES_SEEN:
        return _RANGES_SEEN[key]
    ranges, read = _read_table_ranges(package)
    if all(name.startswith(_TABLE_PARTS) for name in read):   # all it depends on is in the key
        if len(_RANGES_SEEN) >= 1024:
            _RANGES_SEEN.clear()
        _RANGES_SEEN[key] = ranges
    return ranges


def _read_table_ranges(package: Package) -> tuple[dict[str, dict[str, tuple[int, int, int, int]]], list[str]]:
    """The table ranges, and the parts read for them."""
    from .books.parts import T_TABLE, Rels, rels_path, table_range

    out: dict[str, dict[str, tuple[int, int, int, int]]] = {}
    read = []
    for part, sheet in package.sheets.items():
        if (path := rels_path(part)) not in package.parts:
            continue
        read.append(path)
        rels = Rels(part, package.read(path).decode("utf-8", "replace"))
        for rel in rels.of_type(T_TABLE):
            if (target := rels.target(rel)) not in package.parts:
                continue
            read.append(target)
            if found := table_range(package.read(target).decode("utf-8", "replace")):
                out.setdefault(sheet, {})[found[0]] = found[1]
    return out, read


def _refuse_summaries(path: Path, sheets: list[str]) -> None:
    """retroxl's own summaries list many campaigns: collecting one as a review would invent a campaign."""
    from .portfolio import TEXTS

    for texts in TEXTS.values():
        if {texts["campaigns"], texts["goals"], texts["lessons"]} <= set(sheets):
            raise NotAReview(f"{path} is a retroxl portfolio (many campaigns), not one review")


def _read_seed(path: Path) -> tuple[Retrospective, list[tuple]]:
    """A seed-format workbook through the importer: imported to a temporary standard workbook, read back."""
    from .books.reader import read_book
    from .importer import import_workbook

    with tempfile.TemporaryDirectory(prefix="retroxl-collect-") as d:
        standard = Path(d, "imported.xlsx")
        report = import_workbook(path, standard)
        if not any(report.counts().values()):  # a campaign list (活动名称, 负责人…) has no review tables
            raise NotAReview(f"{path}: no 表1-表4 rows (a list of campaigns such as batch's 汇总.xlsx, not a review)")
        retro = read_book(CalamineBook(check_workbook(standard, standard.read_bytes())), _standard()[0]).retro
    return retro, [(f.sheet, f.cell, f.severity, f.code, f.message) for f in report.findings]


# ----------------------------------------------------------------- which files

def expand(paths: Iterable[str | Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files, folders (searched recursively) and glob patterns → workbook files, and the arguments that matched none.

    Paths are made absolute with their folders resolved (each folder once, and as text
    until the end: collect may be given ten thousand files), so that one file reached
    two ways is read once.
    """
    found: dict[str, None] = {}
    missing: list[tuple[Path, str]] = []
    folders: dict[str, str] = {}

    def absolute(path: str) -> str:
        folder, name = os.path.split(path)
        if folder not in folders:
            folders[folder] = str(Path(folder or ".").resolve())
        return os.path.join(folders[folder], name)

    for arg in paths:
        text = os.fspath(arg)
        try:
            mode: int | None = os.stat(text).st_mode
        except OSError:
            mode = None
        if mode is not None and stat.S_ISDIR(mode):   # listed by os.walk: no stat per file
            hits = [os.path.join(folder, name) for folder, _, names in os.walk(Path(text).resolve())
                    for name in names if name.lower().endswith(WORKBOOK_SUFFIXES)]
        elif mode is not None:
            hits = [absolute(text)]
        else:
            hits = [absolute(f) for f in glob.glob(text, recursive=True) if os.path.isfile(f)]
            if not hits:
                missing.append((Path(text), f"{text}: no such file, folder or matching pattern"))
        for f in sorted(hits):
            if not _is_scratch(os.path.basename(f)):
                found.setdefault(f, None)
    return [Path(f) for f in found], missing


def _is_scratch(name: str) -> bool:
    """Excel's lock files (~$name.xlsx) and our own temp files are not workbooks."""
    return name.startswith("~$") or name.endswith(".tmp")


# ----------------------------------------------------------------- the work of one file (in a worker)

def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _work(task: tuple[str, str | None, bool]) -> tuple:
    """Hash, then (if changed) check and read one file, all from one read of its bytes.

    Returns a picklable tuple; never raises.
    """
    path, known, validate = task
    try:
        with open(path, "rb") as f:
            data = f.read()
        digest = _hash(data)
        if digest == known:
            return ("unchanged", path, digest)
        loaded = load_review(Path(path), data=data, validate=validate)
        return ("read", path, digest, len(data), loaded.records)
    except NotAReview as e:
        return ("skipped", path, str(e))
    except RetroxlError as e:
        return ("failed", path, str(e))
    except OSError as e:
        return ("failed", path, f"{path}: {e.strerror or e}")
    except Exception as e:  # a reader bug on one odd file must not stop the other 9,999
        return ("failed", path, f"{path}: cannot be read ({type(e).__name__}: {str(e)[:160]})")


def _results(tasks: list[tuple[str, str | None, bool]], jobs: int) -> Iterator[tuple]:
    if jobs <= 1 or len(tasks) < PARALLEL_FROM:
        yield from map(_work, tasks)
        return
    import python_calamine  # noqa: F401  loaded before the workers start, so that they inherit it

    from .books import reader  # noqa: F401
    _standard()

    chunk = max(1, min(64, len(tasks) // (jobs * 8)))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(_work, tasks, chunksize=chunk)


# ----------------------------------------------------------------- collect

@dataclass
class CollectResult:
    """What one collect did, file by file."""

    db: Path
    added: list[Path] = field(default_factory=list)
    replaced: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    moved: list[tuple[Path, Path]] = field(default_factory=list)        # (old path, new path)
    duplicates: list[tuple[Path, Path, str]] = field(default_factory=list)  # (file, file already stored, why)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)   # recognised as not a review
    seconds: float = 0.0

    @property
    def files(self) -> int:
        return (len(self.added) + len(self.replaced) + len(self.unchanged) + len(self.moved)
                + len(self.duplicates) + len(self.failed) + len(self.skipped))

    def summary(self) -> str:
        return (f"{self.files} files in {self.seconds:.1f} s: {len(self.added)} added, {len(self.replaced)} updated, "
                f"{len(self.unchanged)} unchanged, {len(self.moved)} moved, {len(self.duplicates)} duplicates, "
                f"{len(self.failed)} unreadable, {len(self.skipped)} not reviews → {self.db}")

    def to_dict(self) -> dict:
        return {"db": str(self.db), "seconds": round(self.seconds, 3),
                "added": [str(p) for p in self.added], "replaced": [str(p) for p in self.replaced],
                "unchanged": [str(p) for p in self.unchanged],
                "moved": [{"from": str(a), "to": str(b)} for a, b in self.moved],
                "duplicates": [{"file": str(f), "stored": str(o), "reason": why} for f, o, why in self.duplicates],
                "failed": [{"file": str(f), "reason": why} for f, why in self.failed],
                "skipped": [{"file": str(f), "reason": why} for f, why in self.skipped]}

    def problems(self) -> list[str]:
        """One line per file that did not go in, with its reason."""
        lines = [f"duplicate: {f} — {why} as {other}; not stored twice (remove or rename one)"
                 for f, other, why in self.duplicates]
        lines += [f"unreadable: {reason}" for _, reason in self.failed]
        return lines + [f"skipped: {reason}" for _, reason in self.skipped]


class _Known:
    """What the archive already holds, by file, content hash and campaign key (kept current during the run)."""

    def __init__(self, conn) -> None:
        self.by_file: dict[str, tuple[str, str]] = {}
        for file, digest, key in conn.execute("SELECT file, hash, campaign_key FROM campaigns"):
            self.by_file[file] = (digest, key)
        self.by_hash = {d: f for f, (d, _) in self.by_file.items()}
        self.by_key = {k: f for f, (_, k) in self.by_file.items()}

    def put(self, file: str, digest: str, key: str) -> None:
        self.drop(file)
        self.by_file[file] = (digest, key)
        self.by_hash[digest] = file
        self.by_key[key] = file

    def drop(self, file: str) -> None:
        if file in self.by_file:
            digest, key = self.by_file.pop(file)
            if self.by_hash.get(digest) == file:
                del self.by_hash[digest]
            if self.by_key.get(key) == file:
                del self.by_key[key]


def collect(paths: Sequence[str | Path], db: str | Path, *, jobs: int | None = None,
            progress: bool | None = None, validate: bool = False, batch_size: int = BATCH_SIZE) -> CollectResult:
    """Read workbooks (files, folders, globs) into the archive ``db``, creating it if needed.

    ``jobs`` worker processes read in parallel (default: one per core); ``progress``
    shows a bar (default: only on a terminal); ``validate`` stores each workbook's
    validation findings too (slower: see :func:`load_review`). Raises
    :class:`RetroxlError` only for the archive itself (locked, not an archive, newer
    schema); a workbook that cannot be used is listed in :attr:`CollectResult.failed`
    and the others still go in.

    >>> from retroxl.collect import collect
    >>> collect(["复盘/"], "复盘库.db").summary()                              # doctest: +SKIP
    """
    t0 = time.perf_counter()
    db = Path(db)
    files, missing = expand(paths)
    result = CollectResult(db, failed=list(missing))
    conn = connect(db, create=True)
    try:
        with transaction(conn, db):  # fail fast on a locked archive, before minutes of reading
            pass
        known = _Known(conn)
        tasks = [(str(f), known.by_file.get(str(f), (None,))[0], validate) for f in files]
        jobs = max(1, jobs or os.cpu_count() or 1)
        pending: list[tuple] = []
        with _Progress(progress, len(tasks)) as advance:
            for res in _results(tasks, jobs):
                advance()
                if res[0] == "unchanged":
                    result.unchanged.append(Path(res[1]))
                elif res[0] in ("failed", "skipped"):
                    getattr(result, res[0]).append((Path(res[1]), res[2]))
                else:
                    pending.append(res)
                    if len(pending) >= batch_size:
                        _write(conn, db, pending, known, result)
                        pending = []
            if pending:
                _write(conn, db, pending, known, result)
    finally:
        conn.close()
    result.seconds = time.perf_counter() - t0
    return result


def _write(conn, db: Path, batch: list[tuple], known: _Known, result: CollectResult) -> None:
    """Store one batch in one transaction; the result lists change only once it is committed."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    outcome = CollectResult(db)
    reviews: list[tuple[dict[str, object], ReviewRecords]] = []
    with transaction(conn, db):
        for _, path, digest, size, rec in batch:
            key = str(rec.campaign["campaign_key"])
            facts = {"file": path, "hash": digest, "size": size, "collected_at": now}
            same_bytes = known.by_hash.get(digest)
            same_campaign = known.by_key.get(key)
            if same_bytes not in (None, path):
                if Path(same_bytes).exists():
                    outcome.duplicates.append((Path(path), Path(same_bytes), "the same content"))
                    continue
                conn.execute("DELETE FROM campaigns WHERE file = ?", (path,))  # what this path held before
                conn.execute("UPDATE campaigns SET file = ?, collected_at = ? WHERE file = ?", (path, now, same_bytes))
                known.drop(path)
                known.drop(same_bytes)
                known.put(path, digest, key)
                outcome.moved.append((Path(same_bytes), Path(path)))
                continue
            if same_campaign not in (None, path):
                if Path(same_campaign).exists():
                    outcome.duplicates.append((Path(path), Path(same_campaign),
                                               "the same campaign (name and start date)"))
                    continue
                # the file holding this campaign is gone: it was moved and edited
                conn.execute("DELETE FROM campaigns WHERE file = ?", (same_campaign,))
                known.drop(same_campaign)
                outcome.moved.append((Path(same_campaign), Path(path)))
            elif path in known.by_file:
                outcome.replaced.append(Path(path))
            else:
                outcome.added.append(Path(path))
            reviews.append((facts, rec))
            known.put(path, digest, key)
        store(conn, reviews)
    for name in ("added", "replaced", "moved", "duplicates"):
        getattr(result, name).extend(getattr(outcome, name))


class _Progress:
    """A rich progress bar on a terminal, nothing elsewhere (logs, pipes, CI)."""

    def __init__(self, show: bool | None, total: int) -> None:
        self.show = sys.stderr.isatty() if show is None else show
        self.total = total

    def __enter__(self) -> Callable[[], None]:
        if not self.show or not self.total:
            return lambda: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        # on stderr, as batch's: `collect --json` keeps stdout for the JSON
        self.bar = Progress("collect", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=True)
        self.bar.start()
        task = self.bar.add_task("collect", total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc: object) -> None:
        if getattr(self, "bar", None) is not None:
            self.bar.stop()
