"""Load balancers between hosts, judged conservatively (issue 28, internal balancers).

A host that reaches a balancer reaches what the balancer forwards to: a path
from one host to another may exist only through it.  The dump does not name a
balancer's targets (``describe-target-groups`` is not read), so, as for the
internet-facing case (:mod:`ztsim.inputs.aws.compile_lb`), every balancer,
internal or not, is taken to forward

- from its **sources**: every host that reaches one of its interfaces on some
  port: the host's security groups' egress admit the interface's address (or
  one of the balancer's groups, or a group missing from the dump), the host
  subnet's outbound network ACL admits that address and the interface subnet's
  inbound ACL the host's (first match by rule number; no ACL within a subnet),
  and the balancer's groups' ingress admit the host (a balancer with no group,
  or a group missing from the dump: every host), on one common port;
- to every host whose security groups admit the balancer (its group, a missing
  group, a block holding one of its addresses) on the ports they admit, where
  the target subnet's inbound ACL admits one of its addresses on that port (or
  the target shares a subnet with one of its interfaces);
- an NLB or a GWLB may also keep its clients' addresses (client IP
  preservation): its sources reach every host whose network ACLs and security
  groups admit *them* (the source's own egress is then not asked).

Each becomes ``allow`` rules from the sources to the targets on the admitted
ports, **the same rules first in each of the four layers** a flow between hosts
meets (``sg-egress``, ``nacl-out``, ``nacl-in``, ``sg-ingress``): as every layer
holds them, the layers together allow exactly what some balancer forwards, or
what they allowed before.  The balancer's own egress rules and its subnets'
outbound ACLs are not read, nor its listeners (they could only narrow it); the
source may reach the balancer on any port and protocol (a listener may forward
to another port).  A client-address rule is ``allow`` from the sources to every
host in ``sg-egress`` and ``nacl-out`` (and to the balancer's own subnets in
``nacl-in``), the target's ACL and groups judging the source as usual.
"""

from __future__ import annotations

from typing import Any

from ztsim.inputs.aws.compile_base import Emitter, group_label, peer_blocks, services_of
from ztsim.inputs.aws.compile_index import Balancer, HostInfo, Net
from ztsim.inputs.aws.compile_lb import admits, admitted_services, overlaps, where
from ztsim.inputs.aws.compile_ports import (
    Ports,
    meet,
    port_set,
    ranges_ports,
    services_text,
    target_sets,
    union,
)
from ztsim.inputs.aws.objects import AclEntry, SecurityGroup, SgPeer
from ztsim.inputs.k8s.drafts import Provenance

__all__ = ["HOST_LAYERS", "BalancedHosts"]

Rule = dict[str, Any]
#: The layers a flow between two hosts meets (``exposure`` judges the internet only).
HOST_LAYERS = ("sg-egress", "nacl-out", "nacl-in", "sg-ingress")
#: (id part, target selector, services, provenance) of a rule to the targets.
Target = tuple[str, dict[str, Any], list[str] | None, Provenance]
#: (id part, ``to`` in sg-egress and nacl-out, ``to`` in nacl-in, services) of a
#: client-address rule.
Client = tuple[str, dict[str, Any] | None, dict[str, Any] | None, list[str] | None]


