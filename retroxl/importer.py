"""``retroxl import``: turn hand-filled tables in the reference's format into the standard workbook.

Teams kept years of reviews in the four tables of the reference template, typed
by hand: title rows above, merged title cells, headers with or without their (…)
hints, one 表1 row packing three goals (``线上曝光量、新品销量、新增会员数`` with
``100万次/5000件/2000人``), 达成率 and 环比 typed as text. The importer finds each
table by its header texts anywhere in any sheet, maps its columns to the
template's, unpacks packed goals, and writes the standard workbook with
:func:`retroxl.generate.new_workbook`. Entries keep the text people typed
(``120万次``): the standard workbook reads the number behind it.

Where things go:

- 活动名称 / 负责人 / 活动周期 (parsed into start and end) → the 说明 sheet.
- A hand-typed 达成率 has no place in the standard workbook (there it is a
  formula), so it is kept in :attr:`ImportReport.carried` and checked by the
  validator's own rule (:mod:`retroxl.engine.checks`, R204): a disagreement
  beyond rounding is a finding at the source cell.
- A hand-typed 环比 is checked the same way against 往期值 when the table has
  one; otherwise 往期值 is derived from it (actual ÷ (1 + 环比)), so the standard
  workbook shows the same 环比, and the report says it was derived.
- Everything else that has no column in the standard workbook, or sits outside
  the four tables, is listed in :attr:`ImportReport.unplaced` with its cell.

The source is opened read-only and never written.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path

from .books.safety import check_workbook
from .books.sheetxml import parse_ref
from .engine.checks import check
from .engine.metrics import as_float
from .engine.numbers import Quantity, parse_quantities, parse_quantity
from .engine.periods import parse_date, parse_period
from .errors import RetroxlError
from .generate import new_workbook, plan_workbook, resolve_template
from .layout import a1
from .model import Retrospective
from .rules import ExcelError
from .template import Template
from .validate import Finding

TABLES = ("goals", "indicators", "actions", "lessons")
# The seed's 活动周期 is one cell; the standard workbook has a start and an end date.
_PERIOD_HEADERS = ("活动周期", "活动时间", "Campaign period", "Period")
# A header row holds one of its table's anchors and at least one more of its headers.
_ANCHORS = {"goals": {"goal", "campaign"}, "indicators": {"indicator"}, "actions": {"problem", "measure"},
            "lessons": {"category", "content"}}
_CARRIED = ("attainment", "variance")   # formulas in the standard workbook, typed by hand in old ones
_INFO_KEYS = ("campaign", "owner", "start", "end", "review_date", "period")

_HINT_RE = re.compile(r"[(\[【][^()\[\]【】]*[)\]】]$")          # 影响程度（高/中/低）
_TITLE_RE = re.compile(r"^(表|table|t)\s*[0-9一二三四五六七八九十]", re.I)  # 表1 活动基本信息与目标概览表
_NOTE_RE = re.compile(r"^(注|备注|说明|note)\s*[:：]?", re.I)
_NAME_SEPARATORS_RE = re.compile(r"[、,，;；/／|｜\n]")
_TYPE_SUFFIXES = ("类指标", "指标", "类")                          # 流量指标 → 流量
_FLOAT_MAX = sys.float_info.max
# The validator's findings an import reports, at the source cell (run `retroxl validate` for the rest):
# R204 a hand-typed 达成率/环比 that disagrees with the computed one, R107 a cell holding an Excel error.
IMPORT_CODES = ("R204", "R107")


@dataclass(frozen=True, slots=True)
class Placed:
    """One row of the standard workbook and the source cells it came from."""

    table: str
    row: int            # 0-based row of the table in the standard workbook
    sheet: str
    source_row: int     # the source row's number as Excel shows it
    source: str         # the source row's filled range, e.g. "A4:G4"


@dataclass(frozen=True, slots=True)
class Unplaced:
    """Something in the source the standard workbook has no place for."""

    sheet: str
    cell: str
    value: str
    reason: str


@dataclass(frozen=True, slots=True)
class Carried:
    """A hand-typed 达成率 or 环比 and the value the standard workbook computes instead."""

    table: str
    row: int
    column: str                         # "attainment" or "variance"
    sheet: str
    cell: str
    typed: str
    typed_value: float | None
    computed: float | None
    agrees: bool | None                 # None: nothing to compare
    derived_previous: float | None = None   # 往期值 written, derived from the typed 环比


@dataclass
class ImportReport:
    """What ``import_workbook`` wrote (``retro``), where each part came from, and what it left out."""

    source: Path
    dest: Path
    retro: Retrospective
    placed: list[Placed] = field(default_factory=list)
    info: dict[str, str] = field(default_factory=dict)      # info key → source cell, e.g. "Sheet1!A4"
    unplaced: list[Unplaced] = field(default_factory=list)
    carried: list[Carried] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)     # table key → sheet name in the new workbook

    def counts(self) -> dict[str, int]:
        return {t: len(self.retro.rows(t)) for t in TABLES}

    def to_dict(self) -> dict:
        info = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.retro.info.items()}
        return {"file": str(self.source), "dest": str(self.dest), "info": info, "counts": self.counts(),
                "placed": [asdict(p) for p in self.placed],
                "unplaced": [asdict(u) for u in self.unplaced],
                "carried": [asdict(c) for c in self.carried],
                "findings": [asdict(f) for f in self.findings]}

    def summary(self) -> list[str]:
        """What was placed where, what was not, and the findings: the lines ``retroxl import`` prints."""
        lines = [f"placed from {self.source}:"]
        for table in TABLES:
            sources: dict[str, list[int]] = {}
            for p in self.placed:
                if p.table == table:
                    sources.setdefault(p.sheet, []).append(p.source_row)
            where = "; ".join(f"{sheet} rows {min(rs)}-{max(rs)}" if min(rs) != max(rs) else f"{sheet} row {rs[0]}"
                              for sheet, rs in sources.items())
            lines.append(f"  {self.names.get(table, table)}: {self.counts()[table]} rows"
                         + (f" <- {where}" if where else ""))
        if self.info:
            lines.append("  info: " + ", ".join(f"{k} <- {cell}" for k, cell in self.info.items()))
        checked = [c for c in self.carried if c.agrees is not None]
        derived = sum(1 for c in self.carried if c.derived_previous is not None)
        if self.carried:
            lines.append(f"hand-typed 达成率/环比: {len(checked)} checked against the computed values, "
                         f"{sum(1 for c in checked if not c.agrees)} disagree"
                         + (f"; 往期值 derived from 环比 in {derived} rows" if derived else ""))
        lines.append(f"not placed ({len(self.unplaced)}):" if self.unplaced else "not placed: nothing")
        lines += [f"  {u.sheet}!{u.cell}  {u.value[:40]}  -- {u.reason}" if u.cell else
                  f"  {u.sheet}  {u.value}  -- {u.reason}" for u in self.unplaced]
        if self.findings:
            lines.append(f"findings ({len(self.findings)}):")
            lines += [f"  {f.severity} {f.code} {f.sheet}!{f.cell}: {f.message}" for f in self.findings]
        lines.append(f"every other check: retroxl validate {self.dest}")
        return lines


def import_workbook(src: str | Path, dest: str | Path, *, lang: str = "zh", force: bool = False,
                    template: Template | str | Path | None = None) -> ImportReport:
    """Read the seed-format tables of ``src`` and write the standard workbook to ``dest``.

    ``src`` is only read. Raises :class:`RetroxlError` when ``src`` is not a usable
    workbook, holds none of the four tables, or ``dest`` is ``src``.
    """
    src, dest = Path(src), Path(dest)
    check_workbook(src)
    if dest.exists() and dest.resolve() == src.resolve():
        raise RetroxlError(f"{dest} is the file being imported; choose another output file")
    tpl = resolve_template(template)
    importer = _Importer(tpl)
    for sheet, rows in _read_sheets(src):
        importer.scan(sheet, rows)
    report = importer.build(src, dest, lang)
    new_workbook(dest, report.retro, template=tpl, lang=lang, force=force)
    report.names = {t: tpl.table(t)[0].name[lang] for t in TABLES}
    return report


# ----------------------------------------------------------------- reading

def _read_sheets(path: Path) -> list[tuple[str, list[tuple[int, list[object]]]]]:
    """Every worksheet as its non-empty rows: (0-based row, values); read-only, cached values."""
    import openpyxl  # heavy: only when importing

    out = []
    sheet = ""
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            for ws in wb.worksheets:
                sheet = ws.title
                ws.reset_dimensions()  # a stale declared dimension must not pad the rows
                rows = []
                for r, row in enumerate(ws.iter_rows()):
                    values = [_cell(c.value, c.data_type) for c in row]
                    if any(v is not None for v in values):
                        rows.append((r, values))
                out.append((ws.title, rows))
        finally:
            wb.close()
    except Exception as e:  # openpyxl on a file check_workbook let through (e.g. <v>NaN</v>): one line, no traceback
        where = f" (sheet {sheet!r})" if sheet else ""
        raise RetroxlError(f"{path} cannot be read{where}: {type(e).__name__}: {str(e)[:120]}") from None
    return out


def _cell(value: object, data_type: str) -> object:
    """A cell value as the importer uses it: blank text is None, a midnight datetime a date.

    A number no spreadsheet can hold (an integer beyond the float range, infinity, only
    possible in a file another program wrote) is kept as its text, so it is reported as
    not a number instead of breaking the calculation.
    """
    if data_type == "e":
        return ExcelError(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not abs(value) <= _FLOAT_MAX:
        return str(value)
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, datetime) and value.time() == datetime.min.time():
        return value.date()
    return value


def _norm(value: object) -> str:
    """A header as compared: full-width folded, no spaces, no trailing (…) hint or colon, case-folded."""
    if not isinstance(value, str):
        return ""
    s = re.sub(r"\s+", "", unicodedata.normalize("NFKC", value))
    s = _HINT_RE.sub("", s).rstrip("*:")
    return s.casefold()


def _vocabulary(tpl: Template) -> dict[str, dict[str, str]]:
    """Per table: normalised header text (zh and en) → column key, from the template itself."""
    vocab: dict[str, dict[str, str]] = {}
    for table in TABLES:
        _, spec = tpl.table(table)
        words = {_norm(text): c.key for c in spec.columns
                 if not c.hidden and (not c.computed or c.key in _CARRIED) for text in c.header.values()}
        if table == "goals":
            if tpl.has("info"):
                words.update({_norm(text): f.key for f in tpl.sheet("info").fields for text in f.label.values()})
            words.update({_norm(text): "period" for text in _PERIOD_HEADERS})
        vocab[table] = words
    return vocab


# ----------------------------------------------------------------- finding the tables

@dataclass
class _Row:
    sheet: str
    row: int
    values: dict[str, object]           # column key → value
    cols: dict[str, int]                # column key → source column
    span: str                           # "A4:G4"

    def cell(self, key: str) -> str:
        return a1(self.row, self.cols[key])

    def where(self, key: str) -> str:
        return f"{self.sheet}!{self.cell(key)}"


@dataclass
class _Block:
    table: str
    columns: dict[int, str]             # source column → key
    headers: dict[int, str]             # source column → header text the template does not know


class _Importer:
    def __init__(self, tpl: Template) -> None:
        self.tpl = tpl
        self.vocab = _vocabulary(tpl)
        self.rows: dict[str, list[_Row]] = {t: [] for t in TABLES}
        self.unplaced: list[Unplaced] = []
        self.findings: list[Finding] = []
        self.sheets: list[str] = []
        # Hand-typed 达成率/环比 of placed rows: (table, row, column) → (typed, sheet, cell).
        self._typed: dict[tuple[str, int, str], tuple[object, str, str]] = {}
        # Where each placed entry came from: ("t", table, row, column) or ("f", field) → (sheet, cell).
        self._cells: dict[tuple, tuple[str, str]] = {}

    # -- scanning
    def _header(self, values: list[object]) -> _Block | None:
        best: _Block | None = None
        normed = [_norm(v) for v in values]   # once per row, not once per table
        for table, words in self.vocab.items():
            columns: dict[int, str] = {}
            for c, v in enumerate(normed):
                key = words.get(v)
                if key and key not in columns.values():
                    columns[c] = key
            if len(columns) >= 2 and _ANCHORS[table] & set(columns.values()) and \
                    (best is None or len(columns) > len(best.columns)):
                headers = {c: str(v) for c, v in enumerate(values) if v is not None and c not in columns}
                best = _Block(table, columns, headers)
        return best

    def scan(self, sheet: str, rows: list[tuple[int, list[object]]]) -> None:
        """Find the tables of one sheet and collect their rows; note what is outside them."""
        self.sheets.append(sheet)
        block: _Block | None = None
        outside: list[Unplaced] = []
        found = False
        for r, values in rows:
            if header := self._header(values):
                block, found = header, True
                continue
            filled = [(c, v) for c, v in enumerate(values) if v is not None]
            lone = filled[0][1] if len(filled) == 1 and isinstance(filled[0][1], str) else None
            if lone is not None and _TITLE_RE.match(unicodedata.normalize("NFKC", lone).strip()):
                block = None  # the title of the next table ends this one
                continue
            if block is None or (lone is not None and _NOTE_RE.match(lone.strip())):
                reason = "表格之外的内容" if block is None else "表格下方的注释"
                outside.extend(Unplaced(sheet, a1(r, c), _text(v), reason) for c, v in filled)
                continue
            self._data_row(sheet, r, values, filled, block)
        if found:
            self.unplaced.extend(outside)
        elif outside:
            cells = len(outside)
            self.unplaced.append(Unplaced(sheet, "", f"{cells}个非空单元格", "此工作表没有找到复盘表格，未导入"))

    def _data_row(self, sheet: str, r: int, values: list[object], filled: list[tuple[int, object]],
                  block: _Block) -> None:
        got = {key: values[c] for c, key in block.columns.items() if c < len(values) and values[c] is not None}
        for c, v in filled:
            if c not in block.columns:
                header = block.headers.get(c)
                reason = f"标准表格没有「{header}」列" if header else "此列没有表头"
                self.unplaced.append(Unplaced(sheet, a1(r, c), _text(v), reason))
        if got:
            cols = {key: c for c, key in block.columns.items()}
            span = f"{a1(r, min(c for c, _ in filled))}:{a1(r, max(c for c, _ in filled))}"
            self.rows[block.table].append(_Row(sheet, r, got, cols, span))

    # -- building the retrospective
    def build(self, src: Path, dest: Path, lang: str) -> ImportReport:
        if not any(self.rows.values()):
            raise RetroxlError(f"{src}: none of the four retrospective tables was found in its "
                               f"{len(self.sheets)} sheet(s) (looked for headers such as 核心目标, 具体指标, "
                               "问题描述, 经验类别)")
        report = ImportReport(src, dest, Retrospective())
        self.report = report
        info: dict[str, object] = {}
        tables: dict[str, list[dict[str, object]]] = {t: [] for t in TABLES}
        for row in self.rows["goals"]:
            if not self._info(row, info):
                continue
            for entry in self._goals(row):
                self._place(tables, "goals", entry, row)
        for row in self.rows["indicators"]:
            self._place(tables, "indicators", self._indicator(row), row)
        for table in ("actions", "lessons"):
            for row in self.rows[table]:
                self._place(tables, table, {k: _entry(v) for k, v in row.values.items()}, row)
        report.retro = Retrospective(info=info, tables={k: v for k, v in tables.items() if v})
        self._check(report.retro, lang)
        sheets = {name: n for n, name in enumerate(self.sheets)}
        report.unplaced = sorted(self.unplaced, key=lambda u: (sheets.get(u.sheet, 0),
                                                               parse_ref(u.cell) if u.cell else (-1, -1)))
        report.findings = self.findings
        return report

    def _place(self, tables: dict[str, list[dict[str, object]]], table: str, entry: dict[str, object],
               row: _Row) -> None:
        carried = entry.pop("_carried", [])
        if not entry:
            return
        i = len(tables[table])
        tables[table].append(entry)
        self.report.placed.append(Placed(table, i, row.sheet, row.row + 1, row.span))
        self._cells.update({("t", table, i, key): (row.sheet, row.cell(key)) for key in entry if key in row.cols})
        for column, raw, cell in carried:
            self._typed[(table, i, column)] = (raw, row.sheet, cell)
            self._cells[("t", table, i, column)] = (row.sheet, cell)

    def _info(self, row: _Row, info: dict[str, object]) -> bool:
        """Take 活动名称/负责人/活动周期 from a 表1 row; False if the row is another campaign's."""
        values = row.values
        campaign = values.get("campaign")
        if campaign is not None and info.get("campaign") not in (None, _text(campaign)):
            self.unplaced.append(Unplaced(row.sheet, row.cell("campaign"), _text(campaign),
                                          "另一个活动：每个标准工作簿只放一个活动，请分开导入"))
            return False
        for key in ("campaign", "owner"):
            if values.get(key) is not None and key not in info:
                info[key] = _text(values[key])
                self.report.info[key] = row.where(key)
                self._cells[("f", key)] = (row.sheet, row.cell(key))
        if "period" in values and "start" not in info:
            period = parse_period(values["period"])
            if period.ok:
                info["start"], info["end"] = period.start, period.end
                self.report.info.update(start=row.where("period"), end=row.where("period"))
            else:
                self.unplaced.append(Unplaced(row.sheet, row.cell("period"), _text(values["period"]),
                                              f"活动周期无法识别：{period.reason}"))
        for key in ("start", "end", "review_date"):
            if key in values and key not in info:
                d = parse_date(values[key])
                if d is None:
                    self.unplaced.append(Unplaced(row.sheet, row.cell(key), _text(values[key]), "不是日期"))
                else:
                    info[key] = d
                    self.report.info[key] = row.where(key)
        if isinstance(info.get("start"), date) and isinstance(info.get("end"), date) and info["end"] < info["start"]:
            where = row.cell("period") if "period" in row.values else row.span
            self.unplaced.append(Unplaced(row.sheet, where, f"{info['start']} - {info['end']}",
                                          "结束日期早于开始日期，未导入活动日期"))
            del info["start"], info["end"]
        return True

    def _goals(self, row: _Row) -> list[dict[str, object]]:
        """One 表1 row → its goals, unpacking "a、b、c" with "x/y/z" into three rows."""
        values = {k: v for k, v in row.values.items() if k not in _INFO_KEYS}
        if not values:
            return []
        goal = values.get("goal")
        names = [n.strip() for n in _NAME_SEPARATORS_RE.split(goal) if n.strip()] if isinstance(goal, str) else [goal]
        parts = {k: _parts(values.get(k)) for k in ("target", "actual", "attainment")}
        counts = {len(p) for k, p in parts.items() if p and k != "attainment"}
        if len(names) > 1 and counts <= {len(names)}:
            n = len(names)
        elif counts <= {1}:
            n, names = 1, [goal]
        else:
            self.unplaced.append(Unplaced(row.sheet, row.cell("goal"), _text(goal),
                                          f"无法拆分：{len(names)}个目标，目标值/实际值分别有"
                                          f"{len(parts['target'])}/{len(parts['actual'])}项；已按原样放为一行"))
            n, names = 1, [goal]
            parts = {k: [(_entry(values[k]), parse_quantity(values[k]))] if k in values else []
                     for k in ("target", "actual", "attainment")}
        typed = parts["attainment"]
        if typed and len(typed) != n:
            self.unplaced.append(Unplaced(row.sheet, row.cell("attainment"), _text(values["attainment"]),
                                          f"达成率有{len(typed)}项，目标有{n}个，无法对应"))
            typed = []
        out = []
        for i in range(n):
            entry = {k: _entry(v) for k, v in values.items() if k not in ("goal", "target", "actual", "attainment")}
            if names[i] is not None:
                entry["goal"] = names[i]
            quantities = []
            for key in ("target", "actual"):
                if parts[key]:
                    entry[key], q = parts[key][i] if len(parts[key]) == n else parts[key][0]
                    quantities.append(q)
            entry.setdefault("unit", _unit(quantities))
            if entry["unit"] in ("", None):
                del entry["unit"]
            if typed:
                entry["_carried"] = [("attainment", typed[i][0], row.cell("attainment"))]
            out.append(entry)
        return out

    def _indicator(self, row: _Row) -> dict[str, object]:
        entry = {k: _entry(v) for k, v in row.values.items() if k not in _CARRIED}
        if isinstance(entry.get("type"), str):
            entry["type"] = self._choice("indicator_type", entry["type"])
        if "unit" not in entry:
            unit = _unit([parse_quantity(entry[k]) for k in ("target", "actual") if k in entry])
            if unit:
                entry["unit"] = unit
        entry["_carried"] = [(k, row.values[k], row.cell(k)) for k in _CARRIED if k in row.values]
        return entry

    def _choice(self, list_key: str, value: str) -> str:
        """A seed label such as 流量指标 → the list's 流量; anything else unchanged."""
        for items in self.tpl.lists[list_key].values():
            for item in items:
                if value.startswith(item) and value[len(item):] in _TYPE_SUFFIXES:
                    return item
        return value

    # -- hand-typed 达成率 / 环比
    def _check(self, retro: Retrospective, lang: str) -> None:
        """Check the hand-typed values with the validator's rules, on the rows as they were placed."""
        typed_rows = {t: [dict(r) for r in rows] for t, rows in retro.tables.items()}
        derived: dict[tuple[str, int], float] = {}
        for (table, i, column), (raw, _, _) in self._typed.items():
            entry = retro.tables[table][i]
            if column == "variance" and "previous" not in entry:
                previous = _previous_from_variance(entry.get("actual"), raw)
                if previous is not None:
                    entry["previous"] = typed_rows[table][i]["previous"] = previous
                    derived[(table, i)] = previous
                    continue  # the 环比 it shows is the typed one by construction: nothing to check
            typed_rows[table][i][column] = raw
        plan = plan_workbook(Retrospective(retro.info, typed_rows), template=self.tpl, lang=lang)
        issues = check(self.tpl, lang, plan.retro, plan.values)
        mismatched = {issue.where for issue in issues if issue.code == "R204"}
        for (table, i, column), (raw, sheet, cell) in self._typed.items():
            typed = parse_quantity(raw).value
            computed = as_float(plan.values.table(table, i, column))
            previous = derived.get((table, i)) if column == "variance" else None
            agrees = None if previous is not None or typed is None or computed is None else \
                ("t", table, i, column) not in mismatched
            self.report.carried.append(Carried(table, i, column, sheet, cell, _text(raw), typed, computed, agrees,
                                               previous))
        self.findings += [Finding(*self._cells[issue.where], issue.severity, issue.code, issue.message)
                          for issue in issues if issue.code in IMPORT_CODES and issue.where in self._cells]


def _previous_from_variance(actual: object, variance: object) -> float | None:
    """往期值 = actual ÷ (1 + 环比), to 6 significant digits; None when either is not a number."""
    a, v = parse_quantity(actual).value, parse_quantity(variance).value
    if a is None or v is None or 1 + v <= 0:
        return None
    return float(f"{a / (1 + v):.6g}")


def _parts(value: object) -> list[tuple[object, Quantity]]:
    """The entries of a cell that may pack several values, each with its parsed quantity."""
    if value is None:
        return []
    quantities = parse_quantities(value)
    if len(quantities) == 1:
        return [(_entry(value), quantities[0])]
    return [(q.text.strip(), q) for q in quantities]


def _unit(quantities: list[Quantity]) -> str:
    """The unit column's entry for values written as 120万次, 6.2% or 1:3.8."""
    for q in quantities:
        if q.kind == "percent":
            return "%"
        if q.kind == "ratio":
            return "1:x"
        if q.unit:
            return q.unit
    return ""


def _entry(value: object) -> object:
    """A cell value as an entry of the standard workbook (dates as dates, text as typed)."""
    return value.date() if isinstance(value, datetime) else value


def _text(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
