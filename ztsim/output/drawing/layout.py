"""A layered (Sugiyama-style) layout, left to right, with lanes drawn as frames.

Hand-written rather than taken from a library: grandalf (the pure-Python
Sugiyama implementation on PyPI) has had no release since 2023 and knows no
clusters, networkx's ``multipartite_layout`` places layers but does not reduce
crossings, and Graphviz is an external binary the report must not need.  What the
attack pictures need is small (tens of nodes) and specific: every node belongs to a
*lane* (a zone), lanes are horizontal bands that never overlap, and an edge's label
is a box of its own that no node may cover.  The classic four phases do it:

1. **Cycle removal**: a depth-first search in the caller's node order; an edge to a
   node still on the stack is reversed for the layout (and drawn back the right way).
2. **Layering**: longest path from the sources.  Nodes sit on even ranks; an edge
   spanning several ranks gets a virtual node on each rank between, its label box on
   the first of them (Graphviz does the same), so labels take space like nodes.
3. **Ordering**: barycenter sweeps, down then up, reorder the nodes of each rank
   within their lane (lanes keep the caller's order).
4. **Coordinates**: each rank is a column as wide as its widest box; each lane is a
   band as tall as its tallest column; a column's boxes are stacked and centred in
   their band, so a chain of single nodes in one lane is a straight line.

Everything is deterministic: ties are broken by the caller's order, never by a hash.

>>> nodes = [Node("a", 40, 20, "z"), Node("b", 40, 20, "z")]
>>> lay = layered_layout(nodes, [Edge("a", "b", 30, 10)])
>>> lay.boxes["a"].x < lay.boxes["b"].x
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

__all__ = ["Box", "Edge", "Layout", "Node", "Route", "layered_layout"]


@dataclass(frozen=True)
class Box:
    """A rectangle: top-left corner, width and height."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        """The x of the right side."""
        return self.x + self.w

    @property
    def bottom(self) -> float:
        """The y of the bottom side."""
        return self.y + self.h

    @property
    def cy(self) -> float:
        """The y of the centre."""
        return self.y + self.h / 2

    def overlaps(self, other: Box) -> bool:
        """Whether the two rectangles share inner points (touching sides do not)."""
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )


@dataclass(frozen=True)
class Node:
    """A node to place: its key, its box's size and its lane."""

    key: str
    width: float
    height: float
    lane: str


@dataclass(frozen=True)
class Edge:
    """An edge ``source -> target``; with a label size, its label gets a box."""

    source: str
    target: str
    label_width: float = 0.0
    label_height: float = 0.0

    @property
    def labelled(self) -> bool:
        """Whether the edge has a label box."""
        return self.label_width > 0 and self.label_height > 0


@dataclass(frozen=True)
class Route:
    """Where one edge is drawn: its points from source to target, and its label box."""

    edge: Edge
    points: tuple[tuple[float, float], ...]
    label: Box | None
    #: Indexes of ``points`` where the pen lifts and a new piece starts: a folded
    #: drawing's edge leaves one row at its right side and enters the next at its left.
    breaks: tuple[int, ...] = ()


@dataclass
class Layout:
    """The result: a box per node, a route per edge, a frame per lane, the size."""

    boxes: dict[str, Box]
    routes: list[Route]
    lanes: list[tuple[str, Box]]
    width: float
    height: float
    ranks: dict[str, int] = field(default_factory=dict)


@dataclass
class _Slot:
    """A box on a rank: a node, an edge's label, or a bend of a long edge."""

    key: str
    lane: str
    width: float
    height: float
    rank: int
    order: int  # the caller's order: ties broken by it
    preds: list[_Slot] = field(default_factory=list)
    succs: list[_Slot] = field(default_factory=list)
    y: float = 0.0


#: Spacing, in pixels: between rank columns, between boxes of a column, between
#: lanes, inside a lane's frame, above its title, and around the drawing.
RANK_GAP = 22.0
ROW_GAP = 12.0
LANE_GAP = 14.0
LANE_PAD = 10.0
LANE_TITLE = 18.0
MARGIN = 4.0
#: Between the rows of a folded drawing.
FOLD_GAP = 28.0


