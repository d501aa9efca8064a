"""The fixpoint finalises facts in increasing cost (what its bucket queue relies on).

``fixpoint._Solver`` keeps offered facts in buckets by cost and finalises the
buckets in increasing order, each in the order offered: the order of a heap keyed by
(cost, order offered) only if no step fired costs less than the fact being
finalised.  Checked on the shipped scenarios under each of their policies, in the
three modes of a solve.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ztsim.engine.attack import AttackModel
from ztsim.engine.fixpoint import solve
from ztsim.inputs.loaded import reference_policy
from ztsim.inputs.loader import load_policies, load_topology

ROOT = Path(__file__).resolve().parents[1]
#: Each shipped topology with its policies.
SCENARIOS = {
    "pajemploi": sorted((ROOT / "policies").glob("*.yaml")),
    "corporate": sorted((ROOT / "policies" / "corporate").glob("*.yaml")),
    "k8s-shop": sorted((ROOT / "policies" / "k8s-shop").glob("*.yaml")),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("mode", [{}, {"alternatives": 3}, {"exhaustive": True}], ids=str)
def test_costs_never_go_down_in_the_order_finalised(name: str, mode: dict[str, object]) -> None:
    topo = load_topology(ROOT / "topologies" / f"{name}.yaml")
    model = AttackModel(topo)
    assert SCENARIOS[name]
    policies = [reference_policy(), *load_policies(SCENARIOS[name])]
    for policy in policies:
        sol = solve(model, model.compile(policy), **mode)  # type: ignore[arg-type]
        assert sol.cost, policy.name
        costs = [sol.cost[f] for f in sorted(sol.order, key=sol.order.__getitem__)]
        assert costs == sorted(costs), policy.name
