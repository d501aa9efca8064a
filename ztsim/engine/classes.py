"""Equivalence classes: hosts that no selector of a policy tells apart.

A policy's selectors can see of a host only its zone, the label pairs they name and
its id if they name it (a :class:`ClassKey`).  Hosts with equal keys are judged
alike by every rule, so flows are decided, and reach computed, once per class.
Sources and destinations are classed apart (`from` selectors, `to` selectors): each
side is a :class:`ClassSide`, which remembers the classes it has found.

A module of its own because the classes are what a re-check re-uses whole
(:mod:`ztsim.engine.reuse`): an edited policy whose selectors draw no finer
partition keeps this object, its memos, and the target groups built on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from ztsim.inputs.loaded import LabelGroup, LoadedTopology
from ztsim.model.matching import selector_matches_zone
from ztsim.model.schema import Policy
from ztsim.model.selectors import Selector

__all__ = [
    "ClassKey",
    "ClassSide",
    "Classes",
    "selector_matches_class",
    "selectors_features",
    "sniff_zones",
    "zone_blind",
]


class ClassKey(NamedTuple):
    """What selectors can tell of a host: its zone, the label pairs they name, its id
    if they name it.  Hosts with equal keys are indistinguishable to the policy."""

    zone: str
    labels: frozenset[tuple[str, str]]
    host: str | None


def selector_matches_class(sel: Selector, key: ClassKey | str) -> bool:
    """Whether a `from` selector matches a source class key (or an external zone)."""
    if isinstance(key, str):
        return selector_matches_zone(sel, key)
    if sel.zone is not None and key.zone not in sel.zone:
        return False
    if sel.host and key.host not in sel.host:
        return False
    return not (sel.labels and not set(sel.labels.items()) <= key.labels)


def selectors_features(selectors: Iterable[Selector]) -> tuple[set[tuple[str, str]], set[str]]:
    """The label pairs and the host ids that some of ``selectors`` name."""
    pairs: set[tuple[str, str]] = set()
    hosts: set[str] = set()
    # Each selector object once (shared by many rules), in a stable order.
    for sel in {id(s): s for s in selectors}.values():
        if sel.labels:
            pairs.update(sel.labels.items())
        if sel.host:
            hosts.update(sel.host)
    return pairs, hosts


def sniff_zones(topology: LoadedTopology) -> frozenset[str]:
    """Zones of the hosts at either end of a legitimate flow that carries a credential."""
    hosts = topology.hosts
    return frozenset(
        hosts[x].zone
        for t in topology.model.traffic
        if t.credential is not None
        for x in (t.source, t.to)
        if x in hosts
    )


def zone_blind(pol: Policy) -> bool:
    """Whether a policy decides no flow by zone: hosts then group across zones.

    True when no segmentation rule's `from` or `to` and no egress rule's `from`
    names a zone, and ``intra_zone`` is ``rules``.  Flows from external zones are
    still told apart (only public services, see
    :meth:`ztsim.engine.compiled.CompiledPolicy.flow`), and so are the zones where a
    credential can be sniffed (:func:`sniff_zones`).  A flat policy and the
    reference policy are zone-blind.  Only selectors and ``intra_zone`` count, never
    actions: flipping a rule's action (a re-check) keeps the classes.  Detection
    entries do not count either: they judge plans, never what the attacker reaches.
    """
    seg = pol.segmentation
    if seg.intra_zone == "allow":
        return False
    if any(r.source.zone is not None or r.to.zone is not None for r in seg.all_rules()):
        return False
    return all(r.source.zone is None for r in pol.egress.all_rules())


class Classes:
    """A policy's partition of a topology's hosts into source and destination classes.

    ``groups`` is each host's (zone, label pairs), shared tuples
    (:attr:`ztsim.inputs.loaded.LoadedTopology.label_groups` unless given);
    ``compress=False`` makes every host a class of its own (tests: the same answers
    with more work).
    """

    __slots__ = ("compress", "dests", "groups", "kept_zones", "sources", "topology", "zone_blind")

    def __init__(
        self,
        policy: Policy,
        topology: LoadedTopology,
        groups: Mapping[str, LabelGroup] | None = None,
        compress: bool = True,
    ) -> None:
        self.topology = topology
        self.groups = groups if groups is not None else topology.label_groups
        self.compress = compress
        #: No selector names a zone and ``intra_zone`` changes nothing: hosts are
        #: told apart by labels and ids only, and classes span zones (see
        #: :func:`zone_blind`).  ``""`` then stands for every zone in class keys.
        self.zone_blind = zone_blind(policy)
        #: Zones kept in the class keys of a zone-blind policy all the same: those
        #: where a credential crosses the wire, which root on a host of the zone
        #: can sniff (spec rule 6); none when the policy encrypts in transit.
        self.kept_zones = (
            sniff_zones(topology)
            if self.zone_blind and not policy.controls.encrypt_in_transit
            else frozenset()
        )
        # Every layer's rules draw the classes (model v1.1): all_rules is `rules` in v1.
        seg, egress = policy.segmentation.all_rules(), policy.egress.all_rules()
        src_sels = [r.source for r in seg] + [r.source for r in egress]
        #: Sources, told apart by `from` selectors; destinations by `to` selectors.
        self.sources = ClassSide(self, *selectors_features(src_sels))
        self.dests = ClassSide(self, *selectors_features(r.to for r in seg))


class ClassSide:
    """The classes of hosts on one side of flows (sources or destinations).

    ``pairs`` and ``named`` are the label pairs and host ids that this side's
    selectors name: all they can tell of a host.  The classes found so far are
    remembered per host and per label group (a group of hosts no selector names
    falls whole into one class).
    """

    __slots__ = (
        "blind",
        "by_group",
        "by_host",
        "compress",
        "groups",
        "kept_zones",
        "named",
        "pairs",
    )

    def __init__(self, classes: Classes, pairs: set[tuple[str, str]], named: set[str]) -> None:
        # What the side needs of ``classes``, copied: a reference back to it would
        # make a cycle, which only the (often paused) cyclic collector frees.
        self.groups = classes.groups
        self.compress = classes.compress
        self.blind = classes.zone_blind
        self.kept_zones = classes.kept_zones
        self.pairs = frozenset(pairs)
        self.named = named
        #: The class of each host asked about.
        self.by_host: dict[str, ClassKey] = {}
        #: The class of the hosts of each label group that no selector names.
        self.by_group: dict[LabelGroup, ClassKey] = {}

    def of(self, host_id: str) -> ClassKey:
        """The equivalence class of a host on this side."""
        key = self.by_host.get(host_id)
        if key is None:
            key = self.by_host[host_id] = self._project(host_id)
        return key

    def _project(self, host_id: str) -> ClassKey:
        group = self.groups[host_id]
        if host_id in self.named or not self.compress:
            return ClassKey(self.class_zone(group[0]), group[1] & self.pairs, host_id)
        return self.of_group(group)

    def of_group(self, group: LabelGroup) -> ClassKey:
        """The class of the hosts of a label group that no selector names."""
        key = self.by_group.get(group)
        if key is None:
            zone, labels = group
            if self.blind and zone not in self.kept_zones:  # (class_zone, inlined: hot)
                zone = ""
            # tuple.__new__ skips the named tuple's Python-level __new__ (hot here).
            key = self.by_group[group] = tuple.__new__(ClassKey, (zone, labels & self.pairs, None))
        return key

    def class_zone(self, zone: str) -> str:
        """A host's zone as its class keys hold it: ``""`` (any zone) when the policy
        is zone-blind and nothing else tells the zone apart."""
        return "" if self.blind and zone not in self.kept_zones else zone
