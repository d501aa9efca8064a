"""The memos behind ``check``'s output agree with the plain computations they replace.

Rule marks are found once per policy, step verdicts and detections once per
compiled policy, and per-rule impact is counted in one pass: each is checked here
against the straightforward version (``locate`` per rule, a fresh judgement, the
``Counter``-based count).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pytest
from conftest import ROOT, make_policy

from ztsim.analysis.analyze import analyze
from ztsim.analysis.judged import impact_basis
from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.decisions import Decision
from ztsim.engine.impact import RuleImpact, rule_impact
from ztsim.engine.verdicts import PlanVerdict, judge, judge_plans
from ztsim.inputs.loaded import LoadedPolicy, reference_policy
from ztsim.inputs.loader import load_policies, load_topology
from ztsim.inputs.positions import locate

SCENARIOS = [
    ("topologies/pajemploi.yaml", "policies"),
    ("topologies/corporate.yaml", "policies/corporate"),
    ("topologies/k8s-shop.yaml", "policies/k8s-shop"),
]


def _policies(folder: str) -> list[LoadedPolicy]:
    return load_policies([ROOT / folder])


@pytest.mark.parametrize("folder", [f for _, f in SCENARIOS])
def test_rule_marks_are_where_locate_finds_each_rule(folder: str):
    for pol in _policies(folder):
        assert pol.doc is not None
        for section in ("segmentation", "egress"):
            rules = getattr(pol.model, section).rules
            for index, rule in enumerate(rules):
                expected = locate(pol.doc, (section, "rules", index))
                assert pol.rule_mark(section, rule.id) == expected, (pol.path, rule.id)
                assert pol.rule_location(section, rule.id) == f"{pol.path}:{expected.line}"


def test_rule_mark_of_unknown_rules_and_of_policies_without_a_file():
    pol = make_policy(
        {"segmentation": {"rules": [{"id": "r", "action": "allow"}]}, "egress": {"rules": []}}
    )
    assert pol.rule_mark("segmentation", "r") is not None
    assert pol.rule_mark("egress", "r") is None
    assert pol.rule_mark("segmentation", "nope") is None
    assert pol.rule_location("segmentation", "nope") == pol.path
    ref = reference_policy()
    assert ref.rule_mark("segmentation", "default") is None
    assert ref.rule_location("segmentation", "x") == "<reference>"


@pytest.mark.parametrize(("topology", "folder"), SCENARIOS)
def test_judged_plans_equal_fresh_judgements(topology: str, folder: str):
    topo = load_topology(ROOT / topology)
    a = analyze(topo, _policies(folder))
    plans, _ = impact_basis(a)
    assert plans
    for r in a.results:
        batch = judge_plans(plans, r.compiled)
        # A fresh compiled policy starts with empty memos; judging in reverse order
        # means each plan meets the memo in another state.
        fresh = AttackModel(topo).compile(r.policy)
        alone = [judge(p, fresh) for p in reversed(plans)][::-1]
        assert batch == alone
        assert batch == [judge(p, r.compiled) for p in plans]


@pytest.mark.parametrize(("topology", "folder"), SCENARIOS)
def test_judging_to_the_block_is_whole_judging_cut_at_the_block(topology: str, folder: str):
    topo = load_topology(ROOT / topology)
    a = analyze(topo, [reference_policy(), *_policies(folder)])
    plans, _ = impact_basis(a)
    blocked = 0
    for r in a.results:
        fresh = AttackModel(topo).compile(r.policy)  # memos empty: cut verdicts first
        cut = judge_plans(plans, fresh, whole=False)
        whole = judge_plans(plans, fresh)
        for c, w in zip(cut, whole, strict=True):
            if w.step is None:
                assert c == w
            else:
                blocked += 1
                assert c == w._replace(steps=w.steps[: w.step + 1])
                assert len(c.steps) < len(w.steps) or w.step == len(w.steps) - 1
        rows = rule_impact(fresh, cut, [t.decision for t in r.traffic])
        assert rows == rule_impact(fresh, whole, [t.decision for t in r.traffic])
    assert blocked  # some plan is blocked under some policy


def _ref(d: Decision | None) -> tuple[str, str] | None:
    if d is None or d.reason not in ("rule", "default"):
        return None
    return (d.section, d.rule)


def _naive_rule_impact(
    compiled: CompiledPolicy, verdicts: Sequence[PlanVerdict], traffic: Sequence[Decision]
) -> list[RuleImpact]:
    """Per-rule impact as first written: Counters and ``locate`` for each line."""
    enabled: Counter[tuple[str, str]] = Counter()
    opened: Counter[tuple[str, str]] = Counter()
    blocked: Counter[tuple[str, str]] = Counter()
    for v in verdicts:
        upto = v.step if v.step is not None else len(v.steps)
        refs = {
            r
            for sv in v.steps[:upto]
            if sv.decision is not None and sv.decision.allowed and (r := _ref(sv.decision))
        }
        for r in refs:
            enabled[r] += 1
            if not v.blocked:
                opened[r] += 1
        if v.step is not None:
            d = v.steps[v.step].decision
            r = _ref(d)
            if r is not None and d is not None and not d.allowed:
                blocked[r] += 1
    carried: Counter[tuple[str, str]] = Counter()
    denied: Counter[tuple[str, str]] = Counter()
    for d in traffic:
        r = _ref(d)
        if r is not None:
            (carried if d.allowed else denied)[r] += 1
    pol = compiled.loaded
    rows = []
    for section in ("segmentation", "egress"):
        part = getattr(pol.model, section)
        index = {r.id: i for i, r in enumerate(part.rules)}
        for rule in part.rules:
            line = None
            if pol.doc is not None:
                line = locate(pol.doc, (section, "rules", index[rule.id])).line
            rows.append((section, rule.id, rule.action, line))
        rows.append((section, "default", part.default, None))
    return [
        RuleImpact(
            s,
            rid,
            action,
            line,
            enabled[(s, rid)],
            opened[(s, rid)],
            blocked[(s, rid)],
            carried[(s, rid)],
            denied[(s, rid)],
            None if line is None else pol.path,  # a policy file's rule: in that file
        )
        for s, rid, action, line in rows
    ]


@pytest.mark.parametrize(("topology", "folder"), SCENARIOS)
def test_rule_impact_equals_the_naive_count(topology: str, folder: str):
    a = analyze(load_topology(ROOT / topology), _policies(folder))
    plans, _ = impact_basis(a)
    for r in a.results:
        verdicts = judge_plans(plans, r.compiled)
        traffic = [t.decision for t in r.traffic]
        got = rule_impact(r.compiled, verdicts, traffic)
        assert got == _naive_rule_impact(r.compiled, verdicts, traffic)
        assert any(x.plans_enabled or x.plans_blocked or x.traffic for x in got)