def _orient(keys: Sequence[str], edges: Sequence[Edge]) -> list[bool]:
    """For each edge, whether the layout reverses it (a back edge of a DFS in key order)."""
    out: dict[str, list[int]] = {k: [] for k in keys}
    for i, e in enumerate(edges):
        out[e.source].append(i)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    reverse = [False] * len(edges)
    for root in keys:
        if root in state:
            continue
        state[root] = 1
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, nxt = stack[-1]
            if nxt < len(out[node]):
                stack[-1] = (node, nxt + 1)
                i = out[node][nxt]
                target = edges[i].target
                seen = state.get(target)
                if seen == 1:
                    reverse[i] = True
                elif seen is None:
                    state[target] = 1
                    stack.append((target, 0))
            else:
                state[node] = 2
                stack.pop()
    return reverse


def _layers(keys: Sequence[str], pairs: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering of an acyclic graph (Kahn's order, ties by key order)."""
    index = {k: i for i, k in enumerate(keys)}
    indeg = dict.fromkeys(keys, 0)
    succ: dict[str, list[str]] = {k: [] for k in keys}
    for u, v in pairs:
        succ[u].append(v)
        indeg[v] += 1
    layer = dict.fromkeys(keys, 0)
    ready = sorted((k for k in keys if indeg[k] == 0), key=index.__getitem__)
    while ready:
        u = ready.pop(0)
        for v in succ[u]:
            layer[v] = max(layer[v], layer[u] + 1)
            indeg[v] -= 1
            if indeg[v] == 0:
                ready.append(v)
                ready.sort(key=index.__getitem__)
    return layer


def _sweep(ranks: list[list[_Slot]], lane_index: dict[str, int], rounds: int = 4) -> None:
    """Barycenter sweeps: reorder each rank's slots within their lane."""

    def reorder(rank: list[_Slot], neighbours: str) -> None:
        position = {}
        for r in ranks:
            for i, s in enumerate(r):
                position[id(s)] = i
        current = {id(s): i for i, s in enumerate(rank)}

        def key(s: _Slot) -> tuple[int, float, int]:
            near = s.preds if neighbours == "preds" else s.succs
            # no neighbour on that side: keep its place
            bary = sum(position[id(n)] for n in near) / len(near) if near else float(current[id(s)])
            return (lane_index[s.lane], bary, current[id(s)])

        rank.sort(key=key)

    for _ in range(rounds):
        for rank in ranks[1:]:
            reorder(rank, "preds")
        for rank in reversed(ranks[:-1]):
            reorder(rank, "succs")


def _fold(col_w: Sequence[float], max_width: float | None) -> list[tuple[int, int]]:
    """The rank columns in rows ``(first, last)``, each no wider than ``max_width``.

    >>> _fold([100.0] * 5, None)
    [(0, 4)]
    >>> _fold([100.0] * 5, 300)
    [(0, 1), (2, 3), (4, 4)]
    """
    if not col_w:
        return [(0, -1)]
    frame = 2 * (MARGIN + LANE_PAD)
    rows: list[tuple[int, int]] = []
    first, used = 0, col_w[0]
    for r in range(1, len(col_w)):
        if max_width is not None and used + RANK_GAP + col_w[r] + frame > max_width:
            rows.append((first, r - 1))
            first, used = r, col_w[r]
        else:
            used += RANK_GAP + col_w[r]
    rows.append((first, len(col_w) - 1))
    return rows


def _check(nodes: Sequence[Node], edges: Sequence[Edge]) -> None:
    """Refuse duplicate keys, self-loops and edges naming an unknown node."""
    keys = [n.key for n in nodes]
    if len(set(keys)) != len(keys):
        raise ValueError("node keys must be unique")
    known = set(keys)
    for e in edges:
        if e.source == e.target:
            raise ValueError(f"self-loop on {e.source!r}")
        if e.source not in known or e.target not in known:
            raise ValueError(f"edge {e.source!r} -> {e.target!r} names an unknown node")


def _chains(
    nodes: Sequence[Node], edges: Sequence[Edge], pairs: Sequence[tuple[str, str]]
) -> tuple[dict[str, _Slot], list[list[_Slot]]]:
    """A slot per node on its rank, and per edge the chain of slots it passes: a bend
    on each rank between its ends, its label's box on the first (Graphviz does so)."""
    keys = [n.key for n in nodes]
    layer = _layers(keys, pairs)
    slots = {
        n.key: _Slot(n.key, n.lane, n.width, n.height, 2 * layer[n.key], i)
        for i, n in enumerate(nodes)
    }
    chains: list[list[_Slot]] = []
    order = len(nodes)
    for i, (e, (u, v)) in enumerate(zip(edges, pairs, strict=True)):
        chain = [slots[u]]
        for r in range(slots[u].rank + 1, slots[v].rank):
            first = r == slots[u].rank + 1 and e.labelled
            w, h = (e.label_width, e.label_height) if first else (0.0, 0.0)
            chain.append(_Slot(f"\0{i}:{r}", slots[u].lane, w, h, r, order))
            order += 1
        chain.append(slots[v])
        for a, b in pairwise(chain):
            a.succs.append(b)
            b.preds.append(a)
        chains.append(chain)
    return slots, chains


@dataclass
class _Columns:
    """Where each rank's column is: its x, its width, the row of a folded drawing."""

    x: list[float]
    w: list[float]
    row: list[int]
    rows: list[tuple[int, int]]
    width: float

    def box(self, s: _Slot) -> Box:
        """The slot's box, centred in its column."""
        return Box(
            self.x[s.rank] + (self.w[s.rank] - s.width) / 2, s.y, s.width, max(s.height, 2.0)
        )


def _columns(ranks: list[list[_Slot]], max_width: float | None) -> _Columns:
    """x: one column per rank, as wide as its widest box, in rows when folded."""
    col_w = [max([s.width for s in rank] + [0.0]) for rank in ranks]
    rows = _fold(col_w, max_width)
    col_x: list[float] = []
    row_of: list[int] = []
    width = 0.0
    for n, (lo, hi) in enumerate(rows):
        x = MARGIN + LANE_PAD
        for r in range(lo, hi + 1):
            col_x.append(x)
            row_of.append(n)
            x += col_w[r] + RANK_GAP
        width = max(width, x - RANK_GAP + LANE_PAD + MARGIN)
    return _Columns(col_x, col_w, row_of, rows, width)


def _stack_height(cells: list[_Slot]) -> float:
    return sum(max(s.height, 2.0) for s in cells) + ROW_GAP * max(0, len(cells) - 1)


def _place_lane(
    here: list[list[_Slot]], name: str, cols: _Columns, y: float
) -> tuple[Box | None, float]:
    """Stack one lane's slots of a row of columns from ``y``, centred in its band: the
    band's frame (None when only long edges cross it there) and the next lane's y."""
    stacks = [[s for s in rank if s.lane == name] for rank in here]
    inner = max(_stack_height(cells) for cells in stacks)
    members = [s for cells in stacks for s in cells if s.width > 0]
    top = y + LANE_TITLE + LANE_PAD if members else y
    for cells in stacks:
        cy = top + (inner - _stack_height(cells)) / 2
        for s in cells:
            s.y = cy
            cy += max(s.height, 2.0) + ROW_GAP
    if not members:  # a lane that only long edges cross in this row: their bends
        return None, y + inner + LANE_GAP
    left = min(cols.x[s.rank] + (cols.w[s.rank] - s.width) / 2 for s in members)
    right = max(cols.x[s.rank] + (cols.w[s.rank] + s.width) / 2 for s in members)
    band = Box(left - LANE_PAD, y, right - left + 2 * LANE_PAD, LANE_TITLE + inner + 2 * LANE_PAD)
    return band, band.bottom + LANE_GAP


def _place(
    ranks: list[list[_Slot]], lane_order: Sequence[str], cols: _Columns
) -> tuple[list[tuple[str, Box]], float]:
    """y: per row, per lane, the tallest stack of any column; the lanes' frames and
    the drawing's height."""
    lane_boxes: list[tuple[str, Box]] = []
    y = MARGIN
    for lo, hi in cols.rows:
        here = ranks[lo : hi + 1]
        used = [name for name in lane_order if any(s.lane == name for r in here for s in r)]
        for name in used:
            band, y = _place_lane(here, name, cols, y)
            if band is not None:
                lane_boxes.append((name, band))
        y += FOLD_GAP - LANE_GAP
    return lane_boxes, y - FOLD_GAP + MARGIN


def _route(e: Edge, rev: bool, chain: list[_Slot], cols: _Columns) -> Route:
    """The edge's points through its chain (back the right way when reversed)."""
    points: list[tuple[float, float]] = []
    breaks: list[int] = []
    label: Box | None = None
    for j, s in enumerate(chain):
        bx = cols.box(s)
        if j and cols.row[s.rank] != cols.row[chain[j - 1].rank]:
            # off the right side of its row, in again at the left of the next
            points.append((cols.width - MARGIN, points[-1][1]))
            breaks.append(len(points))
            points.append((MARGIN, bx.cy))
        if j == 0:
            points.append((bx.right, bx.cy))
        elif j == len(chain) - 1:
            points.append((bx.x, bx.cy))
        elif s.width > 0:
            label = bx
            points += [(bx.x, bx.cy), (bx.right, bx.cy)]
        else:
            points.append((bx.x + bx.w / 2, bx.cy))
    if rev:
        points.reverse()
        breaks = [len(points) - i for i in reversed(breaks)]
    return Route(e, tuple(points), label, tuple(breaks))


def layered_layout(
    nodes: Sequence[Node],
    edges: Sequence[Edge],
    lanes: Sequence[str] | None = None,
    max_width: float | None = None,
) -> Layout:
    """Place ``nodes`` left to right along ``edges``, each in its lane's band.

    ``lanes`` orders the bands top to bottom (default: in order of each lane's first
    node).  With ``max_width``, a drawing wider than that is *folded* like a line of
    text: its rank columns go in rows, each as wide as fits (a column wider than
    ``max_width`` alone makes a row of its own), one row under the other, each row
    with its own lanes; an edge crossing to the next row leaves its row at the right
    and enters the next at the left (:attr:`Route.breaks`).  A self-loop is refused
    (``ValueError``): the callers draw none.
    """
    _check(nodes, edges)
    lane_order = list(dict.fromkeys([*(lanes or ()), *(n.lane for n in nodes)]))
    lane_index = {name: i for i, name in enumerate(lane_order)}
    reverse = _orient([n.key for n in nodes], edges)
    pairs = [
        (e.target, e.source) if r else (e.source, e.target)
        for e, r in zip(edges, reverse, strict=True)
    ]
    slots, chains = _chains(nodes, edges, pairs)
    n_ranks = 1 + max([s.rank for c in chains for s in c] + [s.rank for s in slots.values()])
    ranks: list[list[_Slot]] = [[] for _ in range(n_ranks)]
    for s in [*slots.values(), *(s for c in chains for s in c[1:-1])]:
        ranks[s.rank].append(s)
    for rank in ranks:
        rank.sort(key=lambda s: (lane_index[s.lane], s.order))
    _sweep(ranks, lane_index)
    cols = _columns(ranks, max_width)
    lane_boxes, height = _place(ranks, lane_order, cols)
    boxes = {k: cols.box(s) for k, s in slots.items()}
    routes = [_route(e, rev, c, cols) for e, rev, c in zip(edges, reverse, chains, strict=True)]
    ranks_of = {k: s.rank for k, s in slots.items()}
    return Layout(boxes, routes, lane_boxes, cols.width, height, ranks_of)
