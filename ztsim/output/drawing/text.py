"""An attack plan drawn with box characters for a terminal (the TUI's path detail).

:func:`draw_plan` draws a :class:`~ztsim.output.drawing.picture.PlanPicture`
(the plan described without geometry, re-exported here): zones as rounded
frames, hosts in them, arrows labelled ``STEP TECHNIQUE`` with the service below,
an external destination in a frame ``external`` with its FQDN or CIDR block,
wrapped into bands that fit ``width`` cells.  Under a policy that blocks the plan,
the blocking step is marked ``✗`` with the rule, and the steps after it are dimmed.

Example (plain text of the lines at 76 cells, blocked at step 3; names escaped
with :func:`ztsim.model.textsafe.safe` and measured in terminal cells, so wide
characters keep the frames aligned)::

    ╭─ internet ────────╮           ╭─ dmz ──────╮
    │ internet-attacker ├─2 T1190──▶│ portal-web ├─…
    │ 1 enter           │ 443/tcp   │            │
    ╰───────────────────╯           ╰────────────╯
                ╭─ app ─────────────────────────╮
    …─3 T1210──✗│ api-01                        ├─…
      8081/tcp  │ 4 T1552 steal db-app-password │
      ✗ default │                               │
                ╰───────────────────────────────╯

(the exact output is pinned by ``tests/test_drawing_text.py``).

Layout: nodes in the order the plan first reaches them; consecutive nodes of one
zone share a frame.  The arrow before a node is the step that first reached it;
when that step starts from another place than the node drawn before it, the arrow
says ``from SOURCE``.  A network step into a place drawn earlier is written as a
note on that place.  Bands break between nodes, greedily; a band may hold a single
node, so a node's names and its arrow's lines are capped to fit one band with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.text import Text

from ztsim.model.textsafe import safe
from ztsim.output.drawing.picture import (
    Edge,
    Node,
    Note,
    PlanPicture,
    picture_of,
    plan_picture,
)

__all__ = [
    "Edge",
    "Node",
    "Note",
    "PlanDrawing",
    "PlanPicture",
    "draw_plan",
    "picture_of",
    "plain",
    "plan_picture",
]

#: What a note says a step did, before its subject (a credential or data item).
VERBS = {
    "enter": "enter",
    "escalate": "escalate to root",
    "steal": "steal",
    "sniff": "sniff",
    "collect": "collect",
    "tamper": "tamper",
    "exploit": "exploit",
    "login": "log in",
}

#: The narrowest drawing: below it, the drawing is the one at this width (lines
#: wider than asked), so a step number and a technique id (``99 T1565.001``) are
#: never cut.
MIN_WIDTH = 44
#: The most cells the arrow's lines get when half the width is too little for
#: them (``from SOURCE``, a rule), as long as the band still fits.
GAP_WANT = 18
#: A band holding one node, beyond that node's names and its arrow's lines: the
#: lead ``…``, the arrow's margins (2), the frame's sides (4), the mark ``─…``.
LONE = 9

# Styles (rich style names): the renderer's only look.
FRAME = "blue"
ZONE = "bold blue"
NODE = "bold"
NUMBER = "bold"
TECHNIQUE = "cyan"
DIM = "dim"
BLOCK = "bold green"


# --------------------------------------------------------------------------- drawing

Span = tuple[str, str]
#: One block of the drawing (a frame or the gap between two): its rows of spans.
Rows = list[list[Span]]


def _fit(text: str, width: int) -> str:
    """``text`` escaped, cut to ``width`` cells with ``…`` when longer."""
    text = safe(text)
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, max(width - 1, 0)).rstrip() + "…"


#: A CIDR block's pieces: groups with the separator after them (``::`` kept whole).
_BLOCK_PIECE = re.compile(r"[^:.]*(?:::?|\.)|[^:.]+")


def _wrap_block(block: str, width: int) -> list[str]:
    """A CIDR block escaped and on as many lines of ``width`` cells as it needs.

    Broken after a ``:`` or ``.`` (never inside ``::``), the prefix length kept
    with the last group: a cut block would name other addresses.
    """
    address, slash, length = safe(block).partition("/")
    pieces = _BLOCK_PIECE.findall(address) or [""]
    pieces[-1] += slash + length
    lines = [""]
    for piece in pieces:
        if lines[-1] and cell_len(lines[-1] + piece) > width:
            lines.append("")
        lines[-1] += piece
    # a piece wider than a line is no canonical block: cut, as names are
    return [_fit(line, width) for line in lines]


def _width(spans: Iterable[Span]) -> int:
    return sum(cell_len(t) for t, _ in spans)


def _pad(spans: list[Span], width: int, fill: str = " ", style: str = "") -> list[Span]:
    """``spans`` filled to ``width`` cells with ``fill``."""
    short = width - _width(spans)
    return [*spans, (fill * short, style)] if short > 0 else spans


@dataclass(frozen=True)
class _Gap:
    """The arrow before a node, and the lines under it."""

    arrow: list[Span]
    under: list[list[Span]]

    @property
    def width(self) -> int:
        return max([_width(self.arrow) + 1, *(_width(u) + 2 for u in self.under)])


class _Drawer:
    """Draws one picture at one width, under one verdict."""

    def __init__(self, pic: PlanPicture, width: int, blocked: int | None, rule: str | None):
        width = max(width, MIN_WIDTH)
        self.pic = pic
        self.width = width
        self.blocked = blocked
        self.rule = rule or "?"
        # a node and the arrow into it each get about half the width; a band may
        # hold that node alone, so the two caps plus LONE never exceed the width
        # (the arrow's floor used to, by one cell at 44); at MIN_WIDTH the arrow
        # still gets 17 cells, enough for a 3-digit step and a technique id
        half = (width - 8) // 2
        self.node_cap = half
        self.gap_cap = max(half - 4, min(GAP_WANT, width - LONE - half))
        self.incoming: dict[int, Edge] = {e.target: e for e in pic.edges if e.first}

    def style(self, step: int, style: str) -> str:
        """``style``, dimmed for a step after the block."""
        return DIM if self.blocked is not None and step > self.blocked else style

    def label(self, number: int, technique: str | None, rest: str, cap: int) -> list[Span]:
        """``NUMBER TECHNIQUE rest``, cut to ``cap`` cells."""
        head = f"{number} "
        spans: list[Span] = [(head, self.style(number, NUMBER))]
        used = cell_len(head)
        if technique:
            tech = _fit(technique, cap - used)
            spans.append((tech, self.style(number, TECHNIQUE)))
            used += cell_len(tech)
        if rest and used + 2 <= cap:
            gap = " " if technique else ""
            spans.append((gap + _fit(rest, cap - used - len(gap)), self.style(number, "")))
        return spans

    def mark(self, number: int) -> list[Span]:
        """``✗ RULE`` when step ``number`` is the one blocked, else nothing."""
        if number != self.blocked:
            return []
        return [("✗ " + _fit(self.rule, self.gap_cap - 2), BLOCK)]

    # ------------------------------------------------------------------ content

    def title(self, i: int) -> str:
        """The title of the frame node ``i`` is in: its zone, or ``external``."""
        zone = self.pic.nodes[i].zone
        return _fit(zone if zone is not None else "external", self.node_cap - 1)

    def node_lines(self, i: int) -> list[list[Span]]:
        """The lines inside the frame for node ``i``: its name, detail and notes."""
        node = self.pic.nodes[i]
        cap = self.node_cap
        lines: list[list[Span]] = [[(_fit(node.label, cap), self.style(node.step, NODE))]]
        if node.detail:
            lines.append([(_fit(node.detail, cap), DIM)])
        if node.block:
            lines.extend([[(part, DIM)] for part in _wrap_block(node.block, cap)])
        notes = [n for n in self.pic.notes if n.node == i]
        items: list[tuple[int, str | None, str]] = [
            (n.step, n.technique, " ".join(x for x in (VERBS.get(n.kind, n.kind), n.subject) if x))
            for n in notes
        ]
        # a network step into a place drawn earlier is told on that place
        for e in self.pic.edges:
            if e.target == i and not e.first:
                src = "" if e.source is None else f" from {self.pic.nodes[e.source].label}"
                items.append((e.step, e.technique, f"{VERBS.get(e.kind, e.kind)}{src}"))
        for number, technique, rest in sorted(items, key=lambda x: x[0]):
            line = self.label(number, technique, rest, cap)
            mark = self.mark(number)
            if mark and _width(line) + 1 + _width(mark) <= cap:
                line = [*line, (" ", ""), *mark]
            elif mark:
                lines.append(line)
                line = [(_fit("  " + mark[0][0], cap), BLOCK)]
            lines.append(line)
        return lines

    def gap(self, i: int, previous: int | None) -> _Gap | None:
        """The arrow into node ``i`` (None when no step first reaches it)."""
        e = self.incoming.get(i)
        if e is None:
            return None
        cap = self.gap_cap
        spans = self.label(e.step, e.technique, "" if e.technique else e.kind, cap - 2)
        blocked = e.step == self.blocked
        head = [("─", self.style(e.step, FRAME)), *spans]
        arrow = [*head, ("─✗" if blocked else "─▶", BLOCK if blocked else self.style(e.step, ""))]
        under: list[list[Span]] = []
        if e.service:
            under.append([(_fit(e.service, cap), self.style(e.step, DIM))])
        if e.source is not None and e.source != previous:
            src = self.pic.nodes[e.source].label
            under.append([(_fit(f"from {src}", cap), self.style(e.step, ""))])
        elif e.source is None:
            under.append([("from elsewhere", self.style(e.step, DIM))])
        mark = self.mark(e.step)
        if mark:
            under.append(mark)
        return _Gap(arrow, under)

    # ------------------------------------------------------------------ layout

    def bands(self) -> list[list[int]]:
        """Nodes split into bands that fit the width (greedily, between nodes)."""
        out: list[list[int]] = []
        band: list[int] = []
        used = 0
        for i, node in enumerate(self.pic.nodes):
            content = max(_width(line) for line in self.node_lines(i))
            content = max(content, cell_len(self.title(i)) + 1)
            g = self.gap(i, i - 1)
            gw = g.width if g else 1
            same = bool(band) and self.pic.nodes[band[-1]].zone == node.zone
            if not band:
                cost = (1 + gw if i else 0) + 4 + content
            elif same:
                cost = 1 + gw + 1 + content
            else:
                cost = gw + 4 + content
            more = 2 if i + 1 < len(self.pic.nodes) else 0
            if band and used + cost + more > self.width:
                out.append(band)
                band, used = [], 0
                cost = 1 + gw + 4 + content
            band.append(i)
            used += cost
        if band:
            out.append(band)
        return out

    def draw(self) -> list[Text]:
        """Every band's rows, as rich text."""
        lines: list[Text] = []
        bands = self.bands()
        for n, band in enumerate(bands):
            lines.extend(self.band(band, first=n == 0, last=n == len(bands) - 1))
        return lines

    def band(self, band: list[int], *, first: bool, last: bool) -> list[Text]:
        """One band: frames of consecutive same-zone nodes, arrows between them."""
        contents = {i: self.node_lines(i) for i in band}
        gaps = {i: self.gap(i, i - 1) for i in band}
        inner = max(
            [len(contents[i]) for i in band]
            + [1 + len(g.under) for g in gaps.values() if g is not None]
        )
        height = inner + 2
        blocks: list[Rows] = []
        # frames: runs of one zone
        runs: list[list[int]] = []
        for i in band:
            if runs and self.pic.nodes[runs[-1][-1]].zone == self.pic.nodes[i].zone:
                runs[-1].append(i)
            else:
                runs.append([i])
        for r, run in enumerate(runs):
            g = gaps[run[0]]
            if r == 0 and not first:
                blocks.append(self.gap_rows(g, height, lead="…"))
            elif r > 0:
                blocks.append(self.gap_rows(g, height))
            blocks.append(self.frame(run, contents, gaps, height, out=r + 1 < len(runs)))
        if not last:
            blocks.append([[("─…", FRAME)] if row == 1 else [] for row in range(height)])
            blocks[-2][1][-1] = (" ├", FRAME)
        return [self.join(blocks, row) for row in range(height)]

    def gap_rows(self, g: _Gap | None, height: int, lead: str = "") -> Rows:
        """The arrow between two frames (or opening a band after ``lead``)."""
        w = (g.width if g else 1) + cell_len(lead)
        rows: Rows = [[] for _ in range(height)]
        if g is None:
            rows[1] = [(lead + " ", FRAME)]
        else:
            arrow = [(lead, FRAME), *g.arrow[:-1]] if lead else g.arrow[:-1]
            rows[1] = [*_pad(arrow, w - cell_len(g.arrow[-1][0]), "─", FRAME), g.arrow[-1]]
            for k, u in enumerate(g.under):
                rows[2 + k] = [(" " * (cell_len(lead) + 1), ""), *u]
        return [_pad(row, w) for row in rows]

    def frame(
        self,
        run: list[int],
        contents: dict[int, list[list[Span]]],
        gaps: dict[int, _Gap | None],
        height: int,
        *,
        out: bool,
    ) -> Rows:
        """A zone's frame around ``run`` (its nodes, with arrows between them inside)."""
        cols: list[Rows] = []
        for k, i in enumerate(run):
            if k:
                g = gaps[i]
                inner = self.gap_rows(g, height)[1 : height - 1]
                cols.append([[(" ", ""), *row, (" ", "")] for row in inner])
            lines = contents[i]
            w = max(_width(line) for line in lines)
            cols.append(
                [
                    _pad(lines[r], w) if r < len(lines) else [(" " * w, "")]
                    for r in range(height - 2)
                ]
            )
        inner_w = sum(_width(c[0]) for c in cols)
        title = self.title(run[0])
        inner_w = max(inner_w, cell_len(title) + 1)
        top: list[Span] = [("╭─ ", FRAME), (title, ZONE), (" ", FRAME)]
        top = [*_pad(top, inner_w + 3, "─", FRAME), ("╮", FRAME)]
        rows: Rows = [top]
        for r in range(height - 2):
            body: list[Span] = [s for c in cols for s in c[r]]
            right = "├" if out and r == 0 else "│"
            rows.append([("│ ", FRAME), *_pad(body, inner_w), (" " + right, FRAME)])
        rows.append([("╰", FRAME), ("─" * (inner_w + 2), FRAME), ("╯", FRAME)])
        return rows

    @staticmethod
    def join(blocks: list[Rows], row: int) -> Text:
        """Row ``row`` of every block, side by side, without trailing spaces."""
        text = Text()
        for block in blocks:
            for t, style in block[row]:
                text.append(t, style or None)
        text.rstrip()
        return text


