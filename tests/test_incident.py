"""The incident analysis (issue 29 points 1 and 3): model, knowledge files, renderers, CLI.

The Pajemploi analysis under flat, segmented and zero-trust: the seven incident
techniques under their tactics; PII exfiltration names GDPR Art. 32 and NIS2 Art. 21;
under zero-trust every plan open under an earlier policy names the control that now
stops it, at its step; the recommended actions are ``harden``'s.  The ATT&CK subset
covers every technique ztsim names.  The three shipped scenarios' analyses are the
files in ``docs/analysis/`` (``ZTSIM_UPDATE_GOLDEN=1`` rewrites them).
"""

from __future__ import annotations

import os
import re
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest
from conftest import ROOT

from ztsim.cli.common import load_scenario
from ztsim.cli.main import main
from ztsim.inputs.knowledge import attack_data, compliance_from_text, default_compliance
from ztsim.model.diagnostics import InputError
from ztsim.model.techniques import TECHNIQUES
from ztsim.output.escape import markdown_text
from ztsim.output.reports.incident_html import render_incident_html
from ztsim.output.reports.incident_markdown import render_incident_markdown
from ztsim.whatif.harden import harden
from ztsim.whatif.incident import IncidentAnalysis, PolicyIncident, incident_analysis
from ztsim.whatif.intent import evaluate

DOCS = ROOT / "docs" / "analysis"
SCENARIOS = {
    "pajemploi": ("topologies/pajemploi.yaml", "policies"),
    "k8s-shop": ("topologies/k8s-shop.yaml", "policies/k8s-shop"),
    "corporate": ("topologies/corporate.yaml", "policies/corporate"),
}
#: The Pajemploi kill chain's techniques (README "Why").
INCIDENT = ("T1190", "T1078", "T1068", "T1021", "T1557", "T1005", "T1041")


@pytest.fixture(autouse=True)
def _at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


@cache
def _analysis(name: str) -> tuple[IncidentAnalysis, object]:
    os.chdir(ROOT)
    topo_path, pols = SCENARIOS[name]
    topo, policies = load_scenario(topo_path, [pols], False)
    report = evaluate(topo, policies)
    return incident_analysis(report), report


def _policy(name: str, policy: str) -> PolicyIncident:
    ia, _ = _analysis(name)
    return next(p for p in ia.policies if p.policy == policy)


# --------------------------------------------------------------------------- ATT&CK


def test_attack_subset_covers_every_technique_ztsim_names() -> None:
    """Every technique of ztsim/model/techniques.py is in the shipped subset, with its
    name and a tactic ztsim gives it, and mitigations (each one listed)."""
    attack = attack_data()
    for tid, t in TECHNIQUES.items():
        known = attack.technique(tid)
        assert known is not None, tid
        assert known.name == t.name
        assert t.tactic in known.tactics
        assert known.mitigations, tid
        assert all(attack.mitigation(m) is not None for m in known.mitigations)


def test_attack_subset_has_version_licence_and_attribution() -> None:
    attack = attack_data()
    assert re.fullmatch(r"\d+\.\d+", attack.version)
    assert "MITRE Corporation" in attack.attribution
    assert "terms-of-use" in attack.licence


