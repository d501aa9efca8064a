"""Services and port ranges: ``443/tcp`` on a host, ``8000-8999/tcp`` or ``any`` in a rule.

Parsing is cached: a large estate names a few distinct services and service
lists many times over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, cast

__all__ = [
    "ANY_SERVICE",
    "PortRange",
    "Service",
    "TransportProtocol",
    "canonical_optional_service",
    "canonical_service",
    "parse_port_range",
    "parse_service",
    "port_ranges",
]

#: A transport protocol a service may name.
TransportProtocol = Literal["tcp", "udp", "sctp", "icmp"]

# ASCII digits only: ``\d`` and ``int()`` also take full-width or Arabic-Indic
# digits (``４４３/tcp``), which no firewall writes: an error, not a port.
_SERVICE_RE = re.compile(r"^([0-9]{1,5})/(tcp|udp|sctp|icmp)$")
_RANGE_RE = re.compile(r"^([0-9]{1,5})(?:-([0-9]{1,5}))?/(tcp|udp|sctp|icmp)$")


@dataclass(frozen=True, order=True)
class Service:
    """One concrete service, ``PORT/PROTO`` such as ``443/tcp``."""

    port: int
    proto: TransportProtocol

    def __str__(self) -> str:
        return f"{self.port}/{self.proto}"


@dataclass(frozen=True, order=True)
class PortRange:
    """A service set in a policy rule: ``LOW-HIGH/PROTO``, ``PORT/PROTO`` or any."""

    low: int
    high: int
    proto: TransportProtocol | Literal["*"]  # "*" for any

    def covers(self, service: Service) -> bool:
        """Return whether ``service`` falls in this range.

        >>> parse_port_range("8000-8999/tcp").covers(parse_service("8080/tcp"))
        True
        >>> ANY_SERVICE.covers(parse_service("53/udp"))
        True
        """
        return (self.proto == "*" or self.proto == service.proto) and (
            self.low <= service.port <= self.high
        )

    def __str__(self) -> str:
        if self.proto == "*":
            return "any"
        if self.low == self.high:
            return f"{self.low}/{self.proto}"
        return f"{self.low}-{self.high}/{self.proto}"


#: What an omitted ``services`` of a rule, or ``any``, means: every port of every protocol.
ANY_SERVICE = PortRange(0, 65535, "*")


@lru_cache(maxsize=4096)
def parse_service(text: str) -> Service:
    """Parse ``PORT/PROTO``.

    >>> parse_service("443/TCP")
    Service(port=443, proto='tcp')
    >>> parse_service("443")
    Traceback (most recent call last):
    ...
    ValueError: service '443' is not PORT/PROTO (e.g. 443/tcp, 53/udp)
    """
    match = _SERVICE_RE.match(text.strip().lower())
    if not match:
        raise ValueError(f"service {text!r} is not PORT/PROTO (e.g. 443/tcp, 53/udp)")
    port = int(match.group(1))
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} out of range 0-65535")
    return Service(port, cast(TransportProtocol, match.group(2)))


@lru_cache(maxsize=4096)
def canonical_service(text: str) -> str:
    """``text`` as :func:`parse_service` reads it, written canonically (``443/tcp``).

    Cached, and used as the services' field validator directly (no Python frame
    per service): a large topology names a few distinct services many times.

    >>> canonical_service(" 22/TCP ")
    '22/tcp'
    """
    return str(parse_service(text))


@lru_cache(maxsize=4096)
def canonical_optional_service(text: str | None) -> str | None:
    """:func:`canonical_service` of ``text``, or None for None (an optional field's validator)."""
    return None if text is None else canonical_service(text)


@lru_cache(maxsize=4096)
def parse_port_range(text: str) -> PortRange:
    """Parse a rule's service: ``PORT/PROTO``, ``LOW-HIGH/PROTO`` or ``any``.

    >>> parse_port_range("8000-8999/tcp")
    PortRange(low=8000, high=8999, proto='tcp')
    >>> str(parse_port_range("ANY")), str(parse_port_range("53/udp"))
    ('any', '53/udp')
    >>> parse_port_range("9-1/tcp")
    Traceback (most recent call last):
    ...
    ValueError: empty port range 9-1
    """
    lowered = text.strip().lower()
    if lowered == "any":
        return ANY_SERVICE
    match = _RANGE_RE.match(lowered)
    if not match:
        raise ValueError(
            f"service {text!r} is not PORT/PROTO, LOW-HIGH/PROTO or any (e.g. 8000-8999/tcp)"
        )
    low = int(match.group(1))
    high = int(match.group(2)) if match.group(2) else low
    if not (0 <= low <= 65535 and 0 <= high <= 65535):
        raise ValueError("port out of range 0-65535")
    if low > high:
        raise ValueError(f"empty port range {low}-{high}")
    return PortRange(low, high, cast(TransportProtocol, match.group(3)))


@lru_cache(maxsize=4096)
def port_ranges(services: tuple[str, ...] | None) -> tuple[PortRange, ...]:
    """A rule's services as ranges (None: any), once per distinct list.

    Thousands of rules repeat a few dozen lists, and each compilation asks every rule.

    >>> port_ranges(("22/tcp", "8000-8999/tcp"))
    (PortRange(low=22, high=22, proto='tcp'), PortRange(low=8000, high=8999, proto='tcp'))
    >>> port_ranges(None) == (ANY_SERVICE,)
    True
    """
    if services is None:
        return (ANY_SERVICE,)
    return tuple(parse_port_range(s) for s in services)
