"""JUnit XML: one ``testcase`` per assertion and policy, one ``testsuite`` per policy.

Conventions (those Jenkins, GitLab and the GitHub test-report actions read): a
``failure`` is exactly what fails the build (a new violation of an error-severity
assertion); a failing warning or known debt (with ``--baseline``) is ``skipped``
with its reason, so reporters show it without turning the run red.  The failure
text is the cheapest counter-example: its steps, techniques and the policy's
decision at each step.  ``time`` is always 0, so the same input gives the same bytes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from ztsim.inputs.assertions import LoadedAssertions
from ztsim.model.textsafe import safe_lines
from ztsim.output.reports.common import describe, status_label, violation_text
from ztsim.whatif.intent import Outcome, Report

__all__ = ["render_junit"]


def _testcase(
    parent: ET.Element, o: Outcome, classname: str, source: LoadedAssertions | None
) -> str:
    a = o.assertion
    attrs = {"name": a.id, "classname": classname, "time": "0"}
    mark = source.mark(o.index) if source is not None and o.index is not None else None
    if source is not None and mark is not None:
        attrs["file"], attrs["line"] = source.path, str(mark.line)
    tc = ET.SubElement(parent, "testcase", attrs)
    label = status_label(o)
    if label == "PASS":
        return label
    text = f"{describe(a)}\n\n" + "\n\n".join(violation_text(v, o.policy) for v in o.violations)
    first = o.violations[0].message
    if label == "FAIL":
        el = ET.SubElement(tc, "failure", {"message": first, "type": a.type})
        el.text = text
    else:
        why = "warning" if label == "WARN" else "known debt (also violated under the baseline)"
        ET.SubElement(tc, "skipped", {"message": f"{why}: {first}"})
        ET.SubElement(tc, "system-out").text = text
    return label


def render_junit(report: Report) -> str:
    """The report as a JUnit XML document (``testsuites`` root)."""
    topo = report.topology.name
    root = ET.Element("testsuites", {"name": f"ztsim {topo}"})
    totals = {"tests": 0, "failures": 0, "skipped": 0}
    for pi, policy in enumerate(report.policies):
        outcomes = report.outcomes_of(pi)
        suite = ET.SubElement(root, "testsuite", {"name": f"{topo} / {policy.name}"})
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", {"name": "policy_file", "value": policy.path})
        ET.SubElement(props, "property", {"name": "topology_file", "value": report.topology.path})
        if report.baseline is not None:
            ET.SubElement(props, "property", {"name": "baseline", "value": report.baseline.path})
        cls = f"ztsim.{topo}.{policy.name}"
        labels = [_testcase(suite, o, cls, report.source) for o in outcomes]
        n = {
            "tests": len(labels),
            "failures": labels.count("FAIL"),
            "skipped": labels.count("WARN") + labels.count("KNOWN"),
        }
        for k in totals:
            totals[k] += n[k]
        # Attributes set after the children are known; order fixed for stable bytes.
        for k, v in (
            ("tests", n["tests"]),
            ("failures", n["failures"]),
            ("errors", 0),
            ("skipped", n["skipped"]),
            ("time", "0"),
        ):
            suite.set(k, str(v))
    for k, v in (
        ("tests", totals["tests"]),
        ("failures", totals["failures"]),
        ("errors", 0),
        ("skipped", totals["skipped"]),
        ("time", "0"),
    ):
        root.set(k, str(v))
    ET.indent(root)
    # Names may hold characters XML 1.0 forbids even as references (most of C0, lone
    # surrogates) and terminal escapes: written as ``\\x1b`` text, the document stays
    # valid.  Newlines in the serialised text are the document's own (ElementTree
    # writes those of attribute values as ``&#10;``).
    body = safe_lines(ET.tostring(root, encoding="unicode"))
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
