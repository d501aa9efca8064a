"""Intent assertions: loading, cross-checks, and every type judged true and false."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_ci_scenario import assertions, policy, topology

from ztsim.inputs.assertions import (
    NoExfiltration,
    assertion_errors,
    assertions_from_text,
    goal_assertions,
    load_assertions,
)
from ztsim.model.diagnostics import InputError
from ztsim.whatif.intent import Outcome, Report, evaluate

# --------------------------------------------------------------------------- helpers


def judge(body: str, *policies: str, baseline: str | None = None) -> Report:
    """Evaluate an assertions body under the named scenario policies."""
    topo = topology()
    loaded = assertions(body)
    assert assertion_errors(loaded, topo) == []
    base = policy(baseline) if baseline else None
    return evaluate(topo, [policy(p) for p in policies], loaded, baseline=base)


def only(report: Report) -> Outcome:
    assert len(report.outcomes) == 1
    return report.outcomes[0]


def errors_of(body: str) -> list[str]:
    """Diagnostics (as text) of an assertions body: schema or cross-check."""
    try:
        loaded = assertions(body)
    except InputError as exc:
        return [str(d) for d in exc.diagnostics]
    return [str(d) for d in assertion_errors(loaded, topology())]


# --------------------------------------------------------------------------- loading


def test_loads_every_type_with_defaults() -> None:
    loaded = assertions(
        "  - {id: a, type: no-exfiltration}\n"
        "  - {id: b, type: no-tampering, data: records, severity: warning}\n"
        "  - {id: c, type: min-attack-cost, steps: 4}\n"
        "  - {id: d, type: max-undetected, probability: 0.3, plans: 2}\n"
        "  - {id: e, type: no-flow, from: any, to: {zone: data}, services: 5432/tcp}\n"
        "  - {id: f, type: egress-denied, from: {zone: dmz}}\n"
        "  - {id: g, type: traffic-allowed}\n"
    )
    kinds = [(a.id, a.type, a.severity) for a in loaded.model.assertions]
    assert kinds[0] == ("a", "no-exfiltration", "error")
    assert kinds[1] == ("b", "no-tampering", "warning")
    assert [k[1] for k in kinds[2:]] == [
        "min-attack-cost",
        "max-undetected",
        "no-flow",
        "egress-denied",
        "traffic-allowed",
    ]
    assert loaded.mark(2) is not None and loaded.mark(2).line == 7


@pytest.mark.parametrize(
    ("body", "where", "needle"),
    [
        ("  - {id: a, type: no-exfiltration, dta: records}\n", ":5:", "unknown key 'dta'"),
        ("  - {id: a, type: no-exfiltrashun}\n", ":5:", "no-exfiltrashun"),
        ("  - {id: a, type: min-attack-cost}\n", ":5:", "missing required key 'steps'"),
        ("  - {id: a, type: max-undetected, probability: 2}\n", ":5:", "probability"),
        ("  - {id: a, type: no-flow, from: any, to: any, services: [44/tcpp]}\n", ":5:", "44/tcpp"),
        ("  - {id: a, type: no-exfiltration, severity: fatal}\n", ":5:", "severity"),
        (
            "  - {id: a, type: no-exfiltration}\n  - {id: a, type: no-tampering}\n",
            ":6:",
            "duplicate",
        ),
    ],
)
def test_schema_errors_are_located(body: str, where: str, needle: str) -> None:
    errs = errors_of(body)
    assert errs, "expected an error"
    assert any(where in e and needle in e for e in errs), errs
    assert all(e.startswith("assertions.yaml:") for e in errs)


def test_every_error_is_reported_at_once() -> None:
    errs = errors_of(
        "  - {id: a, type: no-exfiltration, bogus: 1}\n  - {id: b, type: no-flow, from: any}\n"
    )
    assert len(errs) == 2, errs


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        ("ztsim: 2\nkind: assertions\nname: x\n", "unsupported format version 2"),
        ("ztsim: 1\nkind: policy\nname: x\n", "expected an assertions file, found kind 'policy'"),
        ("ztsim: 1\nname: x\n", "missing `kind: assertions`"),
        ("- 1\n", "expected a mapping"),
    ],
)
def test_header_errors(header: str, needle: str) -> None:
    with pytest.raises(InputError) as exc:
        assertions_from_text(header, "a.yaml")
    assert needle in str(exc.value)


def test_load_from_file_and_yaml_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(
        "ztsim: 1\nkind: assertions\nname: x\nassertions:\n  - {id: a, type: no-exfiltration}\n",
        "utf-8",
    )
    assert load_assertions(good).name == "x"
    empty = tmp_path / "empty.yaml"
    empty.write_text("ztsim: 1\nkind: assertions\nname: x\nassertions: []\n", "utf-8")
    with pytest.raises(InputError) as exc:  # asserting nothing would pass any estate
        load_assertions(empty)
    assert f"{empty}:4:13: error: assertions: List should have at least 1 item" in str(exc.value)
    bad = tmp_path / "bad.yaml"
    bad.write_text("ztsim: 1\nkind: assertions\nname: [\n", "utf-8")
    with pytest.raises(InputError) as exc:
        load_assertions(bad)
    assert str(bad) + ":" in str(exc.value)
    with pytest.raises(InputError):
        load_assertions(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("  - {id: a, type: no-exfiltration, data: recrods}\n", "unknown data item 'recrods'"),
        ("  - {id: a, type: no-exfiltration, classification: pci}\n", "classification 'pci'"),
        ("  - {id: a, type: no-exfiltration, entry: nobody}\n", "unknown entry point 'nobody'"),
        ("  - {id: a, type: no-tampering, data: notes}\n", "selects no goal"),
        ("  - {id: a, type: no-flow, from: {zone: dmzz}, to: any}\n", "unknown zone 'dmzz'"),
        ("  - {id: a, type: no-flow, from: any, to: {host: dbb}}\n", "unknown host 'dbb'"),
        ("  - {id: a, type: no-flow, from: any, to: {labels: {x: y}}}\n", "matches no host"),
        ("  - {id: a, type: egress-denied, from: any, to: [c3]}\n", "no external destination"),
        ("  - {id: a, type: traffic-allowed, from: db}\n", "matches no `traffic` flow"),
        (
            "  - {id: a, type: traffic-allowed, from: web, to: db, service: 22/tcp}\n",
            "does not offer service 22/tcp",
        ),
        (
            "  - {id: a, type: traffic-allowed, from: nowhere, to: db, service: 5432/tcp}\n",
            "unknown source 'nowhere'",
        ),
    ],
)
def test_names_the_topology_lacks_are_errors(body: str, needle: str) -> None:
    errs = errors_of(body)
    assert len(errs) == 1 and needle in errs[0], errs
    assert errs[0].startswith("assertions.yaml:5:")


# --------------------------------------------------------------------------- goals


def test_no_exfiltration_true_and_false() -> None:
    body = "  - {id: a, type: no-exfiltration, classification: pii}\n"
    assert only(judge(body, "tight")).status == "pass"
    o = only(judge(body, "open"))
    assert o.status == "fail" and o.breaks_build
    (v,) = o.violations
    assert v.plan is not None and v.plan.goal == ("exfil", "records") and v.plan.cost == 5
    assert v.plan.entry == "insider"  # the cheapest plan the engine finds
    assert "exfiltrate(records) is reachable under open in 5 steps" in v.message


def test_no_exfiltration_from_one_entry_point_is_exact() -> None:
    body = "  - {id: a, type: no-exfiltration, data: records, entry: internet-attacker}\n"
    # The insider gets there, the internet attacker does not: the restriction is exact.
    assert only(judge(body, "no-internet")).status == "pass"
    assert only(judge("  - {id: a, type: no-exfiltration}\n", "no-internet")).status == "fail"
    (v,) = only(judge(body, "open")).violations
    assert v.plan is not None and v.plan.entry == "internet-attacker" and v.plan.cost == 6


def test_no_tampering_true_and_false() -> None:
    body = "  - {id: a, type: no-tampering, data: records}\n"
    assert only(judge(body, "sealed")).status == "pass"
    (v,) = only(judge(body, "tight")).violations
    assert v.plan is not None and v.plan.goal == ("tamper", "records")


def test_min_attack_cost_true_and_false() -> None:
    assert only(judge("  - {id: a, type: min-attack-cost, steps: 5}\n", "open")).status == "pass"
    o = only(judge("  - {id: a, type: min-attack-cost, steps: 6}\n", "open"))
    assert o.status == "fail"
    assert {v.plan.goal for v in o.violations if v.plan} == {
        ("exfil", "records"),
        ("tamper", "records"),
    }
    assert "a plan of 5 steps" in o.violations[0].message
    body = (
        "  - {id: a, type: min-attack-cost, steps: 6, entry: internet-attacker,"
        " goal: exfiltration}\n"
    )
    assert only(judge(body, "open")).status == "pass"
    body = body.replace("steps: 6", "steps: 7")
    (v,) = only(judge(body, "open")).violations
    assert v.plan is not None and v.plan.cost == 6
    # Unreachable goals have no cost to compare: they pass.
    assert only(judge("  - {id: a, type: min-attack-cost, steps: 99}\n", "sealed")).status == "pass"


def test_max_undetected_true_and_false() -> None:
    internet = "entry: internet-attacker, goal: exfiltration"
    ok = f"  - {{id: a, type: max-undetected, probability: 0.5, {internet}}}\n"
    assert only(judge(ok, "watched")).status == "pass"  # the WAF sees T1190 half the time
    bad = ok.replace("0.5", "0.4")
    (v,) = only(judge(bad, "watched")).violations
    assert "with probability 0.50" in v.message
    # The insider never exploits the portal: undetected with probability 1.
    (v,) = only(
        judge(
            "  - {id: a, type: max-undetected, probability: 0.9, goal: exfiltration}\n", "watched"
        )
    ).violations
    assert v.plan is not None and v.plan.entry == "insider" and "1.00" in v.message
    assert (
        only(judge("  - {id: a, type: max-undetected, probability: 0}\n", "sealed")).status
        == "pass"
    )


# --------------------------------------------------------------------------- flows


def test_no_flow_true_and_false_with_the_rule_located() -> None:
    body = "  - {id: a, type: no-flow, from: {zone: dmz}, to: {zone: data}}\n"
    (v,) = only(judge(body, "tight")).violations
    assert v.flows == ("web -> db 5432/tcp",)
    assert "allowed by segmentation rule app-db" in v.message
    pol = policy("tight")
    mark = pol.rule_mark("segmentation", "app-db")
    assert mark is not None and (v.location.path, v.location.line) == ("tight.yaml", mark.line)
    # Services narrow the question; a non-public service is never reachable from outside.
    assert only(judge(body.replace("}}\n", "}, services: [22/tcp]}\n"), "open")).status == "pass"
    body = "  - {id: a, type: no-flow, from: {zone: internet}, to: {zone: data}}\n"
    assert only(judge(body, "open")).status == "pass"


def test_no_flow_default_allow_is_located_at_the_default() -> None:
    body = "  - {id: a, type: no-flow, from: {host: web}, to: {host: db}}\n"
    (v,) = only(judge(body, "open")).violations
    assert "allowed by segmentation default" in v.message
    assert (v.location.path, v.location.line) == ("open.yaml", 5)  # `  default: allow`


def test_no_flow_ignores_a_host_reaching_itself() -> None:
    body = "  - {id: a, type: no-flow, from: {host: web}, to: {host: web}}\n"
    assert only(judge(body, "open")).status == "pass"


def test_egress_denied_true_and_false() -> None:
    body = "  - {id: a, type: egress-denied, from: any, to: [c2, bucket]}\n"
    assert only(judge(body, "tight")).status == "pass"
    (v,) = only(judge(body, "open")).violations
    assert v.flows == (
        "web -> c2 (c2.evil.example) 443/tcp",
        "web -> bucket (*.files.example) 443/tcp",
        "db -> c2 (c2.evil.example) 443/tcp",
        "db -> bucket (*.files.example) 443/tcp",
    )
    # A name under a wildcard destination selects that destination (conservative).
    under = "  - {id: a, type: egress-denied, from: {host: web}, to: x.files.example}\n"
    (v,) = only(judge(under, "open")).violations
    assert v.flows == ("web -> bucket (*.files.example) 443/tcp",)
    # The partner is allowed by a rule: the violation sits on that rule.
    partner = "  - {id: a, type: egress-denied, from: {host: web}, to: api.partner.example}\n"
    (v,) = only(judge(partner, "tight")).violations
    assert "egress rule partner" in v.message and v.location.path == "tight.yaml"


def test_traffic_allowed_true_and_false() -> None:
    every = "  - {id: a, type: traffic-allowed}\n"
    assert only(judge(every, "tight")).status == "pass"
    (v,) = only(judge(every, "broken")).violations
    assert v.flows == ("web -> db 5432/tcp",)
    assert "denied by segmentation default" in v.message
    assert v.location.path == "broken.yaml"
    one = "  - {id: a, type: traffic-allowed, from: web, to: db, service: 5432/tcp}\n"
    assert only(judge(one, "broken")).status == "fail"
    partner = "  - {id: a, type: traffic-allowed, to: partner}\n"
    assert only(judge(partner, "broken")).status == "pass"


def test_undeclared_flow_from_outside_to_a_private_service_fails() -> None:
    body = "  - {id: a, type: traffic-allowed, from: internet, to: web, service: 22/tcp}\n"
    (v,) = only(judge(body, "open")).violations
    assert "by the topology" in v.message
    assert v.location.path == "assertions.yaml" and v.location.line == 5


# --------------------------------------------------------------------------- severity, baseline


def test_warnings_do_not_break_the_build() -> None:
    r = judge("  - {id: a, type: no-exfiltration, severity: warning}\n", "open")
    assert only(r).status == "fail" and not only(r).breaks_build and r.exit_code == 0
    r = judge("  - {id: a, type: no-exfiltration}\n", "open", "tight")
    assert r.exit_code == 1


def test_baseline_new_goal_fails_known_goal_is_debt() -> None:
    r = judge(
        "  - {id: ex, type: no-exfiltration}\n  - {id: tm, type: no-tampering}\n",
        "open",
        baseline="tight",
    )
    ex, tm = r.outcomes
    assert ex.status == "fail" and all(v.new for v in ex.violations)  # blocked under tight
    assert tm.status == "known" and not any(v.new for v in tm.violations)  # open under both
    assert r.exit_code == 1


def test_baseline_new_plan_for_a_known_goal_fails() -> None:
    # The insider's plan is open under both; the internet attacker's only under open.
    r = judge("  - {id: ex, type: no-exfiltration}\n", "open", baseline="no-internet")
    o = only(r)
    new = [v for v in o.violations if v.new]
    assert o.status == "fail" and len(new) == 1
    assert new[0].plan is not None and new[0].plan.entry == "internet-attacker"
    assert "blocked under the baseline" in new[0].message


def test_baseline_same_policy_is_all_known_debt() -> None:
    body = (
        "  - {id: ex, type: no-exfiltration}\n"
        "  - {id: fl, type: no-flow, from: any, to: {host: web}}\n"
        "  - {id: tr, type: traffic-allowed}\n"
    )
    r = judge(body, "broken", baseline="broken")
    assert [o.status for o in r.outcomes] == ["pass", "known", "known"]
    assert r.exit_code == 0
    # Against tight: the portal rule is in both, the broken business flow is new.
    r = judge(body, "broken", baseline="tight")
    assert [o.status for o in r.outcomes] == ["pass", "known", "fail"]


def test_flows_new_since_the_baseline_fail() -> None:
    body = "  - {id: fl, type: no-flow, from: any, to: any}\n"
    o = only(judge(body, "open", baseline="tight"))
    new = [f for v in o.violations if v.new for f in v.flows]
    known = [f for v in o.violations if not v.new for f in v.flows]
    assert "web -> db 5432/tcp" in known and "internet -> web 443/tcp" in known
    assert "web -> db 22/tcp" not in new and "db -> web 22/tcp" in new  # db has no 22
    assert o.status == "fail"


# --------------------------------------------------------------------------- implicit goals


def test_goal_assertions_without_a_file() -> None:
    topo = topology()
    ids = [a.id for a in goal_assertions(topo)]
    assert ids == ["exfiltrate(records)", "tamper(records)", "exfiltrate(notes)"]
    assert all(
        isinstance(a, NoExfiltration) or a.type == "no-tampering" for a in goal_assertions(topo)
    )
    r = evaluate(topo, [policy("tight")])
    assert [o.status for o in r.outcomes] == ["pass", "fail", "pass"]
    assert r.exit_code == r.analysis.exit_code == 1
    r = evaluate(topo, [])  # the reference policy
    assert r.policies[0].name == "reference" and r.exit_code == 1


def test_baseline_detection_removed_is_new_even_if_the_goal_was_known() -> None:
    # Under watched, the insider's plan already goes unseen (known debt), but the
    # internet plan was seen half the time: dropping the WAF makes it new.
    body = "  - {id: det, type: max-undetected, probability: 0.6, goal: exfiltration}\n"
    o = only(judge(body, "open", baseline="watched"))
    assert o.status == "fail"
    (new,) = [v for v in o.violations if v.new]
    assert new.plan is not None and new.plan.entry == "internet-attacker"
    assert "undetected with probability 0.50 under the baseline" in new.message
    assert any(not v.new for v in o.violations)
    assert only(judge(body, "watched", baseline="watched")).status == "known"
