"""A retrospective as plain records, keyed by the template's field and column keys."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Link:
    """An entry that refers to a named cell, e.g. 表2's ROI row taking ``retro_roi`` from 成本收益."""

    name: str


@dataclass
class Retrospective:
    """The entries of one campaign's review.

    ``info`` holds the header fields (campaign, start, end, owner, review_date);
    ``tables`` maps a table key (goals, indicators, actions, lessons, costs, returns)
    to its rows, each a dict from column key to the value a person entered.
    """

    info: dict[str, object] = field(default_factory=dict)
    tables: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    def rows(self, table: str) -> list[dict[str, object]]:
        return self.tables.get(table, [])
