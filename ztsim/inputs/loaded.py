"""What loading gives: a topology or a policy, validated and indexed for the engine.

A seam of its own because the layers above (engine, analysis, what-if, output,
faces) read these results and never the machinery that reads and checks files
(:mod:`ztsim.inputs.loader`, :mod:`ztsim.inputs.validate`,
:mod:`ztsim.inputs.checks`).  The indexes here (host tables, label groups,
where each rule stands) are built once per loaded file and shared by every
question asked of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass, field
from functools import cached_property
from typing import Literal, NamedTuple

from ztsim.inputs.positions import Document, Mark, NodePath, locate
from ztsim.model.diagnostics import Diagnostic
from ztsim.model.schema import (
    DataItem,
    EntryPoint,
    ExternalDestination,
    Host,
    Policy,
    Topology,
    lists_key,
)

__all__ = [
    "REFERENCE_POLICY",
    "HostGroups",
    "HostTables",
    "LabelGroup",
    "LoadedPolicy",
    "LoadedTopology",
    "label_pair_counts",
    "reference_policy",
]


class HostTables(NamedTuple):
    """A topology's hosts and data items by id, in file order.

    The loader fills them in the pass over the hosts that checks them (see
    :func:`ztsim.inputs.checks.check_topology`), so that :class:`LoadedTopology`
    does not walk the hosts again: on an estate every pass over them counts, much
    of it spent waiting on memory.
    """

    hosts: dict[str, Host]
    data: dict[str, tuple[Host, DataItem]]
    #: :func:`~ztsim.model.schema.lists_key` of each host, in file order (the check works
    #: them out anyway; the attack model reads them again).
    keys: list[tuple[int, int, int, int]]

    @classmethod
    def of(cls, model: Topology) -> HostTables:
        """The tables of ``model`` (for a topology not loaded through this module)."""
        hosts = {h.id: h for h in model.hosts}
        return cls(
            hosts,
            {d.id: (h, d) for h in model.hosts if h.data for d in h.data},
            [lists_key(h) for h in model.hosts],
        )


#: A host's zone and label pairs: all that selectors other than ``host:`` can see.
LabelGroup = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class HostGroups:
    """The hosts' distinct (zone, label set) groups, indexed for selector look-ups.

    Whether some host matches a selector's zone and labels depends only on the
    host's group, and hosts of one role share theirs (benchmark L: 50,000 hosts,
    about 7,900 groups), so an index of groups is a fraction of an index of hosts
    to build.  Host ids need no index: a selector names a few, looked up directly.
    """

    #: Group numbers by zone (zones that hold no host are absent).
    by_zone: dict[str, set[int]]
    #: Group numbers by (key, value) label pair.
    by_label: dict[tuple[str, str], set[int]]

    @classmethod
    def of_groups(cls, groups: Iterable[LabelGroup]) -> HostGroups:
        """Index the hosts' groups (repeats allowed; numbered in order of first appearance)."""
        distinct = dict.fromkeys(groups)
        by_zone: defaultdict[str, set[int]] = defaultdict(set)
        by_label: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
        for g, (zone, labels) in enumerate(distinct):
            by_zone[zone].add(g)
            for pair in labels:
                by_label[pair].add(g)
        # Plain dicts: a look-up of an absent key must not add it.
        return cls(dict(by_zone), dict(by_label))

    def any_match(self, zone: str | None, labels: Mapping[str, str]) -> bool:
        """Whether some host is in ``zone`` (any zone if ``None``) and has all ``labels``."""
        if not labels:
            return bool(self.by_zone) if zone is None else zone in self.by_zone
        candidates: list[set[int]] = []
        if zone is not None:
            in_zone = self.by_zone.get(zone)
            if in_zone is None:
                return False
            candidates.append(in_zone)
        for pair in labels.items():
            having = self.by_label.get(pair)
            if having is None:
                return False
            candidates.append(having)
        if len(candidates) == 1:
            return True  # the index holds no empty set
        candidates.sort(key=len)
        first, *rest = candidates
        return not first.isdisjoint(rest[0]) if len(rest) == 1 else bool(first.intersection(*rest))


