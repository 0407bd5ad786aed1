"""The review archive: every campaign's retrospective in one SQLite file, queried with pandas.

SQLite (standard library) because the archive is written by one ``retroxl collect``
at a time and read by many small queries: no server, no set-up, one file to copy.
The schema carries a version (``PRAGMA user_version``); an archive made by an
older retroxl is migrated forward in place by :data:`MIGRATIONS`, which only add,
never drop, so nothing collected earlier is lost.

>>> from retroxl import archive
>>> with archive.open("复盘库.db") as db:                                  # doctest: +SKIP
...     db.query("SELECT campaign, AVG(attainment) FROM goals JOIN campaigns ON id = campaign_id GROUP BY 1")

``read(path)`` turns one workbook into the same records, as a :class:`Review` with a
DataFrame per table; ``collect`` stores them; both share :func:`review_records`.
"""

from __future__ import annotations

import sqlite3
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engine.periods import parse_date
from .errors import RetroxlError
from .model import Retrospective
from .compute import compute
from .layout import Layout, shared_layout
from .rules import fallback_number, is_number
from .template import Table, Template, load_template, per_template

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = 2
CANONICAL_LANG = "zh"   # choice entries (方向, 状态, 影响程度…) are stored in Chinese whatever the book's language
BUSY_TIMEOUT = 10.0     # seconds to wait for another writer before giving up

# Each step upgrades an archive from version n-1 to n. Frozen text: a step, once
# released, never changes; a new column or table is a new step.
MIGRATIONS: dict[int, str] = {
    1: """
CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    file TEXT NOT NULL UNIQUE,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    collected_at TEXT NOT NULL,
    format TEXT NOT NULL,
    lang TEXT,
    campaign TEXT,
    start TEXT,
    "end" TEXT,
    owner TEXT,
    review_date TEXT,
    campaign_key TEXT NOT NULL,
    budget_total REAL,
    cost_total REAL,
    return_total REAL,
    roi REAL,
    net_roi REAL
);
CREATE INDEX campaigns_key ON campaigns (campaign_key);
CREATE INDEX campaigns_hash ON campaigns (hash);
CREATE TABLE goals (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    "row" INTEGER NOT NULL,
    goal, unit, direction, target, actual,
    target_n REAL, actual_n REAL, attainment REAL,
    PRIMARY KEY (campaign_id, "row")
);
CREATE TABLE indicators (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    "row" INTEGER NOT NULL,
    type, indicator, unit, direction, target, actual, previous,
    target_n REAL, actual_n REAL, previous_n REAL, attainment REAL, variance REAL,
    source, analysis,
    PRIMARY KEY (campaign_id, "row")
);
CREATE INDEX indicators_name ON indicators (indicator, unit);
CREATE TABLE actions (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    "row" INTEGER NOT NULL,
    problem, impact, root_cause, measure, owner, deadline TEXT, deadline_text, status,
    PRIMARY KEY (campaign_id, "row")
);
CREATE TABLE lessons (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    "row" INTEGER NOT NULL,
    category, content, scenario, standard,
    PRIMARY KEY (campaign_id, "row")
);
CREATE TABLE costs (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    "row" INTEGER NOT NULL,
    kind TEXT NOT NULL, item, budget REAL, spent REAL, amount REAL, note,
    PRIMARY KEY (campaign_id, kind, "row")
);
""",
    # 2: the 活动类型 (for history matching) and the validation findings of each review.
    2: """
ALTER TABLE campaigns ADD COLUMN campaign_type TEXT;
CREATE TABLE findings (
    campaign_id INTEGER NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    "row" INTEGER NOT NULL,
    sheet, cell, severity, code, message,
    PRIMARY KEY (campaign_id, "row")
);
""",
}

