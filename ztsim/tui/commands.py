"""Command palette entries (``ctrl+p``): jump to a policy, plan or host; export; reload."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.markup import escape

from ztsim.model.textsafe import safe

__all__ = ["PaletteEntry", "ZtsimCommands"]

#: Most entries listed for one query (a 10,000-host topology has 10,000 hosts).
MAX_HITS = 200


def _shown(text: str) -> str:
    """``text`` for the palette, which reads its strings as Textual markup.

    Names come from user files: escaped for markup (``[bold]`` shows as written)
    and for the terminal (:func:`ztsim.model.textsafe.safe`).
    """
    return escape(safe(text))


@dataclass(frozen=True)
class PaletteEntry:
    """One command: what the palette shows, a help line, and what it does."""

    title: str
    help: str
    run: Callable[[], object]
    discover: bool = False


class ZtsimCommands(Provider):
    """Policies, plans and hosts of the loaded scenario, and the app's own actions."""

    def _entries(self) -> list[PaletteEntry]:
        app: object = self.app
        source = getattr(app, "palette_entries", None)
        if source is None:
            return []
        entries: list[PaletteEntry] = source()
        return entries

    async def discover(self) -> Hits:
        """Actions shown before anything is typed."""
        for e in self._entries():
            if e.discover:
                yield DiscoveryHit(_shown(e.title), e.run, help=_shown(e.help))

    async def search(self, query: str) -> Hits:
        """Entries whose title fuzzily matches ``query``."""
        matcher = self.matcher(query)
        found = 0
        for e in self._entries():
            score = matcher.match(e.title)
            if score > 0:
                title = _shown(e.title)
                yield Hit(score, matcher.highlight(title), e.run, help=_shown(e.help))
                found += 1
                if found >= MAX_HITS:
                    return
