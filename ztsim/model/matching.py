"""What a selector and an egress pattern match (spec §4): the model's own semantics.

Pure functions of the model's types.  Here, below every layer that reads or judges
files, because both the engine (:mod:`ztsim.engine.decisions`,
:mod:`ztsim.engine.compiled`, plan verdicts) and the loader of assertion files
(:mod:`ztsim.inputs.assertions`, which warns of selectors that match nothing) apply
them.  The engine's hot loops use set forms of the same tests
(:func:`ztsim.engine.decisions.selector_sets`).
"""

from __future__ import annotations

from ztsim.model.schema import Host
from ztsim.model.selectors import Selector

__all__ = ["fqdn_covers", "selector_matches_host", "selector_matches_zone"]


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
