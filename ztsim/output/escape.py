"""Every escaper of ztsim's text outputs: plain lines, Markdown, GitHub workflow commands.

All build on :func:`ztsim.model.textsafe.safe` (no terminal escape, no bidi
trick, valid XML) and add what their format needs so that a name can neither
start a line, break a table, open a tag, a link or code, nor end a workflow
command.  JSON is escaped by :func:`ztsim.model.textsafe.json_safe`, XML by its
writer.

Markdown comes in two strengths, and each format keeps the one it always had
(``tests/test_escape.py`` pins the difference): the CI summary
(:mod:`ztsim.output.reports.markdown`) escapes every CommonMark inline special,
while the pull-request comment of ``ztsim diff`` and the TUI's export escape
only what would break their tables or open a tag (``|`` and ``<``), so the rules
and steps they quote keep their ``*`` and ``_`` as written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ztsim.model.textsafe import safe

__all__ = [
    "github_data",
    "github_property",
    "markdown_code",
    "markdown_text",
    "text_lines",
]


def text_lines(lines: Iterable[str], *, markdown: bool = False) -> str:
    """``lines`` as text, each escaped as one line and ended by a newline.

    Names inside may hold control characters, a newline above all: escaped
    (``\\n``), it cannot start a line of its own.  With ``markdown``, ``<`` is
    written ``&lt;`` too (for Markdown whose own lines hold no HTML tag).

    >>> text_lines(["a\\x1b", "<b>"], markdown=True)
    'a\\\\x1b\\n&lt;b>\\n'
    """
    if markdown:
        return "".join([safe(line).replace("<", "&lt;") + "\n" for line in lines])
    return "".join([safe(line) + "\n" for line in lines])


# Markdown's inline specials (CommonMark) and HTML's: escaped with a backslash or as
# an entity so a name can neither break a table nor open a tag, a link or code.
_MARKDOWN = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "`": "\\`",
        "*": "\\*",
        "_": "\\_",
        "[": "\\[",
        "]": "\\]",
        "~": "\\~",
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
    }
)

# Only what breaks a table row or opens a tag.
_TABLE = str.maketrans({"|": "\\|", "<": "&lt;"})


def markdown_text(text: str, *, every_special: bool = True) -> str:
    """``text`` for a Markdown table cell or paragraph: escaped, on one line.

    ``every_special=False`` escapes only ``|`` and ``<`` (see the module's note).

    >>> markdown_text("a|b <img src=x> `c`")
    'a\\\\|b &lt;img src=x&gt; \\\\`c\\\\`'
    >>> markdown_text("a|b <img src=x> `c`", every_special=False)
    'a\\\\|b &lt;img src=x> `c`'
    """
    return safe(text).translate(_MARKDOWN if every_special else _TABLE)


def markdown_code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks or pipes it holds.

    The fence is one backtick longer than the longest run inside (CommonMark), and
    pipes are escaped (GitHub's tables split on them even in code).

    >>> markdown_code("a`b|c")
    '`` a`b\\\\|c ``'
    """
    text = safe(text).replace("|", "\\|")
    if "`" not in text:
        return f"`{text}`"
    fence = "`" * (max(len(run) for run in re.findall("`+", text)) + 1)
    return f"{fence} {text} {fence}"


def github_data(text: str) -> str:
    """A GitHub Actions workflow command's message: escaped, ``%``, CR and LF encoded.

    ``text`` may hold several lines (they are encoded as ``%0A``, which the runner
    shows as line breaks); every other control character is escaped first, so no
    value can end the command or start a second one.

    >>> github_data("50% done\\r\\nnext\\x1b[2J::error ::x")
    '50%25 done%0D%0Anext\\\\x1b[2J::error ::x'
    """
    if not text.isprintable():
        # CR and LF are kept for the %0D/%0A encoding (GitHub's own, decoded in its UI)
        text = "\n".join(
            "\r".join([safe(part) for part in line.split("\r")]) for line in text.split("\n")
        )
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_property(text: str) -> str:
    """A workflow command's property value: as :func:`github_data`, plus ``:`` and ``,``."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")
