"""SARIF 2.1.0 for code scanning (GitHub ``upload-sarif``, GitLab, Azure DevOps).

One rule per assertion; one result per violation under each policy.  A result
sits where the fix goes: for a counter-example plan, the rule, default or control
whose change closes it without breaking legitimate traffic, as ``ztsim harden``
would choose it (:mod:`ztsim.whatif.fixes`; the change is in the message and in
``properties.fix``); for offending flows, the rule or default that decides them.
``partialFingerprints`` hash the rule, the policy and what was found, so an alert
keeps its identity from one run to the next.  With a baseline, ``baselineState``
says ``new`` or ``unchanged`` (known debt, level ``note``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ztsim._version import __version__
from ztsim.inputs.assertions import Assertion
from ztsim.model.textsafe import json_safe
from ztsim.output.reports.common import describe, plan_steps, relative_uri
from ztsim.whatif.intent import Outcome, Report, Violation

__all__ = ["SARIF_SCHEMA", "render_sarif", "sarif_log"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_HELP = {
    "no-exfiltration": "Make the change the result names at its location (the one ztsim harden "
    "would make): it closes the counter-example and breaks no legitimate flow.",
    "no-tampering": "Make the change the result names at its location (the one ztsim harden "
    "would make), or remove the write path to the data.",
    "min-attack-cost": "Add a control on the cheapest plan (segmentation, MFA, encryption) so "
    "every remaining plan needs more steps.",
    "max-undetected": "Add detection for the techniques of the plan where they happen, or "
    "block the plan.",
    "no-flow": "Narrow or deny the rule that allows the flow (first match wins).",
    "egress-denied": "Narrow or deny the egress rule that allows the destination.",
    "traffic-allowed": "Add or fix an allow rule for the legitimate flow above the rule that "
    "denies it.",
}


def _rule(a: Assertion) -> dict[str, Any]:
    return {
        "id": a.id,
        "name": "".join(w.capitalize() for w in a.type.split("-")),
        "shortDescription": {"text": describe(a)},
        "fullDescription": {"text": a.description or describe(a)},
        "help": {"text": _HELP[a.type]},
        "defaultConfiguration": {"level": a.severity},
        "properties": {
            "tags": ["security", "zero-trust", a.type],
            "security-severity": "8.0" if a.severity == "error" else "5.0",
        },
    }


def _level(o: Outcome, v: Violation) -> str:
    if not v.new:
        return "note"
    return o.assertion.severity


def _message(o: Outcome, v: Violation) -> str:
    text = f"[{o.policy.name}] {v.message}"
    if not v.new:
        text += " (known debt: also under the baseline)"
    if v.plan is not None:
        text += "\n" + "\n".join(plan_steps(v.plan, v.verdict, o.policy))
    if v.fix:
        text += f"\nfix at this location: {v.fix}"
    return text


def _fingerprint(o: Outcome, v: Violation) -> str:
    raw = "\x1f".join((o.assertion.id, o.policy.name, *v.key))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _result(report: Report, o: Outcome, v: Violation, rule_index: int) -> dict[str, Any]:
    loc = v.location
    result: dict[str, Any] = {
        "ruleId": o.assertion.id,
        "ruleIndex": rule_index,
        "level": _level(o, v),
        "message": {"text": _message(o, v)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": relative_uri(loc.path)},
                    "region": {"startLine": loc.line, "startColumn": loc.column},
                }
            }
        ],
        "partialFingerprints": {"ztsimFinding/v1": _fingerprint(o, v)},
        "properties": {"policy": o.policy.name, "policyFile": o.policy.path},
    }
    if report.baseline is not None:
        result["baselineState"] = "new" if v.new else "unchanged"
    src = report.source
    mark = src.mark(o.index) if src is not None and o.index is not None else None
    if src is not None and mark is not None:
        result["relatedLocations"] = [
            {
                "id": 1,
                "physicalLocation": {
                    "artifactLocation": {"uri": relative_uri(src.path)},
                    "region": {"startLine": mark.line, "startColumn": mark.column},
                },
                "message": {"text": f"assertion {o.assertion.id}"},
            }
        ]
    if v.fix:
        result["properties"]["fix"] = v.fix
    if v.plan is not None:
        result["properties"]["plan"] = {
            "id": v.plan.ident,
            "cost": v.plan.cost,
            "entry": v.plan.entry,
            "techniques": list(v.plan.techniques),
        }
    return result


def sarif_log(report: Report) -> dict[str, Any]:
    """The report as a SARIF 2.1.0 log object."""
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for o in report.outcomes:
        if o.assertion.id not in index:
            index[o.assertion.id] = len(rules)
            rules.append(_rule(o.assertion))
    results = [
        _result(report, o, v, index[o.assertion.id]) for o in report.outcomes for v in o.violations
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "ztsim",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"ztsim/{report.topology.name}/"},
                "invocations": [{"executionSuccessful": True, "exitCode": report.exit_code}],
                "results": results,
                "properties": {
                    "topology": report.topology.name,
                    "topologyFile": report.topology.path,
                    "policies": [p.path for p in report.policies],
                },
            }
        ],
    }


def render_sarif(report: Report) -> str:
    """:func:`sarif_log` as stable, indented JSON text."""
    return json_safe(json.dumps(sarif_log(report), indent=2, ensure_ascii=False)) + "\n"
