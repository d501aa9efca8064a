"""Blocks of terminal text drawn in one pass (box tables, styled lines), for large results.

rich's ``Table`` measures and wraps every cell through its renderable protocol:
on a large estate, ``ztsim check``'s goal tables (thousands of rows) took longer
to draw than the whole analysis after parsing (figures: ``benchmarks/README.md``).
:func:`box_table` draws the same box (rich's ``HEAVY_HEAD``: heavy header, light
body) with plain string work, and returns a rich renderable, so colour still
follows the console.

:class:`StyledLines` does the same for lines of one style each (``ztsim paths``
prints hundreds of thousands of them on such an estate).

Table layout: every column is as wide as its widest cell or header.  When the table is
wider than the console, the columns marked ``wrap`` are narrowed, widest first,
to one common width (the widest width that fits; never under
:data:`MIN_WRAP`), and their cells are wrapped at spaces, a word longer than
the column being cut.  Columns not marked ``wrap`` keep their width, so a table
of them may be wider than the console: the terminal then wraps, nothing is lost.

>>> print(box_table([Column("goal"), Column("cost", right=True)], [["x", "7"]], 80).plain)
┏━━━━━━┳━━━━━━┓
┃ goal ┃ cost ┃
┡━━━━━━╇━━━━━━┩
│ x    │    7 │
└──────┴──────┘
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

from ztsim.model.textsafe import safe

__all__ = ["MIN_WRAP", "BoxTable", "Cell", "Column", "StyledLines", "box_table", "wrap_cell"]

#: A wrapped column is never narrowed below this many characters.
MIN_WRAP = 8

#: A cell: its text, or its text and a rich style applied to that text.
Cell = str | tuple[str, str]

# top left, top rule, top joint, top right, header bar, header/body left, header/body
# rule, header/body joint, header/body right, body bar, bottom left, rule, joint, right
_UNICODE = ("┏", "━", "┳", "┓", "┃", "┡", "━", "╇", "┩", "│", "└", "─", "┴", "┘")
_ASCII = ("+", "-", "+", "+", "|", "+", "=", "+", "+", "|", "+", "-", "+", "+")


@dataclass(frozen=True)
class Column:
    """A column's header, alignment, and whether it may be narrowed and wrapped."""

    header: str
    right: bool = False
    wrap: bool = True


def _width(text: str) -> int:
    """Terminal cells taken by ``text`` (``len`` for ASCII, the common case)."""
    return len(text) if text.isascii() else cell_len(text)


def wrap_cell(text: str, width: int) -> list[str]:
    """``text`` wrapped at spaces into lines of at most ``width`` cells.

    A word longer than ``width`` is cut.  Spaces at a break are dropped; an empty
    text is one empty line.

    >>> wrap_cell("T1190 > T1210 > T1041", 14)
    ['T1190 > T1210', '> T1041']
    >>> wrap_cell("exfiltrate(payroll-records)", 10)
    ['exfiltrate', '(payroll-r', 'ecords)']
    """
    if _width(text) <= width:
        return [text]
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        if not word:
            continue
        while _width(word) > width:  # cut a word that cannot fit on any line
            if line:
                lines.append(line)
                line = ""
            cut = width
            while _width(word[:cut]) > width:  # wide characters
                cut -= 1
            lines.append(word[: max(cut, 1)])
            word = word[max(cut, 1) :]
        if not line:
            line = word
        elif _width(line) + 1 + _width(word) <= width:
            line = f"{line} {word}"
        else:
            lines.append(line)
            line = word
    if line or not lines:
        lines.append(line)
    return lines


def _fit(columns: Sequence[Column], natural: list[int], width: int) -> list[int]:
    """Column widths: ``natural``, the wrapped ones capped so the table fits ``width``."""
    room = (
        width
        - (3 * len(columns) + 1)
        - sum(n for c, n in zip(columns, natural, strict=True) if not c.wrap)
    )
    wrapped = [n for c, n in zip(columns, natural, strict=True) if c.wrap]
    if sum(wrapped) <= room:
        return natural
    # the widest cap whose wrapped columns fit in `room`: a water level, widest first
    lo, hi = MIN_WRAP, max(wrapped, default=MIN_WRAP)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(min(n, mid) for n in wrapped) <= room:
            lo = mid
        else:
            hi = mid - 1
    return [min(n, lo) if c.wrap else n for c, n in zip(columns, natural, strict=True)]


def _styles(console: Console) -> Callable[[str], Style]:
    """Style names parsed by ``console``, each once (a table names a few, thousands of times)."""
    known: dict[str, Style] = {}

    def style_of(name: str) -> Style:
        style = known.get(name)
        if style is None:
            style = known[name] = console.get_style(name)
        return style

    return style_of