class BalancedHosts:
    """Every balancer's rules between hosts (see the module docstring)."""

    def __init__(self, em: Emitter) -> None:
        self.em = em
        self.index = em.index
        self._acl_ports: dict[tuple[str, bool, tuple[Net, ...]], Ports] = {}
        #: Per balancer (by position): its source selectors, target rules and
        #: client-address rules (:meth:`_build`), once for every layer.
        self._built = [self._build(lb) for lb in self.index.balancers]

    def rules(self, layer: str) -> list[Rule]:
        """The copies for ``layer`` (one of :data:`HOST_LAYERS`), every balancer's."""
        out: list[Rule] = []
        for n, (sources, targets, clients, prov) in enumerate(self._built):
            for k, sel in enumerate(sources):
                for tid, dst, services, why in targets:
                    out.append(self.em.rule(f"lbh{n}/{layer}/{tid}/{k}", "allow", why,
                                            src=sel, dst=dst, services=services))  # fmt: skip
                if prov is None or layer == "sg-ingress":
                    continue  # the target's groups judge the client's address as usual
                for cid, to_any, to_own, services in clients:
                    to = to_own if layer == "nacl-in" else to_any
                    if layer == "nacl-in" and to is None:
                        continue  # no host in its subnets
                    out.append(self.em.rule(f"lbh{n}/{layer}/client/{cid}/{k}", "allow", prov,
                                            src=sel, dst=to, services=services))  # fmt: skip
        return out

    # -- one balancer -----------------------------------------------------------------

    def _build(
        self, lb: Balancer
    ) -> tuple[list[dict[str, Any]], list[Target], list[Client], Provenance | None]:
        """``lb``'s sources (selectors), target rules and client-address rules."""
        found = {h.id for h in self.index.hosts if self._reaches(h, lb)}
        if not found:
            return [], [], [], None
        sources = self.em.hosts_where(lambda h: h.id in found)
        if not lb.client_ip:
            return sources, self._targets(lb), [], None
        prov = Provenance(lb.source, (
            f"load balancer {lb.name}'s clients' addresses, kept to its targets "
            f"(client IP preservation) {where(lb)}"
        ))  # fmt: skip
        own = [s for s in lb.subnets if s in self.em.populated()]
        clients: list[Client] = []
        for t, (ids, ports) in enumerate(target_sets(lb)):
            hosts = {"host": ids} if ids is not None else {}
            to_own = {"zone": own, **hosts} if own else None
            clients.append((str(t), hosts or None, to_own, services_text(ports)))
        return sources, self._targets(lb), clients, prov

    def _targets(self, lb: Balancer) -> list[Target]:
        """A rule per ingress rule admitting ``lb``, per set of targets alike by
        port (all its groups' members when its targets are not known) and per
        set of their subnets alike to the ACLs."""
        out: list[Target] = []
        for g in sorted(self.index.groups.values(), key=lambda g: g.id):
            members = self.index.members.get(g.id)
            if not members:
                continue
            rules = [
                (i, rule, services)
                for i, rule in enumerate(g.ingress)
                if (services := services_of(rule.protocol, rule.ports, rule.icmp, True))
                is not False
                and any(admits(self.index, p, lb) for p in rule.peers)
            ]
            for t, (ids, target_ports) in enumerate(target_sets(lb)):
                chosen = [h for h in members if ids is None or h.id in ids]
                by_ports: dict[tuple[str, ...] | None, list[str]] = {}
                for sid in sorted({h.subnet for h in chosen}):
                    key = services_text(self._into(sid, lb))
                    by_ports.setdefault(tuple(key) if key is not None else None, []).append(sid)
                for i, rule, services in rules:
                    prov = Provenance(rule.source, f"{_gname(g)} {rule.name} {where(lb)}")
                    for j, (acl_key, subnets) in enumerate(by_ports.items()):
                        acl_ports = port_set(list(acl_key) if acl_key is not None else None)
                        ports = meet(meet(port_set(services), acl_ports), target_ports)
                        if not ports:
                            continue
                        sel: dict[str, Any] = {
                            "labels": group_label(g.id),
                            "zone": subnets if len(subnets) > 1 else subnets[0],
                        }
                        if ids is not None:
                            sel["host"] = sorted(h.id for h in chosen if h.subnet in subnets)
                        out.append((f"{g.id}/{i}/{t}/{j}", sel, services_text(ports), prov))
        return out

    def _into(self, subnet: str, lb: Balancer) -> Ports:
        """What ``subnet``'s inbound ACL lets in from some address of ``lb`` (its
        own subnets, or no ACL known: everything)."""
        acl = self.index.acl_of.get(subnet)
        if subnet in lb.subnets or acl is None:
            return port_set(None)
        return self._acl(acl.id, acl.entries, False, lb.blocks)

    def _acl(
        self, acl_id: str, entries: tuple[AclEntry, ...], egress: bool, blocks: tuple[Net, ...]
    ) -> Ports:
        key = (acl_id, egress, blocks)
        found = self._acl_ports.get(key)
        if found is None:
            mine = sorted((e for e in entries if e.egress == egress), key=lambda e: e.rule_number)
            found = port_set(admitted_services(mine, blocks))
            self._acl_ports[key] = found
        return found

    # -- a source ---------------------------------------------------------------------

    def _reaches(self, h: HostInfo, lb: Balancer) -> bool:
        """Whether ``h`` reaches one of ``lb``'s interfaces on some port."""
        admitted = meet(self._lb_ingress(h, lb), ranges_ports(lb.listener_ports))
        if not admitted:
            return False
        for subnet, addresses in lb.enis:
            for a in addresses:
                ports = meet(admitted, self._egress(h, lb, a))
                if ports and h.subnet != subnet:
                    ports = meet(ports, self._out(h.subnet, a))
                    mine = tuple(b for b in h.blocks if b.version == a.version)
                    acl = self.index.acl_of.get(subnet)
                    if acl is not None:
                        ports = meet(ports, self._acl(acl.id, acl.entries, False, mine))
                    elif not mine:
                        ports = {}
                if ports:
                    return True
        return False

    def _out(self, subnet: str, address: Net) -> Ports:
        acl = self.index.acl_of.get(subnet)
        if acl is None:
            return port_set(None)
        return self._acl(acl.id, acl.entries, True, (address,))

    def _lb_ingress(self, h: HostInfo, lb: Balancer) -> Ports:
        """What ``lb``'s groups admit from ``h`` (no group, or one missing from the
        dump: everything)."""
        if not lb.groups or any(g not in self.index.groups for g in lb.groups):
            return port_set(None)
        out: Ports = {}
        for gid in lb.groups:
            for rule in self.index.groups[gid].ingress:
                services = services_of(rule.protocol, rule.ports, rule.icmp, True)
                if services is not False and any(self._holds_host(p, h) for p in rule.peers):
                    out = union(out, port_set(services))
        return out

    def _egress(self, h: HostInfo, lb: Balancer, address: Net) -> Ports:
        """What ``h``'s groups let out to ``address`` of ``lb``."""
        out: Ports = {}
        for gid in h.groups:
            g = self.index.groups.get(gid)
            for rule in g.egress if g is not None else ():
                services = services_of(rule.protocol, rule.ports, rule.icmp, True)
                if services is False:
                    continue
                if any(self._holds_lb(p, lb, address) for p in rule.peers):
                    out = union(out, port_set(services))
        return out

    def _holds_host(self, peer: SgPeer, h: HostInfo) -> bool:
        if peer.kind == "group":
            return peer.value in h.groups or peer.value not in self.index.groups
        return any(h.any_in(b) for b in peer_blocks(self.index, peer.kind, peer.value) or ())

    def _holds_lb(self, peer: SgPeer, lb: Balancer, address: Net) -> bool:
        if peer.kind == "group":
            return peer.value in lb.groups or peer.value not in self.index.groups
        blocks = peer_blocks(self.index, peer.kind, peer.value) or ()
        return any(overlaps(b, address) for b in blocks)


def _gname(g: SecurityGroup) -> str:
    return f"security group {g.id}" + (f" ({g.name})" if g.name else "")
