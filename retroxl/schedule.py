"""The six-step schedule: each step's due date in working days after the campaign's end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from .engine.workdays import add_workdays, calendar_note
from .template import Template


@dataclass(frozen=True)
class Schedule:
    due: list[date]   # one per step; empty while the end date is unknown
    note: str = ""    # shown when the holiday calendar does not cover the dates


def make_schedule(template: Template, end: date | None) -> Schedule:
    steps = template.sheet("info").steps if template.has("info") else ()
    if end is None or not steps:
        return Schedule([])
    due = [add_workdays(end, s.days) for s in steps]
    return Schedule(due, calendar_note(end, *due).note)
