"""Terraform network resources and hosts to AWS objects; :func:`build_estate` (one side).

The conservative readings of values unknown until apply are listed in
:mod:`ztsim.inputs.aws.terraform_resources`.
"""

from __future__ import annotations

from dataclasses import replace
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
    Route,
    RouteTable,
    Subnet,
    Vpc,
)
from ztsim.inputs.aws.terraform_config import Configuration
from ztsim.inputs.aws.terraform_lb import load_balancers
from ztsim.inputs.aws.terraform_resources import (
    _ENGINE_PORTS,
    _TARGETS,
    EVERY_ADDRESS,
    Builder,
    _unknown_at,
    host_ident,
    security_groups,
)
from ztsim.model.diagnostics import Diagnostic

__all__ = ["build_estate"]

#: An ACL entry whose number is unknown: an allow goes first, a deny is dropped.
_FIRST = 0


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


# --------------------------------------------------------------------------- ACLs


def _acl_entries(
    b: Builder,
    res: Any,
    obj: dict[str, Any],
    unknown: Any,
    egress: bool,
    keys: dict[str, str],
    name: str,
) -> list[AclEntry]:
    """One entry (two with an IPv4 and an IPv6 block), read conservatively."""
    action, unk_action = b.value(res, obj, unknown, keys["action"])
    number, unk_number = b.value(res, obj, unknown, keys["number"])
    protocol, unk_protocol = b.protocol(res, obj, unknown, "protocol")
    ports, icmp, unk_ports = b.ports(res, obj, unknown, protocol, ("from_port", "to_port"))
    cidrs, lost = [], False
    for key in ("cidr_block", "ipv6_cidr_block"):
        value, unk = b.value(res, obj, unknown, key)
        lost = lost or unk
        if (c := b.cidr(res, value, key)) is not None:
            cidrs.append(c)
    vague = unk_action or unk_number or unk_ports or unk_protocol or lost
    if unk_action or action not in ("allow", "deny"):
        if not unk_action:
            b.fields.error(res.loc, f"{name}: rule action must be allow or deny, not {action!r}")
            return []
        action = "allow"
    if action == "deny" and vague:
        b.note(res, f"{name}: a deny with values unknown until apply is left out")
        return []
    if vague:
        b.note(res, f"{name}: values unknown until apply: read as allowing every address and port")
        cidrs = list(EVERY_ADDRESS) if lost or not cidrs else cidrs
        ports, icmp, protocol = None, None, "-1"
    if unk_number or not isinstance(number, int):
        if not unk_number:
            b.fields.error(res.loc, f"{name}: the rule number must be a whole number")
            return []
        number = _FIRST
    name = f"{number if not unk_number else '(unknown)'} ({'out' if egress else 'in'}) of {name}"
    return [
        AclEntry(number, egress, action, protocol, c, ports, res.source, icmp, name) for c in cidrs
    ]


_BLOCK_KEYS = {"action": "action", "number": "rule_no"}
_RULE_KEYS = {"action": "rule_action", "number": "rule_number"}