class BoxTable:
    """A drawn table: its lines, and the styled stretches of them; a rich renderable.

    Printing it yields rich segments line by line, without going through
    :class:`~rich.text.Text` (whose line splitting is slow on lines of
    box-drawing characters), so a table of thousands of rows prints at once.
    Print it with ``soft_wrap=True``: otherwise rich crops the
    lines of a table wider than the console.
    """

    def __init__(self, lines: list[str], spans: list[tuple[int, int, int, str]]) -> None:
        #: The table's lines, without newlines.
        self.lines = lines
        #: ``(line, start, end, style)`` of each styled stretch, in order.
        self.spans = spans

    @property
    def plain(self) -> str:
        """The table as text, one line a row of the box, no final newline."""
        return "\n".join(self.lines)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """The lines as segments, each styled stretch in its style."""
        style_of = _styles(console)
        spans = iter(self.spans)
        span = next(spans, None)
        newline = Segment.line()
        for n, line in enumerate(self.lines):
            at = 0
            while span is not None and span[0] == n:
                _, start, end, name = span
                style = style_of(name)
                if start > at:
                    yield Segment(line[at:start])
                yield Segment(line[start:end], style)
                at = end
                span = next(spans, None)
            yield Segment(line[at:])
            yield newline


class StyledLines:
    """Lines of text, each in one style (or none); a rich renderable.

    Like :class:`BoxTable`, printed as segments without :class:`~rich.text.Text`'s
    line splitting, and with control characters escaped.  Print it with
    ``soft_wrap=True``: the terminal, not rich, then wraps long lines.

    >>> out = StyledLines()
    >>> out.add("== goal", "bold")
    >>> out.add("one\\ntwo\\x1b[2J")
    >>> print(out.plain)
    == goal
    one\\ntwo\\x1b[2J
    """

    def __init__(self) -> None:
        #: ``(text, style)`` of each line; ``""`` is no style.
        self.lines: list[tuple[str, str]] = []

    def add(self, text: str, style: str = "") -> None:
        """Add ``text`` in ``style`` as one line.

        Its lines hold user text (names): a newline in it is shown escaped (``\\n``),
        like every control character, so it can never start a line of its own.
        """
        self.lines.append((safe(text), style))

    @property
    def plain(self) -> str:
        """The lines as text, no final newline."""
        return "\n".join(text for text, _ in self.lines)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """Each line as one segment in its style."""
        style_of = _styles(console)
        newline = Segment.line()
        for text, name in self.lines:
            if name:
                yield Segment(text, style_of(name))
            elif text:
                yield Segment(text)
            yield newline


def box_table(
    columns: Sequence[Column],
    rows: Iterable[Sequence[Cell]],
    width: int,
    *,
    ascii_only: bool = False,
    header_style: str = "bold",
) -> BoxTable:
    """The table drawn in a box.

    ``rows`` hold one :data:`Cell` per column.  ``width`` is the console's width
    (see the module's notes on layout); ``ascii_only`` draws the box with ``+-|=``
    for consoles that cannot show box-drawing characters.  Control characters in
    cells are escaped (``\\x1b``).
    """
    box = _ASCII if ascii_only else _UNICODE
    body: list[list[tuple[str, str]]] = [
        [(safe(c), "") if isinstance(c, str) else (safe(c[0]), c[1]) for c in row] for row in rows
    ]
    natural = [_width(c.header) for c in columns]
    for row in body:
        for i, (text, _) in enumerate(row):
            w = _width(text)
            if w > natural[i]:
                natural[i] = w
    widths = _fit(columns, natural, width)

    out: list[str] = []
    spans: list[tuple[int, int, int, str]] = []

    def emit_row(cells: Sequence[tuple[str, str]], bar: str) -> None:
        split = [
            wrap_cell(text, widths[i]) if columns[i].wrap else [text]
            for i, (text, _) in enumerate(cells)
        ]
        for k in range(max(len(lines) for lines in split)):
            parts = [bar]
            at = len(bar)
            for i, lines in enumerate(split):
                text = lines[k] if k < len(lines) else ""
                pad = " " * (widths[i] - _width(text))
                style = cells[i][1]
                if style and text:
                    start = at + 1 + (len(pad) if columns[i].right else 0)
                    spans.append((len(out), start, start + len(text), style))
                cell = f" {pad}{text} " if columns[i].right else f" {text}{pad} "
                parts.append(cell)
                parts.append(bar)
                at += len(cell) + len(bar)
            out.append("".join(parts))

    def rule(left: str, fill: str, joint: str, right: str) -> str:
        return left + joint.join(fill * (w + 2) for w in widths) + right

    out.append(rule(box[0], box[1], box[2], box[3]))
    emit_row([(c.header, header_style) for c in columns], box[4])
    out.append(rule(box[5], box[6], box[7], box[8]))
    for row in body:
        emit_row(row, box[9])
    out.append(rule(box[10], box[11], box[12], box[13]))
    return BoxTable(out, spans)
