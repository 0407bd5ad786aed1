"""``retroxl report``: the review as a document, in the reference's order.

活动概述 → 目标达成 → 成果亮点 → 问题分析 → 改进计划, with charts (target vs actual,
达成率, 环比), the comparison tables and the validation findings still open. One
content model renders to HTML (self-contained, charts as inline SVG), Markdown
(charts as SVG files beside it) and PDF (the HTML printed by headless Chromium,
Chinese set in the Noto CJK font).
"""

from __future__ import annotations

import html
import math
import os
import shutil
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import metrics
from .errors import RetroxlError
from .files import atomic_output
from .libreoffice import run_in_group
from .template import load_template

if TYPE_CHECKING:
    from .archive import Review

FORMATS = (".html", ".pdf", ".md")
PDF_TIMEOUT = 120.0
PAST_CAMPAIGNS = 4      # earlier campaigns shown per indicator in the comparison table
FONT_STACK = '"Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif'
BLUE, GREY, GREEN, RED = "#1F4E78", "#A6A6A6", "#2E7D32", "#C62828"

TEXTS = {
    "zh": {
        "title": "活动复盘报告", "made": "由 retroxl 生成于 {today}，来源：{file}",
        "overview": "一、活动概述", "goals": "二、目标达成", "highlights": "三、成果亮点", "problems": "四、问题分析",
        "plan": "五、改进计划",
        "campaign": "活动名称", "period": "活动周期", "owner": "负责人", "review_date": "复盘日期",
        "goal_summary": "核心目标", "indicator_summary": "关键指标", "cost": "投入合计", "returns": "收益合计",
        "roi": "ROI（投入产出比）", "net_roi": "净ROI",
        "goals_of": "{n} 项，达成 {k} 项", "indicators_of": "{n} 项，平均达成率 {avg}",
        "t1": "核心目标（表1）", "t2": "关键指标（表2）", "costs": "成本收益", "past": "与往期活动对比",
        "past_note": "同一具体指标（及单位）在复盘库中更早活动的实际值。",
        "goal": "核心目标", "unit": "单位", "target": "目标值", "actual": "实际值", "attainment": "达成率",
        "type": "指标类型", "indicator": "具体指标", "previous": "往期值", "variance": "环比变化", "source": "数据来源",
        "cost_item": "成本项", "return_item": "收益项", "note": "说明", "budget": "预算", "spent": "实际支出",
        "budget_rate": "预算执行率", "amount": "金额",
        "end": "结束日期", "this": "（本期）",
        "chart_ta": "目标与实际（以目标为100%）", "chart_att": "达成率（虚线为100%）",
        "chart_var": "环比变化（vs 往期）",
        "series_target": "目标", "series_actual": "实际",
        "over": "超额完成或达成的目标与指标：", "none_over": "本次活动没有达成目标的项目。",
        "line": "{name}：目标 {target}，实际 {actual}，达成率 {att}",
        "miss": "未达成的目标与指标：", "none_miss": "所有目标与指标均已达成。",
        "t3": "问题与根因（表3）", "problem": "问题描述", "impact": "影响程度", "root_cause": "根因分析",
        "findings": "待处理的校验问题", "none_findings": "校验未发现问题。",
        "severity": "级别", "where": "位置", "code": "代码", "message": "说明",
        "severities": {"error": "错误", "warning": "警告", "info": "提示"},
        "measures": "改进措施", "measure": "改进措施", "action_owner": "责任人", "deadline": "完成时限",
        "status": "状态", "overdue": "逾期", "none_measures": "尚未填写改进措施。",
        "t4": "经验沉淀与标准化建议（表4）", "category": "经验类别", "content": "具体内容", "scenario": "可复用场景",
        "standard": "标准化建议", "none_rows": "（未填写）", "variance_text": "，环比 {v}",
    },
    "en": {
        "title": "Campaign retrospective", "made": "Made by retroxl on {today} from {file}",
        "overview": "1. Overview", "goals": "2. Goals and results", "highlights": "3. Highlights",
        "problems": "4. Problems", "plan": "5. Improvement plan",
        "campaign": "Campaign", "period": "Period", "owner": "Owner", "review_date": "Review date",
        "goal_summary": "Core goals", "indicator_summary": "Key indicators", "cost": "Total cost",
        "returns": "Total returns", "roi": "ROI (input:output)", "net_roi": "Net ROI",
        "goals_of": "{n}, {k} attained", "indicators_of": "{n}, average attainment {avg}",
        "t1": "Core goals (T1)", "t2": "Key indicators (T2)", "costs": "Costs and returns",
        "past": "Compared with earlier campaigns",
        "past_note": "Actuals of the same indicator (and unit) in earlier campaigns of the archive.",
        "goal": "Goal", "unit": "Unit", "target": "Target", "actual": "Actual", "attainment": "Attainment",
        "type": "Type", "indicator": "Indicator", "previous": "Previous", "variance": "Change", "source": "Source",
        "cost_item": "Cost item", "return_item": "Return item", "note": "Note", "budget": "Budget", "spent": "Spent",
        "budget_rate": "Budget used", "amount": "Amount",
        "end": "End", "this": " (this one)",
        "chart_ta": "Target vs actual (target = 100%)", "chart_att": "Attainment (dashed line: 100%)",
        "chart_var": "Change vs previous", "series_target": "Target", "series_actual": "Actual",
        "over": "Goals and indicators attained:", "none_over": "No goal was attained this time.",
        "line": "{name}: target {target}, actual {actual}, attainment {att}",
        "miss": "Goals and indicators missed:", "none_miss": "Every goal and indicator was attained.",
        "t3": "Problems and root causes (T3)", "problem": "Problem", "impact": "Impact", "root_cause": "Root cause",
        "findings": "Open validation findings", "none_findings": "Validation found nothing.",
        "severity": "Severity", "where": "Cell", "code": "Code", "message": "Message",
        "severities": {"error": "error", "warning": "warning", "info": "info"},
        "measures": "Improvements", "measure": "Improvement", "action_owner": "Owner", "deadline": "Deadline",
        "status": "Status", "overdue": "Overdue", "none_measures": "No improvement entered yet.",
        "t4": "Lessons and standards (T4)", "category": "Category", "content": "Lesson", "scenario": "Where to reuse",
        "standard": "Standard", "none_rows": "(none entered)", "variance_text": ", change {v}",
    },
}


