"""Plans (spec §6): extraction, k distinct plans, verdicts, P(detected), merging."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from typing import Any

import pytest
from conftest import ROOT, make_policy, make_topology, solve_under
from hypothesis import given, settings
from hypothesis import strategies as hst
from test_property import EXAMPLES, SETTINGS, Scenario, scenarios

import ztsim.engine.plans as plans_mod
from ztsim.analysis.analyze import analyze
from ztsim.engine import extraction
from ztsim.engine.attack import AttackModel
from ztsim.engine.fixpoint import Solution, goal_facts, solve
from ztsim.engine.plans import Plan, extract_plan, k_plans, merge_plans
from ztsim.engine.steps import Fact, Step
from ztsim.engine.verdicts import judge
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology, reference_policy
from ztsim.inputs.loader import load_policies, load_topology
from ztsim.output.console import dump_json, paths_json, paths_json_text

SHOP = """
ztsim: 1
kind: topology
name: shop
zones: [{id: internet, external: true}, {id: dmz}, {id: lan}]
credentials: [{id: db-pw}, {id: vpn-pw}]
hosts:
  - id: web
    zone: dmz
    labels: {tier: web}
    services: [{service: 443/tcp, public: true}]
    vulnerabilities: [{id: CVE-W, service: 443/tcp}]
    credentials: [{credential: db-pw}]
  - id: vpn
    zone: dmz
    services: [{service: 443/tcp, public: true}]
    logins: [{credential: vpn-pw, service: 443/tcp}]
  - id: db
    zone: lan
    labels: {tier: db}
    services: [{service: 5432/tcp}]
    logins: [{credential: db-pw, service: 5432/tcp, gives: service}]
    data: [{id: rows, requires: service, service: 5432/tcp, integrity: true, records: 1000}]
external:
  - {id: c2, fqdn: c2.evil.example, role: c2}
  - {id: files, fqdn: "*.files.example", role: web-service}
entry_points:
  - {id: attacker, zone: internet}
  - {id: leak, zone: internet, credentials: [vpn-pw]}
"""

# One host, two public vulnerabilities, two ways out: exactly four plans of four steps.
TWO_BY_TWO = """
ztsim: 1
kind: topology
name: two-by-two
zones: [{id: internet, external: true}, {id: dmz}]
hosts:
  - id: web
    zone: dmz
    services: [{service: 443/tcp, public: true}, {service: 8443/tcp, public: true}]
    vulnerabilities: [{id: CVE-A, service: 443/tcp}, {id: CVE-B, service: 8443/tcp}]
    data: [{id: docs}]
external:
  - {id: c2, fqdn: c2.evil.example, role: c2}
  - {id: files, fqdn: "*.files.example", role: web-service}
"""

SNIFF = """
ztsim: 1
kind: topology
name: sniff
zones: [{id: lan}]
credentials: [{id: db-pw}]
hosts:
  - {id: tap, zone: lan}
  - {id: client, zone: lan}
  - id: db
    zone: lan
    services: [{service: 5432/tcp}]
    logins: [{credential: db-pw, service: 5432/tcp, gives: service}]
    data: [{id: rows, requires: service, service: 5432/tcp}]
external: [{id: c2, fqdn: c2.evil.example, role: c2}]
traffic:
  - {from: client, to: db, service: 5432/tcp, credential: db-pw}
entry_points:
  - {id: rooted, host: tap, gives: root}
