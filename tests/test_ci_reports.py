"""CI report formats: JUnit parsed back, SARIF validated, annotations, Markdown, JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from test_ci_scenario import assertions, policy, topology

from ztsim.assertions import evaluate
from ztsim.reports import FORMATS, render
from ztsim.reports.evaluation import Report
from ztsim.reports.github import escape_data, escape_property

SARIF_SCHEMA = Path(__file__).resolve().parents[2] / "shared" / "data" / "sarif-schema-2.1.0.json"

BODY = (
    "  - {id: no-exfil, type: no-exfiltration, classification: pii}\n"
    "  - {id: no-tamper, type: no-tampering, data: records, severity: warning}\n"
    "  - {id: db-isolated, type: no-flow, from: {zone: dmz}, to: {zone: data}}\n"
    "  - {id: flows-ok, type: traffic-allowed}\n"
    "  - {id: cost, type: min-attack-cost, steps: 3}\n"
)


def report(*policies: str, baseline: str | None = None, body: str = BODY) -> Report:
    base = policy(baseline) if baseline else None
    return evaluate(topology(), [policy(p) for p in policies], assertions(body), baseline=base)


@pytest.fixture(scope="module")
def mixed() -> Report:
    """open fails exfiltration, flow (and the warning); tight the flow and the warning;
    broken a business flow.  Nothing is cheaper than 3 steps."""
    return report("open", "tight", "broken")


# --------------------------------------------------------------------------- JUnit


def _int(el: ET.Element, key: str) -> int:
    return int(el.attrib[key])


def test_junit_parses_with_consistent_counts(mixed: Report) -> None:
    root = ET.fromstring(render(mixed, "junit"))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert [s.attrib["name"] for s in suites] == [
        "ci-mini / open",
        "ci-mini / tight",
        "ci-mini / broken",
    ]
    for s in suites:
        cases = s.findall("testcase")
        assert _int(s, "tests") == len(cases) == 5
        assert _int(s, "failures") == sum(1 for c in cases if c.find("failure") is not None)
        assert _int(s, "skipped") == sum(1 for c in cases if c.find("skipped") is not None)
        assert _int(s, "errors") == 0
    assert _int(root, "tests") == sum(_int(s, "tests") for s in suites) == 15
    assert _int(root, "failures") == sum(_int(s, "failures") for s in suites)
    assert _int(root, "skipped") == sum(_int(s, "skipped") for s in suites)
    # Failures are exactly the outcomes that break the build.
    assert _int(root, "failures") == sum(o.breaks_build for o in mixed.outcomes)


def test_junit_failure_text_is_the_counter_example(mixed: Report) -> None:
    root = ET.fromstring(render(mixed, "junit"))
    case = root.find("testsuite/testcase[@name='no-exfil']")
    assert case is not None and case.attrib["classname"] == "ztsim.ci-mini.open"
    assert case.attrib["file"] == "assertions.yaml" and case.attrib["line"] == "5"
    failure = case.find("failure")
    assert failure is not None and failure.attrib["type"] == "no-exfiltration"
    text = failure.text or ""
    for needle in ("#  step", "T1566 Phishing", "T1552 Unsecured Credentials", "T1567"):
        assert needle in text
    # A failing warning is reported as skipped, not as a failure.
    warn = root.find("testsuite/testcase[@name='no-tamper']")
    assert warn is not None and warn.find("failure") is None
    skipped = warn.find("skipped")
    assert skipped is not None and skipped.attrib["message"].startswith("warning:")
    passing = root.find("testsuite[@name='ci-mini / tight']/testcase[@name='no-exfil']")
    assert passing is not None and list(passing) == []


def test_junit_known_debt_is_skipped() -> None:
    r = report("open", baseline="open")
    root = ET.fromstring(render(r, "junit"))
    assert _int(root, "failures") == 0 and _int(root, "skipped") > 0
    assert r.exit_code == 0


# --------------------------------------------------------------------------- SARIF


def _sarif_schema() -> dict[str, Any]:
    if not SARIF_SCHEMA.is_file():
        pytest.skip(f"SARIF 2.1.0 schema not found at {SARIF_SCHEMA} (../shared beside the repo)")
    return json.loads(SARIF_SCHEMA.read_text("utf-8"))


@pytest.mark.parametrize("baseline", [None, "tight"])
def test_sarif_validates_against_the_schema(mixed: Report, baseline: str | None) -> None:
    import jsonschema

    r = mixed if baseline is None else report("open", "broken", baseline=baseline)
    log = json.loads(render(r, "sarif"))
    jsonschema.validate(log, _sarif_schema())
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rules == ["no-exfil", "no-tamper", "db-isolated", "flows-ok", "cost"]
    assert len(run["results"]) == sum(len(o.violations) for o in r.outcomes)
    for res in run["results"]:
        assert rules[res["ruleIndex"]] == res["ruleId"]
        assert ("baselineState" in res) == (baseline is not None)


def test_sarif_locations_point_where_the_fix_goes(mixed: Report) -> None:
    run = json.loads(render(mixed, "sarif"))["runs"][0]

    def where(rule: str, pol: str) -> tuple[str, int, str]:
        res = next(
            r for r in run["results"] if r["ruleId"] == rule and r["properties"]["policy"] == pol
        )
        loc = res["locations"][0]["physicalLocation"]
        return loc["artifactLocation"]["uri"], loc["region"]["startLine"], res["level"]

    tight = policy("tight")
    portal = tight.rule_mark("segmentation", "portal")
    app_db = tight.rule_mark("segmentation", "app-db")
    assert portal is not None and app_db is not None
    # Under open (defaults only) no rule is involved: the data item in the topology.
    records = topology().mark(("hosts", 1, "data", 0))
    assert where("no-exfil", "open") == ("topology.yaml", records.line, "error")
    # Under tight the insider's tampering plan first crosses rule app-db.
    assert where("no-tamper", "tight") == ("tight.yaml", app_db.line, "warning")
    assert where("db-isolated", "tight") == ("tight.yaml", app_db.line, "error")
    assert where("flows-ok", "broken")[:2] == ("broken.yaml", 5)  # `  default: deny`


def test_sarif_fingerprints_are_stable_and_distinct(mixed: Report) -> None:
    first = json.loads(render(mixed, "sarif"))["runs"][0]["results"]
    again = json.loads(render(report("open", "tight", "broken"), "sarif"))["runs"][0]["results"]
    prints = [r["partialFingerprints"]["ztsimFinding/v1"] for r in first]
    assert prints == [r["partialFingerprints"]["ztsimFinding/v1"] for r in again]
    assert len(set(prints)) == len(prints)


# --------------------------------------------------------------------------- GitHub


def test_github_annotations(mixed: Report) -> None:
    lines = render(mixed, "github").splitlines()
    assert len(lines) == sum(len(o.violations) for o in mixed.outcomes)
    assert all(line.startswith(("::error ", "::warning ")) for line in lines)
    first = lines[0]
    head, _, message = first.partition("::")[2].partition("::")
    assert head.startswith("error file=topology.yaml,line=")
    assert ",col=" in head and ",title=ztsim no-exfil [open]" in head
    assert "\n" not in message and "%0A1. enter [T1566 Phishing] web%0A2. steal" in message
    assert any(line.startswith("::warning ") and "no-tamper" in line for line in lines)


def test_github_known_debt_is_a_notice_and_nothing_when_all_pass() -> None:
    lines = render(report("open", baseline="open"), "github").splitlines()
    assert lines and all(line.startswith("::notice ") for line in lines)
    assert render(report("sealed", body="  - {id: a, type: no-exfiltration}\n"), "github") == ""


def test_github_escaping() -> None:
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%") == "a%3Ab%2Cc%25"


# --------------------------------------------------------------------------- Markdown, JSON, text


def test_markdown_summary(mixed: Report) -> None:
    md = render(mixed, "markdown")
    assert md.startswith("## ❌ ztsim check failed\n")
    assert "| `open` | 2 | 2 | 1 | 0 |" in md
    assert "### Policy `open` (`open.yaml`)" in md
    assert "<details><summary>Counter-examples</summary>" in md
    assert "| # | step | technique | from | to | service | policy decision |" in md
    ok = render(report("sealed", body="  - {id: a, type: no-exfiltration}\n"), "markdown")
    assert ok.startswith("## ✅ ztsim check passed\n") and "<details>" not in ok


def test_markdown_escapes_pipes() -> None:
    from ztsim.reports.markdown import _cell

    assert _cell("a|b\nc") == "a\\|b<br>c"


def test_json_extends_the_spec_object(mixed: Report) -> None:
    data = json.loads(render(mixed, "json"))
    assert {"topology", "results", "assertions", "exit_code"} <= set(data)
    assert [r["policy"] for r in data["results"]] == ["open", "tight", "broken"]
    first = data["assertions"][0]
    assert first["id"] == "no-exfil" and [r["status"] for r in first["results"]] == [
        "fail",
        "pass",
        "pass",
    ]
    v = first["results"][0]["violations"][0]
    assert v["plan"]["cost"] == 5 and v["location"]["file"] == "topology.yaml"
    assert v["plan"]["steps"][1]["technique"].startswith("T1552")


def test_text_summary(mixed: Report) -> None:
    text = render(mixed, "text")
    assert text.startswith("FAIL: 5 assertion(s) x 3 policies:")
    assert "  FAIL   no-exfil [error]: no exfiltration of classification pii" in text
    assert "  WARN   no-tamper [warning]" in text
    r = report("open", baseline="open")
    assert "known debt (also violated under the baseline" in render(r, "text")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_deterministic(mixed: Report, fmt: str) -> None:
    assert render(mixed, fmt) == render(report("open", "tight", "broken"), fmt)


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown report format"):
        render(report("sealed"), "yaml")
