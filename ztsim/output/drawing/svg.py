"""A figure (boxes of text, labelled arrows, lanes) laid out and written as SVG.

Text is set in a monospace font so its width is known without font files: every
character is :data:`CHAR_WIDTH` of the font size (two for wide East Asian
characters), a little more than common monospace fonts need, so text never
overflows its box.  Every string from a user file goes through :func:`text` (control
and bidi characters escaped by :func:`ztsim.model.textsafe.safe`, then XML-escaped),
and is cut to a bounded length (the whole name stays in the box's tooltip).
The same figure gives the same bytes: coordinates are rounded to one decimal.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ztsim.model.textsafe import safe
from ztsim.output.drawing.layout import Box, Edge, Layout, Node, layered_layout

__all__ = [
    "CHAR_WIDTH",
    "FOLD_WIDTH",
    "FigEdge",
    "FigNode",
    "Figure",
    "clip",
    "draw",
    "figure_layout",
    "render_svg",
    "text",
    "text_width",
    "wrap",
]

#: Width of one character, in units of the font size (monospace, with some slack).
CHAR_WIDTH = 0.62
NODE_FONT = 12.0
LABEL_FONT = 11.0
LINE = 1.3  # line height, in font sizes
PAD_X = 8.0
PAD_Y = 5.0


def text(value: str) -> str:
    """``value`` safe inside SVG or HTML text and attribute values."""
    return html.escape(safe(value), quote=True)


def _char_cells(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def text_width(value: str, size: float) -> float:
    """The width ``value`` takes in the monospace font at ``size`` (escaped as shown)."""
    return sum(_char_cells(c) for c in safe(value)) * CHAR_WIDTH * size


def clip(value: str, limit: int) -> str:
    """``value`` (escaped as shown) cut to ``limit`` cells, ``…`` marking a cut."""
    shown = safe(value)
    if sum(_char_cells(c) for c in shown) <= limit:
        return shown
    out, used = [], 0
    for c in shown:
        if used + _char_cells(c) > limit - 1:
            break
        out.append(c)
        used += _char_cells(c)
    return "".join(out) + "…"


def wrap(value: str, limit: int, max_lines: int = 3) -> list[str]:
    """``value`` in lines of at most ``limit`` cells, broken at spaces or ``/``."""
    words: list[str] = []
    for word in safe(value).split(" "):
        while len(word) > limit:  # a long path: break after a slash, else hard
            cut = word.rfind("/", 0, limit)
            cut = cut + 1 if cut > 0 else limit
            words.append(word[:cut])
            word = word[cut:]
        words.append(word)
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= limit and not lines[-1].endswith("/"):
            lines[-1] += " " + word
        elif lines and lines[-1].endswith("/") and len(lines[-1]) + len(word) <= limit:
            lines[-1] += word
        else:
            lines.append(word)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], clip(" ".join(lines[max_lines - 1 :]), limit)]
    return [clip(line, limit) for line in lines]


@dataclass(frozen=True)
class FigNode:
    """A box of text: lines (the first bold), CSS classes, a tooltip, a lane."""

    key: str
    lines: tuple[str, ...]
    lane: str
    css: str = "node"
    tooltip: str = ""


@dataclass(frozen=True)
class FigEdge:
    """An arrow; with lines, a label box on it. Lines may carry a CSS class each."""

    source: str
    target: str
    lines: tuple[tuple[str, str], ...] = ()
    css: str = "edge"
    tooltip: str = ""


@dataclass(frozen=True)
class Figure:
    """What to draw: nodes, edges, lanes in order with their titles."""

    ident: str
    title: str
    nodes: tuple[FigNode, ...]
    edges: tuple[FigEdge, ...]
    lanes: tuple[tuple[str, str], ...]  # (lane key, title)
    css: str = "figure"


def _size(lines: Sequence[str], size: float) -> tuple[float, float]:
    width = max((text_width(line, size) for line in lines), default=0.0)
    return width + 2 * PAD_X, len(lines) * size * LINE + 2 * PAD_Y


#: The widest a report's picture is drawn, in pixels: wider ones are folded in rows
#: (a laptop's screen at 1280 CSS pixels, less the page's margins, shows it whole).
FOLD_WIDTH = 1200.0


def figure_layout(fig: Figure, max_width: float | None = None) -> Layout:
    """The layered layout of ``fig`` (:func:`ztsim.output.drawing.layout.layered_layout`),
    folded in rows no wider than ``max_width`` when given."""
    nodes = [Node(n.key, *_size(n.lines, NODE_FONT), n.lane) for n in fig.nodes]
    edges = []
    for e in fig.edges:
        w, h = _size([t for t, _ in e.lines], LABEL_FONT) if e.lines else (0.0, 0.0)
        edges.append(Edge(e.source, e.target, w, h))
    return layered_layout(nodes, edges, [k for k, _ in fig.lanes], max_width)


def _n(v: float) -> str:
    """A coordinate, rounded to one decimal, without a trailing ``.0``."""
    s = f"{v:.1f}"
    return s[:-2] if s.endswith(".0") else s


def _path(points: Sequence[tuple[float, float]], breaks: Sequence[int] = ()) -> str:
    """A smooth path through ``points``: cubic curves leaving and entering horizontally;
    at each index of ``breaks`` the pen lifts (a new piece starts there)."""
    (x0, y0), rest = points[0], points[1:]
    d = [f"M{_n(x0)},{_n(y0)}"]
    for i, (x1, y1) in enumerate(rest, 1):
        if i in breaks:
            d.append(f"M{_n(x1)},{_n(y1)}")
        elif y1 == y0:
            d.append(f"L{_n(x1)},{_n(y1)}")
        else:
            dx = (x1 - x0) / 2
            d.append(f"C{_n(x0 + dx)},{_n(y0)} {_n(x1 - dx)},{_n(y1)} {_n(x1)},{_n(y1)}")
        x0, y0 = x1, y1
    return " ".join(d)


def _text_block(box: Box, lines: Sequence[tuple[str, str]], size: float) -> list[str]:
    out = []
    for i, (line, css) in enumerate(lines):
        y = box.y + PAD_Y + size * (LINE * i + 1.0)
        cls = f' class="{css}"' if css else ""
        out.append(f'<text x="{_n(box.x + PAD_X)}" y="{_n(y)}"{cls}>{text(line)}</text>')
    return out


def draw(fig: Figure, lay: Layout, *, standalone: bool = False) -> str:
    """``fig`` as one ``<svg>`` element (with its own style and XML header if ``standalone``)."""
    ident = "".join(c for c in fig.ident if c.isalnum() or c == "-") or "fig"
    marker = f"arrow-{ident}"
    lane_titles = dict(fig.lanes)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{fig.css}" '
        f'viewBox="0 0 {_n(lay.width)} {_n(lay.height)}" width="{_n(lay.width)}" '
        f'height="{_n(lay.height)}" role="img" aria-label="{text(fig.title)}" '
        f'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace">',
        f"<title>{text(fig.title)}</title>",
    ]
    if standalone:
        out.append(f"<style>{SVG_CSS}</style>")
    out.append(
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        'markerHeight="8" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" '
        'class="arrowhead"/></marker></defs>'
    )
    out.append('<g class="lanes">')
    for key, b in lay.lanes:
        title = clip(lane_titles.get(key, key), max(4, int((b.w - 8) / (CHAR_WIDTH * 11))))
        out.append(
            f'<rect class="lane" x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}" '
            f'height="{_n(b.h)}" rx="6"/>'
            f'<text class="lane-title" x="{_n(b.x + 6)}" y="{_n(b.y + 13)}">'
            f"{text(title)}</text>"
        )
    out.append("</g>")
    out.append('<g class="edges">')
    for e, route in zip(fig.edges, lay.routes, strict=True):
        tip = f"<title>{text(e.tooltip)}</title>" if e.tooltip else ""
        out.append(
            f'<path class="{e.css}" d="{_path(route.points, route.breaks)}" '
            f'marker-end="url(#{marker})">'
            f"{tip}</path>"
        )
    out.append("</g>")
    out.append('<g class="labels">')
    for e, route in zip(fig.edges, lay.routes, strict=True):
        if route.label is None:
            continue
        b = route.label
        tip = f"<title>{text(e.tooltip)}</title>" if e.tooltip else ""
        out.append(f'<g class="label {e.css}">{tip}')
        out.append(
            f'<rect x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}" height="{_n(b.h)}" rx="4"/>'
        )
        out += _text_block(b, e.lines, LABEL_FONT)
        out.append("</g>")
    out.append("</g>")
    out.append('<g class="nodes">')
    for n in fig.nodes:
        b = lay.boxes[n.key]
        tip = f"<title>{text(n.tooltip)}</title>" if n.tooltip else ""
        out.append(f'<g class="{n.css}">{tip}')
        out.append(
            f'<rect x="{_n(b.x)}" y="{_n(b.y)}" width="{_n(b.w)}" height="{_n(b.h)}" rx="5"/>'
        )
        lines = [(line, "name" if i == 0 else "") for i, line in enumerate(n.lines)]
        out += _text_block(b, lines, NODE_FONT)
        out.append("</g>")
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)


def render_svg(fig: Figure) -> str:
    """``fig`` as a standalone SVG document (``graph --format svg``)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        + draw(fig, figure_layout(fig, FOLD_WIDTH), standalone=True)
        + "\n"
    )