def _acls(b: Builder) -> dict[str, NetworkAcl]:
    acls: dict[str, NetworkAcl] = {}
    for kind in ("aws_network_acl", "aws_default_network_acl"):
        for res in b.by_type.get(kind, ()):
            aid = b.own_id(res)
            entries: list[AclEntry] = []
            for direction in ("ingress", "egress"):
                blocks, unk = b.value(res, res.values, res.unknown, direction)
                if unk:
                    b.note(res, f"{direction} unknown until apply: its denies are left out")
                marks = _unknown_at(res.unknown, direction)
                for i, blk in enumerate(blocks or ()):
                    if isinstance(blk, dict):
                        name = res.address
                        entries.extend(
                            _acl_entries(
                                b,
                                res,
                                blk,
                                _unknown_at(marks, i),
                                direction == "egress",
                                _BLOCK_KEYS,
                                name,
                            )
                        )
            subnets, lost = b.ids(res, res.values, res.unknown, "subnet_ids")
            if lost:
                b.note(res, "subnet_ids unknown until apply: associated with none of them")
            vpc = _first(b.ids(res, res.values, res.unknown, "vpc_id")[0])
            acls[aid] = NetworkAcl(
                aid,
                vpc or "",
                tuple(subnets),
                tuple(entries),
                b.tags(res),
                res.source,
                kind == "aws_default_network_acl",
                res.address,
            )
    for res in b.by_type.get("aws_network_acl_rule", ()):
        egress, unk = b.value(res, res.values, res.unknown, "egress")
        targets, lost = b.ids(res, res.values, res.unknown, "network_acl_id")
        if lost:
            b.note(res, "network_acl_id unknown until apply: the rule is left out")
        for aid in targets:
            acl = acls.get(aid) or NetworkAcl(aid, "", (), (), (), res.source)
            # An unknown direction: the entry on both sides (an allow widens; a deny
            # with an unknown field is dropped by _acl_entries anyway).
            sides = (True, False) if unk else (bool(egress),)
            new = [
                e
                for side in sides
                for e in _acl_entries(
                    b, res, res.values, res.unknown, side, _RULE_KEYS, res.address
                )
            ]
            acls[aid] = replace(acl, entries=(*acl.entries, *new))
    for res in b.by_type.get("aws_network_acl_association", ()):
        targets, lost = b.ids(res, res.values, res.unknown, "network_acl_id")
        subnets, lost_subnet = b.ids(res, res.values, res.unknown, "subnet_id")
        if lost or lost_subnet:
            b.note(res, "unknown until apply: the association is left out")
        for aid in targets:
            acl = acls.get(aid) or NetworkAcl(aid, "", (), (), (), res.source)
            acls[aid] = replace(acl, subnet_ids=tuple(dict.fromkeys((*acl.subnet_ids, *subnets))))
    return acls


# --------------------------------------------------------------------------- routes


def _route(
    b: Builder,
    res: Any,
    obj: dict[str, Any],
    unknown: Any,
    keys: tuple[str, ...],
    block: str | None = None,
) -> Route | None:
    """One route; a gateway unknown until apply and not followed is taken as an
    internet gateway (``<ADDRESS.gateway_id>``: the compiler reads such a
    placeholder as one)."""
    destination = None
    for key in keys:
        value, _ = b.value(res, obj, unknown, key)
        if isinstance(value, str) and value:
            destination = value
            break
    if destination is None:
        return None
    gateways, lost = b.ids(res, obj, unknown, "gateway_id", block)
    gateway = _first(gateways)
    if gateway is None and lost:
        b.note(res, "gateway_id unknown until apply: read as an internet gateway")
        gateway = f"<{res.address}.gateway_id>"
    target = None
    for key in _TARGETS:
        found = _first(b.ids(res, obj, unknown, key, block)[0])
        if found:
            target = found
            break
    return Route(destination, res.source, gateway, target)


_ROUTE_DESTINATIONS = ("cidr_block", "ipv6_cidr_block", "destination_prefix_list_id")
_AWS_ROUTE_DESTINATIONS = (
    "destination_cidr_block",
    "destination_ipv6_cidr_block",
    "destination_prefix_list_id",
)


