"""Read a campaign list (CSV or a spreadsheet) for ``retroxl batch``, and write a sample one.

One row per campaign: 活动名称, 开始日期, 结束日期, 负责人 (or 活动周期), optionally
模板/活动类型 and numbered goals (核心目标1, 单位1, 方向1, 目标值1, 核心目标2...). Headers
may be Chinese or English: they are matched against the template's own labels.
Dates are read by the engine in the usual Chinese forms, targets in business
forms (100万, 5%, 1:3). A row that cannot be used becomes a :class:`BadRow` with
its row number and a reason; the other rows are still read.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

from .engine.numbers import parse_quantity
from .engine.periods import parse_date, parse_period
from .errors import RetroxlError
from .files import atomic_output
from .template import Column, Template

GOALS = "goals"     # the table the numbered goal columns fill
SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods")
HEADER_ROWS_SEARCHED = 10   # a title line or two may sit above the header

# Headers accepted besides the template's labels and keys (normalized, see _norm).
_ALIASES = {
    ("info", "campaign"): ("活动", "活动名", "名称", "活动主题", "name", "campaignname"),
    ("info", "start"): ("开始", "开始时间", "起始日期", "start", "startdate"),
    ("info", "end"): ("结束", "结束时间", "end", "enddate"),
    ("info", "owner"): ("责任人", "owner"),
    ("period", ""): ("活动周期", "周期", "活动时间", "period", "campaignperiod"),
    ("template", ""): ("模板", "活动类型", "类型", "template", "type", "campaigntype"),
    ("goal", "goal"): ("目标名称", "目标", "goal"),
    ("goal", "target"): ("target", "targetvalue"),
}
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?")
_NUMERIC_TYPES = ("number", "money", "percent", "ratio", "variance")


@dataclass(frozen=True)
class Campaign:
    row: int                                  # row number as a spreadsheet shows it (header = its own row)
    info: dict[str, object]                   # header fields by key; dates as date objects
    goals: list[dict[str, object]] = field(default_factory=list)
    template: str | None = None               # a template named in the list; None: the default one

    @property
    def name(self) -> str:
        return str(self.info.get("campaign", ""))


@dataclass(frozen=True)
class BadRow:
    row: int
    name: str
    reason: str


@dataclass
class CampaignList:
    campaigns: list[Campaign]
    bad: list[BadRow]
    unused_columns: list[str]                 # headers that matched nothing (probably a typo)


def _norm(header: object) -> str:
    """A header as compared: width, case, spaces, punctuation and notes in brackets ("（必填）") ignored."""
    s = unicodedata.normalize("NFKC", str(header)).casefold()
    s = re.sub(r"\([^)]*\)", "", s)          # NFKC made （） into ()
    return re.sub(r"[\s_\-:：]+", "", s)


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, date):
        return v.isoformat()
    return str(v).strip()


class _Columns:
    """Which list column holds which entry, from the header row."""

    def __init__(self, header: list[object], template: Template) -> None:
        names: dict[str, tuple[str, str]] = {}
        info = [f for s in template.sheets if s.kind == "info" for f in s.fields if f.formula is None]
        self.dates = {f.key for f in info if f.type == "date"}
        for f in info:
            for n in (f.label["zh"], f.label["en"], f.key, *_ALIASES.get(("info", f.key), ())):
                names.setdefault(_norm(n), ("info", f.key))
        self.goal_columns: dict[str, Column] = {}
        if template.has(GOALS):
            for c in template.sheet(GOALS).table.columns:
                if not c.computed:
                    self.goal_columns[c.key] = c
                    for n in (c.header["zh"], c.header["en"], c.key, *_ALIASES.get(("goal", c.key), ())):
                        names.setdefault(_norm(n), ("goal", c.key))
        for kind in ("period", "template"):
            for n in _ALIASES[(kind, "")]:
                names.setdefault(_norm(n), (kind, ""))

        self.info: dict[str, int] = {}
        self.period: int | None = None
        self.template: int | None = None
        self.goals: dict[int, dict[str, int]] = {}   # goal number → column key → list column
        self.unused: list[str] = []
        for i, h in enumerate(header):
            key = _norm(h)
            if not key:
                continue
            what = names.get(key)
            number = 1
            if what is None and (m := re.fullmatch(r"(.*?)(\d+)", key)) and names.get(m[1], ("",))[0] == "goal":
                what, number = names[m[1]], int(m[2])
            if what is None:
                self.unused.append(str(h).strip())
            elif what[0] == "info":
                self.info.setdefault(what[1], i)
            elif what[0] == "goal":
                self.goals.setdefault(number, {}).setdefault(what[1], i)
            elif what[0] == "period" and self.period is None:
                self.period = i
            elif what[0] == "template" and self.template is None:
                self.template = i

    @property
    def has_name(self) -> bool:
        return "campaign" in self.info


class _BadEntry(Exception):
    """One row's problem; its message is the reason shown for the row."""


