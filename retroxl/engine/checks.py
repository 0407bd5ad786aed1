"""The validation rules: what is wrong in a filled retrospective, pure (no I/O).

``check`` looks at the entries of a :class:`retroxl.model.Retrospective` and at the
values ``retroxl.compute.compute`` derived from them, and returns :class:`Issue`
items that name a cell by its template key, never by a sheet position: the caller
(``retroxl.validate``) knows where each key sits in a workbook.

Every rule has a stable code (``CODES``), a severity and a Chinese message. The
template and the values are used through their attributes only, so this module
imports nothing outside the engine (it runs inside Excel through xlwings too).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .metrics import as_float
from .numbers import EXCEL_ERRORS, parse_quantity
from .periods import parse_date
from .workdays import add_workdays

if TYPE_CHECKING:  # only for type hints: the engine imports nothing outside it at run time
    from ..compute import Values
    from ..model import Retrospective
    from ..template import Template

ERROR, WARNING, INFO = "error", "warning", "info"

# code → (severity, what the rule is about); the codes never change meaning.
CODES: dict[str, tuple[str, str]] = {
    "R001": (WARNING, "缺少标准工作表"),
    "R002": (INFO, "公式被改动，未重新写入"),
    "R003": (INFO, "表格尚未填写"),
    "R101": (ERROR, "需要数值的单元格不是数值"),
    "R102": (INFO, "文字数值已换算后参与计算"),
    "R103": (WARNING, "百分比或比例数值不合理"),
    "R104": (WARNING, "达成率超出合理范围"),
    "R105": (ERROR, "日期无法识别"),
    "R106": (ERROR, "选项不在下拉列表中"),
    "R107": (ERROR, "单元格是错误值"),
    "R108": (ERROR, "结束日期早于开始日期"),
    "R109": (INFO, "未填写结束日期"),
    "R201": (ERROR, "目标值缺失、为0或负数"),
    "R202": (ERROR, "实际值或往期值无法计算"),
    "R203": (WARNING, "成本类指标缺少方向"),
    "R204": (ERROR, "手填达成率或环比与计算值不符"),
    "R205": (INFO, "达成率或环比为手填数值"),
    "R301": (ERROR, "改进措施缺少做什么、谁来做或何时做"),
    "R302": (WARNING, "相对时限已换算为日期"),
    "R303": (WARNING, "完成时限不具体"),
    "R304": (WARNING, "改进措施已逾期"),
    "R401": (WARNING, "未达成的目标或指标没有对应问题"),
    "R402": (WARNING, "指标缺少数据来源"),
    "R403": (WARNING, "指标重复"),
    "R404": (INFO, "核心目标超过3项"),
    "R501": (ERROR, "投入为0却有收益"),
    "R502": (WARNING, "实际支出远超预算"),
    "R503": (ERROR, "金额为负数"),
}

TOLERANCE = 0.005            # a hand-typed 达成率 may be rounded to whole percents (126.7% → 127%)
OVERSPEND = 1.2              # 实际支出 above 120% of 预算 is "far above"
_COST_LIKE = re.compile(r"成本|费用|花费|支出|单价|获客|流失|投诉|退货|退款|超时|时长|差评|CP[CMAS]|CAC", re.I)
_CN_NUM = r"\d+|[零〇一二两三四五六七八九十百]+"
_RELATIVE = (
    (re.compile(rf"({_CN_NUM})\s*个?\s*工作日"), "workdays"),
    (re.compile(rf"({_CN_NUM})\s*(?:个)?\s*(?:自然)?[天日](?:内|之内|以内)"), "days"),
    (re.compile(rf"({_CN_NUM})\s*(?:个)?\s*(?:周|星期|礼拜)(?:内|之内|以内)?"), "weeks"),
    (re.compile(rf"({_CN_NUM})\s*个\s*月(?:内|之内|以内)?"), "months"),
    (re.compile(r"本周"), "this_week"),
    (re.compile(r"(?:本月|月)底|本月内"), "this_month"),
)
_PUNCT = re.compile(r"[\s（）()【】\[\]“”\"'‘’、,，。.:：;；/\\-]+")


@dataclass(frozen=True, slots=True)
class Issue:
    """One finding about a cell: ``where`` is ("t", table, row index, column), ("f", field) or ("s", sheet)."""

    where: tuple
    severity: str
    code: str
    message: str


def _issue(where: tuple, code: str, message: str) -> Issue:
    return Issue(where, CODES[code][0], code, message)


def blank(x: object) -> bool:
    return x is None or (isinstance(x, str) and not x.strip())


def shown(x: object) -> str:
    """A value as a person would recognise it in a message."""
    if isinstance(x, float) and x.is_integer():
        return str(int(x))
    if isinstance(x, (date, datetime)):
        return x.strftime("%Y-%m-%d")
    text = str(x).strip()
    return text if len(text) <= 30 else text[:30] + "…"


def pct(x: float) -> str:
    return f"{x * 100:.1f}".rstrip("0").rstrip(".") + "%"


def resolve_deadline(text: str, base: date | None) -> date | None | str:
    """A relative deadline (3个工作日内, 2周内, 本月底) as a date from ``base``.

    Returns a date, ``"no_base"`` when the text is relative but there is no date to
    count from, or None when the text is not a relative deadline (下次活动前).
    """
    for pattern, kind in _RELATIVE:
        m = pattern.search(text)
        if not m:
            continue
        if base is None:
            return "no_base"
        n = 0
        if m.groups():
            q = parse_quantity(m.group(1))
            if not q.ok or q.value is None or q.value > 3660:
                return None
            n = int(q.value)
        try:
            return _relative_date(kind, base, n)
        except (OverflowError, ValueError):  # beyond year 9999
            return None
    return None


def _relative_date(kind: str, base: date, n: int) -> date:
    if kind == "workdays":
        return add_workdays(base, n)
    if kind == "days":
        return base + timedelta(days=n)
    if kind == "weeks":
        return base + timedelta(weeks=n)
    if kind == "months":
        month = base.month - 1 + n
        year, month = base.year + month // 12, month % 12 + 1
        return date(year, month, min(base.day, calendar.monthrange(year, month)[1]))
    if kind == "this_week":
        return base + timedelta(days=max(4 - base.weekday(), 0))
    return date(base.year, base.month, calendar.monthrange(base.year, base.month)[1])


def _norm(text: object) -> str:
    return _PUNCT.sub("", str(text or "")).lower()


def _covers(problem_text: str, name: str, attainment: float) -> bool:
    """Whether a 表3 problem (description + root cause) is about a goal or indicator."""
    name = _norm(name)
    if not name:
        return False
    if name in problem_text or abs(attainment) < 1e15 and f"{round(attainment * 100)}%" in problem_text:
        return True
    return len(name) >= 3 and any(name[i:i + 3] in problem_text for i in range(len(name) - 2))


class _Checker:
    def __init__(self, template: Template, lang: str, retro: Retrospective, values: Values, today: date) -> None:
        self.tpl, self.lang, self.retro, self.values, self.today = template, lang, retro, values, today
        self.out: list[Issue] = []
        info = retro.info
        self.review = parse_date(info.get("review_date"))
        self.end = parse_date(info.get("end"))
        self.units = self.choices("unit") if "unit" in template.lists else []   # [0] is %, [8] is 1:x
        self.checked_units = {self.units[k] for k in (0, 8) if k < len(self.units)}
        self._filled: dict[str, list[bool]] = {}

    def add(self, where: tuple, code: str, message: str) -> None:
        self.out.append(_issue(where, code, message))

    def header(self, table: Any, key: str) -> str:
        return table.column(key).header["zh"]

    def choices(self, list_key: str) -> list[str]:
        return self.tpl.lists[list_key][self.lang]

    # ------------------------------------------------------------ run
    def run(self) -> list[Issue]:
        self.info()
        for sheet in self.tpl.sheets:
            if sheet.kind not in ("table", "costs"):
                continue
            for table in sheet.tables:
                plan = self.plan(table)
                rows = self.retro.rows(table.key)
                for i, p in self.suspects(table, plan):
                    self.entry(table.key, i, rows[i], plan[p])
                if not any(self.filled_rows(table)) and sheet.kind == "table":
                    self.add(("s", sheet.key), "R003", f"{sheet.name['zh']}尚未填写")
        self.metrics("goals")
        self.metrics("indicators")
        self.actions()
        self.cross()
        self.costs()
        return self.out

    def filled_rows(self, table: Any) -> list[bool]:
        """Per row of a table: whether any entry (a column that is not computed) is filled."""
        if table.key not in self._filled:
            rows = self.retro.rows(table.key)
            flags = [False] * len(rows)
            for c in table.columns:
                if c.computed:
                    continue
                left = [i for i, f in enumerate(flags) if not f]   # rows with nothing found yet
                if not left:
                    break
                for i in left:
                    v = rows[i].get(c.key)
                    flags[i] = v is not None and not (isinstance(v, str) and not v.strip())
            self._filled[table.key] = flags
        return self._filled[table.key]

    def column(self, table: str, key: str, n: int) -> list:
        """A computed column's values (row by row when the values hold no columns)."""
        values = getattr(self.values, "columns", {}).get((table, key))
        if values is None or len(values) < n:
            return [self.values.table(table, i, key) for i in range(n)]
        return values

    def suspects(self, table: Any, plan: list[tuple]) -> list[tuple[int, int]]:
        """(row, plan index) of every entry of a filled row that :meth:`entry` may flag, in row order.

        Each column is screened at once for what cannot be wrong (a plain number, a
        listed choice, a date, text that is no error value); the rest is checked cell by cell.
        """
        rows, filled = self.retro.rows(table.key), self.filled_rows(table)
        units = [r.get("unit") for r in rows]
        found: list[tuple[int, int]] = []
        for p, (key, ctype, _, choices, _) in enumerate(plan):
            col = [r.get(key) for r in rows]
            if ctype == "money":
                ok = [type(v) is float and v >= 0 for v in col]
            elif ctype == "number":
                ok = [type(v) is float and u not in self.checked_units for v, u in zip(col, units)]
            elif ctype in ("percent", "ratio"):
                ok = [False] * len(col)
            elif ctype == "date":
                ok = [isinstance(v, (date, datetime)) for v in col]
            elif choices is not None:
                listed = set(choices)
                ok = [type(v) is str and v.strip() in listed for v in col]
            else:
                ok = [not isinstance(v, str) or v.strip().upper() not in EXCEL_ERRORS for v in col]
            found += [(i, p) for i, (v, good, f) in enumerate(zip(col, ok, filled))
                      if f and not good and v is not None and v != ""]
        found.sort()
        return found

    def plan(self, table: Any) -> list[tuple]:
        """(key, type, header, choices of a strict list or None, number column behind it) per entry column."""
        twins = {c.formula.args.get("x"): c.key for c in table.columns
                 if c.formula is not None and c.formula.rule == "number"}
        return [(c.key, c.type, c.header["zh"],
                 self.choices(c.list) if c.type == "choice" and c.strict and c.list else None, twins.get(c.key))
                for c in table.columns if not c.computed]

    def has(self, table_key: str) -> Any:
        try:
            return self.tpl.table(table_key)[1]
        except KeyError:
            return None

    # ------------------------------------------------------------ cells by type
    def info(self) -> None:
        if not self.tpl.has("info"):
            return
        dates = {}
        for f in self.tpl.sheet("info").fields:
            value = self.retro.info.get(f.key)
            if f.type == "date" and not blank(value):
                d = parse_date(value)
                if d is None:
                    self.add(("f", f.key), "R105", f"{f.label['zh']}“{shown(value)}”不是日期，请填写如 2024-06-15")
                dates[f.key] = d
            if isinstance(value, str) and value.strip() in EXCEL_ERRORS:
                self.add(("f", f.key), "R107", f"{f.label['zh']}是错误值 {value.strip()}")
        if dates.get("start") and dates.get("end") and dates["end"] < dates["start"]:
            self.add(("f", "end"), "R108", f"结束日期 {shown(dates['end'])} 早于开始日期 {shown(dates['start'])}")
        if blank(self.retro.info.get("end")) and any(f.key == "end" for f in self.tpl.sheet("info").fields):
            self.add(("f", "end"), "R109", "未填写结束日期：六步流程的截止日期无法计算")

    def entry(self, table: str, i: int, row: dict, plan_item: tuple) -> None:
        key, ctype, head, choices, twin = plan_item
        value = row.get(key)
        if value is None or value == "":
            return
        if isinstance(value, float) and ctype in ("number", "money"):   # a plain number
            if value < 0 and ctype == "money" or ctype == "number" and row.get("unit") in self.checked_units:
                self.number_entry(table, i, key, ctype, head, row, value, twin)
            return
        if isinstance(value, str):
            if not value.strip():
                return
            if value.strip().upper() in EXCEL_ERRORS:
                self.add(("t", table, i, key), "R107", f"{head}是错误值 {value.strip()}，请改为实际内容")
                return
        if ctype in ("number", "money", "percent", "ratio"):
            self.number_entry(table, i, key, ctype, head, row, value, twin)
        elif ctype == "date" and key != "deadline" and parse_date(value) is None:
            self.add(("t", table, i, key), "R105", f"{head}“{shown(value)}”不是日期，请填写如 2024-06-15")
        elif choices is not None and str(value).strip() not in choices:
            self.add(("t", table, i, key), "R106", f"{head}“{shown(value)}”不在选项中，请选择：{'/'.join(choices)}")

    def number_entry(self, table: str, i: int, key: str, ctype: str, head: str, row: dict, value: object,
                     twin: str | None) -> None:
        where = ("t", table, i, key)
        if not isinstance(value, (str, int, float, date)):   # a link to a named cell (表2 ROI ← 成本收益)
            return
        if isinstance(value, (bool, date)):
            self.add(where, "R101", f"{head}“{shown(value)}”不是数值")
            return
        if isinstance(value, str):
            q = parse_quantity(value)
            if twin is None:        # no number column behind it: the formulas only see real numbers
                hint = f"，请填写数值 {shown(q.value)}" if q.ok else ""
                self.add(where, "R101", f"{head}“{shown(value)}”是文字，公式不会计入{hint}")
            elif not q.ok:
                self.add(where, "R101", f"{head}“{shown(value)}”不是数值（{q.reason}）")
            else:
                self.add(where, "R102", f"{head}“{shown(value)}”按 {shown(q.value)} 计算")
            value = q.value
        v = as_float(value)
        if v is None:
            return
        if ctype == "money" and v < 0:
            self.add(where, "R503", f"{head}为负数 {shown(v)}")
        unit = row.get("unit")
        if unit and ctype == "number" and self.units:
            if unit == self.units[0] and abs(v) >= 1.5:
                self.add(where, "R103", f"单位为%，{head} {shown(v)} 即 {pct(v)}；是否应填 {shown(v)}%？")
            elif len(self.units) > 8 and unit == self.units[8] and v <= 0:
                self.add(where, "R103", f"单位为1:x，{head}必须大于0")

    # ------------------------------------------------------------ 表1 / 表2
    def metrics(self, key: str) -> None:
        table = self.has(key)
        if table is None:
            return
        cols = {c.key for c in table.columns}
        rows = self.retro.rows(key)
        n = len(rows)
        v = {c: self.column(key, c, n) for c in ("target_n", "actual_n", "attainment", "previous_n", "variance")
             if c in cols}
        lower = self.choices("direction")[1] if "direction" in self.tpl.lists else None
        # A row of positive numbers, a direction, an attainment up to 1000% and nothing typed over the formulas
        # cannot be flagged here: screened at once, the rest goes row by row.
        inf = float("inf")
        targets, actuals = v.get("target_n", [None] * n), v.get("actual_n", [None] * n)
        previous, attained = v.get("previous_n", [1.0] * n), v.get("attainment", [1.0] * n)
        quiet = [type(t) is float and 0 < t < inf and type(a) is float and 0 < a < inf and type(p) is float
                 and 0 < p < inf and type(att) is float and att <= 10 and type(d) is str and d.strip() != ""
                 and r.get("attainment") is None and r.get("variance") is None
                 for t, a, p, att, d, r in zip(targets, actuals, previous, attained,
                                               (r.get("direction") for r in rows), rows)]
        for i, (row, filled, calm) in enumerate(zip(rows, self.filled_rows(table), quiet)):
            if filled and not calm:
                self.metric_row(table, key, i, row, cols, v, lower)

    def metric_row(self, table: Any, key: str, i: int, row: dict, cols: set[str], v: dict[str, list],
                   lower: str | None) -> None:
        target = v["target_n"][i] if "target_n" in cols else None
        actual = v["actual_n"][i] if "actual_n" in cols else None
        where = ("t", key, i, "target")
        has_actual = as_float(actual) is not None
        if "target" in cols and has_actual:
            if blank(row.get("target")):
                self.add(where, "R201", f"有实际值但缺少{self.header(table, 'target')}，无法计算达成率")
            elif as_float(target) is not None and as_float(target) <= 0:
                self.add(where, "R201", f"{self.header(table, 'target')}为 {shown(target)}，必须大于0才能计算达成率")
        direction = row.get("direction")
        if "direction" in cols and lower and str(direction or "").strip() == lower and has_actual \
                and as_float(actual) <= 0:
            self.add(("t", key, i, "actual"), "R202", "方向为越低越好时实际值必须大于0")
        previous = v["previous_n"][i] if "previous_n" in cols else None
        if as_float(previous) is not None and as_float(previous) <= 0:
            self.add(("t", key, i, "previous"), "R202", f"往期值为 {shown(previous)}，必须大于0才能计算环比")
        if "direction" in cols and blank(direction) and self.cost_like(key, row):
            self.add(("t", key, i, "direction"), "R203", "成本类指标请填写方向（越低越好或越高越好），否则按越高越好计算")
        for col in ("attainment", "variance"):
            if col in cols:
                self.typed(table, i, col, row.get(col), v[col][i])
        att = as_float(v["attainment"][i]) if "attainment" in cols else None
        if att is not None and att > 10:
            self.add(("t", key, i, "attainment"), "R104",
                     f"达成率 {pct(att)} 超过1000%，请检查目标值与实际值的单位和数量级")

    def cost_like(self, key: str, row: dict) -> bool:
        if "indicator_type" in self.tpl.lists and row.get("type") == self.choices("indicator_type")[2]:
            return True
        name = row.get("indicator") if key == "indicators" else row.get("goal")
        return bool(_COST_LIKE.search(str(name or "")))

    def typed(self, table: Any, i: int, col: str, typed: object, computed: object) -> None:
        """A 达成率/环比 typed over its formula: flag it when it disagrees with the computed one."""
        if blank(typed):
            return
        where = ("t", table.key, i, col)
        head = self.header(table, col)
        q = parse_quantity(typed)
        value = q.value
        c = as_float(computed)
        if value is None:
            self.add(where, "R204", f"手填{head}“{shown(typed)}”不是数值，应为公式计算的结果")
        elif c is None:
            self.add(where, "R205", f"{head}为手填数值 {pct(value)}，无法与计算值核对（缺少目标值或实际值）")
        elif abs(value - c) > TOLERANCE + 1e-9:
            self.add(where, "R204", f"手填{head} {pct(value)} 与计算值 {pct(c)} 不符")
        else:
            self.add(where, "R205", f"{head}为手填数值 {pct(value)}，不会随数据更新；建议恢复公式")

    # ------------------------------------------------------------ 表3
    def actions(self) -> None:
        table = self.has("actions")
        if table is None:
            return
        cols = {c.key for c in table.columns}
        done = self.choices("status")[2] if "status" in self.tpl.lists else None
        base = self.review or self.end
        base_name = "复盘日期" if self.review else "结束日期"
        for i, (row, filled) in enumerate(zip(self.retro.rows("actions"), self.filled_rows(table))):
            if not filled:
                continue
            for key, what in (("measure", "做什么"), ("owner", "谁来做"), ("deadline", "何时做")):
                if key in cols and blank(row.get(key)):
                    self.add(("t", "actions", i, key), "R301",
                             f"缺少{self.header(table, key)}（可落地性：改进措施要写明{what}）")
            deadline = row.get("deadline")
            if "deadline" not in cols or blank(deadline):
                continue
            where = ("t", "actions", i, "deadline")
            due = parse_date(deadline)
            if due is None and isinstance(deadline, str):
                resolved = resolve_deadline(deadline, base)
                if isinstance(resolved, date):
                    due = resolved
                    self.add(where, "R302", f"相对时限“{shown(deadline)}”按{base_name} {shown(base)} 计为 "
                                            f"{shown(due)}，建议直接填写日期")
                elif resolved == "no_base":
                    self.add(where, "R303", f"相对时限“{shown(deadline)}”缺少复盘日期或结束日期，无法换算为日期")
                else:
                    self.add(where, "R303", f"完成时限“{shown(deadline)}”不具体，请填写日期")
            elif due is None:
                self.add(where, "R105", f"完成时限“{shown(deadline)}”不是日期")
            status = row.get("status")
            if due is not None and due < self.today and (done is None or str(status or "").strip() != done):
                self.add(where, "R304", f"完成时限 {shown(due)} 已过，状态仍为“{shown(status or '未填写')}”")

    # ------------------------------------------------------------ cross-sheet
    def cross(self) -> None:
        actions = self.retro.rows("actions")
        problems = [_norm(r.get("problem")) + _norm(r.get("root_cause")) for r in actions
                    if not blank(r.get("problem"))]
        for key, name_col in (("goals", "goal"), ("indicators", "indicator")):
            table = self.has(key)
            if table is None:
                continue
            cols = {c.key for c in table.columns}
            seen: dict[str, int] = {}
            names = []
            rows = self.retro.rows(key)
            attained = self.column(key, "attainment", len(rows)) if "attainment" in cols else [None] * len(rows)
            for i, (row, filled, att) in enumerate(zip(rows, self.filled_rows(table), attained)):
                if not filled:
                    continue
                name = row.get(name_col)
                names.append(i)
                att = att if type(att) is float and att == att and abs(att) != float("inf") else as_float(att)
                if att is not None and att < 1 and not any(_covers(p, str(name or ""), att) for p in problems):
                    self.add(("t", key, i, "attainment"), "R401",
                             f"“{shown(name or '')}”达成率 {pct(att)} 未达标，表3 中没有对应的问题诊断")
                if key == "indicators" and "source" in cols and blank(row.get("source")) \
                        and not (blank(row.get("target")) and blank(row.get("actual"))):
                    self.add(("t", key, i, "source"), "R402", "缺少数据来源（数据客观性：每个数据都要有来源记录）")
                norm = _norm(name)
                if norm:
                    if norm in seen:
                        self.add(("t", key, i, name_col), "R403",
                                 f"“{shown(name)}”与第 {seen[norm] + 1} 行重复")
                    else:
                        seen[norm] = i
            if key == "goals" and len(names) > 3:
                self.add(("t", key, names[3], name_col), "R404", f"核心目标有 {len(names)} 项，模板建议聚焦1-3项")

    # ------------------------------------------------------------ 成本收益
    def costs(self) -> None:
        costs, returns = self.has("costs"), self.has("returns")
        if costs is not None:
            for i, row in enumerate(self.retro.rows("costs")):
                rate = as_float(self.values.table("costs", i, "budget_rate"))
                if rate is not None and rate > OVERSPEND:
                    self.add(("t", "costs", i, "spent"), "R502",
                             f"实际支出为预算的 {pct(rate)}，超支 {pct(rate - 1)}")
        if returns is None or costs is None:
            return
        total_return = as_float(self.values.field("return_total"))
        total_cost = as_float(self.values.field("cost_total"))
        if total_return and total_return > 0 and (total_cost is None or total_cost <= 0):
            self.add(("f", "cost_total"), "R501", "已填写收益但投入合计为0或空，ROI 无法计算；请填写实际支出")


def check(template: Template, lang: str, retro: Retrospective, values: Values, today: date | None = None) -> list[Issue]:
    """Every finding about ``retro`` (entries) and ``values`` (what its formulas compute)."""
    return _Checker(template, lang, retro, values, today or date.today()).run()
