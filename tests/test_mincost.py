"""Exact attack costs (issue #23, point 2): the fewest steps, or an honest bound.

The hand-made estate below is the classic over-count of a sum-of-preconditions
cost: the data is reached through web -> app -> db, and the cheapest exit
*standing alone* is the kiosk (2 steps from the internet), so the best
derivation exfiltrates through the kiosk (7 distinct steps), while exfiltrating
from app, already held on the way to the data, takes 6.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

import ztsim.engine.ilp
import ztsim.engine.mincost
import ztsim.engine.plans
from ztsim.analysis.analyze import analyze
from ztsim.engine.attack import AttackModel
from ztsim.engine.fixpoint import Solution, goal_facts, solve
from ztsim.engine.mincost import cheapest, hmax, relaxed_lower_bounds
from ztsim.engine.plans import extract_plan, goal_costs, plans_from_solution
from ztsim.engine.steps import Fact, Step
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology, reference_policy
from ztsim.inputs.loader import policy_from_text, topology_from_text
from ztsim.output.checkjson import check_json_text
from ztsim.testing import assert_min_attack_cost

TOPOLOGY = """\
ztsim: 1
kind: topology
name: shared-foothold
zones:
  - {id: internet, external: true}
  - {id: dmz}
  - {id: apps}
  - {id: data}
hosts:
  - id: web
    zone: dmz
    services: [{service: 443/tcp, public: true}]
    vulnerabilities: [{id: CVE-WEB, service: 443/tcp, gives: user}]
  - id: kiosk
    zone: dmz
    services: [{service: 443/tcp, public: true}]
    vulnerabilities: [{id: CVE-KIOSK, service: 443/tcp, gives: user}]
  - id: app
    zone: apps
    services: [{service: 8080/tcp}]
    vulnerabilities: [{id: CVE-APP, service: 8080/tcp, gives: user}]
  - id: db
    zone: data
    services: [{service: 5432/tcp}]
    vulnerabilities: [{id: CVE-DB, service: 5432/tcp, gives: user}]
    data: [{id: ledger, classification: pii, records: 10}]
external:
  - {id: c2, fqdn: c2.attacker.example, role: c2}
"""

POLICY = """\
ztsim: 1
kind: policy
name: two-exits
segmentation:
  default: deny
  rules:
    - {id: web-in, action: allow, from: {zone: internet}, to: {host: web}, services: [443/tcp]}
    - {id: kiosk-in, action: allow, from: {zone: internet}, to: {host: kiosk}, services: [443/tcp]}
    - {id: web-app, action: allow, from: {host: web}, to: {host: app}, services: [8080/tcp]}
    - {id: app-db, action: allow, from: {host: app}, to: {host: db}, services: [5432/tcp]}
egress:
  default: deny
  rules:
    - {id: kiosk-out, action: allow, from: {host: kiosk}, to: [c2.attacker.example]}
    - {id: app-out, action: allow, from: {host: app}, to: [c2.attacker.example]}
"""

GOAL: Fact = ("exfil", "ledger")


def _scenario() -> tuple[LoadedTopology, LoadedPolicy]:
    return topology_from_text(TOPOLOGY, "topo.yaml"), policy_from_text(POLICY, "pol.yaml")


@pytest.fixture
def large_estate() -> Iterator[None]:
    """Treat every estate as too large for an exhaustive solve (as on 1,000+ hosts)."""
    saved = ztsim.engine.plans.EXHAUSTIVE_HOSTS
    ztsim.engine.plans.EXHAUSTIVE_HOSTS = 0
    try:
        yield
    finally:
        ztsim.engine.plans.EXHAUSTIVE_HOSTS = saved


def test_extraction_over_counts_shared_preconditions() -> None:
    """The old answer: the best derivation's plan costs 7 (the case is still one)."""
    topo, pol = _scenario()
    model = AttackModel(topo)
    sol = solve(model, model.compile(pol), exhaustive=True)
    plan = extract_plan(sol, GOAL)
    assert plan is not None and plan.cost == 7
    assert ("exfiltrate", "ledger", "kiosk", "c2", "443/tcp") in plan.key