def _tables(b: Builder) -> dict[str, RouteTable]:
    tables: dict[str, RouteTable] = {}
    for kind in ("aws_route_table", "aws_default_route_table"):
        for res in b.by_type.get(kind, ()):
            tid = b.own_id(res)
            routes: list[Route] = []
            blocks, unk = b.value(res, res.values, res.unknown, "route")
            if unk:
                b.note(res, "route unknown until apply: read as a route to an internet gateway")
                routes.append(Route("0.0.0.0/0", res.source, f"<{res.address}.route>"))
            marks = _unknown_at(res.unknown, "route")
            for i, blk in enumerate(blocks or ()):
                if isinstance(blk, dict):
                    r = _route(b, res, blk, _unknown_at(marks, i), _ROUTE_DESTINATIONS, "route")
                    if r is not None:
                        routes.append(r)
            key = "default_route_table_id" if kind == "aws_default_route_table" else "vpc_id"
            vpc = _first(b.ids(res, res.values, res.unknown, "vpc_id")[0]) or ""
            if kind == "aws_default_route_table":
                tid = _first(b.ids(res, res.values, res.unknown, key)[0]) or tid
            tables[tid] = RouteTable(
                tid,
                vpc,
                tuple(routes),
                (),
                kind == "aws_default_route_table",
                b.tags(res),
                res.source,
            )
    for res in b.by_type.get("aws_vpc", ()):
        # The main table AWS makes with the VPC (local routes only), unless the
        # plan manages it: aws_route resources on it add to it below.
        tid = b.own_id(res, "main_route_table_id")
        if tid not in tables and not any(
            t.main and t.vpc_id == b.own_id(res) for t in tables.values()
        ):
            cidr, _ = b.value(res, res.values, res.unknown, "cidr_block")
            local = (Route(cidr, res.source, "local"),) if isinstance(cidr, str) and cidr else ()
            tables[tid] = RouteTable(tid, b.own_id(res), local, (), True, (), res.source)
    for res in b.by_type.get("aws_route", ()):
        targets, _ = b.ids(res, res.values, res.unknown, "route_table_id")
        route = _route(b, res, res.values, res.unknown, _AWS_ROUTE_DESTINATIONS)
        for tid in targets:
            table = tables.get(tid) or RouteTable(tid, "", (), (), False, (), res.source)
            if route is not None:
                tables[tid] = replace(table, routes=(*table.routes, route))
    for res in b.by_type.get("aws_route_table_association", ()):
        targets, _ = b.ids(res, res.values, res.unknown, "route_table_id")
        subnets, lost = b.ids(res, res.values, res.unknown, "subnet_id")
        if lost:
            b.note(res, "subnet_id unknown until apply: the association is left out")
        for tid in targets:
            table = tables.get(tid) or RouteTable(tid, "", (), (), False, (), res.source)
            tables[tid] = replace(
                table, subnet_ids=tuple(dict.fromkeys((*table.subnet_ids, *subnets)))
            )
    for res in b.by_type.get("aws_main_route_table_association", ()):
        for tid in b.ids(res, res.values, res.unknown, "route_table_id")[0]:
            if tid in tables:
                tables[tid] = replace(tables[tid], main=True)
    return tables


# --------------------------------------------------------------------------- hosts


def _subnets(b: Builder) -> dict[str, Subnet]:
    out: dict[str, Subnet] = {}
    for res in b.by_type.get("aws_subnet", ()):
        sid = b.own_id(res)
        cidr_value, unk = b.value(res, res.values, res.unknown, "cidr_block")
        if unk:
            b.note(res, "cidr_block unknown until apply: no IPv4 block")
        v6, _ = b.value(res, res.values, res.unknown, "ipv6_cidr_block")
        mapped, unk_map = b.value(res, res.values, res.unknown, "map_public_ip_on_launch")
        az, _ = b.value(res, res.values, res.unknown, "availability_zone")
        out[sid] = Subnet(
            sid,
            _first(b.ids(res, res.values, res.unknown, "vpc_id")[0]) or "",
            b.cidr(res, cidr_value, "cidr_block"),
            b.tags(res),
            res.source,
            tuple(c for c in [b.cidr(res, v6, "ipv6_cidr_block")] if c),
            az if isinstance(az, str) else None,
            bool(mapped) or unk_map,
        )
    return out


def _public_by_eip(b: Builder) -> dict[str, str]:
    """Instance or interface id -> the Elastic IP (or ``<ADDRESS.public_ip>``) on it."""
    out: dict[str, str] = {}
    for res in b.by_type.get("aws_eip", ()):
        ip, unk = b.value(res, res.values, res.unknown, "public_ip")
        shown = ip if isinstance(ip, str) and ip and not unk else f"<{res.address}.public_ip>"
        for key in ("instance", "network_interface"):
            for ident in b.ids(res, res.values, res.unknown, key)[0]:
                out[ident] = shown
    return out


