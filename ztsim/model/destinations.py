"""External destinations' addresses: FQDN patterns and CIDR blocks (model v1.1, section 4).

An external destination is named by an FQDN (``api.example.com``, ``*.example.com``)
or, in model v1.1, by a CIDR block (``203.0.113.0/24``).  An egress rule's ``to``
lists FQDN patterns, ``*``, and CIDR patterns, each perhaps with ``except``
ranges (Kubernetes' ``ipBlock``, AdminNetworkPolicy's ``networks``).

A block stands for every address in it: the attacker picks one.  Address sets are
kept as sorted, disjoint, inclusive integer intervals of one IP version
(:data:`Intervals`), so that "the addresses of a block no rule has decided yet"
is exact interval arithmetic (:func:`subtract`, :func:`intersect`), never a walk
over addresses (a ``/8`` holds 16 million, an IPv6 ``/64`` 2**64).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from pydantic import Field, StrictStr, field_validator, model_validator

from ztsim.model.fields import FrozenModel

__all__ = [
    "FQDN_RE",
    "CidrPattern",
    "Intervals",
    "Network",
    "block_intervals",
    "intersect",
    "is_cidr_text",
    "parse_network",
    "subtract",
    "union",
]

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?"
#: An exact host name or ``*.suffix`` (external destinations, egress rules' ``to``).
FQDN_RE = re.compile(rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})*$")

#: An IPv4 or IPv6 network.
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
#: A set of addresses of one IP version: (version, sorted disjoint inclusive intervals).
Intervals = tuple[int, tuple[tuple[int, int], ...]]


def is_cidr_text(text: str) -> bool:
    """Whether a ``to`` string is written as a CIDR block (it has a ``/``; an FQDN
    never has one, so every v1 pattern reads as before).

    >>> is_cidr_text("10.0.0.0/8"), is_cidr_text("10.0.0.1"), is_cidr_text("*.example")
    (True, False, False)
    """
    return "/" in text


def parse_network(text: object) -> str:
    """A CIDR block, checked and written canonically (``2001:DB8::/32`` ->
    ``2001:db8::/32``).  Host bits are refused: ``10.0.0.1/8`` is a typo for a host
    or for ``10.0.0.0/8``, and reading it either way could change a verdict.

    >>> parse_network("2001:DB8::/32")
    '2001:db8::/32'
    """
    if not isinstance(text, str):
        raise ValueError(f"a CIDR block is text (`10.0.0.0/8`), not {text!r}")
    if "/" not in text:
        raise ValueError(f"{text!r} is not a CIDR block: write it with its prefix (`{text}/32`)")
    try:
        return str(ipaddress.ip_network(text.strip(), strict=True))
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a CIDR block ({exc})") from None


def _network(text: str) -> Network:
    return ipaddress.ip_network(text)


def block_intervals(cidr: str, excepted: list[str] | tuple[str, ...] = ()) -> Intervals:
    """The addresses of a CIDR block less ``excepted`` blocks, as intervals.

    >>> block_intervals("10.0.0.0/30", ["10.0.0.1/32"])
    (4, ((167772160, 167772160), (167772162, 167772163)))
    """
    net = _network(cidr)
    whole: Intervals = (net.version, ((int(net.network_address), int(net.broadcast_address)),))
    for e in excepted:
        en = _network(e)
        if en.version == net.version:
            whole = subtract(
                whole, (en.version, ((int(en.network_address), int(en.broadcast_address)),))
            )
    return whole


def intersect(a: Intervals, b: Intervals) -> Intervals:
    """The addresses in both ``a`` and ``b`` (none when their IP versions differ).

    >>> intersect((4, ((0, 10), (20, 30))), (4, ((5, 25),)))
    (4, ((5, 10), (20, 25)))
    """
    if a[0] != b[0]:
        return (a[0], ())
    out: list[tuple[int, int]] = []
    xs, ys = a[1], b[1]
    i = j = 0
    while i < len(xs) and j < len(ys):
        lo = max(xs[i][0], ys[j][0])
        hi = min(xs[i][1], ys[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return (a[0], tuple(out))


def union(parts: list[Intervals], version: int) -> Intervals:
    """The addresses in any of ``parts`` (all of IP ``version``).

    >>> union([(4, ((5, 9),)), (4, ((0, 2), (3, 4)))], 4)
    (4, ((0, 9),))
    """
    spans = sorted(x for p in parts for x in p[1])
    out: list[tuple[int, int]] = []
    for lo, hi in spans:
        if out and lo <= out[-1][1] + 1:
            if hi > out[-1][1]:
                out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return (version, tuple(out))


def subtract(a: Intervals, b: Intervals) -> Intervals:
    """The addresses in ``a`` and not in ``b``.

    >>> subtract((4, ((0, 10),)), (4, ((3, 4), (8, 20))))
    (4, ((0, 2), (5, 7)))
    """
    if a[0] != b[0] or not b[1]:
        return a
    out: list[tuple[int, int]] = []
    ys = b[1]
    for lo, hi in a[1]:
        cur = lo
        for ylo, yhi in ys:
            if yhi < cur:
                continue
            if ylo > hi:
                break
            if ylo > cur:
                out.append((cur, ylo - 1))
            cur = max(cur, yhi + 1)
            if cur > hi:
                break
        if cur <= hi:
            out.append((cur, hi))
    return (a[0], tuple(out))


class CidrPattern(FrozenModel):
    """A CIDR pattern of an egress rule's ``to`` (model v1.1): the addresses of
    ``cidr`` less those of every ``except`` block (Kubernetes' ``ipBlock``)."""

    cidr: StrictStr
    excepted: list[StrictStr] = Field(default_factory=list, alias="except")

    @field_validator("cidr", mode="before")
    @classmethod
    def _cidr(cls, value: Any) -> Any:
        return parse_network(value)

    @field_validator("excepted", mode="before")
    @classmethod
    def _excepted(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("blank value: list the excepted blocks, or omit the key")
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            return [parse_network(v) for v in value]
        return value

    @model_validator(mode="after")
    def _inside(self) -> CidrPattern:
        net = _network(self.cidr)
        for e in self.excepted:
            en = _network(e)
            if en.version != net.version or not en.subnet_of(net):  # type: ignore[arg-type]
                raise ValueError(f"except {e} is not inside {self.cidr}")
        return self

    @property
    def intervals(self) -> Intervals:
        """The addresses the pattern covers."""
        return block_intervals(self.cidr, self.excepted)

    def __str__(self) -> str:
        """The pattern as tables show it.

        >>> str(CidrPattern.model_validate({"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}))
        '10.0.0.0/8 except 10.1.0.0/16'
        """
        if not self.excepted:
            return self.cidr
        return f"{self.cidr} except {','.join(self.excepted)}"
