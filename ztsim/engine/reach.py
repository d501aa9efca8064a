"""Bulk reach: every target group one attacker position may open a flow to, and the
rule index both reach and single flows narrow their candidate rules with.

Each segmentation rule is compiled to the bitset of the target groups
(:mod:`ztsim.engine.targets`) its `to` and services match.  First match over a
source class is then a sweep of big-integer operations over the rules that may
match the class (found in :class:`RuleIndex`), and no host-to-host flow is ever
materialised.  Apart from single flows (:mod:`ztsim.engine.compiled`): the
fixpoint asks this question millions of times, per class, and never which rule
decided.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from typing import Any, Literal

from ztsim.engine.classes import ClassKey
from ztsim.engine.decisions import SelectorSets
from ztsim.engine.layers import LayerPlan
from ztsim.engine.targets import TargetGroups
from ztsim.inputs.loaded import LabelGroup, LoadedTopology, label_pair_counts
from ztsim.model.schema import SegmentationRule
from ztsim.model.selectors import Selector
from ztsim.model.services import PortRange, parse_service
from ztsim.perf.dedupe import PerObject

__all__ = [
    "BulkReach",
    "RuleIndex",
    "RuleLists",
    "candidates",
    "index_lists",
    "rule_masks",
]

#: Rule indices by a selector's zone, by named host, by label pair, and unconstrained
#: (see :meth:`RuleIndex.build`).
RuleLists = tuple[
    dict[str, list[int]],
    dict[str, list[int]],
    dict[tuple[str, str], list[int]],
    list[int],
]


def index_lists(
    index: RuleLists, zone: str, host: str | None, labels: frozenset[tuple[str, str]]
) -> list[list[int]]:
    """The lists of ``index`` that hold the rules whose selector may match a class in
    ``zone`` with this named host and these label pairs: their union is a superset
    of the rules that match."""
    by_zone, by_host, by_pair, unconstrained = index
    lists = [by_zone.get(zone, []), unconstrained]
    if host is not None:
        lists.append(by_host.get(host, []))
    lists.extend(by_pair[p] for p in labels if p in by_pair)
    return lists


def candidates(index: RuleLists, source: ClassKey | str) -> list[int]:
    """The rules of a `from` index that may match a source class (or external zone),
    in file order."""
    if isinstance(source, str):  # an external zone: only zone or any selectors match
        by_zone, _, _, unconstrained = index
        lists = [by_zone.get(source, []), unconstrained]
    else:
        lists = index_lists(index, source.zone, source.host, source.labels)
    return sorted(set().union(*lists))


class RuleIndex:
    """The segmentation rules by what their `from` and their `to` require, each index
    built on first use (single flows need both, reach only the `from` one)."""

    __slots__ = ("_by_dest", "_by_source", "groups", "rules", "topology")

    def __init__(
        self,
        rules: tuple[SegmentationRule, ...],
        topology: LoadedTopology,
        groups: Mapping[str, LabelGroup],
    ) -> None:
        self.rules = rules
        self.topology = topology
        self.groups = groups
        self._by_source: RuleLists | None = None
        self._by_dest: RuleLists | None = None

    def by_source(self) -> RuleLists:
        """The rules by what their `from` requires."""
        if self._by_source is None:
            self._by_source = self.build("from")
        return self._by_source

    def by_dest(self) -> RuleLists:
        """The rules by what their `to` requires."""
        if self._by_dest is None:
            self._by_dest = self.build("to")
        return self._by_dest

    def build(self, side: Literal["from", "to"]) -> RuleLists:
        """The segmentation rules by what their ``side`` selector requires: a zone;
        else a named host; else one label pair (the rarest among the hosts); else
        nothing.  A rule is listed under one key of one of these (under each zone
        of a zone list, each host it names): the union of a class's lists is a
        superset of the rules whose selector matches it (see :func:`index_lists`)."""
        topo = self.topology
        # How rare each label pair is: per topology, unless this policy has groups of its own.
        pair_weight = (
            topo.label_pair_counts
            if self.groups is topo.label_groups
            else label_pair_counts(self.groups.values())
        )
        lists: tuple[dict[Any, list[int]], ...] = ({}, {}, {})
        unconstrained: list[int] = []
        # Where each selector goes, found once per selector object (rules share them).
        where: dict[int, tuple[int, Any]] = {}
        for i, r in enumerate(self.rules):
            sel = r.source if side == "from" else r.to
            place = where.get(id(sel))
            if place is None:
                place = where[id(sel)] = _place(sel, pair_weight)
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


def _place(sel: Selector, pair_weight: Mapping[tuple[str, str], int]) -> tuple[int, Any]:
    """Where a selector is indexed: (0, its zones), (1, its hosts), (2, its rarest
    label pair) or (3, nothing)."""
    if sel.zone is not None:  # under each zone of a list
        return 0, tuple(dict.fromkeys(sel.zone))
    if sel.host:
        return 1, tuple(dict.fromkeys(sel.host))
    if sel.labels:
        return 2, (min(sel.labels.items(), key=lambda kv: (pair_weight.get(kv, 0), kv)),)
    return 3, ()


def rule_masks(
    rules: tuple[SegmentationRule, ...], ranges: list[tuple[PortRange, ...]], tg: TargetGroups
) -> list[int]:
    """For each rule, the bitset of target groups its `to` and services match.

    Built by intersecting per-attribute bitsets (zone, label pair, named host,
    service), so the cost is per rule, not per rule and group.
    """
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
    for i, r in enumerate(rules):
        m = mask_of(r.to)
        rng = ranges[i]
        if m and not any(rg.proto == "*" and rg.low == 0 and rg.high == 65535 for rg in rng):
            sm = by_ranges.get(rng)
            if sm is None:
                sm = 0
                for name, svc in services.items():
                    if any(rg.covers(svc) for rg in rng):
                        sm |= tg.service_mask[name]
                by_ranges[rng] = sm
            m &= sm
        masks.append(m)
    return masks


#: The fewest rules of a single label pair's `from` that are swept once for every
#: class with that pair (:meth:`BulkReach._shared`).
SHARED_MIN = 16
#: Every how many shared rules a :class:`_Prefix` keeps the sweep's state.
PREFIX_STEP = 8


class BulkReach:
    """What each source class (or external zone) may open a flow to, as a bitset of
    target groups, memoised per class.

    ``from_sel`` and ``allows`` are each rule's `from` as sets and whether it
    allows; ``source_class`` classes a host as a source.
    """

    __slots__ = (
        "_extras",
        "_index",
        "_masks",
        "_prefixes",
        "allows",
        "default_allow",
        "external",
        "from_sel",
        "intra_zone_allow",
        "memo",
        "plan",
        "ranges",
        "rule_index",
        "source_class",
        "targets",
    )

    def __init__(
        self,
        rule_index: RuleIndex,
        ranges: list[tuple[PortRange, ...]],
        targets: TargetGroups,
        source_class: Callable[[str], ClassKey],
        from_sel: list[SelectorSets],
        allows: list[bool],
        default_allow: bool,
        intra_zone_allow: bool,
        plan: LayerPlan | None = None,
    ) -> None:
        #: The layers and tiers of a layered section (model v1.1), else None.
        self.plan = plan
        self.rule_index = rule_index
        self.ranges = ranges
        self.targets = targets
        self.source_class = source_class
        self.from_sel = from_sel
        self.allows = allows
        self.default_allow = default_allow
        self.intra_zone_allow = intra_zone_allow
        self.external = rule_index.topology.external_zones
        #: The reach of each source class (or external zone) asked about.
        self.memo: dict[ClassKey | str, int] = {}
        self._masks: list[int] | None = None
        self._index: RuleLists | None = None
        #: The shared part of the candidates (see :meth:`_shared`), built on first use.
        self._extras: (
            tuple[RuleLists, frozenset[tuple[str, str]], dict[tuple[str, str] | None, int]] | None
        ) = None
        #: Per set of shared label pairs: its :class:`_Prefix`, else 1 when one class
        #: asked (it is built for the second), 0 when it shares too few rules to pay.
        self._prefixes: dict[frozenset[tuple[str, str]], _Prefix | int] = {}

    def masks(self) -> list[int]:
        """Each rule's bitset of target groups (:func:`rule_masks`), built once."""
        if self._masks is None:
            self._masks = rule_masks(self.rule_index.rules, self.ranges, self.targets)
        return self._masks

    def index(self) -> RuleLists:
        """The `from` index less the rules whose `to` and services match no target
        group: they decide nothing here."""
        if self._index is None:
            masks = self.masks()
            by_zone, by_host, by_pair, unconstrained = self.rule_index.by_source()

            def kept(rules: list[int]) -> list[int]:
                return [i for i in rules if masks[i]]

            self._index = (
                {k: kept(v) for k, v in by_zone.items()},
                {k: kept(v) for k, v in by_host.items()},
                {k: kept(v) for k, v in by_pair.items()},
                kept(unconstrained),
            )
        return self._index

    def reach(self, source: str) -> int:
        """The bitset of target groups that ``source`` may open a flow to.

        ``source`` is a host id or an external zone id.  Flows of a host to itself are
        not included (they are always allowed; the engine adds them per host).
        Hosts of one source class share the result, which is memoised.
        """
        ext = source in self.external
        return self.reach_of(source if ext else self.source_class(source))

    def reach_of(self, key: ClassKey | str) -> int:
        """:meth:`reach` of a source class, or of an external zone by its id."""
        known = self.memo.get(key)
        if known is None:
            known = self.memo[key] = self._sweep(key)
        return known

    def _sweep(self, source: ClassKey | str) -> int:
        """First match over a source class's candidate rules, on bitsets."""
        tg = self.targets
        masks = self.masks()
        ext = isinstance(source, str)
        undecided = tg.public_mask if ext else tg.full
        allowed = 0
        ck: ClassKey | None = None
        if not isinstance(source, str):
            ck = source
            if self.intra_zone_allow:  # never zone-blind
                same = tg.zone_mask.get(ck.zone, 0)
                allowed |= same
                undecided &= ~same
        if self.plan is not None:
            return allowed | self._sweep_layered(source, ck, undecided)
        extras, shared, sizes = self._shared()
        key = shared & ck.labels if ck is not None else frozenset()
        prefix = self._prefixes.get(key)
        if prefix is None:  # a prefix pays from its second class on
            big = sizes[None] + sum(sizes[p] for p in key) >= SHARED_MIN
            self._prefixes[key] = 1 if big else 0
        elif prefix == 1:
            prefix = self._prefixes[key] = _Prefix(self, key)
        if isinstance(prefix, _Prefix):
            allowed, undecided = prefix.sweep(
                self, candidates(extras, source), ck, allowed, undecided
            )
            if self.default_allow:
                allowed |= undecided
            return allowed
        from_sel, allows = self.from_sel, self.allows
        for i in candidates(self.index(), source):
            if not undecided:
                break
            # The rule's `from` zone already matches (candidates); check the rest
            # with set operations before any big-integer work (the hot loop of the
            # fixpoint: a bitset has a bit per target group, thousands of them).
            # sets_admit's test, inlined: this loop runs per class and candidate.
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
        if self.default_allow:
            allowed |= undecided
        return allowed

    def _shared(
        self,
    ) -> tuple[RuleLists, frozenset[tuple[str, str]], dict[tuple[str, str] | None, int]]:
        """The `from` index less the rules shared by many classes, the label pairs
        whose rules are, and how many rules each shares (``None``: unconstrained).

        A rule whose `from` is ``any`` matches every class, one whose `from` is a
        single label pair every class with that pair: on estates with many such
        rules every class has hundreds of candidates, and a sweep per class costs
        rules times target groups.  These *shared* rules (unconstrained, or of a
        label pair with at least :data:`SHARED_MIN` of them) are swept once per set
        of pairs (:class:`_Prefix`); a class sweeps only its other candidates, the
        *extras*, jumping over the shared rules between them.
        """
        if self._extras is None:
            by_zone, by_host, by_pair, unconstrained = self.index()
            from_sel = self.from_sel
            pure = {
                p: [i for i in rules if from_sel[i] == (None, frozenset((p,)))]
                for p, rules in by_pair.items()
            }
            shared = frozenset(p for p, rules in pure.items() if len(rules) >= SHARED_MIN)
            drop = {i for p in shared for i in pure[p]}
            anything = [i for i in unconstrained if from_sel[i] == (None, None)]
            sizes: dict[tuple[str, str] | None, int] = {p: len(pure[p]) for p in shared}
            sizes[None] = len(anything)
            self._extras = (
                (
                    by_zone,
                    by_host,
                    {
                        p: [i for i in rules if i not in drop] if p in shared else rules
                        for p, rules in by_pair.items()
                    },
                    [i for i in unconstrained if from_sel[i] != (None, None)],
                ),
                shared,
                sizes,
            )
        return self._extras

    def _sweep_layered(self, source: ClassKey | str, ck: ClassKey | None, start: int) -> int:
        """What every layer allows of ``start`` (model v1.1): the candidate rules whose
        `from` matches, with their bitsets, swept per layer and tier
        (:meth:`~ztsim.engine.layers.LayerPlan.sweep`)."""
        assert self.plan is not None
        masks, from_sel = self.masks(), self.from_sel
        hits: list[tuple[int, int]] = []
        for i in candidates(self.index(), source):
            hosts_i, pairs_i = from_sel[i]
            if ck is None:
                if hosts_i is not None or pairs_i is not None:
                    continue
            elif (hosts_i is not None and ck.host not in hosts_i) or (
                pairs_i is not None and not pairs_i <= ck.labels
            ):
                continue
            hits.append((i, masks[i]))
        return self.plan.sweep(start, hits)


