"""往期 from the archive: the previous value of an indicator, for ``recalc --history`` and ``batch --history``.

The previous value of an indicator is the actual of the most recent earlier
campaign that tracked the same indicator: same 具体指标 and unit (compared after
width and case folding), same 活动类型 when both campaigns have one. "Earlier"
means it ended before this one started. 表2 rows count first; a campaign that had
the indicator only as a 表1 goal counts too (batch lists often carry only goals).

>>> from retroxl.history import load_history
>>> history = load_history("复盘库.db")                                     # doctest: +SKIP
>>> filled = history.fill(retro)        # empty 往期值 filled, typed ones untouched   # doctest: +SKIP
>>> filled.cells[0].note("zh")                                              # doctest: +SKIP
'往期值取自「2024夏季新品推广」（2024-06-01～2024-06-15）的实际值（复盘库）'

On files: ``retroxl recalc BOOK --history 复盘库.db`` writes the filled values with that
note on each cell (:func:`retroxl.recalc.recalc`); ``retroxl batch LIST --history
复盘库.db`` prefills new campaigns' goals (:meth:`History.prefill`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Container
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from .engine.periods import parse_date
from .model import Retrospective


def _norm(text: object) -> str:
    return unicodedata.normalize("NFKC", str(text or "")).strip().casefold()


@dataclass(frozen=True, slots=True)
class Previous:
    """A previous value found in the archive and where it came from."""

    value: float
    campaign: str
    start: date | None
    end: date | None
    file: str
    campaign_type: str | None = None

    def note(self, lang: str = "zh") -> str:
        """The text of the cell note that says where the value came from."""
        period = "～".join(d.isoformat() for d in (self.start, self.end) if d) or "?"
        if lang == "en":
            return f"Previous value: the actual of “{self.campaign}” ({period}), from the archive"
        return f"往期值取自「{self.campaign}」（{period}）的实际值（复盘库）"


@dataclass(frozen=True, slots=True)
class FilledCell:
    table: str
    row: int          # 0-based row of the table
    column: str
    previous: Previous

    def note(self, lang: str = "zh") -> str:
        return self.previous.note(lang)


@dataclass
class Filled:
    """A retrospective with empty 往期值 filled from history, and which cells were filled."""

    retro: Retrospective
    cells: list[FilledCell] = field(default_factory=list)


# One actual seen in the archive, as a tuple that sorts most recent first when reversed:
# (end or start, start, -source, campaign key, type (folded), value, campaign, file, end, type).
# Dates stay ISO text, which sorts and compares as dates; source 0 is a 表2 indicator, 1 a 表1 goal,
# so within one campaign the indicator wins. Previous objects are made only for the values returned.
_Seen = tuple[str, str, int, str, str, float, str, str, str | None, str | None]


class History:
    """Every numeric actual in the archive, indexed by (indicator, unit); load once, look up many."""

    def __init__(self, seen: list[tuple[str, str, _Seen]]) -> None:
        self._index: dict[tuple[str, str], list[_Seen]] = {}
        for name, unit, s in seen:
            self._index.setdefault((name, unit), []).append(s)
        for items in self._index.values():  # most recent first; undated last
            items.sort(reverse=True)

    def previous(self, indicator: object, unit: object, *, before: date | None,
                 campaign_type: object = None, exclude_key: str | None = None) -> Previous | None:
        """The actual of the most recent campaign that ended before ``before`` and tracked this indicator.

        None when nothing matches, or when ``before`` is unknown (without a start
        date, "earlier" means nothing).
        """
        if before is None or not _norm(indicator):
            return None
        kind, limit = _norm(campaign_type), before.isoformat()
        for seen in self._index.get((_norm(indicator), _norm(unit)), ()):
            ended, start, _, key, their_kind, value, campaign, file, end, type_ = seen
            if not ended or ended >= limit or key == exclude_key or (kind and their_kind and their_kind != kind):
                continue
            return Previous(value, campaign, date.fromisoformat(start) if start else None,
                            date.fromisoformat(end) if end else None, file, type_)
        return None

    def fill(self, retro: Retrospective, keep: Container[int] = ()) -> Filled:
        """Fill every empty 往期值 of 表2 from history; a value a person typed is never replaced.

        ``keep``: rows whose 往期值 must stay as it is although it reads empty (a formula showing "").
        """
        find = self._finder(retro)
        rows, cells = [], []
        for i, row in enumerate(retro.rows("indicators")):
            found = None if row.get("previous") not in (None, "") or i in keep else \
                find(row.get("indicator"), row.get("unit"))
            rows.append(row if found is None else {**row, "previous": found.value})
            if found is not None:
                cells.append(FilledCell("indicators", i, "previous", found))
        return Filled(replace(retro, tables={**retro.tables, "indicators": rows}), cells)

    def prefill(self, retro: Retrospective) -> Filled:
        """A new campaign's goals with their 往期, for ``batch --history``.

        表1 has no 往期 column (the published form), so each goal that history
        knows also becomes a 表2 row after those already there: the goal as 具体指标,
        its unit, direction and target, and the 往期值; 环比 then computes as soon as
        the actual is typed.
        """
        find = self._finder(retro)
        rows = list(retro.rows("indicators"))
        known = {(_norm(r.get("indicator")), _norm(r.get("unit"))) for r in rows}
        cells = []
        for goal in retro.rows("goals"):
            key = (_norm(goal.get("goal")), _norm(goal.get("unit")))
            found = None if key in known else find(goal.get("goal"), goal.get("unit"))
            if found is None:
                continue
            known.add(key)
            cells.append(FilledCell("indicators", len(rows), "previous", found))
            rows.append({"indicator": goal.get("goal"), "unit": goal.get("unit"),
                         "direction": goal.get("direction"), "target": goal.get("target"),
                         "previous": found.value})
        if not cells:
            return Filled(retro)
        return Filled(replace(retro, tables={**retro.tables, "indicators": rows}), cells)

    def _finder(self, retro: Retrospective) -> Callable[[object, object], Previous | None]:
        """Look-ups for one campaign: earlier than its start (or end), its own type, never itself."""
        from .archive import campaign_key

        info = retro.info
        start, end = parse_date(info.get("start")), parse_date(info.get("end"))
        key = campaign_key(info.get("campaign"), start.isoformat() if start else None)
        kind = info.get("type") or info.get("campaign_type")
        return lambda name, unit: self.previous(name, unit, before=start or end, campaign_type=kind,
                                                exclude_key=key)


_QUERY = """
SELECT t.name, t.unit, t.actual_n, t.source, c.campaign, c.start, c."end", c.file, c.campaign_key, c.campaign_type
FROM (SELECT campaign_id, indicator AS name, unit, actual_n, 0 AS source FROM indicators
      UNION ALL SELECT campaign_id, goal, unit, actual_n, 1 FROM goals) AS t
JOIN campaigns AS c ON c.id = t.campaign_id
WHERE t.actual_n IS NOT NULL AND t.name IS NOT NULL
"""


def load_history(db: str | Path) -> History:
    """Read the archive's actuals once (a few ms per thousand campaigns) for many look-ups."""
    from .archive import connect   # here: batch imports this module, and needs sqlite only with --history

    conn = connect(db)
    try:
        rows = conn.execute(_QUERY).fetchall()
    finally:
        conn.close()
    seen = [(_norm(name), _norm(unit), (end or start or "", start or "", -source, key, _norm(kind), float(value),
                                        campaign, file, end, kind))
            for name, unit, value, source, campaign, start, end, file, key, kind in rows]
    return History(seen)
