"""The Topology tab's view: zones, hosts and what they hold, as short lines (no Textual)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from ztsim.inputs.loaded import LoadedTopology
from ztsim.model.schema import Host

__all__ = ["HostView", "HostViews", "TopologyView", "ZoneView", "topology_view"]


@dataclass(frozen=True)
class HostView:
    """A host and what the topology says about it, as short lines."""

    id: str
    zone: str
    labels: tuple[str, ...]
    services: tuple[str, ...]
    vulnerabilities: tuple[str, ...]
    credentials: tuple[str, ...]
    logins: tuple[str, ...]
    data: tuple[str, ...]


@dataclass(frozen=True)
class ZoneView:
    """A zone and the ids of its hosts."""

    id: str
    external: bool
    hosts: tuple[str, ...]


@dataclass(frozen=True)
class TopologyView:
    """The topology as the Topology tab shows it."""

    name: str
    path: str
    zones: tuple[ZoneView, ...]
    hosts: Mapping[str, HostView]
    destinations: tuple[str, ...]
    entry_points: tuple[str, ...]


def _host_view(h: Host) -> HostView:
    services = tuple(
        " ".join(
            x
            for x in (
                s.service,
                s.name or "",
                "public" if s.public else "",
                "encrypted" if s.encrypted else "plaintext",
            )
            if x
        )
        for s in h.services
    )
    vulns = tuple(
        f"{v.id} local -> {v.gives}" if v.local else f"{v.id} on {v.service} -> {v.gives}"
        for v in h.vulnerabilities
    )
    creds = tuple(f"{c.credential} (readable as {c.requires})" for c in h.credentials)
    logins = tuple(f"{lg.credential} on {lg.service} -> {lg.gives}" for lg in h.logins)
    data = tuple(
        f"{d.id}"
        + (f" [{d.classification}]" if d.classification else "")
        + (f" {d.records:,} records" if d.records is not None else "")
        + (f" via {d.service}" if d.service else f" needs {d.requires}")
        + (" integrity" if d.integrity else "")
        for d in h.data
    )
    labels = tuple(f"{k}={v}" for k, v in sorted(h.labels.items()))
    return HostView(h.id, h.zone, labels, services, vulns, creds, logins, data)


class HostViews(Mapping[str, HostView]):
    """The hosts' views by id, each built the first time it is asked for.

    The tab shows one host at a time; building the views of all hosts of a large
    estate was most of every reload.  Two are equal when their hosts are.
    """

    def __init__(self, hosts: Mapping[str, Host]) -> None:
        self._hosts = hosts
        self._views: dict[str, HostView] = {}

    def __getitem__(self, key: str) -> HostView:
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = _host_view(self._hosts[key])
        return view

    def __contains__(self, key: object) -> bool:
        return key in self._hosts

    def __iter__(self) -> Iterator[str]:
        return iter(self._hosts)

    def __len__(self) -> int:
        return len(self._hosts)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HostViews):
            return self._hosts is other._hosts or self._hosts == other._hosts
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]


#: The last view built, and what from: a reload that changed only policies gets the
#: very same view (the workspace hands back the same topology), so the tab stays.
_last: tuple[LoadedTopology, str, TopologyView] | None = None


def topology_view(topo: LoadedTopology, path: str) -> TopologyView:
    """The Topology tab's content (the same object again for the same topology)."""
    global _last
    last = _last
    if last is not None and last[0] is topo and last[1] == path:
        return last[2]
    by_zone: dict[str, list[str]] = {z: [] for z in topo.zones}
    for h in topo.model.hosts:
        by_zone.setdefault(h.zone, []).append(h.id)
    zones = tuple(
        ZoneView(z.id, z.external, tuple(by_zone.get(z.id, []))) for z in topo.model.zones
    )
    dests = tuple(
        f"{e.id} {e.address} ({e.role}) {', '.join(e.services)}" for e in topo.model.external
    )
    entries = tuple(
        f"{ep.id}: "
        + (f"zone {ep.zone}" if ep.zone else f"host {ep.host} as {ep.gives}")
        + (f", holding {', '.join(ep.credentials)}" if ep.credentials else "")
        for ep in topo.entry_points
    )
    view = TopologyView(topo.name, path, zones, HostViews(topo.hosts), dests, entries)
    _last = (topo, path, view)
    return view
