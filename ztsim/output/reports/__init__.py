"""CI reports of intent assertions: text, JSON, JUnit XML, SARIF, GitHub annotations, Markdown.

Headless: each format is a function from a :class:`~ztsim.whatif.intent.Report`
to a string, deterministic byte for byte.  :func:`render` picks one by name.
"""

from __future__ import annotations

from collections.abc import Callable

from ztsim.whatif.intent import Report

__all__ = ["FORMATS", "render"]

#: Every format ``ztsim check`` can write, in the order ``--help`` lists them.
FORMATS = ("text", "json", "junit", "sarif", "github", "markdown")


def render(report: Report, fmt: str) -> str:
    """The report in format ``fmt`` (one of :data:`FORMATS`)."""
    from ztsim.output.reports.github import render_github
    from ztsim.output.reports.junit import render_junit
    from ztsim.output.reports.markdown import render_markdown
    from ztsim.output.reports.sarif import render_sarif
    from ztsim.output.reports.text import render_json, render_text

    writers: dict[str, Callable[[Report], str]] = {
        "text": render_text,
        "json": render_json,
        "junit": render_junit,
        "sarif": render_sarif,
        "github": render_github,
        "markdown": render_markdown,
    }
    if fmt not in writers:
        raise ValueError(f"unknown report format {fmt!r} (one of {', '.join(FORMATS)})")
    return writers[fmt](report)
