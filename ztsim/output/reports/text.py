"""The terminal summary of an assertions run, and its JSON form.

The JSON is the spec §7 object of the judged policies with keys added, never
renamed: ``assertions`` (every outcome with its violations) and, with a baseline,
``baseline``.
"""

from __future__ import annotations

import json
from typing import Any

from ztsim.model.textsafe import json_safe, safe, safe_lines
from ztsim.output.reports.common import (
    assertions_label,
    describe,
    plan_rows,
    status_label,
    verdict_line,
    violation_text,
)
from ztsim.whatif.intent import Outcome, Report, Violation

__all__ = ["render_json", "render_text", "report_json"]


def render_text(report: Report) -> str:
    """Verdict, then per policy one line per assertion and each failure's counter-example.

    User text is escaped (:mod:`ztsim.model.textsafe`): names on their own, the whole as a net.
    """
    lines = [verdict_line(report)]
    topo = report.topology
    lines.append(f"topology {safe(topo.name)} ({safe(topo.path)}); {assertions_label(report)}")
    if report.baseline is not None:
        b = report.baseline
        lines.append(f"baseline {safe(b.name)} ({safe(b.path)}): only violations new since it fail")
    known: list[Outcome] = []
    for pi, policy in enumerate(report.policies):
        lines.append("")
        lines.append(f"policy {safe(policy.name)} ({safe(policy.path)})")
        for o in report.outcomes_of(pi):
            a = o.assertion
            lines.append(
                f"  {status_label(o):<5}  {safe(a.id)} [{a.severity}]: {safe(describe(a))}"
            )
            for v in o.violations:
                if v.new:
                    lines.append(violation_text(v, policy, "         "))
            if any(not v.new for v in o.violations):
                known.append(o)
    if known:
        lines.append("")
        lines.append("known debt (also violated under the baseline; does not fail the build):")
        for o in known:
            for v in o.violations:
                if not v.new:
                    lines.append(
                        f"  {safe(o.policy.name)}: {safe(o.assertion.id)}: {safe(v.message)}"
                    )
    # The net under the fields escaped above: counter-example tables and messages
    # quote names too; no control character reaches the terminal (newlines kept).
    return safe_lines("\n".join(lines)) + "\n"


def _violation_json(v: Violation, o: Outcome) -> dict[str, Any]:
    out: dict[str, Any] = {
        "message": v.message,
        "new": v.new,
        "location": {"file": v.location.path, "line": v.location.line, "column": v.location.column},
        "fix": v.fix,
    }
    if v.plan is not None:
        out["plan"] = {
            "id": v.plan.ident,
            "cost": v.plan.cost,
            "entry": v.plan.entry,
            "steps": [
                dict(
                    zip(
                        ("step", "kind", "technique", "from", "to", "service", "decision"),
                        r,
                        strict=True,
                    )
                )
                for r in plan_rows(v.plan, v.verdict, o.policy)
            ],
        }
    if v.flows:
        out["flows"] = list(v.flows)
    return out


def report_json(report: Report) -> dict[str, Any]:
    """The spec §7 object plus ``assertions`` (and ``baseline``) keys."""
    data = report.analysis.to_json()
    data["exit_code"] = report.exit_code
    if report.baseline is not None:
        data["baseline"] = {"policy": report.baseline.name, "file": report.baseline.path}
    if report.source is not None:
        data["assertions_file"] = {"name": report.source.name, "file": report.source.path}
    items = []
    n_pol = len(report.policies)
    for start in range(0, len(report.outcomes), n_pol):
        group = report.outcomes[start : start + n_pol]
        a = group[0].assertion
        items.append(
            {
                "id": a.id,
                "type": a.type,
                "severity": a.severity,
                "description": a.description or describe(a),
                "results": [
                    {
                        "policy": o.policy.name,
                        "file": o.policy.path,
                        "status": o.status,
                        "violations": [_violation_json(v, o) for v in o.violations],
                    }
                    for o in group
                ],
            }
        )
    data["assertions"] = items
    return data


def render_json(report: Report) -> str:
    """:func:`report_json` as stable, indented JSON text."""
    return json_safe(json.dumps(report_json(report), indent=2, ensure_ascii=False)) + "\n"