# The columns of every record, in insert order (the current schema, after all migrations).
CAMPAIGN_COLUMNS = ("file", "hash", "size", "collected_at", "format", "lang", "campaign", "start", "end", "owner",
                    "review_date", "campaign_key", "campaign_type", "budget_total", "cost_total", "return_total",
                    "roi", "net_roi")
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "goals": ("goal", "unit", "direction", "target", "actual", "target_n", "actual_n", "attainment"),
    "indicators": ("type", "indicator", "unit", "direction", "target", "actual", "previous", "target_n",
                   "actual_n", "previous_n", "attainment", "variance", "source", "analysis"),
    "actions": ("problem", "impact", "root_cause", "measure", "owner", "deadline", "deadline_text", "status"),
    "lessons": ("category", "content", "scenario", "standard"),
    "costs": ("kind", "item", "budget", "spent", "amount", "note"),
    "findings": ("sheet", "cell", "severity", "code", "message"),
}
DATE_COLUMNS = {"campaigns": ("start", "end", "review_date"), "actions": ("deadline",)}


# ----------------------------------------------------------------- records of one review

@dataclass
class ReviewRecords:
    """One review as plain rows, ready to insert (and cheap to send back from a worker process).

    ``campaign`` maps :data:`CAMPAIGN_COLUMNS` except the file facts (file, hash, size,
    collected_at), which the collector adds; ``tables`` maps a table to its row tuples in
    :data:`TABLE_COLUMNS` order.
    """

    campaign: dict[str, object]
    tables: dict[str, list[tuple]] = field(default_factory=dict)


def campaign_key(name: object, start: object) -> str:
    """Name + start date: the same campaign name in two years is two campaigns."""
    text = unicodedata.normalize("NFKC", str(name or "")).strip()
    return f"{text}|{start or ''}"


def _iso(value: object) -> str | None:
    d = parse_date(value)
    return d.isoformat() if d else None


def _entry(value: object) -> object:
    """An entry as stored: numbers and text as they are, dates as ISO text, blanks as NULL."""
    kind = type(value)
    if kind is str:           # the common cases first: collect stores millions of these
        return value or None
    if kind is float or kind is int:
        return value
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _number(value: object) -> float | None:
    if type(value) is float:
        return value
    return float(value) if is_number(value) and not isinstance(value, date) else None


_LAYOUTS: dict = {}


def _layout(tpl: Template, tables: dict[str, list[dict[str, object]]]) -> Layout:
    """The template's layout in the canonical language, each table as long as the review's rows."""
    base = shared_layout(tpl, CANONICAL_LANG)
    sizes = tuple(len(tables.get(k, ())) for k in base.tables)
    return per_template(_LAYOUTS, tpl, sizes, lambda: replace(base, tables={
        k: replace(tl, rows=n) for (k, tl), n in zip(base.tables.items(), sizes)}), limit=1024)


def _localized(tpl: Template, lists: dict[str, str], row: dict[str, object]) -> dict[str, object]:
    """Choice entries (方向, 状态…) in the canonical language; ``lists`` maps a column to its list."""
    return {k: tpl.translate(lists[k], v, CANONICAL_LANG) if k in lists else v for k, v in row.items()}


def _filled(row: dict[str, object], keys: frozenset[str]) -> bool:
    return any(v is not None and v != "" and k in keys for k, v in row.items())


_SHAPES: dict = {}


def _shape(tpl: Template, table: Table) -> tuple[frozenset[str], dict[str, str]]:
    """A table's columns a person fills, and its choice columns with their lists."""
    return per_template(_SHAPES, tpl, table.key, lambda: (frozenset(c.key for c in table.columns if not c.computed),
                                                          {c.key: c.list for c in table.columns if c.list}))


# How each computed table's archive columns are stored: numbers for the computed figures, entries as typed.
_STORED = {key: tuple((c, c.endswith("_n") or c in ("attainment", "variance")) for c in TABLE_COLUMNS[key])
           for key in ("goals", "indicators")}


