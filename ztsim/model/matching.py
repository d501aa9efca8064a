"""What a selector and an egress pattern match (spec §4): the model's own semantics.

Pure functions of the model's types.  Here, below every layer that reads or judges
files, because both the engine (:mod:`ztsim.engine.decisions`,
:mod:`ztsim.engine.compiled`, plan verdicts) and the loader of assertion files
(:mod:`ztsim.inputs.assertions`, which warns of selectors that match nothing) apply
them.  The engine's hot loops use set forms of the same tests
(:func:`ztsim.engine.decisions.selector_sets`).
"""

from __future__ import annotations

from ztsim.model.destinations import CidrPattern, block_intervals, intersect, subtract
from ztsim.model.schema import ExternalDestination, Host
from ztsim.model.selectors import Selector

__all__ = [
    "destination_covered",
    "destination_touched",
    "fqdn_covers",
    "pattern_covers",
    "selector_matches_host",
    "selector_matches_zone",
]


def fqdn_covers(pattern: str, destination: str) -> bool:
    """Whether an egress pattern covers a destination name (spec §4).

    ``*`` covers everything; ``a.b`` only ``a.b``; ``*.b`` any ``x.b``, ``*.x.b``
    and ``*.b``.  An exact pattern never covers a wildcard destination: the
    attacker would pick another name under it.

    >>> fqdn_covers("*.example", "*.files.example"), fqdn_covers("a.example", "*.example")
    (True, False)
    """
    p = pattern.lower()
    d = destination.lower()
    if p == "*":
        return True
    if p.startswith("*."):
        return d.endswith(p[1:])
    return p == d


def destination_covered(pattern: str | CidrPattern, dest: ExternalDestination) -> bool:
    """Whether an egress rule's ``to`` pattern covers every name or address ``dest``
    stands for (model v1.1: a CIDR pattern covers a CIDR destination it contains
    whole, its ``except`` blocks missing no part of it).  ``*`` covers everything;
    FQDN patterns never cover a CIDR destination, nor CIDR patterns an FQDN one.

    >>> d = ExternalDestination(id="n", cidr="10.1.0.0/16")
    >>> destination_covered(CidrPattern(cidr="10.0.0.0/8"), d), destination_covered("*", d)
    (True, True)
    """
    if pattern == "*":
        return True
    if isinstance(pattern, str):
        return dest.fqdn is not None and fqdn_covers(pattern, dest.fqdn)
    if dest.cidr is None:
        return False
    return not subtract(block_intervals(dest.cidr), pattern.intervals)[1]


def pattern_covers(pattern: str | CidrPattern, other: str | CidrPattern) -> bool:
    """Whether an egress ``to`` pattern covers everything another one does.

    >>> pattern_covers("*.example", "a.example"), pattern_covers("*", CidrPattern(cidr="::/0"))
    (True, True)
    """
    if pattern == "*":
        return True
    if isinstance(pattern, str) or isinstance(other, str):
        return isinstance(pattern, str) and isinstance(other, str) and fqdn_covers(pattern, other)
    return not subtract(other.intervals, pattern.intervals)[1]


def destination_touched(pattern: str | CidrPattern, dest: ExternalDestination) -> bool:
    """Whether an egress rule's ``to`` pattern covers some address of ``dest``: a
    CIDR pattern meeting part of a CIDR destination; otherwise as
    :func:`destination_covered` (a wildcard FQDN destination is one name to it).

    >>> d = ExternalDestination(id="n", cidr="10.0.0.0/8")
    >>> destination_touched(CidrPattern(cidr="10.1.0.0/16"), d)
    True
    """
    if isinstance(pattern, str) or dest.cidr is None:
        return destination_covered(pattern, dest)
    return bool(intersect(block_intervals(dest.cidr), pattern.intervals)[1])


def selector_matches_host(sel: Selector, host: Host) -> bool:
    """Whether ``sel`` matches ``host`` (every key given must match; a zone list: any zone)."""
    if sel.zone is not None and host.zone not in sel.zone:
        return False
    if sel.host and host.id not in sel.host:
        return False
    if sel.labels and any(host.labels.get(k) != v for k, v in sel.labels.items()):
        return False
    return not (sel.labels_match and not all(e.holds(host.labels) for e in sel.labels_match))


def selector_matches_zone(sel: Selector, zone: str) -> bool:
    """Whether ``sel`` matches an external zone (only ``zone`` or ``any`` can)."""
    if sel.host or sel.labels or sel.labels_match:
        return False
    return sel.zone is None or zone in sel.zone