def test_version_names_attack(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert f"ATT&CK Enterprise v{attack_data().version}" in capsys.readouterr().out


# --------------------------------------------------------------------------- Pajemploi


def test_the_seven_incident_techniques_under_their_tactics() -> None:
    """Each incident technique is in a kill chain of the three policies, under one of
    its ATT&CK tactics, and each policy's kill chain follows the matrix's order."""
    attack = attack_data()
    placed: dict[str, set[str]] = {}
    for policy in ("flat", "segmented", "zero-trust"):
        p = _policy("pajemploi", policy)
        ranks = [attack.tactic_rank(g.shortname) for g in p.kill_chain]
        assert ranks == sorted(ranks)
        for g in p.kill_chain:
            for e in g.entries:
                placed.setdefault(e.technique.id, set()).add(g.shortname)
        md = render_incident_markdown(_analysis("pajemploi")[0])
        assert "```mermaid" in md
    for tid in INCIDENT:
        assert tid in placed, tid
        known = attack.technique(tid)
        assert known is not None and placed[tid] <= set(known.tactics), tid
    # the tactics the issue names, where the plans use them
    assert placed["T1190"] == {"initial-access"}
    assert placed["T1021"] == {"lateral-movement"}
    assert placed["T1557"] == {"credential-access"}
    assert placed["T1005"] == {"collection"}
    assert placed["T1041"] == {"exfiltration"}


@pytest.mark.parametrize("policy", ["flat", "segmented"])
def test_pii_exfiltration_names_gdpr_32_and_nis2_21(policy: str) -> None:
    p = _policy("pajemploi", policy)
    got = {(c.framework, c.control): c for c in p.compliance}
    for key in (("gdpr", "Art. 32"), ("nis2", "Art. 21")):
        assert key in got
        assert "exfiltrate(payroll-records)" in got[key].goals
        assert "payroll-records" in got[key].reason
    md = render_incident_markdown(_analysis("pajemploi")[0])
    assert "Art. 32" in md and "Art. 21" in md


def test_zero_trust_names_no_compliance_exposure() -> None:
    assert _policy("pajemploi", "zero-trust").compliance == ()


def test_zero_trust_stops_every_earlier_open_plan_with_a_named_control() -> None:
    """Every plan open under flat or segmented is studied under zero-trust, stopped at
    a step whose control (rule or setting, FILE:LINE) is named, there and in the text."""
    zt = _policy("pajemploi", "zero-trust")
    assert not zt.attacked
    earlier = {
        plan.plan.key
        for name in ("flat", "segmented")
        for plan in _policy("pajemploi", name).plans
        if plan.open
    }
    studied = {plan.plan.key: plan for plan in zt.plans}
    assert earlier and earlier <= set(studied)
    for key in earlier:
        plan = studied[key]
        assert not plan.open and plan.open_under
        assert plan.stop is not None and plan.stop_step is not None
        assert plan.stop.rule and re.fullmatch(
            r"policies/zero-trust\.yaml:\d+", str(plan.stop.location)
        )
        step = zt.steps[plan.steps[plan.stop_step - 1]]
        assert step.stopped_by is not None and step.stopped_by.present
        # every step names the control that stops the plan: in force at the step, or the plan's stop
        for n, si in enumerate(plan.steps, 1):
            s = zt.steps[si]
            assert s.controls, n
            if s.stopped_by is not None:
                assert s.stopped_by.rule and s.stopped_by.location
    md = render_incident_markdown(_analysis("pajemploi")[0])
    zt_md = md.split("## Policy zero-trust", 1)[1]
    assert zt_md.count("**Stopped here** by") == 2  # the cheapest plan of each goal
    assert "by segmentation default at policies/zero-trust.yaml:" in zt_md
    assert "None: no goal is reachable under this policy." in zt_md


@pytest.mark.parametrize("policy", ["flat", "segmented"])
def test_recommended_actions_are_hardens(policy: str) -> None:
    topo, pols = load_scenario("topologies/pajemploi.yaml", ["policies"], False)
    pol = next(p for p in pols if p.name == policy)
    h = harden(topo, pol)
    r = _policy("pajemploi", policy).recommendations
    assert r.needed and r.complete == h.complete and r.proof == h.proof
    assert [i.text for i in r.items] == [c.text for c in h.changes]
    assert [i.closes for i in r.items] == [
        tuple(
            f"{'exfiltrate' if g[0] == 'exfil' else 'tamper'}({g[1]})" for g in h.necessary[c.key]
        )
        for c in h.changes
    ]
    md = render_incident_markdown(_analysis("pajemploi")[0])
    section = md.split(f"## Policy {policy}", 1)[1].split("## Policy", 1)[0]
    for c in h.changes:
        assert markdown_text(c.text) in section


def test_every_sentence_comes_from_the_model() -> None:
    """The narrative names the plan's own hosts, vulnerabilities and credentials."""
    flat = _policy("pajemploi", "flat")
    first = flat.plans[0]
    sentences = [flat.steps[i].sentence for i in first.steps]
    for st, sentence in zip(first.plan.steps, sentences, strict=True):
        for word in (st.target, st.service):
            if word and st.kind != "enter":
                assert str(word) in sentence
    assert any("CVE-2025-41001 on portal-web over 443/tcp" in s for s in sentences)


def test_summary_counts_records_and_detection() -> None:
    flat = _policy("pajemploi", "flat")
    text = " ".join(flat.summary)
    assert "2 of 2 goals are reachable" in text
    assert "1,200,000 records can be exfiltrated" in text
    assert "probability" in text
    zt = " ".join(_policy("pajemploi", "zero-trust").summary)
    assert "none of the 2 goals is reachable" in zt


def test_renderers_are_deterministic() -> None:
    ia, report = _analysis("pajemploi")
    topo = report.topology  # type: ignore[attr-defined]
    assert render_incident_markdown(ia) == render_incident_markdown(ia)
    assert render_incident_html(ia, topo) == render_incident_html(ia, topo)
    again = incident_analysis(report)  # type: ignore[arg-type]
    assert render_incident_markdown(again) == render_incident_markdown(ia)


# --------------------------------------------------------------------------- compliance files


_MAPPING = """\
ztsim: 1
kind: compliance
name: ours
frameworks:
  - id: house
    name: House rules
    title: Our own rules
    scope: us
    controls:
      - id: R1
        title: No PII leaves
        when: {classifications: [pii], goals: [exfiltrate]}
        reason: "{data} ({records} records) can leave under {policy}: {findings}."
"""


def test_a_compliance_mapping_of_ones_own() -> None:
    _, report = _analysis("pajemploi")
    mine = compliance_from_text(_MAPPING, "mine.yaml")
    ia = incident_analysis(report, compliance=mine)  # type: ignore[arg-type]
    flat = next(p for p in ia.policies if p.policy == "flat")
    assert [(c.framework, c.control) for c in flat.compliance] == [("house", "R1")]
    assert flat.compliance[0].reason.startswith("payroll-records (1,200,000 records) can leave")


@pytest.mark.parametrize(
    ("change", "where", "message"),
    [
        ("    scope: us\n", "    scope: us\n    colour: red\n", "mine.yaml:9:5: error"),
        ("under {policy}", "under {polcy}", "unknown placeholder {polcy}"),
        ("goals: [exfiltrate]", "goals: [exfiltration]", "mine.yaml:12:"),
        ("kind: compliance", "kind: complience", "unknown kind"),
        (
            "when: {classifications: [pii], goals: [exfiltrate]}",
            "when: {findings: [nope]}",
            "mine.yaml:12:",
        ),
    ],
)
def test_compliance_errors_are_placed(change: str, where: str, message: str) -> None:
    with pytest.raises(InputError) as exc:
        compliance_from_text(_MAPPING.replace(change, where), "mine.yaml")
    assert message in str(exc.value)


def test_the_shipped_mapping_loads() -> None:
    m = default_compliance().model
    names = {f.id for f in m.frameworks}
    assert {"gdpr", "nis2", "pci-dss", "nydfs", "cisa-ztmm", "dora"} <= names


def test_cli_bad_compliance_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(_MAPPING.replace("    scope: us\n", "    scope: us\n    colour: red\n"))
    out = tmp_path / "a.md"
    args = ["report", "topologies/pajemploi.yaml", "-p", "policies", "--analysis"]
    code = main([*args, "--compliance", str(bad), "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert f"{bad}:9:5: error" in err and "Traceback" not in err


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "a.html")
    args = ["report", "topologies/pajemploi.yaml"]
    assert main([*args, "-p", "policies", "--compliance", "x.yaml", "-o", out]) == 2
    diff = ["--base", "policies/flat.yaml", "--proposed", "policies/zero-trust.yaml"]
    assert main([*args, *diff, "--analysis", "-o", out]) == 2
    capsys.readouterr()


def test_cli_writes_both_formats(tmp_path: Path) -> None:
    args = ["report", "topologies/pajemploi.yaml", "-p", "policies", "--analysis"]
    assert main([*args, "-o", str(tmp_path / "a.md")]) == 0
    assert main([*args, "-o", str(tmp_path / "a.html")]) == 0
    md = (tmp_path / "a.md").read_text(encoding="utf-8")
    html = (tmp_path / "a.html").read_text(encoding="utf-8")
    assert md.startswith("# Incident analysis of pajemploi")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert html.count('class="figure plan-picture"') == 6  # 2 goals x 3 policies
    assert html.count('class="figure kill-chain"') == 3


# --------------------------------------------------------------------------- docs/analysis


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_docs_analysis_is_current(name: str) -> None:
    """docs/analysis/NAME.{md,html} are what ``report --analysis`` writes today."""
    ia, report = _analysis(name)
    texts = {
        "md": render_incident_markdown(ia),
        "html": render_incident_html(ia, report.topology),  # type: ignore[attr-defined]
    }
    for ext, text in texts.items():
        path = DOCS / f"{name}.{ext}"
        if os.environ.get("ZTSIM_UPDATE_GOLDEN"):
            DOCS.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        assert path.read_text(encoding="utf-8") == text, f"run ZTSIM_UPDATE_GOLDEN=1 for {path}"


# --------------------------------------------------------------------------- reads sensibly


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_other_plans_of_one_goal_and_cost_read_apart(name: str) -> None:
    """Each "other plan" line says what sets it apart (as the matrix does): two plans
    of one goal and cost never read the same (the hosts alone did for Pajemploi's)."""
    ia, _ = _analysis(name)
    md = render_incident_markdown(ia)
    for section in md.split("## Policy ")[1:]:
        for block in section.split("Other plans to the same goal:")[1:]:
            lines = [x for x in block.split("\n\n", 2)[1].splitlines() if x.startswith("- ")]
            groups: dict[str, list[str]] = {}
            for line in lines:
                cost = re.search(r"\((\d+) steps, via ", line)
                assert cost, line
                # the line without its plan id and fate: what a reader compares
                shown = line.split(" ", 2)[2].rsplit(";", 1)[0]
                groups.setdefault(cost.group(1), []).append(shown)
            for shown in groups.values():
                assert len(set(shown)) == len(shown), shown


def test_the_entry_step_is_the_premise_not_a_missing_control() -> None:
    """The entry point has no control to lack: no "detection ... missing" on internet."""
    for name in SCENARIOS:
        ia, _ = _analysis(name)
        for p in ia.policies:
            for s in p.steps:
                if s.step.kind != "enter":
                    continue
                kinds = [c.kind for c in s.controls]
                assert kinds[0] == "none" and "premise" in s.controls[0].text
                if not s.step.technique:
                    assert kinds == ["none"], (name, p.policy, s.controls)


def test_markdown_headings_do_not_skip_a_level() -> None:
    for name in SCENARIOS:
        md = render_incident_markdown(_analysis(name)[0])
        levels = [len(m) for m in re.findall(r"^(#+) ", md, re.M)]
        assert levels[0] == 1
        assert all(b <= a + 1 for a, b in pairwise(levels)), name


def test_the_sources_line_reads_as_a_sentence() -> None:
    """'compliance mapping: NAME (FILE)', not 'compliance mapping ztsim default compliance
    mapping (FILE)' (found reading the shipped analyses)."""
    md = render_incident_markdown(_analysis("pajemploi")[0])
    line = md.splitlines()[2]
    assert "; compliance mapping: ztsim default compliance mapping (" in line


def test_no_sentence_ends_twice() -> None:
    """Sentences joined in a list lose their full stop first (read '...service.; From')."""
    for name in SCENARIOS:
        md = render_incident_markdown(_analysis(name)[0])
        assert ".;" not in md and "..\n" not in md, name
