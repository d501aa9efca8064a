"""Rule impact counted over a reduced basis (:func:`ztsim.engine.impact.basis_impact`,
what ``check`` does) against the plain way: every plan judged to its blocking step
(``judge_plans(..., whole=False)``), then :func:`ztsim.engine.impact.rule_impact`.

On the shipped scenarios (MFA, encryption in transit, a layered Kubernetes import),
on a heterogeneous estate (``benchmarks/hfamily.py``) and on generated ones (the
property test's strategies).
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from hypothesis import given
from test_cli import CLOSED, TOPO
from test_property import SETTINGS, Scenario, scenarios

from ztsim.analysis.analyze import analyze
from ztsim.analysis.judged import impact_basis
from ztsim.engine.attack import AttackModel
from ztsim.engine.extraction import Plan
from ztsim.engine.impact import ImpactBasis, basis_impact, rule_impact
from ztsim.engine.steps import Step, StepKind
from ztsim.engine.verdicts import judge_plans
from ztsim.inputs.k8s.importer import import_k8s
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import (
    load_policies,
    load_topology,
    policy_from_text,
    topology_from_text,
)

SHIPPED = [
    ("topologies/pajemploi.yaml", "policies"),
    ("topologies/corporate.yaml", "policies/corporate"),
    ("topologies/k8s-shop.yaml", "policies/k8s-shop"),
]


def _check_same(topo: LoadedTopology, policies: list[LoadedPolicy]) -> int:
    """Assert both ways count the same rows for every policy; the plans counted."""
    a = analyze(topo, policies)
    plans, _ = impact_basis(a)
    assert isinstance(plans, ImpactBasis)
    for r in a.results:
        traffic = [t.decision for t in r.traffic]
        plain = rule_impact(r.compiled, judge_plans(plans, r.compiled, whole=False), traffic)
        assert basis_impact(r.compiled, plans, traffic) == plain, r.policy.name
        # A plain list (as a forked child may get it) is reduced on its own.
        assert basis_impact(r.compiled, list(plans), traffic) == plain, r.policy.name
    return len(plans)


@pytest.mark.parametrize(("topology", "policies"), SHIPPED)
def test_shipped_scenarios(topology: str, policies: str) -> None:
    topo = load_topology(str(ROOT / topology))
    assert _check_same(topo, load_policies([str(ROOT / policies)])) > 0


def test_layered_kubernetes_import(monkeypatch: pytest.MonkeyPatch) -> None:
    """A layered policy (model v1.1): allowed flows name each layer's rule."""
    monkeypatch.chdir(ROOT)
    imported = import_k8s(
        ["examples/k8s/workloads", "examples/k8s/policies"], "examples/k8s/attack.yaml"
    )
    assert imported.policy.model.segmentation.layered
    assert _check_same(imported.topology, [imported.policy]) > 0


def test_heterogeneous_estate(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import hfamily  # (benchmarks/ is not a package)

    hfamily.write(300, 60, 5, tmp_path)
    topo = load_topology(str(tmp_path / "topology.yaml"))
    assert _check_same(topo, load_policies([str(tmp_path / "policies")])) > 20


@SETTINGS
@given(scenarios())
def test_generated(scenario: Scenario) -> None:
    topo, policy = scenario.load()
    _check_same(topo, [policy])


def test_basis_pickles_as_its_plans() -> None:
    """Sent to a forked child, a basis goes as its plans (no reduction with it)."""
    topo = load_topology(str(ROOT / "topologies/pajemploi.yaml"))
    plans, _ = impact_basis(analyze(topo, load_policies([str(ROOT / "policies")])))
    assert isinstance(plans, ImpactBasis)
    plans.reduced()
    back = pickle.loads(pickle.dumps(plans))
    assert isinstance(back, ImpactBasis) and back._reduced is None
    assert [p.key for p in back] == [p.key for p in plans]


def _step(kind: StepKind, credential: str | None = None, traffic: int | None = None) -> Step:
    """A hand-made step from web to db's 5432/tcp (a sniff reads flow ``traffic``)."""
    flow = None if kind == "sniff" else ("web", "db", "5432/tcp")
    key = (kind, "web", "db", credential or "", str(traffic))
    return Step(
        key, kind, None, "web", "db", "5432/tcp", "", (), (), "db", flow, None, credential, traffic
    )


def test_steps_over_one_flow_told_apart() -> None:
    """An exploit and a login over the same flow: MFA blocks the login alone, and a
    sniffed flow is judged as the traffic it reads."""
    topo, policy = topology_from_text(TOPO), policy_from_text(CLOSED)
    compiled = AttackModel(topo).compile(policy)
    exploit, login, sniff = _step("exploit"), _step("login", "db-pw"), _step("sniff", traffic=1)
    goal = ("exfil", "rows")
    plans = [
        Plan(goal, steps)
        for steps in [(exploit,), (login,), (exploit, login), (login, exploit), (sniff, exploit)]
    ]
    for order in (plans, plans[::-1]):
        plain = rule_impact(compiled, judge_plans(order, compiled, whole=False), [])
        assert basis_impact(compiled, order, []) == plain
        row = next(x for x in plain if x.rule == "web-db")
        assert (row.plans_enabled, row.plans_open) == (3, 2)