# ----------------------------------------------------------------- the content model

@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    numeric: set[int] = field(default_factory=set)     # right-aligned columns
    marks: dict[tuple[int, int], str] = field(default_factory=dict)   # (row, col) → "good" / "bad"


@dataclass
class Chart:
    name: str       # file name stem for Markdown
    title: str
    svg: str


@dataclass
class Section:
    title: str
    # ("h", heading) ("p", text) ("ul", [items]) ("table", Table) ("chart", Chart)
    blocks: list[tuple[str, object]] = field(default_factory=list)

    def add(self, kind: str, value: object) -> None:
        self.blocks.append((kind, value))


@dataclass
class Document:
    lang: str
    title: str
    subtitle: str
    sections: list[Section]


# ----------------------------------------------------------------- numbers as a reader expects them

def _num(v: object) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        f = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _text(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if hasattr(v, "date") and callable(v.date):
        v = v.date()
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def fmt_value(v: object, unit: object, lang: str) -> str:
    """A figure as the business writes it: 120万次 → 120万, 0.062 with unit % → 6.2%, 3.8 with 1:x → 1:3.8."""
    n = _num(v)
    if n is None:
        return _text(v)
    unit = _text(unit)
    if unit == "%":
        return f"{n * 100:.4g}%"
    if unit == "1:x":
        return f"1:{n:.3g}"
    if lang == "zh" and abs(n) >= 10_000:
        return f"{n / 10_000:,.4g}万"
    return f"{n:,.4g}" if abs(n) < 1e6 else f"{n:,.0f}"


def fmt_percent(v: object, signed: bool = False) -> str:
    n = _num(v)
    if n is None:
        return ""
    return f"{n * 100:+.0f}%" if signed else f"{n * 100:.0f}%"


# ----------------------------------------------------------------- charts (hand-made SVG: no plotting library needed)

def _nice_step(span: float) -> float:
    raw = span / 5 or 1
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def bar_chart(title: str, labels: list[str], series: list[tuple[str, str, list[float | None]]], *,
              line: float | None = None, colors: list[str] | None = None) -> str:
    """Horizontal bars (long Chinese labels stay readable), values as percentages.

    ``series`` is (name, colour, values); ``line`` draws a dashed reference (1.0 = 100%);
    ``colors`` overrides the colour bar by bar for a single series (green met, red missed).
    """
    esc = html.escape
    values = [v for _, _, vs in series for v in vs if v is not None]
    lo = min([0.0, *values])
    hi = max([0.0, *values, line or 0.0]) or 1.0
    step = _nice_step(hi - lo)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi * 1.08 / step) * step
    width, left, right, top = 640, 170, 30, 40
    bar, gap = 16, 12
    group = bar * len(series) + gap
    height = top + group * max(len(labels), 1) + 46 + (18 if len(series) > 1 else 0)
    plot_w = width - left - right

    def x(v: float) -> float:
        return left + (v - lo) / (hi - lo) * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
           f'height="{height}" font-family="{esc(FONT_STACK)}" font-size="12" role="img" aria-label="{esc(title)}">',
           f'<text x="{width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold" '
           f'fill="{BLUE}">{esc(title)}</text>']
    bottom = top + group * max(len(labels), 1)
    t = lo
    while t <= hi + step / 2:
        out.append(f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{bottom}" stroke="#D9D9D9"/>')
        out.append(f'<text x="{x(t):.1f}" y="{bottom + 16}" text-anchor="middle" fill="#595959">'
                   f'{t * 100:.0f}%</text>')
        t += step
    for i, label in enumerate(labels):
        y0 = top + i * group + gap / 2
        short = label if len(label) <= 12 else label[:11] + "…"
        out.append(f'<text x="{left - 8}" y="{y0 + group / 2 - gap / 2 + 4:.1f}" text-anchor="end" fill="#262626">'
                   f'<title>{esc(label)}</title>{esc(short)}</text>')
        for k, (_, color, vs) in enumerate(series):
            v = vs[i]
            if v is None:
                continue
            c = colors[i] if colors and len(series) == 1 else color
            x0, x1 = sorted((x(0), x(v)))
            yb = y0 + k * bar
            out.append(f'<rect x="{x0:.1f}" y="{yb:.1f}" width="{max(x1 - x0, 1):.1f}" height="{bar - 2}" '
                       f'fill="{c}"/>')
            anchor, tx = ("start", x1 + 4) if v >= 0 else ("end", x0 - 4)
            sign = "+" if v > 0 and lo < 0 else ""
            out.append(f'<text x="{tx:.1f}" y="{yb + bar - 5:.1f}" text-anchor="{anchor}" fill="#262626">'
                       f'{sign}{v * 100:.0f}%</text>')
    out.append(f'<line x1="{x(0):.1f}" y1="{top}" x2="{x(0):.1f}" y2="{bottom}" stroke="#595959"/>')
    if line is not None:
        out.append(f'<line x1="{x(line):.1f}" y1="{top - 4}" x2="{x(line):.1f}" y2="{bottom}" stroke="{RED}" '
                   f'stroke-width="1.5" stroke-dasharray="5,4"/>')
    if len(series) > 1:
        lx = left
        for name, color, _ in series:
            out.append(f'<rect x="{lx}" y="{height - 16}" width="12" height="12" fill="{color}"/>'
                       f'<text x="{lx + 16}" y="{height - 6}" fill="#262626">{esc(name)}</text>')
            lx += 30 + 14 * len(name)
    out.append("</svg>")
    return "".join(out)


# ----------------------------------------------------------------- building the document

def _rows(df) -> list:
    return list(df.itertuples(index=False))


def _display(tpl, list_key: str, v: object, lang: str) -> str:
    return _text(tpl.translate(list_key, v, lang)) if v is not None else ""


def build_document(review: Review, *, lang: str | None = None, today: date | None = None,
                   past: dict[tuple[str, str], list[tuple]] | None = None) -> Document:
    """The report's content from one review; ``past`` adds the comparison with earlier campaigns."""
    from .validate import SEVERITY_ORDER  # validate is heavy to import; only its order is needed

    lang = lang or review.lang or "zh"
    if lang not in TEXTS:
        raise RetroxlError(f"unknown language {lang!r} (one of {', '.join(TEXTS)})")
    t, tpl, today = TEXTS[lang], load_template(), today or date.today()
    c = review.campaign
    goals, inds = _rows(review.goals), _rows(review.indicators)

    # 一、活动概述
    att_goals = [_num(g.attainment) for g in goals]
    met = sum(1 for a in att_goals if a is not None and a >= 1)
    att_inds = [a for a in (_num(i.attainment) for i in inds) if a is not None]
    avg = sum(att_inds) / len(att_inds) if att_inds else None
    period = "～".join(d.isoformat() for d in (c.start, c.end) if d)
    facts = [(t["campaign"], _text(c.name)), (t["period"], period), (t["owner"], _text(c.owner)),
             (t["review_date"], _text(c.review_date)),
             (t["goal_summary"], t["goals_of"].format(n=len(goals), k=met)),
             (t["indicator_summary"], t["indicators_of"].format(n=len(inds), avg=fmt_percent(avg) or "—"))]
    if c.cost_total is not None or c.return_total is not None:
        facts += [(t["cost"], _money(c.cost_total, lang, True)), (t["returns"], _money(c.return_total, lang, True)),
                  (t["roi"], fmt_value(c.roi, "1:x", lang) if c.roi is not None else "—"),
                  (t["net_roi"], fmt_percent(c.net_roi) or "—")]
    overview = Section(t["overview"])
    overview.add("table", Table(["", ""], [[k, v] for k, v in facts]))

    # 二、目标达成
    result = Section(t["goals"])
    result.add("h", t["t1"])
    result.add("table", _metric_table(t, lang, goals, ("goal", "unit", "target_n", "actual_n", "attainment")))
    shown = [g for g in goals if _num(g.attainment) is not None]
    if shown:
        ratio = [_ratio(g) for g in shown]
        result.add("chart", Chart("target-actual", t["chart_ta"], bar_chart(
            t["chart_ta"], [_text(g.goal) for g in shown], [(t["series_target"], GREY, [1.0] * len(shown)),
                                    (t["series_actual"], BLUE, ratio)])))
    everything = [(_text(g.goal), _num(g.attainment)) for g in goals] + \
                 [(_text(i.indicator), _num(i.attainment)) for i in inds]
    everything = [(n, a) for n, a in everything if a is not None]
    if everything:
        result.add("chart", Chart("attainment", t["chart_att"], bar_chart(
            t["chart_att"], [n for n, _ in everything], [(t["attainment"], BLUE, [a for _, a in everything])],
            line=1.0, colors=[GREEN if a >= 1 else RED for _, a in everything])))
    result.add("h", t["t2"])
    table = _metric_table(t, lang, inds, ("type", "indicator", "unit", "target_n", "actual_n", "attainment",
                                          "previous_n", "variance", "source"), tpl=tpl)
    result.add("table", table)
    with_var = [(_text(i.indicator), _num(i.variance)) for i in inds if _num(i.variance) is not None]
    if with_var:
        result.add("chart", Chart("variance", t["chart_var"], bar_chart(
            t["chart_var"], [n for n, _ in with_var], [(t["variance"], BLUE, [v for _, v in with_var])],
            colors=[GREEN if v >= 0 else RED for _, v in with_var])))
    spent = [r for r in _rows(review.costs) if r.kind == "cost"]
    gained = [r for r in _rows(review.costs) if r.kind == "return"]
    if spent or gained:
        result.add("h", t["costs"])
    if spent:
        rows = []
        for r in spent:
            rate = metrics.budget_rate(_num(r.spent), _num(r.budget)).value
            rows.append([_text(r.item), _money(r.budget, lang), _money(r.spent, lang), fmt_percent(rate)])
        result.add("table", Table([t["cost_item"], t["budget"], t["spent"], t["budget_rate"]], rows, numeric={1, 2, 3}))
    if gained:
        result.add("table", Table([t["return_item"], t["amount"], t["note"]],
                                  [[_text(r.item), _money(r.amount, lang), _text(r.note)] for r in gained],
                                  numeric={1}))
    if past:
        rows = []
        for i in inds:
            key = (_key(i.indicator), _key(i.unit))
            if key not in past:
                continue
            rows.append([_text(i.indicator) + t["this"], _text(c.name), _text(c.end),
                         fmt_value(i.actual_n, i.unit, lang), fmt_percent(i.attainment)])
            rows += [[_text(i.indicator), _text(name), _text(end), fmt_value(actual, i.unit, lang),
                      fmt_percent(att)] for name, end, actual, att in past[key]]
        if rows:
            result.add("h", t["past"])
            result.add("p", t["past_note"])
            result.add("table", Table([t["indicator"], t["campaign"], t["end"], t["actual"], t["attainment"]], rows,
                                      numeric={3, 4}))

    # 三、成果亮点 / 四、问题分析
    items = [(_text(g.goal), g.unit, g.target_n, g.actual_n, _num(g.attainment), None, "") for g in goals] + \
            [(_text(i.indicator), i.unit, i.target_n, i.actual_n, _num(i.attainment), _num(i.variance),
              _text(i.analysis)) for i in inds]

    def line(it) -> str:
        name, unit, target, actual, att, var, analysis = it
        s = t["line"].format(name=name, target=fmt_value(target, unit, lang), actual=fmt_value(actual, unit, lang),
                             att=fmt_percent(att))
        if var is not None:
            s += t["variance_text"].format(v=fmt_percent(var, signed=True))
        return s + ("。" if lang == "zh" else ". ") + analysis if analysis else s

    highlights = Section(t["highlights"])
    over = sorted((it for it in items if it[4] is not None and it[4] >= 1), key=lambda it: -it[4])
    highlights.add("p", t["over"] if over else t["none_over"])
    if over:
        highlights.add("ul", [line(it) for it in over])
    problems = Section(t["problems"])
    miss = sorted((it for it in items if it[4] is not None and it[4] < 1), key=lambda it: it[4])
    problems.add("p", t["miss"] if miss else t["none_miss"])
    if miss:
        problems.add("ul", [line(it) for it in miss])
    actions = _rows(review.actions)
    problems.add("h", t["t3"])
    problems.add("table", Table([t["problem"], t["impact"], t["root_cause"]],
                                [[_text(a.problem), _display(tpl, "impact", a.impact, lang), _text(a.root_cause)]
                                 for a in actions if _text(a.problem) or _text(a.root_cause)]))
    problems.add("h", t["findings"])
    findings = _rows(review.findings)
    if findings:
        findings.sort(key=lambda f: SEVERITY_ORDER.get(f.severity, len(SEVERITY_ORDER)))
        problems.add("table", Table([t["severity"], t["where"], t["code"], t["message"]],
                                    [[t["severities"].get(f.severity, f.severity), f"{f.sheet}!{f.cell}".rstrip("!"),
                                      _text(f.code), _text(f.message)] for f in findings],
                                    marks={(i, 0): "bad" for i, f in enumerate(findings) if f.severity == "error"}))
    else:
        problems.add("p", t["none_findings"])

    # 五、改进计划
    plan = Section(t["plan"])
    plan.add("h", t["measures"])
    done = tpl.choices("status", "zh")[2]
    rows, marks = [], {}
    for a in actions:
        if not (_text(a.measure) or _text(a.owner)):
            continue
        deadline = _day(a.deadline)
        late = metrics.overdue(deadline, _text(a.status), today, done)
        if late:
            marks[(len(rows), 4)] = "bad"
        rows.append([_text(a.measure), _text(a.owner), _text(deadline) or _text(a.deadline_text),
                     _display(tpl, "status", a.status, lang), tpl.marker("overdue", lang) if late else ""])
    if rows:
        plan.add("table", Table([t["measure"], t["action_owner"], t["deadline"], t["status"], t["overdue"]], rows,
                                marks=marks))
    else:
        plan.add("p", t["none_measures"])
    plan.add("h", t["t4"])
    lessons = [[_display(tpl, "lesson_category", r.category, lang), _text(r.content), _text(r.scenario),
                _text(r.standard)] for r in _rows(review.lessons)]
    if lessons:
        plan.add("table", Table([t["category"], t["content"], t["scenario"], t["standard"]], lessons))
    else:
        plan.add("p", t["none_rows"])

    title = f"{t['title']}：{_text(c.name)}" if lang == "zh" else f"{t['title']}: {_text(c.name)}"
    return Document(lang, title, t["made"].format(today=today.isoformat(), file=review.file.name),
                    [overview, result, highlights, problems, plan])


def _key(v: object) -> str:
    return unicodedata.normalize("NFKC", _text(v)).strip().casefold()


def _money(v: object, lang: str, total: bool = False) -> str:
    """An amount: 3800000 → 380万 (a total: 380万元); a missing total shows as —."""
    n = _num(v)
    if n is None:
        return "—" if total else ""
    text = f"{n / 10_000:,.4g}万" if lang == "zh" and abs(n) >= 10_000 else f"{n:,.2f}".rstrip("0").rstrip(".")
    return text + ("元" if total and lang == "zh" else "")


def _ratio(g) -> float | None:
    """Actual as a share of target: the chart's bar beside the target's 100% (as on the 仪表盘)."""
    actual, target = _num(g.actual_n), _num(g.target_n)
    return actual / target if actual is not None and target else None


def _day(v: object) -> date | None:
    """A DataFrame date cell (Timestamp or NaT) as a date."""
    return v.date() if _num(getattr(v, "year", None)) is not None else None  # type: ignore[union-attr]


def _metric_table(t: dict, lang: str, rows: list, columns: tuple[str, ...], tpl=None) -> Table:
    heads = {"goal": t["goal"], "unit": t["unit"], "target_n": t["target"], "actual_n": t["actual"],
             "attainment": t["attainment"], "type": t["type"], "indicator": t["indicator"],
             "previous_n": t["previous"], "variance": t["variance"], "source": t["source"]}
    out, marks = [], {}
    for i, r in enumerate(rows):
        cells = []
        for j, col in enumerate(columns):
            v = getattr(r, col)
            raw = getattr(r, col[:-2], None) if col.endswith("_n") else None
            if col in ("target_n", "actual_n", "previous_n"):
                cells.append(fmt_value(v, r.unit, lang) if _num(v) is not None else _text(raw))
            elif col == "attainment":
                cells.append(fmt_percent(v))
                if _num(v) is not None:
                    marks[(i, j)] = "good" if _num(v) >= 1 else "bad"  # type: ignore[operator]
            elif col == "variance":
                cells.append(fmt_percent(v, signed=True))
            elif col == "type" and tpl is not None:
                cells.append(_display(tpl, "indicator_type", v, lang))
            else:
                cells.append(_text(v))
        out.append(cells)
    numeric = {j for j, col in enumerate(columns) if col.endswith("_n") or col in ("attainment", "variance")}
    return Table([heads[c] for c in columns], out, numeric, marks)


# ----------------------------------------------------------------- rendering

CSS = """
@page { size: A4; margin: 16mm 14mm 18mm 14mm; }
body { font-family: %(font)s; color: #262626; font-size: 10.5pt; line-height: 1.55; max-width: 182mm; margin: 0 auto; }
h1 { color: %(blue)s; font-size: 20pt; margin: 0 0 2pt 0; }
.sub { color: #7F7F7F; font-size: 9pt; margin-bottom: 10pt; }
h2 { color: white; background: %(blue)s; font-size: 13pt; padding: 3pt 8pt; margin: 16pt 0 8pt 0; break-after: avoid; }
h3 { color: %(blue)s; font-size: 11.5pt; border-bottom: 1px solid #BDD7EE; margin: 12pt 0 6pt 0; break-after: avoid; }
table { border-collapse: collapse; width: 100%%; margin: 4pt 0 8pt 0; font-size: 9.5pt; break-inside: auto; }
th { background: #DDEBF7; color: %(blue)s; text-align: left; padding: 3pt 5pt; border: 1px solid #BFBFBF; }
td { padding: 3pt 5pt; border: 1px solid #BFBFBF; vertical-align: top; }
tr { break-inside: avoid; }
td.num { text-align: right; white-space: nowrap; }
td.good { background: #C6EFCE; color: #006100; }
td.bad { background: #FFC7CE; color: #9C0006; }
table.facts td:first-child { width: 30%%; background: #F2F2F2; font-weight: bold; }
figure { margin: 6pt 0 10pt 0; break-inside: avoid; text-align: center; }
figure svg { max-width: 100%%; height: auto; }
ul { margin: 4pt 0 8pt 0; padding-left: 18pt; }
li { margin-bottom: 3pt; }
""" % {"font": FONT_STACK, "blue": BLUE}


def render_html(doc: Document) -> str:
    esc = html.escape
    out = [f'<!DOCTYPE html><html lang="{"zh-CN" if doc.lang == "zh" else "en"}"><head><meta charset="utf-8">',
           f"<title>{esc(doc.title)}</title><style>{CSS}</style></head><body>",
           f"<h1>{esc(doc.title)}</h1>", f'<div class="sub">{esc(doc.subtitle)}</div>']
    for s in doc.sections:
        out.append(f"<h2>{esc(s.title)}</h2>")
        for kind, value in s.blocks:
            if kind == "h":
                out.append(f"<h3>{esc(value)}</h3>")  # type: ignore[arg-type]
            elif kind == "p":
                out.append(f"<p>{esc(value)}</p>")  # type: ignore[arg-type]
            elif kind == "ul":
                out.append("<ul>" + "".join(f"<li>{esc(x)}</li>" for x in value) + "</ul>")  # type: ignore[union-attr]
            elif kind == "chart":
                out.append(f"<figure>{value.svg}</figure>")  # type: ignore[union-attr]
            elif kind == "table":
                out.append(_html_table(value))  # type: ignore[arg-type]
    out.append("</body></html>")
    return "\n".join(out)


def _html_table(tb: Table) -> str:
    esc = html.escape
    facts = all(not h for h in tb.headers)
    out = ['<table class="facts">' if facts else "<table>"]
    if not facts:
        out.append("<thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in tb.headers) + "</tr></thead>")
    out.append("<tbody>")
    for i, row in enumerate(tb.rows):
        cells = []
        for j, v in enumerate(row):
            cls = " ".join(x for x in ("num" if j in tb.numeric else "", tb.marks.get((i, j), "")) if x)
            cells.append(f'<td class="{cls}">{esc(v)}</td>' if cls else f"<td>{esc(v)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def render_markdown(doc: Document, assets: str) -> tuple[str, dict[str, str]]:
    """Markdown text and the chart files it links to (relative to the .md, under ``assets``)."""
    out = [f"# {_md(doc.title)}", "", f"*{_md(doc.subtitle)}*", ""]
    files: dict[str, str] = {}
    for s in doc.sections:
        out += [f"## {_md(s.title)}", ""]
        for kind, value in s.blocks:
            if kind == "h":
                out += [f"### {_md(value)}", ""]  # type: ignore[arg-type]
            elif kind == "p":
                out += [_md(value), ""]  # type: ignore[arg-type]
            elif kind == "ul":
                out += [f"- {_md(x)}" for x in value] + [""]  # type: ignore[union-attr]
            elif kind == "chart":
                name = f"{len(files) + 1}-{value.name}.svg"  # type: ignore[union-attr]
                files[name] = value.svg  # type: ignore[union-attr]
                out += [f"![{_md(value.title)}]({assets}/{name})", ""]  # type: ignore[union-attr]
            elif kind == "table":
                tb: Table = value  # type: ignore[assignment]
                heads = [h or " " for h in tb.headers]
                out.append("| " + " | ".join(_md(h) for h in heads) + " |")
                out.append("|" + "|".join("---:" if j in tb.numeric else "---" for j in range(len(heads))) + "|")
                out += ["| " + " | ".join(_md(v) for v in row) + " |" for row in tb.rows]
                out.append("")
    return "\n".join(out), files


def _md(text: object) -> str:
    """Text as Markdown shows it literally: no table breaks, no markup from user data."""
    s = str(text).replace("\r", " ").replace("\n", " ")
    for ch in "\\`*_[]<>|#":
        s = s.replace(ch, "\\" + ch)
    return s


# ----------------------------------------------------------------- PDF through headless Chromium

def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        if found := shutil.which(name):
            return found
    return None


def html_to_pdf(src: Path, dest: Path, *, timeout: float = PDF_TIMEOUT) -> None:
    """Print an HTML file to PDF with headless Chromium (its own profile, killed whole on timeout)."""
    chromium = find_chromium()
    if chromium is None:
        raise RetroxlError("PDF output needs Chromium (Debian: apt-get install chromium); "
                           "or write .html and print it from a browser")
    with tempfile.TemporaryDirectory(prefix="retroxl-chromium-") as profile:
        args = [chromium, "--headless", "--disable-gpu", "--no-first-run", "--no-pdf-header-footer",
                f"--user-data-dir={profile}", f"--print-to-pdf={dest}", src.resolve().as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            log = run_in_group(args, timeout)
        except subprocess.TimeoutExpired:
            raise RetroxlError(f"Chromium did not finish the PDF within {timeout:g} s") from None
    if not dest.is_file() or dest.stat().st_size == 0:
        last = (log.strip().splitlines() or ["no message"])[-1]
        raise RetroxlError(f"Chromium wrote no PDF ({last[:160]})")


# ----------------------------------------------------------------- the command

def past_campaigns(db: str | Path, review: Review) -> dict[tuple[str, str], list[tuple]]:
    """For each indicator of ``review``: up to PAST_CAMPAIGNS earlier campaigns' (name, end, actual, 达成率)."""
    from .archive import open as open_archive

    start = review.campaign.start or review.campaign.end
    if start is None:
        return {}
    wanted = {(_key(i.indicator), _key(i.unit)) for i in _rows(review.indicators)}
    out: dict[tuple[str, str], list[tuple]] = {}
    with open_archive(db) as a:
        df = a.query('SELECT t.indicator, t.unit, t.actual_n, t.attainment, c.campaign, c."end", c.campaign_key '
                     'FROM indicators AS t JOIN campaigns AS c ON c.id = t.campaign_id '
                     'WHERE c."end" < ? AND t.actual_n IS NOT NULL ORDER BY c."end" DESC', (start.isoformat(),))
    for r in df.itertuples(index=False):
        key = (_key(r.indicator), _key(r.unit))
        if key in wanted and r.campaign_key != review.campaign.key and len(out.setdefault(key, [])) < PAST_CAMPAIGNS:
            out[key].append((r.campaign, r.end, r.actual_n, r.attainment))
    return {k: v for k, v in out.items() if v}


def write_report(book: str | Path, out: str | Path, *, lang: str | None = None, db: str | Path | None = None,
                 force: bool = False, today: date | None = None) -> Path:
    """Write the report of one workbook as .html, .pdf or .md (by the extension of ``out``).

    >>> write_report("2024夏季新品推广.xlsx", "复盘报告.pdf", db="复盘库.db")      # doctest: +SKIP
    """
    from .archive import read

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise RetroxlError(f"{out}: the report must end in {', '.join(FORMATS)}")
    if out.exists() and not force:
        raise RetroxlError(f"{out} already exists (use --force to replace it)")
    review = read(book, today=today)
    doc = build_document(review, lang=lang, today=today, past=past_campaigns(db, review) if db else None)
    if suffix == ".md":
        assets = f"{out.stem}_charts"
        text, files = render_markdown(doc, assets)
        if files:
            folder = out.parent / assets
            folder.mkdir(exist_ok=True)
            for name, svg in files.items():
                with atomic_output(folder / name) as tmp:
                    tmp.write_text(svg, encoding="utf-8")
        with atomic_output(out, force=force) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return out
    page = render_html(doc)
    with atomic_output(out, force=force) as tmp:
        if suffix == ".html":
            tmp.write_text(page, encoding="utf-8")
        else:
            with tempfile.TemporaryDirectory(prefix="retroxl-report-") as d:
                src = Path(d, "report.html")
                src.write_text(page, encoding="utf-8")
                html_to_pdf(src, tmp)
    return out
