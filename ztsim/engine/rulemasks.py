"""A side of a policy's rule index as bitsets over the rules: :class:`ListMasks`.

:class:`~ztsim.engine.compiled.FlowJudge` finds a flow's candidate rules as the AND
of two such unions (the source's lists, the destination's) and the service's rules;
kept apart from :mod:`ztsim.engine.compiled` to hold that module to its size.
"""

from __future__ import annotations

from collections.abc import Callable

from ztsim.engine.classes import ClassKey
from ztsim.engine.reach import RuleLists
from ztsim.engine.targets import bitset_of

__all__ = ["ListMasks"]


class ListMasks:
    """The lists of one side's rule index (:class:`~ztsim.engine.reach.RuleIndex`) as
    bitsets over the rules, each made on first use."""

    __slots__ = ("_unconstrained", "by_host", "by_key", "by_pair", "by_zone", "index", "size")

    def __init__(self, index: Callable[[], RuleLists], size: int) -> None:
        self.index = index
        self.size = size
        self.by_zone: dict[str, int] = {}
        self.by_host: dict[str, int] = {}
        self.by_pair: dict[tuple[str, str], int] = {}
        #: :meth:`union` by (class, zone): flows and plan steps ask again of a class.
        self.by_key: dict[tuple[ClassKey, str], int] = {}
        self._unconstrained: int | None = None

    def unconstrained(self) -> int:
        """The rules whose selector requires nothing."""
        found = self._unconstrained
        if found is None:
            found = self._unconstrained = bitset_of(self.index()[3], self.size)
        return found

    def zone(self, zone: str) -> int:
        """The rules listed under ``zone``."""
        found = self.by_zone.get(zone)
        if found is None:
            found = self.by_zone[zone] = bitset_of(self.index()[0].get(zone, ()), self.size)
        return found

    def union(self, key: ClassKey, zone: str) -> int:
        """The rules listed where a class ``key`` in ``zone`` may be matched (as
        :func:`~ztsim.engine.reach.index_lists` finds them): a superset of those whose
        selector matches it."""
        known = self.by_key.get((key, zone))
        if known is None:
            known = self.by_key[(key, zone)] = self._union(key, zone)
        return known

    def _union(self, key: ClassKey, zone: str) -> int:
        out = self.unconstrained() | self.zone(zone)
        if key.host is not None:
            found = self.by_host.get(key.host)
            if found is None:
                found = bitset_of(self.index()[1].get(key.host, ()), self.size)
                self.by_host[key.host] = found
            out |= found
        by_pair = self.by_pair
        for p in key.labels:
            found = by_pair.get(p)
            if found is None:
                found = by_pair[p] = bitset_of(self.index()[2].get(p, ()), self.size)
            out |= found
        return out
