"""The HTML report of a policy change (``ztsim report --base B --proposed P``).

The verdict of :func:`ztsim.output.diff.verdict_line`; goals opened and closed;
the plans the proposal opens and those it closes side by side, each drawn with the
blocking step marked under the base and the proposed policy; plans blocked at
another step; legitimate flows broken or restored; the rules and settings
changed.  The diff is :func:`ztsim.whatif.diff.diff_policies`'s, the one ``ztsim
diff`` prints.  Deterministic: the same diff gives the same bytes.
"""

from __future__ import annotations

from ztsim.analysis.results import goal_label
from ztsim.output.diff import verdict_line
from ztsim.output.drawing.svg import FOLD_WIDTH
from ztsim.output.reports.html_page import esc, page, plan_section, table
from ztsim.whatif.diff import PlanChange, PolicyDiff

__all__ = ["render_diff_html"]


#: Opened and closed plans are side by side: each picture folded to half a report's.
SIDE_WIDTH = FOLD_WIDTH / 2


def _plans(d: PolicyDiff, changes: list[PlanChange], prefix: str) -> list[str]:
    pols = [d.base.policy, d.proposed.policy]
    topo = d.analysis.topology
    out = []
    for pc in changes:
        where = f" ({esc(pc.location)})" if pc.location else ""
        caption = (
            f"{esc(pc.change)} at step {pc.step + 1} by <code>{esc(pc.rule)}</code>{where}: "
            f"{esc(pc.why)}"
        )
        out.append(
            plan_section(
                pc.plan,
                [pc.base, pc.proposed],
                pols,
                topo,
                anchor=f"{prefix}-{pc.plan.ident}",
                caption=caption,
                max_width=SIDE_WIDTH,
            )
        )
    return out or ["<p>None.</p>"]


def render_diff_html(d: PolicyDiff, fail_on: str = "opened") -> str:
    """The diff as one self-contained HTML page."""
    b, p = d.base.policy, d.proposed.policy
    topo = d.analysis.topology
    word = "fail" if d.failed(fail_on) else "pass"
    body = [
        '<section id="verdict"><h2>Verdict</h2>',
        f'<div class="verdict {word}">{esc(verdict_line(d, fail_on))}</div>',
    ]
    if d.goals:
        rows = [
            [
                esc(g.change),
                esc(goal_label(g.goal)),
                "blocked" if g.base_cost is None else f"reachable (cost {g.base_cost})",
                "blocked" if g.proposed_cost is None else f"reachable (cost {g.proposed_cost})",
            ]
            for g in d.goals
        ]
        body.append(table(["change", "goal", f"base {b.name}", f"proposed {p.name}"], rows))
    body.append("</section>")
    opened = [pc for pc in d.plans if pc.change == "opened"]
    closed = [pc for pc in d.plans if pc.change == "closed"]
    moved = [pc for pc in d.plans if pc.change == "moved"]
    body += [
        '<section id="plans"><h2>Plans opened and closed</h2>',
        f"<p>{d.plans_compared} plan(s) compared. Each is drawn with the step blocking it "
        f"marked under <b>{esc(b.name)}</b> (base) and <b>{esc(p.name)}</b> (proposed).</p>",
        '<div class="side">',
        f'<section id="opened"><h3>Opened by the proposal ({len(opened)})</h3>',
        *_plans(d, opened, "opened"),
        "</section>",
        f'<section id="closed"><h3>Closed by the proposal ({len(closed)})</h3>',
        *_plans(d, closed, "closed"),
        "</section>",
        "</div>",
    ]
    if moved:
        body.append(f"<h3>Blocked at another step ({len(moved)})</h3>")
        body += _plans(d, moved, "moved")
    body.append("</section>")
    body.append('<section id="traffic"><h2>Legitimate flows</h2>')
    if d.traffic:
        rows = [
            [
                esc(t.change),
                f"<code>{esc(t.source)}</code>",
                f"<code>{esc(t.to)}</code>",
                esc(t.service),
                esc(t.base.describe(b)),
                esc(t.proposed.describe(p)),
            ]
            for t in d.traffic
        ]
        body.append(table(["change", "from", "to", "service", "base", "proposed"], rows))
    else:
        body.append("<p>No flow broken or restored.</p>")
    body.append("</section>")
    body.append('<section id="rules"><h2>Rules and settings changed</h2>')
    if d.rules:
        rows = []
        for r in d.rules:
            line = r.proposed_line if r.proposed_line is not None else r.base_line
            side = p if r.proposed_line is not None else b
            at = f"{side.rule_file(r.section, r.rule)}:{line}" if line is not None else ""
            rows.append(
                [
                    esc(r.section),
                    esc(r.change),
                    f"<code>{esc(r.rule)}</code>",
                    esc(at),
                    esc(r.detail),
                ]
            )
        body.append(table(["section", "change", "rule", "where", "detail"], rows))
    if d.settings:
        rows = [
            [f"<code>{esc(s.setting)}</code>", esc(s.base), esc(s.proposed)] for s in d.settings
        ]
        body.append(table(["setting", "base", "proposed"], rows))
    if not d.rules and not d.settings:
        body.append("<p>No rule or setting changed.</p>")
    body.append("</section>")
    nav = [
        ("verdict", "Verdict"),
        ("plans", "Plans opened and closed"),
        ("traffic", "Legitimate flows"),
        ("rules", "Rules"),
    ]
    title = f"ztsim diff report: {b.name} -> {p.name}"
    subtitle = (
        f"topology {esc(topo.name)} ({esc(topo.path)}); base {esc(b.name)} ({esc(b.path)}); "
        f"proposed {esc(p.name)} ({esc(p.path)})"
    )
    return page(title, subtitle, nav, body)