def review_records(retro: Retrospective, *, template: Template | None = None, fmt: str = "standard",
                   lang: str | None = None) -> ReviewRecords:
    """The archive rows of one review, with 达成率, 环比 and ROI computed by the engine's rules.

    Computed from the entries, not from the values cached in the file, so a workbook
    saved by a program that never calculates still gives the right figures.
    """
    tpl = template or load_template()
    tables: dict[str, list[dict[str, object]]] = {}
    for key, rows in retro.tables.items():
        try:
            _, table = tpl.table(key)
        except KeyError:
            continue
        keys, lists = _shape(tpl, table)
        tables[key] = [_localized(tpl, lists, r) for r in rows if _filled(r, keys)]
    layout = _layout(tpl, tables)
    # Only what the archive stores: the goal and indicator rows and the 成本收益 totals (with what they read).
    values = compute(layout, replace(retro, tables=tables),
                     fields=[f.key for s in tpl.sheets if s.kind == "costs" for f in s.fields],
                     tables=[k for k in _STORED if k in layout.tables])
    totals = values.fields

    out: dict[str, list[tuple]] = {}
    for key, stored in _STORED.items():
        columns = [(values.columns[(key, c)], number) for c, number in stored] if key in layout.tables else []
        out[key] = [tuple(_number(col[i]) if number else _entry(col[i]) for col, number in columns)
                    for i in range(len(tables.get(key, ())))]
    out["actions"] = []
    for r in tables.get("actions", []):
        # A date deadline is stored as a date; relative text (3个工作日内, 下次活动前) as text beside it.
        iso = _iso(r.get("deadline"))
        fixed = {"deadline": iso, "deadline_text": None if iso else _entry(r.get("deadline"))}
        out["actions"].append(tuple(fixed[c] if c in fixed else _entry(r.get(c)) for c in TABLE_COLUMNS["actions"]))
    out["lessons"] = [tuple(_entry(r.get(c)) for c in TABLE_COLUMNS["lessons"]) for r in tables.get("lessons", [])]
    out["costs"] = [("cost", _entry(r.get("item")), _money(r.get("budget")), _money(r.get("spent")), None, None)
                    for r in tables.get("costs", [])]
    out["costs"] += [("return", _entry(r.get("item")), None, None, _money(r.get("amount")), _entry(r.get("note")))
                     for r in tables.get("returns", [])]
    out["findings"] = []

    info = retro.info
    start = _iso(info.get("start"))
    campaign = {
        "format": fmt, "lang": lang, "campaign": _entry(info.get("campaign")), "start": start,
        "end": _iso(info.get("end")), "owner": _entry(info.get("owner")), "review_date": _iso(info.get("review_date")),
        "campaign_key": campaign_key(info.get("campaign"), start),
        "campaign_type": _entry(info.get("type") or info.get("campaign_type")),
        **{k: _number(totals.get(k)) for k in ("budget_total", "cost_total", "return_total", "roi", "net_roi")},
    }
    return ReviewRecords(campaign, out)


def _money(value: object) -> float | None:
    """A money entry as a number: text such as 60万 is read by the engine."""
    n = _number(value)
    return n if n is not None else fallback_number(value)  # type: ignore[return-value]


# ----------------------------------------------------------------- one workbook as DataFrames

@dataclass
class Campaign:
    """The header of one review and its 成本收益 totals."""

    name: str | None
    start: date | None
    end: date | None
    owner: str | None
    review_date: date | None
    campaign_type: str | None
    key: str
    budget_total: float | None
    cost_total: float | None
    return_total: float | None
    roi: float | None
    net_roi: float | None


@dataclass
class Review:
    """One retrospective workbook as typed records: the header and a DataFrame per table.

    Table columns are those of the archive (:data:`TABLE_COLUMNS`), so code written
    against ``read(path).indicators`` works unchanged on ``archive.open(db).indicators``.
    """

    file: Path
    format: str
    lang: str | None
    campaign: Campaign
    goals: pd.DataFrame
    indicators: pd.DataFrame
    actions: pd.DataFrame
    lessons: pd.DataFrame
    costs: pd.DataFrame
    findings: pd.DataFrame
    retrospective: Retrospective


