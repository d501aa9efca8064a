"""Port sets for the load balancers' rules: what several checks admit together.

A balancer's rules meet several answers of :func:`~ztsim.inputs.aws.compile_base.services_of`
(a security group rule's ports, what an ACL lets in, a target's port): each is a
:data:`Ports`, protocol to sorted, disjoint, inclusive port ranges.
"""

from __future__ import annotations

from collections.abc import Iterable

from ztsim.inputs.aws.compile_index import Balancer
from ztsim.inputs.aws.objects import PortRange
from ztsim.model.destinations import intersect
from ztsim.model.destinations import union as spans_union

__all__ = ["Ports", "meet", "port_set", "services_text", "target_sets", "union"]

#: protocol -> sorted, disjoint, inclusive port ranges.
Ports = dict[str, list[tuple[int, int]]]
_PROTOCOLS = ("tcp", "udp", "sctp", "icmp")
_ALL: Ports = {p: [(0, 65535)] for p in _PROTOCOLS}


def port_set(services: list[str] | bool | None) -> Ports:
    """A ``services_of`` answer (or a ``services`` list) as :data:`Ports`
    (``None``: every service; ``False``: none).

    >>> port_set(["80-90/tcp", "85-100/tcp", "53/udp"])
    {'tcp': [(80, 100)], 'udp': [(53, 53)]}
    """
    if services is None or services is True:
        return {p: list(r) for p, r in _ALL.items()}
    out: Ports = {}
    for s in services or ():
        ports, proto = s.split("/")
        low, _, high = ports.partition("-")
        out.setdefault(proto, []).append((int(low), int(high or low)))
    return {p: _merged(r) for p, r in out.items()}


def ranges_ports(ranges: Iterable[PortRange] | None) -> Ports:
    """Port ranges of any protocol (a listener's, a target's) as :data:`Ports`
    (``None``: every port)."""
    if ranges is None:
        return port_set(None)
    found = list(ranges)
    return {p: _merged(found) for p in _PROTOCOLS} if found else {}


def _merged(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ranges sorted, touching ones joined (the address intervals' union, reused)."""
    return list(spans_union([(0, tuple(ranges))], 0)[1])


def union(a: Ports, b: Ports) -> Ports:
    """The ports ``a`` or ``b`` holds."""
    return {p: _merged([*a.get(p, ()), *b.get(p, ())]) for p in sorted({*a, *b})}


def meet(a: Ports, b: Ports) -> Ports:
    """The ports both ``a`` and ``b`` hold.

    >>> meet(port_set(["0-100/tcp"]), port_set(["50-200/tcp", "53/udp"]))
    {'tcp': [(50, 100)]}
    """
    out: Ports = {}
    for p in sorted(set(a) & set(b)):
        # Both sorted and disjoint (as every Ports is): the address intervals' meet.
        got = intersect((0, tuple(a[p])), (0, tuple(b[p])))[1]
        if got:
            out[p] = list(got)
    return out


def services_text(ports: Ports) -> list[str] | None:
    """``ports`` as a rule's ``services`` (``None``: every service), by protocol
    in :data:`_PROTOCOLS`' order."""
    if ports == _ALL:
        return None
    return [
        f"{lo}/{p}" if lo == hi else f"{lo}-{hi}/{p}"
        for p in _PROTOCOLS
        for lo, hi in ports.get(p, ())
    ]


def target_sets(lb: Balancer) -> list[tuple[list[str] | None, Ports]]:
    """``lb``'s targets by port: (host ids, the ports it forwards to them on, any
    protocol); ``[(None, every port)]`` when its targets are not known."""
    if lb.targets is None:
        return [(None, port_set(None))]
    by_port: dict[PortRange | None, set[str]] = {}
    for host, port in lb.targets:
        by_port.setdefault(port, set()).add(host)
    ordered = sorted(by_port.items(), key=lambda kv: (kv[0] is not None, kv[0] or (0, 0)))
    return [(sorted(ids), ranges_ports(None if port is None else [port])) for port, ids in ordered]
