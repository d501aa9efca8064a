"""The ``describe-*`` readers of network objects: ACLs, route tables, internet
gateways, prefix lists (and the gathering of everything read, shared with
:mod:`ztsim.inputs.aws.describe`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ztsim.inputs.aws.describe_fields import AwsFields
from ztsim.inputs.aws.objects import (
    AclEntry,
    DbInstance,
    Instance,
    InternetGateway,
    NetworkAcl,
    NetworkInterface,
    PrefixList,
    Route,
    RouteTable,
    SecurityGroup,
    Subnet,
    Vpc,
)
from ztsim.inputs.collector import Loc
from ztsim.inputs.positions import Document
from ztsim.model.diagnostics import Diagnostic

__all__ = [
    "Read",
    "acl_of",
    "gateway_of",
    "merge_entries",
    "prefix_entries",
    "prefix_list_of",
    "table_of",
]

#: A prefix list id in a file name.
_PREFIX_LIST_ID = re.compile(r"pl-[0-9a-zA-Z]+")


class Read:
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


def acl_of(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
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


def table_of(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
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


def gateway_of(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
    gid = f.string(obj, "InternetGatewayId", loc, required=True)
    vpcs = tuple(
        v
        for aloc, a in f.items(obj, "Attachments", loc)
        if (v := f.string(a, "VpcId", aloc, required=True)) is not None
        and (f.string(a, "State", aloc) or "available") in ("available", "attached")
    )
    if gid is not None:
        read.gateways.append(InternetGateway(gid, vpcs, f.tags(obj, loc), f.source(loc)))


def prefix_list_of(f: AwsFields, obj: dict[str, Any], loc: Loc, read: Read) -> None:
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


def prefix_entries(f: AwsFields, doc: Document, data: dict[str, Any], read: Read) -> None:
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


def merge_entries(read: Read, problems: list[Diagnostic]) -> tuple[PrefixList, ...]:
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
