"""Load balancers, judged conservatively (issue 28 follow-up).

A dump holds a balancer's network interfaces but not its target groups
(``describe-target-groups`` is not read), so which hosts it forwards to is
unknown.  As the Kubernetes import's unknown ingress controller, an internet-facing
balancer (an interface with a public IPv4 address in a subnet routing the
internet to an internet gateway) is taken to forward from the internet to every
host that could be its target: whose security groups admit one of its
interfaces (by one of its groups, a group missing from the dump, or an address
block holding its private address), on the ports they admit, where the target
subnet's inbound network ACL admits the interface's address (or the target
shares a subnet with it).

Each such admission becomes an extra ``allow`` from the internet zone, placed
first in its layer (only more flows pass): in ``exposure`` and ``sg-ingress``
a copy of the security group rule, in ``nacl-in`` the ports the ACL lets in from
the balancer's addresses (first match by rule number, per address).  The
balancer's own listeners, security groups and ACLs are not read (they could only
narrow it).  Between hosts (internal balancers too): :mod:`ztsim.inputs.aws.compile_lb_hosts`.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
from typing import Any

from ztsim.inputs.aws.compile_base import (
    INTERNET,
    Emitter,
    group_label,
    group_name,
    peer_blocks,
    services_of,
)
from ztsim.inputs.aws.compile_index import Balancer, EstateIndex, Net, span
from ztsim.inputs.aws.compile_ports import meet, port_set, services_text, target_sets
from ztsim.inputs.aws.objects import AclEntry, NetworkAcl, SgPeer
from ztsim.inputs.k8s.drafts import Provenance

__all__ = [
    "BEHIND",
    "Balancers",
    "admits",
    "admitted_services",
    "balancer_targets",
    "overlaps",
    "where",
]

#: The label of a host some internet-facing balancer may forward to (its
#: services are then published to the internet, for the policy to judge).
BEHIND = "aws:behind-load-balancer"

Rule = dict[str, Any]
#: The protocols ``services_of`` names, each judged over its own ports.
_PROTOCOLS = ("tcp", "udp", "sctp", "icmp")


def _covers(block: Net, address: Net) -> bool:
    v, lo, hi = span(block)
    av, alo, ahi = span(address)
    return v == av and lo <= alo and ahi <= hi


def overlaps(block: Net, address: Net) -> bool:
    """Whether ``block`` holds some address of ``address`` (a one-address block, or
    a block where an address is known to stand: an RDS instance's, a Terraform
    balancer's subnet)."""
    v, lo, hi = span(block)
    av, alo, ahi = span(address)
    return v == av and lo <= ahi and alo <= hi


def _ranges(services: list[str] | None) -> dict[str, tuple[int, int]]:
    """A ``services_of`` answer as protocol -> port range (``None``: every one)."""
    if services is None:
        return {p: (0, 65535) for p in _PROTOCOLS}
    out = {}
    for s in services:
        ports, proto = s.split("/")
        low, _, high = ports.partition("-")
        out[proto] = (int(low), int(high or low))
    return out


def admitted_services(entries: list[AclEntry], addresses: tuple[Net, ...]) -> list[str]:
    """The services some of ``addresses`` gets in through ``entries`` (one
    direction of an ACL, in rule-number order: the first matching entry decides,
    none denies), as ``services`` strings, sorted by protocol and port.

    >>> from ztsim.inputs.aws.objects import Source
    >>> s = Source("a.json", 1, 1)
    >>> deny = AclEntry(100, False, "deny", "tcp", "10.0.0.0/24", (22, 22), s)
    >>> allow = AclEntry(200, False, "allow", "tcp", "0.0.0.0/0", (0, 1023), s)
    >>> admitted_services([deny, allow], (ipaddress.ip_network("10.0.0.5/32"),))
    ['0-21/tcp', '23-1023/tcp']
    """
    judged: list[tuple[Net, bool, dict[str, tuple[int, int]]]] = []
    for e in entries:
        allow = e.action == "allow"
        services = services_of(e.protocol, e.ports, e.icmp, allow)
        if services is not False:
            ranges = _ranges(services if isinstance(services, list) else None)
            judged.append((_net(e.cidr), allow, ranges))
    # Per address, the entries that match it, in order (an allow matches some
    # address of the block, a deny only all of them: the attacker uses the
    # address that gets through); then first match per port segment.
    mine = [
        [(allow, ranges) for net, allow, ranges in judged
         if (overlaps(net, a) if allow else _covers(net, a))]
        for a in addresses
    ]  # fmt: skip
    out: list[str] = []
    for proto in _PROTOCOLS:
        cuts = {0, 65536}
        for _, _, ranges in judged:
            if proto in ranges:
                cuts |= {ranges[proto][0], ranges[proto][1] + 1}
        bounds = sorted(cuts)
        allowed: list[tuple[int, int]] = []
        for low, stop in itertools.pairwise(bounds):
            if any(_first(matching, proto, low) for matching in mine):
                if allowed and allowed[-1][1] == low - 1:
                    allowed[-1] = (allowed[-1][0], stop - 1)
                else:
                    allowed.append((low, stop - 1))
        out += [f"{lo}/{proto}" if lo == hi else f"{lo}-{hi}/{proto}" for lo, hi in allowed]
    return out


@functools.lru_cache(maxsize=4096)
def _net(cidr: str) -> Net:
    # Cached: an ACL's entries are judged for every balancer.
    return ipaddress.ip_network(cidr)


def _first(matching: list[tuple[bool, dict[str, tuple[int, int]]]], proto: str, port: int) -> bool:
    """Whether the first of an address's ``matching`` entries on ``port``/``proto``
    allows."""
    for allow, ranges in matching:
        r = ranges.get(proto)
        if r is not None and r[0] <= port <= r[1]:
            return allow
    return False


def admits(index: EstateIndex, peer: SgPeer, lb: Balancer) -> bool:
    """Whether a security group rule's peer admits one of ``lb``'s interfaces (by
    one of its groups, a group missing from the dump, a block holding one of its
    addresses)."""
    if peer.kind == "group":
        return peer.value in lb.groups or peer.value not in index.groups
    blocks = peer_blocks(index, peer.kind, peer.value) or []
    return any(overlaps(b, a) for b in blocks for a in lb.blocks)


def balancer_targets(index: EstateIndex) -> set[str]:
    """The hosts an internet-facing balancer may forward to: some ingress rule of
    one of their groups admits one of its interfaces."""
    out: set[str] = set()
    for lb in index.balancers:
        if not lb.exposed:
            continue
        known = None if lb.targets is None else {h for h, _ in lb.targets}
        for g in index.groups.values():
            if any(
                services_of(r.protocol, r.ports, r.icmp, True) is not False
                and any(admits(index, p, lb) for p in r.peers)
                for r in g.ingress
            ):
                out |= {h.id for h in index.members.get(g.id, []) if known is None or h.id in known}
    return out


def where(lb: Balancer) -> str:
    """How a rule names the balancer it goes through."""
    return f"(through load balancer {lb.name} at {lb.source.path}:{lb.source.line})"


class Balancers:
    """The internet-facing balancers' extra rules, layer by layer (see the module
    docstring)."""

    def __init__(self, em: Emitter, acl_subnets: dict[str, list[str]]) -> None:
        self.em = em
        self.index = em.index
        self.exposed = [lb for lb in self.index.balancers if lb.exposed]
        self.acl_subnets = acl_subnets
        self.acls = {a.id: a for a in self.index.estate.network_acls}

    def sg_copies(self, layer: str) -> list[Rule]:
        """Copies of the ingress rules admitting a balancer, from the internet (for
        ``exposure`` and ``sg-ingress``)."""
        out: list[Rule] = []
        for n, lb in enumerate(self.exposed):
            for g in sorted(self.index.groups.values(), key=lambda g: g.id):
                if g.id not in self.index.members:
                    continue
                for i, rule in enumerate(g.ingress):
                    services = services_of(rule.protocol, rule.ports, rule.icmp, True)
                    if services is False or not any(self._admits(p, lb) for p in rule.peers):
                        continue
                    name = f"{group_name(g)} {rule.name} {where(lb)}"
                    for t, (ids, ports) in enumerate(target_sets(lb)):
                        dst: dict[str, Any] = {"labels": group_label(g.id)}
                        if ids is not None:  # its target group attachments: those only
                            dst["host"] = [h.id for h in self.index.members[g.id] if h.id in ids]
                        admitted = meet(port_set(services), ports)
                        if not admitted or dst.get("host") == []:
                            continue
                        rid = f"lb{n}/{layer}/{g.id}/{i}" + (f"/{t}" if t else "")
                        out.append(self.em.rule(
                            rid, "allow", Provenance(rule.source, name), src={"zone": INTERNET},
                            dst=dst, services=services_text(admitted),
                        ))  # fmt: skip
        return out

    def _admits(self, peer: SgPeer, lb: Balancer) -> bool:
        return admits(self.index, peer, lb)

    def acl_copies(self) -> list[Rule]:
        """For ``nacl-in``: from the internet into the balancer's own subnets (no
        ACL within a subnet), and into each ACL's subnets on the ports it admits
        from the balancer's addresses."""
        out: list[Rule] = []
        populated = set(self.em.populated())
        for n, lb in enumerate(self.exposed):
            own = [s for s in lb.subnets if s in populated]
            if own:
                prov = Provenance(lb.source, f"load balancer {lb.name}'s own subnets "
                                  f"(no ACL within a subnet) {where(lb)}")  # fmt: skip
                for t, (ids, ports) in enumerate(target_sets(lb)):
                    dst = {"zone": own, **({"host": ids} if ids is not None else {})}
                    out.append(self.em.rule(f"lb{n}/nacl-in/own" + (f"/{t}" if t else ""),
                                            "allow", prov, src={"zone": INTERNET}, dst=dst,
                                            services=services_text(ports)))  # fmt: skip
            for acl_id in sorted(self.acl_subnets):
                out += self._acl_copy(n, lb, self.acls[acl_id], self.acl_subnets[acl_id])
        return out

    def _acl_copy(self, n: int, lb: Balancer, acl: NetworkAcl, subnets: list[str]) -> list[Rule]:
        entries = sorted((e for e in acl.entries if not e.egress), key=lambda e: e.rule_number)
        services = admitted_services(entries, lb.blocks)
        prov = Provenance(acl.source, f"network ACL {acl.id} inbound entries {where(lb)}")
        out = []
        for t, (ids, ports) in enumerate(target_sets(lb)):
            admitted = meet(port_set(services), ports)
            if not admitted:
                continue
            dst = {"zone": subnets, **({"host": ids} if ids is not None else {})}
            out.append(self.em.rule(f"lb{n}/nacl-in/{acl.id}" + (f"/{t}" if t else ""), "allow",
                                    prov, src={"zone": INTERNET}, dst=dst,
                                    services=services_text(admitted)))  # fmt: skip
        return out
