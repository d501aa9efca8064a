"""The fixpoint's egress question answered by one sweep per destination
(:mod:`ztsim.engine.egresshosts`, :meth:`ztsim.engine.compiled.EgressJudge.allowed`)
against the naive reference written from the spec (``tests/reference_model.py``),
for every host, every external destination and each of its services plus one it
does not serve: on the shipped scenarios, on a heterogeneous estate
(``benchmarks/hfamily.py``) and on generated ones (hypothesis, the property test's
strategies, label expressions and layers included).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import reference_model as ref
from conftest import ROOT
from hypothesis import given
from test_property import SETTINGS, Scenario, scenarios

from ztsim.engine.attack import AttackModel
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import load_policies, load_topology

SHIPPED = [
    ("topologies/pajemploi.yaml", "policies"),
    ("topologies/corporate.yaml", "policies/corporate"),
    ("topologies/k8s-shop.yaml", "policies/k8s-shop"),
]


def _mismatches(topo: LoadedTopology, policy: LoadedPolicy) -> list[tuple[str, str, str]]:
    """Every (host, destination, service) where :meth:`EgressJudge.allowed` (class by
    class at first, then swept) and the reference disagree."""
    compiled = AttackModel(topo).compile(policy)
    wrong: list[tuple[str, str, str]] = []
    for dest in topo.model.external:
        for service in [*dest.services, "1/udp"]:
            for host in topo.hosts:
                expected = ref.egress(topo.model, policy.model, host, dest.id, service)[0]
                if compiled.egress_allowed(host, dest.id, service) != expected:
                    wrong.append((host, dest.id, service))
    # Every host asked of every destination: past the first questions, swept (v1).
    judge = compiled._egress
    if not judge.layered and any(d.cidr is None for d in topo.model.external):
        assert any(isinstance(v, bytes) for v in judge._open.values())
    return wrong


@pytest.mark.parametrize(("topology", "policies"), SHIPPED)
def test_shipped_scenarios(topology: str, policies: str) -> None:
    topo = load_topology(str(ROOT / topology))
    for policy in load_policies([str(ROOT / policies)]):
        assert _mismatches(topo, policy) == [], policy.name


def test_heterogeneous_estate(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import hfamily  # (benchmarks/ is not a package)

    hfamily.write(300, 60, 5, tmp_path)
    topo = load_topology(str(tmp_path / "topology.yaml"))
    policies = load_policies([str(tmp_path / "policies")])
    assert len(topo.model.external) >= 4
    for policy in policies:
        assert _mismatches(topo, policy) == [], policy.name


@SETTINGS
@given(scenarios())
def test_generated(scenario: Scenario) -> None:
    topo, policy = scenario.load()
    assert _mismatches(topo, policy) == []