def draw_plan(
    picture: PlanPicture, width: int, *, blocked: int | None = None, rule: str | None = None
) -> list[Text]:
    """``picture`` drawn with box characters in at most ``width`` cells a line.

    ``blocked`` is the number of the step a policy blocks (marked ``✗`` with
    ``rule``); the steps after it are dimmed.  Same picture, width and verdict,
    same lines.  Names are escaped and cut with ``…`` to fit (about half the
    width each: a rule id of up to 28 cells shows whole on 80 columns); step
    numbers (up to three digits) and technique ids are never cut.  From
    :data:`MIN_WIDTH` (44) cells on, no line is wider than ``width``; below it the
    drawing is the one at :data:`MIN_WIDTH`, so its lines may be up to 44 cells
    wide (:class:`PlanDrawing` crops them to the pane).
    """
    if not picture.nodes:
        return []
    return _Drawer(picture, width, blocked, rule).draw()


def plain(lines: Iterable[Text]) -> str:
    """The lines as plain text (tests, exports)."""
    return "\n".join(t.plain for t in lines)


class PlanDrawing:
    """A rich renderable: :func:`draw_plan` at the width it is given (a terminal, a pane).

    Drawn again at each render, so a pane that is resized shows the bands that fit.
    """

    def __init__(
        self, picture: PlanPicture, *, blocked: int | None = None, rule: str | None = None
    ) -> None:
        self.picture = picture
        self.blocked = blocked
        self.rule = rule

    def lines(self, width: int) -> list[Text]:
        """The drawing's lines at ``width`` cells."""
        return draw_plan(self.picture, width, blocked=self.blocked, rule=self.rule)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Each line of the drawing, never wrapped (they fit from 44 cells; cropped below)."""
        for line in self.lines(options.max_width):
            line.no_wrap = True
            line.overflow = "crop"
            yield line

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        """As wide as it is given: the drawing wraps into bands to fit."""
        return Measurement(min(24, options.max_width), options.max_width)