def _instances(
    b: Builder, subnets: dict[str, Subnet], every_group: list[str], eips: dict[str, str]
) -> list[Instance]:
    out: list[Instance] = []
    for res in b.by_type.get("aws_instance", ()):
        iid = b.own_id(res)
        subnet, lost_subnet = b.ids(res, res.values, res.unknown, "subnet_id")
        if lost_subnet:
            b.note(res, "subnet_id unknown until apply: in no subnet")
        sid = _first(subnet)
        groups, lost = b.ids(res, res.values, res.unknown, "vpc_security_group_ids")
        if lost:
            b.note(res, "vpc_security_group_ids unknown until apply: a member of every group")
            groups = list(dict.fromkeys([*groups, *every_group]))
        ip, unk_ip = b.value(res, res.values, res.unknown, "public_ip")
        public = ip if isinstance(ip, str) and ip and not unk_ip else None
        if public is None:
            public = _public_address(b, res, subnets.get(sid or ""), eips.get(iid))
        private, unk_private = b.value(res, res.values, res.unknown, "private_ip")
        private_ip = private if isinstance(private, str) and private and not unk_private else None
        eni_id = b.own_id(res, "primary_network_interface_id")
        state, _ = b.value(res, res.values, res.unknown, "instance_state")
        eni = NetworkInterface(
            eni_id,
            sid or "",
            tuple(groups),
            (private_ip,) if private_ip else (),
            res.source,
            subnets[sid].vpc_id if sid in subnets else None,
            public,
            instance_id=iid,
        )
        out.append(
            Instance(
                iid,
                sid,
                eni.vpc_id,
                (eni,),
                b.tags(res),
                res.source,
                state if isinstance(state, str) else "running",
                private_ip,
                public,
            )
        )
    return out


def _public_address(b: Builder, res: Any, subnet: Subnet | None, eip: str | None) -> str | None:
    """A new instance's public address: an Elastic IP, ``associate_public_ip_address``,
    else its subnet's ``map_public_ip_on_launch`` (AWS's default; unknown: public)."""
    if eip is not None:
        return eip
    assoc, unk = b.value(res, res.values, res.unknown, "associate_public_ip_address")
    placeholder = f"<{res.address}.public_ip>"
    if assoc is True:
        return placeholder
    if assoc is False and not unk:
        return None
    if subnet is None or subnet.map_public_ip:
        b.note(res, "public_ip unknown until apply: read as public (its subnet may map one)")
        return placeholder
    return None


def _interfaces(b: Builder, every_group: list[str], eips: dict[str, str]) -> list[NetworkInterface]:
    out: list[NetworkInterface] = []
    for res in b.by_type.get("aws_network_interface", ()):
        eid = b.own_id(res)
        groups, lost = b.ids(res, res.values, res.unknown, "security_groups")
        if lost:
            b.note(res, "security_groups unknown until apply: a member of every group")
            groups = list(dict.fromkeys([*groups, *every_group]))
        ips, _ = b.value(res, res.values, res.unknown, "private_ips")
        attached, _ = b.value(res, res.values, res.unknown, "attachment")
        instance = None
        for att in attached or () if isinstance(attached, list) else ():
            if isinstance(att, dict) and isinstance(att.get("instance"), str):
                instance = att["instance"]
        out.append(
            NetworkInterface(
                eid,
                _first(b.ids(res, res.values, res.unknown, "subnet_id")[0]) or "",
                tuple(groups),
                tuple(i for i in ips or () if isinstance(i, str)),
                res.source,
                public_ip=eips.get(eid),
                instance_id=instance,
                tags=b.tags(res),
            )
        )
    return out