class _Prefix:
    """The rules shared by the classes with a set of label pairs, swept once: the
    state of the first-match sweep from every target group after each
    :data:`PREFIX_STEP` of them.

    A class's sweep merges these rules with its extras, in rule order.  Whatever
    the sweep has left undecided when it reaches shared rule ``p`` was matched by
    none of the shared rules before ``p`` (they are all the class's candidates):
    so ``allowed |= A[p] & undecided; undecided &= ~U[p]`` applies the shared
    rules up to ``p`` at once, where ``U[p]`` is the union of their target groups
    and ``A[p]`` those whose first match among them allows.
    """

    __slots__ = ("allowed", "decided", "rules")

    def __init__(self, reach: BulkReach, pairs: frozenset[tuple[str, str]]) -> None:
        by_pair, unconstrained = reach.index()[2], reach.index()[3]
        from_sel = reach.from_sel
        rules = [i for i in unconstrained if from_sel[i] == (None, None)]
        for p in pairs:
            rules += [i for i in by_pair[p] if from_sel[i] == (None, frozenset((p,)))]
        rules.sort()
        #: The shared rules, in order.
        self.rules = rules
        masks, allows = reach.masks(), reach.allows
        allowed = decided = 0
        #: ``A`` and ``U`` after every PREFIX_STEP rules, and after the last.
        self.allowed = [0]
        self.decided = [0]
        for n, i in enumerate(rules, 1):
            m = masks[i]
            if allows[i]:
                allowed |= m & ~decided
            decided |= m
            if n % PREFIX_STEP == 0 or n == len(rules):
                self.allowed.append(allowed)
                self.decided.append(decided)

    def sweep(
        self,
        reach: BulkReach,
        extras: list[int],
        ck: ClassKey | None,
        allowed: int,
        undecided: int,
    ) -> tuple[int, int]:
        """Sweep a class's ``extras`` (candidates not shared, in order) merged with
        the shared rules, from ``allowed`` and ``undecided``; the state after."""
        masks, allows, from_sel = reach.masks(), reach.allows, reach.from_sel
        rules = self.rules
        at = 0  # the shared rules before `at` are applied
        for i in [*extras, len(masks)]:  # a last stop past every rule
            if not undecided:
                break
            if i < len(masks):
                hosts_i, pairs_i = from_sel[i]
                if ck is None:
                    if hosts_i is not None or pairs_i is not None:
                        continue
                elif (hosts_i is not None and ck.host not in hosts_i) or (
                    pairs_i is not None and not pairs_i <= ck.labels
                ):
                    continue
            stop = bisect_left(rules, i, at)
            if stop > at:
                jump = stop // PREFIX_STEP
                if jump * PREFIX_STEP > at or stop == len(rules):
                    if stop == len(rules):
                        jump = len(self.allowed) - 1
                        at = stop
                    else:
                        at = jump * PREFIX_STEP
                    allowed |= self.allowed[jump] & undecided
                    undecided &= ~self.decided[jump]
                for j in rules[at:stop]:
                    hit = masks[j] & undecided
                    if hit:
                        if allows[j]:
                            allowed |= hit
                        undecided ^= hit
                at = stop
            if i < len(masks):
                hit = masks[i] & undecided
                if hit:
                    if allows[i]:
                        allowed |= hit
                    undecided ^= hit
        return allowed, undecided
