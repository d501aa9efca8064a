"""The HTML report's page: skeleton, stylesheet, tables and plan sections.

One self-contained file: the stylesheet is inline, every picture an inline SVG,
no script, no font, image or link that needs the network.  Every text from a
user file is escaped by :func:`ztsim.output.drawing.svg.text` (control and bidi
characters shown escaped, then HTML-escaped).  Print CSS sets A4 landscape (the
pictures are wide), hides the navigation, sets tables smaller so that the matrix
fits the page's width, lets wide pictures shrink to the page and keeps each plan
on one page.
"""

from __future__ import annotations

from collections.abc import Sequence

from ztsim._version import __version__
from ztsim.engine.plans import Plan
from ztsim.engine.verdicts import PlanVerdict
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.techniques import technique
from ztsim.output.drawing.attack import Block, block_location, block_marks, plan_figure
from ztsim.output.drawing.svg import FOLD_WIDTH, SVG_CSS, draw, figure_layout
from ztsim.output.drawing.svg import text as esc

__all__ = [
    "PAGE_CSS",
    "esc",
    "page",
    "plan_picture",
    "plan_section",
    "steps_table",
    "table",
    "verdict_cell",
]

PAGE_CSS = (
    """
:root{color-scheme:light}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
color:#1f2328;margin:0;background:#fff}
main{max-width:1400px;margin:0 auto;padding:0 24px 48px}
header{background:#24292f;color:#fff;padding:16px 24px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#d0d7de}
nav{position:sticky;top:0;background:#f6f8fa;border-bottom:1px solid #d0d7de;padding:6px 24px;
z-index:1}
nav a{margin-right:16px;color:#0969da;text-decoration:none}
h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:36px}
code,.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px}
th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{font-size:18px;font-weight:bold;padding:10px 14px;border-radius:6px;margin:16px 0}
.verdict.fail{background:#ffebe9;color:#82071e;border:1px solid #cf222e}
.verdict.pass{background:#dafbe1;color:#116329;border:1px solid #1a7f37}
.open{background:#ffebe9;color:#82071e}
.blocked{background:#dafbe1;color:#116329}
.warn{background:#fff8c5;color:#7d4e00}
.scroll{overflow-x:auto;border:1px solid #d0d7de;border-radius:6px;padding:6px;background:#fff}
figure{margin:12px 0 28px}
figcaption{margin:4px 0 8px}
.plan h3{margin:28px 0 4px;font-size:17px}
.muted{color:#57606a}
.tok{white-space:nowrap}
.side{display:grid;grid-template-columns:1fr 1fr;gap:24px}
.side>section{min-width:0}
ul.verdicts{margin:4px 0 8px;padding-left:20px}
@page{size:A4 landscape;margin:12mm}
@media print{
body{font-size:12px}
nav{display:none}
table{font-size:11px}
code,.mono{font-size:10px}
th,td{padding:2px 4px}
header{background:none;color:#000;padding:0}
header p{color:#333}
main{max-width:none;padding:0}
.scroll{overflow:visible;border:none;padding:0}
svg{max-width:100%;height:auto}
.plan,figure,tr{break-inside:avoid}
.side{display:block}
a{color:inherit;text-decoration:none}
}
"""
    + SVG_CSS
).strip()


def page(title: str, subtitle: str, nav: Sequence[tuple[str, str]], body: Sequence[str]) -> str:
    """The whole document: ``body`` parts under a header and a navigation bar."""
    links = "".join(f'<a href="#{anchor}">{esc(name)}</a>' for anchor, name in nav)
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en">',
                "<head>",
                '<meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f'<meta name="generator" content="ztsim {esc(__version__)}">',
                f"<title>{esc(title)}</title>",
                f"<style>\n{PAGE_CSS}\n</style>",
                "</head>",
                "<body>",
                f"<header><h1>{esc(title)}</h1><p>{subtitle}</p></header>",
                f"<nav>{links}</nav>",
                "<main>",
                *body,
                f'<footer class="muted"><p>Written by ztsim {esc(__version__)}.</p></footer>',
                "</main>",
                "</body>",
                "</html>",
            ]
        )
        + "\n"
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """An HTML table; ``header`` escaped here, ``rows`` already HTML (escape before)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = []
    for r in rows:
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(r)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def verdict_cell(v: PlanVerdict, policy: LoadedPolicy) -> str:
    """A matrix cell: open with P(detected), or blocked at step N by RULE at FILE:LINE."""
    if not v.blocked:
        return f'<span class="open">open, P(detected) {v.p_detected or 0:.2f}</span>'
    step = "" if v.step is None else f" at step {v.step + 1}"
    where = block_location(policy, v)
    return (
        f'<span class="blocked">blocked{step} by <code>{esc(v.blocked_by or "?")}</code></span>'
        f' <span class="muted tok">({esc(where)})</span>'
    )


def steps_table(plan: Plan) -> str:
    """The plan step by step: technique, from, to, service, and what made it possible."""
    rows = []
    for i, st in enumerate(plan.steps, 1):
        t = technique(st.technique)
        tech = f"{t.id} {t.name}" if t else (st.technique or "-")
        rows.append(
            [
                str(i),
                esc(st.kind),
                esc(tech),
                f"<code>{esc(st.source or '-')}</code>",
                f"<code>{esc(st.target or '-')}</code>",
                esc(st.service or "-"),
                esc(st.reason),
            ]
        )
    return table(["#", "step", "technique", "from", "to", "service", "because"], rows, (0,))


def plan_picture(
    plan: Plan,
    topo: LoadedTopology,
    marks: dict[int, list[Block]],
    ident: str,
    max_width: float = FOLD_WIDTH,
) -> str:
    """The plan's drawing: one ``<svg class="figure plan-picture">`` in a scroll box,
    folded in rows no wider than ``max_width``."""
    fig = plan_figure(ident, f"plan {plan.ident}: {_goal(plan)}", plan.steps, topo, marks)
    return f'<div class="scroll">{draw(fig, figure_layout(fig, max_width))}</div>'


def _goal(plan: Plan) -> str:
    verb = "exfiltrate" if plan.goal[0] == "exfil" else "tamper"
    return f"{verb}({plan.goal[1]})"


def plan_section(
    plan: Plan,
    verdicts: Sequence[PlanVerdict],
    policies: Sequence[LoadedPolicy],
    topo: LoadedTopology,
    *,
    anchor: str,
    caption: str,
    max_width: float = FOLD_WIDTH,
) -> str:
    """A plan: heading, picture (blocking steps marked per policy), verdicts, step table."""
    marks = block_marks(verdicts, policies)
    items = []
    for v, p in zip(verdicts, policies, strict=True):
        items.append(f"<li><b>{esc(p.name)}</b>: {verdict_cell(v, p)}</li>")
    return "\n".join(
        [
            f'<section class="plan" id="{anchor}">',
            f"<h3>Plan <code>{esc(plan.ident)}</code>: {esc(_goal(plan))} from "
            f"<code>{esc(plan.entry)}</code>, {plan.cost} steps</h3>",
            f'<p class="muted">{caption}</p>',
            "<figure>",
            plan_picture(plan, topo, marks, anchor, max_width),
            f'<figcaption><ul class="verdicts">{"".join(items)}</ul></figcaption>',
            "</figure>",
            steps_table(plan),
            "</section>",
        ]
    )
