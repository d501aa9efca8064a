"""Which endpoints a connectivity map covers: the ``--from`` and ``--to`` selectors of
``ztsim reach``.

A selector is terms joined by commas, all of which must match (AND):

* ``zone:NAME`` a host in zone NAME, or the external zone NAME itself (a source);
* ``host:ID`` the host ID;
* ``label:KEY=VALUE`` a host labelled KEY=VALUE (the first ``=`` splits);
* ``external:ID`` the external destination ID (a destination).

Several selectors for one side (the option repeated) mean any of them (OR).  A
selector is refused (``ValueError``, a usage error) when a term is malformed, names
a zone, host, label or external destination the topology lacks, or when the
whole selector matches no endpoint on its side: a typo must not read as "nothing
is allowed".  Matching follows the policy selectors' rule that only a zone can
match an external zone (:func:`ztsim.model.matching.selector_matches_zone`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ztsim.inputs.loaded import LoadedTopology
from ztsim.model.schema import Host

__all__ = ["KINDS", "EndpointSelector", "Scope", "Side"]

#: The kinds of term a selector may hold, in the order messages list them.
KINDS = ("zone", "host", "label", "external")

#: Which end of a connection a selector picks.
Side = Literal["from", "to"]


@dataclass(frozen=True)
class EndpointSelector:
    """One ``--from`` or ``--to`` value: terms that must all match."""

    text: str
    zones: frozenset[str]
    hosts: frozenset[str]
    labels: frozenset[tuple[str, str]]
    externals: frozenset[str]

    @classmethod
    def parse(cls, text: str) -> EndpointSelector:
        """Read a selector, e.g. ``zone:dmz,label:tier=web``.

        >>> EndpointSelector.parse("zone:dmz, label:tier=web").labels
        frozenset({('tier', 'web')})
        >>> EndpointSelector.parse("zone")
        Traceback (most recent call last):
        ...
        ValueError: term 'zone' is not KIND:VALUE (kinds: zone, host, label, external)
        """
        found: dict[str, set[str]] = {k: set() for k in KINDS}
        pairs: set[tuple[str, str]] = set()
        for raw in text.split(","):
            term = raw.strip()
            if not term:
                raise ValueError("empty term: write KIND:VALUE terms joined by commas")
            kind, sep, value = term.partition(":")
            kind = kind.strip().lower()
            value = value.strip()
            if not sep or kind not in found:
                raise ValueError(f"term {term!r} is not KIND:VALUE (kinds: {', '.join(KINDS)})")
            if not value:
                raise ValueError(f"term {term!r} names no {kind}")
            if kind == "label":
                key, eq, val = value.partition("=")
                if not eq or not key.strip():
                    raise ValueError(f"term {term!r}: write label:KEY=VALUE")
                pairs.add((key.strip(), val.strip()))
            else:
                found[kind].add(value)
        return cls(
            text,
            frozenset(found["zone"]),
            frozenset(found["host"]),
            frozenset(pairs),
            frozenset(found["external"]),
        )

    def matches_host(self, host: Host) -> bool:
        """Whether a host meets every term (an ``external:`` term matches no host)."""
        if self.externals:
            return False
        if self.zones and self.zones != {host.zone}:
            return False
        if self.hosts and self.hosts != {host.id}:
            return False
        return all(host.labels.get(k) == v for k, v in self.labels)

    def matches_zone(self, zone: str) -> bool:
        """Whether an external zone (a source) meets every term: zone terms only."""
        if self.hosts or self.labels or self.externals:
            return False
        return self.zones == {zone}

    def matches_external(self, destination: str) -> bool:
        """Whether an external destination meets every term: ``external:`` terms only."""
        if self.zones or self.hosts or self.labels:
            return False
        return self.externals == {destination}

    def unknown(self, topology: LoadedTopology) -> list[str]:
        """What the selector names that the topology lacks, one message each."""
        out = [f"no zone {z!r} in the topology" for z in sorted(self.zones - topology.zones.keys())]
        out += [
            f"no host {h!r} in the topology" for h in sorted(self.hosts - topology.hosts.keys())
        ]
        out += [
            f"no external destination {e!r} in the topology"
            for e in sorted(self.externals - topology.destinations.keys())
        ]
        groups = topology.host_groups.by_label
        out += [
            f"no host labelled {k}={v} in the topology"
            for k, v in sorted(self.labels - groups.keys())
        ]
        return out


@dataclass(frozen=True)
class Scope:
    """The endpoints a map covers: sources and destinations meeting any of their
    selectors (every one when a side has none)."""

    sources: tuple[EndpointSelector, ...] = ()
    targets: tuple[EndpointSelector, ...] = ()

    @classmethod
    def parse(cls, sources: Sequence[str], targets: Sequence[str]) -> Scope:
        """Read the ``--from`` and ``--to`` values (``ValueError`` naming the bad one)."""
        return cls(_parse_all("from", sources), _parse_all("to", targets))

    def problems(self, topology: LoadedTopology) -> list[str]:
        """Why the scope does not fit ``topology`` (unknown names, empty sides)."""
        out: list[str] = []
        sides: tuple[tuple[Side, tuple[EndpointSelector, ...], str], ...] = (
            ("from", self.sources, "source (a host or an external zone)"),
            ("to", self.targets, "destination (a host or an external destination)"),
        )
        for side, sels, what in sides:
            for sel in sels:
                missing = sel.unknown(topology)
                out += [f"--{side} {sel.text!r}: {m}" for m in missing]
                if not missing and not _any_endpoint(sel, side, topology):
                    out.append(f"--{side} {sel.text!r} matches no {what}")
        return out

    def source_hosts(self, topology: LoadedTopology) -> list[str]:
        """The hosts the map takes as sources, in file order."""
        return _hosts(self.sources, topology)

    def target_hosts(self, topology: LoadedTopology) -> list[str]:
        """The hosts the map takes as destinations, in file order."""
        return _hosts(self.targets, topology)

    def source_zones(self, topology: LoadedTopology) -> list[str]:
        """The external zones the map takes as sources, in file order."""
        zones = [z.id for z in topology.model.zones if z.external]
        if not self.sources:
            return zones
        return [z for z in zones if any(s.matches_zone(z) for s in self.sources)]

    def target_externals(self, topology: LoadedTopology) -> list[str]:
        """The external destinations the map takes as destinations, in file order."""
        ids = list(topology.destinations)
        if not self.targets:
            return ids
        return [e for e in ids if any(s.matches_external(e) for s in self.targets)]


def _parse_all(side: Side, texts: Sequence[str]) -> tuple[EndpointSelector, ...]:
    out = []
    for text in texts:
        try:
            out.append(EndpointSelector.parse(text))
        except ValueError as exc:
            raise ValueError(f"--{side} {text!r}: {exc}") from None
    return tuple(out)


def _hosts(selectors: Sequence[EndpointSelector], topology: LoadedTopology) -> list[str]:
    if not selectors:
        return list(topology.hosts)
    return [h.id for h in topology.hosts.values() if any(s.matches_host(h) for s in selectors)]


def _any_endpoint(sel: EndpointSelector, side: Side, topology: LoadedTopology) -> bool:
    """Whether ``sel`` matches some endpoint on its side."""
    if any(sel.matches_host(h) for h in topology.hosts.values()):
        return True
    if side == "from":
        return any(sel.matches_zone(z) for z in topology.external_zones)
    return any(sel.matches_external(e) for e in topology.destinations)
