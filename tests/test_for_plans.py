"""``analyze(..., Needs(plan_listing=True))``: one solve per policy, the same verdicts and plans.

``paths`` solves each policy once, for plan listing, and uses that solve for the
verdicts too.  That is sound because every solve finds the same goals reachable;
these tests hold it to that on random topologies, with the plan solve exhaustive
(small topologies) and with a few alternatives per target (large ones).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_property import SETTINGS, _dump, policies, topologies

import ztsim.engine.plans
from ztsim.analysis.analyze import Needs, analyze
from ztsim.analysis.judged import Analysis
from ztsim.inputs.loader import load_policies, load_topology, policy_from_text, topology_from_text

ROOT = Path(__file__).resolve().parents[1]


def _same(plain: Analysis, fused: Analysis, k: int) -> None:
    assert fused.exit_code == plain.exit_code
    for p, f in zip(plain.results, fused.results, strict=True):
        assert [g.goal for g in f.reachable_goals] == [g.goal for g in p.reachable_goals]
        assert f.plan_solution is f.solution  # no second solve
        assert [t.decision for t in f.traffic] == [t.decision for t in p.traffic]
    for goal in plain.goals:
        assert fused.plans(goal, k) == plain.plans(goal, k), goal


@SETTINGS
@given(data=st.data(), exhaustive=st.booleans())
def test_one_solve_gives_the_verdicts_and_plans_of_two(data: st.DataObject, exhaustive: bool):
    topo_doc = data.draw(topologies())
    texts = [_dump(data.draw(policies(topo_doc))) for _ in range(2)]
    topo = topology_from_text(_dump(topo_doc))
    pols = [policy_from_text(t, f"p{i}.yaml") for i, t in enumerate(texts)]
    saved = ztsim.engine.plans.EXHAUSTIVE_HOSTS
    ztsim.engine.plans.EXHAUSTIVE_HOSTS = saved if exhaustive else 0  # else: alternatives=3
    try:
        _same(analyze(topo, pols), analyze(topo, pols, Needs(plan_listing=True)), 3)
    finally:
        ztsim.engine.plans.EXHAUSTIVE_HOSTS = saved


@pytest.mark.parametrize(
    ("topology", "policies_dir"),
    [
        ("pajemploi.yaml", "policies"),
        ("corporate.yaml", "policies/corporate"),
        ("k8s-shop.yaml", "policies/k8s-shop"),
    ],
)
def test_shipped_scenarios(topology: str, policies_dir: str):
    topo = load_topology(ROOT / "topologies" / topology)
    pols = load_policies([ROOT / policies_dir])
    _same(analyze(topo, pols), analyze(topo, pols, Needs(plan_listing=True)), 5)
