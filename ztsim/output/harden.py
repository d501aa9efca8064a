"""Text and JSON reports of ``ztsim harden`` (deterministic, plain text)."""

from __future__ import annotations

from typing import Any

from ztsim.analysis.results import goal_label
from ztsim.engine.steps import Step
from ztsim.output.escape import text_lines
from ztsim.whatif.changes import Change
from ztsim.whatif.depth import DepthHardening
from ztsim.whatif.harden import Hardening
from ztsim.whatif.yamlout import rule_line

__all__ = ["change_json", "hardening_json", "hardening_text", "step_text"]


def step_text(st: Step) -> str:
    """``login log-collector -> payroll-db 5432/tcp (db-superuser-password)``."""
    svc = f" {st.service}" if st.service else ""
    cred = f" ({st.credential})" if st.kind == "login" and st.credential else ""
    src = f"{st.source} -> " if st.source else ""
    return f"{st.kind} {src}{st.target}{svc}{cred}"


def _controls(c: Change) -> list[str]:
    out = []
    if c.intra_zone_rules:
        out.append("segmentation.intra_zone: rules")
    if c.egress_default_deny:
        out.append("egress.default: deny")
    if c.mfa is not None:
        out.append(f"controls.mfa: + {c.mfa}")
    if c.encrypt:
        out.append("controls.encrypt_in_transit: true")
    return out


def _change_lines(h: Hardening, n: int, c: Change) -> list[str]:
    """Change ``n`` of the report: what it sets, its rules, what it forbids, if necessary."""
    lines = [f"  {n}. {c.text}"]
    if c.note:
        lines.append(f"     note: {c.note}")
    for what in _controls(c):
        lines.append(f"     set {what}")
    for section, rule in c.rules():
        shown = {k: v for k, v in rule.items() if k != "description"}  # in the YAML
        lines.append(f"     {section} rule: {rule_line(shown)}")
    blocked = h.blocks.get(c.key, [])
    if blocked:
        eg = "; ".join(step_text(s) for s in blocked[:3])
        more = f" (+{len(blocked) - 3} more)" if len(blocked) > 3 else ""
        lines.append(f"     forbids {len(blocked)} attack step(s): {eg}{more}")
    reopened = h.necessary.get(c.key, [])
    if isinstance(h, DepthHardening) and h.depth > 1:
        lines.append(
            f"     backed up: any {h.depth - 1} change(s) may be reverted (depth {h.depth})"
        )
    elif reopened:
        lines.append(
            "     necessary: without it "
            + ", ".join(goal_label(g) for g in reopened)
            + " reopen (verified)"
        )
    else:
        lines.append("     not strictly necessary on its own (verified)")
    return lines


def hardening_text(h: Hardening) -> str:
    """The human report: before, the changes (with their rules), after, what stays open."""
    lines: list[str] = []
    n_goals = len(h.before)
    lines.append(
        f"harden {h.topology.name} ({h.topology.path}), policy {h.policy.name} "
        f"({h.policy.path}), {'keeping' if h.keep_traffic else 'not keeping'} legitimate traffic"
    )
    reach = ", ".join(goal_label(g) for g in h.before) or "none"
    lines.append(f"before: {n_goals} goal(s) reachable: {reach}")
    if not h.before:
        lines.append("nothing to harden: no goal is reachable under this policy")
        return text_lines(lines)
    lines.append("")
    depth = f", defence in depth {_depth(h)}" if _depth(h) > 1 else ""
    lines.append(f"{len(h.changes)} change(s) ({h.mode} search{depth}), {h.proof}")
    for n, c in enumerate(h.changes, 1):
        lines += _change_lines(h, n, c)
    lines.append("")
    after = ", ".join(goal_label(g) for g in h.after) or "none"
    n_traffic = len(h.topology.model.traffic)
    lines.append(
        f"after (verified by the fixpoint on the hardened policy): goals reachable: {after}; "
        f"{len(h.broken)} of {n_traffic} legitimate flows newly broken"
    )
    for i in h.broken:
        t = h.topology.model.traffic[i]
        lines.append(f"  broken: {t.source} -> {t.to} {t.service}")
    if isinstance(h, DepthHardening) and h.depth > 1:
        lines += _depth_lines(h)
    if h.unclosable:
        lines.append("")
        why = "without breaking legitimate traffic" if h.keep_traffic else "by any policy change"
        lines.append(f"cannot be closed {why}:")
        for u in h.unclosable:
            lines.append(f"  {goal_label(u.goal)}: its open plan needs {', '.join(u.needs)}")
            for i, st in enumerate(u.steps, 1):
                lines.append(f"     {i}. {step_text(st)}")
    if h.complete:
        lines.append("")
        broken = f", breaking {len(h.broken)} legitimate flow(s)" if h.broken else ""
        lines.append(f"result: every goal closed{broken}")
    return text_lines(lines)


