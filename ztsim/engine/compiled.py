"""Policy evaluation: which flows and egress a policy allows (spec §4).

A :class:`CompiledPolicy` answers two kinds of question.

* One flow at a time (:meth:`CompiledPolicy.flow`, :meth:`CompiledPolicy.egress`),
  with the deciding rule, for traffic checks and plan verdicts.  Rules are indexed
  by (source zone, destination zone) so a decision scans only the rules that could
  match.
* Everything one attacker position can reach (:meth:`CompiledPolicy.reach`), for
  the fixpoint.  Hosts that no selector tells apart fall in one equivalence class;
  attack targets (a host's service with a vulnerability or a login) are grouped by
  destination class and service, and each rule is compiled to a bitset of the
  target groups it matches.  First-match over a source class is then a sweep of
  big-integer operations, and no host-to-host flow is ever materialised.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, cast

from ztsim.inputs.loader import LabelGroup, LoadedPolicy, LoadedTopology, label_pair_counts
from ztsim.model.schema import EgressRule, Host, Policy, SegmentationRule
from ztsim.model.selectors import Selector
from ztsim.model.services import PortRange, parse_service
from ztsim.perf.dedupe import PerObject

__all__ = [
    "CompiledPolicy",
    "Decision",
    "LabelGroup",
    "LayoutGroup",
    "TargetGroups",
    "TargetLayout",
    "TargetsByGroup",
    "bitset_of",
    "fqdn_covers",
    "host_label_groups",
    "iter_bits",
    "layout_of",
    "selector_matches_host",
    "selector_matches_zone",
    "target_layout",
]

Reason = Literal["rule", "default", "topology", "self", "intra_zone"]


class Decision(NamedTuple):
    """The verdict on one flow, and what decided it.

    ``rule`` is what spec §7 reports: the rule id, ``default`` or ``topology``
    (``self`` and ``intra_zone`` for flows that skip the rules).  A named tuple:
    judging builds one per flow asked about and keys memos by it, and a frozen
    dataclass built, hashed and compared them in Python.
    """

    allowed: bool
    rule: str
    reason: Reason
    section: Literal["segmentation", "egress"] = "segmentation"

    def describe(self, policy: LoadedPolicy | None = None) -> str:
        """A short human explanation, naming the rule's FILE:LINE when known."""
        verb = "allowed" if self.allowed else "denied"
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


TOPOLOGY_DENY = Decision(False, "topology", "topology")


def iter_bits(mask: int) -> Iterator[int]:
    """Yield the indices of the set bits of ``mask``, lowest first.

    >>> list(iter_bits(0b10110))
    [1, 2, 4]
    """
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def bitset_of(bits: Iterable[int], size: int) -> int:
    """The bitset with these bits set (each below ``size``), built in one go.

    >>> bin(bitset_of([0, 3], 4))
    '0b1001'
    """
    buf = bytearray((size + 7) >> 3)
    for i in bits:
        buf[i >> 3] |= 1 << (i & 7)
    return int.from_bytes(buf, "little")


def fqdn_covers(pattern: str, destination: str) -> bool:
    """Whether an egress pattern covers a destination name (spec §4).

    ``*`` covers everything; ``a.b`` only ``a.b``; ``*.b`` any ``x.b``, ``*.x.b``
    and ``*.b``.  An exact pattern never covers a wildcard destination: the
    attacker would pick another name under it.

    >>> fqdn_covers("*.example", "*.files.example"), fqdn_covers("a.example", "*.example")
    (True, False)
    """
    p = pattern.lower()
    d = destination.lower()
    if p == "*":
        return True
    if p.startswith("*."):
        return d.endswith(p[1:])
    return p == d


def selector_matches_host(sel: Selector, host: Host) -> bool:
    """Whether ``sel`` matches ``host`` (every key given must match; a zone list: any zone)."""
    if sel.zone is not None and host.zone not in sel.zone:
        return False
    if sel.host and host.id not in sel.host:
        return False
    return not (sel.labels and any(host.labels.get(k) != v for k, v in sel.labels.items()))


def selector_matches_zone(sel: Selector, zone: str) -> bool:
    """Whether ``sel`` matches an external zone (only ``zone`` or ``any`` can)."""
    if sel.host or sel.labels:
        return False
    return sel.zone is None or zone in sel.zone


def _selector_matches_class(sel: Selector, key: _ClassKey | str) -> bool:
    """Whether a `from` selector matches a source class key (or an external zone)."""
    if isinstance(key, str):
        return selector_matches_zone(sel, key)
    if sel.zone is not None and key.zone not in sel.zone:
        return False
    if sel.host and key.host not in sel.host:
        return False
    return not (sel.labels and not set(sel.labels.items()) <= key.labels)


#: A selector's host ids and label pairs (``None`` where it sets none).
_SelectorSets = tuple[frozenset[str] | None, frozenset[tuple[str, str]] | None]


def _host_and_label_sets(sel: Selector) -> _SelectorSets:
    """A selector's host ids and label pairs as sets, ``None`` where it sets none.

    With the zone matched beforehand (rules are indexed by zone), a host matches
    when it is among the ids and its label pairs include these: set operations,
    cheaper in the hot loops than :func:`selector_matches_host`.
    """
    return (
        frozenset(sel.host) if sel.host else None,
        frozenset(sel.labels.items()) if sel.labels else None,
    )