"""

EXFIL: Fact = ("exfil", "rows")
TAMPER: Fact = ("tamper", "rows")


def reference_plan(topo_text: str, goal: Fact) -> tuple[Plan, LoadedTopology]:
    """The cheapest plan for ``goal`` under the reference policy."""
    t = make_topology(topo_text)
    plan = extract_plan(solve_under(t), goal)
    assert plan is not None
    return plan, t


def verdict_under(plan: Plan, t: LoadedTopology, policy: dict[str, Any]):
    """Judge ``plan`` under a policy dict."""
    return judge(plan, AttackModel(t).compile(make_policy(policy)))


# --------------------------------------------------------------------------- plan checks


def closure(steps: list[Step] | tuple[Step, ...]) -> set[Fact]:
    """Every fact the steps give, applied in any order (facts only grow)."""
    have: set[Fact] = set()
    left = list(steps)
    changed = True
    while changed:
        changed = False
        for st in list(left):
            if all(p in have for p in st.pre):
                have.update(st.post)
                left.remove(st)
                changed = True
    return have


def assert_valid_plan(plan: Plan) -> None:
    """Ordered (each step needs only earlier ones), ends in its goal, nothing droppable."""
    assert plan.steps[0].kind == "enter"
    have: set[Fact] = set()
    for i, st in enumerate(plan.steps):
        missing = [p for p in st.pre if p not in have]
        assert not missing, f"step {i} {st.key} needs {missing}"
        have.update(st.post)
    assert plan.goal in have
    assert plan.goal in plan.steps[-1].post
    for i, st in enumerate(plan.steps):
        rest = plan.steps[:i] + plan.steps[i + 1 :]
        assert plan.goal not in closure(rest), f"step {st.key} could be dropped"
    assert plan.cost == len(plan.steps)
    assert len(plan.key) == plan.cost  # no step twice


def test_extracted_plan_is_the_expected_one():
    """The cheapest plan of SHOP, step by step."""
    plan, _ = reference_plan(SHOP, EXFIL)
    assert [(s.kind, s.source, s.target, s.technique) for s in plan.steps] == [
        ("enter", None, "internet", None),
        ("exploit", "internet", "web", "T1190"),
        ("steal", "web", "db-pw", "T1552"),
        ("login", "web", "db", "T1078"),
        ("collect", "db", "rows", "T1213"),
        ("exfiltrate", "web", "c2", "T1041"),
    ]
    assert plan.cost == 6
    assert plan.entry == "attacker"
    assert plan.techniques == ("T1190", "T1552", "T1078", "T1213", "T1041")
    assert_valid_plan(plan)


def test_extract_plan_of_unreachable_goal_is_none():
    """No derivation, no plan."""
    t = make_topology(SHOP)
    sol = solve_under(t, make_policy({"segmentation": {"default": "deny"}}))
    assert extract_plan(sol, EXFIL) is None


@pytest.mark.parametrize("topo_text", [SHOP, TWO_BY_TWO, SNIFF], ids=["shop", "2x2", "sniff"])
def test_k_plans_valid_distinct_cheapest_first(topo_text: str):
    """Every plan is valid and minimal; plans are distinct and sorted by cost."""
    t = make_topology(topo_text)
    model = AttackModel(t)
    compiled = model.compile(reference_policy())
    for goal in goal_facts(t):
        plans = k_plans(model, compiled, goal, 8)
        assert plans, goal
        for p in plans:
            assert p.goal == goal
            assert_valid_plan(p)
        assert len({p.key for p in plans}) == len(plans)
        assert [p.cost for p in plans] == sorted(p.cost for p in plans)
        assert plans[0].cost == extract_plan(solve(model, compiled), goal).cost  # type: ignore[union-attr]


def test_k_plans_enumerates_every_plan_of_a_small_case():
    """Two exploits times two destinations: four plans of four steps, fixed order."""
    t = make_topology(TWO_BY_TWO)
    model = AttackModel(t)
    plans = k_plans(model, model.compile(reference_policy()), ("exfil", "docs"), 10)
    assert [(p.cost, p.steps[1].key[-1], p.steps[-1].target) for p in plans] == [
        (4, "CVE-A", "c2"),
        (4, "CVE-A", "files"),
        (4, "CVE-B", "c2"),
        (4, "CVE-B", "files"),
    ]
    assert k_plans(model, model.compile(reference_policy()), ("exfil", "docs"), 0) == []


def test_k_plans_deterministic():
    """Same input, same plans in the same order (two fresh runs)."""

    def run() -> list[tuple[str, ...]]:
        t = make_topology(SHOP)
        model = AttackModel(t)
        c = model.compile(reference_policy())
        return [tuple(p.ident for p in k_plans(model, c, g, 6)) for g in goal_facts(t)]

    assert run() == run()


def test_k_plans_on_pajemploi_valid():
    """The shipped scenario's plans are valid and minimal under every policy."""
    t = load_topology(ROOT / "topologies" / "pajemploi.yaml")
    a = analyze(t, None)
    for goal in a.goals:
        rows = a.plans(goal, 4)
        assert rows
        for row in rows:
            assert_valid_plan(row.plan)


