"""Read ``aws ec2 describe-*`` and ``aws rds describe-db-instances`` JSON (issue 28, point 1).

:func:`read_describe` takes files and directories (read recursively, their
``.json`` files in sorted order) of the JSON the AWS CLI prints, one call per
file, any names: what a file holds is told by its top-level key
(:data:`TOP_LEVEL_KEYS`).  ``get-managed-prefix-list-entries`` prints only
``Entries``: its prefix list is the ``pl-...`` id in the file's name.

Every object keeps its FILE:LINE:COL.  A malformed file (bad JSON, an unknown
top-level key, a field of the wrong type, a required id missing) raises
:class:`~ztsim.model.diagnostics.InputError` with every problem found, each at
its place: nothing is read from a set of files with one problem.  Fields ztsim
does not use are ignored (the CLI prints many).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ztsim.inputs.aws.describe_fields import AwsFields
from ztsim.inputs.aws.objects import (
    AclEntry,
    DbInstance,
    Estate,
    Instance,
    InternetGateway,
    NetworkAcl,
    NetworkInterface,
    PrefixList,
    Route,
    RouteTable,
    SecurityGroup,
    SgPeer,
    SgRule,
    Subnet,
    Vpc,
)
from ztsim.inputs.collector import Collector, Loc
from ztsim.inputs.k8s.stream import expand_paths, located, read_stream
from ztsim.inputs.positions import Document, YamlInputError
from ztsim.model.diagnostics import Diagnostic, InputError

__all__ = ["IGNORED_KEYS", "TOP_LEVEL_KEYS", "read_describe"]

#: Top-level key -> the call that prints it.
TOP_LEVEL_KEYS = {
    "Vpcs": "aws ec2 describe-vpcs",
    "Subnets": "aws ec2 describe-subnets",
    "Reservations": "aws ec2 describe-instances",
    "NetworkInterfaces": "aws ec2 describe-network-interfaces",
    "SecurityGroups": "aws ec2 describe-security-groups",
    "NetworkAcls": "aws ec2 describe-network-acls",
    "RouteTables": "aws ec2 describe-route-tables",
    "InternetGateways": "aws ec2 describe-internet-gateways",
    "PrefixLists": "aws ec2 describe-managed-prefix-lists",
    "Entries": "aws ec2 get-managed-prefix-list-entries",
    "DBInstances": "aws rds describe-db-instances",
}
#: Top-level keys that carry no object (paging, request metadata).
IGNORED_KEYS = frozenset({"NextToken", "Marker", "ResponseMetadata"})
#: A prefix list id in a file name.
_PREFIX_LIST_ID = re.compile(r"pl-[0-9a-zA-Z]+")
#: Instances in these states have no network presence (and never will again).
_GONE = ("terminated", "shutting-down")


class _Read:
    """What the files hold so far, per kind, in the order read."""

    def __init__(self) -> None:
        self.vpcs: list[Vpc] = []
        self.subnets: list[Subnet] = []
        self.instances: list[Instance] = []
        self.interfaces: list[NetworkInterface] = []
        self.groups: list[SecurityGroup] = []
        self.acls: list[NetworkAcl] = []
        self.tables: list[RouteTable] = []
        self.gateways: list[InternetGateway] = []
        self.lists: list[PrefixList] = []
        self.entries: dict[str, tuple[tuple[str, ...], Loc, AwsFields]] = {}
        self.dbs: list[DbInstance] = []
        self.notes: list[Diagnostic] = []


def read_describe(paths: Iterable[str | Path]) -> Estate:
    """The AWS objects of the ``describe-*`` JSON files under ``paths``.

    Raises
    ------
    InputError
        With every problem found, each at its FILE:LINE:COL.
    """
    files, problems = expand_paths(paths)
    files = [f for f in files if Path(f).suffix.lower() == ".json" or f == "-"]
    read = _Read()
    for name in files:
        try:
            parts = read_stream(name)
        except YamlInputError as exc:
            problems.append(located(exc))
            continue
        for part in parts:
            col = Collector(part.doc)
            _read_document(AwsFields(part.doc, col), part.doc, read)
            problems.extend(d for d in col.items if d.level == "error")
            read.notes.extend(d for d in col.items if d.level == "warning")
    if not files and not problems:
        problems.append(Diagnostic(_first(paths), 1, 1, "error", "no .json file found"))
    prefix_lists = _merge_entries(read, problems)
    if problems:
        raise InputError(problems)
    return Estate(
        files=tuple(files),
        vpcs=tuple(read.vpcs),
        subnets=tuple(read.subnets),
        instances=tuple(read.instances),
        network_interfaces=tuple(read.interfaces),
        security_groups=tuple(read.groups),
        network_acls=tuple(read.acls),
        route_tables=tuple(read.tables),
        internet_gateways=tuple(read.gateways),
        prefix_lists=prefix_lists,
        db_instances=tuple(read.dbs),
        notes=tuple(read.notes),
    )


def _first(paths: Iterable[str | Path]) -> str:
    return next((str(p) for p in paths), "<command line>")


def _read_document(f: AwsFields, doc: Document, read: _Read) -> None:
    data = doc.data
    if not isinstance(data, dict):
        f.error((), "an AWS CLI output must be a JSON object (one describe-* call per file)")
        return
    readers: dict[str, Callable[[AwsFields, dict[str, Any], Loc, _Read], None]] = {
        "Vpcs": _vpc,
        "Subnets": _subnet,
        "Reservations": _reservation,
        "NetworkInterfaces": _interface_entry,
        "SecurityGroups": _group,
        "NetworkAcls": _acl,
        "RouteTables": _table,
        "InternetGateways": _gateway,
        "PrefixLists": _prefix_list,
        "DBInstances": _db,
    }
    known = [k for k in data if k in TOP_LEVEL_KEYS]
    for key in data:
        if key in IGNORED_KEYS or key in TOP_LEVEL_KEYS:
            continue
        listed = ", ".join(sorted(TOP_LEVEL_KEYS))
        f.error((key,), f"unknown top-level key {str(key)!r}: ztsim reads {listed}", key=True)
    if not known and not data:
        f.error((), "an empty JSON object: no describe-* output")
    for key in known:
        if key == "Entries":
            _prefix_entries(f, doc, data, read)
            continue
        for loc, item in f.items(data, key, ()):
            readers[key](f, item, loc, read)


# -- one reader per kind ------------------------------------------------------------


def _vpc(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    vid = f.string(obj, "VpcId", loc, required=True)
    cidrs: list[str] = []
    main = f.cidr(obj, "CidrBlock", loc)
    if main is not None:
        cidrs.append(main)
    for aloc, assoc in f.items(obj, "CidrBlockAssociationSet", loc):
        block = f.cidr(assoc, "CidrBlock", aloc)
        if block is not None and block not in cidrs:
            cidrs.append(block)
    for aloc, assoc in f.items(obj, "Ipv6CidrBlockAssociationSet", loc):
        block = f.cidr(assoc, "Ipv6CidrBlock", aloc)
        if block is not None and block not in cidrs:
            cidrs.append(block)
    if vid is not None:
        default = f.flag(obj, "IsDefault", loc)
        read.vpcs.append(Vpc(vid, tuple(cidrs), f.tags(obj, loc), f.source(loc), default))


def _subnet(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    sid = f.string(obj, "SubnetId", loc, required=True)
    vpc = f.string(obj, "VpcId", loc, required=True)
    cidr = f.cidr(obj, "CidrBlock", loc)
    v6 = [
        block
        for aloc, assoc in f.items(obj, "Ipv6CidrBlockAssociationSet", loc)
        if (block := f.cidr(assoc, "Ipv6CidrBlock", aloc)) is not None
    ]
    if sid is None or vpc is None:
        return
    read.subnets.append(
        Subnet(
            sid,
            vpc,
            cidr,
            f.tags(obj, loc),
            f.source(loc),
            tuple(v6),
            f.string(obj, "AvailabilityZone", loc),
            f.flag(obj, "MapPublicIpOnLaunch", loc),
        )
    )


def _reservation(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    for iloc, inst in f.items(obj, "Instances", loc):
        _instance(f, inst, iloc, read)


def _instance(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    iid = f.string(obj, "InstanceId", loc, required=True)
    state = f.string(f.mapping(obj, "State", loc), "Name", (*loc, "State")) or "running"
    subnet = f.string(obj, "SubnetId", loc)
    vpc = f.string(obj, "VpcId", loc)
    private_ip = f.address(obj, "PrivateIpAddress", loc)
    public_ip = f.address(obj, "PublicIpAddress", loc)
    enis = [
        eni
        for eloc, item in f.items(obj, "NetworkInterfaces", loc)
        if (eni := _interface(f, item, eloc, iid, subnet)) is not None
    ]
    enis.sort(key=lambda e: e[0])
    interfaces = [eni for _, eni in enis]
    if not interfaces and subnet is not None and iid is not None:
        # No interfaces listed: the instance's own fields stand for its primary.
        groups = _group_ids(f, obj, "SecurityGroups", loc)
        ips = (private_ip,) if private_ip else ()
        interfaces = [
            NetworkInterface(
                f"{iid}/eth0", subnet, groups, ips, f.source(loc), vpc, public_ip, instance_id=iid
            )
        ]
    if iid is None:
        return
    if state in _GONE:
        return
    read.instances.append(
        Instance(
            iid,
            subnet,
            vpc,
            tuple(interfaces),
            f.tags(obj, loc),
            f.source(loc),
            state,
            private_ip,
            public_ip,
        )
    )


def _interface_entry(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    found = _interface(f, obj, loc, None, None)
    if found is not None:
        read.interfaces.append(found[1])


def _interface(
    f: AwsFields, obj: dict[str, Any], loc: Loc, instance: str | None, subnet: str | None
) -> tuple[int, NetworkInterface] | None:
    """An ENI (of ``describe-network-interfaces``, or of an instance) and its device index."""
    eid = f.string(obj, "NetworkInterfaceId", loc, required=True)
    sub = f.string(obj, "SubnetId", loc, required=subnet is None) or subnet
    attachment = f.mapping(obj, "Attachment", loc)
    index = f.get(attachment, "DeviceIndex", (*loc, "Attachment"), int)
    instance = instance or f.string(attachment, "InstanceId", (*loc, "Attachment"))
    ips: list[str] = []
    public = f.address(f.mapping(obj, "Association", loc), "PublicIp", (*loc, "Association"))
    main = f.address(obj, "PrivateIpAddress", loc)
    if main is not None:
        ips.append(main)
    for ploc, item in f.items(obj, "PrivateIpAddresses", loc):
        ip = f.address(item, "PrivateIpAddress", ploc)
        if ip is not None and ip not in ips:
            ips.append(ip)
        secondary = f.address(f.mapping(item, "Association", ploc), "PublicIp", ploc)
        if public is None:
            public = secondary
    v6 = [
        ip
        for aloc, item in f.items(obj, "Ipv6Addresses", loc)
        if (ip := f.address(item, "Ipv6Address", aloc)) is not None
    ]
    if eid is None or sub is None:
        return None
    tags = f.tags(obj, loc, "TagSet") or f.tags(obj, loc)
    eni = NetworkInterface(
        eid,
        sub,
        _group_ids(f, obj, "Groups", loc),
        tuple(ips),
        f.source(loc),
        f.string(obj, "VpcId", loc),
        public,
        tuple(v6),
        instance,
        f.string(obj, "InterfaceType", loc) or "interface",
        f.get(obj, "Description", loc, str) or "",
        f.string(obj, "RequesterId", loc),
        tags,
    )
    return (index if index is not None else 0), eni


def _group_ids(f: AwsFields, obj: dict[str, Any], key: str, loc: Loc) -> tuple[str, ...]:
    out = []
    for gloc, g in f.items(obj, key, loc):
        gid = f.string(g, "GroupId", gloc, required=True)
        if gid is not None and gid not in out:
            out.append(gid)
    return tuple(out)


def _group(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    gid = f.string(obj, "GroupId", loc, required=True)
    ingress = _permissions(f, obj, "IpPermissions", loc, "ingress", gid)
    egress = _permissions(f, obj, "IpPermissionsEgress", loc, "egress", gid)
    if gid is None:
        return
    read.groups.append(
        SecurityGroup(
            gid,
            f.get(obj, "GroupName", loc, str) or "",
            f.string(obj, "VpcId", loc),
            ingress,
            egress,
            f.tags(obj, loc),
            f.source(loc),
            f.get(obj, "Description", loc, str) or "",
        )
    )


def _permissions(
    f: AwsFields, obj: dict[str, Any], key: str, loc: Loc, direction: str, gid: str | None
) -> tuple[SgRule, ...]:
    out = []
    for i, (ploc, perm) in enumerate(f.items(obj, key, loc)):
        protocol = f.protocol(perm, "IpProtocol", ploc)
        ports, icmp = f.ports(perm, protocol, ploc)
        peers: list[SgPeer] = []
        for rloc, r in f.items(perm, "IpRanges", ploc):
            _peer(f, peers, "cidr", f.cidr(r, "CidrIp", rloc, required=True), r, rloc)
        for rloc, r in f.items(perm, "Ipv6Ranges", ploc):
            _peer(f, peers, "cidr", f.cidr(r, "CidrIpv6", rloc, required=True), r, rloc)
        for rloc, r in f.items(perm, "PrefixListIds", ploc):
            _peer(
                f, peers, "prefix-list", f.string(r, "PrefixListId", rloc, required=True), r, rloc
            )
        for rloc, r in f.items(perm, "UserIdGroupPairs", ploc):
            _peer(f, peers, "group", f.string(r, "GroupId", rloc, required=True), r, rloc)
        if protocol is None or gid is None:
            continue
        out.append(
            SgRule(
                "ingress" if direction == "ingress" else "egress",
                protocol,
                ports,
                tuple(peers),
                f"{direction}[{i}]",
                f.source(ploc),
                icmp,
            )
        )
    return tuple(out)


def _peer(
    f: AwsFields, peers: list[SgPeer], kind: Any, value: str | None, obj: dict[str, Any], loc: Loc
) -> None:
    if value is not None:
        peers.append(SgPeer(kind, value, f.get(obj, "Description", loc, str) or ""))


def _acl(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    aid = f.string(obj, "NetworkAclId", loc, required=True)
    vpc = f.string(obj, "VpcId", loc, required=True)
    subnets = tuple(
        s
        for aloc, a in f.items(obj, "Associations", loc)
        if (s := f.string(a, "SubnetId", aloc, required=True)) is not None
    )
    entries = []
    for eloc, e in f.items(obj, "Entries", loc):
        entry = _acl_entry(f, e, eloc)
        if entry is not None:
            entries.append(entry)
    if aid is None or vpc is None:
        return
    default = f.flag(obj, "IsDefault", loc)
    read.acls.append(
        NetworkAcl(aid, vpc, subnets, tuple(entries), f.tags(obj, loc), f.source(loc), default)
    )


def _acl_entry(f: AwsFields, e: dict[str, Any], loc: Loc) -> AclEntry | None:
    number = f.get(e, "RuleNumber", loc, int, required=True)
    if number is not None and not 1 <= number <= 32767:
        f.error((*loc, "RuleNumber"), f"'RuleNumber' must be between 1 and 32767, not {number}")
        number = None
    egress = f.get(e, "Egress", loc, bool, required=True)
    action = f.choice(e, "RuleAction", loc, ("allow", "deny"), None)
    protocol = f.protocol(e, "Protocol", loc)
    v4, v6 = f.cidr(e, "CidrBlock", loc), f.cidr(e, "Ipv6CidrBlock", loc)
    if (v4 is None) == (v6 is None) and "CidrBlock" not in e and "Ipv6CidrBlock" not in e:
        f.error(loc, "an entry needs 'CidrBlock' or 'Ipv6CidrBlock'")
    cidr = v4 or v6
    ports, icmp = f.acl_ports(e, protocol, loc)
    if None in (number, egress, action, protocol, cidr):
        return None
    assert number is not None and egress is not None and cidr is not None and protocol
    return AclEntry(
        number, egress, "allow" if action == "allow" else "deny", protocol, cidr, ports,
        f.source(loc), icmp,
    )  # fmt: skip


def _table(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    tid = f.string(obj, "RouteTableId", loc, required=True)
    vpc = f.string(obj, "VpcId", loc, required=True)
    subnets: list[str] = []
    main = False
    for aloc, a in f.items(obj, "Associations", loc):
        main = main or bool(f.flag(a, "Main", aloc))
        sub = f.string(a, "SubnetId", aloc)
        if sub is not None:
            subnets.append(sub)
    routes = []
    for rloc, r in f.items(obj, "Routes", loc):
        dest = (
            f.cidr(r, "DestinationCidrBlock", rloc)
            or f.cidr(r, "DestinationIpv6CidrBlock", rloc)
            or f.string(r, "DestinationPrefixListId", rloc)
        )
        if dest is None:
            f.error(rloc, "a route needs a destination (DestinationCidrBlock, ...)")
            continue
        gateway = f.string(r, "GatewayId", rloc)
        target = next(
            (t for key in _ROUTE_TARGETS if (t := f.string(r, key, rloc)) is not None),
            None,
        )
        state = f.string(r, "State", rloc) or "active"
        routes.append(Route(dest, f.source(rloc), gateway, target, state))
    if tid is None or vpc is None:
        return
    read.tables.append(
        RouteTable(tid, vpc, tuple(routes), tuple(subnets), main, f.tags(obj, loc), f.source(loc))
    )


#: The route targets other than ``GatewayId``, as ``describe-route-tables`` names them.
_ROUTE_TARGETS = (
    "NatGatewayId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "EgressOnlyInternetGatewayId",
    "NetworkInterfaceId",
    "InstanceId",
    "LocalGatewayId",
    "CarrierGatewayId",
    "CoreNetworkArn",
)


def _gateway(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    gid = f.string(obj, "InternetGatewayId", loc, required=True)
    vpcs = tuple(
        v
        for aloc, a in f.items(obj, "Attachments", loc)
        if (v := f.string(a, "VpcId", aloc, required=True)) is not None
        and (f.string(a, "State", aloc) or "available") in ("available", "attached")
    )
    if gid is not None:
        read.gateways.append(InternetGateway(gid, vpcs, f.tags(obj, loc), f.source(loc)))


def _prefix_list(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    pid = f.string(obj, "PrefixListId", loc, required=True)
    family = f.choice(obj, "AddressFamily", loc, ("IPv4", "IPv6"), "IPv4")
    if pid is not None and family is not None:
        name = f.get(obj, "PrefixListName", loc, str) or pid
        v6 = family == "IPv6"
        # The older describe-prefix-lists prints the blocks inline.
        inline = tuple(
            c
            for i, c in enumerate(f.strings(obj, "Cidrs", loc))
            if f.valid_cidr(c, (*loc, "Cidrs", i))
        )
        cidrs = inline if "Cidrs" in obj else None
        read.lists.append(PrefixList(pid, name, "IPv6" if v6 else "IPv4", cidrs, f.source(loc)))


def _prefix_entries(f: AwsFields, doc: Document, data: dict[str, Any], read: _Read) -> None:
    found = _PREFIX_LIST_ID.findall(Path(doc.path).name)
    cidrs = tuple(
        c
        for eloc, e in f.items(data, "Entries", ())
        if (c := f.cidr(e, "Cidr", eloc, required=True)) is not None
    )
    if len(set(found)) != 1:
        f.error(
            ("Entries",),
            "get-managed-prefix-list-entries output names no prefix list: name the file "
            "after its id (pl-0123abcd.json)",
            key=True,
        )
        return
    if found[0] in read.entries:
        f.error(("Entries",), f"the entries of {found[0]} are given twice", key=True)
        return
    read.entries[found[0]] = (cidrs, ("Entries",), f)


def _merge_entries(read: _Read, problems: list[Diagnostic]) -> tuple[PrefixList, ...]:
    """The prefix lists with their entries (a list whose entries alone were dumped
    is read as an IPv4 list named after its id; its family told by its blocks)."""
    out = []
    seen = set()
    for pl in read.lists:
        seen.add(pl.id)
        entries = read.entries.get(pl.id)
        cidrs = entries[0] if entries is not None else pl.cidrs
        out.append(PrefixList(pl.id, pl.name, pl.address_family, cidrs, pl.source))
    for pid, (cidrs, loc, f) in read.entries.items():
        if pid in seen:
            continue
        v6 = any(":" in c for c in cidrs)
        out.append(PrefixList(pid, pid, "IPv6" if v6 else "IPv4", cidrs, f.source(loc)))
    del problems  # entries problems were reported as the files were read
    return tuple(out)


def _db(f: AwsFields, obj: dict[str, Any], loc: Loc, read: _Read) -> None:
    ident = f.string(obj, "DBInstanceIdentifier", loc, required=True)
    endpoint = f.mapping(obj, "Endpoint", loc)
    port = f.get(endpoint, "Port", (*loc, "Endpoint"), int) or f.get(
        obj, "DbInstancePort", loc, int
    )
    group = f.mapping(obj, "DBSubnetGroup", loc)
    gloc = (*loc, "DBSubnetGroup")
    subnets = tuple(
        s
        for sloc, item in f.items(group, "Subnets", gloc)
        if (s := f.string(item, "SubnetIdentifier", sloc, required=True)) is not None
    )
    groups = tuple(
        g
        for vloc, item in f.items(obj, "VpcSecurityGroups", loc)
        if (g := f.string(item, "VpcSecurityGroupId", vloc, required=True)) is not None
    )
    if ident is None:
        return
    read.dbs.append(
        DbInstance(
            ident,
            f.get(obj, "Engine", loc, str) or "",
            port or None,
            bool(f.flag(obj, "PubliclyAccessible", loc)),
            f.string(group, "VpcId", gloc),
            subnets,
            groups,
            f.tags(obj, loc, "TagList"),
            f.source(loc),
            f.string(obj, "AvailabilityZone", loc),
            f.string(endpoint, "Address", (*loc, "Endpoint")),
        )
    )