def read(path: str | Path, *, validate: bool = True, today: date | None = None) -> Review:
    """Read one retrospective workbook (standard, or seed format through the importer).

    ``validate`` fills :attr:`Review.findings` with what ``retroxl validate`` reports
    (as of ``today``: an action past its deadline is a finding).

    >>> import retroxl
    >>> review = retroxl.read("2024夏季新品推广.xlsx")                     # doctest: +SKIP
    >>> review.goals[["goal", "attainment"]]                                # doctest: +SKIP
    """
    from .collect import load_review

    loaded = load_review(Path(path), validate=validate, today=today)
    return review_from_records(Path(path), loaded.records, loaded.retro)


def review_from_records(path: Path, rec: ReviewRecords, retro: Retrospective) -> Review:
    import pandas as pd

    c = rec.campaign

    def day(key: str) -> date | None:
        return date.fromisoformat(c[key]) if c.get(key) else None  # type: ignore[arg-type]

    campaign = Campaign(c["campaign"], day("start"), day("end"), c["owner"], day("review_date"),  # type: ignore[arg-type]
                        c["campaign_type"], c["campaign_key"], *(c[k] for k in  # type: ignore[arg-type]
                        ("budget_total", "cost_total", "return_total", "roi", "net_roi")))
    frames = {}
    for table, columns in TABLE_COLUMNS.items():
        df = pd.DataFrame.from_records(rec.tables.get(table, []), columns=list(columns))
        df.insert(0, "row", range(1, len(df) + 1))
        frames[table] = _typed(df, table)
    return Review(path, str(c["format"]), c.get("lang"), campaign, retrospective=retro, **frames)  # type: ignore[arg-type]


def _typed(df: pd.DataFrame, table: str) -> pd.DataFrame:
    import pandas as pd

    for column in DATE_COLUMNS.get(table, ()):
        if column in df:
            df[column] = pd.to_datetime(df[column], errors="coerce")
    return df


# ----------------------------------------------------------------- the database

def _locked_message(path: Path) -> str:
    return (f"{path} is locked by another program (another retroxl collect?); "
            "try again when it has finished")


def _fail(path: Path, e: sqlite3.Error) -> RetroxlError:
    text = str(e)
    if "locked" in text or "busy" in text:
        return RetroxlError(_locked_message(path))
    if "not a database" in text or "malformed" in text:
        return RetroxlError(f"{path} is not a retroxl archive (not an SQLite database, or damaged)")
    if "readonly" in text:
        return RetroxlError(f"{path} cannot be written (read-only file or folder)")
    return RetroxlError(f"{path}: {text}")


