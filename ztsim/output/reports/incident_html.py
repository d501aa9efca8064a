"""The incident analysis as one self-contained HTML page (``ztsim report --analysis``).

The sections of :mod:`ztsim.output.reports.incident_markdown`, on the HTML report's
page (:mod:`ztsim.output.reports.html_page`: inline stylesheet, no script, no
network): per policy, the executive summary, impact, the attack path narrative with
each studied goal's cheapest plan drawn (blocking step marked), the kill chain as
an inline SVG strip of tactics, mitigations and controls per step, the compliance
exposure and the recommended actions.  Every name is escaped
(:func:`ztsim.output.reports.html_page.esc`).  Deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence

from ztsim.inputs.loaded import LoadedTopology
from ztsim.output.drawing.attack import Block
from ztsim.output.drawing.svg import FOLD_WIDTH, clip, text_width
from ztsim.output.reports.html_page import esc, page, plan_picture, table
from ztsim.output.reports.incident_markdown import apart, control_text
from ztsim.whatif.incident import IncidentAnalysis, IncidentPlan, PolicyIncident, TacticGroup
from ztsim.whatif.yamlout import rule_line

__all__ = ["render_incident_html"]


def _summary(p: PolicyIncident) -> str:
    items = "".join(f"<li>{esc(s)}</li>" for s in p.summary)
    word = "fail" if any(plan.open for plan in p.plans) else "pass"
    return f'<h3>Executive summary</h3><div class="verdict {word}"><ul>{items}</ul></div>'


def _impact(p: PolicyIncident) -> str:
    rows = [
        [
            f"<code>{esc(r.data)}</code>",
            f"<code>{esc(r.host)}</code>",
            esc(r.classification or "unclassified"),
            f"{r.records:,}" if r.records is not None else "?",
            f'<span class="{"open" if r.exfiltrable else "blocked"}">'
            f"{'yes' if r.exfiltrable else 'no'}</span>",
            f'<span class="{"open" if r.tamperable else "blocked"}">'
            f"{'yes' if r.tamperable else 'no'}</span>",
        ]
        for r in p.impact
    ]
    head = ["data", "host", "classification", "records", "exfiltrable", "tamperable"]
    out = ["<h3>Impact at a glance</h3>", table(head, rows, (3,))]
    out.append(
        f"<p>Records at risk: <b>{p.records_exfiltrable:,}</b> exfiltrable, "
        f"<b>{p.records_tamperable:,}</b> tamperable.</p>"
    )
    if p.hosts_traversed:
        what = "traversed by the open plans" if p.attacked else "the stopped plans would traverse"
        hosts = ", ".join(f"<code>{esc(h)}</code>" for h in p.hosts_traversed)
        out.append(f"<p>Hosts {what}: {hosts}.</p>")
    return "\n".join(out)


def _marks(plan: IncidentPlan, p: PolicyIncident) -> dict[int, list[Block]]:
    if plan.open or plan.stop_step is None or plan.stop is None:
        return {}
    where = plan.stop.location or p.path
    return {plan.stop_step - 1: [Block(p.policy, plan.stop.rule_name, where)]}


def _plan_fate(plan: IncidentPlan) -> str:
    if plan.open:
        return f'<span class="open">open, P(detected) {plan.p_detected or 0:.2f}</span>'
    rule = plan.stop.rule_name if plan.stop else "?"
    where = plan.stop.location if plan.stop and plan.stop.location else ""
    return (
        f'<span class="blocked">stopped at step {plan.stop_step} by '
        f"<code>{esc(rule)}</code></span> "
        f'<span class="muted tok">({esc(where)})</span>'
    )


def _narrative(p: PolicyIncident, topo: LoadedTopology, index: int) -> str:
    out = ["<h3>Attack path analysis</h3>"]
    if not p.plans:
        out.append("<p>No plan reaches any goal, even under the reference policy.</p>")
        return "\n".join(out)
    if not p.attacked:
        out.append(
            "<p>No plan is open under this policy. The plans below are those open under "
            "another policy or the reference (allow everything); each stops at the step "
            "marked.</p>"
        )
    for goal in dict.fromkeys(plan.goal for plan in p.plans):
        plans = [plan for plan in p.plans if plan.goal == goal]
        first = plans[0]
        out.append(
            f"<h4>{esc(goal)}: plan <code>{esc(first.ident)}</code> from "
            f"<code>{esc(first.entry)}</code>, {first.cost} steps, {_plan_fate(first)}</h4>"
        )
        anchor = f"incident-{index}-{first.ident}"
        out.append(plan_picture(first.plan, topo, _marks(first, p), anchor))
        items = []
        for n, si in enumerate(first.steps, 1):
            s = p.steps[si]
            tech = f" ({s.technique.id} {s.technique.name})" if s.technique else ""
            text = esc(s.sentence + tech)
            if not first.open and first.stop_step == n and first.stop is not None:
                where = f" at {first.stop.location}" if first.stop.location else ""
                text += (
                    f' <span class="blocked">Stopped here by {esc(first.stop.rule_name)}'
                    f"{esc(where)}: {esc(first.stop.decision or '')}.</span>"
                )
            items.append(f"<li>{text}</li>")
        out.append(f"<ol>{''.join(items)}</ol>")
        if not first.open:
            under = ", ".join(first.open_under) or "the reference policy only"
            out.append(f"<p>Open under: {esc(under)}.</p>")
        if len(plans) > 1:
            rows = [
                [
                    f"<code>{esc(plan.ident)}</code>",
                    str(plan.cost),
                    esc(
                        " > ".join(
                            t.id for i in plan.steps if (t := p.steps[i].technique) is not None
                        )
                    ),
                    f"<code>{esc(differs)}</code>",
                    _plan_fate(plan),
                ]
                for plan, differs in zip(plans[1:], apart(plans)[1:], strict=True)
            ]
            out.append("<p>Other plans to the same goal:</p>")
            out.append(table(["plan", "cost", "techniques", "via", "here"], rows, (1,)))
    return "\n".join(out)


#: The kill chain strip's type: the figures' monospace font, so widths are known.
_MONO = "DejaVu Sans Mono, Menlo, Consolas, monospace"
#: Longest technique line in a tactic's box, in characters (the whole in a tooltip).
_ENTRY_CELLS = 40


def _strip(chain: Sequence[TacticGroup], ident: str) -> str:
    """The kill chain as an SVG strip: one box per tactic, sized to its text, arrows
    between them; folded in rows no wider than the report's pictures."""
    gap, line, pad = 26.0, 16.0, 8.0
    boxes = []
    for g in chain:
        title = f"{g.tactic_id} {g.name}".strip()
        labels = [f"{e.technique.id} {e.technique.name}" for e in g.entries]
        shown = [clip(x, _ENTRY_CELLS) for x in labels]
        w = max([text_width(title, 12), *(text_width(x, 11) for x in shown)]) + 2 * pad
        boxes.append((title, labels, shown, w, 30 + line * len(labels)))
    parts: list[str] = []
    x, y, row_h, width = 4.0, 4.0, 0.0, 0.0
    for i, (title, labels, shown, w, h) in enumerate(boxes):
        if i and x + gap + w > FOLD_WIDTH:  # the next row, entered by an arrow
            x, y = 4.0, y + row_h + 14
            row_h = 0.0
            parts.append(_arrow(x, y + 16, x + gap - 6, ident))
            x += gap
        elif i:
            parts.append(_arrow(x + 2, y + 16, x + gap - 4, ident))
            x += gap
        parts.append(
            f'<rect x="{x:g}" y="{y:g}" width="{w:.1f}" height="{h:g}" rx="6" '
            'fill="#f6f8fa" stroke="#57606a"/>'
        )
        parts.append(
            f'<text x="{x + pad:g}" y="{y + 18:g}" style="font-size:12px;font-weight:bold">'
            f"{esc(title)}</text>"
        )
        for j, (label, text_shown) in enumerate(zip(labels, shown, strict=True)):
            parts.append(
                f'<text x="{x + pad:g}" y="{y + 36 + j * line:g}" style="font-size:11px">'
                f"<title>{esc(label)}</title>{esc(text_shown)}</text>"
            )
        x += w
        row_h = max(row_h, h)
        width = max(width, x + 4)
    height = y + row_h + 4
    marker = (
        f'<defs><marker id="kc-arrow-{ident}" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#57606a"/></marker></defs>'
    )
    return (
        f'<div class="scroll"><svg class="figure kill-chain" xmlns="http://www.w3.org/2000/svg" '
        f'width="{width:.1f}" height="{height:g}" viewBox="0 0 {width:.1f} {height:g}" '
        f'role="img" aria-label="kill chain" font-family="{_MONO}">'
        f"{marker}{''.join(parts)}</svg></div>"
    )


