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
:data:`MIN_WRAP`, nor under the column's longest word), and their cells are
wrapped at spaces (or at the column's ``sep``): a word is never broken, except
after one of the column's ``soft`` characters (``exfiltrate(`` / ``payroll-records)``).
When the table is still too wide, a column wrapped at a ``sep`` other than a space
breaks at spaces too (``T1557`` / ``log-collector``): at 80 columns ``check``'s table
fits.  Columns not marked ``wrap`` keep their width, so a table too wide for the
console even so stays whole: the terminal then wraps, nothing is lost.

:class:`StyledLines` wraps a line longer than the console at a space too, the
rest indented under it; :func:`output_width` says how wide the console is.

>>> print(box_table([Column("goal"), Column("cost", right=True)], [["x", "7"]], 80).plain)
┏━━━━━━┳━━━━━━┓
┃ goal ┃ cost ┃
┡━━━━━━╇━━━━━━┩
│ x    │    7 │
└──────┴──────┘
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.style import Style

from ztsim.model.textsafe import safe

__all__ = [
    "MIN_WRAP",
    "PIPE_WIDTH",
    "BoxTable",
    "Cell",
    "Column",
    "StyledLines",
    "box_table",
    "output_width",
    "wrap_cell",
    "wrap_line",
]

#: A wrapped column is never narrowed below this many characters.
MIN_WRAP = 8

#: The width of text written to a pipe or a file when ``COLUMNS`` does not give one.
PIPE_WIDTH = 120

#: Narrower ``COLUMNS`` values are read as this (a table needs some room).
MIN_COLUMNS = 20


def output_width(is_tty: bool, environ: Mapping[str, str] | None = None) -> int | None:
    """The width text output is laid out for: ``None`` (the terminal's own, which
    rich reads, ``COLUMNS`` first) on a terminal; else ``COLUMNS`` when it is a
    whole number, or :data:`PIPE_WIDTH`, so piped output does not depend on the
    terminal the command was started from.

    >>> output_width(False, {"COLUMNS": "72"}), output_width(False, {}), output_width(True, {})
    (72, 120, None)
    >>> output_width(False, {"COLUMNS": "wide"}), output_width(False, {"COLUMNS": "3"})
    (120, 20)
    """
    if is_tty:
        return None
    text = (os.environ if environ is None else environ).get("COLUMNS", "").strip()
    if not text.isdigit():
        return PIPE_WIDTH
    return max(int(text), MIN_COLUMNS)


#: A cell: its text, or its text and a rich style applied to that text.
Cell = str | tuple[str, str]

# top left, top rule, top joint, top right, header bar, header/body left, header/body
# rule, header/body joint, header/body right, body bar, bottom left, rule, joint, right
_UNICODE = ("┏", "━", "┳", "┓", "┃", "┡", "━", "╇", "┩", "│", "└", "─", "┴", "┘")
_ASCII = ("+", "-", "+", "+", "|", "+", "=", "+", "+", "|", "+", "-", "+", "+")


@dataclass(frozen=True)
class Column:
    """A column's header, alignment, whether it may be narrowed and wrapped, and
    where its cells may break (``sep``: ``" > "`` keeps ``T1190 portal-web`` whole)."""

    header: str
    right: bool = False
    wrap: bool = True
    sep: str = " "
    #: Characters after which a word too long for the column may break (kept at the
    #: end of its line): ``(`` lets ``exfiltrate(payroll-records)`` go on two lines.
    soft: str = ""


def _width(text: str) -> int:
    """Terminal cells taken by ``text`` (``len`` for ASCII, the common case)."""
    return len(text) if text.isascii() else cell_len(text)


def wrap_cell(text: str, width: int, sep: str = " ", soft: str = "") -> list[str]:
    """``text`` wrapped at ``sep`` into lines of at most ``width`` cells.

    A line broken at ``sep`` leaves ``sep``'s spaces out and starts the next line
    with the rest of it (``> T1041``).  A word (a part between two ``sep``) longer
    than ``width`` is cut: :func:`box_table` never makes a column narrower than
    its longest word.  An empty text is one empty line.

    >>> wrap_cell("T1190 > T1210 > T1041", 14)
    ['T1190 > T1210', '> T1041']
    >>> wrap_cell("T1190 web > T1210 api-01 > T1041 c2", 20, sep=" > ")
    ['T1190 web', '> T1210 api-01', '> T1041 c2']
    >>> wrap_cell("exfiltrate(payroll-records)", 10)
    ['exfiltrate', '(payroll-r', 'ecords)']

    A part longer than ``width`` that holds spaces breaks at them first (a narrow
    terminal: ``T1557 log-collector`` on two lines rather than cut in a name):

    >>> wrap_cell("T1190 web > T1557 log-collector", 15, sep=" > ")
    ['T1190 web', '> T1557', 'log-collector']

    A word too long for a line breaks after one of ``soft``'s characters when it can:

    >>> wrap_cell("exfiltrate(payroll-records)", 16, soft="(")
    ['exfiltrate(', 'payroll-records)']
    """
    if _width(text) <= width:
        return [text]
    lead = sep.strip()
    lead = f"{lead} " if lead else ""
    lines: list[str] = []
    line = ""
    for word in text.split(sep):
        if not word:
            continue
        if _width(word) > width and sep != " " and " " in word.strip():
            if line:
                lines.append(line)
                line = ""
            parts = wrap_cell(lead + word if lines else word, width)
            lines += parts[:-1]
            line = parts[-1]
            continue
        while _width(word) > width:  # cut a word that cannot fit on any line
            if line:
                lines.append(line)
                line = ""
            cut = width
            while _width(word[:cut]) > width:  # wide characters
                cut -= 1
            after = max((word.rfind(c, 0, cut) for c in soft), default=-1)
            if after > 0:  # after a soft break rather than inside a name
                cut = after + 1
            lines.append(word[: max(cut, 1)])
            word = word[max(cut, 1) :]
        if not line and not lines:
            line = word
        elif not line:
            line = word if _width(lead + word) > width else lead + word
        elif _width(line) + _width(sep) + _width(word) <= width:
            line = f"{line}{sep}{word}"
        else:
            lines.append(line)
            line = word if _width(lead + word) > width else lead + word
    if line or not lines:
        lines.append(line)
    return lines


def _longest_word(text: str, sep: str, soft: str = "") -> int:
    """The widest part of ``text`` between two ``sep`` (and after any of ``soft``'s
    characters), with the lead a line broken at ``sep`` starts with."""
    lead = len(sep.strip()) + 1 if sep.strip() else 0
    words = text.split(sep)
    for c in soft:
        words = [part for w in words for part in w.replace(c, c + "\0").split("\0")]
    return max(_width(w) for w in words) + lead


def _fit(columns: Sequence[Column], natural: list[int], words: list[int], width: int) -> list[int]:
    """Column widths: ``natural``, the wrapped ones capped so the table fits ``width``,
    never under their longest word (``words``)."""
    room = (
        width
        - (3 * len(columns) + 1)
        - sum(n for c, n in zip(columns, natural, strict=True) if not c.wrap)
    )
    wrapped = [(n, w) for c, n, w in zip(columns, natural, words, strict=True) if c.wrap]
    if sum(n for n, _ in wrapped) <= room:
        return natural

    def capped(n: int, word: int, cap: int) -> int:
        return min(n, max(cap, word, MIN_WRAP))

    # the widest cap whose wrapped columns fit in `room`: a water level, widest first
    lo, hi = MIN_WRAP, max((n for n, _ in wrapped), default=MIN_WRAP)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if sum(capped(n, w, mid) for n, w in wrapped) <= room:
            lo = mid
        else:
            hi = mid - 1
    return [
        capped(n, w, lo) if c.wrap else n for c, n, w in zip(columns, natural, words, strict=True)
    ]


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
    line splitting, and with control characters escaped.  A line wider than the
    console is wrapped at spaces (:func:`wrap_line`), never inside a word.  Print
    it with ``soft_wrap=True``.

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
        """Each line as one segment in its style; a line wider than the console
        wrapped at spaces (:func:`wrap_line`)."""
        style_of = _styles(console)
        newline = Segment.line()
        width = options.max_width
        for text, name in self.lines:
            parts = [text] if len(text) <= width and text.isascii() else wrap_line(text, width)
            for part in parts:
                if name:
                    yield Segment(part, style_of(name))
                elif part:
                    yield Segment(part)
                yield newline


def wrap_line(text: str, width: int) -> list[str]:
    """``text`` cut at spaces into lines of at most ``width`` cells, the lines after
    the first indented 4 more than ``text``; the spaces inside each line are kept
    (columns stay aligned).  A word too long for a line stays whole on a line of
    its own: it is never broken.

    >>> wrap_line("  flat: BLOCKED at step 3 by rule no-db", 20)
    ['  flat: BLOCKED at', '      step 3 by rule', '      no-db']
    >>> wrap_line("short", 20), wrap_line("a-very-long-word x", 5)
    (['short'], ['a-very-long-word', '    x'])
    """
    if _width(text) <= width:
        return [text]
    indent = " " * (len(text) - len(text.lstrip(" ")) + 4)
    out: list[str] = []
    rest, prefix = text, ""
    while _width(prefix + rest) > width:
        lead = len(rest) - len(rest.lstrip(" "))  # never cut inside the indentation
        room = width - _width(prefix)
        cut = _last_space(rest, lead, room)
        if cut <= lead:  # a word wider than the line: keep it whole
            cut = rest.find(" ", lead + 1) if lead + 1 < len(rest) else -1
            while cut != -1 and cut + 1 < len(rest) and rest[cut + 1] == " ":
                cut += 1
            if cut == -1:
                break
        head = rest[:cut].rstrip(" ")
        out.append(prefix + head)
        rest = rest[cut:].lstrip(" ")
        prefix = indent if len(indent) < width else ""
        if not rest:
            return out
    out.append(prefix + rest)
    return out


def _last_space(text: str, lead: int, room: int) -> int:
    """The last space of ``text`` after index ``lead`` with at most ``room`` cells
    before it; ``-1`` when there is none."""
    if text.isascii():
        return text.rfind(" ", lead + 1, room + 1)
    cut, used = -1, 0
    for i, ch in enumerate(text):
        if used > room:
            break
        if ch == " " and i > lead:
            cut = i
        used += cell_len(ch)
    return cut


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
    words = [0] * len(columns)
    frame = 3 * len(columns) + 1
    if sum(natural) + frame > width:  # only a table to narrow needs them
        for i, c in enumerate(columns):
            if c.wrap:
                texts = [c.header, *(row[i][0] for row in body)]
                words[i] = max(_longest_word(t, c.sep, c.soft) for t in texts)
    widths = _fit(columns, natural, words, width)
    if sum(widths) + frame > width and any(c.wrap and c.sep != " " for c in columns):
        # still too wide: a column kept whole at its sep (a step, ``T1190 portal-web``)
        # breaks at spaces too, so the table fits the terminal instead of being wrapped by it
        for i, c in enumerate(columns):
            if c.wrap and c.sep != " ":
                # a cell's continued line starts with the sep's lead (``> ``), the header's not
                lead = len(c.sep.strip()) + 1
                words[i] = max(
                    _longest_word(c.header, " "),
                    *(_longest_word(row[i][0], " ") + lead for row in body),
                )
        widths = _fit(columns, natural, words, width)

    out: list[str] = []
    spans: list[tuple[int, int, int, str]] = []

    def emit_row(cells: Sequence[tuple[str, str]], bar: str) -> None:
        split = [
            wrap_cell(text, widths[i], columns[i].sep, columns[i].soft)
            if columns[i].wrap
            else [text]
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