def test_banned_solve_still_finds_a_plan_avoiding_the_bans():
    """Banning two steps leaves a plan: leak -> vpn -> exploit web -> steal -> login web->db."""
    t = make_topology(SHOP)
    model = AttackModel(t)
    c = model.compile(reference_policy())
    banned = {
        ("exploit", "internet", "web", "443/tcp", "CVE-W"),
        ("login", "vpn", "db", "5432/tcp", "db-pw", "service"),
    }
    exhaustive = solve(model, c, banned=banned, exhaustive=True)
    assert exhaustive.reachable(TAMPER)  # the plan exists
    assert solve(model, c, banned=banned).reachable(TAMPER)


def test_k_plans_finds_every_minimal_plan_of_shop():
    """All six minimal tampering plans of SHOP (enumerated by hand), and no other."""
    t = make_topology(SHOP)
    model = AttackModel(t)
    plans = k_plans(model, model.compile(reference_policy()), TAMPER, 20)
    web = ("exploit", "internet", "web", "443/tcp", "CVE-W")
    web_from_vpn = ("exploit", "vpn", "web", "443/tcp", "CVE-W")
    vpn = ("login", "internet", "vpn", "443/tcp", "vpn-pw", "user")
    vpn_from_web = ("login", "web", "vpn", "443/tcp", "vpn-pw", "user")
    db_from_web = ("login", "web", "db", "5432/tcp", "db-pw", "service")
    db_from_vpn = ("login", "vpn", "db", "5432/tcp", "db-pw", "service")
    tail = {("steal", "web", "db-pw"), ("collect", "rows", "session", "*"), ("tamper", "rows")}
    expected = [
        {("enter", "attacker"), web, db_from_web},
        {("enter", "leak"), web, db_from_web},
        {("enter", "leak"), web, vpn, db_from_vpn},
        {("enter", "leak"), web, vpn_from_web, db_from_vpn},
        {("enter", "leak"), vpn, web_from_vpn, db_from_vpn},
        {("enter", "leak"), vpn, web_from_vpn, db_from_web},
    ]
    assert len(plans) == len(expected)
    assert {p.key for p in plans} == {frozenset(e | tail) for e in expected}
    assert [p.cost for p in plans] == [6, 6, 7, 7, 7, 7]


# --------------------------------------------------------------------------- verdicts


def test_open_plan_under_reference():
    """Nothing is forbidden by the reference policy: open, P(detected) 0."""
    plan, t = reference_plan(SHOP, EXFIL)
    v = judge(plan, AttackModel(t).compile(reference_policy()))
    assert (v.blocked, v.step, v.blocked_by, v.p_detected) == (False, None, None, 0.0)
    assert all(sv.allowed for sv in v.steps)
    assert len(v.steps) == plan.cost


def test_blocked_by_rule_id_at_first_forbidden_step():
    """A deny rule on the login flow blocks at step 4 (index 3) and is named."""
    plan, t = reference_plan(SHOP, EXFIL)
    pol = {
        "segmentation": {
            "rules": [{"id": "no-db", "action": "deny", "to": {"labels": {"tier": "db"}}}]
        },
        "egress": {"default": "deny"},  # also forbids the last step: the first one counts
    }
    v = verdict_under(plan, t, pol)
    assert (v.blocked, v.step, v.blocked_by) == (True, 3, "no-db")
    assert "no-db" in v.explanation and "step 4" in v.explanation
    assert v.p_detected is None
    assert not v.steps[5].allowed and v.steps[5].blocked_by == "default"