def test_cheapest_finds_the_six_step_plan_and_proves_it() -> None:
    topo, pol = _scenario()
    model = AttackModel(topo)
    sol = solve(model, model.compile(pol), exhaustive=True)
    found = cheapest(sol, GOAL)
    assert found is not None
    assert found.exact and found.plan.cost == found.lower == 6
    assert [s.key for s in found.plan.steps] == [
        ("enter", "from-internet"),
        ("exploit", "internet", "web", "443/tcp", "CVE-WEB"),
        ("exploit", "web", "app", "8080/tcp", "CVE-APP"),
        ("exploit", "app", "db", "5432/tcp", "CVE-DB"),
        ("collect", "ledger", "exec"),
        ("exfiltrate", "ledger", "app", "c2", "443/tcp"),
    ]
    # h_max alone cannot tell: the longest chain is 6 steps, the derivation 7.
    assert ztsim.engine.mincost._graph(sol).hmax[GOAL] == 6


def test_check_reports_the_exact_cost_and_plan() -> None:
    topo, pol = _scenario()
    a = analyze(topo, [pol])
    g = a.results[0].goals[0]
    assert (g.cost, g.cost_exact, g.cost_lower_bound) == (6, True, 6)
    assert g.plan is not None and g.plan.cost == 6
    row = json.loads(check_json_text(a))["results"][0]["exfiltration"][0]
    assert (row["cost"], row["cost_exact"], row["cost_lower_bound"]) == (6, True, 6)
    # Plans listed under the policy start with the same cheapest plan, whatever k;
    # the merged listing (the reference's plans first: 5 steps, blocked) too.
    r = a.results[0]
    for k in (1, 5):
        assert plans_from_solution(r.plan_solution, GOAL, k)[0].key == g.plan.key
    assert a.plans(GOAL, 1)[0].plan == a.plans(GOAL, 5)[0].plan


def test_min_attack_cost_sees_the_six_step_plan() -> None:
    """With the old cost (7), `steps: 7` passed while a 6-step attack existed."""
    topo, pol = _scenario()
    with pytest.raises(AssertionError, match="a plan of 6 steps is open under two-exits"):
        assert_min_attack_cost(topo, pol, steps=7, plans=1)
    assert assert_min_attack_cost(topo, pol, steps=6, plans=1)


def test_large_estate_names_the_plan_paths_lists_first(large_estate: None) -> None:
    """Without the whole graph, the extracted plan (7) over-counts; the first chunk
    of plans listed (which ``paths`` shows) holds the 6-step one, which the relaxed
    bound (6) proves: check names it, exact, and it is paths' first plan."""
    topo, pol = _scenario()
    a = analyze(topo, [pol])
    g = a.results[0].goals[0]
    assert (g.cost, g.cost_exact, g.cost_text) == (6, True, "6")
    assert g.plan is not None
    assert plans_from_solution(a.results[0].plan_solution, GOAL, 1)[0] == g.plan
    # paths -k 1: the reference's 5-step plan (blocked) first, then the policy's.
    rows = [row for row in a.plans(GOAL, 1) if pol.name in row.found_under]
    assert rows[0].plan == g.plan
    row = json.loads(check_json_text(a))["results"][0]["exfiltration"][0]
    assert (row["cost"], row["cost_exact"], row["cost_lower_bound"]) == (6, True, 6)
    with pytest.raises(AssertionError, match="a plan of 6 steps is open"):
        assert_min_attack_cost(topo, pol, steps=7, plans=1)
    assert assert_min_attack_cost(topo, pol, steps=6, plans=1)


def test_relaxed_bound_holds_from_a_pruned_solve() -> None:
    topo, pol = _scenario()
    model = AttackModel(topo)
    for loaded in (pol, reference_policy()):
        compiled = model.compile(loaded)
        pruned, full = solve(model, compiled), solve(model, compiled, exhaustive=True)
        bounds = relaxed_lower_bounds(pruned, goal_facts(topo))
        for goal, bound in bounds.items():
            found = cheapest(full, goal)
            assert found is not None and found.exact
            assert bound <= found.plan.cost


