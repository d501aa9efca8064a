"""Egress decisions on single flows: a host to an external destination (spec §4).

:class:`EgressJudge` is the part of a :class:`~ztsim.engine.compiled.CompiledPolicy`
that answers "may this host send out to this destination on this service, and by
which rule?": the first egress rule (in order) covering the destination and the
service whose `from` matches the host, else the default.  Rules are indexed by
their `to` patterns and by the zones of their `from`, so a decision scans only the
rules that could match; a layered section or a CIDR destination (model v1.1) is
judged by a :class:`~ztsim.engine.layers.LayerPlan`.  The fixpoint's question, for
every host at once, is swept in :mod:`ztsim.engine.egresshosts`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from ztsim.engine.classes import Classes, ClassKey
from ztsim.engine.decisions import Decision, SelectorSets, ranges_cover, sets_admit
from ztsim.engine.egresshosts import HostBits, allowed_hosts
from ztsim.engine.layers import LayerPlan
from ztsim.engine.targets import bitset_of, iter_bits
from ztsim.inputs.loaded import LoadedTopology
from ztsim.model.destinations import Intervals, block_intervals, intersect, union
from ztsim.model.matching import destination_touched
from ztsim.model.schema import EgressRule, EgressSection
from ztsim.model.selectors import Selector
from ztsim.model.services import PortRange

__all__ = ["EGRESS_TOPOLOGY_DENY", "SWEEP_AFTER", "EgressJudge"]

#: Egress to a destination that does not serve the service: the topology forbids it.
EGRESS_TOPOLOGY_DENY = Decision(False, "topology", "topology", "egress")
#: :meth:`EgressJudge.allowed` sweeps after this many questions per host of the
#: topology.  Where hosts share classes, a policy asks few (one per class holding
#: code execution) and a sweep's pass over every host would cost more than them
#: all; where hosts barely share a class it asks several per host, and the pass
#: is soon paid for.  The benchmark families: ``benchmarks/README.md``, session 22.
SWEEP_AFTER = 0.125
#: An FQDN destination as an address set: one point (model v1.1's CIDR walk).
_POINT: Intervals = (0, ((0, 0),))


#: Egress rules by `to` pattern: ``*``, exact names, and ``*.S`` by ``.S``.
_EgressIndex = tuple[list[int], dict[str, list[int]], dict[str, list[int]]]


class EgressJudge:
    """Egress decisions on single flows (a host to an external destination), memoised
    per flow and per source class."""

    __slots__ = (
        "_asked",
        "_covers",
        "_hosts",
        "_index",
        "_open",
        "_plan",
        "_section",
        "_sweep_after",
        "_to_masks",
        "_zone_masks",
        "by_class",
        "by_destination",
        "by_flow",
        "by_zone",
        "cidr_dests",
        "default_allow",
        "from_sel",
        "groups",
        "layered",
        "ranges",
        "rules",
        "source_class",
        "topology",
    )

    def __init__(
        self,
        topology: LoadedTopology,
        classes: Classes,
        rules: tuple[EgressRule, ...],
        ranges: list[tuple[PortRange, ...]],
        *,
        default_allow: bool,
        sets_of: Callable[[Selector], SelectorSets],
        section: EgressSection | None = None,
    ) -> None:
        self.topology = topology
        self.groups = classes.groups
        self.source_class = classes.sources.of
        self.rules = rules
        # Model v1.1: a layered section, and CIDR destinations, are judged by a
        # LayerPlan (built on first use) over address intervals; v1 takes the scan below.
        self._section = section if section is not None else EgressSection(rules=list(rules))
        self.layered = self._section.layered
        self.cidr_dests = frozenset(e.id for e in topology.model.external if e.cidr is not None)
        self._plan: LayerPlan | None = None
        self._covers: dict[tuple[int, str], Intervals] = {}
        self.ranges = ranges
        self.default_allow = default_allow
        #: Each egress rule's `from` as sets.
        self.from_sel = [sets_of(r.source) for r in rules]
        #: The hosts as bits, and per (destination, service) the hosts egress lets
        #: out (:meth:`allowed`), built on first use.
        self._hosts: HostBits | None = None
        self._open: dict[tuple[str, str], bytes | None] = {}
        #: Questions :meth:`allowed` answered class by class, and how many before it sweeps.
        self._asked = 0
        self._sweep_after = int(len(topology.hosts) * SWEEP_AFTER)
        #: Decisions by (host, destination, service).
        self.by_flow: dict[tuple[str, str, str], Decision] = {}
        #: Decisions by (source class, destination, service).
        self.by_class: dict[tuple[ClassKey, str, str], Decision] = {}
        #: Rules covering a (destination, service), and of those the ones whose
        #: `from` zone may match, by (destination, service, source zone).
        self.by_destination: dict[tuple[str, str], list[int]] = {}
        self.by_zone: dict[tuple[str, str, str], list[int]] = {}
        self._index: _EgressIndex | None = None
        #: :meth:`_rules_to` as a bitset over the rules, by (destination, service).
        self._to_masks: dict[tuple[str, str], int] = {}
        #: The rules whose `from` zone may match a host of a zone, as bitsets: those
        #: naming no zone, and per zone those naming it (built on first use).
        self._zone_masks: tuple[list[int], dict[str, list[int]], dict[str, int]] | None = None

    def egress(self, host: str, destination: str, service: str) -> Decision:
        """Decide egress from a host to an external destination on one of its services."""
        key = (host, destination, service)
        known = self.by_flow.get(key)
        if known is None:
            known = self.by_flow[key] = self._egress(host, destination, service)
        return known

    def egress_class(self, host_id: str, destination: str, service: str) -> Decision:
        """Egress decision memoised per source class (hosts of a class share it)."""
        ck = self.source_class(host_id)
        key = (ck, destination, service)
        known = self.by_class.get(key)
        if known is None:
            known = self.by_class[key] = self.egress(host_id, destination, service)
        return known

    def allowed(self, host: str, destination: str, service: str) -> bool:
        """Whether egress lets ``host`` out to ``destination`` on ``service``: the
        decision's ``allowed``.

        Asked host class by host class at first (:meth:`egress_class`).  Once this
        policy has been asked :data:`SWEEP_AFTER` times per host of the topology
        (hosts that barely share a class), each (destination, service) is answered
        from one first-match sweep over bitsets of hosts
        (:mod:`ztsim.engine.egresshosts`), then a bit test per host: the sweep costs
        a pass over the hosts, which the questions asked so far have paid for (where
        classes are few, it would cost more than all of them).  A layered section or
        a CIDR destination (model v1.1) is always judged class by class.  Both ways
        give the same answer.
        """
        key = (destination, service)
        swept = self._open.get(key)
        if swept is None:
            self._asked += 1
            if key not in self._open and self._asked > self._sweep_after:
                swept = self._open[key] = self._sweep(destination, service)
            if swept is None:
                return self.egress_class(host, destination, service).allowed
        assert self._hosts is not None
        i = self._hosts.index[host]
        return bool(swept[i >> 3] >> (i & 7) & 1)

    def _sweep(self, destination: str, service: str) -> bytes | None:
        """:meth:`allowed` for every host at once, as bytes (bit ``i`` of byte
        ``i // 8`` for host ``i``); ``None`` where a plan judges (layers, CIDR blocks,
        label expressions not lowered)."""
        if self.layered or destination in self.cidr_dests:
            return None
        if any(r.source.labels_match for r in self.rules):
            return None
        selectors = [r.source for r in self.rules]
        hosts = self._hosts
        if hosts is None:
            hosts = self._hosts = HostBits(list(self.topology.hosts), self.groups, selectors)
        if service not in self.topology.destinations[destination].services:
            bits = 0
        else:
            bits = allowed_hosts(
                hosts,
                selectors,
                [r.action == "allow" for r in self.rules],
                self._rules_to(destination, service),
                self.default_allow,
            )
        return bits.to_bytes((hosts.size + 7) >> 3, "little")

    def _egress(self, host: str, destination: str, service: str) -> Decision:
        if service not in self.topology.destinations[destination].services:
            return EGRESS_TOPOLOGY_DENY
        return self.first_match(host, destination, service)

    def first_match(self, host: str, destination: str, service: str) -> Decision:
        """The policy's egress decision on ``service`` whether or not the destination
        serves it: the first egress rule covering the destination and the service whose
        `from` matches the host, else the default (``reach --all-ports`` asks this)."""
        if self.layered or destination in self.cidr_dests:
            return self._by_plan(host, destination, service)
        # Only the rules whose services and patterns cover this destination, and
        # whose `from` zone is the host's (or any), can decide.
        cands = self._candidates(destination, service, self.topology.hosts[host].zone)
        esel = self.from_sel
        labels = self.groups[host][1]
        for i in cands:  # their `from` zone matches: check its hosts and labels
            if sets_admit(esel[i], host, labels):
                r = self.rules[i]
                return Decision(r.action == "allow", r.id, "rule", "egress")
        return Decision(self.default_allow, "default", "default", "egress")

    def _by_plan(self, host: str, destination: str, service: str) -> Decision:
        """:meth:`first_match` of model v1.1: layers and tiers, and CIDR blocks (some
        address allowed by every layer, :meth:`LayerPlan.block`)."""
        plan = self._plan
        if plan is None:
            plan = self._plan = LayerPlan.of("egress", self._section)
        cands = self._candidates(destination, service, self.topology.hosts[host].zone)
        esel, labels = self.from_sel, self.groups[host][1]
        hits = [
            (i, self._cover(i, destination)) for i in cands if sets_admit(esel[i], host, labels)
        ]
        cidr = self.topology.destinations[destination].cidr
        return plan.block(_POINT if cidr is None else block_intervals(cidr), hits)

    def _candidates(self, destination: str, service: str, zone: str) -> list[int]:
        """The rules (in order) covering ``destination`` and ``service`` whose `from`
        zone may be ``zone``: memoised per (destination, service, zone).

        The AND of two bitsets over the rules (the destination's, the zone's), not
        a filter of the destination's rules per zone: zones and rules both grow
        with the estate, and the filter made their product.
        """
        key = (destination, service, zone)
        cands = self.by_zone.get(key)
        if cands is None:
            to_mask = self._to_masks.get(key[:2])
            if to_mask is None:
                to_mask = bitset_of(self._rules_to(destination, service), len(self.rules))
                self._to_masks[key[:2]] = to_mask
            cands = self.by_zone[key] = list(iter_bits(to_mask & self._zone_mask(zone)))
        return cands

    def _zone_mask(self, zone: str) -> int:
        """The rules whose `from` names no zone or names ``zone``, as a bitset."""
        masks = self._zone_masks
        if masks is None:
            anywhere: list[int] = []
            named: dict[str, list[int]] = defaultdict(list)
            for i, r in enumerate(self.rules):
                zones = r.source.zone
                if zones is None:
                    anywhere.append(i)
                else:
                    for z in zones:
                        named[z].append(i)
            masks = self._zone_masks = (anywhere, dict(named), {})
        anywhere, named, done = masks
        found = done.get(zone)
        if found is None:
            found = done[zone] = bitset_of([*anywhere, *named.get(zone, ())], len(self.rules))
        return found

    def _cover(self, i: int, destination: str) -> Intervals:
        """The addresses of a destination that rule ``i``'s `to` covers (an FQDN
        destination is one point, covered whole by the rules that cover it)."""
        key = (i, destination)
        found = self._covers.get(key)
        if found is None:
            cidr = self.topology.destinations[destination].cidr
            if cidr is None:
                found = _POINT
            else:
                block = block_intervals(cidr)
                r = self.rules[i]
                found = (
                    block
                    if "*" in r.names
                    else union([intersect(block, p.intervals) for p in r.blocks], block[0])
                )
            self._covers[key] = found
        return found

    def _rules_to(self, destination: str, service: str) -> list[int]:
        """Egress rules (in order) whose services and `to` patterns cover a destination."""
        key = (destination, service)
        found = self.by_destination.get(key)
        if found is None:
            dest = self.topology.destinations[destination]
            if dest.fqdn is None:  # a CIDR block (model v1.1): rules meeting part of it
                found = self.by_destination[key] = [
                    i
                    for i, r in enumerate(self.rules)
                    if ranges_cover(self.ranges[i], service)
                    and any(destination_touched(p, dest) for p in r.to)
                ]
                return found
            if self._index is None:
                self._index = _index_egress(self.rules)
            star, exact, suffix = self._index
            fqdn = dest.fqdn
            # The patterns covering `fqdn` (fqdn_covers): `*`, the name itself, and
            # `*.S` for every suffix `.S` of it.
            lists = [star, exact.get(fqdn, [])]
            lists += [suffix.get(fqdn[i:], []) for i, ch in enumerate(fqdn) if ch == "."]
            ranges = self.ranges
            found = [i for i in sorted(set().union(*lists)) if ranges_cover(ranges[i], service)]
            self.by_destination[key] = found
        return found


def _index_egress(rules: Iterable[EgressRule]) -> _EgressIndex:
    """Egress rules by `to` pattern: ``*``, exact names, and ``*.S`` by ``.S``."""
    star: list[int] = []
    exact: dict[str, list[int]] = defaultdict(list)
    suffix: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rules):
        for p in r.names:
            if p == "*":
                star.append(i)
            elif p.startswith("*."):
                suffix[p[1:]].append(i)
            else:
                exact[p].append(i)
    return star, dict(exact), dict(suffix)
