"""A naive evaluator of AWS reachability, from AWS's documented semantics only.

It shares no code with ztsim's compiler (ztsim/inputs/aws/compile*.py): it reads
the estate's objects (plain data) and decides one flow at a time, address by
address, as the AWS documentation says:

- security groups (VPC User Guide, "Security group rules"): stateful,
  allow-only; a flow leaves if some egress rule of some group of the source's
  interfaces allows the protocol, the port and the destination (a CIDR holding
  its address, a group it is a member of, a prefix list holding its address),
  and enters if some ingress rule of the destination's groups allows the source
  likewise; ``-1`` is every protocol and port;
- network ACLs ("Control subnet traffic with network ACLs"): stateless; the
  entries of a direction in rule-number order, the first matching decides, none
  denies; the source subnet's outbound entries and the destination subnet's
  inbound ones; traffic within one subnet meets no ACL; a subnet without an
  association uses its VPC's default ACL;
- the internet ("Enable internet access"): a host is reached from outside only
  with a public address of the family and a route of its subnet to an internet
  gateway attached to its VPC; traffic from the internet has an internet
  (global) source address;
- egress to an outside address: the subnet's route table, longest prefix first
  (``local``/blackhole: not out; an internet gateway: only with a public
  address; egress-only gateway: IPv6; any other target: out), then the
  security groups and the outbound ACL.

Choices where AWS is silent or ztsim's model is coarser, each the conservative
one ztsim documents (docs/aws.md): return traffic through a stateless ACL is not
required; an RDS instance's address is any address of its subnet; a flow is
allowed when some pair of addresses of the two hosts gets through every check.

Load balancers (interfaces with ``RequesterId`` ``amazon-elb``, or an NLB's or
GWLB's type, grouped by ``Description``): their target groups are not dumped, so
one with a public IPv4 address on an interface whose subnet routes some internet
address to an internet gateway is taken to forward from the internet to a host
when the host's security groups admit one of its addresses (or groups) on the
port and the host's subnet's inbound ACL admits one of its addresses (or the
host shares a subnet with one of its interfaces).  Every balancer, internal or
not, is also taken to forward between hosts: a host reaches another through it
when it reaches one of the balancer's interfaces (its groups' egress admit the
interface's address or the balancer's group, the ACLs on the way admit both
addresses, the balancer's groups admit it: no group, or one missing from the
dump, admits every host) on some protocol and port, and the other host's groups
and subnet's ACL admit the balancer as above on the flow's port; or, for an NLB
or a GWLB (client IP preservation), the other host's groups and subnet's ACL
admit the first host itself (no ACL when the other host shares a subnet with the
balancer or with the first host).  A balancer whose addresses another's groups
and interface subnet's ACL admit may forward to it: the second then serves the
first's clients, and faces the internet when the first does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

from ztsim.inputs.aws.objects import AclEntry, Estate, SgRule

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_PRIVATE = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/3", "::/8", "fc00::/7", "fe80::/10",
        "ff00::/8",
    )
]  # fmt: skip
_NUMBERS = {"6": "tcp", "17": "udp", "132": "sctp", "1": "icmp", "58": "icmp"}


def is_internet(a: Address) -> bool:
    """Whether ``a`` is an internet (global) address."""
    return not any(a in n for n in _PRIVATE)


@dataclass(frozen=True)
class RefHost:
    """A host: its subnet, groups, addresses (RDS: ``None``, any of its subnet)."""

    id: str
    subnet: str
    vpc: str | None
    groups: frozenset[str]
    addresses: tuple[Address, ...] | None
    public_v4: bool
    v6: bool


def _proto(p: str) -> str:
    p = p.lower()
    return _NUMBERS.get(p, "icmp" if p == "icmpv6" else p)


def _matches_proto(rule_proto: str, ports: tuple[int, int] | None, proto: str, port: int) -> bool:
    rp = _proto(rule_proto)
    if rp == "-1":
        return True
    if rp != proto:
        return False
    if proto == "icmp":
        return True
    return ports is None or ports[0] <= port <= ports[1]


class Reference:
    """The estate, and flows decided one at a time."""

    def __init__(self, estate: Estate) -> None:
        self.e = estate
        self.subnets = {s.id: s for s in estate.subnets}
        self.groups = {g.id: g for g in estate.security_groups}
        self.prefix = {p.id: p for p in estate.prefix_lists}
        self.hosts: dict[str, RefHost] = {}
        for inst in estate.instances:
            enis = list(inst.interfaces)
            if not enis:
                continue
            addrs = tuple(
                ipaddress.ip_address(a) for e in enis for a in (*e.private_ips, *e.ipv6_ips)
            )
            groups = frozenset(g for e in enis for g in e.group_ids)
            public = bool(inst.public_ip or any(e.public_ip for e in enis))
            v6 = any(e.ipv6_ips for e in enis)
            self.hosts[inst.id] = RefHost(
                inst.id, enis[0].subnet_id, inst.vpc_id, groups, addrs or None, public, v6
            )
        for db in estate.db_instances:
            here = sorted(
                s for s in db.subnet_ids
                if s in self.subnets and self.subnets[s].availability_zone == db.availability_zone
            ) or sorted(db.subnet_ids)  # fmt: skip
            if here:
                self.hosts[db.id] = RefHost(
                    db.id, here[0], db.vpc_id, frozenset(db.group_ids), None,
                    db.publicly_accessible, False,
                )  # fmt: skip

        self.balancers: dict[str, RefHost] = {}
        #: Per balancer: each interface's subnet and addresses; the NLBs and GWLBs.
        self.lb_enis: dict[str, list[tuple[str, tuple[Address, ...]]]] = {}
        self.client_ip: set[str] = set()
        lb_subnets: dict[str, set[str]] = {}
        for e in estate.network_interfaces:
            if e.instance_id is not None or not (
                e.requester_id == "amazon-elb"
                or e.interface_type in ("network_load_balancer", "gateway_load_balancer")
            ):
                continue
            name = e.description or e.id
            old = self.balancers.get(name)
            own = tuple(ipaddress.ip_address(a) for a in (*e.private_ips, *e.ipv6_ips))
            addrs = own
            exposed = bool(e.public_ip) and self.exposed(
                RefHost(e.id, e.subnet_id, e.vpc_id, frozenset(), (), True, False), None
            )
            if old is not None:
                addrs = (*(old.addresses or ()), *addrs)
                exposed = exposed or old.public_v4
            groups = frozenset(e.group_ids) | (old.groups if old else frozenset())
            self.balancers[name] = RefHost(name, e.subnet_id, e.vpc_id, groups, addrs, exposed,
                                           False)  # fmt: skip
            lb_subnets.setdefault(name, set()).add(e.subnet_id)
            self.lb_enis.setdefault(name, []).append((e.subnet_id, own))
            if e.interface_type in ("network_load_balancer", "gateway_load_balancer"):
                self.client_ip.add(name)
        self.lb_subnets = lb_subnets
        self._reaches: dict[tuple[str, str], bool] = {}
        # A balancer may forward to another's interfaces: the second then serves
        # the first's clients too, and faces the internet when the first does.
        self.behind = {
            (a, b) for a in self.balancers for b in self.balancers
            if a != b and self._forwards(a, b)
        }  # fmt: skip
        changed = True
        while changed:
            changed = False
            for a, b in sorted(self.behind):
                if self.balancers[a].public_v4 and not self.balancers[b].public_v4:
                    self.balancers[b] = replace(self.balancers[b], public_v4=True)
                    changed = True

    def _forwards(self, a: str, b: str) -> bool:
        """Balancer ``a`` may reach ``b``'s interfaces as a target: some address of
        ``a`` let in by ``b``'s groups (no group, or one missing: any) and, unless
        they share a subnet, some address of ``a`` by the interface subnet's ACL."""
        first, then = self.balancers[a], self.balancers[b]
        open_b = not then.groups or any(g not in self.groups for g in then.groups)
        addrs = first.addresses or ()
        for proto in ("tcp", "udp", "sctp", "icmp"):
            for q in sorted(self.port_bounds()):
                if not (open_b or any(self.sg(then, False, first, x, proto, q) for x in addrs)):
                    continue
                if any(
                    subnet in self.lb_subnets[a]
                    or any(self.acl(subnet, False, x, proto, q) for x in addrs)
                    for subnet, _ in self.lb_enis[b]
                ):
                    return True
        return False

    # -- addresses --------------------------------------------------------------------

    def _all_blocks(self) -> Iterator[Network]:
        for g in self.e.security_groups:
            for r in (*g.ingress, *g.egress):
                for p in r.peers:
                    yield from self._peer_blocks(p.kind, p.value)
        for a in self.e.network_acls:
            for en in a.entries:
                yield ipaddress.ip_network(en.cidr)
        for t in self.e.route_tables:
            for r in t.routes:
                if "/" in r.destination:
                    yield ipaddress.ip_network(r.destination)

    def _peer_blocks(self, kind: str, value: str) -> list[Network]:
        if kind == "cidr":
            return [ipaddress.ip_network(value)]
        if kind == "prefix-list":
            pl = self.prefix.get(value)
            if pl is None or pl.cidrs is None:
                return [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
            return [ipaddress.ip_network(c) for c in pl.cidrs]
        return []

    def points(self, within: Iterable[Network]) -> list[Address]:
        """Candidate addresses inside ``within``: the ends of every block the
        estate names, and of ``within`` (every decision is constant between them)."""
        within = list(within)
        out: set[Address] = set()
        blocks = [*within, *self._all_blocks(), *_PRIVATE]
        for b in blocks:
            for a in (b.network_address, b.broadcast_address):
                for d in (-1, 0, 1):
                    try:
                        c = a + d
                    except ipaddress.AddressValueError:
                        continue
                    if any(c in w for w in within):
                        out.add(c)
        return sorted(out, key=lambda a: (a.version, int(a)))

    def addresses(self, h: RefHost) -> list[Address]:
        """The host's addresses (an RDS instance: candidates in its subnet)."""
        if h.addresses is not None:
            return list(h.addresses)
        s = self.subnets.get(h.subnet)
        if s is None:
            return self.points([ipaddress.ip_network("0.0.0.0/0")])
        nets = [ipaddress.ip_network(c) for c in (s.cidr, *s.ipv6_cidrs) if c]
        return self.points(nets)

    # -- the checks ---------------------------------------------------------------------

    def _peer_has(self, kind: str, value: str, addr: Address, host: RefHost | None) -> bool:
        if kind == "group":
            if value not in self.groups:
                return host is not None  # missing from the dump: every host
            return host is not None and value in host.groups
        return any(addr in b for b in self._peer_blocks(kind, value) if b.version == addr.version)

    def sg(
        self, h: RefHost, egress: bool, peer: RefHost | None, addr: Address, proto: str, port: int
    ) -> bool:
        """Some rule of ``h``'s groups lets ``addr`` (of ``peer``) in or out."""
        for gid in h.groups:
            g = self.groups.get(gid)
            if g is None:
                continue
            rules: tuple[SgRule, ...] = g.egress if egress else g.ingress
            for r in rules:
                if _proto(r.protocol) not in ("-1", "tcp", "udp", "sctp", "icmp"):
                    continue
                if _matches_proto(r.protocol, r.ports, proto, port) and any(
                    self._peer_has(p.kind, p.value, addr, peer) for p in r.peers
                ):
                    return True
        return False

    def acl(self, subnet: str, outbound: bool, addr: Address, proto: str, port: int) -> bool:
        """The subnet's ACL, first match by rule number."""
        acl = next((a for a in self.e.network_acls if subnet in a.subnet_ids), None)
        if acl is None:
            vpc = self.subnets[subnet].vpc_id if subnet in self.subnets else None
            acl = next((a for a in self.e.network_acls if a.is_default and a.vpc_id == vpc), None)
        if acl is None:
            return True  # none known
        entries: list[AclEntry] = sorted(
            (x for x in acl.entries if x.egress == outbound), key=lambda x: x.rule_number
        )
        for x in entries:
            net = ipaddress.ip_network(x.cidr)
            if net.version != addr.version or addr not in net:
                continue
            p = _proto(x.protocol)
            if p not in ("-1", "tcp", "udp", "sctp", "icmp"):
                continue
            if p == "icmp" and x.action == "deny" and x.icmp not in (None, (-1, -1)):
                continue  # one ICMP type denied: another passes
            if _matches_proto(x.protocol, x.ports, proto, port):
                return x.action == "allow"
        return False

    def _table(self, subnet: str):  # type: ignore[no-untyped-def]
        t = next((t for t in self.e.route_tables if subnet in t.subnet_ids), None)
        vpc = self.subnets[subnet].vpc_id if subnet in self.subnets else None
        return t or next((t for t in self.e.route_tables if t.main and t.vpc_id == vpc), None)

    def _igw(self, gw: str | None, vpc: str) -> bool:
        if not gw or not gw.startswith("igw-"):
            return False
        if not self.e.internet_gateways:
            return True
        return any(g.id == gw and vpc in g.vpc_ids for g in self.e.internet_gateways)

    def exposed(self, h: RefHost, x: Address | None) -> bool:
        """Internet address ``x`` can reach ``h``: a public address of its family
        and a route to an attached internet gateway whose destination holds it
        (``x`` ``None``: some internet IPv4 address)."""
        if x is None:
            v4 = [ipaddress.ip_network("0.0.0.0/0")]
            return any(self.exposed(h, a) for a in self.points(v4) if is_internet(a))
        if not (h.public_v4 if x.version == 4 else h.v6):
            return False
        if not self.e.route_tables:
            return True
        t = self._table(h.subnet)
        if t is None:
            return True
        return any(
            r.state == "active" and self._igw(r.gateway_id, t.vpc_id)
            and any(x in b for b in self._route_blocks(r.destination) if b.version == x.version)
            for r in t.routes
        )  # fmt: skip

    def _route_blocks(self, dest: str) -> list[Network]:
        if "/" in dest:
            return [ipaddress.ip_network(dest)]
        return self._peer_blocks("prefix-list", dest)

    def routes_out(self, h: RefHost, x: Address) -> bool:
        """The longest-prefix route of ``h``'s subnet for ``x`` leads out for ``h``."""
        if not self.e.route_tables:
            return True
        t = self._table(h.subnet)
        if t is None:
            return True
        best = None
        for r in t.routes:
            for b in self._route_blocks(r.destination):
                if b.version == x.version and x in b and (best is None or b.prefixlen > best[0]):
                    best = (b.prefixlen, r)
        if best is None:
            return False
        r = best[1]
        target = r.gateway_id or r.target or ""
        if r.state != "active" or target == "local":
            return False
        if target.startswith("igw-"):
            return self._igw(target, t.vpc_id) and (h.public_v4 if x.version == 4 else h.v6)
        if target.startswith("eigw-"):
            return x.version == 6 and h.v6
        return True

    # -- flows ------------------------------------------------------------------------

    def host_to_host(self, src: str, dst: str, proto: str, port: int) -> bool:
        """Some address pair of the two hosts gets through every check."""
        s, d = self.hosts[src], self.hosts[dst]
        for a_s in self.addresses(s):
            for a_d in self.addresses(d):
                if a_s.version != a_d.version:
                    continue
                if not self.sg(s, True, d, a_d, proto, port):
                    continue
                if s.subnet != d.subnet and not (
                    self.acl(s.subnet, True, a_d, proto, port)
                    and self.acl(d.subnet, False, a_s, proto, port)
                ):
                    continue
                if self.sg(d, False, s, a_s, proto, port):
                    return True
        return self.through_lb(src, dst, proto, port)

    def reaches_lb(self, src: str, name: str) -> bool:
        """``src`` reaches some interface of balancer ``name`` on some protocol and
        port, or of a balancer in front of it (a closure over ``behind``)."""
        key = (src, name)
        if key not in self._reaches:
            found = {n for n in self.balancers if self._reaches_lb(self.hosts[src], n)}
            while more := {b for a, b in self.behind if a in found} - found:
                found |= more
            for n in self.balancers:
                self._reaches[src, n] = n in found
        return self._reaches[key]

    def _reaches_lb(self, s: RefHost, name: str) -> bool:
        lb = self.balancers[name]
        open_lb = not lb.groups or any(g not in self.groups for g in lb.groups)
        ports = sorted(self.port_bounds())
        for subnet, addrs in self.lb_enis[name]:
            for a in addrs:
                for a_s in self.addresses(s):
                    if a_s.version != a.version:
                        continue
                    for proto in ("tcp", "udp", "sctp", "icmp"):
                        for q in ports:
                            if (
                                self.sg(s, True, lb, a, proto, q)
                                and (s.subnet == subnet or (
                                    self.acl(s.subnet, True, a, proto, q)
                                    and self.acl(subnet, False, a_s, proto, q)
                                ))
                                and (open_lb or self.sg(lb, False, s, a_s, proto, q))
                            ):  # fmt: skip
                                return True
        return False

    def through_lb(self, src: str, dst: str, proto: str, port: int) -> bool:
        """``src`` reaches ``dst`` through some balancer (see the module docstring)."""
        s, d = self.hosts[src], self.hosts[dst]
        for name, lb in self.balancers.items():
            if not self.reaches_lb(src, name):
                continue
            addrs = lb.addresses or ()
            if any(self.sg(d, False, lb, a, proto, port) for a in addrs) and (
                d.subnet in self.lb_subnets[name]
                or any(self.acl(d.subnet, False, a, proto, port) for a in addrs)
            ):
                return True
            if name in self.client_ip and any(
                self.sg(d, False, s, a_s, proto, port)
                and (
                    d.subnet in self.lb_subnets[name]
                    or d.subnet == s.subnet
                    or self.acl(d.subnet, False, a_s, proto, port)
                )
                for a_s in self.addresses(s)
            ):
                return True
        return False

    def lb_sg(self, d: RefHost, proto: str, port: int) -> bool:
        """Some internet-facing balancer's address is let in by ``d``'s groups."""
        return any(
            lb.public_v4 and any(self.sg(d, False, lb, a, proto, port) for a in lb.addresses or ())
            for lb in self.balancers.values()
        )

    def lb_acl(self, d: RefHost, proto: str, port: int) -> bool:
        """Some internet-facing balancer's address is let in by ``d``'s subnet's
        ACL (or it shares the subnet)."""
        return any(
            lb.public_v4 and (
                d.subnet in self.lb_subnets[name]
                or any(self.acl(d.subnet, False, a, proto, port) for a in lb.addresses or ())
            )
            for name, lb in self.balancers.items()
        )  # fmt: skip

    def internet_to_host(self, dst: str, proto: str, port: int, each_layer: bool = False) -> bool:
        """Some internet address reaches the host, directly or through a load
        balancer.  ``each_layer``: the reading of a model with one internet zone
        (each check met by some internet address, not necessarily the same one,
        or by a balancer's copy of it, not necessarily the same balancer)."""
        d = self.hosts[dst]
        xs = [
            x
            for x in self.points([ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")])
            if is_internet(x)
        ]
        lb_sg, lb_acl = self.lb_sg(d, proto, port), self.lb_acl(d, proto, port)
        if each_layer:
            return any(
                (lb_sg or any(self.exposed(d, x) for x in xs if x.version == v))
                and (lb_acl or any(
                    self.acl(d.subnet, False, x, proto, port) for x in xs if x.version == v
                ))
                and (lb_sg or any(
                    self.sg(d, False, None, x, proto, port) for x in xs if x.version == v
                ))
                for v in (4, 6)
            )  # fmt: skip
        through = any(
            lb.public_v4
            and any(self.sg(d, False, lb, a, proto, port) for a in lb.addresses or ())
            and (
                d.subnet in self.lb_subnets[name]
                or any(self.acl(d.subnet, False, a, proto, port) for a in lb.addresses or ())
            )
            for name, lb in self.balancers.items()
        )  # fmt: skip
        return through or any(
            self.exposed(d, x) and self.acl(d.subnet, False, x, proto, port)
            and self.sg(d, False, None, x, proto, port)
            for x in xs
        )  # fmt: skip

    def host_to_outside(self, src: str, block: Network, proto: str, port: int) -> bool:
        """Some address of ``block`` is reached from the host."""
        s = self.hosts[src]
        return any(
            self.routes_out(s, x) and self.sg(s, True, None, x, proto, port)
            and self.acl(s.subnet, True, x, proto, port)
            for x in self.points([block])
        )  # fmt: skip

    def port_bounds(self) -> set[int]:
        """Every port where a decision may change."""
        out = {0, 1, 65535}
        for g in self.e.security_groups:
            for r in (*g.ingress, *g.egress):
                if r.ports:
                    out |= {r.ports[0] - 1, r.ports[0], r.ports[1], r.ports[1] + 1}
        for a in self.e.network_acls:
            for x in a.entries:
                if x.ports:
                    out |= {x.ports[0] - 1, x.ports[0], x.ports[1], x.ports[1] + 1}
        return {p for p in out if 0 <= p <= 65535}