def _without_greedy(monkeypatch: pytest.MonkeyPatch, sol: Solution) -> None:
    """Make the h_max greedy try return the extracted plan (so the search must work)."""
    monkeypatch.setattr(
        ztsim.engine.mincost, "_hmax_plan", lambda _g, goal: extract_plan(sol, goal)
    )


def test_the_integer_program_finds_the_six_step_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    topo, pol = _scenario()
    model = AttackModel(topo)
    sol = solve(model, model.compile(pol), exhaustive=True)
    _without_greedy(monkeypatch, sol)
    found = cheapest(sol, GOAL)
    assert found is not None
    assert (found.plan.cost, found.lower, found.exact) == (6, 6, True)


def test_search_budget_gives_an_honest_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """No search allowed: the extracted plan is kept, with h_max as the bound."""
    monkeypatch.setattr(ztsim.engine.mincost, "MAX_ILP_STEPS", 0)
    topo, pol = _scenario()
    model = AttackModel(topo)
    sol = solve(model, model.compile(pol), exhaustive=True)
    _without_greedy(monkeypatch, sol)
    found = cheapest(sol, GOAL)
    assert found is not None
    assert (found.plan.cost, found.lower, found.exact) == (7, 6, False)


def test_node_budget_gives_the_solver_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A search stopped by its node budget still answers a valid plan and bound."""
    monkeypatch.setattr(ztsim.engine.ilp, "MAX_ILP_NODES", 0)
    topo, pol = _scenario()
    model = AttackModel(topo)
    sol = solve(model, model.compile(pol), exhaustive=True)
    _without_greedy(monkeypatch, sol)
    found = cheapest(sol, GOAL)
    assert found is not None
    assert 6 <= found.plan.cost <= 7 and found.lower <= 6


def test_goal_costs_keeps_the_extracted_plan_when_its_bound_is_tight() -> None:
    topo, _ = _scenario()
    model = AttackModel(topo)
    sol = solve(model, model.compile(reference_policy()))
    costs = goal_costs(sol, [GOAL], exhaustive=False)
    assert costs[GOAL].exact and costs[GOAL].plan == extract_plan(sol, GOAL)


def _step(key: str, pre: tuple[Fact, ...], post: tuple[Fact, ...]) -> Step:
    return Step((key,), "x", None, None, None, None, "", pre, post)


def test_hmax_is_the_longest_chain_minimised() -> None:
    a, b, c, d = ("a",), ("b",), ("c",), ("d",)
    steps = [
        _step("s1", (), (a,)),
        _step("s2", (a,), (b,)),
        _step("s3", (a, b), (c,)),  # 1 + max(1, 2)
        _step("s4", (), (d,)),
        _step("s5", (d,), (c,)),  # a shorter way to c
    ]
    assert hmax((s.pre, s.post) for s in steps) == {a: 1, b: 2, c: 2, d: 1}
    assert hmax((s.pre, s.post) for s in steps[:3]) == {a: 1, b: 2, c: 3}


def test_json_output_carries_no_solver_banner(tmp_path: Path) -> None:
    """HiGHS prints a banner when created: ``--format json`` must stay one object."""
    (tmp_path / "topo.yaml").write_text(TOPOLOGY)
    (tmp_path / "pol.yaml").write_text(POLICY)
    run = subprocess.run(
        [sys.executable, "-m", "ztsim", "check", "topo.yaml", "-p", "pol.yaml", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode == 1, run.stderr
    doc = json.loads(run.stdout)
    assert doc["results"][0]["exfiltration"][0]["cost"] == 6


def test_plans_listing_starts_with_the_exact_plan() -> None:
    topo, pol = _scenario()
    model = AttackModel(topo)
    sol = solve(model, model.compile(pol), exhaustive=True)
    first = plans_from_solution(sol, GOAL, 1)[0]
    assert first.cost == 6
    assert plans_from_solution(sol, GOAL, 5)[0] == first


PRUNED_TOPOLOGY = """\
ztsim: 1
kind: topology
name: pruned-source
zones:
  - {id: internet, external: true}
  - {id: dmz}
  - {id: lan}
  - {id: core}
credentials:
  - {id: b-key}
