"""Policies from manifests: NetworkPolicy, AdminNetworkPolicy,
BaselineAdminNetworkPolicy, and the ``toFQDNs`` egress of CiliumNetworkPolicy.

What Kubernetes would refuse is an error here too (a peer with both ``ipBlock``
and a selector, an ``endPort`` with a named port, an invalid CIDR...), so that the
policies read are exactly the ones a cluster would enforce.
"""

from __future__ import annotations

import ipaddress
from typing import Any, Literal, cast

from ztsim.inputs.collector import Loc
from ztsim.inputs.k8s.cilium_labels import cilium_selector
from ztsim.inputs.k8s.fields import PROTOCOLS, Fields
from ztsim.inputs.k8s.objects import (
    AdminAction,
    AdminNetworkPolicy,
    AdminPeer,
    AdminPort,
    AdminRule,
    BaselineAdminNetworkPolicy,
    CiliumEgressRule,
    CiliumNetworkPolicy,
    FQDNSelector,
    IPBlock,
    LabelSelector,
    NetworkPolicy,
    PolicyPeer,
    PolicyPort,
    PolicyRule,
)
from ztsim.inputs.k8s.workloads import meta_of

__all__ = ["admin_policy_of", "baseline_policy_of", "cilium_policy_of", "network_policy_of"]

_EVERYTHING = LabelSelector()
Direction = Literal["Ingress", "Egress"]


# -- NetworkPolicy -------------------------------------------------------------------


def network_policy_of(f: Fields, data: dict[str, Any], loc: Loc) -> NetworkPolicy | None:
    """A NetworkPolicy, ``policyTypes`` defaulted as Kubernetes does (Ingress always,
    Egress when there are egress rules)."""
    meta = meta_of(f, data, loc)
    spec = f.mapping(data, "spec", loc, required=True)
    here = (*loc, "spec")
    selector = f.selector(spec, "podSelector", here) or _EVERYTHING
    types: list[Direction] = []
    for i, t in enumerate(f.get(spec, "policyTypes", here, list) or []):
        if t in ("Ingress", "Egress"):
            types.append(t)
        else:
            f.error((*here, "policyTypes", i), f"a policy type is Ingress or Egress, not {t!r}")
    if not spec.get("policyTypes"):  # absent or empty: Kubernetes' defaults
        types = ["Ingress", *(["Egress"] if spec.get("egress") else [])]  # type: ignore[list-item]
    ingress = _np_rules(f, spec, "ingress", here)
    egress = _np_rules(f, spec, "egress", here)
    if meta is None:
        return None
    return NetworkPolicy(
        meta.namespace,
        meta.name,
        selector,
        tuple(dict.fromkeys(types)),
        ingress,
        egress,
        f.source(loc),
    )


def _np_rules(f: Fields, spec: dict[str, Any], key: str, loc: Loc) -> tuple[PolicyRule, ...]:
    peers_key = "from" if key == "ingress" else "to"
    rules = []
    for rloc, rule in f.items(spec, key, loc):
        # An absent or empty list of peers or ports matches everything.
        peers = None
        if rule.get(peers_key):
            peers = tuple(
                p for ploc, peer in f.items(rule, peers_key, rloc) if (p := _np_peer(f, peer, ploc))
            )
        ports = None
        if rule.get("ports"):
            ports = tuple(
                q for ploc, port in f.items(rule, "ports", rloc) if (q := _np_port(f, port, ploc))
            )
        rules.append(PolicyRule(peers, ports, f.source(rloc)))
    return tuple(rules)


def _np_peer(f: Fields, peer: dict[str, Any], loc: Loc) -> PolicyPeer | None:
    pods = f.selector(peer, "podSelector", loc)
    namespaces = f.selector(peer, "namespaceSelector", loc)
    if "ipBlock" in peer:
        if pods is not None or namespaces is not None:
            f.error(loc, "a peer has either ipBlock or selectors, not both")
            return None
        block = f.mapping(peer, "ipBlock", loc)
        here = (*loc, "ipBlock")
        cidr = _cidr(f, block, "cidr", here)
        excepts = tuple(
            c
            for i, c in enumerate(f.strings(block, "except", here))
            if _valid_cidr(f, c, (*here, "except", i))
        )
        return PolicyPeer(ip_block=IPBlock(cidr, excepts)) if cidr else None
    if pods is None and namespaces is None:
        f.error(loc, "a peer needs podSelector, namespaceSelector or ipBlock")
        return None
    return PolicyPeer(pods, namespaces)


def _np_port(f: Fields, port: dict[str, Any], loc: Loc) -> PolicyPort | None:
    protocol = f.protocol(port, loc)
    number = f.port(port, "port", loc)
    end = f.port(port, "endPort", loc, named=False)
    if end is not None and not isinstance(number, int):
        f.error((*loc, "endPort"), "endPort needs a numeric 'port'")
        return None
    if isinstance(end, int) and isinstance(number, int) and end < number:
        f.error((*loc, "endPort"), f"endPort {end} is below port {number}")
        return None
    if protocol is None:
        return None
    return PolicyPort(protocol, number, end if isinstance(end, int) else None)