def read_campaigns(path: str | Path, template: Template, templates: Iterable[str] = ()) -> CampaignList:
    """Read a campaign list; ``templates`` are the names a row's 模板 column may give."""
    path = Path(path)
    rows = _read_rows(path)
    header_at = next((i for i, r in enumerate(rows[:HEADER_ROWS_SEARCHED]) if _Columns(r, template).has_name), None)
    if header_at is None:
        raise RetroxlError(f"{path}: no 活动名称 / Campaign column in the first {HEADER_ROWS_SEARCHED} rows "
                           "(run `retroxl batch --example` for a sample list)")
    cols = _Columns(rows[header_at], template)
    known = {t.casefold(): t for t in templates}
    campaigns, bad = [], []
    seen: dict[tuple, int] = {}
    for i, values in enumerate(rows[header_at + 1:], start=header_at + 2):
        if not any(_text(v) for v in values):
            continue
        cells = list(values) + [""] * (len(rows[header_at]) - len(values))
        name = _text(cells[cols.info["campaign"]])
        try:
            campaign = _campaign(i, cells, cols, template, known)
        except _BadEntry as e:
            bad.append(BadRow(i, name, str(e)))
            continue
        key = (_norm(name), campaign.info.get("start"), campaign.info.get("end"))
        if key in seen:
            bad.append(BadRow(i, name, f"与第 {seen[key]} 行重复 / duplicate of row {seen[key]}"))
            continue
        seen[key] = i
        campaigns.append(campaign)
    return CampaignList(campaigns, bad, cols.unused)


def _campaign(row: int, cells: list[object], cols: _Columns, template: Template, known: dict[str, str]) -> Campaign:
    info: dict[str, object] = {}
    for key, i in cols.info.items():
        v = cells[i]
        if key in cols.dates:
            info[key] = _date(v, key)
        else:
            info[key] = _text(v)
    if not info.get("campaign"):
        raise _BadEntry("缺少活动名称 / no campaign name")
    if cols.period is not None and _text(cells[cols.period]):
        p = parse_period(cells[cols.period])
        if not p.ok:
            raise _BadEntry(f"活动周期：{p.reason} / unreadable period")
        info["start"] = info.get("start") or p.start
        info["end"] = info.get("end") or p.end
    start, end = info.get("start"), info.get("end")
    if isinstance(start, date) and isinstance(end, date) and end < start:
        raise _BadEntry(f"结束日期 {end} 早于开始日期 {start} / end date before start date")
    info = {k: v for k, v in info.items() if v not in (None, "")}

    chosen = None
    if cols.template is not None and (t := _text(cells[cols.template])):
        if t.casefold() not in known:
            raise _BadEntry(f"未知模板 {t!r}（可用：{'、'.join(sorted(known.values()))}） / unknown template")
        chosen = known[t.casefold()]

    goals = []
    for number in sorted(cols.goals):
        goal = {}
        for key, i in cols.goals[number].items():
            if _text(cells[i]):
                goal[key] = _goal_entry(cols.goal_columns[key], cells[i], template, number)
        if goal:
            goals.append(goal)
    return Campaign(row, info, goals, chosen)


@lru_cache(maxsize=65536)
def _date_from_text(text: str) -> date | None:
    return parse_date(text)


@lru_cache(maxsize=65536)
def _number_from_text(text: str) -> tuple[object, str]:
    """(what to write, "") for a target written as text, or (None, the reason it is unreadable).
    A list repeats the same dates and targets many times: each is parsed once."""
    q = parse_quantity(text)
    if not q.ok:
        return None, q.reason
    return (q.value if _PLAIN_NUMBER.fullmatch(text) else text), ""


def _date(v: object, key: str) -> date | None:
    if not _text(v):
        return None
    d = _date_from_text(v.strip()) if isinstance(v, str) else parse_date(v)
    if d is None:
        raise _BadEntry(f"无法识别的日期 {_text(v)!r}（{key}），请写成 2024-06-15 / unreadable date")
    return d


def _goal_entry(column: Column, v: object, template: Template, number: int) -> object:
    """A goal cell as the workbook should hold it: numbers as numbers, other parsable text as written."""
    label = f"{column.header['zh']}{number}"
    if column.type in _NUMERIC_TYPES:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return v
        entry, reason = _number_from_text(_text(v))
        if reason:
            raise _BadEntry(f"{label}：{reason} / unreadable {column.header['en'].lower()}")
        return entry
    text = _text(v)
    if column.list and column.strict:
        if not any(text in items for items in template.lists[column.list].values()):
            choices = "、".join(template.choices(column.list, "zh"))
            raise _BadEntry(f"{label} 应为 {choices} 之一，而不是 {text!r} / not one of the choices")
    return text


