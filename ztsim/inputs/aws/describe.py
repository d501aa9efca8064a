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

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ztsim.inputs.aws.describe_fields import AwsFields
from ztsim.inputs.aws.describe_network import (
    Read,
    acl_of,
    gateway_of,
    merge_entries,
    prefix_entries,
    prefix_list_of,
    table_of,
)
from ztsim.inputs.aws.objects import (
    DbInstance,
    Estate,
    Instance,
    NetworkInterface,
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
#: Instances in these states have no network presence (and never will again).
_GONE = ("terminated", "shutting-down")


def read_describe(paths: Iterable[str | Path]) -> Estate:
    """The AWS objects of the ``describe-*`` JSON files under ``paths``.

    Raises
    ------
    InputError
        With every problem found, each at its FILE:LINE:COL.
    """
    files, problems = expand_paths(paths)
    files = [f for f in files if Path(f).suffix.lower() == ".json" or f == "-"]
    read = Read()
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
    prefix_lists = merge_entries(read, problems)
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


def _read_document(f: AwsFields, doc: Document, read: Read) -> None:
    data = doc.data
    if not isinstance(data, dict):
        f.error((), "an AWS CLI output must be a JSON object (one describe-* call per file)")
        return
    readers: dict[str, Callable[[AwsFields, dict[str, Any], Loc, Read], None]] = {
        "Vpcs": _vpc,
        "Subnets": _subnet,
        "Reservations": _reservation,
        "NetworkInterfaces": _interface_entry,
        "SecurityGroups": _group,
        "NetworkAcls": acl_of,
        "RouteTables": table_of,
        "InternetGateways": gateway_of,
        "PrefixLists": prefix_list_of,
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
            prefix_entries(f, doc, data, read)
            continue
        for loc, item in f.items(data, key, ()):
            readers[key](f, item, loc, read)


# -- one reader per kind ------------------------------------------------------------


def _vpc(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
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


def _subnet(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
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


def _reservation(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
    for iloc, inst in f.items(obj, "Instances", loc):
        _instance(f, inst, iloc, read)


def _instance(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
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


def _interface_entry(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
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


def _group(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
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


def _db(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
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
