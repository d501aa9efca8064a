"""NetworkPolicies into the ``networkpolicy`` tier of each side's layer.

Per direction (``in``: the destination's ingress side, ``eg``: the source's egress
side), every policy that has that direction in its ``policyTypes`` gives:

- one ``allow`` per (rule, peer, port) from the peer to the policy's pods
  (ingress) or from its pods to the peer (egress); a named port one per distinct
  resolution on the destination pods;
- after every policy's allows, one ``deny`` per policy: its pods, isolated in that
  direction (any service, from anywhere for ingress, to anywhere for egress).

A pod selected by some policy is thus allowed exactly by the union of their rules,
and a pod none selects falls through to the next tier.  Rule ids:
``np-NAMESPACE/NAME-DIR-RULE-PEER-PORT`` (``.K`` per named-port resolution) and
``np-NAMESPACE/NAME-DIR-isolate``.

``ipBlock`` peers match addresses only, never pods (as netpol-analyzer and the
Kubernetes documentation read them: "cluster-external IPs"): from outside, an
ingress ``ipBlock`` admits the external zones (conservative: the attacker may hold
an address in the block); egress ``ipBlock``s are compiled by
:mod:`ztsim.inputs.k8s.compile_egress`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any, Literal

from ztsim.inputs.k8s.compile_base import ALL_PORTS, Emitter, Port
from ztsim.inputs.k8s.compile_ingress import Routes
from ztsim.inputs.k8s.compile_select import Cluster, PodSet
from ztsim.inputs.k8s.drafts import Provenance
from ztsim.inputs.k8s.objects import IPBlock, NetworkPolicy, PolicyPeer, PolicyPort, PolicyRule

__all__ = ["DIRECTIONS", "np_name", "np_ports", "np_tier", "subject_of"]

Direction = Literal["in", "eg"]
#: Kubernetes' policy type of each side.
DIRECTIONS: dict[Direction, Literal["Ingress", "Egress"]] = {"in": "Ingress", "eg": "Egress"}


def np_name(policy: NetworkPolicy) -> Provenance:
    """The policy's provenance: its place and ``NetworkPolicy NAMESPACE/NAME``."""
    return Provenance(policy.source, f"NetworkPolicy {policy.namespace}/{policy.name}")


def subject_of(cluster: Cluster, policy: NetworkPolicy) -> PodSet:
    """The pods a NetworkPolicy selects (its ``podSelector`` in its namespace)."""
    return cluster.pods_in([policy.namespace], policy.pod_selector)


def np_ports(rule: PolicyRule) -> list[Port]:
    """A rule's ports (every port of every protocol when left out)."""
    if rule.ports is None:
        return [ALL_PORTS]
    return [_port(p) for p in rule.ports]


def _port(p: PolicyPort) -> Port:
    if isinstance(p.port, str):
        return Port(named=p.port, protocol=p.protocol)
    return Port.numbers(p.protocol, p.port, p.end_port)


def np_tier(
    em: Emitter,
    policies: tuple[NetworkPolicy, ...],
    d: Direction,
    extra: list[dict[str, Any]] | None = None,
    routes: Routes | None = None,
) -> list[dict[str, Any]]:
    """The ``networkpolicy`` tier of side ``d``: every allow (``extra`` after the
    policies' own), then every isolation.  With ``routes`` and no known ingress
    controller, each ingress ``namespaceSelector`` peer also admits the outside to
    the routed backends (:meth:`Routes.allow_unknown`)."""
    cluster = em.cluster
    allows: list[dict[str, Any]] = []
    denies: list[dict[str, Any]] = []
    for policy in policies:
        if DIRECTIONS[d] not in policy.policy_types:
            continue
        subject = subject_of(cluster, policy)
        if subject.empty:
            continue  # isolates no pod: says nothing
        prov = np_name(policy)
        base = f"np-{policy.namespace}/{policy.name}-{d}"
        rules = policy.ingress if d == "in" else policy.egress
        for r, rule in enumerate(rules):
            rprov = Provenance(rule.source, prov.name)
            for p, peer in _peers(em, policy, rule, d):
                src, dst = (peer, subject) if d == "in" else (subject, peer)
                for q, port in enumerate(np_ports(rule)):
                    rid = f"{base}-{r}-{p}-{q}"
                    allows += em.rules_for_port(rid, "allow", src, dst, port, rprov)
            if d == "in" and routes is not None:
                for p, kpeer in enumerate(rule.peers or ()):
                    if kpeer.namespace_selector is not None and kpeer.ip_block is None:
                        ports = np_ports(rule)
                        allows += routes.allow_unknown(f"{base}-{r}-{p}", subject, ports, rprov)
        src_, dst_ = (None, subject) if d == "in" else (subject, None)
        denies.append(em.rule(f"{base}-isolate", "deny", src_, dst_, None, prov))
    return allows + (extra or []) + denies


def _peers(
    em: Emitter, policy: NetworkPolicy, rule: PolicyRule, d: Direction
) -> Iterator[tuple[int, PodSet]]:
    """The rule's peers among hosts (and, ingress, external zones), by index."""
    cluster = em.cluster
    if rule.peers is None:
        yield 0, cluster.everything()
        return
    for p, peer in enumerate(rule.peers):
        if peer.ip_block is not None:
            if d == "in":
                outside = cluster.outside()
                if not outside.empty and not _nothing(peer.ip_block):
                    _note_ingress_block(em, policy, rule, peer.ip_block)
                    yield p, outside
            continue  # egress: addresses are external destinations (compile_egress)
        found = peer_pods(cluster, policy, peer)
        if not found.empty:
            yield p, found


def peer_pods(cluster: Cluster, policy: NetworkPolicy, peer: PolicyPeer) -> PodSet:
    """The pods a selector peer picks: the namespaces of its ``namespaceSelector``
    (the policy's own without one) AND its ``podSelector`` (every pod without one)."""
    if peer.namespace_selector is None:
        namespaces = [policy.namespace]
    else:
        namespaces = cluster.namespaces(peer.namespace_selector)
    return cluster.pods_in(namespaces, peer.pod_selector)


def _nothing(block: IPBlock) -> bool:
    """Whether every address of the block is excepted."""
    net = ipaddress.ip_network(block.cidr, strict=False)
    return any(net.subnet_of(e) for e in _nets(block.excepts, net.version))  # type: ignore[arg-type]


def _nets(
    texts: tuple[str, ...], version: int
) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    nets = (ipaddress.ip_network(t, strict=False) for t in texts)
    return [n for n in nets if n.version == version]


def _note_ingress_block(em: Emitter, policy: NetworkPolicy, rule: PolicyRule, b: IPBlock) -> None:
    net = ipaddress.ip_network(b.cidr, strict=False)
    if net.prefixlen == 0 and not b.excepts:
        return  # every address: exactly "from outside"
    text = b.cidr + (f" except {', '.join(b.excepts)}" if b.excepts else "")
    em.warn(
        rule.source,
        np_name(policy).name,
        f"ipBlock {text} admits traffic from outside: ztsim lets every external zone in "
        "through it (the attacker may hold an address in the block)",
    )
