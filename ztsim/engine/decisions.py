"""Spec §4's verdict on one flow (:class:`Decision`), and rule matching in set form.

Nothing here is compiled or memoised, and only :mod:`ztsim.model` is imported.
:mod:`ztsim.engine.compiled` applies the rules in the spec's order (the destination
must listen; from an external zone only public services; a host reaching itself;
``intra_zone: allow``; then the first matching rule, else the default) and says
which rule decided, so "is this flow allowed, and by which rule?" reads here and
there.  What a selector or an egress pattern matches is the model's
(:mod:`ztsim.model.matching`: the loader of assertion files applies it too, and it
may not import the engine); :func:`selector_sets` and :func:`sets_admit` are the
same tests on precomputed sets, for the compiled policy's hot loops.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, Protocol

from ztsim.model.selectors import Selector
from ztsim.model.services import PortRange, parse_service

__all__ = [
    "TOPOLOGY_DENY",
    "Decision",
    "Reason",
    "RuleLocator",
    "Section",
    "SelectorSets",
    "ranges_cover",
    "selector_sets",
    "sets_admit",
]

Reason = Literal["rule", "default", "topology", "self", "intra_zone"]
Section = Literal["segmentation", "egress"]


class RuleLocator(Protocol):
    """Where a policy's rules are written (a loaded policy): for explanations."""

    def rule_location(self, section: Section, rule_id: str) -> str:
        """``FILE:LINE`` of a rule; the file alone if unknown."""
        ...


class Decision(NamedTuple):
    """The verdict on one flow, and what decided it.

    ``rule`` is what spec §7 reports: the rule id, ``default`` or ``topology``
    (``self`` and ``intra_zone`` for flows that skip the rules).  In a layered
    section (model v1.1) it is ``LAYER/RULE`` or ``LAYER/default``: for a denied
    flow that of the first layer denying it (``layer``), for an allowed one every
    layer's joined by ``+`` (``layer`` then joins the layers' ids); ``parts`` holds
    the (layer, rule id or ``default``) pairs named.  ``layer`` and ``parts`` are
    ``None`` for a v1 section.  A named tuple: judging builds one per flow asked
    about and keys memos by it, and a frozen dataclass built, hashed and compared
    them in Python.
    """

    allowed: bool
    rule: str
    reason: Reason
    section: Section = "segmentation"
    layer: str | None = None
    parts: tuple[tuple[str, str], ...] | None = None

    @property
    def rule_id(self) -> str:
        """The name to locate the decision by (:meth:`RuleLocator.rule_location`): the
        rule id, or ``default``; in a layered section the first rule id named, else
        ``LAYER/default``."""
        if self.parts is None:
            return self.rule
        for _, rid in self.parts:
            if rid != "default":
                return rid
        return f"{self.parts[0][0]}/default"

    def describe(self, policy: RuleLocator | None = None) -> str:
        """A short human explanation, naming the rule's FILE:LINE when known."""
        verb = "allowed" if self.allowed else "denied"
        if self.parts is not None:
            return f"{verb} by {self.section} {self._layered(policy)}"
        if self.reason == "rule":
            where = f" at {policy.rule_location(self.section, self.rule)}" if policy else ""
            return f"{verb} by {self.section} rule {self.rule}{where}"
        if self.reason == "default":
            return f"{verb} by {self.section} default"
        if self.reason == "self":
            return "allowed: a host reaching itself"
        if self.reason == "intra_zone":
            return "allowed: same zone with intra_zone: allow"
        return f"{verb} by the topology (not reachable whatever the policy)"

    def _layered(self, policy: RuleLocator | None) -> str:
        """Each layer's deciding rule, with its FILE:LINE (model v1.1)."""
        assert self.parts is not None
        said = []
        for layer, rid in self.parts:
            if rid == "default":
                what = f"layer {layer} default"
                name = f"{layer}/default"
            else:
                what = f"layer {layer} rule {rid}"
                name = rid
            where = f" at {policy.rule_location(self.section, name)}" if policy else ""
            said.append(what + where)
        return " and ".join(said)


#: A flow the topology forbids whatever the policy says.
TOPOLOGY_DENY = Decision(False, "topology", "topology")


def ranges_cover(ranges: tuple[PortRange, ...], service: str) -> bool:
    """Whether a rule's service ranges cover ``service`` (``443/tcp``)."""
    svc = parse_service(service)
    return any(r.covers(svc) for r in ranges)


#: A selector's host ids and label pairs (``None`` where it sets none).
SelectorSets = tuple[frozenset[str] | None, frozenset[tuple[str, str]] | None]


def selector_sets(sel: Selector) -> SelectorSets:
    """A selector's host ids and label pairs as sets, ``None`` where it sets none.

    With the zone matched beforehand (rules are indexed by zone), a host matches
    when it is among the ids and its label pairs include these: set operations,
    cheaper in the hot loops than :func:`selector_matches_host`.
    """
    return (
        frozenset(sel.host) if sel.host else None,
        frozenset(sel.labels.items()) if sel.labels else None,
    )


def sets_admit(sets: SelectorSets, host: str | None, labels: frozenset[tuple[str, str]]) -> bool:
    """Whether a host (its id, or None for a class no selector names, and its label
    pairs) meets a selector's :func:`selector_sets`, the zone matched already."""
    hosts, pairs = sets
    return (hosts is None or host in hosts) and (pairs is None or pairs <= labels)
