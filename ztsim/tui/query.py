"""Filtering and sorting the paths matrix (no Textual here).

A filter is words separated by spaces; a plan must match every word.  A word is
free text (matched against the plan id, goal, entry, techniques and their names,
and the hosts it touches) or ``FIELD:VALUE``:

``goal:`` (or ``g:``)
    the goal label contains VALUE (``goal:tamper``, ``goal:payroll``);
``entry:`` (``e:``)
    the entry point id contains VALUE;
``tech:`` (``t:``)
    some technique id starts with VALUE (``tech:T1557``, ``tech:T1565``);
``host:`` (``h:``)
    some host the plan touches contains VALUE;
``is:open`` / ``is:blocked``
    the plan's verdict under the current policy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ztsim.tui.viewmodel import PlanView

__all__ = ["FIELDS", "SORTS", "PlanQuery", "parse_filter"]

#: Sort orders, in the order ``s`` cycles through them.
SORTS = ("cost", "records", "goal")

FIELDS = {
    "goal": "goal",
    "g": "goal",
    "entry": "entry",
    "e": "entry",
    "tech": "tech",
    "technique": "tech",
    "t": "tech",
    "host": "host",
    "h": "host",
    "is": "is",
}


def parse_filter(text: str) -> list[tuple[str | None, str]]:
    """Split a filter into ``(field or None, lower-case value)`` terms.

    >>> parse_filter("goal:Tamper  t:T1557 vpn")
    [('goal', 'tamper'), ('tech', 't1557'), (None, 'vpn')]
    """
    terms: list[tuple[str | None, str]] = []
    for word in text.split():
        name, sep, value = word.partition(":")
        if sep and name.lower() in FIELDS and value:
            terms.append((FIELDS[name.lower()], value.lower()))
        else:
            terms.append((None, word.lower()))
    return terms


def _match(plan: PlanView, term: tuple[str | None, str], policy: int) -> bool:
    field, value = term
    if field is None:
        return value in plan.search_text
    if field == "goal":
        return value in plan.goal.lower()
    if field == "entry":
        return value in plan.entry.lower()
    if field == "tech":
        return any(t.lower().startswith(value) for t in plan.techniques)
    if field == "host":
        return any(value in h.lower() for h in plan.hosts)
    # is:open / is:blocked under the current policy
    if not 0 <= policy < len(plan.cells):
        return False
    blocked = plan.cells[policy].blocked
    return (value == "open" and not blocked) or (value == "blocked" and blocked)


def _sort_key(sort: str) -> Callable[[PlanView], tuple[int | str, ...]]:
    if sort == "records":
        return lambda p: (-(p.records or 0), p.cost, p.rank)
    if sort == "goal":
        return lambda p: (p.goal, p.cost, p.rank)
    return lambda p: (p.cost, p.rank)


@dataclass(frozen=True)
class PlanQuery:
    """What the paths matrix shows: a filter and a sort order."""

    text: str = ""
    sort: str = "cost"

    def apply(self, plans: Sequence[PlanView], policy: int) -> list[PlanView]:
        """The plans matching the filter (``policy`` is the current policy's index), sorted."""
        terms = parse_filter(self.text)
        kept = [p for p in plans if all(_match(p, t, policy) for t in terms)]
        key = _sort_key(self.sort)
        return sorted(kept, key=key)

    def next_sort(self) -> PlanQuery:
        """The same filter with the next sort order."""
        i = SORTS.index(self.sort) if self.sort in SORTS else -1
        return PlanQuery(self.text, SORTS[(i + 1) % len(SORTS)])

    def describe(self) -> str:
        """``sorted by cost``, with the filter when there is one."""
        out = f"sorted by {self.sort}"
        return f"{out}, filter: {self.text}" if self.text.strip() else out
