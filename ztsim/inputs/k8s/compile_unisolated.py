"""The last tier of each side: what Kubernetes allows because no policy isolates a pod.

Kubernetes allows a pod's traffic in a direction when no policy isolates it there,
and the compiled layers say so with ``default: allow``.  A layer's default is no
Kubernetes object, so a verdict it decided could name no manifest line ("allowed
by layer egress-side default at k8s/").  This tier, after ``baseline``, makes the
default explicit where a pod meets it: one ``allow`` per workload that no
NetworkPolicy isolates in that direction, its provenance the workload's manifest
("Deployment shop/web (no policy isolates it for egress)"); and, on the
egress side, one per service published to the outside (a connection from outside
has no egress side in the cluster), its provenance the Service, Ingress or Route
that publishes it (the first, when several do).  Each rule allows what the
default would have: the decisions are the same, only their names change.  A
workload some NetworkPolicy isolates in a direction never reaches this tier (the
policy's isolation decides first), so it gets no rule there.

Rule ids: ``unisolated-eg-NAMESPACE/NAME``, ``unisolated-in-...``,
``unisolated-ext-...`` (towards outside), ``published-KIND-NAMESPACE/NAME-PORT/PROTO``
(the publishing object: one rule per publisher and service).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ztsim.inputs.k8s.compile_base import Emitter
from ztsim.inputs.k8s.compile_select import PodSet
from ztsim.inputs.k8s.drafts import Provenance, TopologyDraft
from ztsim.inputs.k8s.naming import workload_name

__all__ = ["UNISOLATED_TIER", "unisolated_tiers"]

#: The tier's id, after ``admin``, ``networkpolicy`` and ``baseline``.
UNISOLATED_TIER = "unisolated"

_WHY = {
    "eg": "no policy isolates it for egress",
    "in": "no policy isolates it for ingress",
    "ext": "no policy isolates it for egress",
}


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
    for side in ("eg", "in", "ext"):
        closed = set(isolated.get(side, ()))
        rules: list[dict[str, Any]] = []
        for hid, workload in cluster.hosts():
            if hid in closed:
                continue
            found = topo.provenance.get(hid)
            prov = found or Provenance(workload.source, workload_name(workload))
            why = Provenance(prov.source, f"{prov.name} ({_WHY[side]})")
            pod = PodSet({"host": [hid]}, frozenset({hid}))
            src, dst = (None, pod) if side == "in" else (pod, None)
            rules.append(em.rule(f"unisolated-{side}-{hid}", "allow", src, dst, None, why))
        out[side] = rules
    outside = cluster.outside()
    if not outside.empty:
        # One rule per publisher and service, for all the pods it publishes there.
        pods = cluster.everything().hosts
        grouped: dict[tuple[Provenance, str], list[str]] = {}
        for (hid, service), publishers in sorted(topo.published.items()):
            if publishers and hid in pods:
                grouped.setdefault((publishers[0], service), []).append(hid)
        for (first, service), hids in sorted(grouped.items(), key=_by_place):
            why = Provenance(first.source, f"{first.name} (from outside: no egress side)")
            pod = PodSet({"host": hids}, frozenset(hids))
            kind, name = first.name.split()[-2:]  # "LoadBalancer Service shop/web"
            rid = f"published-{kind.lower()}-{name}-{service}"
            out["eg"].append(em.rule(rid, "allow", outside, pod, (service,), why))
    return out
