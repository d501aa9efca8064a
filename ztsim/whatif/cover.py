"""Which rules earlier rules fully cover, whatever the topology (for ``ztsim lint``).

A rule is *shadowed* when everything it matches is matched by earlier rules of its
section, so first-match never lets it decide.  The check is syntactic and sound
(it never calls a live rule dead): a selector covers another when every
constraint it states is implied by the other's (a superset of its zone list; a
subset of its host list; a subset of its labels), host and zone lists are split so
several earlier rules may cover one host or zone each, and services are compared as
port intervals per protocol, so ``1-1000/tcp`` and ``1001-2000/tcp`` together cover
``900-1100/tcp``.  Egress destinations compare by FQDN pattern (``*.b`` covers
``x.b`` and ``*.x.b``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ztsim.model.matching import pattern_covers
from ztsim.model.schema import EgressRule, SegmentationRule
from ztsim.model.selectors import Selector, expressions_key
from ztsim.model.services import PortRange

__all__ = [
    "Shadow",
    "egress_shadowing",
    "segmentation_shadowing",
    "selector_covers",
    "service_space",
    "space_covers",
]

PROTOS = ("icmp", "sctp", "tcp", "udp")
Space = dict[str, list[tuple[int, int]]]


def service_space(ranges: Iterable[PortRange]) -> Space:
    """Merged port intervals per protocol (``any`` expands to every protocol)."""
    raw: dict[str, list[tuple[int, int]]] = {p: [] for p in PROTOS}
    for r in ranges:
        for p in PROTOS if r.proto == "*" else (r.proto,):
            raw.setdefault(p, []).append((r.low, r.high))
    out: Space = {}
    for p, ivs in raw.items():
        merged: list[tuple[int, int]] = []
        for lo, hi in sorted(ivs):
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        if merged:
            out[p] = merged
    return out


def space_covers(outer: Space, inner: Space) -> bool:
    """Whether every port of ``inner`` is in ``outer``."""
    for p, ivs in inner.items():
        have = outer.get(p, [])
        for lo, hi in ivs:
            if not any(a <= lo and hi <= b for a, b in have):
                return False
    return True


def _intersects(a: Space, b: Space) -> bool:
    return any(
        lo <= bh and blo <= hi for p, ivs in a.items() for lo, hi in ivs for blo, bh in b.get(p, [])
    )


def selector_covers(a: Selector, b: Selector) -> bool:
    """Whether ``a`` matches everything ``b`` matches (syntactically).

    >>> selector_covers(Selector(zone="app"), Selector(zone="app", labels={"tier": "api"}))
    True
    """
    if a.zone is not None and not (b.zone is not None and set(b.zone) <= set(a.zone)):
        return False
    if a.host and not (b.host and set(b.host) <= set(a.host)):
        return False
    if a.labels and not (b.labels and a.labels.items() <= b.labels.items()):
        return False
    return _expressions_cover(a, b)


def _expressions_cover(a: Selector, b: Selector) -> bool:
    """Whether ``a``'s label expressions (model v1.1) hold wherever ``b``'s do: when
    ``b`` repeats each of them (sufficient, so no rule is ever called dead wrongly)."""
    if not a.labels_match:
        return True
    return set(expressions_key(a) or ()) <= set(expressions_key(b) or ())


#: At most this many atoms per selector: past it, zone lists stay whole (still
#: sound: a rule is then only called dead when one earlier rule covers each piece).
MAX_ATOMS = 4096


def _atoms(sel: Selector) -> list[Selector]:
    """A selector with a host list or a zone list as one selector per host and per
    zone (their union)."""
    hosts = list(dict.fromkeys(sel.host)) if sel.host else [None]
    zones = list(dict.fromkeys(sel.zone)) if sel.zone else [None]
    if len(zones) * len(hosts) > MAX_ATOMS:
        zones = [None]
    if len(hosts) < 2 and len(zones) < 2:
        return [sel]
    return [
        sel.model_copy(
            update={
                **({"host": [h]} if h is not None else {}),
                **({"zone": [z]} if z is not None else {}),
            }
        )
        for z in zones
        for h in hosts
    ]


@dataclass(frozen=True)
class Shadow:
    """Rule ``index`` never decides: ``by`` are the earlier rules that cover it."""

    index: int
    by: tuple[int, ...]
    duplicate_of: int | None
    conflicting: bool  # some covering rule has the other action


def _canon(sel: Selector) -> tuple[object, ...]:
    return (
        tuple(sorted(set(sel.zone))) if sel.zone else None,
        tuple(sorted(sel.host or ())),
        tuple(sorted((sel.labels or {}).items())),
        tuple(sorted(set(expressions_key(sel) or ()))),
    )


RuleT = TypeVar("RuleT", SegmentationRule, EgressRule)


def _shadowing(
    rules: Sequence[RuleT],
    to_atoms: Callable[[RuleT], Sequence[Any]],
    to_covers: Callable[[RuleT, Any], bool],
    to_canon: Callable[[RuleT], object],
) -> dict[int, Shadow]:
    """Rules that earlier rules cover entirely: every (source atom, `to` atom) pair of
    rule ``j`` is covered by earlier rules whose services together span rule ``j``'s.

    ``to_atoms`` splits a rule's `to` into pieces, ``to_covers(rule, atom)`` says
    whether an earlier rule's `to` covers one, ``to_canon`` names a `to` for
    duplicate detection.
    """
    spaces = [service_space(r.ranges) for r in rules]
    canon = [(_canon(r.source), to_canon(r), repr(spaces[i])) for i, r in enumerate(rules)]
    first: dict[tuple[object, ...], int] = {}
    out: dict[int, Shadow] = {}
    for j, rj in enumerate(rules):
        seen_at = first.setdefault(canon[j], j)
        dup = None if seen_at == j else seen_at
        by: set[int] = set()
        covered = True
        for fa in _atoms(rj.source):
            for ta in to_atoms(rj):
                cover = [
                    i
                    for i in range(j)
                    if selector_covers(rules[i].source, fa) and to_covers(rules[i], ta)
                ]
                union = service_space(rg for i in cover for rg in rules[i].ranges)
                if not space_covers(union, spaces[j]):
                    covered = False
                    break
                by.update(i for i in cover if _intersects(spaces[i], spaces[j]))
            if not covered:
                break
        if covered and j > 0:
            conflicting = any(rules[i].action != rj.action for i in by)
            out[j] = Shadow(j, tuple(sorted(by)), dup, conflicting)
    return out


def segmentation_shadowing(rules: Sequence[SegmentationRule]) -> dict[int, Shadow]:
    """Shadowed segmentation rules, by index."""
    return _shadowing(
        rules,
        lambda r: _atoms(r.to),
        lambda r, atom: selector_covers(r.to, atom),
        lambda r: _canon(r.to),
    )


def egress_shadowing(rules: Sequence[EgressRule]) -> dict[int, Shadow]:
    """Shadowed egress rules, by index."""
    return _shadowing(
        rules,
        lambda r: r.to,
        lambda r, pattern: any(pattern_covers(p, pattern) for p in r.to),
        lambda r: tuple(sorted(str(p) for p in r.to)),
    )
