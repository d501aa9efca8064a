"""The Kubernetes reference evaluator (tests/k8s_reference.py) against netpol-analyzer.

Each adapted case of tests/k8s/netpol_analyzer/ (see its README.md) holds manifests
and netpol-analyzer's expected connlist; the reference's connlist must be the same,
line for line: 39 of 39 cases agree, every workload, external-address and
``{ingress-controller}`` line (the controller's lines come from Ingress and Route
objects routed through Services to pods, as netpol-analyzer's ingress analyzer
does, then cut down by the destination's ingress side).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from k8s_reference import Workload, allowed, connlist, load_cluster, selects

CASES_DIR = Path(__file__).resolve().parent / "k8s" / "netpol_analyzer"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
#: Cases whose expected output holds ingress-controller lines (Ingress, Route).
ROUTED = {"demo_app_with_routes_and_ingress", "one_ingress_multiple_ports"}


def manifests(case: str) -> list[Path]:
    """The manifest files of ``case`` (its expected output left out)."""
    return [
        f for f in sorted((CASES_DIR / case).rglob("*")) if f.suffix in (".yaml", ".yml", ".json")
    ]


def expected(case: str) -> list[str]:
    """netpol-analyzer's connlist lines for ``case``."""
    text = (CASES_DIR / case / "expected_connlist_output.txt").read_text()
    return [line for line in text.splitlines() if line.strip()]


def test_enough_cases() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_connlist_agrees(case: str) -> None:
    assert connlist(load_cluster(manifests(case))) == expected(case)


def test_routed_cases_are_compared_on_controller_lines() -> None:
    for case in ROUTED:
        text = (CASES_DIR / case / "expected_connlist_output.txt").read_text()
        assert "{ingress-controller} =>" in text


def test_selector_operators() -> None:
    labels = {"app": "web", "tier": "front"}
    assert selects({}, labels) and selects(None, labels)
    expr = {"key": "app", "operator": "In", "values": ["web", "api"]}
    assert selects({"matchExpressions": [expr]}, labels)
    assert not selects({"matchExpressions": [{**expr, "operator": "NotIn"}]}, labels)
    assert selects(
        {"matchExpressions": [{"key": "x", "operator": "NotIn", "values": ["a"]}]}, labels
    )
    assert selects({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, labels)
    assert selects({"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}, labels)
    assert not selects({"matchLabels": {"app": "web", "x": "y"}}, labels)


def test_both_sides_must_allow(tmp_path: Path) -> None:
    # Egress of a allows b:80; ingress of b allows nothing from a: denied.
    (tmp_path / "m.yaml").write_text(
        """
apiVersion: v1
kind: Pod
metadata: {name: a, labels: {app: a}}
---
apiVersion: v1
kind: Pod
metadata: {name: b, labels: {app: b}}
spec: {containers: [{name: c, ports: [{name: web, containerPort: 80}]}]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-out}
spec:
  podSelector: {matchLabels: {app: a}}
  policyTypes: [Egress]
  egress: [{to: [{podSelector: {matchLabels: {app: b}}}], ports: [{port: web}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-in}
spec:
  podSelector: {matchLabels: {app: b}}
"""
    )
    cluster = load_cluster([tmp_path])
    a, b = cluster.workloads
    assert isinstance(a, Workload) and a.display == "default/a[Pod]"
    assert not allowed(cluster, a, b, 80, "TCP")
    # b is not isolated for egress, a not for ingress: b -> a is open on every port.
    assert allowed(cluster, b, a, 443, "UDP") and allowed(cluster, b, a, 80, "TCP")
    # Dropping b's default deny, a -> b is allowed on the named port only.
    cluster.netpols = [np for np in cluster.netpols if np["metadata"]["name"] == "a-out"]
    assert allowed(cluster, a, b, 80, "TCP")
    assert not allowed(cluster, a, b, 81, "TCP") and not allowed(cluster, a, b, 80, "UDP")