def test_blocked_by_segmentation_default():
    """A flow no rule matches under ``default: deny`` is blocked by ``default``."""
    plan, t = reference_plan(SHOP, EXFIL)
    pol = {"segmentation": {"default": "deny"}}
    v = verdict_under(plan, t, pol)
    assert (v.step, v.blocked_by) == (1, "default")
    assert v.steps[1].decision is not None and v.steps[1].decision.reason == "default"


def test_blocked_by_egress_rule():
    """An egress deny rule blocks the exfiltration step."""
    plan, t = reference_plan(SHOP, EXFIL)
    pol = {"egress": {"rules": [{"id": "no-c2", "action": "deny", "to": ["*.evil.example"]}]}}
    v = verdict_under(plan, t, pol)
    assert (v.step, v.blocked_by) == (5, "no-c2")
    assert v.steps[5].decision is not None and v.steps[5].decision.section == "egress"


def test_blocked_by_mfa():
    """A login with a credential under MFA is blocked by ``mfa``."""
    plan, t = reference_plan(SHOP, EXFIL)
    v = verdict_under(plan, t, {"controls": {"mfa": ["db-pw"]}})
    assert (v.step, v.blocked_by) == (3, "mfa")


def test_blocked_by_mfa_on_a_leaked_credential():
    """MFA also blocks a plan that logs in with a credential its entry leaked."""
    t = make_topology(SHOP)
    model = AttackModel(t)
    plans = k_plans(model, model.compile(reference_policy()), TAMPER, 5)
    vpn_plans = [p for p in plans if p.entry == "leak" and p.steps[1].kind == "login"]
    assert vpn_plans
    v = judge(vpn_plans[0], model.compile(make_policy({"controls": {"mfa": ["vpn-pw"]}})))
    assert (v.step, v.blocked_by) == (1, "mfa")


def test_sniff_blocked_by_encrypt_in_transit():
    """A sniff step under ``encrypt_in_transit`` is blocked by it."""
    plan, t = reference_plan(SNIFF, EXFIL)
    assert [s.kind for s in plan.steps][:2] == ["enter", "sniff"]
    v = verdict_under(plan, t, {"controls": {"encrypt_in_transit": True}})
    assert (v.step, v.blocked_by) == (1, "encrypt_in_transit")


def test_sniff_blocked_when_its_traffic_is_denied():
    """A sniff step whose traffic the policy denies is blocked by that rule."""
    plan, t = reference_plan(SNIFF, EXFIL)
    pol = {
        "segmentation": {
            "rules": [
                {"id": "tap-ok", "action": "allow", "from": {"host": "tap"}},
                {"id": "no-client", "action": "deny", "from": {"host": "client"}},
            ]
        }
    }
    v = verdict_under(plan, t, pol)
    assert (v.step, v.blocked_by) == (1, "no-client")


# --------------------------------------------------------------------------- P(detected)


def _p(detection: list[dict[str, Any]]) -> float | None:
    plan, t = reference_plan(SHOP, TAMPER)
    # plan: enter, exploit(T1190 web), steal(T1552 web), login(T1078 db),
    #       collect(T1213 db), tamper(T1565.001 db)
    return verdict_under(plan, t, {"controls": {"detection": detection}}).p_detected


def test_p_detected_formula():
    """1 - Π(1 - p) over the matching entries."""
    p = _p(
        [
            {"id": "waf", "techniques": ["T1190"], "probability": 0.5},
            {"id": "ueba", "techniques": ["T1078"], "probability": 0.2},
            {"id": "unused", "techniques": ["T1041"], "probability": 0.9},
        ]
    )
    assert p == pytest.approx(1 - 0.5 * 0.8)


def test_p_detected_counts_each_entry_once():
    """An entry matching several steps counts once."""
    p = _p([{"id": "all", "techniques": ["T1190", "T1552", "T1213"], "probability": 0.5}])
    assert p == pytest.approx(0.5)