def _cidr(f: Fields, obj: dict[str, Any], key: str, loc: Loc) -> str | None:
    value = f.string(obj, key, loc, required=True)
    return value if value is not None and _valid_cidr(f, value, (*loc, key)) else None


def _valid_cidr(f: Fields, value: str, loc: Loc) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        f.error(loc, f"not a CIDR: {value!r}")
        return False
    if "/" not in value:
        f.error(loc, f"a CIDR needs a prefix length: {value!r}")
        return False
    return True


# -- AdminNetworkPolicy and BaselineAdminNetworkPolicy ---------------------------------


def admin_policy_of(f: Fields, data: dict[str, Any], loc: Loc) -> AdminNetworkPolicy | None:
    """An AdminNetworkPolicy: priority, subject, rules in order (Allow, Deny, Pass)."""
    meta = meta_of(f, data, loc)
    spec = f.mapping(data, "spec", loc, required=True)
    here = (*loc, "spec")
    priority = f.get(spec, "priority", here, int, required=True)
    if priority is not None and not 0 <= priority <= 1000:
        f.error((*here, "priority"), f"'priority' must be between 0 and 1000, not {priority}")
    subject = _subject(f, spec, here)
    actions: tuple[AdminAction, ...] = ("Allow", "Deny", "Pass")
    ingress = _admin_rules(f, spec, "ingress", here, actions)
    egress = _admin_rules(f, spec, "egress", here, actions)
    if meta is None or priority is None or subject is None:
        return None
    return AdminNetworkPolicy(meta.name, priority, subject, ingress, egress, f.source(loc))


def baseline_policy_of(
    f: Fields, data: dict[str, Any], loc: Loc
) -> BaselineAdminNetworkPolicy | None:
    """A BaselineAdminNetworkPolicy: subject, rules in order (Allow, Deny)."""
    meta = meta_of(f, data, loc)
    spec = f.mapping(data, "spec", loc, required=True)
    here = (*loc, "spec")
    subject = _subject(f, spec, here)
    ingress = _admin_rules(f, spec, "ingress", here, ("Allow", "Deny"))
    egress = _admin_rules(f, spec, "egress", here, ("Allow", "Deny"))
    if meta is None or subject is None:
        return None
    return BaselineAdminNetworkPolicy(meta.name, subject, ingress, egress, f.source(loc))


def _subject(f: Fields, spec: dict[str, Any], loc: Loc) -> AdminPeer | None:
    subject = f.mapping(spec, "subject", loc, required=True)
    if "subject" not in spec:
        return None
    return _admin_peer(f, subject, (*loc, "subject"), ("namespaces", "pods"))


def _admin_rules(
    f: Fields, spec: dict[str, Any], key: str, loc: Loc, actions: tuple[AdminAction, ...]
) -> tuple[AdminRule, ...]:
    peers_key = "from" if key == "ingress" else "to"
    kinds = (
        ("namespaces", "pods") if key == "ingress" else ("namespaces", "pods", "networks", "nodes")
    )
    rules = []
    for rloc, rule in f.items(spec, key, loc):
        name = f.string(rule, "name", rloc) or ""
        action = f.choice(rule, "action", rloc, actions, None)
        if not rule.get(peers_key):
            f.error(rloc, f"a rule needs at least one peer in {peers_key!r}")
        peers = tuple(
            p
            for ploc, peer in f.items(rule, peers_key, rloc)
            if (p := _admin_peer(f, peer, ploc, kinds))
        )
        ports = None  # absent or empty: every port
        if rule.get("ports"):
            ports = tuple(
                q
                for ploc, port in f.items(rule, "ports", rloc)
                if (q := _admin_port(f, port, ploc))
            )
        if action is not None:
            rules.append(AdminRule(name, action, peers, ports, f.source(rloc)))
    return tuple(rules)


def _only_one(f: Fields, obj: dict[str, Any], loc: Loc, kinds: tuple[str, ...]) -> str | None:
    given = [k for k in kinds if obj.get(k) is not None]
    if len(given) != 1:
        listed = ", ".join(kinds)
        f.error(loc, f"exactly one of {listed} is needed, not {len(given)}")
        return None
    return given[0]