# ---------------------------------------------------------------- reading files
def _read_rows(path: Path) -> list[list[object]]:
    suffix = path.suffix.lower()
    if suffix in SPREADSHEETS:
        from python_calamine import CalamineWorkbook

        if suffix in (".xlsx", ".xlsm"):   # a zip bomb or a million-row sheet: one line, before calamine reads it
            from .books.safety import check_workbook

            check_workbook(path)
        try:
            sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
            return sheet.to_python(skip_empty_area=False)
        except FileNotFoundError:
            raise
        except Exception as e:  # calamine raises its own types for damaged or foreign files
            raise RetroxlError(f"{path}: cannot read this spreadsheet ({e})") from None
    if suffix in (".csv", ".txt", ".tsv"):
        return _read_csv(path)
    raise RetroxlError(f"{path}: the campaign list must be .csv or .xlsx")


def _read_csv(path: Path) -> list[list[object]]:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):   # Excel in China saves CSV as GBK
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RetroxlError(f"{path}: not UTF-8 or GBK text")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    return [list(r) for r in csv.reader(io.StringIO(text, newline=""), dialect)]


# ---------------------------------------------------------------- the sample list
_EXAMPLE_GOALS = 3
_EXAMPLE = [
    ("2024夏季新品推广", "2024-06-01", "2024-06-15", "张经理", "standard",
     [("线上曝光量", "次", "越高越好", "100万"), ("新品销量", "件", "越高越好", "5000"),
      ("新增会员数", "人", "越高越好", "2000")]),
    ("2024双11大促", "2024年11月1日", "2024年11月11日", "李主管", "",
     [("成交额", "万元", "越高越好", "1500"), ("投入产出比", "1:x", "越高越好", "1:3"),
      ("退货率", "%", "越低越好", "5%")]),
    ("门店周年庆（上海徐汇店）", "2024.09.20", "2024.09.22", "王店长", "",
     [("到店客流", "人次", "越高越好", "1.2万人次")]),
    ("会员日 7月", "2024/07/18", "2024/07/18", "赵运营", "", []),
]


def example_rows(lang: str, template: Template) -> list[list[str]]:
    """The sample campaign list: a header in ``lang`` and four campaigns."""
    info = {f.key: f.label[lang] for s in template.sheets if s.kind == "info" for f in s.fields}
    goal = {c.key: c.header[lang] for c in template.sheet(GOALS).table.columns}
    header = [info["campaign"], info["start"], info["end"], info["owner"], "模板" if lang == "zh" else "Template"]
    sep = "" if lang == "zh" else " "
    for n in range(1, _EXAMPLE_GOALS + 1):
        header += [f"{goal[k]}{sep}{n}" for k in ("goal", "unit", "direction", "target")]
    rows = [header]
    for name, start, end, owner, tpl, goals in _EXAMPLE:
        row = [name, start, end, owner, tpl]
        for g, unit, direction, target in goals:
            row += [g, template.translate("unit", unit, lang), template.translate("direction", direction, lang),
                    target]
        rows.append(row + [""] * (len(header) - len(row)))
    return rows


def write_example(path: str | Path, template: Template, *, lang: str = "zh", force: bool = False) -> Path:
    """Write the sample list as CSV (UTF-8 with BOM, which Excel opens correctly) or .xlsx."""
    path = Path(path)
    rows = example_rows(lang, template)
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise RetroxlError(f"{path}: the sample list is written as .csv or .xlsx")
    if path.exists() and not force:
        raise RetroxlError(f"{path} already exists (use --overwrite to replace it)")
    with atomic_output(path, force=True) as tmp:
        if path.suffix.lower() == ".csv":
            with open(tmp, "w", encoding="utf-8-sig", newline="") as f:
                csv.writer(f).writerows(rows)
        else:
            import xlsxwriter

            wb = xlsxwriter.Workbook(str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False,
                                                "strings_to_urls": False})
            wb.set_properties({"created": datetime(2024, 1, 1)})  # same bytes every time
            ws = wb.add_worksheet("活动清单" if lang == "zh" else "Campaigns")
            bold = wb.add_format({"bold": True})
            for r, row in enumerate(rows):
                for c, v in enumerate(row):
                    ws.write_string(r, c, v, bold if r == 0 else None)
            ws.set_column(0, 0, 24)
            ws.set_column(1, len(rows[0]) - 1, 12)
            ws.freeze_panes(1, 1)
            wb.close()
    return path