def _depth(h: Hardening) -> int:
    return h.depth if isinstance(h, DepthHardening) else 1


def _depth_lines(h: DepthHardening) -> list[str]:
    """What the re-checks of every reversal of up to ``depth - 1`` changes found."""
    keep = h.depth - 1
    if h.depth_holds:
        return [
            f"depth {h.depth} (verified by the fixpoint): every goal stays closed with any "
            f"{keep} of the {len(h.changes)} changes reverted ({h.rechecks} reversal(s) re-checked)"
        ]
    out = [f"depth {h.depth} NOT reached: " + (h.reason or "some reversals reopen a goal")]
    text = {c.key: c.text for c in h.changes}
    for keys, goals in h.failures[:5]:
        which = "; ".join(text.get(k, " ".join(k)) for k in keys)
        out.append(f"  reverting {which} reopens {', '.join(goal_label(g) for g in goals)}")
    if len(h.failures) > 5:
        out.append(f"  ... and {len(h.failures) - 5} more reversal(s) that reopen a goal")
    return out


def change_json(h: Hardening, c: Change) -> dict[str, Any]:
    """One change as JSON."""
    blocked = h.blocks.get(c.key, [])
    return {
        "kind": c.kind,
        "text": c.text,
        "note": c.note,
        "set": _controls(c),
        "rules": [{"section": s, "rule": r} for s, r in c.rules()],
        "forbids": len(blocked),
        "examples": [step_text(s) for s in blocked[:5]],
        "necessary_for": [goal_label(g) for g in h.necessary.get(c.key, [])],
    }


def hardening_json(h: Hardening) -> dict[str, Any]:
    """The report as one JSON object."""
    traffic = h.topology.model.traffic
    return {
        "topology": h.topology.name,
        "policy": h.policy.name,
        "file": h.policy.path,
        "keep_traffic": h.keep_traffic,
        "mode": h.mode,
        "before": [goal_label(g) for g in h.before],
        "changes": [change_json(h, c) for c in h.changes],
        "proven_minimal": h.proven,
        "proof": h.proof,
        "candidates": h.candidates,
        "after": [goal_label(g) for g in h.after],
        "broken": [
            {"from": traffic[i].source, "to": traffic[i].to, "service": traffic[i].service}
            for i in h.broken
        ],
        "unclosable": [
            {
                "goal": goal_label(u.goal),
                "needs": list(u.needs),
                "plan": [step_text(s) for s in u.steps],
            }
            for u in h.unclosable
        ],
        "verified": h.verified,
        "complete": h.complete,
        **(_depth_json(h) if isinstance(h, DepthHardening) else {"depth": 1}),
    }


def _depth_json(h: DepthHardening) -> dict[str, Any]:
    text = {c.key: c.text for c in h.changes}
    return {
        "depth": h.depth,
        "depth_holds": h.depth_holds,
        "reversals_checked": h.rechecks,
        "depth_failures": [
            {
                "reverted": [text.get(k, " ".join(k)) for k in keys],
                "reopens": [goal_label(g) for g in goals],
            }
            for keys, goals in h.failures
        ],
        "depth_note": h.reason,
    }
