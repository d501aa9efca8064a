"""check's cheapest plan is paths' first plan, on large estates too (issue #23, points 2, 19).

Above :data:`ztsim.engine.plans.EXHAUSTIVE_HOSTS` hosts no whole attack graph is built:
``check`` reports "at most N" with a proven bound.  It used to take its plan from
the fixpoint's best derivation (or the h_max plan) while ``paths`` listed a
cheaper one from its own solve (S, seed 1, flat: ``≤5 (≥4)`` in check, a 4-step
plan in paths).  Both now come from the same solve and the same first plan; these
tests hold every reachable goal of generated estates (300+ hosts) to it, and a
padded hand-made estate to the brute-force minimum of the reference model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import reference_model as ref
import yaml
from conftest import ROOT

import ztsim.engine.plans
from ztsim.analysis.analyze import Needs, analyze
from ztsim.analysis.judged import Analysis
from ztsim.engine.plans import plans_from_solution
from ztsim.engine.steps import Fact
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import policy_from_text, topology_from_text

sys.path.insert(0, str(ROOT / "benchmarks"))
import generate  # benchmarks/ is not a package
import test_mincost  # its hand-made estates


def _generated(hosts: int, zones: int, rules: int, seed: int) -> Any:
    """The generator's documents for these sizes (deterministic per seed)."""
    params = generate.Params(hosts=hosts, zones=zones, rules=rules, seed=seed, name="custom")
    return generate.generate(params)


def _estate(
    hosts: int, zones: int, rules: int, seed: int
) -> tuple[LoadedTopology, list[LoadedPolicy]]:
    """A generated estate: the topology and its three policies, loaded from YAML text."""
    g = _generated(hosts, zones, rules, seed)
    topo = topology_from_text(generate.to_yaml(g.topology), "topology.yaml")
    pols = [
        policy_from_text(generate.to_yaml(doc), f"{name}.yaml")
        for name, doc in sorted(g.policies.items())
    ]
    return topo, pols


def _consistent(topo: LoadedTopology, pols: list[LoadedPolicy]) -> int:
    """Assert check and paths agree on every reachable goal; return how many there are."""
    assert len(topo.hosts) > ztsim.engine.plans.EXHAUSTIVE_HOSTS  # the large-estate path
    check = analyze(topo, pols, Needs(rule_impact=True))
    paths = analyze(topo, pols, Needs(plan_listing=True))
    n = 0
    for r, rp in zip(check.results, paths.results, strict=True):
        name = r.policy.name
        for g, gp in zip(r.goals, rp.goals, strict=True):
            assert g.reachable == gp.reachable
            if not g.reachable:
                continue
            n += 1
            assert g.plan is not None and g.cost is not None
            assert g.cost == g.plan.cost
            assert g.cost_lower_bound is not None and g.cost_lower_bound <= g.cost
            assert g.cost_exact == (g.cost == g.cost_lower_bound)
            # paths: the policy's own listing starts with check's plan, whatever k ...
            for k in (1, 5):
                assert plans_from_solution(rp.plan_solution, g.goal, k)[0] == g.plan, (name, g)
            # ... and so does the merged listing, among the plans found under it.
            under = [row.plan for row in paths.plans(g.goal, 1) if name in row.found_under]
            assert under[0] == g.plan, (name, g.goal)
            # paths' own goal result (same solve) is check's.
            assert (gp.plan, gp.cost, gp.cost_lower_bound) == (g.plan, g.cost, g.cost_lower_bound)
    return n


@pytest.mark.parametrize(
    ("hosts", "zones", "rules", "seed"),
    [(400, 8, 60, 1), (400, 8, 60, 2), (600, 10, 100, 3), (1_000, 10, 200, 1)],
)
def test_check_and_paths_name_the_same_plan(hosts: int, zones: int, rules: int, seed: int) -> None:
    topo, pols = _estate(hosts, zones, rules, seed)
    assert _consistent(topo, pols) > 0