def _admin_peer(
    f: Fields, peer: dict[str, Any], loc: Loc, kinds: tuple[str, ...]
) -> AdminPeer | None:
    kind = _only_one(f, peer, loc, kinds)
    if kind == "namespaces":
        return AdminPeer(namespaces=f.selector(peer, kind, loc))
    if kind == "nodes":
        return AdminPeer(nodes=f.selector(peer, kind, loc))
    if kind == "networks":
        nets = f.strings(peer, kind, loc)
        return AdminPeer(
            networks=tuple(n for i, n in enumerate(nets) if _valid_cidr(f, n, (*loc, kind, i)))
        )
    if kind == "pods":
        pods = f.mapping(peer, kind, loc)
        here = (*loc, kind)
        # Either selector left out selects everything (as netpol-analyzer reads it).
        ns = f.selector(pods, "namespaceSelector", here) or _EVERYTHING
        pod = f.selector(pods, "podSelector", here) or _EVERYTHING
        return AdminPeer(pods=(ns, pod))
    return None


def _admin_port(f: Fields, port: dict[str, Any], loc: Loc) -> AdminPort | None:
    kind = _only_one(f, port, loc, ("portNumber", "portRange", "namedPort"))
    if kind == "namedPort":
        name = f.string(port, kind, loc, required=True)
        return AdminPort(None, named=name) if name else None
    if kind is None:
        return None
    spec = f.mapping(port, kind, loc)
    here = (*loc, kind)
    protocol = f.protocol(spec, here)
    if kind == "portNumber":
        number = f.port(spec, "port", here, required=True, named=False)
        start = end = number if isinstance(number, int) else None
    else:
        start = _int(f.port(spec, "start", here, required=True, named=False))
        end = _int(f.port(spec, "end", here, required=True, named=False))
        if start is not None and end is not None and end < start:
            f.error((*here, "end"), f"'end' {end} is below 'start' {start}")
            return None
    if protocol is None or start is None or end is None:
        return None
    return AdminPort(protocol, start, end)


def _int(value: int | str | None) -> int | None:
    return value if isinstance(value, int) else None


# -- CiliumNetworkPolicy ---------------------------------------------------------------


def cilium_policy_of(f: Fields, data: dict[str, Any], loc: Loc) -> list[CiliumNetworkPolicy] | None:
    """The ``toFQDNs`` egress rules of a CiliumNetworkPolicy: one object per spec
    (``spec``, or each of ``specs``).  Its other rules are noted, not read: ztsim
    does not model them."""
    meta = meta_of(f, data, loc)
    specs = f.items(data, "specs", loc) if "specs" in data else []
    if "spec" in data or not specs:
        specs.insert(0, ((*loc, "spec"), f.mapping(data, "spec", loc, required=True)))
    out = []
    for here, spec in specs:
        selector = f.selector(spec, "endpointSelector", here, syntax=False) or _EVERYTHING
        if meta is not None:
            selector = cilium_selector(f, selector, meta.namespace, spec, here)
        for other in ("ingress", "ingressDeny", "egressDeny"):
            if spec.get(other):
                f.warn(
                    (*here, other),
                    f"{other} rules are not read (ztsim reads toFQDNs egress)",
                    key=True,
                )
        rules = []
        unread = []
        for rloc, rule in f.items(spec, "egress", here):
            read = _fqdn_rule(f, rule, rloc)
            if read is not None:
                rules.append(read)
            elif not rule.get("toFQDNs"):  # a rule of other peers, noted by _fqdn_rule
                unread.append(f.source(rloc))
        if meta is not None:
            out.append(
                CiliumNetworkPolicy(
                    meta.namespace,
                    meta.name,
                    selector,
                    tuple(rules),
                    f.source(here),
                    tuple(unread),
                )
            )
    return out if meta is not None else None


def _fqdn_rule(f: Fields, rule: dict[str, Any], loc: Loc) -> CiliumEgressRule | None:
    fqdns = []
    for floc, fqdn in f.items(rule, "toFQDNs", loc):
        name = f.string(fqdn, "matchName", floc)
        pattern = f.string(fqdn, "matchPattern", floc)
        if (name is None) == (pattern is None):
            f.error(floc, "a toFQDNs entry has exactly one of matchName, matchPattern")
            continue
        fqdns.append(FQDNSelector(name, pattern))
    if not fqdns:
        f.warn(loc, "an egress rule without toFQDNs: not read (ztsim reads toFQDNs only)")
        return None
    return CiliumEgressRule(tuple(fqdns), _cilium_ports(f, rule, loc), f.source(loc))


def _cilium_ports(f: Fields, rule: dict[str, Any], loc: Loc) -> tuple[PolicyPort, ...] | None:
    if rule.get("toPorts") is None:
        return None
    out = []
    for tloc, to in f.items(rule, "toPorts", loc):
        for ploc, port in f.items(to, "ports", tloc):
            number = f.port(port, "port", ploc, required=True)
            protocol = port.get("protocol", "TCP")
            if protocol == "ANY":
                out += [PolicyPort(p, number) for p in PROTOCOLS]
            elif protocol in PROTOCOLS:
                out.append(PolicyPort(cast(Any, protocol), number))
            else:
                f.error(
                    (*ploc, "protocol"),
                    f"'protocol' must be TCP, UDP, SCTP or ANY, not {protocol!r}",
                )
    return tuple(out)