def _arrow(x0: float, y: float, x1: float, ident: str) -> str:
    return (
        f'<path d="M{x0:g},{y:g} L{x1:g},{y:g}" stroke="#57606a" stroke-width="2" '
        f'marker-end="url(#kc-arrow-{ident})"/>'
    )


def _kill_chain(p: PolicyIncident, index: int) -> str:
    out = ["<h3>Kill chain progression</h3>"]
    if not p.kill_chain:
        out.append("<p>No step to place.</p>")
        return "\n".join(out)
    out.append(_strip(p.kill_chain, str(index)))
    rows = []
    for g in p.kill_chain:
        for e in g.entries:
            uses = ", ".join(f"{ident} #{n}" for ident, n in e.uses[:4])
            more = f" (+{len(e.uses) - 4})" if len(e.uses) > 4 else ""
            rows.append(
                [
                    esc(f"{g.tactic_id} {g.name}".strip()),
                    f'<a href="{esc(e.technique.url)}">{esc(e.technique.id)}</a>',
                    esc(e.technique.name),
                    ", ".join(f"<code>{esc(h)}</code>" for h in e.hosts),
                    esc(uses + more),
                ]
            )
    out.append(table(["tactic", "technique", "name", "hosts", "plan steps"], rows))
    if p.unused_tactics:
        unused = esc(", ".join(p.unused_tactics))
        out.append(f'<p class="muted">Tactics no studied step uses: {unused}.</p>')
    return "\n".join(out)


