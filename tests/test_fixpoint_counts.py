"""The fixpoint's two shortcuts for solves of several alternatives, against the
plain path they skip (``fixpoint._Solver``).

- ``counted``: a solve of one alternative counts reachers, exploits and logins per
  target and origin; one of two alternatives or more does not, since a target is
  handed to ``on_reach`` at most twice per origin.  Forced on, the counts must
  refuse nothing.
- ``exfil_enough``: egress is asked of new sources only until they offer enough
  channels in all.  Set to infinity, every source is asked.

Each solve is compared whole (costs, order, best steps, fired steps in order) on
the shipped scenarios, on a heterogeneous estate (``benchmarks/hfamily.py``) and on
generated ones (the property test's strategies).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import given
from test_property import SETTINGS, Scenario, scenarios

from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.fixpoint import Solution, _Solver, solve
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology, reference_policy
from ztsim.inputs.loader import load_policies, load_topology

SHIPPED = [
    ("topologies/pajemploi.yaml", "policies"),
    ("topologies/corporate.yaml", "policies/corporate"),
    ("topologies/k8s-shop.yaml", "policies/k8s-shop"),
]


def _plain(model: AttackModel, policy: CompiledPolicy, alternatives: int) -> Solution:
    """A solve that counts every reacher, exploit and login and asks egress of every
    new source class."""
    solver = _Solver(model, policy, frozenset(), False, alternatives)
    solver.counted = True
    solver.exfil_enough = float("inf")
    return solver.run(None)


def _whole(sol: Solution) -> tuple[object, ...]:
    """Everything a solve recorded, in the order recorded."""
    return (
        list(sol.cost.items()),
        list(sol.order.items()),
        list(sol.best.items()),
        list(sol.fired.items()),
        sol.complete,
    )


def _check(topo: LoadedTopology, policies: list[LoadedPolicy]) -> None:
    model = AttackModel(topo)
    for policy in policies:
        for alternatives in (1, 2, 3):
            # A fresh compilation for each: memos shared by both solves would hide nothing,
            # but each solve then starts from the same state.
            fast = solve(model, model.compile(policy), alternatives=alternatives)
            plain = _plain(model, model.compile(policy), alternatives)
            assert _whole(fast) == _whole(plain), (policy.name, alternatives)


@pytest.mark.parametrize(("topology", "policies"), SHIPPED)
def test_shipped_scenarios(topology: str, policies: str) -> None:
    topo = load_topology(str(ROOT / topology))
    _check(topo, [reference_policy(), *load_policies([str(ROOT / policies)])])


def test_heterogeneous_estate(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import hfamily  # (benchmarks/ is not a package)

    hfamily.write(400, 80, 5, tmp_path)
    topo = load_topology(str(tmp_path / "topology.yaml"))
    policies = load_policies([str(tmp_path / "policies")])
    # The estate must exercise both shortcuts: several sources with egress, and
    # targets handed over twice (as representatives and as a host's own).
    sol = solve(AttackModel(topo), AttackModel(topo).compile(policies[0]), alternatives=3)
    assert sum(1 for f in sol.cost if f[0] == "exfil") > 1
    _check(topo, policies)


@SETTINGS
@given(scenarios())
def test_generated(scenario: Scenario) -> None:
    topo, policy = scenario.load()
    _check(topo, [policy])
