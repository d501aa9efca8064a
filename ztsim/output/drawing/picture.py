"""An attack plan described for drawing, without any geometry (renderer-neutral).

:func:`plan_picture` lists the places a plan reaches left to right
(:class:`Node`: the entry, hosts, the exfiltration target), the zone each sits in,
the network steps between them (:class:`Edge`, with step number, ATT&CK id and
service) and the steps taken on a place (:class:`Note`: escalate, steal, sniff,
collect, tamper...).  :mod:`ztsim.output.drawing.text` draws it for a terminal;
an SVG or HTML renderer can draw the same description.

An external destination is a node outside any zone, with its FQDN as
``detail`` or, for one given by CIDR (model v1.1), its block as ``block``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ztsim.engine.steps import Step

if TYPE_CHECKING:
    from ztsim.inputs.loaded import LoadedTopology

__all__ = [
    "EDGE_KINDS",
    "Edge",
    "Node",
    "Note",
    "PlanPicture",
    "picture_of",
    "plan_picture",
]

#: Steps that cross the network from one place to another (drawn as arrows).
EDGE_KINDS = frozenset({"exploit", "login", "exfiltrate", "exfiltrate-direct"})


@dataclass(frozen=True)
class Node:
    """A place the plan reaches: the entry, a host, or where the data goes out.

    ``zone`` is the frame it is drawn in (a host's zone, an external zone
    itself); None for an external destination (drawn in a frame ``external``).
    ``detail`` is a second line (a destination's FQDN); ``block`` a destination's
    CIDR block (model v1.1: every address in it, the attacker picks one).
    """

    id: str
    label: str
    zone: str | None
    step: int
    detail: str | None = None
    block: str | None = None


@dataclass(frozen=True)
class Edge:
    """A network step from node ``source`` to node ``target`` (indexes into the nodes).

    ``source`` is None when the step starts from no place drawn (it does not
    happen in plans the engine extracts, but the renderer copes).  ``first`` says
    the step is the one that first reaches its target.
    """

    step: int
    kind: str
    technique: str | None
    source: int | None
    target: int
    service: str | None
    first: bool


@dataclass(frozen=True)
class Note:
    """A step taken on node ``node``: ``subject`` is what it acts on, if anything."""

    step: int
    kind: str
    technique: str | None
    node: int
    subject: str | None = None


@dataclass(frozen=True)
class PlanPicture:
    """A plan described for drawing: places left to right, arrows, notes."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    notes: tuple[Note, ...]

    @property
    def steps(self) -> int:
        """The number of steps described (every step is one edge or one note)."""
        return len(self.edges) + len(self.notes)


# --------------------------------------------------------------------------- description


def plan_picture(
    steps: Sequence[Step],
    entry: str,
    zone_of: Mapping[str, str],
    destinations: Mapping[str, str | None] | None = None,
) -> PlanPicture:
    """Describe a plan's ``steps`` for drawing (see the module's docstring).

    ``entry`` is the entry point's id (the label of the first place when the plan
    starts in an external zone); ``zone_of`` maps host ids to their zone;
    ``destinations`` maps external destination ids to their address: an FQDN
    (``detail``), a CIDR block (an address with a ``/``, which no FQDN has:
    ``block``) or None.  Anything a step names that is neither a host nor a
    destination is an external zone.  :func:`picture_of` builds the mappings from
    a loaded topology.
    """
    dests = destinations or {}
    nodes: list[Node] = []
    index: dict[str, int] = {}
    edges: list[Edge] = []
    notes: list[Note] = []

    def place(key: str, node: Node) -> int:
        nodes.append(node)
        index[key] = len(nodes) - 1
        return len(nodes) - 1

    def node_for(name: str, number: int, label: str | None = None) -> Node:
        if name in dests:
            address = dests[name]
            if address is not None and "/" in address:
                return Node(name, label or name, None, number, block=address)
            return Node(name, label or name, None, number, address)
        return Node(name, label or name, zone_of.get(name, name), number)

    for number, st in enumerate(steps, 1):
        if st.kind == "enter":
            target = st.target or entry
            # a zone entry is drawn as the entry point standing in that zone
            label = entry if target not in zone_of else target
            at = index.get(target)
            if at is None:
                at = place(target, node_for(target, number, label))
            notes.append(Note(number, st.kind, st.technique, at))
            continue
        if st.kind in EDGE_KINDS and st.target is not None:
            source = index.get(st.source or "")
            out = st.kind.startswith("exfiltrate")
            # where the data goes is drawn last, even when it is the entry's own zone
            key = f"\0out:{st.target}" if out else st.target
            at = index.get(key)
            first = at is None
            if at is None:
                at = place(key, node_for(st.target, number))
            edges.append(Edge(number, st.kind, st.technique, source, at, st.service, first))
            continue
        host = st.host if st.host in index else st.source
        at = index.get(host or "")
        if at is None:
            at = place(host or "?", node_for(host or "?", number))
        subject = None if st.kind == "escalate" else st.target
        notes.append(Note(number, st.kind, st.technique, at, subject))
    return PlanPicture(tuple(nodes), tuple(edges), tuple(notes))


def picture_of(steps: Sequence[Step], entry: str, topology: LoadedTopology) -> PlanPicture:
    """:func:`plan_picture` with the zones and destinations of ``topology``."""
    zones = {h: host.zone for h, host in topology.hosts.items()}
    dests = {d: e.address for d, e in topology.destinations.items()}
    return plan_picture(steps, entry, zones, dests)
