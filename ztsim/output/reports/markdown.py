"""Markdown summary for ``$GITHUB_STEP_SUMMARY`` or a pull-request comment.

A verdict heading, a table of counts per policy, then per policy a table of the
assertions and, folded in ``<details>``, each failure's counter-example plan: its
steps as a table and as a Mermaid diagram (zones as subgraphs, the blocking step
marked; :mod:`ztsim.output.drawing.mermaid`), which GitHub draws.
"""

from __future__ import annotations

from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.output.drawing.attack import block_marks, topology_places
from ztsim.output.drawing.mermaid import plan_mermaid
from ztsim.output.escape import markdown_code as _code
from ztsim.output.escape import markdown_text
from ztsim.output.reports.common import (
    PLAN_HEADER,
    assertions_label,
    counts,
    describe,
    plan_rows,
    status_label,
    verdict_line,
)
from ztsim.whatif.intent import Outcome, Report

__all__ = ["render_markdown"]

_ICON = {"PASS": "✅", "FAIL": "❌", "WARN": "⚠️", "KNOWN": "📌"}


def _cell(text: str) -> str:
    """Table-cell safe text: Markdown and HTML escaped, newlines as breaks.

    Control and bidi characters are escaped (:func:`ztsim.output.escape.markdown_text`),
    so a name can neither break the table nor open a tag, a link or a code span.
    """
    return "<br>".join(markdown_text(line) for line in text.split("\n"))


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def render_markdown(report: Report) -> str:
    """The report as GitHub-flavoured Markdown."""
    topo = report.topology
    icon = "❌" if report.exit_code else "✅"
    word = "failed" if report.exit_code else "passed"
    out = [f"## {icon} ztsim check {word}", "", f"**{_cell(verdict_line(report))}**", ""]
    src = report.source
    what = (
        f"assertions **{_cell(src.name)}** ({_code(src.path)})"
        if src is not None
        else _cell(assertions_label(report))
    )
    out.append(f"Topology **{_cell(topo.name)}** ({_code(topo.path)}); {what}.")
    if report.baseline is not None:
        b = report.baseline
        out.append(
            f"Baseline **{_cell(b.name)}** ({_code(b.path)}): only violations new since the "
            "baseline fail; the others are known debt (📌)."
        )
    out += ["", _row(["policy", "✅ pass", "❌ fail", "⚠️ warn", "📌 known debt"])]
    out.append(_row(["---", "---:", "---:", "---:", "---:"]))
    for pi, p in enumerate(report.policies):
        c = counts(report.outcomes_of(pi))
        out.append(_row([_code(p.name), str(c.passed), str(c.failed), str(c.warned), str(c.known)]))
    for pi, p in enumerate(report.policies):
        outcomes = report.outcomes_of(pi)
        out += ["", f"### Policy {_code(p.name)} ({_code(p.path)})", ""]
        out.append(_row(["", "assertion", "severity", "requires", "result"]))
        out.append(_row(["---", "---", "---", "---", "---"]))
        for o in outcomes:
            label = status_label(o)
            result = (
                "ok" if label == "PASS" else "<br>".join(_cell(v.message) for v in o.violations)
            )
            out.append(
                _row(
                    [
                        _ICON[label],
                        _code(o.assertion.id),
                        o.assertion.severity,
                        _cell(describe(o.assertion)),
                        result,
                    ]
                )
            )
        failing = [o for o in outcomes if o.violations]
        if failing:
            out += ["", "<details><summary>Counter-examples</summary>", ""]
            for o in failing:
                out += _counter_examples(o, p, topo)
            out.append("</details>")
    return "\n".join(out) + "\n"


def _counter_examples(o: Outcome, p: LoadedPolicy, topo: LoadedTopology) -> list[str]:
    """Each violation of ``o``: its message and fix, then its plan (or its flows)."""
    zones, external = topology_places(topo)
    out: list[str] = []
    for v in o.violations:
        where = f"{v.location.path}:{v.location.line}"
        head = f"**{_ICON[status_label(o)]} {_code(o.assertion.id)}**"
        why = _cell(f": {v.fix}") if v.fix else ""
        out.append(f"{head}: {_cell(v.message)} (fix at {_code(where)}{why})")
        out.append("")
        if v.plan is not None:
            out.append(_row(PLAN_HEADER))
            out.append(_row(["---"] * len(PLAN_HEADER)))
            out += [_row([_cell(c) for c in r]) for r in plan_rows(v.plan, v.verdict, p)]
            out.append("")
            marks = block_marks([v.verdict], [p]) if v.verdict is not None else None
            out += ["```mermaid", *plan_mermaid(v.plan.steps, zones, external, marks), "```", ""]
        elif len(v.flows) > 1:
            out += [f"- {_code(f)}" for f in v.flows]
            out.append("")
    return out