def _sets_admit(sets: _SelectorSets, host: str | None, labels: frozenset[tuple[str, str]]) -> bool:
    """Whether a host (its id, or None for a class no selector names, and its label
    pairs) meets a selector's :func:`_host_and_label_sets`, the zone matched already."""
    hosts, pairs = sets
    return (hosts is None or host in hosts) and (pairs is None or pairs <= labels)


def _ranges_cover(ranges: tuple[PortRange, ...], service: str) -> bool:
    svc = parse_service(service)
    return any(r.covers(svc) for r in ranges)


# --------------------------------------------------------------------------- classes


def _sniff_zones(topology: LoadedTopology) -> frozenset[str]:
    """Zones of the hosts at either end of a legitimate flow that carries a credential."""
    hosts = topology.hosts
    return frozenset(
        hosts[x].zone
        for t in topology.model.traffic
        if t.credential is not None
        for x in (t.source, t.to)
        if x in hosts
    )


def _zone_blind(pol: Policy) -> bool:
    """Whether a policy decides no flow by zone: hosts then group across zones.

    True when no segmentation rule's `from` or `to` and no egress rule's `from`
    names a zone, and ``intra_zone`` is ``rules``.  Flows from external zones are
    still told apart (only public services, see :meth:`CompiledPolicy.flow`), and
    so are the zones where a credential can be sniffed (:func:`_sniff_zones`).  A
    flat policy and the reference policy are zone-blind.  Only selectors and
    ``intra_zone`` count, never actions: flipping a rule's action (a re-check)
    keeps the classes.  Detection entries do not count either: they judge plans,
    never what the attacker reaches.
    """
    seg = pol.segmentation
    if seg.intra_zone == "allow":
        return False
    if any(r.source.zone is not None or r.to.zone is not None for r in seg.rules):
        return False
    return all(r.source.zone is None for r in pol.egress.rules)


class _ClassKey(NamedTuple):
    """What selectors can tell of a host: its zone, the label pairs they name, its id
    if they name it.  Hosts with equal keys are indistinguishable to the policy."""

    zone: str
    labels: frozenset[tuple[str, str]]
    host: str | None


def _selectors_features(selectors: Iterable[Selector]) -> tuple[set[tuple[str, str]], set[str]]:
    pairs: set[tuple[str, str]] = set()
    hosts: set[str] = set()
    # Each selector object once (shared by many rules), in a stable order.
    for sel in {id(s): s for s in selectors}.values():
        if sel.labels:
            pairs.update(sel.labels.items())
        if sel.host:
            hosts.update(sel.host)
    return pairs, hosts


def host_label_groups(topology: LoadedTopology) -> dict[str, LabelGroup]:
    """Each host's (zone, label pairs), one shared tuple per distinct value.

    Far fewer groups than hosts on real estates (hosts of one role share their
    labels), so class keys are projected once per group rather than per host.
    (:attr:`ztsim.inputs.loader.LoadedTopology.label_groups`, computed once per topology.)
    """
    return topology.label_groups


#: Rule indices by a selector's zone, by named host, by label pair, and unconstrained
#: (see :meth:`CompiledPolicy._index_rules`).
_RuleIndex = tuple[
    dict[str, list[int]],
    dict[str, list[int]],
    dict[tuple[str, str], list[int]],
    list[int],
]


def _index_lists(
    index: _RuleIndex, zone: str, host: str | None, labels: frozenset[tuple[str, str]]
) -> list[list[int]]:
    """The lists of ``index`` (see :meth:`CompiledPolicy._index_rules`) that hold the
    rules whose selector may match a class in ``zone`` with this named host and
    these label pairs: their union is a superset of the rules that match."""
    by_zone, by_host, by_pair, unconstrained = index
    lists = [by_zone.get(zone, []), unconstrained]
    if host is not None:
        lists.append(by_host.get(host, []))
    lists.extend(by_pair[p] for p in labels if p in by_pair)
    return lists


#: A label group's targets in a :class:`TargetLayout`: ``(group, buckets, twins)``.
#: ``buckets``: ``(service, public, hosts)``, the group's targets on one service
#: with one exposure.  ``twins``: ``(signature number, hosts)``, its target hosts
#: alike in everything but their id (same signature).  Hosts sorted.
LayoutGroup = tuple[
    LabelGroup,
    tuple[tuple[str, bool, tuple[str, ...]], ...],
    tuple[tuple[int, tuple[str, ...]], ...],
]


@dataclass(frozen=True)
class TargetLayout:
    """A topology's attack targets, bucketed once for every policy compiled on it.

    Policies differ only in how they split label groups into classes, so the
    per-target work (the offer, the host's label group, its signature) is done
    once per topology here, and each compilation then handles label groups and
    their buckets, not targets (see :meth:`CompiledPolicy._group_targets`).
    """

    #: Each label group that holds a target, with its buckets and twins (see
    #: :data:`LayoutGroup`).  Signatures are numbered (equal signatures, equal
    #: numbers) so that keys hash cheaply.  The order of groups, of buckets and of
    #: twins is the builder's (deterministic): compilations do not depend on it.
    groups: tuple[LayoutGroup, ...]
    #: Target hosts that must stay apart (no signature): each its own representative.
    loners: frozenset[str]


#: Targets being collected per label group: ``(service, public) -> hosts`` and
#: ``signature number -> hosts`` (see :func:`layout_of`).
TargetsByGroup = dict[LabelGroup, tuple[dict[tuple[str, bool], list[str]], dict[int, list[str]]]]


