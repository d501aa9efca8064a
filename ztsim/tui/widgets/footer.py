"""The footer: Textual's compact footer, showing only the keys that fit the width.

Textual's footer lets keys that do not fit run on under the command palette's
key, which is docked right: at narrow widths a word shows cut (``? Hel``) and a
cell of it peeks out past the palette's key.  This one leaves out whole keys
instead, the last ones first, keeping quit and help.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

__all__ = ["KEEP", "ZtsimFooter", "fitting"]

#: Keys left out last (a newcomer needs them most).
KEEP = ("q", "question_mark")
#: Cells the command palette's key takes at the right (``▏^p palette`` and a space).
PALETTE = 12


def _width(key: FooterKey) -> int:
    """Cells a compact key takes: ``KEY DESCRIPTION`` and its margin."""
    text = cell_len(key.key_display) + (1 + cell_len(key.description) if key.description else 0)
    return text + 1


def fitting(widths: list[tuple[str, int]], available: int) -> set[int]:
    """Indexes of the keys shown: in order while they fit, ``KEEP`` ones first.

    >>> sorted(fitting([("a", 5), ("b", 5), ("q", 3)], 9))
    [0, 2]
    """
    order = [n for n, (k, _) in enumerate(widths) if k in KEEP]
    order += [n for n, (k, _) in enumerate(widths) if k not in KEEP]
    shown: set[int] = set()
    used = 0
    for n in order:
        if used + widths[n][1] <= available:
            shown.add(n)
            used += widths[n][1]
    return shown


class ZtsimFooter(Footer):
    """A compact footer whose keys never run under the palette's key."""

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._laid_out = 0

    def compose(self) -> ComposeResult:
        """Textual's keys, less those that do not fit (once the width is known)."""
        items = list(super().compose())
        width = self.size.width
        self._laid_out = width
        keys = [
            w for w in items if isinstance(w, FooterKey) and not w.has_class("-command-palette")
        ]
        if not width:  # the first compose, before the layout: all of them
            yield from items
            return
        shown = fitting([(k.key, _width(k)) for k in keys], width - PALETTE)
        index = {id(k): n for n, k in enumerate(keys)}
        for w in items:
            n = index.get(id(w))
            if n is None or n in shown:
                yield w

    def on_resize(self) -> None:
        """Lay the keys out again for a new width."""
        if self.size.width != self._laid_out:
            self.call_after_refresh(self.recompose)
