"""Text, JSON and Markdown renderings of a :class:`~ztsim.whatif.diff.PolicyDiff`.

Markdown is meant to be pasted as a pull-request comment: a verdict line, then
tables for goals, plans, legitimate traffic, rules and settings (only the
non-empty ones).  Everything is plain, deterministic text.
"""

from __future__ import annotations

from typing import Any

from ztsim.analysis.results import goal_label
from ztsim.output.escape import markdown_code as _code
from ztsim.output.escape import markdown_text, text_lines
from ztsim.output.harden import step_text
from ztsim.whatif.diff import PlanChange, PolicyDiff

__all__ = ["diff_json", "diff_markdown", "diff_text", "verdict_line"]


def _cost(c: int | None) -> str:
    return "blocked" if c is None else f"reachable (cost {c})"


def verdict_line(d: PolicyDiff, fail_on: str) -> str:
    """``FAIL: ...`` or ``PASS: ...`` with the counts that matter."""
    goals, plans = d.opened()
    broken = d.broken()
    parts = [
        f"opens {len(goals)} goal(s) and {len(plans)} plan(s)",
        f"closes {sum(g.change == 'closed' for g in d.goals)} goal(s) and "
        f"{sum(p.change == 'closed' for p in d.plans)} plan(s)",
        f"breaks {len(broken)} legitimate flow(s)",
    ]
    restored = sum(t.change == "restored" for t in d.traffic)
    if restored:
        parts.append(f"restores {restored}")
    word = "FAIL" if d.failed(fail_on) else "PASS"
    return f"{word} (--fail-on {fail_on}): the proposed policy " + ", ".join(parts)


def _cause(p: PlanChange) -> str:
    where = f" ({p.location})" if p.location else ""
    section = f"{p.section} " if p.section and p.rule != "default" else ""
    if p.rule == "default" and p.section:
        return f"{p.section} default"
    return f"{section}{p.rule}{where}"


def diff_text(d: PolicyDiff, fail_on: str) -> str:
    """The human report."""
    b, p = d.base.policy, d.proposed.policy
    lines = [
        f"diff on topology {d.analysis.topology.name}: base {b.name} ({b.path}) -> "
        f"proposed {p.name} ({p.path})",
        verdict_line(d, fail_on),
    ]
    if d.empty:
        lines.append("no difference in rules, settings or verdicts")
        return text_lines(lines)
    if d.goals:
        lines += ["", "goals:"]
        for g in d.goals:
            before, after = _cost(g.base_cost), _cost(g.proposed_cost)
            lines.append(f"  {g.change:<8} {goal_label(g.goal)}: {before} -> {after}")
    if d.plans:
        lines += ["", f"plans ({d.plans_compared} compared):"]
        for pc in d.plans:
            st = pc.plan.steps[pc.step]
            head = f"[{pc.plan.ident}] {goal_label(pc.plan.goal)} cost {pc.plan.cost}"
            lines.append(
                f"  {pc.change:<8} {head}: step {pc.step + 1} {step_text(st)}; by {_cause(pc)}"
            )
            lines.append(f"           {pc.why}")
    if d.traffic:
        lines += ["", "legitimate traffic:"]
        for t in d.traffic:
            lines.append(
                f"  {t.change:<8} {t.source} -> {t.to} {t.service}: "
                f"base {t.base.describe(b)}; proposed {t.proposed.describe(p)}"
            )
    if d.rules:
        lines += ["", "rules:"]
        for r in d.rules:
            loc = r.proposed_line if r.proposed_line is not None else r.base_line
            side = p if r.proposed_line is not None else b
            # FILE:LINE, or a Kubernetes import's object and manifest line
            at = f" ({side.rule_location(r.section, r.rule)})" if loc is not None else ""
            lines.append(f"  {r.section:<12} {r.change:<8} {r.rule}{at}: {r.detail}")
    if d.settings:
        lines += ["", "settings:"]
        for s in d.settings:
            lines.append(f"  {s.setting}: {s.base} -> {s.proposed}")
    return text_lines(lines)


def _md(text: str) -> str:
    """A table cell: escaped (control characters, pipes, HTML tags), on one line."""
    return markdown_text(text, every_special=False)