def layout_of(per_group: TargetsByGroup, loners: Iterable[str]) -> TargetLayout:
    """The layout of targets collected per label group: ``(service, public) -> hosts``
    and ``signature number -> hosts``, hosts in any order (sorted here)."""
    out: list[LayoutGroup] = []
    for group, (buckets, twins) in per_group.items():
        for hosts in buckets.values():
            hosts.sort()
        for hosts in twins.values():
            hosts.sort()
        out.append(
            (
                group,
                tuple((svc, public, tuple(hosts)) for (svc, public), hosts in buckets.items()),
                tuple((n, tuple(hosts)) for n, hosts in twins.items()),
            )
        )
    return TargetLayout(tuple(out), frozenset(loners))


def target_layout(
    topology: LoadedTopology,
    targets: Iterable[tuple[str, str]],
    groups: Mapping[str, LabelGroup],
    signatures: Mapping[str, Hashable],
) -> TargetLayout:
    """Bucket ``targets`` (host, service) by label group, service and exposure.

    Targets that the topology does not offer are left out, as
    :meth:`CompiledPolicy._group_targets` would.  Groups, buckets and twins come in
    the order of their first target.
    """
    hosts = topology.hosts
    per_group: TargetsByGroup = {}
    numbers: dict[Hashable, int] = {}
    loners: set[str] = set()
    last: str | None = None
    previous: tuple[str, str] | None = None
    host: Host | None = None
    # sorted() of the model's targets, sorted already, is one linear pass; repeats
    # are adjacent once sorted, and so are a host's targets (its model is looked up
    # once for them).
    for target in sorted(targets):
        if target == previous:
            continue
        previous = target
        host_id, service = target
        if host is None or host.id != host_id:
            host = hosts.get(host_id)
        offer = host.offer(service) if host is not None else None
        if offer is None:
            continue
        group = groups[host_id]
        entry = per_group.get(group)
        if entry is None:
            entry = per_group[group] = ({}, {})
        entry[0].setdefault((service, offer.public), []).append(host_id)
        if host_id != last:
            last = host_id
            sig = signatures.get(host_id)
            if sig is None:
                loners.add(host_id)
            else:
                n = numbers.setdefault(sig, len(numbers))
                entry[1].setdefault(n, []).append(host_id)
    return layout_of(per_group, loners)


@dataclass(frozen=True)
class TargetGroups:
    """Attack targets (host, service) grouped by destination class and service.

    ``groups[i]`` is ``(class_key, service, public)`` and ``members[i]`` the hosts
    in it that have a vulnerability or a login on that service.
    """

    keys: tuple[tuple[_ClassKey, str, bool], ...]
    members: tuple[tuple[str, ...], ...]
    #: ``members`` less the hosts interchangeable with an earlier one (see
    #: :meth:`CompiledPolicy._group_targets`); what a non-exhaustive solve expands.
    representatives: tuple[tuple[str, ...], ...]
    public_mask: int
    zone_mask: dict[str, int]
    pair_mask: dict[tuple[str, str], int]
    host_mask: dict[str, int]
    service_mask: dict[str, int]

    @property
    def full(self) -> int:
        """The bitset of every group."""
        return (1 << len(self.keys)) - 1


# --------------------------------------------------------------------------- compiled policy


