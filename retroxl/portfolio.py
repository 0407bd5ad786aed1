"""``retroxl portfolio``: one workbook across every archived campaign, for the department head.

Sheets: 概览 (key figures), 活动汇总 (each campaign with its goals' 达成率), 目标达成,
指标趋势 + 趋势图 (each indicator across campaigns, line charts), 改进跟踪 (every open
improvement with owner, deadline and a live 逾期 flag: did last campaign's 改进措施
get done?), 重复根因 (the same root cause in several campaigns) and 经验库 (every
lesson, an Excel Table to filter by 可复用场景). 达成率, 环比, ROI and 逾期 are native
formulas rendered from the template's rules, each with its value cached.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .archive import open as open_archive
from .compute import template_context
from .errors import RetroxlError
from .files import atomic_output
from .layout import Layout, a1, make_layout, quote_sheet
from .rules import evaluate
from .template import FormulaRule, Template, load_template

if TYPE_CHECKING:
    import pandas as pd

MAX_CHARTS = 24        # trend charts: the most widely tracked indicators
CHART_POINTS = 40      # the latest campaigns on each trend line
HEADER_ROW = 2         # title, a note, then the header of every table sheet
MAX_ROWS = 1_048_576 - HEADER_ROW - 1   # data rows one Excel sheet holds below our header
_CAUSE_SPLIT = re.compile(r"[，,；;、。\n/／]+")

TEXTS = {
    "zh": {
        "title": "活动复盘汇总",
        "note": "由 retroxl portfolio 从复盘库 {db} 生成于 {today}；达成率、环比、ROI、逾期为公式。",
        "overview": "概览", "campaigns": "活动汇总", "goals": "目标达成", "trends": "指标趋势", "charts": "趋势图",
        "actions": "改进跟踪", "causes": "重复根因", "cause_detail": "根因明细", "lessons": "经验库",
        "kpi_campaigns": "活动数", "kpi_goals": "目标数", "kpi_attainment": "平均目标达成率",
        "kpi_open": "未完成改进", "kpi_overdue": "逾期改进", "kpi_causes": "重复根因",
        "id": "编号", "campaign": "活动名称", "type": "活动类型", "start": "开始日期", "end": "结束日期",
        "owner": "负责人", "goal_count": "目标数", "attained": "达成目标数", "avg_attainment": "平均达成率",
        "cost": "投入合计", "returns": "收益合计", "roi": "ROI", "file": "文件",
        "goal": "核心目标", "unit": "单位", "direction": "方向", "target": "目标值", "actual": "实际值",
        "attainment": "达成率", "indicator": "具体指标", "previous": "往期值", "variance": "环比变化",
        "problem": "问题描述", "impact": "影响程度", "root_cause": "根因分析", "measure": "改进措施",
        "action_owner": "责任人", "deadline": "完成时限", "status": "状态", "overdue": "逾期",
        "later": "此后活动数", "cause": "根因", "cause_campaigns": "出现活动数", "cause_list": "涉及活动",
        "latest": "最近一次", "category": "经验类别", "content": "具体内容", "scenario": "可复用场景",
        "standard": "标准化建议", "chart_title": "{name}（{unit}）", "more_charts": "另有 {n} 个指标见“指标趋势”表",
        "no_charts": "尚无在两次以上活动中出现的指标", "series_actual": "实际值", "series_target": "目标值",
        "recent": "最近 {n} 个活动的平均达成率",
    },
    "en": {
        "title": "Campaign review portfolio", "note": "Made by retroxl portfolio from archive {db} on {today}; "
        "attainment, change, ROI and overdue are formulas.",
        "overview": "Overview", "campaigns": "Campaigns", "goals": "Goals", "trends": "Indicator trends",
        "charts": "Trend charts", "actions": "Open actions", "causes": "Recurring causes",
        "cause_detail": "Cause detail", "lessons": "Lessons",
        "kpi_campaigns": "Campaigns", "kpi_goals": "Goals", "kpi_attainment": "Average attainment",
        "kpi_open": "Open actions", "kpi_overdue": "Overdue actions", "kpi_causes": "Recurring causes",
        "id": "ID", "campaign": "Campaign", "type": "Type", "start": "Start", "end": "End", "owner": "Owner",
        "goal_count": "Goals", "attained": "Goals attained", "avg_attainment": "Average attainment",
        "cost": "Total cost", "returns": "Total returns", "roi": "ROI", "file": "File",
        "goal": "Goal", "unit": "Unit", "direction": "Direction", "target": "Target", "actual": "Actual",
        "attainment": "Attainment", "indicator": "Indicator", "previous": "Previous", "variance": "Change",
        "problem": "Problem", "impact": "Impact", "root_cause": "Root cause", "measure": "Improvement",
        "action_owner": "Owner", "deadline": "Deadline", "status": "Status", "overdue": "Overdue",
        "later": "Campaigns since", "cause": "Root cause", "cause_campaigns": "Campaigns",
        "cause_list": "Which campaigns", "latest": "Latest", "category": "Category", "content": "Lesson",
        "scenario": "Where to reuse", "standard": "Standard", "chart_title": "{name} ({unit})",
        "more_charts": "{n} more indicators in the Indicator trends sheet",
        "no_charts": "No indicator appears in two or more campaigns yet", "series_actual": "Actual",
        "series_target": "Target", "recent": "Average attainment of the latest {n} campaigns",
    },
}

HEADER_BG = "#1F4E78"
FONT = {"zh": "Microsoft YaHei", "en": "Calibri"}


@dataclass
class PortfolioResult:
    path: Path
    campaigns: int
    goals: int
    open_actions: int
    recurring_causes: int
    lessons: int
    charts: int

    def summary(self) -> str:
        return (f"wrote {self.path}: {self.campaigns} campaigns, {self.goals} goals, {self.open_actions} open actions, "
                f"{self.recurring_causes} recurring root causes, {self.lessons} lessons, {self.charts} trend charts")


def root_causes(text: object) -> list[str]:
    """The separate causes in a 根因分析 cell: 人力配置不足，话术不统一 → two causes."""
    parts = (unicodedata.normalize("NFKC", p).strip() for p in _CAUSE_SPLIT.split(str(text or "")))
    return [p for p in parts if len(p) >= 2]


def _load(db: str | Path, since: date | None) -> dict[str, pd.DataFrame]:
    # campaigns that ended on or after ``since`` (a campaign without dates always counts)
    where = "WHERE COALESCE(c.\"end\", c.start, '9999') >= ?"
    p = ((since or date.min).isoformat(),)
    with open_archive(db) as a:
        c = a.query('SELECT id, campaign, campaign_type, start, "end", owner, file, cost_total, return_total '
                    f'FROM campaigns AS c {where} ORDER BY COALESCE(start, "end", \'\'), campaign, id', p)
        order = "ORDER BY COALESCE(c.start, c.\"end\", ''), c.campaign, c.id, t.row"
        join = f"JOIN campaigns AS c ON c.id = t.campaign_id {where}"
        return {
            "campaigns": c,
            "goals": a.query(f'SELECT c.id, c.campaign, c."end", t.goal, t.unit, t.direction, t.target_n, t.actual_n '
                             f"FROM goals AS t {join} {order}", p),
            "indicators": a.query(f'SELECT t.indicator, t.unit, t.direction, c.campaign, c."end", t.target_n, '
                                  f"t.actual_n, t.previous_n FROM indicators AS t {join} AND t.indicator IS NOT NULL "
                                  f"{order}", p),
            "actions": a.query(f'SELECT c.id, c.campaign, c."end" AS campaign_end, t.problem, t.impact, t.root_cause, '
                               f"t.measure, t.owner, t.deadline, t.deadline_text, t.status FROM actions AS t {join} "
                               f"{order}", p),
            "lessons": a.query(f'SELECT t.category, t.content, t.scenario, t.standard, c.campaign, c."end", c.owner '
                               f"FROM lessons AS t {join} {order}", p),
        }


def build_portfolio(db: str | Path, out: str | Path, *, lang: str = "zh", force: bool = False,
                    since: date | None = None, today: date | None = None) -> PortfolioResult:
    """Write the cross-campaign workbook ``out`` from the archive ``db``.

    ``since`` keeps the campaigns that ended on or after that date (one sheet holds
    at most :data:`MAX_ROWS` rows, so a very large archive is summarised by period).

    >>> build_portfolio("复盘库.db", "汇总.xlsx").summary()                    # doctest: +SKIP
    """
    out = Path(out)
    if out.suffix.lower() != ".xlsx":
        raise RetroxlError(f"{out}: the portfolio must be an .xlsx file")
    if lang not in TEXTS:
        raise RetroxlError(f"unknown language {lang!r} (one of {', '.join(TEXTS)})")
    data = _load(db, since)
    if data["campaigns"].empty:
        raise RetroxlError(f"{db} holds no campaigns" + (f" that ended on or after {since}" if since else
                                                         " yet (run retroxl collect first)"))
    for key, df in data.items():
        if len(df) > MAX_ROWS:
            raise RetroxlError(f"{len(df):,} rows of {key} do not fit one Excel sheet ({MAX_ROWS:,}); "
                               "choose a later --since date")
    with atomic_output(out, force=force) as tmp:
        result = _Writer(data, lang, today or date.today(), Path(db)).write(tmp)
    result.path = out
    return result


def _value(v: object) -> object:
    """A DataFrame cell as a plain value: NaN/None → None, numpy numbers → Python numbers."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v.item() if hasattr(v, "item") else v


