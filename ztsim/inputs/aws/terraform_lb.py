"""A Terraform plan's load balancers (issue 28 point 2): ``aws_lb`` (``aws_alb``),
their listeners (``aws_lb_listener``, ``aws_lb_listener_rule``), target groups
(``aws_lb_target_group``) and the targets attached to them
(``aws_lb_target_group_attachment``).

A balancer's targets are known when every target group its listeners forward to
has attachments in the plan, each naming an instance (or the private address
of one) the plan holds: then it forwards to those hosts, on each attachment's
port (its target group's when it gives none), and to no other.  Otherwise (no
listener in the plan, a target group with no attachment, as when an Auto Scaling
group or ECS registers the targets, a reference that cannot be followed) the
compiler's conservative reading holds: every host whose security groups and
network ACLs admit the balancer; the note says why.

Values unknown until apply, toward what the attacker may do more: ``internal``
is read as internet-facing; ``load_balancer_type`` as ``network`` (whose
targets may see the clients' addresses); its subnets as every subnet of the
plan, its security groups as every group; a listener's port as every port.
Each is a warning naming the resource address and the attribute.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ztsim.inputs.aws.objects import Instance, LoadBalancer, PortRange
from ztsim.inputs.aws.terraform_resources import Builder

__all__ = ["LB_READ_TYPES", "load_balancers"]

_LB = ("aws_lb", "aws_alb")
_LISTENER = ("aws_lb_listener", "aws_alb_listener")
_RULE = ("aws_lb_listener_rule", "aws_alb_listener_rule")
_GROUP = ("aws_lb_target_group", "aws_alb_target_group")
_ATTACHMENT = ("aws_lb_target_group_attachment", "aws_alb_target_group_attachment")
#: The resource types this module reads.
LB_READ_TYPES = frozenset({*_LB, *_LISTENER, *_RULE, *_GROUP, *_ATTACHMENT})
#: A load balancer's or a target group's id is its ARN.
_ARN = (None, "id", "arn")


@dataclass
class _Listener:
    """A listener: its balancers, its port (``None``: every one) and the target
    groups it forwards to (``None``: some cannot be followed)."""

    balancers: list[str]
    port: PortRange | None
    groups: list[str] | None = field(default_factory=list)


@dataclass
class _Group:
    """A target group: its port, its address, and its targets (host, port)
    (``None``: not known, with why)."""

    address: str
    port: int | None
    targets: list[tuple[str, int | None]] | None = None
    why: str = ""


def _of(b: Builder, kinds: Iterable[str]) -> list[Any]:
    return [r for k in kinds for r in b.by_type.get(k, ())]


def _int(b: Builder, res: Any, key: str) -> int | None:
    value, unknown = b.value(res, res.values, res.unknown, key)
    if unknown or value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 65535:
        b.fields.error(res.loc, f"{res.address}: '{key}' must be a port, not {value!r}")
        return None
    return value


def _blocks(b: Builder, res: Any, key: str) -> tuple[list[tuple[dict[str, Any], Any]], bool]:
    """The blocks ``key`` of ``res`` with their unknown marks; whether the list
    itself is unknown."""
    value, unknown = b.value(res, res.values, res.unknown, key)
    if unknown:
        return [], True
    if value is None:
        return [], False
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        b.fields.error(res.loc, f"{res.address}: '{key}' must be a list of blocks")
        return [], False
    marks = res.unknown.get(key) if isinstance(res.unknown, dict) else None
    return [
        (v, marks[i] if isinstance(marks, list) and i < len(marks) else None)
        for i, v in enumerate(value)
    ], False


def _forwards(b: Builder, res: Any, key: str) -> list[str] | None:
    """The target groups the actions ``key`` of ``res`` forward to (``None``: some
    cannot be followed)."""
    actions, lost = _blocks(b, res, key)
    if lost:
        return None
    out: list[str] = []
    for action, marks in actions:
        kind = action.get("type")
        if isinstance(kind, str) and kind != "forward":
            continue  # redirect, fixed-response, authenticate-*: no target group
        found, missed = b.ids(res, action, marks, "target_group_arn", key, _ARN)
        nested = _nested(action, marks)
        if missed or nested is None or not (found or nested):
            return None
        out += [*found, *nested]
    return list(dict.fromkeys(out))


def _nested(action: dict[str, Any], marks: Any) -> list[str] | None:
    """The ARNs of an action's ``forward { target_group { arn } }`` blocks
    (``None``: one is unknown until apply)."""
    if isinstance(marks, dict) and marks.get("forward"):
        return None  # some part unknown until apply: nested, not followed
    out: list[str] = []
    for fwd in action.get("forward") or ():
        for tg in (fwd.get("target_group") or ()) if isinstance(fwd, dict) else ():
            arn = tg.get("arn") if isinstance(tg, dict) else None
            if not isinstance(arn, str) or not arn:
                return None
            out.append(arn)
    return out


def _listeners(b: Builder) -> dict[str, _Listener]:
    out: dict[str, _Listener] = {}
    for res in _of(b, _LISTENER):
        lbs, lost = b.ids(res, res.values, res.unknown, "load_balancer_arn", attrs=_ARN)
        if lost:
            b.note(res, "load_balancer_arn unknown until apply: its balancer's targets are "
                   "taken as unknown")  # fmt: skip
        port = _int(b, res, "port")
        if port is None:
            b.note(res, "port unknown or not given: every port")
        out[b.own_id(res)] = _Listener(
            lbs, None if port is None else (port, port), _forwards(b, res, "default_action")
        )
    for res in _of(b, _RULE):
        owners, lost = b.ids(res, res.values, res.unknown, "listener_arn", attrs=_ARN)
        groups = _forwards(b, res, "action")
        for owner in owners if not lost else list(out):
            lis = out.get(owner)
            if lis is not None and lis.groups is not None:
                lis.groups = None if groups is None else [*lis.groups, *groups]
    return out


def _groups(b: Builder, instances: list[Instance]) -> dict[str, _Group]:
    out: dict[str, _Group] = {}
    for res in _of(b, _GROUP):
        out[b.own_id(res)] = _Group(res.address, _int(b, res, "port"))
    by_address = {ip: i.id for i in instances for e in i.interfaces for ip in e.private_ips}
    hosts = {i.id for i in instances}
    for res in _of(b, _ATTACHMENT):
        names, lost = b.ids(res, res.values, res.unknown, "target_group_arn", attrs=_ARN)
        targets, lost_target = b.ids(res, res.values, res.unknown, "target_id")
        port = _int(b, res, "port")
        why = ""
        if lost or lost_target:
            why = f"{res.address}'s target_group_arn or target_id cannot be followed"
        found: list[tuple[str, int | None]] = []
        for target in targets:
            host = target if target in hosts else by_address.get(target)
            if host is None and _is_address(target):
                why = why or f"{res.address} names address {target}, no instance's in the plan"
            if host is not None:
                found.append((host, port))
        for name in names if not lost else list(out):
            tg = out.get(name) or out.setdefault(name, _Group(name, None))
            if why or tg.why:
                tg.targets, tg.why = None, tg.why or why
                continue
            tg.targets = [*(tg.targets or ()), *((h, p if p is not None else tg.port)
                                                 for h, p in found)]  # fmt: skip
    return out


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _targets(
    listeners: list[_Listener], groups: dict[str, _Group]
) -> tuple[tuple[tuple[str, PortRange | None], ...] | None, str]:
    """A balancer's targets (host, port) and, when not known, why."""
    if not listeners:
        return None, "no listener of it is in the plan"
    found: list[tuple[str, PortRange | None]] = []
    for lis in listeners:
        if lis.groups is None:
            return None, "a listener's target groups cannot be followed"
        for name in lis.groups:
            tg = groups.get(name)
            if tg is None:
                return None, f"target group {name} is not in the plan"
            if tg.targets is None and tg.why:
                return None, tg.why
            if not tg.targets:
                return None, (
                    f"target group {tg.address} has no attachment in the plan (an Auto Scaling "
                    "group or a service may register its targets)"
                )
            found += [(h, None if p is None else (p, p)) for h, p in tg.targets]
    return tuple(sorted(set(found), key=lambda t: (t[0], t[1] or (-1, -1)))), ""


