"""The incident analysis as GitHub-flavoured Markdown (``ztsim report --analysis``).

Renders :class:`ztsim.whatif.incident.IncidentAnalysis` and nothing else: per
policy, the executive summary, impact at a glance, the attack path narrative, the
kill chain (a Mermaid flowchart GitHub draws, and a table), mitigations and
controls per step, the compliance exposure and the recommended actions.  Every
name from a user file goes through :func:`ztsim.output.escape.markdown_text` (or
``markdown_code``); Mermaid labels hold ATT&CK ids and names only, escaped by
:func:`ztsim.output.drawing.mermaid.mermaid_text`.  Deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

from ztsim.output.drawing.mermaid import mermaid_text
from ztsim.output.escape import markdown_code as code
from ztsim.output.escape import markdown_text
from ztsim.output.planshort import differences
from ztsim.whatif.incident import (
    IncidentAnalysis,
    IncidentPlan,
    PolicyIncident,
    StepControl,
    TacticGroup,
)
from ztsim.whatif.yamlout import rule_line

__all__ = ["control_text", "render_incident_markdown"]


def _t(text: str) -> str:
    """Escaped text, newlines as breaks (safe in a table cell)."""
    return "<br>".join(markdown_text(line) for line in text.split("\n"))


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [_row(head), _row(["---"] * len(head)), *(_row(r) for r in rows), ""]


def control_text(c: StepControl) -> str:
    """A control and this policy's say on it, in words (plain text, not escaped)."""
    if c.kind == "none":
        return c.text
    if c.kind == "detection":
        return c.text if c.present else f"{c.text}: missing"
    where = f" at {c.location}" if c.location else ""
    if c.stops:
        return f"{c.text}: in force ({c.rule_name}{where})"
    if c.rule and c.kind in ("segmentation", "egress"):
        return f"{c.text}: missing (allowed by {c.rule_name}{where})"
    return f"{c.text}: missing"


def _summary(p: PolicyIncident) -> list[str]:
    return ["### Executive summary", "", *(f"- {_t(s)}" for s in p.summary), ""]


def _impact(p: PolicyIncident) -> list[str]:
    out = ["### Impact at a glance", ""]
    rows = [
        [
            code(r.data),
            code(r.host),
            _t(r.classification or "unclassified"),
            f"{r.records:,}" if r.records is not None else "?",
            "yes" if r.exfiltrable else "no",
            "yes" if r.tamperable else "no",
        ]
        for r in p.impact
    ]
    head = ["data", "host", "classification", "records", "exfiltrable", "tamperable"]
    out += _table(head, rows)
    out.append(
        f"Records at risk: {p.records_exfiltrable:,} exfiltrable, {p.records_tamperable:,} "
        "tamperable."
    )
    if p.hosts_traversed:
        what = "traversed by the open plans" if p.attacked else "the stopped plans would traverse"
        out.append(f"Hosts {what}: {', '.join(code(h) for h in p.hosts_traversed)}.")
    return [*out, ""]


def apart(plans: Sequence[IncidentPlan]) -> list[str]:
    """What tells each plan apart from the others of its goal and cost (as the matrix says)."""
    hosts = {h for plan in plans for h in plan.hosts}
    return differences([plan.plan for plan in plans], hosts)


def _plan_line(p: PolicyIncident, plan: IncidentPlan, differs: str) -> str:
    techs = " > ".join(s.technique.id for i in plan.steps if (s := p.steps[i]).technique)
    if plan.open:
        fate = f"open, P(detected) {plan.p_detected or 0:.2f}"
    else:
        where = plan.stop.location if plan.stop and plan.stop.location else "?"
        rule = plan.stop.rule_name if plan.stop else "?"
        fate = f"stopped at step {plan.stop_step} by {code(rule)} ({code(where)})"
    return f"{code(plan.ident)} ({plan.cost} steps, via {code(differs)}): {_t(techs)}; {fate}"


def _narrative(p: PolicyIncident) -> list[str]:
    out = ["### Attack path analysis", ""]
    if not p.plans:
        return [*out, "No plan reaches any goal, even under the reference policy.", ""]
    if not p.attacked:
        out.append(
            "No plan is open under this policy. The plans below are those open under "
            "another policy or the reference (allow everything); each stops at the step shown."
        )
        out.append("")
    goals = list(dict.fromkeys(plan.goal for plan in p.plans))
    for goal in goals:
        plans = [plan for plan in p.plans if plan.goal == goal]
        first = plans[0]
        out.append(
            f"**{_t(goal)}**: the cheapest plan, {code(first.ident)}, from {code(first.entry)}:"
        )
        out.append("")
        for n, si in enumerate(first.steps, 1):
            s = p.steps[si]
            tech = f" ({s.technique.id} {s.technique.name})" if s.technique else ""
            mark = ""
            if not first.open and first.stop_step == n and first.stop is not None:
                where = f" at {first.stop.location}" if first.stop.location else ""
                why = f"by {first.stop.rule_name}{where}: {first.stop.decision}."
                mark = f" **Stopped here** {_t(why)}"
            out.append(f"{n}. {_t(s.sentence + tech)}{mark}")
        out.append("")
        if not first.open:
            out.append(
                f"Open under: {_t(', '.join(first.open_under) or 'the reference policy only')}."
            )
            out.append("")
        if len(plans) > 1:
            out.append("Other plans to the same goal:")
            out.append("")
            differs = apart(plans)
            out += [
                f"- {_plan_line(p, plan, d)}"
                for plan, d in zip(plans[1:], differs[1:], strict=True)
            ]
            out.append("")
    return out


