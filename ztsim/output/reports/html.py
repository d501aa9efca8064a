"""The shareable HTML report of ``ztsim report``: verdicts, plans and their pictures.

From top to bottom: the verdict per policy (goals reachable, records exposed and
tamperable, legitimate flows broken, assertions); the plans x policies matrix
(each cell open with P(detected), or blocked at step N by RULE at FILE:LINE); each
plan drawn (:mod:`ztsim.output.drawing`) with its blocking steps marked per policy;
the attack graph around one goal (the plans listed for it, merged); per-rule
impact; broken legitimate flows; the assertions.  The analysis is the one every
other report reads (:func:`ztsim.whatif.intent.evaluate`'s
:class:`~ztsim.whatif.outcomes.Report`), the plans those ``ztsim paths`` lists.
Deterministic: the same report gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

from ztsim.analysis.judged import check_impact
from ztsim.analysis.results import PlanRow, goal_label
from ztsim.engine.steps import Fact
from ztsim.output.console import select_goals
from ztsim.output.drawing.attack import plans_figure, topology_places
from ztsim.output.drawing.svg import FOLD_WIDTH, draw, figure_layout
from ztsim.output.planshort import differences
from ztsim.output.reports.common import counts, describe, status_label, verdict_line
from ztsim.output.reports.html_page import esc, page, plan_section, table, verdict_cell
from ztsim.whatif.intent import Report

__all__ = ["render_html", "selected_goal"]


def selected_goal(
    goals: Sequence[Fact], rows: dict[Fact, list[PlanRow]], data: str | None
) -> Fact | None:
    """The goal whose attack graph is drawn: the one ``data`` names if given (``DATA``,
    ``exfiltrate(DATA)`` or ``tamper(DATA)``, as ``--goal`` everywhere; a name for no
    goal raises ``ValueError``), else the first goal with a plan open under some
    policy, else the first with any plan."""
    if data is not None:
        return next((g for g in select_goals(goals, [data]) if rows.get(g)), None)
    for g in goals:
        if any(not v.blocked for row in rows.get(g, []) for v in row.verdicts):
            return g
    return next((g for g in goals if rows.get(g)), None)


def _summary(report: Report) -> str:
    a = report.analysis
    rows = []
    for pi, p in enumerate(report.policies):
        r = a.results[pi]
        c = counts(report.outcomes_of(pi))
        bad = bool(r.reachable_goals)
        reach = f"{len(r.reachable_goals)}/{len(r.goals)}"
        goals = f'<span class="{"open" if bad else "blocked"}">{reach}</span>'
        broken = len(r.broken_traffic)
        flows = f'<span class="{"warn" if broken else ""}">{broken}/{len(r.traffic)}</span>'
        assertions = f"{c.passed} pass, {c.failed} fail, {c.warned} warn"
        rows.append(
            [
                f"<b>{esc(p.name)}</b><br><code>{esc(p.path)}</code>",
                goals,
                f"{r.records_exfiltrable:,}",
                f"{r.records_tamperable:,}",
                flows,
                assertions,
            ]
        )
    head = ["policy", "goals reachable", "records exfiltrable", "records tamperable"]
    head += ["legitimate flows broken", "assertions"]
    word = "fail" if report.exit_code else "pass"
    return "\n".join(
        [
            '<section id="verdict"><h2>Verdict</h2>',
            f'<div class="verdict {word}">{esc(verdict_line(report))}</div>',
            table(head, rows, (1, 2, 3, 4)),
            "</section>",
        ]
    )


def _matrix(report: Report, rows: dict[Fact, list[PlanRow]]) -> str:
    pols = report.policies
    body = []
    # what tells apart plans of one goal and cost (the TUI's via): the hosts alone
    # read the same for plans launching a step from another host they hold
    every = [row.plan for plan_rows in rows.values() for row in plan_rows]
    differs = iter(differences(every, report.topology.hosts))
    for goal, plan_rows in rows.items():
        for row in plan_rows:
            p = row.plan
            cells = [
                esc(goal_label(goal)),
                f'<a href="#plan-{esc(p.ident)}"><code>{esc(p.ident)}</code></a>',
                f"<code>{esc(p.entry)}</code>",
                str(p.cost),
                esc(" > ".join(p.techniques)),
                " ".join(f'<span class="tok">{esc(x)}</span>' for x in next(differs).split(" ")),
            ]
            cells += [verdict_cell(v, pol) for v, pol in zip(row.verdicts, pols, strict=False)]
            body.append(cells)
    head = ["goal", "plan", "entry", "cost", "techniques", "via", *(p.name for p in pols)]
    n = sum(len(x) for x in rows.values())
    intro = (
        f"<p>{n} plan(s), up to the cheapest few per goal (as <code>ztsim paths</code> lists "
        "them), each judged under every policy: open, with the probability that the "
        "policy's detection sees it, or blocked at its first forbidden step. <code>via</code>: "
        "what sets a plan apart from the others of its goal and cost (<code>a→b</code> a "
        "hop, <code>a⇒c2</code> where the data leaves, <code>cred@host</code> a credential "
        "taken there); a plan alone in its group, the hosts it moves through.</p>"
    )
    return "\n".join(
        [
            '<section id="matrix"><h2>Plans x policies</h2>',
            intro,
            '<div class="scroll">',
            table(head, body, (3,)),
            "</div></section>",
        ]
    )


def _plans(report: Report, rows: dict[Fact, list[PlanRow]]) -> str:
    out = ['<section id="plans"><h2>Plans, drawn</h2>']
    out.append(
        "<p>Each plan left to right across its zones (frames); each arrow a step with its "
        "number, ATT&amp;CK technique and service; dashed arrows what a step also needs "
        "(a stolen credential, the data). Under each policy that blocks the plan, the "
        "blocking step is marked (green) with the rule and where it is written.</p>"
    )
    topo = report.topology
    for goal, plan_rows in rows.items():
        out.append(f"<h3>{esc(goal_label(goal))}</h3>")
        if not plan_rows:
            out.append("<p>No plan: unreachable even under the reference policy.</p>")
        for row in plan_rows:
            caption = f"found under {esc(', '.join(row.found_under))}"
            out.append(
                plan_section(
                    row.plan,
                    row.verdicts,
                    report.policies,
                    topo,
                    anchor=f"plan-{row.plan.ident}",
                    caption=caption,
                )
            )
    out.append("</section>")
    return "\n".join(out)


def _graph(report: Report, rows: dict[Fact, list[PlanRow]], data: str | None) -> str:
    goal = selected_goal(report.analysis.goals, rows, data)
    out = ['<section id="graph"><h2>Attack graph</h2>']
    if goal is None:
        out.append("<p>No goal has a plan: nothing to draw.</p></section>")
        return "\n".join(out)
    listed = rows[goal]
    zones, external = topology_places(report.topology)
    fig = plans_figure(
        "graph",
        f"attack graph around {goal_label(goal)}",
        [row.plan.steps for row in listed],
        zones=zones,
        external=external,
        numbered=False,
    )
    fig = type(fig)(fig.ident, fig.title, fig.nodes, fig.edges, fig.lanes, "figure attack-graph")
    out.append(
        f"<p>Around <b>{esc(goal_label(goal))}</b>: the {len(listed)} plan(s) listed for it, "
        "merged (a position reached by several plans is drawn once).</p>"
    )
    drawing = draw(fig, figure_layout(fig, FOLD_WIDTH))
    out.append(f'<figure><div class="scroll">{drawing}</div></figure>')
    out.append("</section>")
    return "\n".join(out)


def _rules(report: Report) -> str:
    out = ['<section id="rules"><h2>Per-rule impact</h2>']
    out.append(
        "<p>For each rule: the plans it lets through (of which still open) and blocks, and the "
        "legitimate flows it allows or denies (over the plans <code>ztsim check</code> counts).</p>"
    )
    impacts = check_impact(report.analysis)[: len(report.policies)]
    for r, xs in impacts:
        out.append(f"<h3>{esc(r.policy.name)} <code>{esc(r.policy.path)}</code></h3>")
        if not xs:
            out.append("<p>No rule.</p>")
            continue
        body = [
            [
                esc(x.section),
                f"<code>{esc(x.rule)}</code>",
                esc(x.place(r.policy.path)),  # FILE:LINE when not the policy's own file
                esc(x.action),
                str(x.plans_enabled),
                str(x.plans_open),
                str(x.plans_blocked),
                str(x.traffic),
                str(x.traffic_denied),
            ]
            for x in xs
        ]
        head = ["section", "rule", "line", "action", "enables", "open", "blocks", "flows", "denies"]
        out.append(table(head, body, (2, 4, 5, 6, 7, 8)))
    out.append("</section>")
    return "\n".join(out)


def _traffic(report: Report) -> str:
    out = ['<section id="traffic"><h2>Broken legitimate flows</h2>']
    for r in report.analysis.results[: len(report.policies)]:
        broken = r.broken_traffic
        title = f"<h3>{esc(r.policy.name)}: {len(broken)} of {len(r.traffic)} broken</h3>"
        out.append(title)
        if broken:
            body = [
                [
                    f"<code>{esc(t.source)}</code>",
                    f"<code>{esc(t.to)}</code>",
                    esc(t.service),
                    esc(t.decision.describe(r.policy)),
                ]
                for t in broken
            ]
            out.append(table(["from", "to", "service", "denied by"], body))
    out.append("</section>")
    return "\n".join(out)


def _assertions(report: Report) -> str:
    out = ['<section id="assertions"><h2>Assertions</h2>']
    src = report.source
    if src is None:
        out.append(
            "<p>No assertions file: one assertion per goal (no exfiltration, no tampering).</p>"
        )
    else:
        out.append(f"<p><b>{esc(src.name)}</b> <code>{esc(src.path)}</code></p>")
    for pi, p in enumerate(report.policies):
        out.append(f"<h3>{esc(p.name)}</h3>")
        body = []
        for o in report.outcomes_of(pi):
            label = status_label(o)
            css = {"PASS": "blocked", "FAIL": "open", "WARN": "warn"}.get(label, "")
            result = "ok" if label == "PASS" else "<br>".join(esc(v.message) for v in o.violations)
            body.append(
                [
                    f'<span class="{css}">{label}</span>',
                    f"<code>{esc(o.assertion.id)}</code>",
                    esc(o.assertion.severity),
                    esc(describe(o.assertion)),
                    result,
                ]
            )
        out.append(table(["", "assertion", "severity", "requires", "result"], body))
    out.append("</section>")
    return "\n".join(out)


def render_html(report: Report, *, max_paths: int = 5, goal: str | None = None) -> str:
    """The report as one self-contained HTML page (``goal``: whose attack graph to draw)."""
    a = report.analysis
    rows = a.plans_by_goal(a.goals, max_paths)
    topo = report.topology
    title = f"ztsim report: {topo.name}"
    pols = ", ".join(f"{p.name} ({p.path})" for p in report.policies)
    subtitle = f"topology {esc(topo.name)} ({esc(topo.path)}); policies {esc(pols)}"
    nav = [
        ("verdict", "Verdict"),
        ("matrix", "Plans x policies"),
        ("plans", "Plans"),
        ("graph", "Attack graph"),
        ("rules", "Rules"),
        ("traffic", "Broken flows"),
        ("assertions", "Assertions"),
    ]
    body = [
        _summary(report),
        _matrix(report, rows),
        _plans(report, rows),
        _graph(report, rows, goal),
        _rules(report),
        _traffic(report),
        _assertions(report),
    ]
    return page(title, subtitle, nav, body)
