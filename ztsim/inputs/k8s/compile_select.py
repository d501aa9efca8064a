"""What the policy compiler knows of the cluster, and how it names pods in ztsim.

A :class:`Cluster` holds the namespaces (their labels and their zones in the
topology) and the pods (workloads: their host ids, labels and container ports).
The compiler decides, in Kubernetes terms, which pods a selector picks (so that
a rule naming no pod is left out and a named port is resolved per pod), and
writes the ztsim selector that picks exactly those hosts: the namespace part as
a zone list, the pod part as ``labels`` and ``labels_match`` (model v1.1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ztsim.inputs.k8s.drafts import TopologyDraft
from ztsim.inputs.k8s.naming import host_id
from ztsim.inputs.k8s.objects import (
    NAMESPACE_LABEL,
    LabelSelector,
    Manifests,
    Protocol,
    Requirement,
    Workload,
)

__all__ = ["Cluster", "PodSet", "Resolution", "selector_text"]

#: A named port resolved on a pod: (number, protocol).
Resolution = tuple[int, Protocol]


@dataclass(frozen=True)
class PodSet:
    """Some pods, as a ztsim selector and as the host ids it picks.

    ``selector`` is ``{}`` (every host, and every external zone) only for "every
    source or destination" (a NetworkPolicy peer list left out); otherwise it names
    hosts only (a zone list of namespaces, labels).
    """

    selector: dict[str, Any]
    hosts: frozenset[str]
    #: Whether it also picks external zones (outside addresses).
    outside: bool = False

    @property
    def empty(self) -> bool:
        """Whether it picks nothing at all."""
        return not self.hosts and not self.outside


class _LabelIndex:
    """The host ids of one namespace's pods by label pair and by label key, so a
    selector intersects sets instead of testing every pod (10,000 pods and 2,000
    policies made 600,000 label tests)."""

    __slots__ = ("by_key", "by_pair", "every")

    def __init__(self) -> None:
        self.every: set[str] = set()
        self.by_key: dict[str, set[str]] = {}
        self.by_pair: dict[tuple[str, str], set[str]] = {}

    def add(self, hid: str, labels: Iterable[tuple[str, str]]) -> None:
        """Index pod ``hid`` with its ``labels``."""
        self.every.add(hid)
        for k, v in labels:
            self.by_key.setdefault(k, set()).add(hid)
            self.by_pair.setdefault((k, v), set()).add(hid)

    def select(self, selector: LabelSelector | None) -> set[str]:
        """The pods ``selector`` picks (``None`` or ``{}``: all), as
        :meth:`LabelSelector.matches` decides (tests hold the two to the same)."""
        picked = set(self.every)
        if selector is None:
            return picked
        for pair in selector.match_labels:
            picked &= self.by_pair.get(pair, set())
        for req in selector.match_expressions:
            if not picked:
                break
            picked = self._require(picked, req)
        return picked

    def _require(self, picked: set[str], req: Requirement) -> set[str]:
        if req.operator in ("Exists", "DoesNotExist"):
            having = self.by_key.get(req.key, set())
            return picked & having if req.operator == "Exists" else picked - having
        valued: set[str] = set()
        for value in req.values:
            valued |= self.by_pair.get((req.key, value), set())
        # NotIn holds where the key is absent too, as Kubernetes reads it.
        return picked & valued if req.operator == "In" else picked - valued


@dataclass
class Cluster:
    """Namespaces and pods of the manifests, as the topology maps them."""

    #: Namespace -> its labels (``kubernetes.io/metadata.name`` included).
    ns_labels: dict[str, dict[str, str]]
    #: Namespace -> its zone in the topology (namespaces with no zone hold no host).
    zone_of: dict[str, str]
    #: The pods (one per workload) that are hosts of the topology, in order.
    pods: list[Workload]
    #: The topology's external zones (where an outside address stands).
    external_zones: list[str]
    #: Workload id (``NAMESPACE/NAME``) -> host id (cut when too long, see ``host_id``).
    _ids: dict[str, str] = field(default_factory=dict)
    _by_host: dict[str, Workload] = field(default_factory=dict)
    _index: dict[str, _LabelIndex] = field(default_factory=dict)
    _memo: dict[tuple[tuple[str, ...], LabelSelector | None], PodSet] = field(default_factory=dict)
    _ns_memo: dict[LabelSelector | None, list[str]] = field(default_factory=dict)
    _ns_index: _LabelIndex | None = None

    @classmethod
    def of(cls, m: Manifests, topo: TopologyDraft) -> Cluster:
        """The cluster of ``m`` as ``topo`` maps it (hosts by id, their zones)."""
        doc = topo.document
        host_zone = {h["id"]: h.get("zone") for h in doc.get("hosts") or []}
        external = sorted(z["id"] for z in doc.get("zones") or [] if z.get("external"))
        ns_labels = {n.name: dict(n.labels) for n in m.namespaces}
        zone_of: dict[str, str] = {}
        pods = []
        for w in m.workloads:
            hid = host_id(w)
            zone = host_zone.get(hid)
            if zone is None:
                continue  # not a host of this topology
            ns_labels.setdefault(w.namespace, {NAMESPACE_LABEL: w.namespace})
            zone_of.setdefault(w.namespace, zone)
            pods.append(w)
        cluster = cls(ns_labels, zone_of, pods, external)
        cluster._ids = {w.id: host_id(w) for w in pods}
        cluster._by_host = {host_id(w): w for w in pods}
        for w in pods:
            index = cluster._index.get(w.namespace)
            if index is None:
                index = cluster._index[w.namespace] = _LabelIndex()
            index.add(cluster._ids[w.id], w.labels)
        return cluster

    # ------------------------------------------------------------------ selecting

    def namespaces(self, selector: LabelSelector | None) -> list[str]:
        """The namespaces (with hosts) a namespace selector picks, sorted."""
        known = self._ns_memo.get(selector)
        if known is None:
            index = self._ns_index
            if index is None:
                index = self._ns_index = _LabelIndex()
                for ns in self.zone_of:
                    index.add(ns, self.ns_labels.get(ns, {}).items())
            known = self._ns_memo[selector] = sorted(index.select(selector))
        return list(known)

    def pods_in(self, namespaces: Iterable[str], selector: LabelSelector | None) -> PodSet:
        """The pods of ``namespaces`` that ``selector`` picks (``None``: all of them)."""
        key = (tuple(sorted(set(namespaces))), selector)
        known = self._memo.get(key)
        if known is None:
            known = self._memo[key] = self._pods_in(key[0], selector)
        return known

    def _pods_in(self, namespaces: tuple[str, ...], selector: LabelSelector | None) -> PodSet:
        picked: set[str] = set()
        for ns in namespaces:
            index = self._index.get(ns)
            if index is not None:
                picked |= index.select(selector)
        hosts = frozenset(picked)
        zones = sorted({self.zone_of[ns] for ns in namespaces if ns in self.zone_of})
        sel: dict[str, Any] = {"zone": zones} if zones else {}
        if selector is not None:
            sel.update(label_parts(selector))
        return PodSet(sel, hosts)

    def hosts(self) -> list[tuple[str, Workload]]:
        """Every pod with its host id, in the topology's order."""
        return [(self._ids[w.id], w) for w in self.pods]

    def everything(self) -> PodSet:
        """Every source or destination: hosts and external zones (``{}``)."""
        return PodSet({}, frozenset(self._ids.values()), outside=True)

    def outside(self) -> PodSet:
        """Every external zone (where any outside address stands); empty with none."""
        if not self.external_zones:
            return PodSet({}, frozenset())
        return PodSet({"zone": list(self.external_zones)}, frozenset(), outside=True)

    # ------------------------------------------------------------------ named ports

    def resolve(
        self, hosts: Iterable[str], name: str, protocol: Protocol | None
    ) -> dict[Resolution, list[str]]:
        """Where named port ``name`` (of ``protocol``, any when ``None``) leads on each
        of ``hosts``: each distinct (number, protocol) with the hosts, sorted, that
        resolve it so.  A host with no such port is in none."""
        out: dict[Resolution, set[str]] = {}
        for hid in hosts:
            for p in self._by_host[hid].ports:
                if p.name == name and (protocol is None or p.protocol == protocol):
                    out.setdefault((p.number, p.protocol), set()).add(hid)
        return {k: sorted(v) for k, v in sorted(out.items())}


def label_parts(selector: LabelSelector) -> dict[str, Any]:
    """A Kubernetes label selector as ztsim's ``labels`` and ``labels_match``."""
    out: dict[str, Any] = {}
    if selector.match_labels:
        out["labels"] = dict(selector.match_labels)
    if selector.match_expressions:
        exprs = []
        for r in selector.match_expressions:
            e: dict[str, Any] = {"key": r.key, "operator": r.operator}
            if r.operator in ("In", "NotIn"):
                e["values"] = sorted(set(r.values))
            exprs.append(e)
        out["labels_match"] = exprs
    return out


def selector_text(sel: Mapping[str, Any]) -> str:
    """A ztsim selector as one short line (for messages)."""
    if not sel:
        return "any"
    return " ".join(f"{k}={v}" for k, v in sel.items())
