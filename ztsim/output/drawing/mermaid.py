"""Attack plans as Mermaid flowcharts, for Markdown that GitHub renders (job summaries,
pull-request comments).

The same figure as the HTML report's (:func:`ztsim.output.drawing.attack.plans_figure`):
zones as subgraphs, each step an arrow labelled with its number, technique and
service, dashed arrows for what a step also needs, the blocking step's arrow drawn
thick and green with the policy and rule.  Node and subgraph ids are generated
(``n0``, ``z0``), never names; every label is quoted and escaped by
:func:`mermaid_text`, so a name can neither end a label nor open a tag.

>>> mermaid_text('a"b<c>#d|`')
'a#quot;b#lt;c#gt;#35;d#124;#96;'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ztsim.engine.steps import Step
from ztsim.model.textsafe import safe
from ztsim.output.drawing.attack import Block, plans_figure
from ztsim.output.drawing.svg import Figure

__all__ = ["figure_mermaid", "mermaid_text", "plan_mermaid"]

# Mermaid's entity codes (#name; or #NUMBER;): '#' first of all, in the same pass.
_MERMAID = str.maketrans(
    {
        "#": "#35;",
        '"': "#quot;",
        "<": "#lt;",
        ">": "#gt;",
        "&": "#amp;",
        "|": "#124;",
        "`": "#96;",
        "\\": "#92;",
    }
)


def mermaid_text(value: str) -> str:
    """``value`` safe inside a quoted Mermaid label (control characters shown escaped)."""
    return safe(value).translate(_MERMAID)


def _label(lines: Sequence[str]) -> str:
    return '"' + "<br>".join(mermaid_text(line) for line in lines) + '"'


def figure_mermaid(fig: Figure) -> list[str]:
    """The lines of a ``flowchart LR`` drawing ``fig``."""
    ids = {n.key: f"n{i}" for i, n in enumerate(fig.nodes)}
    out = ["flowchart LR"]
    for z, (lane, title) in enumerate(fig.lanes):
        members = [n for n in fig.nodes if n.lane == lane]
        if not members:
            continue
        out.append(f"  subgraph z{z}[{_label([title])}]")
        out += [f"    {ids[n.key]}[{_label(n.lines)}]" for n in members]
        out.append("  end")
    blocked = []
    for i, e in enumerate(fig.edges):
        a, b = ids[e.source], ids[e.target]
        if e.lines:
            out.append(f"  {a} -->|{_label([t for t, _ in e.lines])}| {b}")
        else:
            out.append(f"  {a} -.-> {b}")
        if "blocked" in e.css.split():
            blocked.append(str(i))
    if blocked:
        out.append(f"  linkStyle {','.join(blocked)} stroke:#1a7f37,stroke-width:3px")
    return out


def plan_mermaid(
    steps: Sequence[Step],
    zones: Mapping[str, str],
    external: frozenset[str],
    marks: Mapping[int, Sequence[Block]] | None = None,
) -> list[str]:
    """One plan as Mermaid lines, its steps numbered, ``marks`` on the blocking steps."""
    fig = plans_figure("plan", "plan", [steps], zones=zones, external=external, marks=marks)
    return figure_mermaid(fig)
