"""A policy compiled against one topology, and how it judges single flows (spec §4).

:class:`CompiledPolicy` answers two kinds of question, and composes the parts that
answer them:

* One flow at a time (:meth:`CompiledPolicy.flow`, :meth:`CompiledPolicy.egress`,
  :meth:`CompiledPolicy.traffic`), with the deciding rule, for traffic checks and
  plan verdicts: judged here (:class:`FlowJudge`) and in :mod:`ztsim.engine.egress`
  (:class:`~ztsim.engine.egress.EgressJudge`), applying the rules of
  :mod:`ztsim.engine.decisions` in the spec's order, so that "is this flow allowed,
  and by which rule?" reads in those modules.  Rules are indexed so that a
  decision scans only the rules that could match.
* Everything one attacker position can reach (:meth:`CompiledPolicy.reach`), for
  the fixpoint: :mod:`ztsim.engine.reach`, over the hosts' equivalence classes
  (:mod:`ztsim.engine.classes`) and the attack targets grouped by them
  (:mod:`ztsim.engine.targets`).

An earlier compilation of the policy may lend its classes, target groups and
per-class decisions (:mod:`ztsim.engine.reuse`).  The hot entry points
(``flow``, ``egress``, ``reach``, ``source_class``, ``dest_class``,
``egress_class``) are the parts' own bound methods, set on the instance: the facade
adds no call to them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping

from ztsim.engine.classes import Classes, ClassKey
from ztsim.engine.decisions import (
    TOPOLOGY_DENY,
    Decision,
    SelectorSets,
    selector_sets,
    sets_admit,
)
from ztsim.engine.egress import EGRESS_TOPOLOGY_DENY, EgressJudge
from ztsim.engine.expressions import Lowered, lower, uses_expressions
from ztsim.engine.layers import LayerPlan
from ztsim.engine.reach import BulkReach, RuleIndex
from ztsim.engine.reuse import can_reuse, untouched_sources
from ztsim.engine.rulemasks import ListMasks as _ListMasks
from ztsim.engine.targets import (
    TargetGroups,
    TargetLayout,
    bitset_of,
    group_targets,
    target_layout,
)
from ztsim.inputs.loaded import LabelGroup, LoadedPolicy, LoadedTopology
from ztsim.model.schema import EgressRule, SegmentationRule
from ztsim.model.selectors import Selector
from ztsim.model.services import PortRange, parse_service
from ztsim.perf.dedupe import PerObject

__all__ = ["CompiledPolicy", "EgressJudge", "FlowJudge"]


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
        Each host's (zone, label pairs), shared tuples
        (:attr:`ztsim.inputs.loaded.LoadedTopology.label_groups` when not given).
    compress
        ``False`` turns equivalence classes and representatives off (each host its
        own class): the same answers with more work, to test the compression.
    previous
        An earlier compilation of a version of this policy on the same topology and
        targets (interactive re-checks): its target groups are reused when its
        classes are at least as fine as this version needs.
    layout
        ``targets`` bucketed by :func:`~ztsim.engine.targets.target_layout` with
        these ``groups`` and ``signatures`` (shared by the policies of one model);
        computed from them when not given (``targets`` and ``signatures`` are read
        only then).  Only a compilation given a layout lends its target groups to a
        later one (``previous``), given the very same layout.
    """

    #: Decide a flow from a host id or external zone to a host's service
    #: (:meth:`FlowJudge.flow`).
    flow: Callable[[str, str, str], Decision]
    #: Decide egress from a host to an external destination (:meth:`EgressJudge.egress`).
    egress: Callable[[str, str, str], Decision]
    #: Egress decided once per source class (:meth:`EgressJudge.egress_class`).
    egress_class: Callable[[str, str, str], Decision]
    #: The bitset of target groups a host or external zone may open a flow to
    #: (:meth:`ztsim.engine.reach.BulkReach.reach`).
    reach: Callable[[str], int]
    #: The same, by source class or external zone id
    #: (:meth:`ztsim.engine.reach.BulkReach.reach_of`).
    reach_of: Callable[[ClassKey | str], int]
    #: The equivalence class of a host as a source of flows.
    source_class: Callable[[str], ClassKey]
    #: The equivalence class of a host as a destination of flows.
    dest_class: Callable[[str], ClassKey]
    #: The policy's partition of hosts into classes (maybe lent by ``previous``).
    classes: Classes
    #: The layout its target groups were built from, when given one.
    layout: TargetLayout | None

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
        #: How label expressions became label pairs (model v1.1), if the policy has any.
        self.lowered: Lowered | None = None
        if uses_expressions(pol):
            # Compiled as written but for label expressions, which become label pairs
            # (rule ids and order unchanged): v1 policies skip this.
            pol, self.lowered = lower(
                pol, topology, groups, layout, previous.lowered if previous else None
            )
            groups, layout = self.lowered.groups, self.lowered.layout
        # Every rule in order, layer by layer and tier by tier (model v1.1): `rules` in v1.
        self.seg_rules: tuple[SegmentationRule, ...] = tuple(pol.segmentation.all_rules())
        self.egress_rules: tuple[EgressRule, ...] = tuple(pol.egress.all_rules())
        #: Where each rule of a layered section stands (model v1.1); None in v1.
        self.seg_plan = (
            LayerPlan.of("segmentation", pol.segmentation) if pol.segmentation.layered else None
        )
        self.seg_ranges = [r.ranges for r in self.seg_rules]
        self.egress_ranges = [r.ranges for r in self.egress_rules]
        self.seg_default_allow = pol.segmentation.default == "allow"
        self.egress_default_allow = pol.egress.default == "allow"
        self.intra_zone_allow = pol.segmentation.intra_zone == "allow"
        self.mfa = frozenset(pol.controls.mfa)
        self.encrypt_in_transit = pol.controls.encrypt_in_transit
        #: What judging plans under this policy has found: set by the plan judge
        #: (:mod:`ztsim.engine.verdicts`), whose type this module cannot name (it is below).
        self.judgements: object = None

        classes = Classes(pol, topology, groups, compress)
        self.layout = layout
        #: Whether ``previous`` lent its classes and target groups.
        self.reused_targets = previous is not None and can_reuse(
            previous.classes, previous.layout, classes, layout
        )
        if previous is not None and self.reused_targets:
            classes, self._targets = previous.classes, previous.targets
        else:
            if layout is None:
                sigs = signatures if compress and signatures is not None else {}
                layout = target_layout(topology, targets, classes.groups, sigs)
            self._targets = group_targets(classes, layout)
        self.classes = classes
        self.source_class = classes.sources.of
        self.dest_class = classes.dests.of

        # Each rule's `from` as (host ids, label pairs), None where not constrained.
        # Rules share selector objects (ztsim.perf.dedupe): each one's sets are built once.
        sets_of = PerObject(selector_sets)
        from_sel = [sets_of(r.source) for r in self.seg_rules]
        rule_index = RuleIndex(self.seg_rules, topology, classes.groups)
        self._reach = BulkReach(
            rule_index,
            self.seg_ranges,
            self._targets,
            self.source_class,
            from_sel,
            [r.action == "allow" for r in self.seg_rules],
            self.seg_default_allow,
            self.intra_zone_allow,
            self.seg_plan,
        )
        # The parts hold what they need of the policy, never the policy: a reference
        # back would make a cycle, which only the (often paused) cyclic collector frees.
        self._flows = FlowJudge(
            topology,
            classes,
            self.seg_rules,
            self.seg_ranges,
            default_allow=self.seg_default_allow,
            intra_zone_allow=self.intra_zone_allow,
            rule_index=rule_index,
            from_sel=from_sel,
            sets_of=sets_of,
            plan=self.seg_plan,
        )
        self._egress = EgressJudge(
            topology,
            classes,
            self.egress_rules,
            self.egress_ranges,
            default_allow=self.egress_default_allow,
            sets_of=sets_of,
            section=pol.egress,
        )
        self.reach = self._reach.reach
        self.reach_of = self._reach.reach_of
        self.flow = self._flows.flow
        self.egress = self._egress.egress
        self.egress_class = self._egress.egress_class
        if previous is not None and self.reused_targets:
            self._inherit_decisions(previous)

    def _inherit_decisions(self, previous: CompiledPolicy) -> None:
        """Keep the previous version's per-class decisions that an edit cannot change
        (:func:`~ztsim.engine.reuse.untouched_sources`); the rest is recomputed on demand.
        Not for layered policies (model v1.1): a rule's effect there depends on its
        layer and tier, which the comparison of rule lists does not see."""
        if self.seg_plan is not None or previous.seg_plan is not None:
            return
        untouched = untouched_sources(
            previous.seg_rules,
            self.seg_rules,
            previous.seg_default_allow == self.seg_default_allow
            and previous.intra_zone_allow == self.intra_zone_allow,
        )
        if untouched is None:
            return
        self._reach.memo = {k: v for k, v in previous._reach.memo.items() if untouched(k)}
        self._flows.by_class = {
            k: v for k, v in previous._flows.by_class.items() if untouched(k[0])
        }

    def asked_reach(self) -> Mapping[ClassKey | str, int]:
        """The reach worked out so far, by source class or external zone id: every
        one a solve under this policy asked for (:mod:`ztsim.engine.replay`)."""
        return self._reach.memo

    @property
    def targets(self) -> TargetGroups:
        """The attack target groups this policy was compiled with."""
        return self._targets

    def egress_allowed(self, host: str, destination: str, service: str) -> bool:
        """Whether egress lets ``host`` out to ``destination`` on ``service``
        (:meth:`EgressJudge.allowed`: the fixpoint's question, without the rule)."""
        return self._egress.allowed(host, destination, service)

    def traffic(self, source: str, to: str, service: str) -> Decision:
        """Decide a legitimate traffic flow: to a host (segmentation) or outside (egress)."""
        if to in self.topology.destinations:
            if source not in self.topology.hosts:
                return EGRESS_TOPOLOGY_DENY
            return self.egress(source, to, service)
        return self.flow(source, to, service)


