"""CI report formats: JUnit parsed back, SARIF validated, annotations, Markdown, JSON."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from test_ci_scenario import assertions, policy, topology

from ztsim.output.escape import github_data, github_property
from ztsim.output.reports import FORMATS, render
from ztsim.whatif.intent import Report, evaluate

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
    app_db = tight.rule_mark("segmentation", "app-db")
    assert app_db is not None
    # The insider starts on web, whose flow to the database is legitimate: the only
    # change harden finds that breaks no flow is MFA on db-pass, a control neither
    # policy writes yet, so the fix goes at the top of the policy file.
    assert where("no-exfil", "open") == ("open.yaml", 1, "error")
    assert where("no-tamper", "tight") == ("tight.yaml", 1, "warning")
    fixes = {r["properties"].get("fix", "") for r in run["results"] if "plan" in r["properties"]}
    assert fixes and all(f.startswith("require MFA for credential db-pass") for f in fixes)
    assert all("add controls.mfa to this policy" in f for f in fixes)
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
    assert head.startswith("error file=open.yaml,line=1,")
    assert ",col=" in head and ",title=ztsim no-exfil [open]" in head
    assert "\n" not in message and "%0A1. enter [T1566 Phishing] web%0A2. steal" in message
    assert "%0Afix here: require MFA for credential db-pass" in message
    assert any(line.startswith("::warning ") and "no-tamper" in line for line in lines)


def test_github_known_debt_is_a_notice_and_nothing_when_all_pass() -> None:
    lines = render(report("open", baseline="open"), "github").splitlines()
    assert lines and all(line.startswith("::notice ") for line in lines)
    assert render(report("sealed", body="  - {id: a, type: no-exfiltration}\n"), "github") == ""


def test_github_escaping() -> None:
    assert github_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert github_property("a:b,c%") == "a%3Ab%2Cc%25"


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
    from ztsim.output.reports.markdown import _cell

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
    assert v["plan"]["cost"] == 5 and v["location"]["file"] == "open.yaml"
    assert v["fix"].startswith("require MFA for credential db-pass")
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


# --------------------------------------------------------------------------- fix locations

ROOT = Path(__file__).resolve().parents[1]


def _shipped(topo: str, pol: str) -> Report:
    from ztsim.inputs.loader import load_policy, load_topology

    t = load_topology(str(ROOT / "topologies" / f"{topo}.yaml"))
    return evaluate(t, [load_policy(str(ROOT / "policies" / f"{pol}.yaml"))])


def _plan_fixes(r: Report) -> set[tuple[int, str]]:
    return {(v.location.line, v.fix) for o in r.outcomes for v in o.violations if v.plan}


@pytest.mark.parametrize(
    ("topo", "pol", "at", "change"),
    [
        # The log collector sniffs the DBA password and logs in with it: harden denies
        # that one flow, which rule admin-to-data lets through today.
        (
            "pajemploi",
            "segmented",
            ("segmentation", "admin-to-data"),
            "deny log-collector -> payroll-db 5432/tcp; segmentation rule admin-to-data "
            "allows it today",
        ),
        # Flat: MFA on the two database credentials (no controls section yet).
        ("pajemploi", "flat", None, "require MFA for credential db-app-password"),
        # Default-allow egress: the allowlist, at egress.default.
        ("k8s-shop", "k8s-shop/default-allow", ("egress", "default"), "egress allowlist"),
        # A named egress rule to the cloud storage: denied above it.
        (
            "k8s-shop",
            "k8s-shop/broad-egress",
            ("egress", "shop-to-cloud-storage"),
            "deny egress to *.blob.cloudstore.example",
        ),
        ("corporate", "corporate/flat", None, "encrypt traffic in transit"),
    ],
)
def test_fix_at_is_where_harden_changes_the_policy(
    topo: str, pol: str, at: tuple[str, str] | None, change: str
) -> None:
    from ztsim.inputs.positions import locate

    r = _shipped(topo, pol)
    p = r.policies[0]
    assert p.doc is not None
    if at is None:
        line = locate(p.doc, ()).line  # the policy's first key: the control is added there
    elif at[1] == "default":
        line = locate(p.doc, at).line
    else:
        mark = p.rule_mark(at[0], at[1])  # type: ignore[arg-type]
        assert mark is not None
        line = mark.line
    fixes = _plan_fixes(r)
    assert fixes, "the scenario has a counter-example"
    assert {ln for ln, _ in fixes} == {line}
    for _, note in fixes:
        assert note.startswith(change), note
        assert note.endswith("breaks no legitimate flow (ztsim harden's choice)")
    # The first policy-decided step is no longer the answer (the old behaviour).
    assert all(v.location.path == p.path for o in r.outcomes for v in o.violations)


def test_fix_at_every_plan_closed_by_the_named_change() -> None:
    """The change each note names, applied alone, blocks that counter-example."""
    from ztsim.engine.attack import AttackModel
    from ztsim.engine.verdicts import judge
    from ztsim.whatif.candidates import Context
    from ztsim.whatif.harden import harden

    r = _shipped("pajemploi", "segmented")
    p = r.policies[0]
    h = harden(r.topology, p)
    ctx = Context(AttackModel(r.topology), p)
    for o in r.outcomes:
        for v in o.violations:
            assert v.plan is not None
            named = [c for c in h.changes if v.fix.startswith(c.text)]
            assert len(named) == 1
            assert judge(v.plan, ctx.decider_with(named)).blocked
            assert not ctx.breaks(named)


def test_fix_at_large_estates_takes_the_first_step_that_is_not_legitimate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above the search's bounds: no harden run, the documented fallback."""
    import ztsim.whatif.fixes as fixes
    import ztsim.whatif.harden as hardening

    def no_search(*_a: object, **_k: object) -> None:
        raise AssertionError("harden must not run above the bounds")

    from ztsim.engine.attack import AttackModel
    from ztsim.engine.verdicts import judge
    from ztsim.inputs.positions import locate
    from ztsim.whatif.candidates import Context

    monkeypatch.setattr(fixes, "SEARCH_HOSTS", 5)
    monkeypatch.setattr(hardening, "harden", no_search)
    r = _shipped("pajemploi", "flat")
    p = r.policies[0]
    assert p.doc is not None
    default = locate(p.doc, ("segmentation", "default")).line
    ctx = Context(AttackModel(r.topology), p)
    # internet -> portal-web 443/tcp is a legitimate flow; portal-web -> api-01
    # 8081/tcp (the actuator) is not, and the segmentation default allows it.
    for o in r.outcomes:
        for v in o.violations:
            if v.plan is None:
                continue
            assert v.location.line == default
            assert v.fix.startswith("deny portal-web -> api-01 8081/tcp; segmentation.default")
            assert "not harden's choice" in v.fix
            deny = ctx.deny_flow("portal-web", "api-01", "8081/tcp")
            assert judge(v.plan, ctx.decider_with([deny])).blocked and not ctx.breaks([deny])
    # Under segmented every flow before the sniff is legitimate: encryption.
    seg = _shipped("pajemploi", "segmented")
    assert seg.policies[0].doc is not None
    top = locate(seg.policies[0].doc, ()).line
    for line, note in _plan_fixes(seg):
        assert line == top and note.startswith("encrypt traffic in transit")


