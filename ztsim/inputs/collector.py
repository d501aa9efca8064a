"""Gathering one document's diagnostics: capped, then located in one pass.

A seam of its own because three readers fill it and none needs the others:
:mod:`ztsim.inputs.validate` (pydantic's errors), :mod:`ztsim.inputs.checks`
(references, uniqueness, warnings) and :mod:`ztsim.inputs.assertions`.  At most
:data:`~ztsim.model.diagnostics.MAX_LISTED` problems of each level are listed; the
rest are only counted, so that a flood of errors costs neither memory nor time
spent locating them.
"""

from __future__ import annotations

from typing import Literal

from ztsim.inputs.positions import Document, Mark
from ztsim.model.diagnostics import MAX_LISTED, Diagnostic, omitted_summary

__all__ = ["Collector", "Level", "Loc"]

#: A place in a document: keys and indexes from its root.
Loc = tuple[str | int, ...]

#: How serious a diagnostic is.
Level = Literal["error", "warning"]


class Collector:
    """Gathers diagnostics for one document.

    At most :data:`~ztsim.model.diagnostics.MAX_LISTED` of each level are kept in
    :attr:`items`; the others are only counted (not even located), and
    :meth:`diagnostics` closes the list with a line that says how many there were.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._items: list[Diagnostic] = []
        # Listed, not located yet: located all at once when read (see ``items``).
        self._pending: list[tuple[Loc, bool, Level, str]] = []
        #: Every diagnostic added, listed or not.
        self.count = 0
        self._listed = {"error": 0, "warning": 0}
        #: Per level: how many were not listed, and where the first of them is (loc, key).
        self._omitted: dict[str, tuple[int, Loc, bool]] = {}
        #: The schema the document is validated against (for "did you mean" hints).
        self.model: object = None
        #: The schema's errors listed (place, pydantic's kind): what
        #: :mod:`ztsim.inputs.salvage` takes out to check the rest of the document.
        self.schema_errors: list[tuple[Loc, str]] = []

    def add(
        self,
        loc: Loc,
        message: str,
        level: Level = "error",
        *,
        key: bool = False,
    ) -> None:
        """Add a problem at ``loc`` (the key itself with ``key``), or count it past the cap."""
        self.count += 1
        if self._listed[level] >= MAX_LISTED:
            self.omit(1, level, loc, key=key)
            return
        self._listed[level] += 1
        self._pending.append((loc, key, level, message))

    @property
    def items(self) -> list[Diagnostic]:
        """The diagnostics listed so far, in the order they were added."""
        self._locate_pending([])
        return self._items

    def _locate_pending(self, more: list[tuple[Loc, bool]]) -> list[Mark]:
        """Locate the pending diagnostics into :attr:`items`, and ``more`` places
        (their marks returned), all in one pass."""
        if not self._pending and not more:
            return []
        pending, self._pending = self._pending, []
        marks = self.doc.locate_many([(loc, key) for loc, key, _, _ in pending] + more)
        self._items.extend(
            Diagnostic(self.doc.path, m.line, m.column, level, message)
            for m, (_, _, level, message) in zip(marks, pending, strict=False)
        )
        return marks[len(pending) :]

    def listing(self, level: Level = "error") -> bool:
        """Whether the next problem of ``level`` will be listed (not only counted):
        worth the cost of a hint."""
        return self._listed[level] < MAX_LISTED

    def counting_only(self, level: Level = "error") -> bool:
        """Whether problems of ``level`` are only counted from now on (the first
        one not listed is known already)."""
        return level in self._omitted

    def omit(self, n: int, level: Level, loc: Loc, *, key: bool = False) -> None:
        """Count ``n`` problems not listed, the first of them at ``loc``."""
        count, first, first_key = self._omitted.get(level, (0, loc, key))
        self._omitted[level] = (count + n, first, first_key)

    def diagnostics(self) -> list[Diagnostic]:
        """The problems listed, and per level a closing line for those only counted."""
        levels: list[Level] = [lv for lv in ("error", "warning") if lv in self._omitted]
        # Located with the pending ones, in one pass over the text.
        marks = self._locate_pending([self._omitted[lv][1:] for lv in levels])
        out = list(self._items)
        for level, mark in zip(levels, marks, strict=True):
            n = self._omitted[level][0]
            out.append(omitted_summary(self.doc.path, mark.line, mark.column, level, n))
        return out

    @property
    def errors(self) -> bool:
        """Whether an error was added (none is counted only while none is listed)."""
        return self._listed["error"] > 0