def label_pair_counts(groups: Iterable[LabelGroup]) -> dict[tuple[str, str], int]:
    """For each label pair, in how many distinct groups of ``groups`` it appears."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for _zone, labels in set(groups):
        for pair in labels:
            counts[pair] += 1
    return dict(counts)


@dataclass(eq=False)
class LoadedTopology:
    """A validated topology with lookup tables for the engine.

    ``tables`` (init only) are the host tables when the caller already built them;
    they are built from ``model`` otherwise.
    """

    model: Topology
    path: str
    doc: Document | None = None
    warnings: list[Diagnostic] = field(default_factory=list)
    tables: InitVar[HostTables | None] = None

    def __post_init__(self, tables: HostTables | None) -> None:
        m = self.model
        self.zones = {z.id: z for z in m.zones}
        self.external_zones = frozenset(z.id for z in m.zones if z.external)
        if tables is None:
            tables = HostTables.of(m)
        self.hosts: dict[str, Host] = tables.hosts
        #: :func:`~ztsim.model.schema.lists_key` of each host of ``model.hosts``, in order.
        self.lists_keys: list[tuple[int, int, int, int]] = tables.keys
        self.destinations: dict[str, ExternalDestination] = {e.id: e for e in m.external}
        self.data: dict[str, tuple[Host, DataItem]] = tables.data
        self.entry_points: tuple[EntryPoint, ...] = tuple(m.entry_points) or tuple(
            EntryPoint(id=f"from-{z.id}", zone=z.id) for z in m.zones if z.external
        )

    @property
    def name(self) -> str:
        """The topology's name."""
        return self.model.name

    @cached_property
    def label_groups(self) -> dict[str, LabelGroup]:
        """Each host's (zone, label pairs), one shared tuple per distinct value.

        All that selectors other than ``host:`` can see of a host.  Far fewer
        groups than hosts on real estates (hosts of one role share their labels):
        selector checks and policy classes work per group.
        """
        interned: dict[LabelGroup, LabelGroup] = {}
        # Hosts of one role share their labels' object (Labels, see
        # ztsim.perf.dedupe): its pairs are made a set once, and each host costs a
        # look-up by identity and one of its group.  Each set is made from the
        # first host's own labels, as a set per host would be.
        pairs_of: dict[int, frozenset[tuple[str, str]]] = {}  # alive: the hosts hold them
        out: dict[str, LabelGroup] = {}
        for h in self.model.hosts:
            labels = h.labels
            pairs = pairs_of.get(id(labels))
            if pairs is None:
                pairs = pairs_of[id(labels)] = frozenset(labels.items())
            key = (h.zone, pairs)
            out[h.id] = interned.setdefault(key, key)
        return out

    @cached_property
    def label_pair_counts(self) -> dict[tuple[str, str], int]:
        """For each label pair, in how many distinct (zone, labels) groups it appears.

        How rare a pair is, for indexing rules by their rarest pair; shared by the
        policies compiled against this topology (:func:`label_pair_counts` of its
        groups).  Read off :attr:`host_groups`, which numbers the same distinct
        groups under each pair and which the policies' warnings index anyway: one
        pass over the groups for both.
        """
        return {pair: len(groups) for pair, groups in self.host_groups.by_label.items()}

    @cached_property
    def host_groups(self) -> HostGroups:
        """The hosts' (zone, label set) groups, indexed for selector look-ups."""
        return HostGroups.of_groups(self.label_groups.values())

    def mark(self, loc: NodePath, *, key: bool = False) -> Mark:
        """Where ``loc`` stands in the source file (1:1 when unknown)."""
        return locate(self.doc, loc, key=key) if self.doc is not None else Mark(1, 1)

    def place(self, loc: NodePath) -> tuple[str, Mark]:
        """The file and place of ``loc``: :meth:`mark` in the topology's file, unless the
        topology was compiled from other files (a Kubernetes import names the manifest)."""
        return self.path, self.mark(loc)

    def arguments(self, policy: str | None) -> list[str]:
        """The command-line words that load this topology and the policy file
        ``policy`` again (``TOPOLOGY -p POLICY``; ``None``: the reference policy),
        for the commands a report suggests; a Kubernetes import repeats its own."""
        return [self.path] if policy is None else [self.path, "-p", policy]