def _day(v: object) -> date | None:
    v = _value(v)
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    return date.fromisoformat(v) if isinstance(v, str) and v else None


class _Writer:
    def __init__(self, data: dict[str, pd.DataFrame], lang: str, today: date, db: Path) -> None:
        self.data, self.lang, self.today, self.db = data, lang, today, db
        self.t = TEXTS[lang]
        self.tpl: Template = load_template()
        self.layout: Layout = make_layout(self.tpl, lang)
        self.ctx = template_context(self.tpl, lang, today)
        # a goal's or indicator's number shown as the workbook shows it for its unit
        self.unit_formats = {"%": self.tpl.styles["percent_value"]["num_format"],
                             "1:x": self.tpl.styles["ratio_value"]["num_format"]}

    # ------------------------------------------------------------ helpers
    def formula(self, rule: str, cells: dict[str, str], values: dict[str, object]) -> tuple[str, object]:
        """Formula text from the template's rule (cells: placeholder → A1) and its cached value."""
        text = self.layout.render(FormulaRule(rule, {k: f"@{k}" for k in cells}), lambda ref: cells[ref[1:]])
        return text, evaluate(self.ctx, rule, values)

    def choice(self, list_key: str, v: object) -> object:
        return self.tpl.translate(list_key, _value(v), self.lang)

    def fmt(self, **props) -> object:
        key = tuple(sorted(props.items()))
        if key not in self._formats:
            self._formats[key] = self.wb.add_format({"font_name": FONT[self.lang], "font_size": 10,
                                                     "valign": "top", **props})
        return self._formats[key]

    def number_format(self, unit: object) -> object:
        return self.fmt(num_format=self.unit_formats.get(str(_value(unit) or ""), self.tpl.formats["number"]))

    def put(self, ws, row: int, col: int, value: object, fmt: object = None) -> None:
        """User data as data: text always as text (never a formula), numbers, dates."""
        value = _value(value)
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, date):
            ws.write_datetime(row, col, value, self.date_fmt)
        else:
            self.write_value(ws, row, col, value, fmt)

    def sheet(self, key: str, headers: list[str], widths: list[float], rows: int, table: str):
        """A sheet with a title, a note and an Excel Table of ``rows`` data rows (autofilter on)."""
        ws = self.wb.add_worksheet(self.t[key])
        ws.set_row(0, 24)
        ws.write_string(0, 0, self.t[key], self.title_fmt)
        ws.write_string(1, 0, self.note, self.note_fmt)
        ws.add_table(HEADER_ROW, 0, HEADER_ROW + max(rows, 1), len(headers) - 1,
                     {"name": table, "style": "Table Style Light 9", "autofilter": True,
                      "columns": [{"header": h, "header_format": self.header_fmt} for h in headers]})
        for i, w in enumerate(widths):
            ws.set_column(i, i, w)
        ws.freeze_panes(HEADER_ROW + 1, 0)
        ws.set_row(HEADER_ROW, 28)
        _print_setup(ws, HEADER_ROW)
        return ws

    def conditional_attainment(self, ws, col: int, rows: int) -> None:
        if rows == 0:
            return
        first, last = HEADER_ROW + 1, HEADER_ROW + rows
        for rule, style in (("cf_below_target", "bad"), ("cf_meets_target", "good")):
            criteria = self.layout.render(FormulaRule(rule, {"x": "@x"}), lambda _: "$" + a1(first, col))
            s = self.tpl.styles[style]
            ws.conditional_format(first, col, last, col, {"type": "formula", "criteria": criteria,
                                                          "format": self.wb.add_format({"bg_color": s["bg"],
                                                                                        "font_color": s["font"]})})

    # ------------------------------------------------------------ the workbook
    def write(self, path: Path) -> PortfolioResult:
        import xlsxwriter

        from .books.xlsx_writer import write_value

        self.write_value = write_value   # for put(): imported here, not at the top (collect workers import TEXTS)
        self.wb = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                                  "strings_to_urls": False})
        self.wb.set_properties({"title": self.t["title"], "created": datetime(2024, 1, 1)})
        self._formats: dict = {}
        self.title_fmt = self.fmt(bold=True, font_size=16, font_color=HEADER_BG)
        self.note_fmt = self.fmt(italic=True, font_color="#7F7F7F")
        self.header_fmt = self.fmt(bold=True, font_color="white", bg_color=HEADER_BG, text_wrap=True)
        self.date_fmt = self.fmt(num_format=self.tpl.formats["date"])
        self.pct_fmt = self.fmt(num_format=self.tpl.formats["percent"], bg_color="#F2F2F2")
        self.wrap_fmt = self.fmt(text_wrap=True)
        self.note = self.t["note"].format(db=self.db.name, today=self.today.isoformat())
        overview = self.wb.add_worksheet(self.t["overview"])
        self.goal_values = [self.attainment_value(g) for g in self.data["goals"].itertuples(index=False)]
        n_campaigns = self.campaigns()
        n_goals = self.goals()
        charts = self.trends()
        n_open, n_overdue = self.actions()
        n_causes = self.causes()
        n_lessons = self.lessons()
        self.overview(overview, n_campaigns, n_goals, n_open, n_overdue, n_causes)
        self.wb.close()
        return PortfolioResult(path, n_campaigns, n_goals, n_open, n_causes, n_lessons, charts)

    def ref(self, key: str, col: int, rows: int) -> str:
        """An absolute range over data rows of a column of one of our sheets."""
        first = HEADER_ROW + 1
        return f"{quote_sheet(self.t[key])}!{a1(first, col, True)}:{a1(first + max(rows, 1) - 1, col, True)}"

    def campaigns(self) -> int:
        c = self.data["campaigns"]
        t = self.t
        heads = [t["id"], t["campaign"], t["type"], t["start"], t["end"], t["owner"], t["goal_count"], t["attained"],
                 t["avg_attainment"], t["cost"], t["returns"], t["roi"], t["file"]]
        ws = self.sheet("campaigns", heads, [6, 28, 10, 11, 11, 10, 8, 10, 11, 14, 14, 8, 50], len(c),
                        "tbl_p_campaigns")
        goals = self.data["goals"]
        n_goals = len(goals)
        ids, attain = self.ref("goals", 0, n_goals), self.ref("goals", 8, n_goals)
        by_id: dict[int, list[object]] = {}
        for cid, value in zip(goals["id"], self.goal_values, strict=True):
            by_id.setdefault(cid, []).append(value)
        money = self.fmt(num_format="#,##0")
        for i, r in enumerate(c.itertuples(index=False)):
            row = HEADER_ROW + 1 + i
            for col, v in enumerate((r.id, r.campaign, r.campaign_type, _day(r.start), _day(r.end), r.owner)):
                self.put(ws, row, col, v)
            values = by_id.get(r.id, [])
            nums = [v for v in values if isinstance(v, (int, float))]
            me = a1(row, 0)
            ws.write_formula(row, 6, f"=COUNTIF({ids},{me})", None, len(values))
            ws.write_formula(row, 7, f'=COUNTIFS({ids},{me},{attain},">=1")', None, sum(v >= 1 for v in nums))
            ws.write_formula(row, 8, f'=IFERROR(AVERAGEIF({ids},{me},{attain}),"")', self.pct_fmt,
                             sum(nums) / len(nums) if nums else "")
            self.put(ws, row, 9, r.cost_total, money)
            self.put(ws, row, 10, r.return_total, money)
            text, value = self.formula("roi", {"returns": a1(row, 10), "cost": a1(row, 9)},
                                       {"returns": _value(r.return_total) or "", "cost": _value(r.cost_total) or ""})
            ws.write_formula(row, 11, text, self.fmt(num_format=self.tpl.formats["ratio"], bg_color="#F2F2F2"), value)
            self.put(ws, row, 12, r.file)
        self.conditional_attainment(ws, 8, len(c))
        return len(c)

    def attainment_value(self, g) -> object:
        return evaluate(self.ctx, "attainment", {"actual": _arg(g.actual_n), "target": _arg(g.target_n),
                                                 "direction": _arg(self.choice("direction", g.direction))})

    def metric(self, ws, row: int, col: int, value: object, unit: object) -> None:
        self.put(ws, row, col, value, self.number_format(unit))

    def goals(self) -> int:
        g = self.data["goals"]
        t = self.t
        heads = [t["id"], t["campaign"], t["end"], t["goal"], t["unit"], t["direction"], t["target"], t["actual"],
                 t["attainment"]]
        ws = self.sheet("goals", heads, [6, 28, 11, 22, 8, 10, 14, 14, 10], len(g), "tbl_p_goals")
        for i, r in enumerate(g.itertuples(index=False)):
            row = HEADER_ROW + 1 + i
            direction = self.choice("direction", r.direction)
            for col, v in enumerate((r.id, r.campaign, _day(r.end), r.goal, r.unit, direction)):
                self.put(ws, row, col, v)
            self.metric(ws, row, 6, r.target_n, r.unit)
            self.metric(ws, row, 7, r.actual_n, r.unit)
            self.attainment(ws, row, 8, (6, 7, 5), r, direction)
        self.conditional_attainment(ws, 8, len(g))
        return len(g)

    def attainment(self, ws, row: int, col: int, inputs: tuple[int, int, int], r, direction: object) -> None:
        """The template's 达成率 formula at (row, col) over the target, actual and direction columns ``inputs``."""
        target, actual, direction_col = inputs
        text, value = self.formula(
            "attainment", {"actual": a1(row, actual), "target": a1(row, target), "direction": a1(row, direction_col)},
            {"actual": _arg(r.actual_n), "target": _arg(r.target_n), "direction": _arg(direction)})
        ws.write_formula(row, col, text, self.pct_fmt, value)

    def trends(self) -> int:
        """Each indicator across campaigns (sorted by indicator, then time) and a line chart per indicator."""
        d = self.data["indicators"].copy()
        t = self.t
        d["key_name"] = d["indicator"].map(lambda x: unicodedata.normalize("NFKC", str(x)).strip())
        d["key_unit"] = d["unit"].map(lambda x: "" if _value(x) is None else str(x))
        d["key_end"] = d["end"].map(lambda x: _value(x) or "")
        d = d.sort_values(["key_name", "key_unit", "key_end"], kind="stable")
        heads = [t["indicator"], t["unit"], t["campaign"], t["end"], t["direction"], t["target"], t["actual"],
                 t["attainment"], t["previous"], t["variance"]]
        ws = self.sheet("trends", heads, [22, 8, 28, 11, 10, 14, 14, 10, 14, 10], len(d), "tbl_p_trends")
        groups: list[tuple[str, str, int, int]] = []   # name, unit, first row, last row
        var_fmt = self.fmt(num_format=self.tpl.formats["variance"], bg_color="#F2F2F2")
        for i, r in enumerate(d.itertuples(index=False)):
            row = HEADER_ROW + 1 + i
            direction = self.choice("direction", r.direction)
            for col, v in enumerate((r.key_name, r.key_unit or None, r.campaign, _day(r.end), direction)):
                self.put(ws, row, col, v)
            self.metric(ws, row, 5, r.target_n, r.unit)
            self.metric(ws, row, 6, r.actual_n, r.unit)
            self.metric(ws, row, 8, r.previous_n, r.unit)
            self.attainment(ws, row, 7, (5, 6, 4), r, direction)
            text, value = self.formula("variance", {"actual": a1(row, 6), "previous": a1(row, 8)},
                                       {"actual": _arg(r.actual_n), "previous": _arg(r.previous_n)})
            ws.write_formula(row, 9, text, var_fmt, value)
            if groups and groups[-1][:2] == (r.key_name, r.key_unit):
                groups[-1] = (*groups[-1][:3], row)
            else:
                groups.append((r.key_name, r.key_unit, row, row))
        self.conditional_attainment(ws, 7, len(d))
        return self.charts([g for g in groups if g[3] > g[2]])

    def charts(self, groups: list[tuple[str, str, int, int]]) -> int:
        ws = self.wb.add_worksheet(self.t["charts"])
        ws.write_string(0, 0, self.t["charts"], self.title_fmt)
        _print_setup(ws)
        if not groups:
            ws.write_string(1, 0, self.t["no_charts"], self.note_fmt)
            return 0
        groups = sorted(groups, key=lambda g: g[2] - g[3])[:MAX_CHARTS]   # most campaigns first
        extra = len(groups) - MAX_CHARTS
        if extra > 0:
            ws.write_string(1, 0, self.t["more_charts"].format(n=extra), self.note_fmt)
        sheet = self.t["trends"]
        font = {"name": FONT[self.lang]}
        for k, (name, unit, first, last) in enumerate(groups):
            first = max(first, last - CHART_POINTS + 1)
            chart = self.wb.add_chart({"type": "line"})
            lines = ((6, "series_actual", HEADER_BG, None), (5, "series_target", "#A6A6A6", "dash"))
            for col, series, color, dash in lines:
                chart.add_series({"name": self.t[series], "categories": [sheet, first, 2, last, 2],
                                  "values": [sheet, first, col, last, col], "marker": {"type": "circle", "size": 5},
                                  "line": {"color": color, "width": 2, **({"dash_type": dash} if dash else {})}})
            chart.set_title({"name": self.t["chart_title"].format(name=name, unit=unit or "-"),
                             "name_font": {**font, "size": 11}})
            chart.set_y_axis({"num_format": self.unit_formats.get(unit, self.tpl.formats["number"]), "num_font": font,
                              "major_gridlines": {"visible": True, "line": {"color": "#D9D9D9"}}})
            chart.set_x_axis({"num_font": {**font, "rotation": -30}})
            chart.set_legend({"position": "bottom", "font": font})
            ws.insert_chart(2 + 18 * (k // 2), 9 * (k % 2), chart, {"x_scale": 1.0, "y_scale": 1.2})
        return len(groups)

    def actions(self) -> tuple[int, int]:
        """Every improvement not yet 已完成, oldest deadline first, with live 逾期 and 此后活动数 formulas.

        Returns how many are open and how many of those are 逾期 today.
        """
        a = self.data["actions"]
        done = self.tpl.choices("status", "zh")[2]
        a = a[a["status"].map(lambda s: _value(s) != done)]
        a = a.assign(key_due=a["deadline"].map(lambda x: _value(x) or "9999")).sort_values(["key_due"], kind="stable")
        t = self.t
        heads = [t["campaign"], t["end"], t["problem"], t["impact"], t["root_cause"], t["measure"], t["action_owner"],
                 t["deadline"], t["status"], t["overdue"], t["later"]]
        ws = self.sheet("actions", heads, [26, 11, 30, 8, 26, 30, 10, 12, 9, 8, 10], len(a), "tbl_p_actions")
        starts = self.ref("campaigns", 3, len(self.data["campaigns"]))
        start_days = sorted(d for d in map(_day, self.data["campaigns"]["start"]) if d)
        overdue_marker, n_overdue = self.tpl.marker("overdue", self.lang), 0
        for i, r in enumerate(a.itertuples(index=False)):
            row = HEADER_ROW + 1 + i
            status = self.choice("status", r.status)
            deadline = _day(r.deadline) or _value(r.deadline_text)
            values = (r.campaign, _day(r.campaign_end), r.problem, self.choice("impact", r.impact), r.root_cause,
                      r.measure, r.owner, deadline, status)
            for col, v in enumerate(values):
                self.put(ws, row, col, v, self.wrap_fmt if col in (2, 4, 5) else None)
            text, value = self.formula("overdue", {"deadline": a1(row, 7), "status": a1(row, 8)},
                                       {"deadline": _arg(deadline), "status": _arg(status)})
            ws.write_formula(row, 9, text, None, value)
            n_overdue += value == overdue_marker
            end = _day(r.campaign_end)
            later = len(start_days) - bisect_right(start_days, end) if end else 0
            ws.write_formula(row, 10, f'=IF(ISNUMBER({a1(row, 1)}),COUNTIF({starts},">"&{a1(row, 1)}),"")', None,
                             later if end else "")
        if len(a):
            s = self.tpl.styles["alert"]
            criteria = self.layout.render(FormulaRule("cf_equals", {"x": "@x", "value": "m.overdue"}),
                                          lambda _: "$" + a1(HEADER_ROW + 1, 9))
            ws.conditional_format(HEADER_ROW + 1, 0, HEADER_ROW + len(a), len(heads) - 1,
                                  {"type": "formula", "criteria": criteria,
                                   "format": self.wb.add_format({"bg_color": s["bg"], "font_color": s["font"],
                                                                 "bold": True})})
        return len(a), n_overdue

    def causes(self) -> int:
        """Root causes named in two or more campaigns, with a detail sheet the counts are formulas over."""
        seen: dict[str, dict[int, tuple]] = {}
        for r in self.data["actions"].itertuples(index=False):
            for cause in root_causes(_value(r.root_cause)):
                seen.setdefault(cause, {}).setdefault(r.id, (r.campaign, _day(r.campaign_end), r.impact, r.problem))
        recurring = sorted(((c, ids) for c, ids in seen.items() if len(ids) >= 2),
                           key=lambda x: (-len(x[1]), x[0]))
        t = self.t
        detail = [(c, cid, *info) for c, ids in recurring for cid, info in ids.items()]
        heads = [t["cause"], t["cause_campaigns"], t["latest"], t["cause_list"]]
        ws = self.sheet("causes", heads, [30, 10, 11, 80], len(recurring), "tbl_p_causes")
        causes = self.ref("cause_detail", 0, len(detail))
        for i, (cause, ids) in enumerate(recurring):
            row = HEADER_ROW + 1 + i
            self.put(ws, row, 0, cause)
            ws.write_formula(row, 1, f"=COUNTIF({causes},{a1(row, 0)})", None, len(ids))
            ends = [info[1] for info in ids.values() if info[1]]
            self.put(ws, row, 2, max(ends) if ends else None)
            self.put(ws, row, 3, "、".join(str(info[0]) for info in ids.values()), self.wrap_fmt)
        dheads = [t["cause"], t["id"], t["campaign"], t["end"], t["impact"], t["problem"]]
        dws = self.sheet("cause_detail", dheads, [30, 6, 28, 11, 8, 40], len(detail), "tbl_p_cause_detail")
        for i, (cause, cid, campaign, end, impact, problem) in enumerate(detail):
            for col, v in enumerate((cause, cid, campaign, end, self.choice("impact", impact), problem)):
                self.put(dws, HEADER_ROW + 1 + i, col, v)
        return len(recurring)

    def lessons(self) -> int:
        d = self.data["lessons"]
        t = self.t
        heads = [t["category"], t["content"], t["scenario"], t["standard"], t["campaign"], t["end"], t["owner"]]
        ws = self.sheet("lessons", heads, [10, 40, 24, 30, 26, 11, 10], len(d), "tbl_p_lessons")
        for i, r in enumerate(d.itertuples(index=False)):
            values = (self.choice("lesson_category", r.category), r.content, r.scenario, r.standard, r.campaign,
                      _day(r.end), r.owner)
            for col, v in enumerate(values):
                self.put(ws, HEADER_ROW + 1 + i, col, v, self.wrap_fmt if col in (1, 2, 3) else None)
        return len(d)

    def overview(self, ws, n_campaigns: int, n_goals: int, n_open: int, n_overdue: int, n_causes: int) -> None:
        t = self.t
        ws.set_row(0, 24)
        ws.write_string(0, 0, t["title"], self.title_fmt)
        ws.write_string(1, 0, self.note, self.note_fmt)
        label = self.fmt(bold=True, bg_color="#DDEBF7", border=1)
        big = self.fmt(bold=True, font_size=16, font_color=HEADER_BG, align="center", border=1)
        big_pct = self.fmt(bold=True, font_size=16, font_color=HEADER_BG, align="center", border=1,
                           num_format=self.tpl.formats["percent"])
        goals_att = self.ref("goals", 8, n_goals)
        nums = [v for v in self.goal_values if isinstance(v, (int, float))]
        overdue_marker = self.tpl.marker("overdue", self.lang)
        kpis = [
            ("kpi_campaigns", f"=COUNTA({self.ref('campaigns', 1, n_campaigns)})", n_campaigns, big),
            ("kpi_goals", f"=COUNT({goals_att})", len(nums), big),
            ("kpi_attainment", f'=IF(COUNT({goals_att})=0,"",AVERAGE({goals_att}))',
             sum(nums) / len(nums) if nums else "", big_pct),
            ("kpi_open", f"=COUNTA({self.ref('actions', 0, n_open)})" if n_open else "=0", n_open, big),
            ("kpi_overdue", f'=COUNTIF({self.ref("actions", 9, n_open)},"{overdue_marker}")', n_overdue, big),
            ("kpi_causes", f"=COUNTA({self.ref('causes', 0, n_causes)})" if n_causes else "=0", n_causes, big),
        ]
        for k, (key, formula, value, fmt) in enumerate(kpis):
            ws.write_string(3, k, t[key], label)
            ws.write_formula(4, k, formula, fmt, value)
            ws.set_column(k, k, 16)
        ws.set_row(4, 30)
        n = min(n_campaigns, CHART_POINTS)
        if n:
            sheet, last = t["campaigns"], HEADER_ROW + n_campaigns
            chart = self.wb.add_chart({"type": "column"})
            chart.add_series({"name": t["avg_attainment"], "categories": [sheet, last - n + 1, 1, last, 1],
                              "values": [sheet, last - n + 1, 8, last, 8], "fill": {"color": "#2E75B6"}})
            font = {"name": FONT[self.lang]}
            chart.set_title({"name": t["recent"].format(n=n), "name_font": {**font, "size": 11}})
            chart.set_y_axis({"num_format": "0%", "min": 0, "num_font": font})
            chart.set_x_axis({"num_font": {**font, "rotation": -30}})
            chart.set_legend({"none": True})
            ws.insert_chart(6, 0, chart, {"x_scale": 1.9, "y_scale": 1.3})
        _print_setup(ws)
        ws.activate()


def _print_setup(ws, repeat_row: int | None = None) -> None:
    """A4 landscape, one page wide: the head of department prints it."""
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    ws.set_margins(left=0.4, right=0.4, top=0.5, bottom=0.5)
    if repeat_row is not None:
        ws.repeat_rows(repeat_row)


def _arg(v: object) -> object:
    """A value as a formula sees it: blank is ""."""
    v = _value(v)
    return "" if v is None else v
