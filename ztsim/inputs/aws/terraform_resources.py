"""Terraform AWS resources to the AWS objects of :mod:`ztsim.inputs.aws.objects`.

:class:`Builder` indexes one side's resources and reads their values, unknown
ones included; :func:`security_groups` builds the groups here, and
:func:`ztsim.inputs.aws.terraform_network.build_estate` the rest.  Together they
turn one side of a plan (its resources' values, see
:mod:`ztsim.inputs.aws.terraform`) into an :class:`~ztsim.inputs.aws.objects.Estate`:
groups with their inline rules and the rule resources attached, network ACLs
with their rule and association resources, route tables with their routes and
associations, instances with their interfaces and Elastic IPs, RDS instances in
their DB subnet group's subnets.

Values unknown until apply, always toward what the attacker may do more:

- an id, a resource's own: ``<ADDRESS.id>``; a reference to another resource:
  followed through the configuration (:class:`~ztsim.inputs.aws.terraform_config.Configuration`);
- a security group rule's peers, ports or protocol that cannot be followed:
  every address (``0.0.0.0/0`` and ``::/0``), every port, every protocol;
- an instance's security groups that cannot be followed: every group of the
  estate; its public address: public when ``associate_public_ip_address`` is
  unknown and its subnet maps public addresses (or is unknown too);
- a network ACL entry: an ``allow`` with unknown fields is widened (and put
  first when its number is unknown), a ``deny`` with unknown fields is dropped;
  an ACL's or a route table's unknown subnets: not associated (the subnet keeps
  its VPC's default, which the plan does not narrow);
- an RDS instance's ``publicly_accessible``: true.

Each is a warning naming the resource address and the attribute.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, Literal

from ztsim.inputs.aws.describe_fields import AwsFields, protocol_name
from ztsim.inputs.aws.objects import (
    Labels,
    PortRange,
    SecurityGroup,
    SgPeer,
    SgRule,
)
from ztsim.inputs.aws.terraform_config import Configuration, module_prefix, split_reference
from ztsim.model.diagnostics import Diagnostic

__all__ = ["EVERY_ADDRESS", "Builder", "host_ident", "security_groups"]

#: What an unknown peer of an allow becomes.
EVERY_ADDRESS = ("0.0.0.0/0", "::/0")
#: The port an RDS engine listens on when the plan does not say.
_ENGINE_PORTS = {
    "postgres": 5432,
    "mysql": 3306,
    "mariadb": 3306,
    "oracle": 1521,
    "sqlserver": 1433,
}
#: Route target keys of a ``route`` block / ``aws_route``, the gateway one first.
_TARGETS = (
    "nat_gateway_id",
    "transit_gateway_id",
    "vpc_peering_connection_id",
    "egress_only_gateway_id",
    "network_interface_id",
    "vpc_endpoint_id",
    "carrier_gateway_id",
    "local_gateway_id",
    "core_network_arn",
)


#: A character a host id may not hold (:data:`ztsim.model.fields.ID_PATTERN`).
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9_.:@/+-]")


def host_ident(address: str) -> str:
    """A resource address as a host id, for a host whose id is unknown until apply:
    instance keys become dotted parts (``aws_instance.app[0]`` is
    ``aws_instance.app.0``, ``["a b"]`` is ``.a_b``).

    >>> host_ident('module.web.aws_instance.app["blue"]')
    'module.web.aws_instance.app.blue'
    """
    text = re.sub(r'\["?([^\]"]*)"?\]', r".\1", address)
    return _NOT_IN_ID.sub("_", text)


def _unknown_at(unknown: Any, key: str | int) -> Any:
    if isinstance(unknown, dict) and isinstance(key, str):
        return unknown.get(key)
    if isinstance(unknown, list) and isinstance(key, int) and 0 <= key < len(unknown):
        return unknown[key]
    return None


class Builder:
    """One side's resources, indexed by type; its notes (warnings) as they come."""

    def __init__(
        self, path: str, resources: list[Any], config: Configuration, fields: AwsFields
    ) -> None:
        self.path = path
        self.resources = resources
        self.config = config
        self.fields = fields
        self.notes: list[Diagnostic] = []
        self.by_type: dict[str, list[Any]] = {}
        for r in resources:
            self.by_type.setdefault(r.type, []).append(r)

    # -- notes and values ------------------------------------------------------------

    def note(self, res: Any, message: str) -> None:
        src = res.plan_source
        diag = Diagnostic(src.path, src.line, src.column, "warning", f"{res.address}: {message}")
        if diag not in self.notes:
            self.notes.append(diag)

    def value(self, res: Any, obj: dict[str, Any], unknown: Any, key: str) -> tuple[Any, bool]:
        """``obj[key]`` and whether it is unknown until apply."""
        if _unknown_at(unknown, key) is True:
            return None, True
        return obj.get(key), False

    def own_id(self, res: Any, key: str = "id") -> str:
        """``res``'s id (``key``), or, unknown until apply, ``<ADDRESS.KEY>``; an
        instance's is its host id, so the address made a valid one (see
        :func:`host_ident`)."""
        value, unknown = self.value(res, res.values, res.unknown, key)
        if isinstance(value, str) and value and not unknown:
            return value
        if key == "id" and res.type == "aws_instance":
            return host_ident(res.address)
        return f"<{res.address}.{key}>"

    def resolve(
        self, res: Any, references: Iterable[str], attrs: tuple[str | None, ...] = (None, "id")
    ) -> list[str]:
        """The ids the references name (a resource not applied yet: ``<ADDRESS.id>``);
        ``attrs``: the attributes that are the id (a load balancer's ``arn`` too)."""
        prefix = module_prefix(res.address)
        out: list[str] = []
        for ref in references:
            parts = split_reference(ref)
            if parts is None:
                continue
            target, index, attr = parts
            if attr not in attrs:
                continue
            kind = target.split(".", 1)[0]
            for cand in self.by_type.get(kind, ()):
                rest = cand.address[len(prefix) :] if cand.address.startswith(prefix) else None
                if rest is None or module_prefix(rest):
                    continue
                base = rest.split("[", 1)[0]
                if base == target and (index is None or rest == target + index):
                    ident = self.own_id(cand)
                    if ident not in out:
                        out.append(ident)
        return out

    def ids(
        self,
        res: Any,
        obj: dict[str, Any],
        unknown: Any,
        key: str,
        block: str | None = None,
        attrs: tuple[str | None, ...] = (None, "id"),
    ) -> tuple[list[str], bool]:
        """The ids of list (or single) attribute ``key``: the known ones, those its
        unknown part refers to (``attrs``: see :meth:`resolve`); and whether some
        unknown part named nothing known."""
        value, whole = self.value(res, obj, unknown, key)
        items = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        if not (value is None or isinstance(value, str | list)) or any(
            not (v is None or isinstance(v, str)) for v in items
        ):
            self.fields.error(
                res.loc, f"{res.address}: '{key}' must be an id or a list of ids, not {value!r}"
            )
            return [], False
        marks = _unknown_at(unknown, key)
        known = [
            v
            for i, v in enumerate(items)
            if isinstance(v, str) and v and _unknown_at(marks, i) is not True
        ]
        partial = whole or (isinstance(marks, list) and any(m is True for m in marks))
        if not partial:
            return known, False
        found = self.resolve(res, self.config.references(res.address, key, block), attrs)
        return [*known, *(f for f in found if f not in known)], not found

    def tags(self, res: Any) -> Labels:
        for key in ("tags_all", "tags"):
            value, unknown = self.value(res, res.values, res.unknown, key)
            if isinstance(value, dict) and not unknown:
                return tuple(sorted((k, v) for k, v in value.items() if isinstance(v, str)))
        return ()

    def cidr(self, res: Any, value: Any, what: str) -> str | None:
        if not isinstance(value, str) or not value:
            return None
        try:
            return str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            self.fields.error(res.loc, f"{res.address}: {what} {value!r} is not an address block")
            return None

    def protocol(self, res: Any, obj: dict[str, Any], unknown: Any, key: str) -> tuple[str, bool]:
        """AWS's protocol name (``-1``: every protocol; also when unknown) and
        whether it is unknown until apply."""
        value, unk = self.value(res, obj, unknown, key)
        if unk or value is None:
            return "-1", unk
        return protocol_name(str(value)), False

    def ports(
        self, res: Any, obj: dict[str, Any], unknown: Any, protocol: str, keys: tuple[str, str]
    ) -> tuple[PortRange | None, tuple[int, int] | None, bool]:
        """(port range or ``None`` for every port, ICMP type and code, unknown)."""
        low, unk_low = self.value(res, obj, unknown, keys[0])
        high, unk_high = self.value(res, obj, unknown, keys[1])
        if unk_low or unk_high:
            return None, None, True
        if protocol in ("icmp", "icmpv6"):
            pair = (low, high) if isinstance(low, int) and isinstance(high, int) else (-1, -1)
            return None, pair, False
        if protocol not in ("tcp", "udp") or not isinstance(low, int) or not isinstance(high, int):
            return None, None, False
        if (low, high) in ((-1, -1), (0, 0)) and protocol == "-1":
            return None, None, False
        if not 0 <= low <= high <= 65535:
            self.fields.error(
                res.loc, f"{res.address}: ports {low} to {high}: not a range of 0-65535"
            )
            return None, None, False
        return (low, high), None, False