def test_the_s_benchmark_goal_is_four_steps_exact() -> None:
    """The case of the issue: S, seed 1, flat.  The fixpoint's best derivation
    exfiltrates through a phished workstation (sum of preconditions: 6, the session
    and the data counted twice by the direct exit), the h_max plan takes 5 steps;
    the partner key's plan (enter, login, collect, exfiltrate-direct) takes 4, which
    the relaxed bound proves."""
    topo, pols = _estate(1_000, 10, 200, 1)  # the S workload's sizes
    a = analyze(topo, [p for p in pols if p.name == "flat"], Needs(rule_impact=True))
    g = next(x for x in a.results[0].goals if x.goal == ("exfil", "api-gw-table-00001"))
    assert (g.cost, g.cost_lower_bound, g.cost_text) == (4, 4, "4")
    assert g.plan is not None
    assert [s.kind for s in g.plan.steps] == ["enter", "login", "collect", "exfiltrate-direct"]
    assert g.plan.entry == "leaked-partner-key"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # Wide enough that no table row wraps (piped output wraps at COLUMNS).
    return subprocess.run(
        [sys.executable, "-m", "ztsim", *args],
        cwd=cwd,
        env={**os.environ, "COLUMNS": "1000"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_check_and_paths_agree(tmp_path: Path) -> None:
    """The commands, as CI runs them: check's JSON cost and its table's technique chain
    are those of the first plan paths lists under the policy."""
    g = _generated(1_000, 10, 200, 1)
    generate.write(g, tmp_path)
    topo, pol = "topology.yaml", "policies/flat.yaml"
    checked = _run(["check", topo, "-p", pol, "--format", "json"], tmp_path)
    assert checked.returncode == 1, checked.stderr
    listed = _run(["paths", topo, "-p", pol, "-k", "1", "--format", "json"], tmp_path)
    assert listed.returncode in (0, 1), listed.stderr
    table = _run(["check", topo, "-p", pol], tmp_path).stdout
    firsts: dict[str, dict[str, Any]] = {}
    for goal in json.loads(listed.stdout)["goals"]:
        under = [p for p in goal["plans"] if "flat" in p["found_under"]]
        if under:
            firsts[goal["goal"]] = under[0]
    result = json.loads(checked.stdout)["results"][0]
    rows = [(f"exfiltrate({x['data']})", x) for x in result["exfiltration"]] + [
        (f"tamper({x['data']})", x) for x in result["tampering"]
    ]
    reachable = [(label, x) for label, x in rows if x["reachable"]]
    assert reachable
    for label, x in reachable:
        first = firsts[label]
        assert x["cost"] == first["cost"], label
        assert x["cost_lower_bound"] <= x["cost"]
        # The table names each technique and the host it acts on.
        chain = " > ".join(
            re.escape(s["technique"]) + r" \S+" for s in first["steps"] if s["technique"]
        )
        line = next(ln for ln in table.splitlines() if label in ln)
        assert re.search(chain, line), (label, line)


# ------------------------------------------------------------------ padded estate

FLAT = """\
ztsim: 1
kind: policy
name: flat
segmentation: {default: allow}
egress: {default: allow}
"""


def _padded(text: str, n: int) -> LoadedTopology:
    """The topology with ``n`` alike hosts added (no service, nothing to attack):
    the same attack graph, solved the large-estate way."""
    doc = yaml.safe_load(text)
    zone = doc["hosts"][0]["zone"]
    doc["hosts"] += [{"id": f"pad-{i:04d}", "zone": zone} for i in range(n)]
    return topology_from_text(json.dumps(doc), "padded.json")


@pytest.mark.parametrize(
    ("topology", "policy"),
    [
        (test_mincost.TOPOLOGY, test_mincost.POLICY),
        (test_mincost.TOPOLOGY, FLAT),
        (test_mincost.PRUNED_TOPOLOGY, test_mincost.PRUNED_POLICY),
        (test_mincost.PRUNED_TOPOLOGY, FLAT),
    ],
    ids=["two-exits", "two-exits-flat", "two-ways-in", "two-ways-in-flat"],
)
def test_padded_estate_bounds_the_true_minimum(topology: str, policy: str) -> None:
    """The hand-made estates of tests/test_mincost.py (over-counted shared facts, a
    source the pruned solve leaves out), padded past the exhaustive limit: the bound
    never exceeds the brute-force minimum of the un-padded estate, the cost never
    undercuts it, and an exact cost is it."""
    small = topology_from_text(topology, "topo.yaml")
    pol = policy_from_text(policy, "pol.yaml")
    big = _padded(topology, ztsim.engine.plans.EXHAUSTIVE_HOSTS + 10)
    assert _consistent(big, [pol]) > 0
    a: Analysis = analyze(big, [pol], Needs(rule_impact=True))
    legal = ref.steps(small.model, pol.model)
    for g in a.results[0].reachable_goals:
        goal: Fact = g.goal
        truth = ref.min_cost(legal, goal)
        assert truth is not None and g.cost is not None and g.cost_lower_bound is not None
        assert g.cost_lower_bound <= truth <= g.cost, (goal, g.cost_text, truth)
        if g.cost_exact:
            assert g.cost == truth