@dataclass(eq=False)
class LoadedPolicy:
    """A validated policy and where each of its rules stands in its file."""

    model: Policy
    path: str
    doc: Document | None = None
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The policy's name."""
        return self.model.name

    @cached_property
    def _rule_paths(self) -> dict[tuple[str, str], NodePath]:
        """Where each rule is written, by (section, name): every rule by its id, and in a
        layered section (model v1.1) also as ``LAYER/RULE``, and each layer's default
        as ``LAYER/default`` (at the layer)."""
        paths: dict[tuple[str, str], NodePath] = {}
        for section in ("segmentation", "egress"):
            sec = self.model.segmentation if section == "segmentation" else self.model.egress
            for p in sec.placed_rules():
                paths[(section, p.rule.id)] = (section, *p.path)
                if p.layer is not None:
                    paths[(section, f"{p.layer}/{p.rule.id}")] = (section, *p.path)
            for i, layer_id in enumerate(sec.layer_ids()):
                paths[(section, f"{layer_id}/default")] = (section, "layers", i)
        return paths

    @cached_property
    def _rule_marks(self) -> dict[tuple[str, str], Mark]:
        """Where each rule stands, by (section, name), found once for every rule.

        ``check`` names the line of every rule (impact rows) and of each rule a
        decision cites: on a 10,000-rule policy, walking the node index once per
        question cost more than the rest of the verdicts.
        """
        doc = self.doc
        if doc is None:
            return {}
        marks: dict[tuple[str, str], Mark] = {}
        rules = list(self._rule_paths.items())
        paths: list[NodePath] = [path for _, path in rules]
        indexed: dict[NodePath, bool] = {}
        for (key, path), mark in zip(rules, doc.node_marks(paths), strict=True):
            parent = path[:-1]
            if parent not in indexed:
                indexed[parent] = all(
                    doc.node_mark(parent[:n]) is not None for n in range(1, len(parent) + 1)
                )
            # What ``locate`` returns when the whole path is indexed (as it is for a
            # rule parsed from the file); anything else goes through ``locate``.
            if mark is None or not indexed[parent]:
                mark = locate(doc, path)
            marks[key] = mark
        return marks

    def rule_marks(self) -> Mapping[tuple[str, str], Mark]:
        """Where each rule stands, by (section, rule id): :meth:`rule_mark` of them all."""
        return self._rule_marks

    def rule_mark(self, section: Literal["segmentation", "egress"], rule_id: str) -> Mark | None:
        """Return the line and column of rule ``rule_id`` of ``section``, if known
        (``LAYER/RULE`` and ``LAYER/default`` in a layered section; of a name of
        several layers joined by ``+``, its first rule's)."""
        mark = self._rule_marks.get((section, rule_id))
        if mark is None and "+" in rule_id:
            mark = self._rule_marks.get((section, self._first_known(section, rule_id)))
        return mark

    def _first_known(self, section: str, name: str) -> str:
        """Of an allowed flow's ``L1/R1+L2/R2`` name, the first part naming a rule (the
        parts split at the ``+`` that starts a known name; rule ids may hold ``+``)."""
        parts = name.split("+")
        found: list[str] = []
        i = 0
        while i < len(parts):
            j = i + 1
            while j < len(parts) and (section, "+".join(parts[i:j])) not in self._rule_paths:
                j += 1
            found.append("+".join(parts[i:j]))
            i = j
        rules = [f for f in found if not f.endswith("/default")]
        return (rules or found)[0]

    def rule_location(self, section: Literal["segmentation", "egress"], rule_id: str) -> str:
        """``FILE:LINE`` of a rule, for explanations; the file alone if unknown."""
        mark = self.rule_mark(section, rule_id)
        return f"{self.path}:{mark.line}" if mark else self.path

    def rule_file(self, section: Literal["segmentation", "egress"], rule_id: str) -> str:
        """The file :meth:`rule_mark` is a place in: the policy's own, unless the policy
        was compiled from other files (a Kubernetes import names each rule's manifest)."""
        return self.path


REFERENCE_POLICY = Policy.model_validate(
    {
        "ztsim": 1,
        "kind": "policy",
        "name": "reference",
        "description": "Allows every flow and has no controls: every plan possible under any "
        "policy is possible under it (spec §6).",
    }
)


def reference_policy() -> LoadedPolicy:
    """The reference policy of spec §6, as a loaded policy with no file."""
    return LoadedPolicy(REFERENCE_POLICY, "<reference>")