def diff_markdown(d: PolicyDiff, fail_on: str) -> str:
    """A pull-request comment."""
    b, p = d.base.policy, d.proposed.policy
    icon = "❌" if d.failed(fail_on) else "✅"
    out = [
        f"### ztsim diff: {_code(b.name)} → {_code(p.name)} on {_code(d.analysis.topology.name)}",
        "",
        f"{icon} **{_md(verdict_line(d, fail_on))}**",
    ]
    if d.empty:
        out += ["", "No difference in rules, settings or verdicts."]
        return "\n".join(out) + "\n"
    if d.goals:
        out += ["", "#### Goals", "", "| change | goal | base | proposed |", "|---|---|---|---|"]
        for g in d.goals:
            out.append(
                f"| {g.change} | {_code(goal_label(g.goal))} | {_cost(g.base_cost)} | "
                f"{_cost(g.proposed_cost)} |"
            )
    if d.plans:
        out += [
            "",
            f"#### Attack plans ({len(d.plans)} changed of {d.plans_compared} compared)",
            "",
            "| change | plan | goal | cost | responsible step | rule |",
            "|---|---|---|---:|---|---|",
        ]
        for pc in d.plans:
            st = pc.plan.steps[pc.step]
            out.append(
                f"| {pc.change} | {_code(pc.plan.ident)} | {_code(goal_label(pc.plan.goal))} | "
                f"{pc.plan.cost} | {pc.step + 1}. {_md(step_text(st))} | {_md(_cause(pc))} |"
            )
    if d.traffic:
        out += ["", "#### Legitimate traffic", "", "| change | flow | base | proposed |"]
        out.append("|---|---|---|---|")
        for t in d.traffic:
            out.append(
                f"| {t.change} | {_code(f'{t.source} -> {t.to} {t.service}')} | "
                f"{_md(t.base.describe(b))} | {_md(t.proposed.describe(p))} |"
            )
    if d.rules:
        out += ["", "#### Rules", "", "| section | rule | change | detail |", "|---|---|---|---|"]
        for r in d.rules:
            out.append(f"| {r.section} | {_code(r.rule)} | {r.change} | {_md(r.detail)} |")
    if d.settings:
        out += ["", "#### Settings", "", "| setting | base | proposed |", "|---|---|---|"]
        for s in d.settings:
            out.append(f"| {_code(s.setting)} | {_md(s.base)} | {_md(s.proposed)} |")
    return "\n".join(out) + "\n"


def diff_json(d: PolicyDiff, fail_on: str) -> dict[str, Any]:
    """The diff as one JSON object."""
    b, p = d.base.policy, d.proposed.policy
    goals, plans = d.opened()
    return {
        "topology": d.analysis.topology.name,
        "base": {"policy": b.name, "file": b.path},
        "proposed": {"policy": p.name, "file": p.path},
        "fail_on": fail_on,
        "failed": d.failed(fail_on),
        "summary": {
            "goals_opened": len(goals),
            "goals_closed": sum(g.change == "closed" for g in d.goals),
            "plans_opened": len(plans),
            "plans_closed": sum(x.change == "closed" for x in d.plans),
            "plans_compared": d.plans_compared,
            "traffic_broken": len(d.broken()),
            "traffic_restored": sum(t.change == "restored" for t in d.traffic),
            "rules_changed": len(d.rules),
            "settings_changed": len(d.settings),
        },
        "goals": [
            {
                "goal": goal_label(g.goal),
                "change": g.change,
                "base_cost": g.base_cost,
                "proposed_cost": g.proposed_cost,
            }
            for g in d.goals
        ],
        "plans": [
            {
                "id": pc.plan.ident,
                "goal": goal_label(pc.plan.goal),
                "cost": pc.plan.cost,
                "change": pc.change,
                "step": pc.step + 1,
                "step_text": step_text(pc.plan.steps[pc.step]),
                "rule": pc.rule,
                "section": pc.section,
                "location": pc.location,
                "base": {"blocked": pc.base.blocked, "explanation": pc.base.explanation},
                "proposed": {
                    "blocked": pc.proposed.blocked,
                    "explanation": pc.proposed.explanation,
                },
            }
            for pc in d.plans
        ],
        "traffic": [
            {
                "from": t.source,
                "to": t.to,
                "service": t.service,
                "change": t.change,
                "base_rule": t.base.rule,
                "proposed_rule": t.proposed.rule,
            }
            for t in d.traffic
        ],
        "rules": [
            {
                "section": r.section,
                "rule": r.rule,
                "change": r.change,
                "detail": r.detail,
                "base_line": r.base_line,
                "proposed_line": r.proposed_line,
            }
            for r in d.rules
        ],
        "settings": [
            {"setting": s.setting, "base": s.base, "proposed": s.proposed} for s in d.settings
        ],
    }
