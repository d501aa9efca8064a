"""Exactness of the Kubernetes policy compiler (issue 25, "Exactness"), by hypothesis.

Random namespaces (labels), pods (labels; named and numbered container ports of
TCP, UDP and SCTP), NetworkPolicies (pod and namespace selectors with
expressions, peers of either or both, ipBlocks, ports with endPort and names,
policyTypes given or defaulted), AdminNetworkPolicies (priorities, Allow, Deny,
Pass, port numbers, ranges and names) and a BaselineAdminNetworkPolicy are
written as manifests, read by ztsim, mapped and compiled; the compiled policy's
decision (the naive model v1.1 evaluator, and the engine's ``reach --all-ports``)
must equal tests/k8s_reference.py's on every ordered pair of pods, every protocol
and every port where a decision can change.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from k8s_compiled_eval import Compiled
from k8s_reference import PROTOCOLS, allowed, load_cluster, port_bounds
from test_k8s_conformance import _engine_allows, engine_map, topology_of

from ztsim.inputs.k8s import read_manifests
from ztsim.inputs.k8s.compile import policy_document

NAMESPACES = ["ns0", "ns1", "ns2"]
KEYS = ["app", "tier"]
VALUES = ["a", "b"]
PORTS = [53, 80, 81, 8080]
NAMES = ["http", "dns", "web"]

labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2)


@st.composite
def expressions(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(0, 2))):
        op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
        e: dict[str, Any] = {"key": draw(st.sampled_from(KEYS)), "operator": op}
        if op in ("In", "NotIn"):
            e["values"] = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=2))
        out.append(e)
    return out


@st.composite
def selectors(draw: st.DrawFn, keys: list[str] = KEYS) -> dict[str, Any]:
    sel: dict[str, Any] = {}
    ml = draw(st.dictionaries(st.sampled_from(keys), st.sampled_from(VALUES), max_size=1))
    if ml:
        sel["matchLabels"] = ml
    ex = draw(expressions())
    if ex:
        sel["matchExpressions"] = ex
    return sel


@st.composite
def ns_selectors(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        name = draw(st.sampled_from(NAMESPACES))
        return {"matchLabels": {"kubernetes.io/metadata.name": name}}
    return draw(selectors())


@st.composite
def pods(draw: st.DrawFn, i: int) -> dict[str, Any]:
    ports = []
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=2))
    for n in [*names, *[None] * draw(st.integers(0, 1))]:
        port: dict[str, Any] = {"containerPort": draw(st.sampled_from(PORTS))}
        proto = draw(st.sampled_from(["TCP", "UDP", "SCTP", None]))
        if proto:
            port["protocol"] = proto
        if n:
            port["name"] = n
        ports.append(port)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"p{i}",
            "namespace": draw(st.sampled_from(NAMESPACES)),
            "labels": draw(labels),
        },
        "spec": {"containers": [{"name": "c", "image": "x", "ports": ports}]},
    }


@st.composite
def np_peers(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["pod", "ns", "both", "ip"]))
    if kind == "ip":
        block: dict[str, Any] = {"cidr": draw(st.sampled_from(["0.0.0.0/0", "10.0.0.0/8"]))}
        if draw(st.booleans()):
            block["except"] = ["10.1.0.0/16"]
        return {"ipBlock": block}
    peer: dict[str, Any] = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = draw(selectors())
    if kind in ("ns", "both"):
        peer["namespaceSelector"] = draw(ns_selectors())
    return peer


@st.composite
def np_ports(draw: st.DrawFn) -> dict[str, Any]:
    port: dict[str, Any] = {}
    proto = draw(st.sampled_from(["TCP", "UDP", "SCTP", None]))
    if proto:
        port["protocol"] = proto
    what = draw(st.sampled_from(["number", "range", "name", "none"]))
    if what == "number":
        port["port"] = draw(st.sampled_from(PORTS))
    elif what == "range":
        port["port"] = draw(st.sampled_from(PORTS))
        port["endPort"] = port["port"] + draw(st.integers(0, 100))
    elif what == "name":
        port["port"] = draw(st.sampled_from(NAMES))
    return port


@st.composite
def np_rules(draw: st.DrawFn, peers_key: str) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if draw(st.booleans()):
        rule[peers_key] = draw(st.lists(np_peers(), min_size=1, max_size=2))
    if draw(st.booleans()):
        rule["ports"] = draw(st.lists(np_ports(), min_size=1, max_size=2))
    return rule


@st.composite
def network_policies(draw: st.DrawFn, i: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": draw(selectors())}
    types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types:
        spec["policyTypes"] = types
    for key, peers_key in (("ingress", "from"), ("egress", "to")):
        rules = draw(st.lists(np_rules(peers_key), max_size=2))
        if rules:
            spec[key] = rules
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": f"np{i}", "namespace": draw(st.sampled_from(NAMESPACES))},
        "spec": spec,
    }


@st.composite
def admin_peers(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"namespaces": draw(ns_selectors())}
    return {"pods": {"namespaceSelector": draw(ns_selectors()), "podSelector": draw(selectors())}}


@st.composite
def admin_ports(draw: st.DrawFn) -> dict[str, Any]:
    proto = draw(st.sampled_from(["TCP", "UDP", "SCTP"]))
    what = draw(st.sampled_from(["portNumber", "portRange", "namedPort"]))
    if what == "portNumber":
        return {"portNumber": {"protocol": proto, "port": draw(st.sampled_from(PORTS))}}
    if what == "portRange":
        start = draw(st.sampled_from(PORTS))
        return {"portRange": {"protocol": proto, "start": start, "end": start + 30}}
    return {"namedPort": draw(st.sampled_from(NAMES))}


@st.composite
def admin_rules(draw: st.DrawFn, peers_key: str, actions: list[str]) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "name": "r",
        "action": draw(st.sampled_from(actions)),
        peers_key: draw(st.lists(admin_peers(), min_size=1, max_size=2)),
    }
    if draw(st.booleans()):
        rule["ports"] = draw(st.lists(admin_ports(), min_size=1, max_size=2))
    return rule


@st.composite
def admin_policies(draw: st.DrawFn, i: int, baseline: bool) -> dict[str, Any]:
    actions = ["Allow", "Deny"] if baseline else ["Allow", "Deny", "Pass"]
    spec: dict[str, Any] = {"subject": draw(admin_peers())}
    if not baseline:
        spec["priority"] = draw(st.integers(1, 3))
    for key, peers_key in (("ingress", "from"), ("egress", "to")):
        rules = draw(st.lists(admin_rules(peers_key, actions), max_size=2))
        if rules:
            spec[key] = rules
    kind = "BaselineAdminNetworkPolicy" if baseline else "AdminNetworkPolicy"
    return {
        "apiVersion": "policy.networking.k8s.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": "default" if baseline else f"anp{i}"},
        "spec": spec,
    }


@st.composite
def clusters(draw: st.DrawFn) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for ns in NAMESPACES:
        meta: dict[str, Any] = {"name": ns}
        ns_labels = draw(labels)
        if ns_labels:
            meta["labels"] = ns_labels
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": meta})
    docs += [draw(pods(i)) for i in range(draw(st.integers(2, 5)))]
    docs += [draw(network_policies(i)) for i in range(draw(st.integers(0, 3)))]
    docs += [draw(admin_policies(i, False)) for i in range(draw(st.integers(0, 2)))]
    if draw(st.booleans()):
        docs.append(draw(admin_policies(0, True)))
    return docs


def check(docs: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cluster.yaml"
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        m = read_manifests([str(path)])
        cluster = load_cluster([path])
    topo = topology_of(m)
    draft = policy_document(m, topo, "random")
    naive = Compiled(topo.document, draft.document)
    engine = engine_map(topo.document, draft.document)
    ports = sorted({p for b in port_bounds(cluster) for p in (b - 1, b) if 1 <= p <= 65535})
    for a in cluster.workloads:
        for b in cluster.workloads:
            if a is b:
                continue
            sa, sb = f"{a.namespace}/{a.name}", f"{b.namespace}/{b.name}"
            for proto in PROTOCOLS:
                for port in ports:
                    want = allowed(cluster, a, b, port, proto)
                    assert naive.allowed(sa, sb, port, proto) == want, (sa, sb, port, proto)
                    got = _engine_allows(engine, sa, sb, port, proto)
                    assert got == want, ("engine", sa, sb, port, proto)


_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@settings(max_examples=25, **_SETTINGS)  # type: ignore[arg-type]
@given(clusters())
def test_compiled_policy_is_kubernetes(docs: list[dict[str, Any]]) -> None:
    check(docs)


@pytest.mark.slow
@settings(max_examples=300, **_SETTINGS)  # type: ignore[arg-type]
@given(clusters())
def test_compiled_policy_is_kubernetes_many(docs: list[dict[str, Any]]) -> None:
    check(docs)