def _mermaid(chain: Sequence[TacticGroup]) -> list[str]:
    out = ["```mermaid", "flowchart LR"]
    for i, g in enumerate(chain):
        techs = "<br/>".join(
            mermaid_text(f"{e.technique.id} {e.technique.name}") for e in g.entries
        )
        title = mermaid_text(f"{g.tactic_id} {g.name}".strip())
        out.append(f'  t{i}["<b>{title}</b><br/>{techs}"]')
    for i in range(len(chain) - 1):
        out.append(f"  t{i} --> t{i + 1}")
    return [*out, "```", ""]


def _kill_chain(p: PolicyIncident) -> list[str]:
    out = ["### Kill chain progression", ""]
    if not p.kill_chain:
        return [*out, "No step to place.", ""]
    out += _mermaid(p.kill_chain)
    rows = []
    for g in p.kill_chain:
        for e in g.entries:
            uses = ", ".join(f"{ident} #{n}" for ident, n in e.uses[:4])
            more = f" (+{len(e.uses) - 4})" if len(e.uses) > 4 else ""
            rows.append(
                [
                    _t(f"{g.tactic_id} {g.name}".strip()),
                    f"[{e.technique.id}]({e.technique.url})",
                    _t(e.technique.name),
                    ", ".join(code(h) for h in e.hosts),
                    _t(uses + more),
                ]
            )
    out += _table(["tactic", "technique", "name", "hosts", "plan steps"], rows)
    if p.unused_tactics:
        out.append(f"Tactics no studied step uses: {_t(', '.join(p.unused_tactics))}.")
        out.append("")
    return out


def _mitigations(p: PolicyIncident) -> list[str]:
    out = ["### Mitigations and controls", ""]
    out.append(
        "Each distinct step of the plans above: the ATT&CK mitigations of its technique, "
        "and the ztsim controls that would stop it (or see it), with whether this policy "
        "has them."
    )
    out.append("")
    rows = []
    for s in p.steps:
        t = s.technique
        mits = ", ".join(f"{m} {n}" for m, n in t.mitigations) if t else ""
        controls = "\n".join(control_text(c) for c in s.controls)
        rows.append(
            [
                _t(s.sentence),
                _t(f"{t.id} {t.name}" if t else "-"),
                _t(mits or "-"),
                _t(controls),
            ]
        )
    return out + _table(["step", "technique", "ATT&CK mitigations", "ztsim controls"], rows)


def _compliance(p: PolicyIncident, name: str) -> list[str]:
    out = ["### Potential compliance exposure", ""]
    if not p.compliance:
        return [
            *out,
            f"No control of the mapping ({_t(name)}) is at stake: no goal is reachable.",
            "",
        ]
    out.append(
        "The framework controls the reachable goals put at stake (for a reviewer to judge: "
        "each framework applies only within its scope)."
    )
    out.append("")
    rows = [
        [
            _t(c.framework_name),
            _t(c.control),
            _t(c.title),
            _t(c.reason),
            _t(", ".join(c.goals)),
        ]
        for c in p.compliance
    ]
    out += _table(["framework", "control", "title", "why", "goals"], rows)
    scopes = dict.fromkeys((c.framework_name, c.scope) for c in p.compliance)
    out += [f"- {_t(n)}: {_t(s)}" for n, s in scopes]
    return [*out, ""]


def _recommended(p: PolicyIncident) -> list[str]:
    r = p.recommendations
    out = ["### Recommended actions", ""]
    if not r.needed:
        return [*out, "None: no goal is reachable under this policy.", ""]
    out.append(f"`ztsim harden`'s verified proposal, {len(r.items)} change(s), {_t(r.proof)}:")
    out.append("")
    for n, c in enumerate(r.items, 1):
        out.append(f"{n}. **{_t(c.text)}**")
        for s in c.settings:
            out.append(f"   - set {code(s)}")
        for section, rule in c.rules:
            out.append(f"   - {section} rule: {code(rule_line(rule))}")
        if c.closes:
            out.append(f"   - closes: without it {_t(', '.join(c.closes))} reopen (verified)")
        if c.forbids:
            shown = "; ".join(c.forbids[:3])
            more = f" (+{len(c.forbids) - 3} more)" if len(c.forbids) > 3 else ""
            out.append(f"   - forbids: {_t(shown + more)}")
        if c.keeps:
            out.append(f"   - keeps: {_t('; '.join(c.keeps))}")
        if c.note:
            out.append(f"   - note: {_t(c.note)}")
    out.append("")
    after = ", ".join(r.after) or "none"
    out.append(
        f"After the changes (verified by the fixpoint): goals reachable: {_t(after)}; "
        f"{r.broken} of {r.traffic} legitimate flows newly broken."
    )
    return [*out, ""]


def render_incident_markdown(ia: IncidentAnalysis) -> str:
    """The incident analysis as one Markdown document."""
    out = [
        f"# Incident analysis of {_t(ia.topology)}, before the incident",
        "",
        f"Topology {code(ia.topology_path)}; MITRE ATT&CK Enterprise v{_t(ia.attack_version)}; "
        f"compliance mapping: {_t(ia.compliance_name)} ({code(ia.compliance_path)}). Every "
        "sentence below is generated by ztsim from the model, the policies and these files.",
        "",
    ]
    out.append(f"Policies: {', '.join(_t(p.policy) for p in ia.policies)}.")
    out.append("")
    for p in ia.policies:
        out += [f"## Policy {_t(p.policy)}", "", f"Policy file {code(p.path)}.", ""]
        out += _summary(p)
        out += _impact(p)
        out += _narrative(p)
        out += _kill_chain(p)
        out += _mitigations(p)
        out += _compliance(p, ia.compliance_name)
        out += _recommended(p)
    out += ["---", "", f"<sub>{_t(ia.attack_attribution)} {_t(ia.attack_licence)}.</sub>", ""]
    return "\n".join(out)