def test_p_detected_parent_technique_sees_sub_technique():
    """A detection of T1565 sees T1565.001 (and not the other way round)."""
    assert _p([{"id": "fim", "techniques": ["T1565"], "probability": 0.3}]) == pytest.approx(0.3)
    assert _p([{"id": "x", "techniques": ["T1565.002"], "probability": 0.3}]) == 0.0
    assert _p([{"id": "y", "techniques": ["T1552.001"], "probability": 0.3}]) == 0.0


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"zone": "lan"}, 0.4),  # login, collect, tamper happen on db
        ({"zone": "dmz"}, 0.0),
        ({"host": "db"}, 0.4),
        ({"host": ["web", "vpn"]}, 0.0),
        ({"labels": {"tier": "db"}}, 0.4),
        ({"labels": {"tier": "web"}}, 0.0),
        ("any", 0.4),
    ],
)
def test_p_detected_where_selector(where: Any, expected: float):
    """``where`` must match the host the step happens on."""
    det = [{"id": "db-audit", "techniques": ["T1213"], "where": where, "probability": 0.4}]
    assert _p(det) == pytest.approx(expected)


def test_p_detected_where_matches_the_step_host():
    """T1190 happens on the exploited host (web, in dmz), not on the source."""
    det = [{"id": "waf", "techniques": ["T1190"], "where": {"zone": "dmz"}, "probability": 0.6}]
    assert _p(det) == pytest.approx(0.6)
    det[0]["where"] = {"zone": "internet"}
    assert _p(det) == 0.0


# --------------------------------------------------------------------------- merging


def _policy(name: str, body: dict[str, Any]) -> LoadedPolicy:
    return make_policy({"name": name, **body})


def test_analysis_plans_merge_reference_and_policies_without_duplicates():
    """Plans found under several policies appear once, with every finder named."""
    t = make_topology(TWO_BY_TWO)
    flat = _policy("flat", {})
    a = analyze(t, [flat])
    rows = a.plans(("exfil", "docs"), 10)
    assert len(rows) == 4
    assert len({r.plan.key for r in rows}) == 4
    assert all(r.found_under == ("flat", "reference") for r in rows)
    assert all(len(r.verdicts) == 1 and not r.verdicts[0].blocked for r in rows)
    assert [r.plan.sort_key for r in rows] == sorted(r.plan.sort_key for r in rows)


def test_analysis_plans_keep_each_policys_cheapest_plan():
    """With k=1, the reference's plan and the policy's own cheapest plan are both kept."""
    t = make_topology(TWO_BY_TWO)
    no_c2 = _policy(
        "no-c2", {"egress": {"rules": [{"id": "c2", "action": "deny", "to": ["c2.evil.example"]}]}}
    )
    a = analyze(t, [no_c2])
    rows = a.plans(("exfil", "docs"), 1)
    assert [(r.plan.steps[-1].target, r.found_under) for r in rows] == [
        ("c2", ("reference",)),
        ("files", ("no-c2",)),
    ]
    c2_row, files_row = rows
    v = c2_row.verdict("no-c2")
    assert v is not None and (v.blocked, v.blocked_by, v.step) == (True, "c2", 3)
    v = files_row.verdict("no-c2")
    assert v is not None and not v.blocked


def test_merge_plans_deduplicates_and_sorts():
    """merge_plans keeps one plan per step set, cheapest first."""
    t = make_topology(TWO_BY_TWO)
    model = AttackModel(t)
    plans = k_plans(model, model.compile(reference_policy()), ("exfil", "docs"), 4)
    merged = merge_plans([list(reversed(plans)), plans[:2], plans])
    assert [p.key for p in merged] == [p.key for p in plans]


# --------------------------------------------------------------------------- fast paths


def _naive_schedule(steps: list[Step], goal: Fact) -> list[Step] | None:
    """The greedy order of spec §6 as first written: rescan from the start each time."""
    have: set[Fact] = set()
    remaining = list(steps)
    ordered: list[Step] = []
    progress = True
    while remaining and progress:
        progress = False
        for i, st in enumerate(remaining):
            if all(p in have for p in st.pre):
                ordered.append(st)
                have.update(st.post)
                del remaining[i]
                progress = True
                break
    if remaining or goal not in have:
        return None
    return ordered