hosts:
  - id: x
    zone: dmz
    services: [{service: 443/tcp, public: true}]
    vulnerabilities: [{id: CVE-X, service: 443/tcp, gives: user}]
    credentials: [{credential: b-key, requires: user}]
  - id: b
    zone: lan
    services: [{service: 22/tcp}]
    logins: [{credential: b-key, service: 22/tcp, gives: user}]
  - id: p
    zone: dmz
    services: [{service: 443/tcp, public: true}]
    vulnerabilities: [{id: CVE-P, service: 443/tcp, gives: user}]
  - id: q
    zone: lan
    services: [{service: 8080/tcp}]
    vulnerabilities: [{id: CVE-Q, service: 8080/tcp, gives: user}]
  - id: r
    zone: lan
    services: [{service: 8081/tcp}]
    vulnerabilities: [{id: CVE-R, service: 8081/tcp, gives: user}]
  - id: a
    zone: lan
    services: [{service: 8082/tcp}]
    vulnerabilities: [{id: CVE-A, service: 8082/tcp, gives: user}]
  - id: t
    zone: core
    services: [{service: 5432/tcp}]
    vulnerabilities: [{id: CVE-T, service: 5432/tcp, gives: user}]
    data: [{id: vault, classification: pii, records: 5}]
external:
  - {id: c2, fqdn: c2.attacker.example, role: c2}
"""

PRUNED_POLICY = """\
ztsim: 1
kind: policy
name: two-ways-in
segmentation:
  default: deny
  rules:
    - {id: x-in, action: allow, from: {zone: internet}, to: {host: x}}
    - {id: p-in, action: allow, from: {zone: internet}, to: {host: p}}
    - {id: x-b, action: allow, from: {host: x}, to: {host: b}}
    - {id: p-q, action: allow, from: {host: p}, to: {host: q}}
    - {id: q-r, action: allow, from: {host: q}, to: {host: r}}
    - {id: r-a, action: allow, from: {host: r}, to: {host: a}}
    - {id: a-t, action: allow, from: {host: a}, to: {host: t}}
    - {id: b-t, action: allow, from: {host: b}, to: {host: t}}
egress:
  default: deny
  rules:
    - {id: t-out, action: allow, from: {host: t}, to: [c2.attacker.example]}
"""


def test_relaxed_bound_frees_the_source_of_a_pruned_step(large_estate: None) -> None:
    """t is reached from a (5 steps: p, q, r, a) and from b (4: x, steal, login from
    x).  By sum of preconditions b costs 6 (x counted twice), so the pruned solve
    fires the exploit of t from a only: its own h_max (8) is above the true
    minimum (7, through b).  The relaxed bound must not be."""
    topo = topology_from_text(PRUNED_TOPOLOGY, "topo.yaml")
    pol = policy_from_text(PRUNED_POLICY, "pol.yaml")
    model = AttackModel(topo)
    compiled = model.compile(pol)
    pruned, full = solve(model, compiled), solve(model, compiled, exhaustive=True)
    goal: Fact = ("exfil", "vault")
    fired = [(s.pre, s.post) for s in pruned.fired.values()]
    assert hmax(fired)[goal] == 8
    exact = cheapest(full, goal)
    assert exact is not None and exact.exact and exact.plan.cost == 7
    assert relaxed_lower_bounds(pruned, [goal]) == {goal: 7}
    # Without the whole graph: the plan found (8) and the proven bound (7).
    g = analyze(topo, [pol]).results[0].goals[0]
    assert (g.cost, g.cost_lower_bound, g.cost_text) == (8, 7, "≤8 (≥7)")


def test_goal_plans_come_from_the_plan_solve() -> None:
    """On small estates every policy's goal plans come from its plan solve (the
    whole graph), made once and kept: paths lists from it, and its first plan is
    the one check names (the reference's too)."""
    topo, pol = _scenario()
    a = analyze(topo, [reference_policy(), pol])
    for r in a.results:
        made = r.__dict__.get("plan_solution")
        assert made is not None and made is not r.solution
        assert r.plan_solution is made
        for g in r.reachable_goals:
            assert plans_from_solution(made, g.goal, 5)[0] == g.plan
