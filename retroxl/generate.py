"""``retroxl new`` and ``retroxl demo``: write the standard workbook for one campaign."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from .compute import Values, compute
from .engine.periods import parse_date
from .errors import RetroxlError
from .files import atomic_output
from .layout import Layout, make_layout
from .model import Retrospective
from .schedule import Schedule, make_schedule
from .template import LANGS, Template, TemplateError, load_template


def _info_dates(retro: Retrospective) -> Retrospective:
    """Parse the header dates; a bad date or an end before the start is an error."""
    info = dict(retro.info)
    for key in ("start", "end", "review_date"):
        value = info.get(key)
        if value in (None, ""):
            continue
        d = parse_date(value)
        if d is None:
            raise RetroxlError(f"not a date: {key} = {value!r} (use a form such as 2024-06-15)")
        info[key] = d
    if isinstance(info.get("start"), date) and isinstance(info.get("end"), date) and info["end"] < info["start"]:
        raise RetroxlError(f"the end date {info['end']} is before the start date {info['start']}")
    return replace(retro, info=info)


def _localize_choices(tpl: Template, lang: str, retro: Retrospective) -> Retrospective:
    """Choice entries given in another language (越高越好 in an English book) take this book's wording."""
    tables = {}
    for key, rows in retro.tables.items():
        try:
            _, table = tpl.table(key)
        except KeyError:
            tables[key] = rows
            continue
        lists = {c.key: c.list for c in table.columns if c.list}
        tables[key] = [{k: tpl.translate(lists[k], v, lang) if k in lists else v for k, v in row.items()}
                       for row in rows]
    return replace(retro, tables=tables)


def resolve_template(template: Template | str | Path | None) -> Template:
    if isinstance(template, Template):
        return template
    try:
        return load_template(template)
    except TemplateError as e:
        raise RetroxlError(str(e)) from None


@dataclass(frozen=True)
class Plan:
    """Everything a writer needs for one workbook: positions, entries, computed values, schedule."""

    layout: Layout
    retro: Retrospective
    values: Values
    schedule: Schedule


def plan_workbook(retro: Retrospective | None = None, *, template: Template | str | Path | None = None,
                  lang: str = "zh", today: date | None = None) -> Plan:
    """Check the entries and compute every cell of a new workbook, without writing it."""
    if lang not in LANGS:
        raise RetroxlError(f"unknown language {lang!r} (one of {', '.join(LANGS)})")
    tpl = resolve_template(template)
    retro = _localize_choices(tpl, lang, _info_dates(retro or Retrospective()))
    rows = {key: max(tl.rows, len(retro.rows(key))) for key, tl in make_layout(tpl, lang).tables.items()}
    layout = make_layout(tpl, lang, rows)
    end = retro.info.get("end")
    return Plan(layout, retro, compute(layout, retro, today),
                make_schedule(tpl, end if isinstance(end, date) else None))


def new_workbook(path: str | Path, retro: Retrospective | None = None, *,
                 template: Template | str | Path | None = None, lang: str = "zh",
                 force: bool = False, today: date | None = None) -> Path:
    """Write the standard retrospective workbook for one campaign to ``path``.

    ``retro`` prefills the header and any table rows; formulas compute 达成率, 环比 and
    ROI in Excel, WPS and LibreOffice, and every formula carries its computed value.

    >>> from retroxl import new_workbook, Retrospective
    >>> new_workbook("复盘.xlsx", Retrospective(info={"campaign": "双11大促", "end": "2024-11-11"}))  # doctest: +SKIP
    """
    from .books.xlsx_writer import WorkbookWriter  # XlsxWriter only when writing

    path = Path(path)
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        raise RetroxlError(f"{path}: the output must be an .xlsx file")
    plan = plan_workbook(retro, template=template, lang=lang, today=today)
    with atomic_output(path, force=force) as tmp:
        WorkbookWriter(plan.layout, plan.retro, plan.values, plan.schedule).write(tmp)
    return path


def demo_workbook(path: str | Path, *, lang: str = "zh", force: bool = False,
                  today: date | None = None) -> Path:
    """Write the reference's published example (all four tables, 成本收益) to ``path``."""
    from .demo import demo_retrospective

    return new_workbook(path, demo_retrospective(), lang=lang, force=force, today=today)