#: The drawing's style: inside a standalone SVG, and in the HTML report's stylesheet.
SVG_CSS = """
svg text{font-size:12px;fill:#1f2328}
.lane{fill:#f6f8fa;stroke:#d0d7de;stroke-width:1}
.lane-title{font-size:11px;fill:#57606a;font-style:italic}
.node rect{fill:#fff;stroke:#57606a;stroke-width:1.2}
.node text.name{font-weight:bold}
.node.entry rect{fill:#fff8c5;stroke:#9a6700}
.node.external rect{fill:#ffebe9;stroke:#cf222e}
.node.goal rect{fill:#ffebe9;stroke:#cf222e;stroke-width:2}
.node.cred rect{fill:#fbefff;stroke:#8250df}
.node.data rect{fill:#ddf4ff;stroke:#0969da}
path.edge{fill:none;stroke:#57606a;stroke-width:1.5}
path.edge.needs{stroke:#8c959f;stroke-dasharray:4 3;stroke-width:1}
path.edge.blocked{stroke:#1a7f37;stroke-width:2.5}
.arrowhead{fill:#57606a}
.label rect{fill:#fff;stroke:#d0d7de}
.label text{font-size:11px}
.label text.step{font-weight:bold}
.label.blocked rect{fill:#dafbe1;stroke:#1a7f37;stroke-width:1.5}
.label text.block{fill:#1a7f37;font-weight:bold}
.label text.where{fill:#1a7f37}
""".strip()
