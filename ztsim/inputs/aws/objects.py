"""The AWS objects ztsim reads, as frozen, typed values (issue 28).

Both readers build them: the ``describe-*`` JSON reader
(:mod:`ztsim.inputs.aws.describe`) and the Terraform reader
(:mod:`ztsim.inputs.aws.terraform`); the compiler
(:mod:`ztsim.inputs.aws.compile`) reads only these.  Each keeps the FILE:LINE:COL
of the JSON object it comes from (:class:`Source`, shared with the Kubernetes
import), so a verdict can say "denied by network ACL acl-1 entry 100 (in) at
aws/acls.json:12".  Tag sets are sorted tuples of pairs, like Kubernetes labels.

Conventions the compiler relies on:

- Ids are AWS's (``vpc-...``, ``sg-...``); a Terraform value unknown until apply
  is the resource address in angle brackets (``<aws_subnet.a.id>``), which no
  AWS id looks like, and its reader notes it.
- Protocols are as AWS writes them, lower case: ``"-1"`` (every protocol),
  ``tcp``, ``udp``, ``icmp``, ``icmpv6`` or a protocol number as a string
  (``"6"`` is kept as given; the compiler maps numbers to names).
- A port range is inclusive; ``None`` means every port (``-1`` protocols, and
  what AWS prints as ``FromPort``/``ToPort`` absent).  ICMP type and code are not
  ports: rules for ICMP keep them in :attr:`SgRule.icmp` and ztsim does not judge
  ICMP flows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ztsim.inputs.k8s.objects import Labels, Source, label_map
from ztsim.model.diagnostics import Diagnostic

__all__ = [
    "AclEntry",
    "DbInstance",
    "Estate",
    "Instance",
    "InternetGateway",
    "Labels",
    "LoadBalancer",
    "NetworkAcl",
    "NetworkInterface",
    "PeerKind",
    "PortRange",
    "PrefixList",
    "Route",
    "RouteTable",
    "SecurityGroup",
    "SgPeer",
    "SgRule",
    "Source",
    "Subnet",
    "Vpc",
    "label_map",
]

#: An inclusive port range ``(low, high)``.
PortRange = tuple[int, int]
#: What a security group rule's peer names.
PeerKind = Literal["cidr", "group", "prefix-list"]


@dataclass(frozen=True)
class Vpc:
    """A VPC: its IPv4 and IPv6 blocks."""

    id: str
    cidrs: tuple[str, ...]
    tags: Labels
    source: Source
    is_default: bool = False


@dataclass(frozen=True)
class Subnet:
    """A subnet of ``vpc_id``: ``cidr`` (IPv4, ``None`` for an IPv6-only subnet)
    and its IPv6 blocks."""

    id: str
    vpc_id: str
    cidr: str | None
    tags: Labels
    source: Source
    ipv6_cidrs: tuple[str, ...] = ()
    availability_zone: str | None = None
    #: ``MapPublicIpOnLaunch``: instances launched here get a public address.
    map_public_ip: bool = False


@dataclass(frozen=True)
class NetworkInterface:
    """An ENI: the member of security groups (an instance is a member through its
    interfaces).  ``public_ip`` is its public (or Elastic) IPv4 address, if any;
    ``instance_id`` the instance it is attached to, if any."""

    id: str
    subnet_id: str
    group_ids: tuple[str, ...]
    private_ips: tuple[str, ...]
    source: Source
    vpc_id: str | None = None
    public_ip: str | None = None
    ipv6_ips: tuple[str, ...] = ()
    instance_id: str | None = None
    #: ``InterfaceType`` (``interface``, ``network_load_balancer``, ...).
    interface_type: str = "interface"
    description: str = ""
    #: ``RequesterId`` of a managed interface (``amazon-rds``, ``amazon-elb``).
    requester_id: str | None = None
    tags: Labels = ()


@dataclass(frozen=True)
class Instance:
    """An EC2 instance; its interfaces as ``describe-instances`` lists them (the
    primary, ``DeviceIndex`` 0, first).  ``public_ip``: the instance's public IPv4
    address (the primary interface's)."""

    id: str
    subnet_id: str | None
    vpc_id: str | None
    interfaces: tuple[NetworkInterface, ...]
    tags: Labels
    source: Source
    state: str = "running"
    private_ip: str | None = None
    public_ip: str | None = None

    @property
    def group_ids(self) -> tuple[str, ...]:
        """The security groups of all its interfaces, sorted, each once."""
        return tuple(sorted({g for eni in self.interfaces for g in eni.group_ids}))

    @property
    def name(self) -> str | None:
        """Its ``Name`` tag, if any."""
        return label_map(self.tags).get("Name")


@dataclass(frozen=True)
class SgPeer:
    """One peer of a security group rule: a CIDR block (IPv4 or IPv6), a security
    group (``group``: its id; a self reference names the rule's own group) or a
    managed prefix list (``prefix-list``: its id)."""

    kind: PeerKind
    value: str
    description: str = ""


@dataclass(frozen=True)
class SgRule:
    """A security group rule: one ``IpPermissions`` entry (or one
    ``describe-security-group-rules`` rule, or one Terraform rule resource).

    ``name`` is how a verdict names it after the group id: ``ingress[0]`` (the
    entry's index in the dump), a rule id (``sgr-...``) or a Terraform address.
    ``ports`` ``None``: every port.  ``peers``: the entry's ranges, groups and
    prefix lists, in the dump's order (a rule allows from / to any of them).
    """

    direction: Literal["ingress", "egress"]
    protocol: str
    ports: PortRange | None
    peers: tuple[SgPeer, ...]
    name: str
    source: Source
    #: ICMP ``(type, code)`` for ``icmp``/``icmpv6`` rules (``-1``: any).
    icmp: tuple[int, int] | None = None


@dataclass(frozen=True)
class SecurityGroup:
    """A security group: stateful, allow-only; ``ingress`` and ``egress`` rules."""

    id: str
    name: str
    vpc_id: str | None
    ingress: tuple[SgRule, ...]
    egress: tuple[SgRule, ...]
    tags: Labels
    source: Source
    description: str = ""
    #: The Terraform resource address (``aws_security_group.app``), when read from a plan.
    address: str | None = None


@dataclass(frozen=True)
class AclEntry:
    """A network ACL entry.  ``cidr`` is IPv4 or IPv6; ``ports`` ``None``: every
    port (also what AWS means by a ``-1`` protocol)."""

    rule_number: int
    egress: bool
    action: Literal["allow", "deny"]
    protocol: str
    cidr: str
    ports: PortRange | None
    source: Source
    #: ICMP ``(type, code)`` for ICMP entries.
    icmp: tuple[int, int] | None = None
    #: How a verdict names it (a Terraform address; ``None``: its rule number).
    name: str | None = None


@dataclass(frozen=True)
class NetworkAcl:
    """A network ACL and the subnets associated with it.  ``entries`` as dumped
    (the compiler orders them by rule number, per direction; the ``*`` rule 32767
    is AWS's implicit deny and need not be listed)."""

    id: str
    vpc_id: str
    subnet_ids: tuple[str, ...]
    entries: tuple[AclEntry, ...]
    tags: Labels
    source: Source
    is_default: bool = False
    #: The Terraform resource address (``aws_network_acl.db``), when read from a plan.
    address: str | None = None


@dataclass(frozen=True)
class Route:
    """A route: a destination (IPv4, IPv6 block or prefix list id) and its target
    (``gateway_id``: ``igw-...``, ``local``, a virtual private gateway; or
    ``target``: another kind, ``nat-...``, ``pcx-...``, ``eigw-...``, ...)."""

    destination: str
    source: Source
    gateway_id: str | None = None
    target: str | None = None
    #: ``active`` or ``blackhole``.
    state: str = "active"


@dataclass(frozen=True)
class RouteTable:
    """A route table: its routes, the subnets associated explicitly, and whether it
    is its VPC's main table (which serves every subnet without an association)."""

    id: str
    vpc_id: str
    routes: tuple[Route, ...]
    subnet_ids: tuple[str, ...]
    main: bool
    tags: Labels
    source: Source


@dataclass(frozen=True)
class InternetGateway:
    """An internet gateway and the VPCs it is attached to."""

    id: str
    vpc_ids: tuple[str, ...]
    tags: Labels
    source: Source


@dataclass(frozen=True)
class PrefixList:
    """A managed prefix list.  ``cidrs`` ``None``: its entries were not dumped
    (``get-managed-prefix-list-entries``), so the compiler takes it as every
    address of its family, and notes it."""

    id: str
    name: str
    address_family: Literal["IPv4", "IPv6"]
    cidrs: tuple[str, ...] | None
    source: Source


@dataclass(frozen=True)
class DbInstance:
    """An RDS instance.  ``subnet_ids``: its DB subnet group's; the compiler places
    it in the one of its availability zone.  ``port`` ``None`` when unknown."""

    id: str
    engine: str
    port: int | None
    publicly_accessible: bool
    vpc_id: str | None
    subnet_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    tags: Labels
    source: Source
    availability_zone: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class LoadBalancer:
    """A load balancer read from a Terraform plan (``aws_lb``, ``aws_alb``); a
    dump's are told by their network interfaces instead.

    Its addresses are not in a plan: they are somewhere in its subnets.
    ``targets``: the hosts (ids) its listeners forward to and each one's port
    (``None``: every port), from the target group attachments; ``None`` when
    they are not all known (then every host that could be one is taken).
    ``listener_ports``: the ports its listeners take (``None``: unknown).
    """

    id: str
    name: str
    internal: bool
    #: ``application``, ``network`` or ``gateway``.
    lb_type: str
    subnet_ids: tuple[str, ...]
    group_ids: tuple[str, ...]
    source: Source
    targets: tuple[tuple[str, PortRange | None], ...] | None = None
    listener_ports: tuple[PortRange, ...] | None = None
    #: Why ``targets`` is ``None`` (said in the import's note).
    unknown_targets: str = ""


@dataclass(frozen=True)
class Estate:
    """Everything read from a set of dumps (or a Terraform plan), in file order.

    ``notes``: warnings (shapes skipped, values read leniently), each at its place.
    """

    files: tuple[str, ...]
    vpcs: tuple[Vpc, ...] = ()
    subnets: tuple[Subnet, ...] = ()
    instances: tuple[Instance, ...] = ()
    network_interfaces: tuple[NetworkInterface, ...] = ()
    security_groups: tuple[SecurityGroup, ...] = ()
    network_acls: tuple[NetworkAcl, ...] = ()
    route_tables: tuple[RouteTable, ...] = ()
    internet_gateways: tuple[InternetGateway, ...] = ()
    prefix_lists: tuple[PrefixList, ...] = ()
    db_instances: tuple[DbInstance, ...] = ()
    notes: tuple[Diagnostic, ...] = ()
    load_balancers: tuple[LoadBalancer, ...] = ()