def connect(path: str | Path, *, create: bool = False, timeout: float | None = None) -> sqlite3.Connection:
    """Open the archive at ``path`` at the current schema version, migrating an older one.

    ``create`` makes a new archive when none exists; otherwise a missing file is an
    error (a typo in --db should not silently start an empty archive). ``timeout``:
    seconds to wait for another writer (default :data:`BUSY_TIMEOUT`).
    """
    path = Path(path)
    if path.is_dir():
        raise RetroxlError(f"{path} is a folder, not an archive file")
    if not path.exists():
        if not create:
            raise RetroxlError(f"{path}: no such archive (run `retroxl collect ... --db {path}` first)")
        if not path.parent.is_dir():
            raise RetroxlError(f"cannot create {path}: folder {path.parent} does not exist")
    try:
        wait = BUSY_TIMEOUT if timeout is None else timeout
        conn = sqlite3.connect(path, timeout=wait, isolation_level=None)  # transactions are explicit
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn, path)
    except sqlite3.Error as e:
        raise _fail(path, e) from None
    return conn


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise RetroxlError(f"{path} was written by a newer retroxl (archive schema {version}, this one knows "
                           f"{SCHEMA_VERSION}); upgrade retroxl")
    if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise RetroxlError(f"{path} is an SQLite database but not a retroxl archive")
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("PRAGMA user_version").fetchone()[0] != version:  # another process migrated meanwhile
            conn.execute("ROLLBACK")
            return _migrate(conn, path)
        for step in range(version + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[step].split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


@contextmanager
def transaction(conn: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """One write transaction: all of it is stored, or none of it."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as e:
        raise _fail(path, e) from None
    try:
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as e:
        conn.execute("ROLLBACK")
        raise _fail(path, e) from None
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def store(conn: sqlite3.Connection, reviews: list[tuple[dict[str, object], ReviewRecords]]) -> None:
    """Insert reviews (inside the caller's transaction), replacing the rows stored for the same files.

    ``reviews`` pairs the file facts (file, hash, size, collected_at) with the records.
    One statement per table for the whole list: collect stores thousands per second.
    """
    files = [(facts["file"],) for facts, _ in reviews]
    conn.executemany("DELETE FROM campaigns WHERE file = ?", files)  # their rows in other tables cascade
    # Ids given here (the caller's write transaction excludes other writers), so campaigns go in one statement too.
    first = conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM campaigns").fetchone()[0]
    campaigns = []
    children: dict[str, list[tuple]] = {table: [] for table in TABLE_COLUMNS}
    for cid, (facts, rec) in enumerate(reviews, first):
        row = {**rec.campaign, **facts}
        campaigns.append([cid, *(row.get(c) for c in CAMPAIGN_COLUMNS)])
        for table in TABLE_COLUMNS:
            children[table] += [(cid, i, *r) for i, r in enumerate(rec.tables.get(table, []), 1)]
    columns = ("id", *CAMPAIGN_COLUMNS)
    conn.executemany(f"INSERT INTO campaigns ({', '.join(map(_q, columns))}) VALUES ({', '.join('?' * len(columns))})",
                     campaigns)
    for table, columns in TABLE_COLUMNS.items():
        if children[table]:
            names = ", ".join(_q(c) for c in ("campaign_id", "row", *columns))
            conn.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * (len(columns) + 2))})",
                             children[table])


def _q(name: str) -> str:
    return f'"{name}"'


class Archive:
    """An open archive: ``query(sql)`` and one DataFrame per table (dates as datetimes)."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self.conn, self.path = conn, path

    def query(self, sql: str, params: Any = ()) -> pd.DataFrame:
        """Run one SQL query and return its result as a DataFrame."""
        import pandas as pd

        try:
            return pd.read_sql_query(sql, self.conn, params=params)
        except (sqlite3.Error, pd.errors.DatabaseError) as e:
            cause = e.__cause__ if isinstance(e.__cause__, sqlite3.Error) else e
            if isinstance(cause, sqlite3.OperationalError) and "locked" not in str(cause):
                raise RetroxlError(f"query failed: {cause}") from None
            raise _fail(self.path, cause) from None  # type: ignore[arg-type]

    def table(self, name: str) -> pd.DataFrame:
        if name not in ("campaigns", *TABLE_COLUMNS):
            raise RetroxlError(f"no table {name!r} (one of campaigns, {', '.join(TABLE_COLUMNS)})")
        return _typed(self.query(f'SELECT * FROM {name} ORDER BY 1, 2'), name)

    campaigns = property(lambda self: self.table("campaigns"))
    goals = property(lambda self: self.table("goals"))
    indicators = property(lambda self: self.table("indicators"))
    actions = property(lambda self: self.table("actions"))
    lessons = property(lambda self: self.table("lessons"))
    costs = property(lambda self: self.table("costs"))
    findings = property(lambda self: self.table("findings"))

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open(path: str | Path, *, timeout: float | None = None) -> Archive:  # noqa: A001 (archive.open reads well)
    """Open an existing archive for pandas queries (migrating an older schema first)."""
    return Archive(connect(path, timeout=timeout), Path(path))