def _naive_minimize(steps: list[Step], goal: Fact) -> list[Step]:
    """Greedy minimisation trying every step, last first, with the naive schedule."""
    current = _naive_schedule(steps, goal)
    assert current is not None
    i = len(current) - 1
    while i >= 0:
        ordered = _naive_schedule(current[:i] + current[i + 1 :], goal)
        if ordered is not None:
            current = ordered
        i -= 1
    return current


def _random_steps(rng: random.Random, n_facts: int, n_steps: int) -> list[Step]:
    facts = [("f", str(i)) for i in range(n_facts)]
    out = []
    for j in range(n_steps):
        pre = tuple(rng.sample(facts, min(n_facts, rng.choice([0, 0, 1, 1, 2, 3]))))
        post = tuple(rng.sample(facts, min(n_facts, rng.choice([1, 1, 2]))))
        out.append(Step(("s", str(j)), "exploit", None, None, None, None, "", pre, post))
    return out


def test_schedule_and_minimize_match_the_naive_greedy():
    """The one-pass schedule and the pruned minimisation give the very same steps."""
    rng = random.Random(7)
    checked = 0
    for _ in range(3000):
        steps = _random_steps(rng, rng.randint(2, 8), rng.randint(1, 9))
        goal: Fact = ("f", str(rng.randint(0, 7)))
        expected = _naive_schedule(steps, goal)
        assert extraction._schedule(steps, goal) == expected
        if expected is not None:
            assert plans_mod.minimize(steps, goal) == _naive_minimize(steps, goal)
            checked += 1
    assert checked > 300


def _naive_derivations(sol: Solution) -> dict[Fact, list[Step]]:
    cost = sol.cost
    out: dict[Fact, list[tuple[int, tuple[str, ...], Step]]] = {}
    for key, st in sol.fired.items():
        if all(p in cost for p in st.pre):
            c = 1 + sum(cost[p] for p in st.pre)
            for f in st.post:
                if f in cost:
                    out.setdefault(f, []).append((c, key, st))
    return {f: [st for _, _, st in sorted(lst)] for f, lst in out.items()}


@pytest.mark.parametrize("exhaustive", [True, False])
def test_lazy_derivations_equal_the_solution_s(exhaustive: bool):
    """Derivations (sorted per fact when read) holds the lists sol.derivations() has."""
    t = load_topology(str(ROOT / "topologies" / "pajemploi.yaml"))
    model = AttackModel(t)
    pol = model.compile(reference_policy())
    sol = solve(model, pol, exhaustive=True) if exhaustive else solve(model, pol, alternatives=3)
    lazy = plans_mod.Derivations(sol)
    assert list(lazy) == list(sol.derivations())
    assert dict(lazy) == sol.derivations() == _naive_derivations(sol)
    assert lazy.get(("no", "such fact")) is None


def test_plan_listing_is_remembered_and_unchanged():
    """Asking for a goal's plans again gives equal rows (from the memo)."""
    t = load_topology(str(ROOT / "topologies" / "pajemploi.yaml"))
    a = analyze(
        t, [_policy("flat", {}), _policy("mfa", {"controls": {"mfa": ["staff-vpn-password"]}})]
    )
    for g in goal_facts(t):
        assert a.plans(g, 3) == a.plans(g, 3)


def test_equivalent_policies_share_plans_without_changing_them():
    """Listing from a twin's solve (and a reference without its own fixpoint) changes nothing."""
    t = load_topology(str(ROOT / "topologies" / "pajemploi.yaml"))
    flat = _policy(
        "flat",
        {"controls": {"detection": [{"id": "edr", "techniques": ["T1190"], "probability": 0.5}]}},
    )
    assert plans_mod.same_fixpoint(flat, reference_policy())
    assert not plans_mod.same_fixpoint(
        _policy("mfa", {"controls": {"mfa": ["staff-vpn-password"]}}), reference_policy()
    )
    deny = _policy("deny", {"segmentation": {"default": "deny"}})
    mfa = _policy("mfa", {"controls": {"mfa": ["staff-vpn-password"]}})
    for pols in ([flat, deny], [deny, mfa], [mfa, flat]):
        shared = analyze(t, pols)
        apart = analyze(t, pols)
        assert apart.reference.policy.name == "reference"  # computed first: its own solve
        for g in goal_facts(t):
            assert shared.plans(g, 4) == apart.plans(g, 4)


