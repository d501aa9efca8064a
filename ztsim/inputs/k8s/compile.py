"""Kubernetes network policies compiled into one model v1.1 policy, exactly.

:func:`policy_document` turns the policies of some manifests (NetworkPolicy,
AdminNetworkPolicy, BaselineAdminNetworkPolicy, Cilium ``toFQDNs``) into a ztsim
policy as plain data (``docs/model-v1.1.md`` section 3, "Kubernetes, per side";
``docs/k8s.md``, "Semantics"):

- ``segmentation`` has two layers, ANDed: ``egress-side`` (the source pod's
  policies) and ``ingress-side`` (the destination pod's), each with the tiers
  ``admin`` (:mod:`~ztsim.inputs.k8s.compile_anp`), ``networkpolicy``
  (:mod:`~ztsim.inputs.k8s.compile_np`), ``baseline`` and ``unisolated`` (what no
  policy isolates, allowed by name: :mod:`~ztsim.inputs.k8s.compile_unisolated`),
  and ``default: allow``;
- ``egress`` (to outside addresses and names) has the source's side only
  (:mod:`~ztsim.inputs.k8s.compile_egress`).

A connection from outside meets no egress-side rule (their subjects are pods), so
only the destination's ingress side judges it, as in Kubernetes; except towards
what Ingresses and Routes publish, reached through the ingress controller: there
the outside is judged as the controller is (:mod:`~ztsim.inputs.k8s.compile_ingress`).
"""

from __future__ import annotations

from typing import Any

from ztsim.inputs.k8s.compile_anp import admin_tier, baseline_tier
from ztsim.inputs.k8s.compile_base import Emitter
from ztsim.inputs.k8s.compile_egress import Outside
from ztsim.inputs.k8s.compile_ingress import Routes
from ztsim.inputs.k8s.compile_np import np_tier
from ztsim.inputs.k8s.compile_select import Cluster
from ztsim.inputs.k8s.compile_unisolated import UNISOLATED_TIER, unisolated_tiers
from ztsim.inputs.k8s.drafts import PolicyDraft, TopologyDraft
from ztsim.inputs.k8s.objects import Manifests

__all__ = ["EGRESS_LAYER", "INGRESS_LAYER", "OUTSIDE_LAYER", "TIERS", "policy_document"]

#: The segmentation layers: the source's side, then the destination's.
EGRESS_LAYER = "egress-side"
INGRESS_LAYER = "ingress-side"
#: The egress section's one layer (the source's side, towards outside).
OUTSIDE_LAYER = "to-outside"
#: Each layer's tiers, in order.
TIERS = ("admin", "networkpolicy", "baseline", UNISOLATED_TIER)


def policy_document(m: Manifests, topo: TopologyDraft, name: str) -> PolicyDraft:
    """The policy of ``m``'s network policies, for the hosts of ``topo``.

    ``topo`` is the topology the policy will be judged on, its overlay applied:
    its hosts are the pods selectors are resolved against (a named port per pod),
    its namespaces' zones make the zone lists, its external zones are where an
    ``ipBlock`` source stands, and its named external destinations are those an
    address rule must judge conservatively (see
    :mod:`~ztsim.inputs.k8s.compile_egress`).  The draft's ``destinations`` are
    the CIDR blocks and names the rules name, for the topology to declare.
    """
    cluster = Cluster.of(m, topo)
    em = Emitter(cluster)
    anps, banps, nps = m.admin_policies, m.baseline_policies, m.network_policies
    names = [e["fqdn"] for e in topo.document.get("external") or [] if e.get("fqdn")]
    outside = Outside(em, names)
    outside.isolated = frozenset(
        h
        for np in nps
        if "Egress" in np.policy_types
        for h in cluster.pods_in([np.namespace], np.pod_selector).hosts
    )
    isolated_in = frozenset(
        h
        for np in nps
        if "Ingress" in np.policy_types
        for h in cluster.pods_in([np.namespace], np.pod_selector).hosts
    )
    routes = Routes.of(em, topo)
    layers = []
    for layer_id, d in ((EGRESS_LAYER, "eg"), (INGRESS_LAYER, "in")):
        extra = outside.unread_rules(m.cilium_policies, outside=False) if d == "eg" else []
        tiers: tuple[list[dict[str, Any]], ...] = (
            admin_tier(em, anps, d, routes),  # type: ignore[arg-type]
            np_tier(em, nps, d, extra, routes),  # type: ignore[arg-type]
            baseline_tier(em, banps, d, routes),  # type: ignore[arg-type]
            [],
        )
        layers.append(_layer(layer_id, tiers))
    if routes is not None:
        routes.copy_known(layers)
        routes.finish()
    # After the copies through the ingress controller: these copy nothing.
    last = unisolated_tiers(
        em, topo, {"eg": outside.isolated, "in": isolated_in, "ext": outside.isolated}
    )
    for layer, side in zip(layers, ("eg", "in"), strict=True):
        layer["tiers"][-1]["rules"] = last[side]
    cilium = outside.cilium_rules(m.cilium_policies)
    outside.names = list(dict.fromkeys([*names, *outside.fqdns]))
    tiers = (
        outside.admin_tier(anps),
        outside.np_tier(nps, cilium),
        outside.baseline_tier(banps),
        last["ext"],
    )
    document: dict[str, Any] = {
        "ztsim": 1,
        "kind": "policy",
        "name": name,
        "description": _description(m),
        "segmentation": {"layers": layers},
        "egress": {"layers": [_layer(OUTSIDE_LAYER, tiers)]},
    }
    return PolicyDraft(document, em.provenance, em.notes, outside.destinations())


def _layer(layer_id: str, tiers: tuple[list[dict[str, Any]], ...]) -> dict[str, Any]:
    return {
        "id": layer_id,
        "default": "allow",
        "tiers": [{"id": t, "rules": rules} for t, rules in zip(TIERS, tiers, strict=True)],
    }


def _description(m: Manifests) -> str:
    counts = [
        (len(m.network_policies), "NetworkPolicy", "NetworkPolicies"),
        (len(m.admin_policies), "AdminNetworkPolicy", "AdminNetworkPolicies"),
        (len(m.baseline_policies), "BaselineAdminNetworkPolicy", "BaselineAdminNetworkPolicies"),
        (len(m.cilium_policies), "CiliumNetworkPolicy spec", "CiliumNetworkPolicy specs"),
    ]
    parts = [f"{n} {one if n == 1 else many}" for n, one, many in counts if n]
    return "Compiled from Kubernetes manifests: " + (", ".join(parts) or "no network policy")
