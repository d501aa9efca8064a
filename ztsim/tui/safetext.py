"""rich :class:`~rich.text.Text` that shows user text escaped, for every TUI widget.

The widgets build their cells, labels and titles as ``Text`` (never as markup
strings, which Textual would parse: a policy named ``[bold]`` must show as
written).  This ``Text`` also escapes control, bidi and zero-width characters
(:func:`ztsim.model.textsafe.safe_lines`) in the text it is made from and in what is
appended to it, so a name cannot send an escape sequence to the terminal.
Newlines are kept: the widgets use them to break lines (a newline in a name only
starts a line on the screen).  Each widget module imports it as ``Text``.
"""

from __future__ import annotations

from typing import Any

from rich.style import Style
from rich.text import Text as RichText

from ztsim.model.textsafe import safe_lines

__all__ = ["Text"]


class Text(RichText):
    """A rich ``Text`` whose text is escaped when made and when appended to."""

    def __init__(self, text: str = "", *args: Any, **kwargs: Any) -> None:
        super().__init__(safe_lines(text), *args, **kwargs)

    def append(self, text: str | RichText, style: str | Style | None = None) -> RichText:
        """Append ``text`` (escaped when it is a string), as :meth:`rich.text.Text.append`."""
        if isinstance(text, str):
            text = safe_lines(text)
        return super().append(text, style)