def test_paths_json_text_is_dump_json_of_paths_json():
    """The fast JSON writer gives the bytes json.dumps gives."""
    t = load_topology(str(ROOT / "topologies" / "pajemploi.yaml"))
    a = analyze(t, load_policies([str(ROOT / "policies")]))
    rows = {g: a.plans(g, 3) for g in a.goals}
    assert paths_json_text(a, rows) == dump_json(paths_json(a, rows))


# --------------------------------------------------------------------------- prefix-stable listings


def _fresh_listings(
    topo: LoadedTopology, loaded: LoadedPolicy, ks: tuple[int, ...]
) -> dict[int, dict[Fact, list[Plan]]]:
    """Plans per goal for each k, each from a solve of its own (no memo shared)."""
    model = AttackModel(topo)
    out: dict[int, dict[Fact, list[Plan]]] = {}
    for k in ks:
        sol = plans_mod.plan_solve(model, model.compile(loaded))
        out[k] = {g: plans_mod.plans_from_solution(sol, g, k) for g in goal_facts(topo)}
    return out


@settings(SETTINGS, max_examples=min(EXAMPLES, 80))
@given(sc=scenarios(), exhaustive=hst.booleans())
def test_plan_listing_is_prefix_stable(sc: Scenario, exhaustive: bool) -> None:
    """The first plans of k are the plans of any smaller k (issue #23 pt 19), on random
    estates, exhaustive solves and solves with a few alternatives per target alike."""
    topo, pol = sc.load()
    saved = plans_mod.EXHAUSTIVE_HOSTS
    plans_mod.EXHAUSTIVE_HOSTS = saved if exhaustive else 0
    try:
        for loaded in (pol, reference_policy()):
            ks = (1, 3, 5, plans_mod.PLAN_CHUNK + 3)
            got = _fresh_listings(topo, loaded, ks)
            for goal, longest in got[ks[-1]].items():
                for k in ks[:-1]:
                    assert got[k][goal] == longest[:k], (loaded.name, goal, k)
                if longest and exhaustive:
                    # The first plan is the exact cheapest, as check reports it.
                    a = analyze(topo, [loaded])
                    g = next(r for r in a.results[0].goals if r.goal == goal)
                    assert g.cost_exact and longest[0].cost == g.cost
    finally:
        plans_mod.EXHAUSTIVE_HOSTS = saved


@pytest.mark.parametrize(
    ("topology", "policies"),
    [
        ("pajemploi.yaml", "policies"),
        ("corporate.yaml", "policies/corporate"),
        ("k8s-shop.yaml", "policies/k8s-shop"),
    ],
)
def test_paths_k1_names_the_first_plan_of_k5(topology: str, policies: str) -> None:
    """``ztsim paths -k 1`` and ``-k 5``: the same first plan per goal, and every plan
    of the shorter listing in the longer one."""

    def listing(k: int) -> dict[str, list[str]]:
        args = ["paths", f"topologies/{topology}", "-p", policies, "-k", str(k)]
        run = subprocess.run(
            [sys.executable, "-m", "ztsim", *args, "--format", "json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode in (0, 1), run.stderr
        doc = json.loads(run.stdout)
        return {g["goal"]: [p["id"] for p in g["plans"]] for g in doc["goals"]}

    one, five = listing(1), listing(5)
    assert one.keys() == five.keys()
    for goal, ids in one.items():
        assert ids[:1] == five[goal][:1], goal
        assert set(ids) <= set(five[goal]), goal