# --------------------------------------------------------------------------- groups


def _sg_rule(
    b: Builder,
    res: Any,
    obj: dict[str, Any],
    unknown: Any,
    direction: Literal["ingress", "egress"],
    name: str,
    group_id: str,
    keys: dict[str, str],
    block: str | None = None,
) -> SgRule:
    """One rule (an inline block, or a rule resource) with every peer it names."""
    protocol, unk_protocol = b.protocol(res, obj, unknown, keys["protocol"])
    ports, icmp, unk_ports = b.ports(res, obj, unknown, protocol, (keys["from"], keys["to"]))
    if unk_ports or unk_protocol:
        b.note(res, f"{name}: ports unknown until apply: read as every protocol and port")
        ports, icmp, protocol = None, None, "-1"
    peers: list[SgPeer] = []
    unresolved: list[str] = []
    for key in keys.get("cidrs", "").split():
        values, lost = b.ids(res, obj, unknown, key, block)
        peers.extend(SgPeer("cidr", c) for v in values if (c := b.cidr(res, v, key)))
        if lost:
            unresolved.append(key)
    for key in keys.get("groups", "").split():
        values, lost = b.ids(res, obj, unknown, key, block)
        peers.extend(SgPeer("group", v) for v in values)
        if lost:
            unresolved.append(key)
    for key in keys.get("lists", "").split():
        values, lost = b.ids(res, obj, unknown, key, block)
        peers.extend(SgPeer("prefix-list", v) for v in values)
        if lost:
            unresolved.append(key)
    self_ref, unk_self = b.value(res, obj, unknown, "self")
    if self_ref is True or unk_self:
        peers.append(SgPeer("group", group_id))
    if unresolved:
        b.note(res, f"{name}: {', '.join(unresolved)} unknown until apply: read as every address")
        peers.extend(SgPeer("cidr", c) for c in EVERY_ADDRESS)
    unique = tuple(dict.fromkeys(peers))
    return SgRule(direction, protocol, ports, unique, name, res.source, icmp)


