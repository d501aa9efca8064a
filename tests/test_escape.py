"""The output escapers (:mod:`ztsim.output.escape`): one module, each format's bytes kept.

Markdown has two strengths on purpose: the CI summary escapes every CommonMark
inline special, the ``ztsim diff`` comment and the TUI's export only what breaks
a table or opens a tag.  These tests pin the difference, and that each is the
formula its format always used.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ztsim.model.textsafe import safe
from ztsim.output.escape import markdown_text, text_lines

SPECIALS = "a|b <i>x</i> *y* _z_ [l](u) `c` ~s~ & \\ \x1b\n"


def test_the_two_markdown_strengths_differ_as_intended() -> None:
    every = markdown_text(SPECIALS)
    table = markdown_text(SPECIALS, every_special=False)
    assert every == (
        "a\\|b &lt;i&gt;x&lt;/i&gt; \\*y\\* \\_z\\_ \\[l\\](u) \\`c\\` \\~s\\~ "
        "&amp; \\\\ \\\\x1b\\\\n"
    )
    assert table == "a\\|b &lt;i>x&lt;/i> *y* _z_ [l](u) `c` ~s~ & \\ \\x1b\\n"
    # both keep a cell on one line, inside its table, and open no tag
    for text in (every, table):
        assert "\n" not in text and "<" not in text and "|" not in text.replace("\\|", "")


@given(st.text())
def test_table_strength_is_the_diff_comment_formula(text: str) -> None:
    """``ztsim diff --format markdown`` cells: safe, then pipes, then ``<``."""
    old = safe(text).replace("|", "\\|").replace("<", "&lt;")
    assert markdown_text(text, every_special=False) == old


@given(st.lists(st.text()))
def test_text_lines_is_the_line_by_line_formula(lines: list[str]) -> None:
    """Text reports (diff, harden) and the TUI's Markdown export, line by line."""
    assert text_lines(lines) == "".join(safe(line) + "\n" for line in lines)
    tui = "".join(safe(line).replace("<", "&lt;") + "\n" for line in lines)
    assert text_lines(lines, markdown=True) == tui


@given(st.lists(st.text()))
def test_tui_export_cells_escape_as_their_old_line_pass_did(cells: list[str]) -> None:
    """The TUI export escaped pipes per cell and the rest per line: the same bytes now."""
    old_row = "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    new_row = "| " + " | ".join(markdown_text(c, every_special=False) for c in cells) + " |"
    assert text_lines([new_row], markdown=True) == text_lines([old_row], markdown=True)


@pytest.mark.parametrize("lines", [[], [""], ["a", "b"]])
def test_text_lines_ends_each_line(lines: list[str]) -> None:
    assert text_lines(lines).count("\n") == len(lines)
