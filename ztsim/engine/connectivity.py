"""The allowed-connectivity map of a policy (``ztsim reach``): who may open what to whom.

A segmentation map (what np-guard's netpol-analyzer calls a connlist): for each
ordered pair of endpoints, the services the policy allows and the decision
(:class:`~ztsim.engine.decisions.Decision`) behind each.  Sources are hosts and
external zones; destinations are hosts and external destinations (egress).  A
host reaching itself (always allowed, spec §4) is left out.

Two modes:

* default: the services each destination serves, decided as ``check`` decides a
  flow (:meth:`~ztsim.engine.compiled.CompiledPolicy.flow`), so only public
  services from an external zone; egress by
  :meth:`~ztsim.engine.compiled.CompiledPolicy.egress_class`;
* ``all_ports``: the policy's own decision on every port of every protocol,
  whether or not something listens or is public (spec §4 rules 3 to 5, and the
  egress rules): what Kubernetes reports.  Ports are taken a stretch at a time:
  the stretches no candidate rule of the source splits.  Egress by
  :meth:`EgressJudge.first_match <ztsim.engine.compiled.EgressJudge.first_match>`
  (its decision without the destination-service gate).

How the map is built: row by row, on bitsets, never pair by pair.  The
destinations are *cells* (:mod:`ztsim.engine.mapcells`): (destination class,
service, public) groups in the default mode, destination classes with
``all_ports``; each rule's cells are a bitset (:func:`~ztsim.engine.reach.rule_masks`
of a :class:`~ztsim.engine.reach.BulkReach` over them).  Each source class (or
external zone) gets a row: spec §4's first match (``intra_zone``, the rules its
`from` matches in file order, the default) over the cells, as a few (decision,
cells) pairs (:mod:`ztsim.engine.maprows`: the rules many classes share swept once
per set of shared label pairs, a row adding the cells its own rules take; a
layered section per layer, crossed).  With ``all_ports`` a row holds such pairs per
stretch of ports.  Sources whose `from` matches the same rules (and, under
``intra_zone: allow``, in the same zone) share a row.  Egress is decided once per
class of what egress `from` selectors can tell apart.

A row is expanded to host pairs only as it is read (:meth:`PolicyMap.connections`,
which every format uses): each destination host's cells looked up in the row's
decisions.  :meth:`PolicyMap.count` reads the rows without listing pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterator

from ztsim.engine.classes import ClassKey, selectors_features
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.decisions import Decision
from ztsim.engine.endpoints import Scope
from ztsim.engine.mapcells import (
    PROTOCOLS,
    Allowed,
    Cells,
    Connection,
    Grant,
    PolicyMap,
    Row,
    Seg,
    Span,
    covers,
    merge_ranges,
    starts,
    stretches,
)
from ztsim.engine.maprows import Base, Part, layered_part, row_part
from ztsim.engine.reach import BulkReach, RuleLists, candidates
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.matching import destination_touched
from ztsim.model.services import ANY_SERVICE, PortRange, TransportProtocol, parse_service

__all__ = [
    "PROTOCOLS",
    "Allowed",
    "Connection",
    "Grant",
    "PolicyMap",
    "merge_ranges",
    "reach_map",
]

_TOP = 65535

#: The shared label pairs of a source class (see :meth:`BulkReach._shared`).
Pairs = frozenset[tuple[str, str]]


class _Builder:
    """Works out one policy's map: a row per source class (see the module's docstring)."""

    def __init__(
        self, topology: LoadedTopology, policy: LoadedPolicy, all_ports: bool, scope: Scope
    ) -> None:
        self.topology = topology
        self.all_ports = all_ports
        self.scope = scope
        self.compiled = compiled = CompiledPolicy(policy, topology)
        rule_order = {("segmentation", r.id): i for i, r in enumerate(compiled.seg_rules)}
        rule_order.update({("egress", r.id): i for i, r in enumerate(compiled.egress_rules)})
        self.externals = scope.target_externals(topology)
        self.cells = cells = Cells(
            topology,
            policy,
            scope.target_hosts(topology),
            self.externals,
            compiled.dest_class,
            all_ports,
            rule_order,
        )
        reach = compiled._reach
        # The rules' masks over the cells: the bulk reach of the fixpoint, on them.
        self.bulk = bulk = BulkReach(
            reach.rule_index,
            [(ANY_SERVICE,)] * len(compiled.seg_rules) if all_ports else compiled.seg_ranges,
            cells.groups,
            compiled.source_class,
            reach.from_sel,
            reach.allows,
            reach.default_allow,
            reach.intra_zone_allow,
            reach.plan,
        )
        self.masks = bulk.masks()
        self.extras: RuleLists
        self.extras, self.shared, _ = bulk._shared()
        index, from_sel = bulk.index(), bulk.from_sel
        #: The rules every class shares, and those of each shared label pair alone.
        self.any_rules = [i for i in index[3] if from_sel[i] == (None, None)]
        self.pure = {
            p: [i for i in index[2][p] if from_sel[i] == (None, frozenset((p,)))]
            for p in self.shared
        }
        self.decide = [Decision(r.action == "allow", r.id, "rule") for r in compiled.seg_rules]
        self.default = Decision(compiled.seg_default_allow, "default", "default")
        self.bases: dict[tuple[Pairs, Span | None], Base] = {}
        #: ``all_ports``: a stretch's decisions by its base, the extras covering it and
        #: the zone ``intra_zone`` allows (rows differing elsewhere share them).
        self.parts: dict[tuple[int, tuple[int, ...], str | None], Part | None] = {}
        self.base_lists: dict[Pairs, list[int]] = {}
        self.atoms: dict[Pairs, dict[TransportProtocol, list[int]]] = {}
        # What egress rules can tell of a source class (their `from`'s pairs and hosts).
        self.egress_sees = selectors_features(r.source for r in compiled.egress_rules)
        #: The egress stretches of each external destination.
        self.stretches: dict[str, list[Span]] = {}

    # ------------------------------------------------------------------ rows

    def build(self) -> PolicyMap:
        """The map: a row per source class (or external zone), shared where equal."""
        segs: dict[Hashable, Seg] = {}
        egresses: dict[Hashable, tuple[tuple[str, Allowed], ...]] = {}
        numbers: dict[tuple[int, int], int] = {}
        rows: list[Row] = []
        order: dict[str, int] = {}
        pairs, named = self.egress_sees
        for skey, members in self.source_groups().items():
            seg = self.seg(skey, segs)
            egress: tuple[tuple[str, Allowed], ...] = ()
            if not isinstance(skey, str) and self.externals:
                # Classes alike to every egress `from` share their egress decisions.
                ekey = (skey.zone, skey.labels & pairs, skey.host if skey.host in named else None)
                found = egresses.get(ekey)
                if found is None:
                    found = egresses[ekey] = tuple(self.egress_row(members[0]))
                egress = found
            key = (id(seg), id(egress))
            n = numbers.get(key)
            if n is None:
                n = numbers[key] = len(rows)
                rows.append(Row(seg, egress))
            for s in members:
                order[s] = n
        return PolicyMap(
            self.cells.policy, self.all_ports, dict(sorted(order.items())), rows, self.cells
        )

    def source_groups(self) -> dict[ClassKey | str, list[str]]:
        """Source hosts by class, then each external zone on its own (its id as key)."""
        groups: dict[ClassKey | str, list[str]] = defaultdict(list)
        of = self.compiled.source_class
        for h in self.scope.source_hosts(self.topology):
            groups[of(h)].append(h)
        for z in self.scope.source_zones(self.topology):
            groups[z].append(z)
        return groups

    def admits(self, i: int, source: ClassKey | str) -> bool:
        """Whether rule ``i``'s `from` matches a source class (or external zone), its
        zone matched already (an index lists the rule under it)."""
        hosts, pairs = self.bulk.from_sel[i]
        if isinstance(source, str):  # only zone or any selectors match an external zone
            return hosts is None and pairs is None
        return (hosts is None or source.host in hosts) and (pairs is None or pairs <= source.labels)

    def seg(self, source: ClassKey | str, memo: dict[Hashable, Seg]) -> Seg:
        """A source's decisions on host cells, shared by the sources whose `from`
        matches the same rules (in the same zone under ``intra_zone: allow``)."""
        cells = self.cells.groups
        if not self.cells.size:
            return None
        ext = isinstance(source, str)
        key = self.shared & (frozenset() if isinstance(source, str) else source.labels)
        extras = [i for i in candidates(self.extras, source) if self.admits(i, source)]
        zone = None
        if not isinstance(source, str) and self.compiled.intra_zone_allow:
            zone = source.zone
        memo_key = (key, tuple(extras), zone, ext)
        if memo_key in memo:
            return memo[memo_key]
        # From an external zone only public services are served (spec §4).
        start = cells.public_mask if ext and not self.all_ports else cells.full
        intra = 0 if zone is None else cells.zone_mask.get(zone, 0)
        found: Seg
        if self.all_ports:
            found = self.seg_stretches(key, extras, start, (zone, intra))
        elif self.bulk.plan is not None:
            hits = [(i, self.masks[i]) for i in sorted(self.base_rules(key) + extras)]
            found = layered_part(self.bulk.plan, hits, start, intra, self.cells.size)
        else:
            found = row_part(
                self.base(key),
                extras,
                self.masks,
                self.decide.__getitem__,
                start,
                cells.full,
                intra,
            )
        memo[memo_key] = found
        return found

    def base_rules(self, key: Pairs) -> list[int]:
        """The shared rules of the classes with the shared label pairs ``key``, in order."""
        found = self.base_lists.get(key)
        if found is None:
            found = sorted(self.any_rules + [i for p in key for i in self.pure[p]])
            self.base_lists[key] = found
        return found

    def base(self, key: Pairs, span: Span | None = None) -> Base:
        """The sweep of ``key``'s shared rules (those covering ``span``, a stretch no
        shared rule splits, when given)."""
        found = self.bases.get((key, span))
        if found is None:
            rules = self.base_rules(key)
            if span is not None:
                ranges = self.compiled.seg_ranges
                rules = [i for i in rules if covers(ranges[i], span)]
            cells = self.cells
            found = Base(
                rules,
                self.masks,
                cells.groups.full,
                cells.size,
                self.decide.__getitem__,
                self.default,
            )
            self.bases[(key, span)] = found
        return found

    def seg_stretches(
        self, key: Pairs, extras: list[int], start: int, intra: tuple[str | None, int]
    ) -> tuple[tuple[Span, Part], ...]:
        """``all_ports``: a source's decisions per stretch of ports that none of its
        candidate rules splits (stretches allowing nothing left out); ``intra`` the
        zone and cells ``intra_zone: allow`` decides."""
        if self.bulk.plan is not None:
            rules = sorted(self.base_rules(key) + extras)
            return self.layered_stretches(rules, start, intra[1])
        # The stretches of the shared rules (their bases), split by the extras'.
        atoms = self.base_atoms(key)
        ranges, masks, parts = self.compiled.seg_ranges, self.masks, self.parts
        full, decide = self.cells.groups.full, self.decide.__getitem__
        out: list[tuple[Span, Part]] = []
        for proto in PROTOCOLS:
            for span, atom, cover in _covered(proto, atoms[proto], extras, ranges):
                base = self.base(key, atom)
                # start is every cell here: the base, the cover and the zone decide.
                memo = (id(base), tuple(cover), intra[0])
                if memo in parts:
                    part = parts[memo]
                else:  # None: the stretch allows nothing
                    made = row_part(base, cover, masks, decide, start, full, intra[1])
                    part = parts[memo] = made if made.allowed else None
                if part is not None:
                    out.append((span, part))
        return tuple(out)

    def layered_stretches(
        self, rules: list[int], start: int, intra: int
    ) -> tuple[tuple[Span, Part], ...]:
        """:meth:`seg_stretches` of a layered section: every candidate swept per stretch."""
        assert self.bulk.plan is not None
        ranges, masks = self.compiled.seg_ranges, self.masks
        out: list[tuple[Span, Part]] = []
        for span in stretches(r for i in rules for r in ranges[i]):
            hits = [(i, masks[i]) for i in rules if covers(ranges[i], span)]
            part = layered_part(self.bulk.plan, hits, start, intra, self.cells.size)
            if part.allowed:
                out.append((span, part))
        return tuple(out)

    def base_atoms(self, key: Pairs) -> dict[TransportProtocol, list[int]]:
        """Where the stretches of ``key``'s shared rules start, per protocol (sorted)."""
        found = self.atoms.get(key)
        if found is None:
            ranges = self.compiled.seg_ranges
            points = starts(r for i in self.base_rules(key) for r in ranges[i])
            found = self.atoms[key] = {p: sorted(points[p]) for p in PROTOCOLS}
        return found

    # ------------------------------------------------------------------ egress

    def egress_row(self, host: str) -> list[tuple[str, Allowed]]:
        """What a source class (``host`` one of it) may open to each external destination."""
        out: list[tuple[str, Allowed]] = []
        allowed = self.cells.allowed
        for e in self.externals:
            if self.all_ports:
                judge = self.compiled._egress
                found = allowed(
                    (span, judge.first_match(host, e, f"{span[1]}/{span[0]}"))
                    for span in self.egress_stretches(e)
                )
            else:
                spans = []
                for service in self.topology.destinations[e].services:
                    svc = parse_service(service)
                    decision = self.compiled.egress_class(host, e, service)
                    spans.append(((svc.proto, svc.port, svc.port), decision))
                found = allowed(spans)
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
            known = self.stretches[destination] = stretches(ranges)
        return known