_INLINE_KEYS = {
    "protocol": "protocol",
    "from": "from_port",
    "to": "to_port",
    "cidrs": "cidr_blocks ipv6_cidr_blocks",
    "groups": "security_groups",
    "lists": "prefix_list_ids",
}
_RULE_KEYS = {**_INLINE_KEYS, "groups": "source_security_group_id"}
_VPC_RULE_KEYS = {
    "protocol": "ip_protocol",
    "from": "from_port",
    "to": "to_port",
    "cidrs": "cidr_ipv4 cidr_ipv6",
    "groups": "referenced_security_group_id",
    "lists": "prefix_list_id",
}


def security_groups(b: Builder) -> dict[str, SecurityGroup]:
    groups: dict[str, SecurityGroup] = {}
    for kind in ("aws_security_group", "aws_default_security_group"):
        for res in b.by_type.get(kind, ()):
            gid = b.own_id(res)
            rules: dict[str, list[SgRule]] = {"ingress": [], "egress": []}
            directions: tuple[Literal["ingress", "egress"], ...] = ("ingress", "egress")
            for direction in directions:
                blocks, unk = b.value(res, res.values, res.unknown, direction)
                if unk:
                    b.note(res, f"{direction} unknown until apply: read as allowing everything")
                    rule = SgRule(
                        direction,
                        "-1",
                        None,
                        tuple(SgPeer("cidr", c) for c in EVERY_ADDRESS),
                        f"{res.address} {direction}",
                        res.source,
                    )
                    rules[direction].append(rule)
                    continue
                marks = _unknown_at(res.unknown, direction)
                for i, blk in enumerate(blocks or ()):
                    if isinstance(blk, dict):
                        rules[direction].append(
                            _sg_rule(
                                b,
                                res,
                                blk,
                                _unknown_at(marks, i),
                                direction,
                                f"{res.address} {direction}[{i}]",
                                gid,
                                _INLINE_KEYS,
                                direction,
                            )
                        )
            name, _ = b.value(res, res.values, res.unknown, "name")
            vpc = b.ids(res, res.values, res.unknown, "vpc_id")[0]
            desc, _ = b.value(res, res.values, res.unknown, "description")
            groups[gid] = SecurityGroup(
                gid,
                name if isinstance(name, str) else res.address,
                vpc[0] if vpc else None,
                tuple(rules["ingress"]),
                tuple(rules["egress"]),
                b.tags(res),
                res.source,
                desc if isinstance(desc, str) else "",
                res.address,
            )
    for kind, keys in (
        ("aws_security_group_rule", _RULE_KEYS),
        ("aws_vpc_security_group_ingress_rule", _VPC_RULE_KEYS),
        ("aws_vpc_security_group_egress_rule", _VPC_RULE_KEYS),
    ):
        for res in b.by_type.get(kind, ()):
            if kind == "aws_security_group_rule":
                given, _ = b.value(res, res.values, res.unknown, "type")
            else:
                given = "ingress" if kind.endswith("ingress_rule") else "egress"
            if given not in ("ingress", "egress"):
                b.fields.error(res.loc, f"{res.address}: 'type' must be ingress or egress")
                continue
            side: Literal["ingress", "egress"] = "ingress" if given == "ingress" else "egress"
            targets, lost = b.ids(res, res.values, res.unknown, "security_group_id")
            if lost:
                b.note(res, "security_group_id unknown until apply: the rule added to every group")
                targets = sorted({*targets, *groups})
            for gid in targets:
                rule = _sg_rule(b, res, res.values, res.unknown, side, res.address, gid, keys)
                group = groups.get(gid) or SecurityGroup(gid, gid, None, (), (), (), res.source)
                if side == "ingress":
                    group = replace(group, ingress=(*group.ingress, rule))
                else:
                    group = replace(group, egress=(*group.egress, rule))
                groups[gid] = group
    return groups