def _mitigations(p: PolicyIncident) -> str:
    rows = []
    for s in p.steps:
        t = s.technique
        mits = "<br>".join(esc(f"{m} {n}") for m, n in t.mitigations) if t else "-"
        controls = []
        for c in s.controls:
            css = "blocked" if c.stops or (c.kind == "detection" and c.present) else ""
            css = css or ("open" if c.kind not in ("none", "detection") else "muted")
            controls.append(f'<span class="{css}">{esc(control_text(c))}</span>')
        rows.append(
            [
                esc(s.sentence),
                esc(f"{t.id} {t.name}" if t else "-"),
                mits or "-",
                "<br>".join(controls),
            ]
        )
    return "\n".join(
        [
            "<h3>Mitigations and controls</h3>",
            "<p>Each distinct step of the plans above: the ATT&amp;CK mitigations of its "
            "technique, and the ztsim controls that would stop it (or see it), with whether "
            "this policy has them.</p>",
            '<div class="scroll">',
            table(["step", "technique", "ATT&CK mitigations", "ztsim controls"], rows),
            "</div>",
        ]
    )


def _compliance(p: PolicyIncident, name: str) -> str:
    out = ["<h3>Potential compliance exposure</h3>"]
    if not p.compliance:
        out.append(
            f"<p>No control of the mapping ({esc(name)}) is at stake: no goal is reachable.</p>"
        )
        return "\n".join(out)
    out.append(
        "<p>The framework controls the reachable goals put at stake (for a reviewer to "
        "judge: each framework applies only within its scope).</p>"
    )
    rows = [
        [
            esc(c.framework_name),
            f"<b>{esc(c.control)}</b>",
            esc(c.title),
            esc(c.reason),
            esc(", ".join(c.goals)),
        ]
        for c in p.compliance
    ]
    out.append(table(["framework", "control", "title", "why", "goals"], rows))
    scopes = dict.fromkeys((c.framework_name, c.scope) for c in p.compliance)
    out.append("<ul>" + "".join(f"<li>{esc(n)}: {esc(s)}</li>" for n, s in scopes) + "</ul>")
    return "\n".join(out)


