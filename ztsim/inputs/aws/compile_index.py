"""What the AWS compiler needs to know of an estate, worked out once (layer ``inputs``).

:class:`EstateIndex` places every host (an EC2 instance or an RDS instance) in
its subnet, with its security groups (the union over its network interfaces),
its private addresses, and whether it is exposed to the internet; it finds each
subnet's network ACL and route table (the VPC's default ACL and main table when
a subnet has no association) and each security group's members.  Every choice
the dump leaves open is taken the conservative way and noted (see
``docs/aws.md``, "Semantics").
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from ztsim.inputs.aws.objects import (
    Estate,
    Labels,
    NetworkAcl,
    NetworkInterface,
    PortRange,
    Route,
    RouteTable,
    SecurityGroup,
    Source,
    Subnet,
)
from ztsim.model.diagnostics import Diagnostic

__all__ = [
    "ANY_V4",
    "ANY_V6",
    "Balancer",
    "EstateIndex",
    "HostInfo",
    "Net",
    "covers_all_global",
    "global_part",
    "is_global",
    "note",
    "span",
]

Net = ipaddress.IPv4Network | ipaddress.IPv6Network
ANY_V4 = ipaddress.ip_network("0.0.0.0/0")
ANY_V6 = ipaddress.ip_network("::/0")

#: Blocks where no internet host stands (RFC 1918, 6598, loopback, link-local,
#: multicast, reserved, unique-local): traffic through an internet gateway never
#: comes from them.
_NOT_GLOBAL: tuple[Net, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/3",
        "::/8",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


def _minus(pieces: list[Net], hole: Net) -> list[Net]:
    out: list[Net] = []
    for p in pieces:
        if p.version != hole.version or not p.overlaps(hole):
            out.append(p)
        elif not p.subnet_of(hole):  # type: ignore[arg-type]
            out.extend(p.address_exclude(hole))  # type: ignore[arg-type]
    return out


def global_part(net: Net) -> list[Net]:
    """The internet (global) addresses of ``net``, as disjoint blocks."""
    return list(_global_part(net))


@functools.lru_cache(maxsize=4096)
def _global_part(net: Net) -> tuple[Net, ...]:
    # Cached: an estate names few distinct blocks, each in many rules (a third
    # of a 2,500-instance import went to recomputing them).
    rest: list[Net] = [net]
    for hole in _NOT_GLOBAL:
        rest = _minus(rest, hole)
    return tuple(rest)


def is_global(net: Net) -> bool:
    """Whether ``net`` holds some internet address.

    >>> is_global(ipaddress.ip_network("10.0.0.0/8")), is_global(ANY_V4)
    (False, True)
    """
    return bool(global_part(net))


def covers_all_global(net: Net) -> bool:
    """Whether ``net`` holds every internet address of its family."""
    whole = ANY_V4 if net.version == 4 else ANY_V6
    return global_part(net) == global_part(whole) or net.prefixlen == 0


#: ``InterfaceType`` values of load balancers' interfaces (an ALB's or a classic
#: ELB's are ``interface``, told by their ``RequesterId``, ``amazon-elb``).
_LB_TYPES = frozenset({"network_load_balancer", "gateway_load_balancer"})


def note(source: Source, message: str) -> Diagnostic:
    """A warning at ``source``."""
    return Diagnostic(source.path, source.line, source.column, "warning", message)


@dataclass
class HostInfo:
    """A host of the estate as the compiler sees it.

    ``blocks``: its private addresses, each a one-address block, or, where the
    dump gives none (an RDS instance), its subnet's blocks: an address somewhere
    in there.  ``public_v4``: it has a public IPv4 address (or is a publicly
    accessible RDS instance); ``v6``: it has an IPv6 address.
    """

    id: str
    kind: Literal["instance", "rds"]
    subnet: str
    vpc: str | None
    groups: tuple[str, ...]
    blocks: tuple[Net, ...]
    tags: Labels
    source: Source
    name: str
    public_v4: bool = False
    v6: bool = False
    ports: tuple[int, ...] = ()
    exposed: set[int] = field(default_factory=set)

    @cached_property
    def spans(self) -> tuple[tuple[int, int, int], ...]:
        """Its blocks as (version, first, last) integers (compared fast)."""
        return tuple(span(b) for b in self.blocks)

    def any_in(self, net: Net) -> bool:
        """Whether some address of the host may lie in ``net``."""
        v, lo, hi = span(net)
        return any(bv == v and blo <= hi and bhi >= lo for bv, blo, bhi in self.spans)

    def all_in(self, net: Net) -> bool:
        """Whether every address of the host lies in ``net``."""
        v, lo, hi = span(net)
        return bool(self.spans) and all(
            bv == v and lo <= blo and bhi <= hi for bv, blo, bhi in self.spans
        )


@dataclass
class Balancer:
    """A load balancer, from its interfaces (``RequesterId`` ``amazon-elb``, or an
    NLB's or GWLB's type): ``name`` its interfaces' ``Description``; ``eni`` and
    ``source`` its first interface's; ``blocks`` their private addresses (one-address
    blocks); ``public_subnets`` the subnets of those with a public IPv4 address;
    ``exposed``: one of them routes the internet to an internet gateway."""

    name: str
    eni: str
    source: Source
    groups: tuple[str, ...]
    blocks: tuple[Net, ...]
    subnets: tuple[str, ...]
    public_subnets: tuple[str, ...]
    exposed: bool = False
    #: Per interface: its subnet and its private addresses (one-address blocks;
    #: a balancer whose addresses are unknown: its subnet's blocks).
    enis: tuple[tuple[str, tuple[Net, ...]], ...] = ()
    #: Its targets may see its clients' addresses (an NLB's or a GWLB's: client
    #: IP preservation), not only its own.
    client_ip: bool = False
    #: Its targets (host ids) and their ports, when known (a plan's target group
    #: attachments); ``None``: every host that could be one.
    targets: tuple[tuple[str, PortRange | None], ...] | None = None
    #: The ports its listeners take (``None``: unknown, every port).
    listener_ports: tuple[PortRange, ...] | None = None
    #: How its note names it (a plan's: ``aws_lb.api (internal-api)``); empty: by
    #: its first interface.
    subject: str = ""
    #: Why its targets are not known (a plan's), for its note.
    why: str = ""


def span(net: Net) -> tuple[int, int, int]:
    """``net`` as (version, first address, last address) integers."""
    return net.version, int(net.network_address), int(net.broadcast_address)


class EstateIndex:
    """The estate's hosts, subnets, ACLs, route tables and memberships."""

    def __init__(self, estate: Estate) -> None:
        self.estate = estate
        self.notes: list[Diagnostic] = []
        self.subnets: dict[str, Subnet] = {}
        for s in estate.subnets:
            self.subnets.setdefault(s.id, s)
        self.groups: dict[str, SecurityGroup] = {}
        for group in estate.security_groups:
            self.groups.setdefault(group.id, group)
        self.hosts: list[HostInfo] = []
        self._instances()
        self._databases()
        #: Load balancers (their interfaces are no host), in the dump's order.
        self.balancers: list[Balancer] = []
        self._load_balancers()
        self._planned_balancers()
        self.hosts.sort(key=lambda h: h.id)
        #: What the compiler works out once for both drafts (load balancers' sources).
        self.memo: dict[str, object] = {}
        self.host_ids = {h.id for h in self.hosts}
        #: Subnet ids: those dumped and those a host stands in, sorted.
        self.subnet_ids = sorted({*self.subnets, *(h.subnet for h in self.hosts)})
        self._populated = {h.subnet for h in self.hosts}
        self.members: dict[str, list[HostInfo]] = {}
        for h in self.hosts:
            for g in h.groups:
                self.members.setdefault(g, []).append(h)
        self.acl_of = self._acls()
        self.table_of = self._tables()
        self.gateways = self._gateways()
        self.prefix_lists = {p.id: p for p in estate.prefix_lists}
        for h in self.hosts:
            self._expose(h)
        self._tell_balancers()

    # -- hosts -------------------------------------------------------------------

    def _instances(self) -> None:
        for inst in self.estate.instances:
            enis = list(inst.interfaces)
            known = {e.id for e in enis}
            enis += [
                e
                for e in self.estate.network_interfaces
                if e.instance_id == inst.id and e.id not in known
            ]
            subnet = (enis[0].subnet_id if enis else inst.subnet_id) or None
            if subnet is None:
                self.notes.append(
                    note(inst.source, f"instance {inst.id} is in no subnet (no VPC): left out")
                )
                continue
            blocks = []
            for e in enis:
                for ip in (*e.private_ips, *e.ipv6_ips):
                    net = ipaddress.ip_network(ip)
                    if net not in blocks:
                        blocks.append(net)
            if not blocks:
                blocks = self._subnet_blocks(subnet)
            groups = tuple(sorted({g for e in enis for g in e.group_ids}))
            public = inst.public_ip is not None or any(e.public_ip for e in enis)
            name = dict(inst.tags).get("Name", "")
            self.hosts.append(
                HostInfo(
                    inst.id, "instance", subnet, inst.vpc_id or enis[0].vpc_id if enis else None,
                    groups, tuple(blocks), inst.tags, inst.source, name, public,
                    any(e.ipv6_ips for e in enis),
                )
            )  # fmt: skip
            if len(enis) > 1:
                self.notes.append(note(inst.source, (
                    f"instance {inst.id} has {len(enis)} network interfaces: it is one host "
                    f"in subnet {subnet} (its primary's), with the security groups of all of "
                    "them; a rule naming any of its addresses applies to it"
                )))  # fmt: skip

    def _load_balancers(self) -> None:
        """A load balancer's interfaces are no host: gathered per balancer (its
        ``Description``, else the interface id), in the dump's order."""
        found: dict[str, list[NetworkInterface]] = {}
        for e in self.estate.network_interfaces:
            elb = e.requester_id == "amazon-elb" or e.interface_type in _LB_TYPES
            if e.instance_id is None and elb:
                found.setdefault(e.description or e.id, []).append(e)
        for name, enis in found.items():
            nets = [ipaddress.ip_network(ip) for e in enis for ip in (*e.private_ips, *e.ipv6_ips)]
            groups = tuple(sorted({g for e in enis for g in e.group_ids}))
            subnets = tuple(sorted({e.subnet_id for e in enis}))
            per_eni = tuple(
                (e.subnet_id, tuple(ipaddress.ip_network(ip) for ip in (*e.private_ips,
                                                                        *e.ipv6_ips)))
                for e in enis
            )  # fmt: skip
            self.balancers.append(
                Balancer(name, enis[0].id, enis[0].source, groups, tuple(nets), subnets,
                         tuple(sorted({e.subnet_id for e in enis if e.public_ip})),
                         enis=per_eni,
                         client_ip=any(e.interface_type in _LB_TYPES for e in enis))
            )  # fmt: skip

    def _planned_balancers(self) -> None:
        """A plan's load balancers: their addresses are somewhere in their subnets."""
        for lb in self.estate.load_balancers:
            subnets = tuple(sorted(set(lb.subnet_ids)))
            enis = tuple((s, tuple(self._subnet_blocks(s))) for s in subnets)
            self.balancers.append(
                Balancer(lb.name, lb.id, lb.source, tuple(sorted(set(lb.group_ids))),
                         tuple(b for _, blocks in enis for b in blocks), subnets,
                         () if lb.internal else subnets, enis=enis,
                         client_ip=lb.lb_type in ("network", "gateway"), targets=lb.targets,
                         listener_ports=lb.listener_ports, subject=lb.name,
                         why=lb.unknown_targets)
            )  # fmt: skip

    def _tell_balancers(self) -> None:
        """Say, once per balancer, what is assumed of it (its targets are not in
        the dump: see :mod:`ztsim.inputs.aws.compile_lb` and
        :mod:`ztsim.inputs.aws.compile_lb_hosts`)."""
        for lb in self.balancers:
            lb.exposed = any(4 in self.routed(s) for s in lb.public_subnets)
            clients = (
                "every host that reaches its interfaces (its security groups, the network ACLs "
                "on the way)"
            )
            if lb.exposed:
                clients = (
                    "the internet (it has a public address and a route to an internet gateway) "
                    f"and from {clients}"
                )
            who = f"network interface {lb.eni} ({lb.name}) is a load balancer's"
            if lb.subject:
                who = f"{lb.subject} is a load balancer"
            if lb.targets is not None:
                ids = ", ".join(sorted({h for h, _ in lb.targets})) or "none"
                what = (
                    f"it forwards from {clients} to its targets ({ids}: its target group "
                    "attachments) where their security groups and network ACLs admit it, on "
                    "the ports they admit"
                )
            else:
                what = (
                    f"{lb.why or 'its target groups are not in the dump'}, so it is taken to "
                    f"forward from {clients} to every host whose security groups and network "
                    "ACLs admit its interfaces, on the ports they admit"
                )
            self.notes.append(note(lb.source, f"{who}: ztsim models no host for it; {what}"))

    def _databases(self) -> None:
        for db in self.estate.db_instances:
            subnet = self._db_subnet(db.subnet_ids, db.availability_zone)
            if subnet is None:
                self.notes.append(
                    note(db.source, f"RDS instance {db.id} has no subnet in the dump: left out")
                )
                continue
            port = (db.port,) if db.port else ()
            self.hosts.append(
                HostInfo(
                    db.id, "rds", subnet, db.vpc_id, tuple(sorted(set(db.group_ids))),
                    tuple(self._subnet_blocks(subnet)), db.tags, db.source, db.id,
                    db.publicly_accessible, False, port,
                )
            )  # fmt: skip

    def _db_subnet(self, subnets: tuple[str, ...], zone: str | None) -> str | None:
        """The subnet of the DB subnet group in the instance's availability zone
        (several: the first by id; none known: the group's first)."""
        here = sorted(
            s for s in subnets if s in self.subnets and self.subnets[s].availability_zone == zone
        )
        return here[0] if here else (sorted(subnets)[0] if subnets else None)

    def _subnet_blocks(self, subnet: str) -> list[Net]:
        s = self.subnets.get(subnet)
        if s is None:
            return [ANY_V4]
        out: list[Net] = [ipaddress.ip_network(c) for c in (s.cidr, *s.ipv6_cidrs) if c]
        return out or [ANY_V4]

    # -- subnets -----------------------------------------------------------------

    def _acls(self) -> dict[str, NetworkAcl | None]:
        explicit: dict[str, NetworkAcl] = {}
        default: dict[str, NetworkAcl] = {}
        for acl in self.estate.network_acls:
            for s in acl.subnet_ids:
                explicit.setdefault(s, acl)
            if acl.is_default:
                default.setdefault(acl.vpc_id, acl)
        out: dict[str, NetworkAcl | None] = {}
        for sid in self.subnet_ids:
            found = explicit.get(sid) or default.get(self._vpc_of(sid) or "")
            out[sid] = found
            # A subnet with no host decides no flow: nothing to tell about it.
            if found is None and self.estate.network_acls and sid in self._populated:
                self.notes.append(note(self._where(sid), (
                    f"subnet {sid}: no network ACL read applies to it, nor its VPC's "
                    "default one: taken as allowing everything (as a VPC's default network "
                    "ACL does unless changed)"
                )))  # fmt: skip
        return out

    def _tables(self) -> dict[str, RouteTable | None]:
        explicit: dict[str, RouteTable] = {}
        main: dict[str, RouteTable] = {}
        for t in self.estate.route_tables:
            for s in t.subnet_ids:
                explicit.setdefault(s, t)
            if t.main:
                main.setdefault(t.vpc_id, t)
        out: dict[str, RouteTable | None] = {}
        for sid in self.subnet_ids:
            table = explicit.get(sid) or main.get(self._vpc_of(sid) or "")
            out[sid] = table
            if table is None and self.estate.route_tables and sid in self._populated:
                self.notes.append(note(self._where(sid), (
                    f"subnet {sid}: no route table read applies to it, nor its VPC's "
                    "main one: taken as "
                    "routing everything to an internet gateway"
                )))  # fmt: skip
        return out

    def _gateways(self) -> dict[str, tuple[str, ...]] | None:
        """Internet gateway id -> the VPCs it is attached to (``None``: none dumped)."""
        if not self.estate.internet_gateways:
            return None
        return {g.id: g.vpc_ids for g in self.estate.internet_gateways}

    def _vpc_of(self, subnet: str) -> str | None:
        s = self.subnets.get(subnet)
        if s is not None:
            return s.vpc_id
        return next((h.vpc for h in self.hosts if h.subnet == subnet and h.vpc), None)

    def _where(self, subnet: str) -> Source:
        s = self.subnets.get(subnet)
        if s is not None:
            return s.source
        return next(h.source for h in self.hosts if h.subnet == subnet)

    # -- routes and exposure -------------------------------------------------------

    def to_internet(self, route: Route, vpc: str | None) -> bool:
        """Whether ``route`` sends to an internet gateway attached to ``vpc`` (any
        ``igw-`` when no gateway was dumped).  A gateway a Terraform plan creates
        is ``<ADDRESS.id>``: one of the plan's internet gateways, or, when it is
        no gateway the plan holds, possibly one (conservative)."""
        gw = route.gateway_id or ""
        if route.state != "active" or not gw.startswith(("igw-", "<")):
            return False
        if gw.startswith("<") and (self.gateways is None or gw not in self.gateways):
            return True
        return self.gateways is None or vpc is None or vpc in self.gateways.get(gw, ())

    def route_blocks(self, route: Route) -> list[Net]:
        """The blocks a route's destination names (a prefix list's entries; one
        whose entries are unknown: every address of its family)."""
        dest = route.destination
        if "/" in dest:
            return [ipaddress.ip_network(dest)]
        pl = self.prefix_lists.get(dest)
        if pl is None or pl.cidrs is None:
            v6 = pl is not None and pl.address_family == "IPv6"
            return [ANY_V6 if v6 else ANY_V4]
        return [ipaddress.ip_network(c) for c in pl.cidrs]

    def routed(self, subnet: str) -> set[int]:
        """The families (4, 6) whose internet addresses ``subnet`` routes to an
        internet gateway (no route table known: both)."""
        table = self.table_of.get(subnet)
        routed: set[int] = set()
        if table is None:
            return {4, 6}
        for r in table.routes:
            if self.to_internet(r, table.vpc_id):
                routed |= {b.version for b in self.route_blocks(r) if is_global(b)}
        return routed

    def _expose(self, h: HostInfo) -> None:
        """Which families (4, 6) reach ``h`` from the internet: a public address of
        the family and a route of the subnet to an internet gateway for internet
        addresses of it."""
        routed = self.routed(h.subnet)
        if h.public_v4 and 4 in routed:
            h.exposed.add(4)
        if h.v6 and 6 in routed:
            h.exposed.add(6)
