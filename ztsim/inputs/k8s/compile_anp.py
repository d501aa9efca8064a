"""AdminNetworkPolicies and BaselineAdminNetworkPolicies into the ``admin`` and
``baseline`` tiers of each side's layer.

The ``admin`` tier lists the AdminNetworkPolicies' rules of one direction by
priority (lower first; equal priorities, which Kubernetes leaves undefined, in
manifest order, with a warning), then rule order: one rule per (rule, peer, port),
its action mapped (``Allow``/``Deny``/``Pass`` to ``allow``/``deny``/``pass``),
the subject on the side's own end (``from`` for egress, ``to`` for ingress).  The
first match of the tier decides, as the first matching rule of the first policy
with one does in Kubernetes; ``pass`` skips to the ``networkpolicy`` tier.  The
``baseline`` tier is the BaselineAdminNetworkPolicy's rules in order.

Rule ids: ``anp-NAME-DIR-RULE-PEER-PORT`` and ``banp-NAME-DIR-RULE-PEER-PORT``
(``.K`` per resolution of a named port).  ``networks`` peers are addresses: they
are compiled into the egress section (:mod:`ztsim.inputs.k8s.compile_egress`);
``nodes`` peers name no host of the topology (nodes are not workloads).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Literal

from ztsim.inputs.k8s.compile_base import ALL_PORTS, Emitter, Port
from ztsim.inputs.k8s.compile_ingress import Routes
from ztsim.inputs.k8s.compile_select import Cluster, PodSet
from ztsim.inputs.k8s.drafts import Provenance
from ztsim.inputs.k8s.objects import (
    AdminNetworkPolicy,
    AdminPeer,
    AdminPort,
    AdminRule,
    BaselineAdminNetworkPolicy,
)

__all__ = ["admin_order", "admin_ports", "admin_prov", "admin_tier", "baseline_tier", "peer_set"]

Direction = Literal["in", "eg"]
AnyAdmin = AdminNetworkPolicy | BaselineAdminNetworkPolicy


def admin_prov(policy: AnyAdmin) -> Provenance:
    """A policy's provenance: its place and ``KIND NAME``."""
    return Provenance(policy.source, f"{_kind(policy)} {policy.name}")


def _kind(policy: AnyAdmin) -> str:
    return type(policy).__name__


def peer_set(cluster: Cluster, peer: AdminPeer) -> PodSet | None:
    """The pods a subject or peer picks (``None`` for ``networks`` and ``nodes``)."""
    if peer.namespaces is not None:
        return cluster.pods_in(cluster.namespaces(peer.namespaces), None)
    if peer.pods is not None:
        namespaces, pods = peer.pods
        return cluster.pods_in(cluster.namespaces(namespaces), pods)
    return None


def admin_ports(rule: AdminRule) -> list[Port]:
    """A rule's ports (every port of every protocol when left out)."""
    if rule.ports is None:
        return [ALL_PORTS]
    return [_port(p) for p in rule.ports]


def _port(p: AdminPort) -> Port:
    if p.named is not None:
        return Port(named=p.named)  # the container port of that name, whatever its protocol
    return Port.numbers(p.protocol or "TCP", p.start, p.end)


def admin_order(em: Emitter, policies: Sequence[AdminNetworkPolicy]) -> list[AdminNetworkPolicy]:
    """The AdminNetworkPolicies by priority, then manifest order; a warning for each
    that shares its priority with an earlier one (Kubernetes leaves their order
    undefined)."""
    ordered = sorted(enumerate(policies), key=lambda ip: (ip[1].priority, ip[0]))
    seen: dict[int, AdminNetworkPolicy] = {}
    for _, anp in ordered:
        first = seen.setdefault(anp.priority, anp)
        if first is not anp:
            em.warn(
                anp.source,
                admin_prov(anp).name,
                f"priority {anp.priority} is also AdminNetworkPolicy {first.name}'s: Kubernetes "
                "leaves their order undefined; ztsim takes the manifests' order",
            )
    return [anp for _, anp in ordered]


def admin_tier(
    em: Emitter,
    policies: Sequence[AdminNetworkPolicy],
    d: Direction,
    routes: Routes | None = None,
) -> list[dict[str, Any]]:
    """The ``admin`` tier of side ``d`` (``routes``: see :func:`baseline_tier`)."""
    out: list[dict[str, Any]] = []
    for anp in admin_order(em, policies):
        out += _policy_rules(em, anp, "anp", d, routes)
    return out


def baseline_tier(
    em: Emitter,
    policies: Sequence[BaselineAdminNetworkPolicy],
    d: Direction,
    routes: Routes | None = None,
) -> list[dict[str, Any]]:
    """The ``baseline`` tier of side ``d`` (Kubernetes has at most one such policy).

    With ``routes`` and no known ingress controller, each ingress ``Allow`` peer
    also admits the outside to the routed backends (:meth:`Routes.allow_unknown`).
    """
    out: list[dict[str, Any]] = []
    for banp in policies:
        out += _policy_rules(em, banp, "banp", d, routes)
    return out


def _policy_rules(
    em: Emitter, policy: AnyAdmin, prefix: str, d: Direction, routes: Routes | None
) -> list[dict[str, Any]]:
    subject = peer_set(em.cluster, policy.subject)
    if subject is None or subject.empty:
        return []
    name = admin_prov(policy).name
    out: list[dict[str, Any]] = []
    for r, rule in enumerate(policy.ingress if d == "in" else policy.egress):
        prov = Provenance(rule.source, name)
        for p, peer in _pod_peers(em.cluster, rule):
            src, dst = (peer, subject) if d == "in" else (subject, peer)
            for q, port in enumerate(admin_ports(rule)):
                rid = f"{prefix}-{policy.name}-{d}-{r}-{p}-{q}"
                out += em.rules_for_port(rid, rule.action.lower(), src, dst, port, prov)  # type: ignore[arg-type]
        if d == "in" and rule.action == "Allow" and routes is not None:
            for p, apeer in enumerate(rule.peers):
                if apeer.namespaces is not None or apeer.pods is not None:
                    rid = f"{prefix}-{policy.name}-{d}-{r}-{p}"
                    out += routes.allow_unknown(rid, subject, admin_ports(rule), prov)
    return out


def _pod_peers(cluster: Cluster, rule: AdminRule) -> Iterator[tuple[int, PodSet]]:
    for p, peer in enumerate(rule.peers):
        found = peer_set(cluster, peer)
        if found is not None and not found.empty:
            yield p, found
