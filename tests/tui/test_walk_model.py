"""The walk-through's view model (Textual-free): the step card, the strip, the controls."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tui_support import copy_scenario

from ztsim.analysis.analyze import analyze
from ztsim.tui.viewmodel import (
    Cell,
    PlanView,
    StepCheck,
    StepView,
    ViewModel,
    base_view,
    plan_views,
    with_plans,
)
from ztsim.tui.walkdata import describe_fact, plan_walk_data
from ztsim.tui.walkmodel import chain, stop_step, tactic_name, walk_card
from ztsim.tui.widgets.walk import card_text, policies_grid

FLAT, SEGMENTED, ZERO_TRUST = 0, 1, 2


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> ViewModel:
    """The full view model of the frozen scenario (paths relative to its folder)."""
    root = tmp_path_factory.mktemp("walk")
    scenario = copy_scenario(root)
    cwd = Path.cwd()
    os.chdir(root)
    try:
        topo, pols, warnings = scenario.load()
        a = analyze(topo, pols)
        base = base_view(a, topo.path, warnings)
        plans: list[PlanView] = []
        for g in a.goals:
            plans.extend(plan_views(a, a.plans(g, 5), start=len(plans)))
    finally:
        os.chdir(cwd)
    return with_plans(base, plans, len(a.goals))


def _cards(vm: ViewModel, policy: int):
    for plan in vm.plans:
        for n in range(1, len(plan.steps) + 1):
            yield plan, walk_card(plan, vm.policy_names, policy, n)


def test_every_step_names_its_tactic_technique_and_mitigations(vm):
    for plan, card in _cards(vm, FLAT):
        step = plan.steps[card.number - 1]
        assert card.tactic, (plan.ident, card.number)
        assert card.tactic[0].isupper()
        assert card.sentence.startswith(("The attacker", "From ", "On "))
        if step.technique:
            assert card.technique == step.technique and card.technique_name
            assert card.url and step.technique.replace(".", "/") in card.url
            # from the shipped ATT&CK subset: every technique ztsim names has mitigations
            assert card.mitigations and all(m.startswith("M") for m in card.mitigations)
        else:
            assert step.kind == "enter" and card.tactic == "Initial Access"
    # the incident's techniques under the tactic each serves in its step
    seen = {(c.technique, c.tactic) for _, c in _cards(vm, FLAT)}
    assert ("T1190", "Initial Access") in seen
    assert ("T1210", "Lateral Movement") in seen
    assert ("T1068", "Privilege Escalation") in seen
    assert ("T1552", "Credential Access") in seen
    assert ("T1041", "Exfiltration") in seen
    assert ("T1565.001", "Impact") in seen
    # a login from inside the estate is lateral movement, not initial access
    inside = [
        c
        for p, c in _cards(vm, FLAT)
        if c.technique == "T1078" and p.steps[c.number - 1].source != "internet"
    ]
    assert inside and all(c.tactic != "Initial Access" for c in inside)


def test_why_it_was_possible_names_the_facts_and_the_steps_that_gave_them(vm):
    for plan in vm.plans:
        assert plan.walk is not None
        for n, data in enumerate(plan.walk.steps, 1):
            for need in data.needs:
                # every fact a step used was given by an earlier step of the plan
                assert need.given_by is not None and 1 <= need.given_by < n
                assert need.text in plan.walk.steps[need.given_by - 1].gives
            card = walk_card(plan, vm.policy_names, FLAT, n)
            assert card.topology == plan.steps[n - 1].reason
            assert all(f"(step {x.given_by})" in card.needs[i] for i, x in enumerate(data.needs))


def test_the_rule_that_allowed_a_flow_is_named_with_its_line(vm):
    plan = vm.plans[0]
    exploit = next(s for s in plan.steps if s.kind == "exploit" and s.source != "internet")
    card = walk_card(plan, vm.policy_names, FLAT, exploit.number)
    # flat allows by its default: the card names that line of flat.yaml
    assert card.allowed
    assert card.policy_decision.endswith("allowed by segmentation default (policies/flat.yaml:10)")
    first = walk_card(plan, vm.policy_names, SEGMENTED, 2)
    assert "allowed by segmentation rule internet-to-dmz at policies/segmented.yaml:14" in (
        first.policy_decision
    )


def test_under_zero_trust_every_step_it_denies_names_the_control_at_its_line(vm):
    """Issue 29: under zero-trust every step of every earlier open plan names the
    control that now stops it."""
    for plan in vm.plans:
        assert plan.cells[FLAT].blocked is False
        stop = stop_step(plan, ZERO_TRUST)
        assert stop is not None
        for n, step in enumerate(plan.steps, 1):
            card = walk_card(plan, vm.policy_names, ZERO_TRUST, n)
            stopping = [c for c in card.controls if c.stops]
            if step.checks[ZERO_TRUST].allowed:
                assert not stopping, (plan.ident, n)
                continue
            assert stopping, (plan.ident, n)
            for c in stopping:
                assert c.present and c.location
                assert c.location.startswith("policies/zero-trust.yaml:")
            assert card.reached == (n <= stop)
        stopped = walk_card(plan, vm.policy_names, ZERO_TRUST, stop)
        assert stopped.stop == stop and stopped.stop_rule == plan.cells[ZERO_TRUST].rule
        assert "under zero-trust the plan stops HERE" in card_text(stopped)


def test_under_flat_nothing_stops_a_step_and_each_says_what_would(vm):
    for plan, card in _cards(vm, FLAT):
        step = plan.steps[card.number - 1]
        assert not any(c.present for c in card.controls)
        kinds = {c.kind for c in card.controls} - {"detection"}
        expected = {
            "exploit": {"segmentation"},
            "login": {"segmentation", "mfa"},
            "exfiltrate": {"egress"},
            "sniff": {"encryption"},
        }.get(step.kind, {"none"})
        assert kinds == expected, (plan.ident, card.number, step.kind)
        for c in card.controls:
            if c.kind in ("segmentation", "egress"):
                # where the rule (or default) letting the flow through is written
                assert c.location and c.location.startswith("policies/flat.yaml:")


def test_mfa_and_encryption_are_placed_in_the_policy(vm):
    sniffs = [(p, s) for p in vm.plans for s in p.steps if s.kind == "sniff"]
    assert sniffs
    plan, step = sniffs[0]
    card = walk_card(plan, vm.policy_names, ZERO_TRUST, step.number)
    enc = next(c for c in card.controls if c.kind == "encryption")
    assert enc.present and enc.stops and enc.location == "policies/zero-trust.yaml:45"
    logins = [(p, s) for p in vm.plans for s in p.steps if s.kind == "login"]
    found = False
    for plan, step in logins:
        card = walk_card(plan, vm.policy_names, ZERO_TRUST, step.number)
        mfa = next(c for c in card.controls if c.kind == "mfa")
        if mfa.present:
            found = True
            assert mfa.location == "policies/zero-trust.yaml:44"
    assert found


def test_policy_lines_say_each_fate_and_what_it_does_here(vm):
    plan = vm.plans[0]
    stop = stop_step(plan, SEGMENTED)
    assert stop is not None
    card = walk_card(plan, vm.policy_names, SEGMENTED, stop)
    assert [p.name for p in card.policies] == ["flat", "segmented", "zero-trust"]
    assert [p.current for p in card.policies] == [False, True, False]
    flat, seg, _ = card.policies
    assert not flat.blocked and flat.fate == "open, P(detected) 0.00"
    assert not flat.here_stops and flat.here == "here: lets it through"
    rule = plan.cells[SEGMENTED].rule
    assert seg.blocked and seg.fate == f"stops the plan at step {stop} ({rule})"
    assert seg.here_stops and seg.here == "here: stops it"  # the fate names the rule
    # a later step segmented would stop too names its own rule
    later = walk_card(plan, vm.policy_names, FLAT, stop + 2).policies[SEGMENTED]
    check = plan.steps[stop + 1].checks[SEGMENTED]
    assert later.here_stops == (not check.allowed)
    if later.here_stops:
        assert later.here == f"here: stops it ({check.blocked_by})"
    assert card_text(card).count("the plan stops HERE") == 1


def test_policy_lines_wrap_under_themselves_on_80_columns(vm):
    """The policies box at 80x24 (76 cells inside): a fate too long for one line goes
    on under its own words, not under the policy names at the left edge."""
    from rich.console import Console

    card = walk_card(vm.plans[0], vm.policy_names, FLAT, 1)
    console = Console(width=76, record=True, color_system=None)
    console.print(policies_grid(card))
    lines = console.export_text().rstrip("\n").splitlines()
    assert len(lines) > len(card.policies), "nothing wraps: the test tests nothing"
    names = [p.name for p in card.policies]
    indent = 2 + max(len(n) for n in names) + 2
    for line in lines:
        head = line[2:].split(" ", 1)[0]
        assert head in names or line[:indent].strip() == "", line


def test_the_card_clamps_its_step_number(vm):
    plan = vm.plans[0]
    assert walk_card(plan, vm.policy_names, FLAT, 0).number == 1
    last = walk_card(plan, vm.policy_names, FLAT, 99)
    assert last.number == last.total == len(plan.steps)


def test_describe_fact():
    assert describe_fact(("priv", "api-01", "root")) == "root on api-01"
    assert describe_fact(("session", "db", "5432/tcp", "*")) == (
        "a session to db:5432/tcp opened from inside"
    )
    assert describe_fact(("cred", "k")) == "credential k"
    assert describe_fact(("zone", "internet")) == "a foothold in external zone internet"
    assert tactic_name("privilege-escalation") == "Privilege Escalation"


# --------------------------------------------------------------------------- the strip


def _plan(allowed: list[list[bool]]) -> PlanView:
    """A plan of ``len(allowed)`` steps; ``allowed[i][k]``: policy k lets step i through."""
    policies = len(allowed[0])
    steps = []
    stops: list[int | None] = []
    for k in range(policies):
        stops.append(next((i + 1 for i, row in enumerate(allowed) if not row[k]), None))
    for i, row in enumerate(allowed):
        checks = tuple(
            StepCheck(ok, None if ok else "r", "", (), 0.0, stops[k] is None or i + 1 <= stops[k])
            for k, ok in enumerate(row)
        )
        steps.append(StepView(i + 1, "exploit", "T1210", None, None, "a", "b", None, "", checks))
    cells = tuple(
        Cell(f"p{k}", stops[k] is not None, "r" if stops[k] else None, stops[k], 0.0, "")
        for k in range(policies)
    )
    return PlanView("x", "g", "d", "e", len(steps), None, (), (), (), cells, tuple(steps), 0)


@given(
    st.integers(1, 3).flatmap(
        lambda k: st.lists(st.lists(st.booleans(), min_size=k, max_size=k), min_size=1, max_size=9)
    ),
    st.data(),
)
def test_chain_marks_the_stop_the_steps_after_it_and_the_current_one(allowed, data):
    plan = _plan(allowed)
    policy = data.draw(st.integers(0, len(allowed[0]) - 1))
    current = data.draw(st.integers(1, len(allowed)))
    items = chain(plan, policy, current)
    # the naive reading: the first step not allowed is the stop, later ones not reached
    stop = next((i + 1 for i, row in enumerate(allowed) if not row[policy]), None)
    assert stop_step(plan, policy) == stop
    for item, row in zip(items, allowed, strict=True):
        n = item.number
        assert item.current == (n == current)
        if n == stop:
            assert item.state == "stop"
        elif stop is not None and n > stop:
            assert item.state == ("after" if row[policy] else "after-denied")
        else:
            assert item.state == ("open" if row[policy] else "denied")
    assert sum(i.state == "stop" for i in items) == (stop is not None)


def test_a_plan_without_walk_data_still_shows_its_steps(vm):
    plan = replace(vm.plans[0], walk=None)
    card = walk_card(plan, vm.policy_names, SEGMENTED, 3)
    assert card.needs == () and card.controls == () and card.mitigations == ()
    assert card.technique == plan.steps[2].technique and card.tactic


def test_walk_data_does_not_depend_on_the_order_plans_are_told(tmp_path, monkeypatch):
    """Steps are told once per analysis (a memo by step key): the plans' data is the
    same whichever plan comes first, and the same again from a fresh analysis."""
    monkeypatch.chdir(tmp_path)
    topo, pols, _ = copy_scenario(tmp_path).load()
    a = analyze(topo, pols)
    rows = [r for g in a.goals for r in a.plans(g, 5)]
    forward = [plan_walk_data(a, r) for r in rows]
    b = analyze(topo, pols)
    rows_b = [r for g in b.goals for r in b.plans(g, 5)]
    backward = [plan_walk_data(b, r) for r in reversed(rows_b)][::-1]
    assert forward == backward
    assert forward == [plan_walk_data(a, r) for r in rows]