UNCLOSABLE_TOPOLOGY = """\
ztsim: 1
kind: topology
name: unclosable
zones:
  - {id: internet, external: true}
  - {id: dmz}
hosts:
  - id: web
    zone: dmz
    services:
      - {service: 443/tcp, public: true}
    vulnerabilities:
      - {id: CVE-WEB, service: 443/tcp, gives: user}
    data:
      - {id: files, records: 10}
external:
  - {id: bucket, fqdn: "*.files.example", role: web-service}
traffic:
  - {from: internet, to: web, service: 443/tcp}
  - {from: web, to: bucket, service: 443/tcp}
"""


def test_fix_at_says_when_no_change_keeps_legitimate_traffic() -> None:
    """Every step is a legitimate flow: the least harmful change, and what it breaks."""
    from ztsim.inputs.loader import policy_from_text, topology_from_text

    topo = topology_from_text(UNCLOSABLE_TOPOLOGY, "unclosable.yaml")
    pol = policy_from_text(
        "ztsim: 1\nkind: policy\nname: open\nsegmentation:\n  default: allow\n"
        "egress:\n  default: allow\n",
        "open.yaml",
    )
    r = evaluate(topo, [pol])
    (line, note), *_ = sorted(_plan_fixes(r))
    assert note.startswith(
        "no change of this policy closes this plan without breaking legitimate traffic; "
        "the least harmful: "
    )
    assert "this breaks 1 legitimate flow(s): " in note
    assert line == 5  # segmentation.default: allow, which lets internet -> web through


SAME_ZONE_TOPOLOGY = """\
ztsim: 1
kind: topology
name: lan
zones:
  - {id: internet, external: true}
  - {id: lan}
hosts:
  - id: web
    zone: lan
    services:
      - {service: 443/tcp, public: true}
    vulnerabilities:
      - {id: CVE-WEB, service: 443/tcp, gives: user}
  - id: db
    zone: lan
    services:
      - {service: 22/tcp}
    vulnerabilities:
      - {id: CVE-SSH, service: 22/tcp, gives: user}
    data:
      - {id: rows, records: 5, integrity: true}
traffic:
  - {from: internet, to: web, service: 443/tcp}
"""


def test_fix_at_a_same_zone_flow_names_the_rule_and_the_intra_zone_switch() -> None:
    """A same-zone flow skips the rules: a deny closes it only with intra_zone: rules."""
    from ztsim.inputs.loader import policy_from_text, topology_from_text

    topo = topology_from_text(SAME_ZONE_TOPOLOGY, "lan.yaml")
    pol = policy_from_text(
        "ztsim: 1\nkind: policy\nname: zones\nsegmentation:\n  default: allow\n"
        "  intra_zone: allow\negress:\n  default: deny\n",
        "zones.yaml",
    )
    (line, note), *_ = sorted(_plan_fixes(evaluate(topo, [pol])))
    assert line == 6  # `  intra_zone: allow`
    assert note.startswith("deny web -> db 22/tcp, with set segmentation.intra_zone: rules")
    assert "segmentation.intra_zone: allow allows it today" in note


def test_check_offers_every_report_format():
    """``check --format`` lists the renderers' formats (kept apart so the parser stays light)."""
    from ztsim.cli.commands import check

    assert check.FORMATS == FORMATS