class FlowJudge:
    """Segmentation decisions on single flows, memoised per flow and per pair of classes.

    A flow's first match is found on bitsets over the rules (bit ``i`` for rule
    ``i``): the rules that may match the source class (the lists of the `from`
    index it falls in, :class:`~ztsim.engine.reach.RuleIndex`), those that may match
    the destination class (the `to` index), those whose services cover the
    service; the lowest set bit of their AND that matches exactly decides.  No
    candidate set is built or sorted per flow.
    """

    __slots__ = (
        "by_class",
        "by_flow",
        "by_ranges",
        "default_allow",
        "dest_class",
        "from_sel",
        "groups",
        "intra_zone_allow",
        "list_masks",
        "plan",
        "ranges",
        "rule_index",
        "rules",
        "service_masks",
        "sets_of",
        "source_class",
        "to_sel",
        "topology",
    )

    def __init__(
        self,
        topology: LoadedTopology,
        classes: Classes,
        rules: tuple[SegmentationRule, ...],
        ranges: list[tuple[PortRange, ...]],
        *,
        default_allow: bool,
        intra_zone_allow: bool,
        rule_index: RuleIndex,
        from_sel: list[SelectorSets],
        sets_of: Callable[[Selector], SelectorSets],
        plan: LayerPlan | None = None,
    ) -> None:
        self.topology = topology
        self.groups = classes.groups
        self.source_class = classes.sources.of
        self.dest_class = classes.dests.of
        #: The layers and tiers of a layered section (model v1.1), else None.
        self.plan = plan
        self.rules = rules
        self.ranges = ranges
        self.default_allow = default_allow
        self.intra_zone_allow = intra_zone_allow
        self.rule_index = rule_index
        self.from_sel = from_sel
        self.sets_of = sets_of
        #: Decisions by (source, destination host, service).
        self.by_flow: dict[tuple[str, str, str], Decision] = {}
        #: Decisions past self and intra-zone, by (source class, destination class, service).
        self.by_class: dict[tuple[ClassKey | str, ClassKey, str], Decision] = {}
        #: Each rule's `to` as sets, filled as flows need them (most rules never
        #: decide one).
        self.to_sel: list[SelectorSets | None] = [None] * len(from_sel)
        #: The lists of the `from` and of the `to` index as bitsets over the rules.
        self.list_masks = (
            _ListMasks(rule_index.by_source, len(rules)),
            _ListMasks(rule_index.by_dest, len(rules)),
        )
        #: The rules whose services cover a service, by service.
        self.service_masks: dict[str, int] = {}
        #: The rules by their list of service ranges (few distinct lists), built once.
        self.by_ranges: dict[tuple[PortRange, ...], int] | None = None

    def flow(self, source: str, dst_host: str, service: str) -> Decision:
        """Decide a flow from ``source`` (a host id or an external zone id) to a host service.

        Applies spec §4 in order: the destination must listen; from an external zone
        only public services; a host reaching itself; ``intra_zone: allow``; then the
        first matching segmentation rule, else the default.  Decisions are memoised.
        """
        key = (source, dst_host, service)
        known = self.by_flow.get(key)
        if known is None:
            known = self.by_flow[key] = self._flow(source, dst_host, service)
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
        known = self.by_class.get(memo_key)
        if known is None:
            known = self.by_class[memo_key] = self.first_match(memo_key, dst_host, dst.zone)
        return known

    def first_match(
        self, memo_key: tuple[ClassKey | str, ClassKey, str], dst_host: str, dst_zone: str
    ) -> Decision:
        """The first rule matching a flow between two classes, else the default.

        ``dst_host`` is one host of the destination class (the class decides alike
        for all of them); ``dst_zone`` is its zone.
        """
        if self.plan is not None:
            return self.plan.decide(self.matching(memo_key, dst_zone, every=True))
        i = self._first(memo_key, dst_zone)
        if i >= 0:
            r = self.rules[i]
            # tuple.__new__ skips the named tuple's Python-level __new__ (a call per class pair).
            return tuple.__new__(
                Decision, (r.action == "allow", r.id, "rule", "segmentation", None, None)
            )
        return Decision(self.default_allow, "default", "default")

    def _candidates(self, memo_key: tuple[ClassKey | str, ClassKey, str], dst_zone: str) -> int:
        """The rules that may match a flow between two classes, as a bitset (bit ``i``
        for rule ``i``): the union of the source's index lists, AND the union of the
        destination's, AND the rules covering the service.  A superset of the
        matching rules (a selector is listed under one of its requirements)."""
        source_key, dst_key, service = memo_key
        from_lists, to_lists = self.list_masks
        if isinstance(source_key, str):  # an external zone: only zone or any match
            cands = from_lists.zone(source_key) | from_lists.unconstrained()
        else:  # the memoised union read inline (asked of nearly every flow on H estates)
            src_mask = from_lists.by_key.get((source_key, source_key.zone))
            cands = from_lists.union(source_key, source_key.zone) if src_mask is None else src_mask
        if not cands:
            return 0
        dst_mask = to_lists.by_key.get((dst_key, dst_zone))
        cands &= to_lists.union(dst_key, dst_zone) if dst_mask is None else dst_mask
        if not cands:
            return 0
        svc = self.service_masks.get(service)
        if svc is None:
            svc = self.service_masks[service] = self._service_mask(service)
        return cands & svc

    def _first(self, memo_key: tuple[ClassKey | str, ClassKey, str], dst_zone: str) -> int:
        """The first of :meth:`matching`'s rules (``-1`` for none), for a v1 section:
        no list, the selector tests (:func:`~ztsim.engine.decisions.sets_admit`)
        inline."""
        cands = self._candidates(memo_key, dst_zone)
        source_key, dst_key = memo_key[0], memo_key[1]
        external = isinstance(source_key, str)
        src_host: str | None = None
        src_labels: frozenset[tuple[str, str]] = frozenset()
        if not isinstance(source_key, str):
            src_host, src_labels = source_key.host, source_key.labels
        from_sel, to_sel = self.from_sel, self.to_sel
        dst_host, dst_labels = dst_key.host, dst_key.labels
        while cands:
            low = cands & -cands
            cands ^= low
            i = low.bit_length() - 1
            hosts, pairs = from_sel[i]
            if external:
                if hosts is not None or pairs is not None:
                    continue
            elif not (
                (hosts is None or src_host in hosts) and (pairs is None or pairs <= src_labels)
            ):
                continue
            sets = to_sel[i]
            if sets is None:
                sets = to_sel[i] = self.sets_of(self.rules[i].to)
            hosts, pairs = sets
            if (hosts is None or dst_host in hosts) and (pairs is None or pairs <= dst_labels):
                return i
        return -1

    def matching(
        self, memo_key: tuple[ClassKey | str, ClassKey, str], dst_zone: str, *, every: bool
    ) -> list[int]:
        """The rules whose `from`, `to` and services match a flow between two classes,
        in order: every one (layered sections, :meth:`LayerPlan.decide`) or the first.

        Each candidate (:meth:`_candidates`), lowest first, is checked until one
        matches (usually the first).
        """
        cands = self._candidates(memo_key, dst_zone)
        source_key, dst_key = memo_key[0], memo_key[1]
        found: list[int] = []
        from_sel, to_sel, rules = self.from_sel, self.to_sel, self.rules
        while cands:
            low = cands & -cands
            cands ^= low
            i = low.bit_length() - 1
            sel = from_sel[i]
            if isinstance(source_key, str):
                if sel != (None, None):
                    continue
            elif not sets_admit(sel, source_key.host, source_key.labels):
                continue
            sets = to_sel[i]
            if sets is None:
                sets = to_sel[i] = self.sets_of(rules[i].to)
            if sets_admit(sets, dst_key.host, dst_key.labels):
                found.append(i)
                if not every:
                    break
        return found

    def _service_mask(self, service: str) -> int:
        """The rules whose services cover ``service``: per distinct list of ranges."""
        by_ranges = self.by_ranges
        if by_ranges is None:
            lists: dict[tuple[PortRange, ...], list[int]] = defaultdict(list)
            for i, rng in enumerate(self.ranges):
                lists[rng].append(i)
            size = len(self.rules)
            by_ranges = self.by_ranges = {k: bitset_of(v, size) for k, v in lists.items()}
        mask = 0
        svc = parse_service(service)  # once, not per list (ranges_cover parses it)
        for rng, rules in by_ranges.items():
            for r in rng:
                if r.covers(svc):
                    mask |= rules
                    break
        return mask
