"""The error panel: what is wrong in the files, while the last good result stays on screen."""

from __future__ import annotations

from collections.abc import Sequence

from textual.containers import VerticalScroll
from textual.widgets import Static

from ztsim.model.diagnostics import Diagnostic
from ztsim.tui.safetext import Text

__all__ = ["ErrorPanel"]


class ErrorPanel(VerticalScroll):
    """Hidden while the files load cleanly; lists ``FILE:LINE:COL: message`` otherwise."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(Static(id="errors-body"), id=id)
        self.display = False
        self.text = ""

    def show(self, diagnostics: Sequence[Diagnostic], have_results: bool) -> None:
        """List ``diagnostics`` (errors first); say whether older results are still shown."""
        errors = [d for d in diagnostics if d.level == "error"]
        text = Text()
        for n, d in enumerate(diagnostics):
            if n:
                text.append("\n")
            text.append(f"{d.path}:{d.line}:{d.column}: ", style="bold")
            text.append(f"{d.level}: ", style="bold red" if d.level == "error" else "yellow")
            text.append(d.message)
        self.text = text.plain
        self.query_one("#errors-body", Static).update(text)
        keep = "showing the last good result" if have_results else "nothing to show yet"
        self.border_title = f"{len(errors)} error(s) in input: {keep}"
        self.border_subtitle = "fix the file, then r (or save, with --watch)"
        self.display = True

    def clear(self) -> None:
        """Hide the panel (the files loaded cleanly)."""
        self.display = False
