"""The allowed-connectivity map of a policy (``ztsim reach``): who may open what to whom.

A segmentation map (what np-guard's netpol-analyzer calls a connlist): for each
ordered pair of endpoints, the services the policy allows and the decision
(:class:`~ztsim.engine.decisions.Decision`) behind each.  Sources are hosts and
external zones; destinations are hosts and external destinations (egress).  A
host reaching itself (always allowed, spec §4) is left out.

Two modes:

* default: the services each destination serves, judged as ``check`` judges a
  flow (:meth:`~ztsim.engine.compiled.CompiledPolicy.flow` and
  :meth:`~ztsim.engine.compiled.CompiledPolicy.egress_class`, the very calls), so
  only public services from an external zone;
* ``all_ports``: the policy's own decision on every port of every protocol,
  whether or not something listens or is public (spec §4 rules 3 to 5, and the
  egress rules): what Kubernetes reports.  Past ``intra_zone``, a segmentation
  flow is decided by the compiled policy's first-match code
  (:class:`~ztsim.engine.compiled.FlowJudge`) at one port of each stretch of
  ports that no candidate rule splits; egress likewise by the
  :meth:`EgressJudge.first_match <ztsim.engine.compiled.EgressJudge.first_match>`
  (its decision without the destination-service gate).

Hosts no selector tells apart (one equivalence class, :mod:`ztsim.engine.classes`)
are judged once: a decision is worked out per (source class, destination class
and what it serves), and the map is expanded to host pairs only as it is read
(:meth:`PolicyMap.connections`): the output itself is per pair.  A pair of classes
is judged only where something can be allowed: an allow rule matches both sides,
they share a zone under ``intra_zone: allow``, or the default allows (the rule
index of :mod:`ztsim.engine.reach` finds the candidates, bitsets of destination
groups combine them).  Every judged pair still costs one call of the judge per
service (per stretch of ports with ``all_ports``).
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ztsim.engine.classes import ClassKey
from ztsim.engine.compiled import CompiledPolicy, EgressJudge, FlowJudge
from ztsim.engine.decisions import Decision, selector_sets, sets_admit
from ztsim.engine.endpoints import Scope
from ztsim.engine.reach import RuleIndex, candidates, index_lists
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.matching import destination_touched
from ztsim.model.services import PortRange, TransportProtocol, parse_service

__all__ = [
    "PROTOCOLS",
    "Allowed",
    "Connection",
    "Grant",
    "PolicyMap",
    "merge_ranges",
    "reach_map",
]

#: Every transport protocol of the model, in the order services are listed.
PROTOCOLS: tuple[TransportProtocol, ...] = ("tcp", "udp", "sctp", "icmp")
_RANK = {p: i for i, p in enumerate(PROTOCOLS)}
_TOP = 65535

#: A stretch of ports of one protocol: (protocol, low, high).
Span = tuple[TransportProtocol, int, int]


class Grant(NamedTuple):
    """What one decision allows on a connection: the services and where it is written."""

    decision: Decision
    services: tuple[PortRange, ...]
    #: ``FILE:LINE`` of the deciding rule (or of the ``default`` / ``intra_zone`` key);
    #: the policy file alone where no line is known.
    location: str


class Allowed(NamedTuple):
    """Everything a source may open to a destination: shared by every pair of hosts
    of the same classes (rendered once per object, not per pair)."""

    services: tuple[PortRange, ...]
    #: In spec §4's order: ``intra_zone``, then rules in file order, then ``default``.
    grants: tuple[Grant, ...]


class Connection(NamedTuple):
    """One ordered pair with at least one allowed service."""

    source: str
    target: str
    allowed: Allowed


def merge_ranges(spans: Iterable[Span]) -> tuple[PortRange, ...]:
    """Spans of ports merged where they touch or overlap, sorted by protocol then port.

    >>> [str(r) for r in merge_ranges([("udp", 53, 53), ("tcp", 81, 90), ("tcp", 80, 80)])]
    ['80-90/tcp', '53/udp']
    """
    out: list[PortRange] = []
    for proto, low, high in sorted(spans, key=lambda s: (_RANK[s[0]], s[1], s[2])):
        last = out[-1] if out else None
        if last is not None and last.proto == proto and low <= last.high + 1:
            if high > last.high:
                out[-1] = PortRange(last.low, high, proto)
        else:
            out.append(PortRange(low, high, proto))
    return tuple(out)


@dataclass(frozen=True)
class PolicyMap:
    """The allowed-connectivity map of one policy, per class until read.

    ``rows[g]`` lists, sorted by destination id, what the sources of group ``g``
    may open; ``sources`` maps each source id (sorted) to its group.
    """

    policy: LoadedPolicy
    all_ports: bool
    sources: Mapping[str, int]
    rows: Sequence[Sequence[tuple[str, Allowed]]]

    def count(self) -> int:
        """How many connections :meth:`connections` yields, without listing them."""
        total = 0
        for source, group in self.sources.items():
            row = self.rows[group]
            at = bisect_left(row, source, key=_first)
            total += len(row) - (at < len(row) and row[at][0] == source)
        return total

    def connections(self) -> Iterator[Connection]:
        """Every connection, sorted by source then destination id (a host reaching
        itself left out)."""
        rows = self.rows
        for source, group in self.sources.items():
            for target, allowed in rows[group]:
                if target != source:
                    yield Connection(source, target, allowed)


def _stretches(ranges: Iterable[PortRange]) -> list[tuple[TransportProtocol, int, int]]:
    """The stretches of ports, per protocol, that none of ``ranges`` splits: a first
    match over these ranges decides each stretch alike."""
    starts: dict[TransportProtocol, set[int]] = {p: {0} for p in PROTOCOLS}
    for r in ranges:
        for proto in PROTOCOLS if r.proto == "*" else (r.proto,):
            starts[proto].add(r.low)
            if r.high < _TOP:
                starts[proto].add(r.high + 1)
    out: list[tuple[TransportProtocol, int, int]] = []
    for proto in PROTOCOLS:
        points = sorted(starts[proto])
        ends = [p - 1 for p in points[1:]] + [_TOP]
        out.extend((proto, low, high) for low, high in zip(points, ends, strict=True))
    return out


#: A group of destination hosts: class, zone, and (default mode) the services they
#: serve with whether each is public.
TargetKey = tuple[ClassKey, str, tuple[tuple[str, bool], ...]]

#: Every port of every protocol, as spans.
_EVERYTHING: tuple[Span, ...] = tuple((p, 0, _TOP) for p in PROTOCOLS)


class _Builder:
    """Works out one policy's map: decisions per pair of classes, then rows per
    source class (see the module's docstring)."""

    def __init__(
        self, topology: LoadedTopology, policy: LoadedPolicy, all_ports: bool, scope: Scope
    ) -> None:
        self.topology = topology
        self.policy = policy
        self.all_ports = all_ports
        self.scope = scope
        self.compiled = compiled = CompiledPolicy(policy, topology)
        # The compiled policy's judges: the first-match code `check` runs.
        self.flows: FlowJudge = compiled._flows
        self.egress: EgressJudge = compiled._egress
        self.locations: dict[Decision, str] = {}
        #: The egress stretches of each external destination.
        self.stretches: dict[str, list[Span]] = {}
        #: Each rule's place in its section, by (section, rule id).
        self.rule_order = {("segmentation", r.id): i for i, r in enumerate(compiled.seg_rules)}
        self.rule_order.update({("egress", r.id): i for i, r in enumerate(compiled.egress_rules)})
        #: One Allowed per distinct content, so renderers work once per object.
        self.interned: dict[tuple[tuple[Span, Decision], ...], Allowed] = {}

    # ------------------------------------------------------------------ grouping

    def source_groups(self) -> dict[ClassKey | str, list[str]]:
        """Source hosts by class, then each external zone on its own (its id as key)."""
        groups: dict[ClassKey | str, list[str]] = defaultdict(list)
        of = self.compiled.source_class
        for h in self.scope.source_hosts(self.topology):
            groups[of(h)].append(h)
        for z in self.scope.source_zones(self.topology):
            groups[z].append(z)
        return groups

    def target_groups(self) -> dict[TargetKey, list[str]]:
        """Destination hosts by class, zone and (default mode) what they serve."""
        groups: dict[TargetKey, list[str]] = defaultdict(list)
        of, hosts = self.compiled.dest_class, self.topology.hosts
        for h in self.scope.target_hosts(self.topology):
            host = hosts[h]
            offers = () if self.all_ports else tuple((s.service, s.public) for s in host.services)
            groups[(of(h), host.zone, offers)].append(h)
        return groups

    # ------------------------------------------------------------------ the map

    def build(self) -> PolicyMap:
        """The map: each source group's row, sorted by destination."""
        targets = list(self.target_groups().items())
        self.index_targets(targets)
        externals = self.scope.target_externals(self.topology)
        order: dict[str, int] = {}
        rows: list[list[tuple[str, Allowed]]] = []
        for skey, members in self.source_groups().items():
            src_zone = None if isinstance(skey, str) else self.topology.hosts[members[0]].zone
            row = self.seg_row(skey, src_zone, members, targets)
            if src_zone is not None:
                row.extend(self.egress_row(members[0], externals))
            row.sort(key=lambda entry: entry[0])
            for s in members:
                order[s] = len(rows)
            rows.append(row)
        return PolicyMap(self.policy, self.all_ports, dict(sorted(order.items())), rows)

    def index_targets(self, targets: list[tuple[TargetKey, list[str]]]) -> None:
        """Each destination group's candidate rules (a superset, from the rule index),
        and each allow rule's destination groups as a bitset (those its `to` matches,
        tested as :meth:`~ztsim.engine.compiled.FlowJudge.first_match` tests it)."""
        compiled = self.compiled
        index = RuleIndex(compiled.seg_rules, self.topology, compiled.classes.groups)
        self.by_source = index.by_source()
        by_dest = index.by_dest()
        self.from_sel = [selector_sets(r.source) for r in compiled.seg_rules]
        to_sel = [selector_sets(r.to) for r in compiled.seg_rules]
        allow = [r.action == "allow" for r in compiled.seg_rules]
        groups = compiled.classes.groups
        self.cands: list[set[int]] = []
        rule_groups: dict[int, list[int]] = defaultdict(list)
        zone_groups: dict[str, list[int]] = defaultdict(list)
        for g, ((key, zone, _), hosts) in enumerate(targets):
            found = set().union(*index_lists(by_dest, zone, key.host, key.labels))
            self.cands.append(found)
            zone_groups[zone].append(g)
            labels = groups[hosts[0]][1]
            for i in found:
                if allow[i] and sets_admit(to_sel[i], hosts[0], labels):
                    rule_groups[i].append(g)
        self.allow_bits = {i: _bits(gs) for i, gs in rule_groups.items()}
        self.zone_bits = {z: _bits(gs) for z, gs in zone_groups.items()}
        self.every = _bits(range(len(targets)))

    def seg_row(
        self,
        skey: ClassKey | str,
        src_zone: str | None,
        members: list[str],
        targets: list[tuple[TargetKey, list[str]]],
    ) -> list[tuple[str, Allowed]]:
        """What a source group may open to host destinations.

        Only destination groups where something can be allowed are judged: those an
        allow rule matching the source matches too, the source's zone with
        ``intra_zone: allow``, every one under a default allow.
        """
        compiled = self.compiled
        from_cands = set(candidates(self.by_source, skey))
        touched = self.touched(skey, from_cands)
        if src_zone is not None and compiled.intra_zone_allow:
            touched |= self.zone_bits.get(src_zone, 0)
        row: list[tuple[str, Allowed]] = []
        for g in _members(touched):
            (dkey, dzone, offers), dhosts = targets[g]
            if self.all_ports:
                ranges = [r for i in from_cands & self.cands[g] for r in compiled.seg_ranges[i]]
                found = self.seg_all_ports(skey, src_zone, dkey, dzone, dhosts[0], ranges)
            else:
                found = self.seg_served(members, dhosts, offers)
            if found is not None:
                row.extend((d, found) for d in dhosts)
        return row

    def touched(self, skey: ClassKey | str, from_cands: set[int]) -> int:
        """The destination groups some allow rule matching the source matches (all of
        them under a default allow), as a bitset."""
        plan = self.compiled.seg_plan
        if plan is not None:
            return self.touched_layered(skey, from_cands)
        touched = self.every if self.compiled.seg_default_allow else 0
        from_sel = self.from_sel
        for i in from_cands:
            bits = self.allow_bits.get(i)
            if bits is None:
                continue
            if isinstance(skey, str):  # an external zone: only zone or any match
                if from_sel[i] == (None, None):
                    touched |= bits
            elif sets_admit(from_sel[i], skey.host, skey.labels):
                touched |= bits
        return touched

    def touched_layered(self, skey: ClassKey | str, from_cands: set[int]) -> int:
        """:meth:`touched` of a layered section (model v1.1): a flow needs every layer
        to allow it, by an allow rule or its default, so the AND of the layers'."""
        plan = self.compiled.seg_plan
        assert plan is not None
        per_layer = [self.every if d else 0 for d in plan.defaults]
        from_sel = self.from_sel
        for i in from_cands:
            bits = self.allow_bits.get(i)
            if bits is None:
                continue
            if isinstance(skey, str):
                if from_sel[i] != (None, None):
                    continue
            elif not sets_admit(from_sel[i], skey.host, skey.labels):
                continue
            per_layer[plan.layer_of[i]] |= bits
        touched = self.every
        for bits in per_layer:
            touched &= bits
        return touched

    def seg_served(
        self, sources: list[str], targets: list[str], offers: tuple[tuple[str, bool], ...]
    ) -> Allowed | None:
        """The services a destination class serves that its sources may open (``flow``)."""
        pair = _distinct(sources, targets)
        if pair is None:
            return None  # a host alone with itself
        flow = self.compiled.flow
        s, d = pair
        found = []
        for service, _public in offers:
            decision = flow(s, d, service)
            if decision.allowed:
                svc = parse_service(service)
                found.append(((svc.proto, svc.port, svc.port), decision))
        return self.allowed(found)

    def seg_all_ports(
        self,
        skey: ClassKey | str,
        src_zone: str | None,
        dkey: ClassKey,
        dzone: str,
        target: str,
        ranges: list[PortRange],
    ) -> Allowed | None:
        """Every port the policy allows from a source class (or external zone) to a
        destination class: intra_zone, else the judge's first match per stretch."""
        if src_zone is not None and self.compiled.intra_zone_allow and src_zone == dzone:
            same = Decision(True, "intra_zone", "intra_zone")
            return self.allowed([(span, same) for span in _EVERYTHING])
        first_match = self.flows.first_match
        return self.allowed(
            [
                (span, first_match((skey, dkey, f"{span[1]}/{span[0]}"), target, dzone))
                for span in _stretches(ranges)
            ]
        )

    def egress_row(self, host: str, externals: list[str]) -> list[tuple[str, Allowed]]:
        """What a source class (``host`` one of it) may open to each external destination."""
        out: list[tuple[str, Allowed]] = []
        for e in externals:
            if self.all_ports:
                judge = self.egress
                found = self.allowed(
                    [
                        (span, judge.first_match(host, e, f"{span[1]}/{span[0]}"))
                        for span in self.egress_stretches(e)
                    ]
                )
            else:
                spans = []
                for service in self.topology.destinations[e].services:
                    svc = parse_service(service)
                    decision = self.compiled.egress_class(host, e, service)
                    spans.append(((svc.proto, svc.port, svc.port), decision))
                found = self.allowed(spans)
            if found is not None:
                out.append((e, found))
        return out

    def egress_stretches(self, destination: str) -> list[Span]:
        """The stretches of ports that no egress rule covering ``destination`` splits."""
        known = self.stretches.get(destination)
        if known is None:
            dest = self.topology.destinations[destination]
            compiled = self.compiled
            ranges = [
                r
                for rule, rs in zip(compiled.egress_rules, compiled.egress_ranges, strict=True)
                if any(destination_touched(p, dest) for p in rule.to)
                for r in rs
            ]
            known = self.stretches[destination] = _stretches(ranges)
        return known

    # ------------------------------------------------------------------ results

    def allowed(self, decided: Iterable[tuple[Span, Decision]]) -> Allowed | None:
        """The allowed spans of ``decided`` as one shared :class:`Allowed` (None: none)."""
        kept = tuple(sorted(((s, d) for s, d in decided if d.allowed), key=_span_order))
        if not kept:
            return None
        known = self.interned.get(kept)
        if known is None:
            by_decision: dict[Decision, list[Span]] = defaultdict(list)
            for span, decision in kept:
                by_decision[decision].append(span)
            grants = tuple(
                Grant(d, merge_ranges(spans), self.location(d))
                for d, spans in sorted(by_decision.items(), key=lambda kv: self.rank(kv[0]))
            )
            known = self.interned[kept] = Allowed(merge_ranges(s for s, _ in kept), grants)
        return known

    def rank(self, decision: Decision) -> tuple[int, int]:
        """Spec §4's order: intra_zone, then rules in file order, then the default."""
        if decision.reason == "rule":
            order = self.rule_order.get((decision.section, decision.rule_id))
            return (1, len(self.rule_order) if order is None else order)
        return (0, 0) if decision.reason in ("intra_zone", "self") else (2, 0)

    def location(self, decision: Decision) -> str:
        """``FILE:LINE`` of what decided (a rule, the ``default`` or ``intra_zone`` key)."""
        known = self.locations.get(decision)
        if known is None:
            pol = self.policy
            if decision.parts is not None and decision.allowed:
                # Every layer's rule named: a policy that places each (a Kubernetes
                # import: source's and destination's policies) says them all.
                known = pol.rule_location(decision.section, decision.rule)
            elif decision.reason == "rule" or decision.parts is not None:
                known = pol.rule_location(decision.section, decision.rule_id)
            else:
                key = "intra_zone" if decision.reason == "intra_zone" else "default"
                mark = pol.doc.node_mark((decision.section, key)) if pol.doc else None
                known = f"{pol.path}:{mark.line}" if mark else pol.path
            self.locations[decision] = known
        return known


def _first(entry: tuple[str, Allowed]) -> str:
    return entry[0]


def _span_order(item: tuple[Span, Decision]) -> tuple[int, int]:
    span = item[0]
    return (_RANK[span[0]], span[1])


def _bits(indices: Iterable[int]) -> int:
    """The bitset with ``indices`` set."""
    mask = bytearray()
    for i in indices:
        byte = i >> 3
        if byte >= len(mask):
            mask.extend(bytes(byte + 1 - len(mask)))
        mask[byte] |= 1 << (i & 7)
    return int.from_bytes(mask, "little")


def _members(bits: int) -> Iterator[int]:
    """The indices set in ``bits``, in increasing order."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def _distinct(sources: list[str], targets: list[str]) -> tuple[str, str] | None:
    """A source and a different destination (None when the only pair is a host and itself)."""
    s = sources[0]
    for d in targets:
        if d != s:
            return s, d
    if len(sources) > 1:
        return sources[1], targets[0]
    return None


def reach_map(
    topology: LoadedTopology,
    policy: LoadedPolicy,
    *,
    all_ports: bool = False,
    scope: Scope | None = None,
) -> PolicyMap:
    """The allowed-connectivity map of ``policy`` on ``topology``.

    ``all_ports``: the policy's decision on every port and protocol (else the
    services each destination serves); ``scope``: the sources and destinations
    covered (all when None).  Selectors are checked by the caller
    (:meth:`~ztsim.engine.endpoints.Scope.problems`).

    >>> from ztsim.inputs.loaded import reference_policy
    >>> from ztsim.inputs.loader import topology_from_text
    >>> topo = topology_from_text('''
    ... {ztsim: 1, kind: topology, name: t, zones: [{id: a}],
    ...  hosts: [{id: x, zone: a, services: [{service: 22/tcp}]}, {id: y, zone: a}],
    ...  entry_points: [{id: e, host: x}]}''', "t.yaml")
    >>> [(c.source, c.target, [str(s) for s in c.allowed.services])
    ...  for c in reach_map(topo, reference_policy()).connections()]
    [('y', 'x', ['22/tcp'])]
    """
    return _Builder(topology, policy, all_ports, scope or Scope()).build()