def _covered(
    proto: TransportProtocol,
    bounds: list[int],
    extras: list[int],
    ranges: list[tuple[PortRange, ...]],
) -> Iterator[tuple[Span, Span, list[int]]]:
    """The stretches of ``proto`` that neither the shared rules' stretches (starting at
    ``bounds``) nor the ``extras``' ranges split: each with the shared rules' stretch
    holding it and the extras covering it, in order."""
    # Where each extra's ranges open and close (a count: ranges of one rule may
    # overlap), so a stretch's cover is kept up to date, not searched.
    events: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for k, e in enumerate(extras):
        for r in ranges[e]:
            if r.proto == "*" or r.proto == proto:
                events[r.low].append((k, 1))
                if r.high < _TOP:
                    events[r.high + 1].append((k, -1))
    count = [0] * len(extras)
    cover: list[int] = []
    at = 0
    lows = sorted(events.keys() | set(bounds))
    for low, high in zip(lows, [*(p - 1 for p in lows[1:]), _TOP], strict=True):
        changes = events.get(low)
        if changes:
            for k, step in changes:
                count[k] += step
            cover = [e for e, n in zip(extras, count, strict=True) if n]
        while at + 1 < len(bounds) and bounds[at + 1] <= low:
            at += 1
        top = bounds[at + 1] - 1 if at + 1 < len(bounds) else _TOP
        yield (proto, low, high), (proto, bounds[at], top), cover


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