def _databases(b: Builder, subnets: dict[str, Subnet], every_group: list[str]) -> list[DbInstance]:
    groups_by_name: dict[str, list[str]] = {}
    for res in b.by_type.get("aws_db_subnet_group", ()):
        name, _ = b.value(res, res.values, res.unknown, "name")
        members = b.ids(res, res.values, res.unknown, "subnet_ids")[0]
        for key in (name, f"<{res.address}.name>", f"<{res.address}.id>", b.own_id(res)):
            if isinstance(key, str):
                groups_by_name[key] = members
    out: list[DbInstance] = []
    for res in b.by_type.get("aws_db_instance", ()):
        ident, unk = b.value(res, res.values, res.unknown, "identifier")
        db_id = ident if isinstance(ident, str) and ident and not unk else host_ident(res.address)
        engine, _ = b.value(res, res.values, res.unknown, "engine")
        port, _ = b.value(res, res.values, res.unknown, "port")
        if not isinstance(port, int):
            port = _ENGINE_PORTS.get(str(engine).split("-")[0]) if isinstance(engine, str) else None
        public, unk_public = b.value(res, res.values, res.unknown, "publicly_accessible")
        if unk_public:
            b.note(res, "publicly_accessible unknown until apply: read as true")
        names, _ = b.ids(res, res.values, res.unknown, "db_subnet_group_name")
        members = [s for n in names for s in groups_by_name.get(n, ())]
        groups, lost = b.ids(res, res.values, res.unknown, "vpc_security_group_ids")
        if lost:
            b.note(res, "vpc_security_group_ids unknown until apply: a member of every group")
            groups = list(dict.fromkeys([*groups, *every_group]))
        az, _ = b.value(res, res.values, res.unknown, "availability_zone")
        address, _ = b.value(res, res.values, res.unknown, "address")
        vpc = next((subnets[s].vpc_id for s in members if s in subnets), None)
        out.append(
            DbInstance(
                db_id,
                engine if isinstance(engine, str) else "",
                port,
                bool(public) or unk_public,
                vpc,
                tuple(members),
                tuple(groups),
                b.tags(res),
                res.source,
                az if isinstance(az, str) else None,
                address if isinstance(address, str) else None,
            )
        )
    return out


def _vpcs_and_gateways(b: Builder) -> tuple[list[Vpc], list[InternetGateway]]:
    vpcs = []
    for res in b.by_type.get("aws_vpc", ()):
        cidrs = [
            c
            for key in ("cidr_block", "ipv6_cidr_block")
            if (c := b.cidr(res, b.value(res, res.values, res.unknown, key)[0], key))
        ]
        vpcs.append(Vpc(b.own_id(res), tuple(cidrs), b.tags(res), res.source))
    gateways: dict[str, InternetGateway] = {}
    for res in b.by_type.get("aws_internet_gateway", ()):
        gid = b.own_id(res)
        attached = b.ids(res, res.values, res.unknown, "vpc_id")[0]
        gateways[gid] = InternetGateway(gid, tuple(attached), b.tags(res), res.source)
    for res in b.by_type.get("aws_internet_gateway_attachment", ()):
        attached = b.ids(res, res.values, res.unknown, "vpc_id")[0]
        for gid in b.ids(res, res.values, res.unknown, "internet_gateway_id")[0]:
            gw = gateways.get(gid) or InternetGateway(gid, (), (), res.source)
            gateways[gid] = replace(gw, vpc_ids=tuple(dict.fromkeys((*gw.vpc_ids, *attached))))
    return vpcs, list(gateways.values())


def build_estate(
    path: str, resources: list[Any], config: Configuration, fields: AwsFields
) -> tuple[Estate, list[Diagnostic], list[Diagnostic]]:
    """One side's resources as an estate, with the notes (unknown values read
    conservatively) and the errors (values of the wrong shape) found."""
    b = Builder(path, resources, config, fields)
    groups = security_groups(b)
    every_group = sorted(groups)
    subnets = _subnets(b)
    eips = _public_by_eip(b)
    vpcs, gateways = _vpcs_and_gateways(b)
    instances = _instances(b, subnets, every_group, eips)
    balancers = load_balancers(b, instances, sorted(subnets), every_group)
    estate = Estate(
        files=(path,),
        vpcs=tuple(vpcs),
        subnets=tuple(subnets.values()),
        instances=tuple(instances),
        network_interfaces=tuple(_interfaces(b, every_group, eips)),
        security_groups=tuple(groups.values()),
        network_acls=tuple(_acls(b).values()),
        route_tables=tuple(_tables(b).values()),
        internet_gateways=tuple(gateways),
        db_instances=tuple(_databases(b, subnets, every_group)),
        notes=tuple(b.notes),
        load_balancers=tuple(balancers),
    )
    errors = [d for d in fields.col.items if d.level == "error"]
    return estate, b.notes, errors