def load_balancers(
    b: Builder, instances: list[Instance], every_subnet: list[str], every_group: list[str]
) -> list[LoadBalancer]:
    """The plan's load balancers (one side's), with their targets where known."""
    listeners = _listeners(b)
    groups = _groups(b, instances)
    out: list[LoadBalancer] = []
    for res in _of(b, _LB):
        lid = b.own_id(res)
        internal, unk = b.value(res, res.values, res.unknown, "internal")
        if unk:
            b.note(res, "internal unknown until apply: read as internet-facing")
        kind, unk_kind = b.value(res, res.values, res.unknown, "load_balancer_type")
        if unk_kind:
            b.note(res, "load_balancer_type unknown until apply: read as network (its "
                   "targets may see the clients' addresses)")  # fmt: skip
        kind = "network" if unk_kind else kind if isinstance(kind, str) and kind else "application"
        subnets, lost = b.ids(res, res.values, res.unknown, "subnets")
        for mapping, marks in _blocks(b, res, "subnet_mapping")[0]:
            more, lost_one = b.ids(res, mapping, marks, "subnet_id", "subnet_mapping")
            subnets, lost = [*subnets, *more], lost or lost_one
        if lost or not subnets:
            b.note(res, "subnets unknown until apply: in every subnet of the plan")
            subnets = [*subnets, *every_subnet]
        sgs, lost_sg = b.ids(res, res.values, res.unknown, "security_groups")
        if lost_sg:
            b.note(res, "security_groups unknown until apply: a member of every group")
            sgs = [*sgs, *every_group]
        mine = [lis for lis in listeners.values() if lid in lis.balancers]
        ports = [lis.port for lis in mine]
        targets, why = _targets(mine, groups)
        name, _ = b.value(res, res.values, res.unknown, "name")
        shown = f"{res.address} ({name})" if isinstance(name, str) and name else res.address
        out.append(
            LoadBalancer(
                lid,
                shown,
                internal is True and not unk,
                kind,
                tuple(dict.fromkeys(subnets)),
                tuple(dict.fromkeys(sgs)),
                res.source,
                targets,
                None if not ports or None in ports else tuple(p for p in ports if p is not None),
                f"its targets are not known ({why})" if targets is None else "",
            )
        )
    return out
