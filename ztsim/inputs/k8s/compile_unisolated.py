"""The last tier of each side: what Kubernetes allows because no policy isolates a pod.

Kubernetes allows a pod's traffic in a direction when no policy isolates it there,
and the compiled layers say so with ``default: allow``.  A layer's default is no
Kubernetes object, so a verdict it decided could name no manifest line ("allowed
by layer egress-side default at k8s/").  This tier, after ``baseline``, makes the
default explicit where a pod meets it: one ``allow`` per namespace holding a
workload that no NetworkPolicy isolates in that direction (from its zone on the
egress side, to it on the ingress side), its provenance the Namespace manifest
("Namespace shop (no policy isolates these pods for egress)"; a namespace with no
manifest is placed at its first such workload's).

A connection from outside has no egress side in the cluster (its source is no
pod), so only the egress side's default met it; the tier names what stands for
that default instead: first one ``allow`` per object publishing a service to the
outside and port, its provenance the Service, Ingress or Route that publishes it
(the first, when several do) or the overlay entry that makes the service public;
then one per namespace, from outside to its every pod, named after the Namespace
manifest (the ports nothing publishes: the topology keeps the outside from them,
spec section 4.2, but ``reach --all-ports`` shows the policy's decision).

Each rule allows what the default would have: a pod some NetworkPolicy isolates
never reaches this tier (the isolation decides first), so the decisions are the
same, only their names change, and no default decides a connection.  One rule
per namespace, not per workload: 10,000 pods that no policy isolates made 30,000
rules, and the engine's work grows with them.

Rule ids: ``unisolated-eg-NAMESPACE``, ``unisolated-in-...``, ``unisolated-ext-...``
(towards outside), ``published-KIND-NAMESPACE/NAME-PORT/PROTO``,
``published-overlay-HOST-PORT/PROTO`` (HOST the entry's first host),
``from-outside-NAMESPACE``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ztsim.inputs.k8s.compile_base import Emitter
from ztsim.inputs.k8s.compile_select import PodSet
from ztsim.inputs.k8s.drafts import OVERLAY_PREFIX, Provenance, TopologyDraft
from ztsim.inputs.k8s.naming import workload_name

__all__ = ["FROM_OUTSIDE", "UNISOLATED_TIER", "unisolated_tiers"]

#: The tier's id, after ``admin``, ``networkpolicy`` and ``baseline``.
UNISOLATED_TIER = "unisolated"

_WHY = {
    "eg": "no policy isolates these pods for egress",
    "in": "no policy isolates these pods for ingress",
    "ext": "no policy isolates these pods for egress",
}
#: Said of every rule from outside, after its object's name.
FROM_OUTSIDE = "(from outside: no egress side)"


def _by_place(item: tuple[tuple[Provenance, str], list[str]]) -> tuple[str, int, int, str, str]:
    (prov, service), _ = item
    return (prov.source.path, prov.source.line, prov.source.column, prov.name, service)


def unisolated_tiers(
    em: Emitter,
    topo: TopologyDraft,
    isolated: Mapping[str, Iterable[str]],
) -> dict[str, list[dict[str, Any]]]:
    """The ``unisolated`` tier of each side (``eg``, ``in``, ``ext``).

    ``isolated``: side -> the host ids some NetworkPolicy isolates on that side.
    """
    cluster = em.cluster
    out: dict[str, list[dict[str, Any]]] = {}
    places: dict[str, Provenance] = {}  # namespace -> its manifest, else its first workload's
    members: dict[str, set[str]] = {}
    for hid, workload in cluster.hosts():
        members.setdefault(workload.namespace, set()).add(hid)
        if workload.namespace not in places:
            found = topo.provenance.get(workload.namespace) or topo.provenance.get(hid)
            places[workload.namespace] = found or Provenance(
                workload.source, workload_name(workload)
            )
    for side in ("eg", "in", "ext"):
        closed = set(isolated.get(side, ()))
        first: dict[str, Provenance] = {}  # namespace -> its first open workload's place
        open_hosts: dict[str, set[str]] = {}
        for hid, workload in cluster.hosts():
            if hid in closed:
                continue
            open_hosts.setdefault(workload.namespace, set()).add(hid)
            if workload.namespace not in first:
                found = topo.provenance.get(hid)
                first[workload.namespace] = found or Provenance(
                    workload.source, workload_name(workload)
                )
        rules: list[dict[str, Any]] = []
        for ns in sorted(first):
            zone = cluster.zone_of.get(ns)
            if zone is None:
                continue
            declared = topo.provenance.get(ns)
            where = declared.source if declared is not None else first[ns].source
            why = Provenance(where, f"Namespace {ns} ({_WHY[side]})")
            pods = PodSet({"zone": [zone]}, frozenset(open_hosts[ns]))
            src, dst = (None, pods) if side == "in" else (pods, None)
            rules.append(em.rule(f"unisolated-{side}-{ns}", "allow", src, dst, None, why))
        out[side] = rules
    out["eg"] += _published(em, topo) + _from_outside(em, places, members)
    return out


def _from_outside(
    em: Emitter, places: Mapping[str, Provenance], members: Mapping[str, set[str]]
) -> list[dict[str, Any]]:
    """One ``allow`` from outside per namespace, to its every pod, after the published
    ones: what the egress side's default allowed (ports nothing publishes, which the
    topology keeps the outside from, but ``reach --all-ports`` shows)."""
    outside = em.cluster.outside()
    if outside.empty:
        return []
    rules = []
    for ns in sorted(places):
        zone = em.cluster.zone_of.get(ns)
        if zone is None:
            continue
        why = Provenance(places[ns].source, f"Namespace {ns} {FROM_OUTSIDE}")
        pods = PodSet({"zone": [zone]}, frozenset(members[ns]))
        rules.append(em.rule(f"from-outside-{ns}", "allow", outside, pods, None, why))
    return rules


def _published(em: Emitter, topo: TopologyDraft) -> list[dict[str, Any]]:
    """One ``allow`` from outside per publishing object and service, to the pods it
    publishes there (none without an external zone)."""
    outside = em.cluster.outside()
    if outside.empty:
        return []
    known = em.cluster.everything().hosts
    grouped: dict[tuple[Provenance, str], list[str]] = {}
    for (hid, service), publishers in sorted(topo.published.items()):
        if publishers and hid in known:
            grouped.setdefault((publishers[0], service), []).append(hid)
    rules = []
    for (by, service), hids in sorted(grouped.items(), key=_by_place):
        why = Provenance(by.source, f"{by.name} {FROM_OUTSIDE}")
        pods = PodSet({"host": hids}, frozenset(hids))
        if by.name.startswith(OVERLAY_PREFIX):
            rid = f"published-overlay-{hids[0]}-{service}"
        else:
            kind, name = by.name.split()[-2:]  # "LoadBalancer Service shop/web"
            rid = f"published-{kind.lower()}-{name}-{service}"
        rules.append(em.rule(rid, "allow", outside, pods, (service,), why))
    return rules