class CompiledPolicy:
    """A policy compiled against one topology.

    Parameters
    ----------
    policy
        The loaded policy.
    topology
        The loaded topology it is judged on.
    targets
        The (host, service) pairs that matter to the attacker, i.e. that have a
        remote vulnerability or a login; only these are grouped for :meth:`reach`.
    signatures
        What makes each host unique apart from the policy (its services,
        vulnerabilities, logins, stored credentials), or ``None`` for a host that
        must stay apart (it holds data, is an entry point or a traffic endpoint).
        Hosts equal in signature and in both equivalence classes are
        interchangeable: only the first is a representative target.
    groups
        Each host's (zone, label pairs), shared tuples (:func:`host_label_groups`;
        computed when not given).
    compress
        ``False`` turns equivalence classes and representatives off (each host its
        own class): the same answers with more work, to test the compression.
    previous
        An earlier compilation of a version of this policy on the same topology and
        targets (interactive re-checks): its target groups are reused when its
        classes are at least as fine as this version needs.
    layout
        ``targets`` bucketed by :func:`target_layout` with these ``groups`` and
        ``signatures`` (shared by the policies of one model); computed from them
        when not given (``targets`` and ``signatures`` are read only then).  Only a
        compilation given a layout lends its target groups to a later one
        (``previous``), given the very same layout.
    """

    def __init__(
        self,
        policy: LoadedPolicy,
        topology: LoadedTopology,
        targets: Iterable[tuple[str, str]] = (),
        signatures: Mapping[str, Hashable] | None = None,
        groups: Mapping[str, LabelGroup] | None = None,
        compress: bool = True,
        previous: CompiledPolicy | None = None,
        layout: TargetLayout | None = None,
    ) -> None:
        self.loaded = policy
        self.topology = topology
        pol = policy.model
        self.seg_rules: tuple[SegmentationRule, ...] = tuple(pol.segmentation.rules)
        self.egress_rules: tuple[EgressRule, ...] = tuple(pol.egress.rules)
        self.seg_ranges = [r.ranges for r in self.seg_rules]
        self.egress_ranges = [r.ranges for r in self.egress_rules]
        self.seg_default_allow = pol.segmentation.default == "allow"
        self.egress_default_allow = pol.egress.default == "allow"
        self.intra_zone_allow = pol.segmentation.intra_zone == "allow"
        self.mfa = frozenset(pol.controls.mfa)
        self.encrypt_in_transit = pol.controls.encrypt_in_transit

        # Rules are indexed by what their `from` requires (see _candidates_for) and,
        # for single flows, by what their `to` requires (see _flow_rules).
        self._from_cands: dict[_ClassKey | str, set[int]] = {}
        self._to_cands: dict[tuple[_ClassKey, str], set[int]] = {}

        # Equivalence classes: sources by `from` selectors, destinations by `to`.
        src_sels = [r.source for r in self.seg_rules] + [r.source for r in self.egress_rules]
        src_pairs, self._src_named = _selectors_features(src_sels)
        dst_pairs, self._dst_named = _selectors_features(r.to for r in self.seg_rules)
        self._src_pairs = frozenset(src_pairs)
        self._dst_pairs = frozenset(dst_pairs)
        self._dst_class: dict[str, _ClassKey] = {}
        self._src_class: dict[str, _ClassKey] = {}
        self._groups = groups if groups is not None else host_label_groups(topology)
        #: No selector names a zone and ``intra_zone`` changes nothing: hosts are
        #: told apart by labels and ids only, and classes span zones (see
        #: :func:`_zone_blind`).  ``""`` then stands for every zone in class keys.
        self._zone_blind = _zone_blind(pol)
        #: Zones kept in the class keys of a zone-blind policy all the same: those
        #: where a credential crosses the wire, which root on a host of the zone
        #: can sniff (spec rule 6); none when the policy encrypts in transit.
        self._kept_zones = (
            _sniff_zones(topology)
            if self._zone_blind and not self.encrypt_in_transit
            else frozenset()
        )
        # Uncompressed (tests): every host is a class of its own, every target its
        # own representative.  Results must not change, only the work.
        self._compress = compress
        if not compress:
            signatures = None
        self._dst_by_group: dict[LabelGroup, _ClassKey] = {}
        self._src_by_group: dict[LabelGroup, _ClassKey] = {}
        self._layout = layout
        self._targets: TargetGroups
        if self._can_reuse(previous):
            # The previous version of this policy drew its classes at least as
            # finely (its selectors name every label pair and host these name): a
            # finer partition stays exact, so its target groups serve as they are.
            assert previous is not None
            self._src_pairs, self._src_named = previous._src_pairs, previous._src_named
            self._dst_pairs, self._dst_named = previous._dst_pairs, previous._dst_named
            self._src_class, self._dst_class = previous._src_class, previous._dst_class
            self._src_by_group = previous._src_by_group
            self._dst_by_group = previous._dst_by_group
            self._targets = previous._targets
            # Its class keys, so its zones.
            self._zone_blind, self._kept_zones = previous._zone_blind, previous._kept_zones
            self.reused_targets = True
        else:
            if layout is None:
                sigs = signatures if signatures is not None else {}
                layout = target_layout(topology, targets, self._groups, sigs)
            self._targets = self._group_targets(layout)
            self.reused_targets = False
        self._rule_masks: list[int] | None = None
        self._reach_memo: dict[_ClassKey | str, int] = {}
        #: Rule indexes (:meth:`_index_rules`) by side, and ``"reach"``: the `from`
        #: index less the rules whose `to` and services match no target group.
        self._rule_indexes: dict[str, _RuleIndex] = {}
        # Each rule's `from` as (host ids, label pairs), None where not constrained.
        # Rules share selector objects (ztsim.perf.dedupe): each one's sets are built once.
        self._sets_of = sets_of = PerObject(_host_and_label_sets)
        self._from_sel = [sets_of(r.source) for r in self.seg_rules]
        self._allows = [r.action == "allow" for r in self.seg_rules]
        # The same for each rule's `to` (filled as single flows need them: most
        # rules never decide one), and for each egress rule's `from`.
        self._to_sel: list[_SelectorSets | None]
        self._to_sel = [None] * len(self.seg_rules)
        self._egress_from_sel = [sets_of(r.source) for r in self.egress_rules]
        self._flow_memo: dict[tuple[str, str, str], Decision] = {}
        self._class_flow_memo: dict[tuple[_ClassKey | str, _ClassKey, str], Decision] = {}
        if self.reused_targets:
            assert previous is not None
            self._inherit_decisions(previous)
        #: What judging plans under this policy has found: set by the plan judge
        #: (:mod:`ztsim.engine.verdicts`), whose type this module cannot name (it is below).
        self.judgements: object = None
        self._egress_flow_memo: dict[tuple[str, str, str], Decision] = {}
        self._egress_to: dict[tuple[str, str], list[int]] = {}
        self._egress_from_zone: dict[tuple[str, str, str], list[int]] = {}
        self._egress_index: tuple[list[int], dict[str, list[int]], dict[str, list[int]]] | None = (
            None
        )
        self._egress_memo: dict[tuple[_ClassKey, str, str], Decision] = {}

    def _can_reuse(self, previous: CompiledPolicy | None) -> bool:
        return (
            previous is not None
            and self._layout is not None
            and previous._layout is self._layout
            and previous.topology is self.topology
            and previous._compress == self._compress
            and previous._groups is self._groups
            and (
                not previous._zone_blind
                or (self._zone_blind and self._kept_zones <= previous._kept_zones)
            )
            and self._src_pairs <= previous._src_pairs
            and self._src_named <= previous._src_named
            and self._dst_pairs <= previous._dst_pairs
            and self._dst_named <= previous._dst_named
        )

    def _inherit_decisions(self, previous: CompiledPolicy) -> None:
        """Keep the previous version's per-class decisions that an edit cannot change.

        With the same target groups, the same defaults and rules differing only at
        some positions, a source class that no differing rule's `from` (old or new)
        matches sees the same rules in the same order: its reach and its flow
        decisions are unchanged.  Everything else is recomputed on demand.
        """
        old, new = previous.seg_rules, self.seg_rules
        if (
            len(old) != len(new)
            or previous.seg_default_allow != self.seg_default_allow
            or previous.intra_zone_allow != self.intra_zone_allow
        ):
            return
        changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
        sels = [old[i].source for i in changed] + [new[i].source for i in changed]

        def untouched(key: _ClassKey | str) -> bool:
            return not any(_selector_matches_class(sel, key) for sel in sels)

        self._reach_memo = {k: v for k, v in previous._reach_memo.items() if untouched(k)}
        self._class_flow_memo = {
            k: v for k, v in previous._class_flow_memo.items() if untouched(k[0])
        }

    # ------------------------------------------------------------------ single flows

    def _flow_rules(self, source: _ClassKey | str, dst: _ClassKey, dst_zone: str) -> list[int]:
        """The rules that may decide a flow from a source class (or external zone) to
        a destination class in ``dst_zone``, in file order: a superset of those whose
        `from` and `to` match (:meth:`_flow` checks each).

        The intersection of two indexes: rules by what their `from` requires
        (:meth:`_candidates_for`) and by what their `to` requires, each worked out
        once per class.  Of ten thousand rules a source class has hundreds of
        candidates and a destination class dozens; a flow checks the few in both.
        """
        from_set = self._from_cands.get(source)
        if from_set is None:
            from_set = self._from_cands[source] = set(
                self._candidates_for(source, targets_only=False)
            )
        to_key = (dst, dst_zone)
        to_set = self._to_cands.get(to_key)
        if to_set is None:
            to_set = self._to_cands[to_key] = set().union(
                *_index_lists(self._rule_index("to"), dst_zone, dst.host, dst.labels)
            )
        return sorted(from_set & to_set)

    def flow(self, source: str, dst_host: str, service: str) -> Decision:
        """Decide a flow from ``source`` (a host id or an external zone id) to a host service.

        Applies spec §4 in order: the destination must listen; from an external zone
        only public services; a host reaching itself; ``intra_zone: allow``; then the
        first matching segmentation rule, else the default.  Decisions are memoised.
        """
        key = (source, dst_host, service)
        known = self._flow_memo.get(key)
        if known is None:
            known = self._flow_memo[key] = self._flow(source, dst_host, service)
        return known

    def _flow(self, source: str, dst_host: str, service: str) -> Decision:
        topo = self.topology
        dst = topo.hosts[dst_host]
        offer = dst.offer(service)
        if offer is None:
            return TOPOLOGY_DENY
        src_host = topo.hosts.get(source)
        if src_host is None:
            if source not in topo.external_zones or not offer.public:
                return TOPOLOGY_DENY
            src_zone = source
        else:
            if source == dst_host:
                return Decision(True, "self", "self")
            src_zone = src_host.zone
            if self.intra_zone_allow and src_zone == dst.zone:
                return Decision(True, "intra_zone", "intra_zone")
        # Past self and intra-zone, no selector tells the hosts of a class apart:
        # the decision is shared by every (source class, destination class) pair.
        memo_key = (
            src_zone if src_host is None else self.source_class(source),
            self.dest_class(dst_host),
            service,
        )
        known = self._class_flow_memo.get(memo_key)
        if known is not None:
            return known
        decision = Decision(self.seg_default_allow, "default", "default")
        rules, to_sel, from_sel = self.seg_rules, self._to_sel, self._from_sel
        labels = self._groups[dst_host][1]
        source_key = memo_key[0]
        # Each rule's `from` and `to` zones match already (_flow_rules); their hosts
        # and labels are checked on precomputed sets.
        for i in self._flow_rules(source_key, memo_key[1], dst.zone):
            if isinstance(source_key, str):  # an external zone: only zone or any match
                if from_sel[i] != (None, None):
                    continue
            elif not _sets_admit(from_sel[i], source_key.host, source_key.labels):
                continue
            sets = to_sel[i]
            if sets is None:
                sets = to_sel[i] = self._sets_of(rules[i].to)
            if _sets_admit(sets, dst_host, labels) and _ranges_cover(self.seg_ranges[i], service):
                r = rules[i]
                decision = Decision(r.action == "allow", r.id, "rule")
                break
        self._class_flow_memo[memo_key] = decision
        return decision

    def egress(self, host: str, destination: str, service: str) -> Decision:
        """Decide egress from a host to an external destination on one of its services."""
        key = (host, destination, service)
        known = self._egress_flow_memo.get(key)
        if known is None:
            known = self._egress_flow_memo[key] = self._egress(host, destination, service)
        return known

    def _egress(self, host: str, destination: str, service: str) -> Decision:
        dest = self.topology.destinations[destination]
        if service not in dest.services:
            return Decision(False, "topology", "topology", "egress")
        src = self.topology.hosts[host]
        # Only the rules whose services and patterns cover this destination, and
        # whose `from` zone is the host's (or any), can decide.
        key = (destination, service, src.zone)
        cands = self._egress_from_zone.get(key)
        if cands is None:
            zone = src.zone
            cands = self._egress_from_zone[key] = [
                i
                for i in self._egress_rules_to(destination, service)
                if (z := self.egress_rules[i].source.zone) is None or zone in z
            ]
        esel = self._egress_from_sel
        labels = self._groups[host][1]
        for i in cands:  # their `from` zone matches: check its hosts and labels
            if _sets_admit(esel[i], host, labels):
                r = self.egress_rules[i]
                return Decision(r.action == "allow", r.id, "rule", "egress")
        return Decision(self.egress_default_allow, "default", "default", "egress")

    def _egress_rules_to(self, destination: str, service: str) -> list[int]:
        """Egress rules (in order) whose services and `to` patterns cover a destination."""
        key = (destination, service)
        found = self._egress_to.get(key)
        if found is None:
            if self._egress_index is None:
                self._egress_index = self._index_egress()
            star, exact, suffix = self._egress_index
            fqdn = self.topology.destinations[destination].fqdn.lower()
            # The patterns covering `fqdn` (fqdn_covers): `*`, the name itself, and
            # `*.S` for every suffix `.S` of it.
            lists = [star, exact.get(fqdn, [])]
            lists += [suffix.get(fqdn[i:], []) for i, ch in enumerate(fqdn) if ch == "."]
            found = [
                i
                for i in sorted(set().union(*lists))
                if _ranges_cover(self.egress_ranges[i], service)
            ]
            self._egress_to[key] = found
        return found

    def _index_egress(self) -> tuple[list[int], dict[str, list[int]], dict[str, list[int]]]:
        """Egress rules by `to` pattern: ``*``, exact names, and ``*.S`` by ``.S``."""
        star: list[int] = []
        exact: dict[str, list[int]] = defaultdict(list)
        suffix: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(self.egress_rules):
            for pattern in r.to:
                p = pattern.lower()
                if p == "*":
                    star.append(i)
                elif p.startswith("*."):
                    suffix[p[1:]].append(i)
                else:
                    exact[p].append(i)
        return star, dict(exact), dict(suffix)

    def traffic(self, source: str, to: str, service: str) -> Decision:
        """Decide a legitimate traffic flow: to a host (segmentation) or outside (egress)."""
        if to in self.topology.destinations:
            if source not in self.topology.hosts:
                return Decision(False, "topology", "topology", "egress")
            return self.egress(source, to, service)
        return self.flow(source, to, service)

    # ------------------------------------------------------------------ bulk reach

    def _group_targets(self, layout: TargetLayout) -> TargetGroups:
        """Group the targets by (destination class, service, public), cheapest first.

        Works on the layout's label groups: a group that holds no host a selector
        names falls whole into one class, so its buckets are taken whole and its
        class worked out once.  Groups are numbered in the order of their first
        (host, service) target, and their hosts sorted, so the result does not
        depend on the order of the layout.
        """
        compress = self._compress
        named = self._src_named | self._dst_named
        groups = self._groups
        # The named hosts of each label group that holds any (set operations on these
        # beat a test per host: zero-trust on L names 4,000 hosts in 2,700 groups).
        named_in: dict[LabelGroup, set[str]] = {}
        for h in named:
            g = groups.get(h)
            if g is not None:
                named_in.setdefault(g, set()).add(h)
        dst_pairs, dst_by_group = self._dst_pairs, self._dst_by_group
        src_pairs, src_by_group = self._src_pairs, self._src_by_group
        group_class = self._group_class
        dest_class = self.dest_class

        # Hosts per key: a bucket's tuple as it is, a list once another joins it.
        keyed: dict[tuple[_ClassKey, str, bool], Sequence[str]] = {}
        merged: set[tuple[_ClassKey, str, bool]] = set()

        def add(key: tuple[_ClassKey, str, bool], hosts: Sequence[str]) -> None:
            lst = keyed.get(key)
            if lst is None:
                keyed[key] = hosts
            elif key in merged:
                cast(list[str], lst).extend(hosts)
            else:
                keyed[key] = [*lst, *hosts]
                merged.add(key)

        # Compromising one of several interchangeable hosts gives exactly what
        # compromising any other would: the fixpoint needs only one of them, the
        # first by id among those alike in both classes and in signature.  Each
        # label group's (source class, destination class) pair is numbered: twins
        # outnumber label groups, and small keys hash cheaply.
        first: dict[tuple[int, int], str] = {}
        numbers: dict[tuple[_ClassKey, _ClassKey], int] = {}
        reps: set[str] = set(layout.loners) if compress else set()

        def note(n: int, sig: int, head: str) -> None:
            known = first.get((n, sig))
            if known is None or head < known:
                first[(n, sig)] = head

        for group, buckets, twins in layout.groups:
            if not compress:  # every host a class of its own
                for service, public, hosts in buckets:
                    for h in hosts:
                        add((dest_class(h), service, public), (h,))
                continue
            ck = dst_by_group.get(group)
            if ck is None:
                ck = group_class(group, dst_pairs, dst_by_group)
            n = numbers.setdefault((group_class(group, src_pairs, src_by_group), ck), len(numbers))
            here = named_in.get(group)
            if here is not None:  # a named host's class is its own
                # (The order hosts are added in does not matter: lists are sorted,
                # keys ordered by their first host, and the first head kept.)
                for service, public, hosts in buckets:
                    if here.isdisjoint(hosts):
                        add((ck, service, public), hosts)
                        continue
                    for h in here.intersection(hosts):
                        add((dest_class(h), service, public), (h,))
                    plain = [h for h in hosts if h not in here]
                    if plain:
                        add((ck, service, public), plain)
                for sig, hosts in twins:
                    if here.isdisjoint(hosts):
                        note(n, sig, hosts[0])
                        continue
                    reps.update(here.intersection(hosts))
                    head = next((h for h in hosts if h not in here), "")
                    if head:
                        note(n, sig, head)
                continue
            for service, public, hosts in buckets:
                add((ck, service, public), hosts)
            for sig, hosts in twins:
                note(n, sig, hosts[0])
        for key in merged:
            cast(list[str], keyed[key]).sort()
        reps.update(first.values())

        order = sorted(keyed, key=lambda k: (keyed[k][0], k[1]))
        keys = tuple(order)
        members = tuple(tuple(keyed[k]) for k in order)
        representatives = (
            members if not compress else tuple(tuple(filter(reps.__contains__, m)) for m in members)
        )
        # Each mask from the list of its bits, built once: or-ing bit by bit into a
        # big integer copies it each time (thousands of groups, tens of thousands
        # of bits set).
        exposed: list[int] = []
        zones: dict[str, list[int]] = defaultdict(list)
        pairs: dict[tuple[str, str], list[int]] = defaultdict(list)
        named_hosts: dict[str, list[int]] = defaultdict(list)
        services: dict[str, list[int]] = defaultdict(list)
        for gi, (ck, svc, is_public) in enumerate(keys):
            if is_public:
                exposed.append(gi)
            zones[ck.zone].append(gi)
            services[svc].append(gi)
            for pair in ck.labels:
                pairs[pair].append(gi)
            if ck.host is not None:
                named_hosts[ck.host].append(gi)
        size = len(keys)
        public_mask = bitset_of(exposed, size)
        zone_mask = {z: bitset_of(bits, size) for z, bits in zones.items()}
        pair_mask = {p: bitset_of(bits, size) for p, bits in pairs.items()}
        host_mask = {h: bitset_of(bits, size) for h, bits in named_hosts.items()}
        service_mask = {v: bitset_of(bits, size) for v, bits in services.items()}
        return TargetGroups(
            keys,
            members,
            representatives,
            public_mask,
            zone_mask,
            pair_mask,
            host_mask,
            service_mask,
        )

    @property
    def targets(self) -> TargetGroups:
        """The attack target groups this policy was compiled with."""
        return self._targets

    def _compile_rule_masks(self) -> list[int]:
        """For each rule, the bitset of target groups its `to` and services match.

        Built by intersecting per-attribute bitsets (zone, label pair, named host,
        service), so the cost is per rule, not per rule and group.
        """
        tg = self._targets
        services = {s: parse_service(s) for s in tg.service_mask}
        by_ranges: dict[tuple[PortRange, ...], int] = {}
        masks: list[int] = []

        def to_mask(to: Selector) -> int:
            if to.zone is None:
                m = tg.full
            else:  # a zone list: any of them
                m = 0
                for z in to.zone:
                    m |= tg.zone_mask.get(z, 0)
            if to.host:
                hm = 0
                for h in to.host:
                    hm |= tg.host_mask.get(h, 0)
                m &= hm
            if to.labels:
                for pair in to.labels.items():
                    m &= tg.pair_mask.get(pair, 0)
            return m

        mask_of = PerObject(to_mask)  # once per selector object (rules share them)
        for i, r in enumerate(self.seg_rules):
            m = mask_of(r.to)
            ranges = self.seg_ranges[i]
            if m and not any(rg.proto == "*" and rg.low == 0 and rg.high == 65535 for rg in ranges):
                sm = by_ranges.get(ranges)
                if sm is None:
                    sm = 0
                    for name, svc in services.items():
                        if any(rg.covers(svc) for rg in ranges):
                            sm |= tg.service_mask[name]
                    by_ranges[ranges] = sm
                m &= sm
            masks.append(m)
        return masks

    def _candidates_for(self, source: _ClassKey | str, targets_only: bool = True) -> list[int]:
        """The rules that may match a source class (or external zone), in file order.

        Rules are indexed by what their `from` requires: a zone; else a named host;
        else one label pair (the rarest among the hosts); else nothing.  With
        ``targets_only`` (what :meth:`reach` asks), rules whose `to` and services
        match no target group are left out: they decide nothing there.
        """
        index = self._rule_index("reach" if targets_only else "from")
        if isinstance(source, str):  # an external zone: only zone or any selectors match
            by_zone, _, _, unconstrained = index
            lists = [by_zone.get(source, []), unconstrained]
        else:
            lists = _index_lists(index, source.zone, source.host, source.labels)
        return sorted(set().union(*lists))

    def _rule_index(self, side: Literal["from", "to", "reach"]) -> _RuleIndex:
        """:meth:`_index_rules` of ``side``, built once; ``"reach"`` is the `from`
        index less the rules whose `to` and services match no target group."""
        index = self._rule_indexes.get(side)
        if index is None:
            if side == "reach":
                masks = self._masks()
                by_zone, by_host, by_pair, unconstrained = self._rule_index("from")

                def kept(rules: list[int]) -> list[int]:
                    return [i for i in rules if masks[i]]

                index = (
                    {k: kept(v) for k, v in by_zone.items()},
                    {k: kept(v) for k, v in by_host.items()},
                    {k: kept(v) for k, v in by_pair.items()},
                    kept(unconstrained),
                )
            else:
                index = self._index_rules(side)
            self._rule_indexes[side] = index
        return index

    def _index_rules(self, side: Literal["from", "to"]) -> _RuleIndex:
        """The segmentation rules by what their ``side`` selector requires: a zone;
        else a named host; else one label pair (the rarest among the hosts); else
        nothing.  A rule is listed under one key of one of these (under each zone
        of a zone list, each host it names): the union of a class's lists is a
        superset of the rules whose selector matches it (see :func:`_index_lists`)."""
        topo = self.topology
        # How rare each label pair is: per topology, unless this policy has groups of its own.
        pair_weight = (
            topo.label_pair_counts
            if self._groups is topo.label_groups
            else label_pair_counts(self._groups.values())
        )
        lists: tuple[dict[Any, list[int]], ...] = ({}, {}, {})
        unconstrained: list[int] = []
        # Where each selector goes, found once per selector object (rules share them).
        where: dict[int, tuple[int, Any]] = {}
        for i, r in enumerate(self.seg_rules):
            sel = r.source if side == "from" else r.to
            place = where.get(id(sel))
            if place is None:
                if sel.zone is not None:  # under each zone of a list
                    place = (0, tuple(dict.fromkeys(sel.zone)))
                elif sel.host:
                    place = (1, tuple(dict.fromkeys(sel.host)))
                elif sel.labels:
                    rarest = min(sel.labels.items(), key=lambda kv: (pair_weight.get(kv, 0), kv))
                    place = (2, (rarest,))
                else:
                    place = (3, ())
                where[id(sel)] = place
            which, keys = place
            if which == 3:
                unconstrained.append(i)
                continue
            table = lists[which]
            for key in keys:
                found = table.get(key)
                if found is None:
                    table[key] = [i]
                else:
                    found.append(i)
        return lists[0], lists[1], lists[2], unconstrained

    def _masks(self) -> list[int]:
        if self._rule_masks is None:
            self._rule_masks = self._compile_rule_masks()
        return self._rule_masks

    def _project(
        self,
        host_id: str,
        pairs: frozenset[tuple[str, str]],
        named: set[str],
        by_group: dict[LabelGroup, _ClassKey],
    ) -> _ClassKey:
        group = self._groups[host_id]
        if host_id in named or not self._compress:
            return _ClassKey(self._class_zone(group[0]), group[1] & pairs, host_id)
        return self._group_class(group, pairs, by_group)

    def _group_class(
        self,
        group: LabelGroup,
        pairs: frozenset[tuple[str, str]],
        by_group: dict[LabelGroup, _ClassKey],
    ) -> _ClassKey:
        """The class of the hosts of a label group that no selector names."""
        key = by_group.get(group)
        if key is None:
            zone = self._class_zone(group[0])
            # tuple.__new__ skips the named tuple's Python-level __new__ (hot here).
            key = by_group[group] = tuple.__new__(_ClassKey, (zone, group[1] & pairs, None))
        return key

    def _class_zone(self, zone: str) -> str:
        """A host's zone as its class keys hold it: ``""`` (any zone) when the policy
        is zone-blind and nothing else tells the zone apart."""
        return "" if self._zone_blind and zone not in self._kept_zones else zone

    def source_class(self, host_id: str) -> _ClassKey:
        """The equivalence class of a host as a source of flows."""
        key = self._src_class.get(host_id)
        if key is None:
            key = self._project(host_id, self._src_pairs, self._src_named, self._src_by_group)
            self._src_class[host_id] = key
        return key

    def dest_class(self, host_id: str) -> _ClassKey:
        """The equivalence class of a host as a destination of flows."""
        key = self._dst_class.get(host_id)
        if key is None:
            key = self._project(host_id, self._dst_pairs, self._dst_named, self._dst_by_group)
            self._dst_class[host_id] = key
        return key

    def reach(self, source: str) -> int:
        """The bitset of target groups that ``source`` may open a flow to.

        ``source`` is a host id or an external zone id.  Flows of a host to itself are
        not included (they are always allowed; the engine adds them per host).
        Hosts of one source class share the result, which is memoised.
        """
        ext = source in self.topology.external_zones
        memo_key: _ClassKey | str = source if ext else self.source_class(source)
        known = self._reach_memo.get(memo_key)
        if known is not None:
            return known
        tg = self._targets
        masks = self._masks()
        full = (1 << len(tg.keys)) - 1
        undecided = tg.public_mask if ext else full
        allowed = 0
        ck: _ClassKey | None = None
        if ext:
            zone = source
        else:
            assert isinstance(memo_key, _ClassKey)
            ck = memo_key
            zone = ck.zone
            if self.intra_zone_allow:  # never zone-blind
                same = tg.zone_mask.get(zone, 0)
                allowed |= same
                undecided &= ~same
        from_sel, allows = self._from_sel, self._allows
        for i in self._candidates_for(memo_key):
            if not undecided:
                break
            # The rule's `from` zone already matches (_candidates_for); check the rest
            # with set operations before any big-integer work (the hot loop of the
            # fixpoint: a bitset has a bit per target group, thousands of them).
            # _sets_admit's test, inlined: this loop runs per class and candidate.
            hosts_i, pairs_i = from_sel[i]
            if ck is None:
                if hosts_i is not None or pairs_i is not None:
                    continue  # only zone or any matches an external zone
            elif (hosts_i is not None and ck.host not in hosts_i) or (
                pairs_i is not None and not pairs_i <= ck.labels
            ):
                continue
            hit = masks[i] & undecided
            if not hit:
                continue
            if allows[i]:
                allowed |= hit
            undecided ^= hit  # hit is within undecided: clears exactly those bits
        if self.seg_default_allow:
            allowed |= undecided
        self._reach_memo[memo_key] = allowed
        return allowed

    def egress_class(self, host_id: str, destination: str, service: str) -> Decision:
        """Egress decision memoised per source class (hosts of a class share it)."""
        ck = self.source_class(host_id)
        key = (ck, destination, service)
        known = self._egress_memo.get(key)
        if known is None:
            known = self._egress_memo[key] = self.egress(host_id, destination, service)
        return known
