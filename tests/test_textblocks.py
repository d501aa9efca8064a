"""The command line's box tables (:mod:`ztsim.output.tables`): layout, wrapping, styles, safety.

Where a table fits the console, it is drawn exactly as rich's own ``Table`` draws it
(a hypothesis test compares the two); where it does not, the wrapped columns share
the room left, widest first.
"""

from __future__ import annotations

import doctest
import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

import ztsim.output.tables
from ztsim.output.tables import MIN_WRAP, Column, StyledLines, box_table, wrap_cell


def _printed(table: object, width: int = 80, color: bool = False) -> str:
    buf = io.StringIO()
    console = Console(
        file=buf,
        width=width,
        force_terminal=color,
        color_system="standard" if color else None,
        highlight=False,
    )
    console.print(table, soft_wrap=True)
    return buf.getvalue()


def test_the_modules_examples_hold():
    assert doctest.testmod(ztsim.output.tables).failed == 0


def test_a_fitting_table_has_its_natural_widths():
    t = box_table([Column("goal"), Column("cost", right=True)], [["exfiltrate(x)", "12"]], 80)
    assert t.lines == [
        "┏━━━━━━━━━━━━━━━┳━━━━━━┓",
        "┃ goal          ┃ cost ┃",
        "┡━━━━━━━━━━━━━━━╇━━━━━━┩",
        "│ exfiltrate(x) │   12 │",
        "└───────────────┴──────┘",
    ]


def test_a_wide_table_narrows_the_widest_wrapped_column_first():
    cols = [Column("goal"), Column("n", wrap=False), Column("plan")]
    plan = " > ".join(f"T{1000 + i}" for i in range(12))  # 82 characters
    t = box_table(cols, [["exfiltrate(records)", "3", plan]], 60)
    assert max(len(line) for line in t.lines) == 60  # as wide as the console allows
    assert t.lines[3].startswith("│ exfiltrate(records) │ 3 │ T1000 > ")  # goal untouched
    rows = [line.split("│")[3].strip() for line in t.lines[3:-1]]
    assert " ".join(rows) == plan  # wrapped at spaces, nothing lost


def test_when_even_the_minimum_does_not_fit_the_table_overflows_rather_than_loses_text():
    cols = [Column("a", wrap=False), Column("b")]
    t = box_table(cols, [["x" * 50, "word " * 10]], 30)
    assert len(t.lines[3]) > 30
    assert all(len(line.split("│")[2].strip()) <= MIN_WRAP for line in t.lines[3:-1])


def test_wrap_cell_cuts_words_longer_than_the_column():
    assert wrap_cell("abcdefghij klm", 4) == ["abcd", "efgh", "ij", "klm"]
    assert wrap_cell("", 4) == [""]
    assert wrap_cell("a  b", 1) == ["a", "b"]


def test_wide_characters_are_measured_in_terminal_cells():
    t = box_table([Column("name")], [["漢字"], ["abcd"]], 80)
    assert t.lines[3] == "│ 漢字 │"
    assert t.lines[4] == "│ abcd │"


def test_control_characters_in_names_are_escaped():
    t = box_table([Column("rule")], [["evil\x1b[2Jname\u202e\n"]], 80)
    assert "\x1b" not in t.plain and "\u202e" not in t.plain
    assert "evil\\x1b[2Jname\\u202e\\n" in t.plain
    lines = StyledLines()
    lines.add("a\x9b2Jb\tc")
    assert lines.plain == "a\\x9b2Jb\\tc"


def test_styles_colour_only_the_cells_text_and_only_on_a_terminal():
    cols = [Column("verdict", wrap=False), Column("n", right=True, wrap=False)]
    t = box_table(cols, [[("REACHABLE", "red"), ("7", "green")]], 80)
    assert "\x1b" not in _printed(t)
    coloured = _printed(t, color=True)
    assert "│ \x1b[31mREACHABLE\x1b[0m │ \x1b[32m7\x1b[0m │" in coloured
    assert "┃ \x1b[1mverdict\x1b[0m" in coloured  # headers bold
    assert _printed(t) == t.plain + "\n"


def test_ascii_consoles_get_an_ascii_box():
    t = box_table([Column("a")], [["x"]], 80, ascii_only=True)
    assert t.lines == ["+---+", "| a |", "+===+", "| x |", "+---+"]


_cell = st.text(alphabet="abcdefghij-.()> 0123456789", max_size=14).map(str.strip)


@settings(max_examples=60, deadline=None)
@given(
    headers=st.lists(st.text(alphabet="abcxyz", min_size=1, max_size=8), min_size=1, max_size=5),
    data=st.data(),
)
def test_a_fitting_table_is_drawn_as_rich_draws_it(headers: list[str], data: st.DataObject):
    rights = data.draw(st.lists(st.booleans(), min_size=len(headers), max_size=len(headers)))
    rows = data.draw(
        st.lists(st.lists(_cell, min_size=len(headers), max_size=len(headers)), max_size=6)
    )
    ours = box_table([Column(h, right=r) for h, r in zip(headers, rights, strict=True)], rows, 200)
    theirs = Table()
    for h, r in zip(headers, rights, strict=True):
        theirs.add_column(h, justify="right" if r else "left")
    for row in rows:
        theirs.add_row(*row)
    assert _printed(ours, 200) == _printed(theirs, 200)


def test_styled_lines_print_each_line_in_its_style():
    out = StyledLines()
    out.add("== exfiltrate(x)", "bold")
    out.add("   flat: OPEN", "red")
    out.add("")
    out.add("because a\nb\tc\x1b[2J")
    assert out.plain == "== exfiltrate(x)\n   flat: OPEN\n\nbecause a\\nb\\tc\\x1b[2J"
    assert _printed(out) == out.plain + "\n"
    coloured = _printed(out, color=True)
    assert coloured.startswith("\x1b[1m== exfiltrate(x)\x1b[0m\n\x1b[31m   flat: OPEN\x1b[0m\n\n")


def test_styled_lines_are_not_cropped_or_wrapped_by_rich():
    out = StyledLines()
    out.add("x" * 100)
    assert _printed(out, width=20) == "x" * 100 + "\n"