def _recommended(p: PolicyIncident) -> str:
    r = p.recommendations
    out = ["<h3>Recommended actions</h3>"]
    if not r.needed:
        out.append("<p>None: no goal is reachable under this policy.</p>")
        return "\n".join(out)
    out.append(
        f"<p><code>ztsim harden</code>'s verified proposal, {len(r.items)} change(s), "
        f"{esc(r.proof)}:</p>"
    )
    items = []
    for c in r.items:
        sub = [f"<li>set <code>{esc(s)}</code></li>" for s in c.settings]
        sub += [
            f"<li>{esc(sec)} rule: <code>{esc(rule_line(rule))}</code></li>"
            for sec, rule in c.rules
        ]
        if c.closes:
            sub.append(f"<li>closes: without it {esc(', '.join(c.closes))} reopen (verified)</li>")
        if c.forbids:
            more = f" (+{len(c.forbids) - 3} more)" if len(c.forbids) > 3 else ""
            sub.append(f"<li>forbids: {esc('; '.join(c.forbids[:3]) + more)}</li>")
        if c.keeps:
            sub.append(f"<li>keeps: {esc('; '.join(c.keeps))}</li>")
        if c.note:
            sub.append(f"<li>note: {esc(c.note)}</li>")
        items.append(f"<li><b>{esc(c.text)}</b><ul>{''.join(sub)}</ul></li>")
    out.append(f"<ol>{''.join(items)}</ol>")
    after = ", ".join(r.after) or "none"
    out.append(
        f"<p>After the changes (verified by the fixpoint): goals reachable: {esc(after)}; "
        f"{r.broken} of {r.traffic} legitimate flows newly broken.</p>"
    )
    return "\n".join(out)


def render_incident_html(ia: IncidentAnalysis, topo: LoadedTopology) -> str:
    """The incident analysis as one self-contained HTML page (``topo`` draws the plans)."""
    body = []
    nav = []
    for i, p in enumerate(ia.policies):
        anchor = f"policy-{i + 1}"
        nav.append((anchor, p.policy))
        body.append(
            "\n".join(
                [
                    f'<section id="{anchor}"><h2>Policy {esc(p.policy)} '
                    f"<code>{esc(p.path)}</code></h2>",
                    _summary(p),
                    _impact(p),
                    _narrative(p, topo, i + 1),
                    _kill_chain(p, i + 1),
                    _mitigations(p),
                    _compliance(p, ia.compliance_name),
                    _recommended(p),
                    "</section>",
                ]
            )
        )
    body.append(
        f'<section id="sources"><h2>Sources</h2><p>MITRE ATT&amp;CK Enterprise '
        f"v{esc(ia.attack_version)}: {esc(ia.attack_attribution)} {esc(ia.attack_licence)}.</p>"
        f"<p>Compliance mapping: {esc(ia.compliance_name)} "
        f"(<code>{esc(ia.compliance_path)}</code>). Every sentence of this page is generated "
        "by ztsim from the model, the policies and these files.</p></section>"
    )
    nav.append(("sources", "Sources"))
    title = f"ztsim incident analysis: {ia.topology}"
    subtitle = f"topology {esc(ia.topology)} ({esc(ia.topology_path)}), before the incident"
    return page(title, subtitle, nav, body)
