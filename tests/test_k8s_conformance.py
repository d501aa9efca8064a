"""Conformance of the Kubernetes import with netpol-analyzer (issue 25, "Conformance").

For each of the 39 adapted cases of tests/k8s/netpol_analyzer/ (their README says
where they come from), the manifests are read, mapped to a topology, compiled to
a policy (ztsim.inputs.k8s.compile) and judged three ways:

- the compiled documents by a naive evaluator of model v1.1 (k8s_compiled_eval);
- the engine: the documents loaded by the normal loader, ``reach --all-ports``
  (ztsim.engine.connectivity.reach_map);

each compared with the expected connlist and with the reference
(tests/k8s_reference.py) on every ordered pair of workloads, for TCP, UDP and
SCTP, at every port bound the case names, one either side, 1 and 65535.  Outside
addresses too: egress to each elementary address range of the case (a CIDR
destination) exactly, and ingress from outside (ztsim's one external zone stands
for every outside address: allowed iff some range is, the conservative reading),
except on the ports Ingresses and Routes publish, reached through the controller.

The ingress controller's lines (netpol-analyzer's ``{ingress-controller}``: the
reference's ``routed``, the controller an unlabelled pod in a namespace of its
own) are compared on every case, each workload published by an Ingress of its
own (a Service per workload, one backend per TCP port), two ways:

- the controller unknown (the default): ztsim may only allow more; each extra is
  explained (the outside reaches the port itself: an ipBlock or any-source rule;
  or ztsim's unknown controller matches a peer netpol-analyzer's does not);
- the reference's controller pod added to the manifests and named
  (``ztsim.io/ingress-controller``): ztsim judges the path exactly as the
  reference does with the controller's egress side too (which netpol-analyzer
  skips), or allows more only where an ingress ipBlock admits the outside.

``python tests/test_k8s_conformance.py`` prints the agreement counts.
"""

from __future__ import annotations

import copy
import ipaddress
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from k8s_compiled_eval import Compiled
from k8s_reference import (
    CONTROLLER,
    PROTOCOLS,
    Cluster,
    IPRange,
    allowed,
    ip_ranges,
    load_cluster,
    port_bounds,
    routed,
)
from k8s_reference import Workload as RefWorkload

from ztsim.engine.connectivity import reach_map
from ztsim.engine.endpoints import Scope
from ztsim.inputs.k8s import Manifests, read_manifests
from ztsim.inputs.k8s.compile import policy_document
from ztsim.inputs.k8s.drafts import PolicyDraft, TopologyDraft
from ztsim.inputs.k8s.topology import topology_document
from ztsim.inputs.loader import policy_from_text, topology_from_text

CASES_DIR = Path(__file__).resolve().parent / "k8s" / "netpol_analyzer"
CASES = sorted(p.name for p in CASES_DIR.iterdir() if p.is_dir())
#: The cases that take longest (many workloads, or many address ranges): slow loop.
SLOW = {
    "ipblockstest",
    "ipblockstest_2",
    "ipblockstest_3",
    "multiple_topology_resources_1",
    "new_online_boutique",
    "onlineboutique_workloads",
    "test_with_named_ports_changed_netpol_2",
    "with_end_port_example",
}


def manifests(case: str) -> list[Path]:
    """The manifest files of ``case``."""
    return [
        f for f in sorted((CASES_DIR / case).rglob("*")) if f.suffix in (".yaml", ".yml", ".json")
    ]


def topology_of(m: Manifests) -> TopologyDraft:
    """The importer's topology mapping of ``m``."""
    return topology_document(m)


# -- the expected connlist ------------------------------------------------------------


def _spans(text: str) -> dict[str, list[tuple[int, int]]]:
    """``TCP 1-79,81,UDP 53`` as spans per protocol ("All Connections": everything)."""
    if text == "All Connections":
        return {p: [(1, 65535)] for p in PROTOCOLS}
    out: dict[str, list[tuple[int, int]]] = {}
    proto = ""
    for token in text.split(","):
        if " " in token:
            proto, token = token.split(" ")
        low, _, high = token.partition("-")
        out.setdefault(proto, []).append((int(low), int(high or low)))
    return out


def expected(case: str) -> dict[tuple[str, str], dict[str, list[tuple[int, int]]]]:
    """netpol-analyzer's connlist: (source, destination) displays -> allowed spans."""
    out = {}
    text = (CASES_DIR / case / "expected_connlist_output.txt").read_text()
    for line in text.splitlines():
        if "=>" in line:
            pair, _, conns = line.partition(" : ")
            src, _, dst = pair.partition(" => ")
            out[(src.strip(), dst.strip())] = _spans(conns.strip())
    return out


def expects(
    table: dict[tuple[str, str], dict[str, list[tuple[int, int]]]],
    src: str,
    dst: str,
    port: int,
    proto: str,
) -> bool:
    spans = table.get((src, dst), {}).get(proto, [])
    return any(low <= port <= high for low, high in spans)


# -- one case -------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one case gave: probes made, and each disagreement."""

    case: str
    probes: int = 0
    disagreements: list[str] = field(default_factory=list)


def probe_ports(cluster: Cluster) -> list[int]:
    """Every port bound the case names, one either side, 1 and 65535."""
    ports = {1, 65535}
    for b in port_bounds(cluster):
        ports |= {b - 1, b, b + 1}
    return sorted(p for p in ports if 1 <= p <= 65535)


def _range_block(r: IPRange) -> str:
    """A CIDR block inside elementary range ``r`` (all its addresses alike)."""
    first = ipaddress.IPv4Address(r.start)
    last = ipaddress.IPv4Address(r.end - 1)
    return str(next(ipaddress.summarize_address_range(first, last)))


@dataclass
class Judged:
    """A case compiled, with every way of judging it."""

    m: Manifests
    cluster: Cluster
    topo: TopologyDraft
    draft: PolicyDraft
    naive: Compiled
    #: (source id, destination id) -> allowed (port, proto) spans, from the engine.
    engine: dict[tuple[str, str], list[tuple[str, int, int]]] = field(default_factory=dict)


def judge(case: str, probes_outside: list[IPRange] | None = None) -> Judged:
    """``case`` read, mapped, compiled, and (when the engine loads it) reached."""
    files = manifests(case)
    m = read_manifests([str(f) for f in files])
    cluster = load_cluster(files)
    topo = topology_of(m)
    draft = policy_document(m, topo, case)
    topo_doc = dict(topo.document)
    external = [*(topo_doc.get("external") or []), *draft.destinations]
    for r in probes_outside or []:
        block = _range_block(r)
        if all(e.get("cidr") != block for e in external):
            external.append({"id": f"probe:{block}", "cidr": block})
    topo_doc["external"] = external
    judged = Judged(m, cluster, topo, draft, Compiled(topo_doc, draft.document))
    judged.engine = engine_map(topo_doc, draft.document)
    return judged


def engine_map(
    topo_doc: dict[str, Any], policy_doc: dict[str, Any]
) -> dict[tuple[str, str], list[tuple[str, int, int]]]:
    """``reach --all-ports`` of the documents, loaded as files are: (source,
    destination) -> allowed (protocol, low, high) spans."""
    topo = topology_from_text(yaml.safe_dump(topo_doc, sort_keys=False), "topology.yaml")
    pol = policy_from_text(yaml.safe_dump(policy_doc, sort_keys=False), "policy.yaml")
    return {
        (c.source, c.target): [(r.proto, r.low, r.high) for r in c.allowed.services]
        for c in reach_map(topo, pol, all_ports=True).connections()
    }


def _engine_allows(
    spans: dict[tuple[str, str], list[tuple[str, int, int]]], src: str, dst: str, port: int, p: str
) -> bool:
    return any(
        (proto in (p.lower(), "*")) and low <= port <= high
        for proto, low, high in spans.get((src, dst), [])
    )


def _pairs(cluster: Cluster) -> Iterator[tuple[RefWorkload, RefWorkload]]:
    for a in cluster.workloads:
        for b in cluster.workloads:
            if a is not b:
                yield a, b


def run_case(case: str) -> Outcome:
    """Every probe of ``case``, every way, compared."""
    cluster0 = load_cluster(manifests(case))
    ranges = ip_ranges(cluster0, "egress")
    j = judge(case, ranges)
    table = expected(case)
    out = Outcome(case)
    ports = probe_ports(j.cluster)
    ids = {f"{w.namespace}/{w.name}" for w in j.m.workloads}
    for a, b in _pairs(j.cluster):
        sa, sb = f"{a.namespace}/{a.name}", f"{b.namespace}/{b.name}"
        assert sa in ids and sb in ids, (sa, sb)
        for proto in PROTOCOLS:
            for port in ports:
                want = allowed(j.cluster, a, b, port, proto)
                got = {
                    "expected": expects(table, a.display, b.display, port, proto),
                    "compiled": j.naive.allowed(sa, sb, port, proto),
                    "engine": _engine_allows(j.engine, sa, sb, port, proto),
                }
                out.probes += 1
                for how, value in got.items():
                    if value != want:
                        out.disagreements.append(
                            f"{sa} -> {sb} {port}/{proto}: reference {want}, {how} {value}"
                        )
    _outside(j, table, ranges, ports, out)
    return out


def _outside(
    j: Judged,
    table: dict[tuple[str, str], dict[str, list[tuple[int, int]]]],
    ranges: list[IPRange],
    ports: list[int],
    out: Outcome,
) -> None:
    """Egress to each elementary range; ingress from outside (any range)."""
    into = ip_ranges(j.cluster, "ingress")
    through = _through_controller(j.topo)
    for w in j.cluster.workloads:
        wid = f"{w.namespace}/{w.name}"
        for proto in PROTOCOLS:
            for port in ports:
                for r in ranges:
                    dest = {"cidr": _range_block(r)}
                    want = allowed(j.cluster, w, r, port, proto)
                    exp = expects(table, w.display, r.display, port, proto)
                    got = j.naive.egress_allowed(wid, dest, port, proto)
                    out.probes += 1
                    if not want == exp == got:
                        out.disagreements.append(
                            f"{wid} -> {dest['cidr']} {port}/{proto}: reference {want}, "
                            f"expected {exp}, compiled {got}"
                        )
                if (wid, f"{port}/{proto.lower()}") in through:
                    continue  # through the ingress controller: compared apart
                want = any(allowed(j.cluster, r, w, port, proto) for r in into)
                got = j.naive.allowed("internet", wid, port, proto)
                out.probes += 1
                if want != got:
                    out.disagreements.append(
                        f"outside -> {wid} {port}/{proto}: reference (any range) {want}, "
                        f"compiled {got}"
                    )


# -- the ingress controller's lines -------------------------------------------------

#: The reference's controller as a workload of the manifests, named as such.
CONTROLLER_POD = f"""apiVersion: v1
kind: Pod
metadata:
  name: {CONTROLLER.name}
  namespace: {CONTROLLER.namespace}
  annotations: {{ztsim.io/ingress-controller: "true"}}
spec: {{containers: [{{name: c}}]}}
"""
#: Why ztsim lets the outside reach a routed port the reference's controller does not.
ITSELF = "the outside reaches the port itself (no rule stops it, or an ipBlock admits it)"
ASSUMED = "the unknown controller matches a peer netpol-analyzer's does not"
BLOCK = "an ingress ipBlock admits the outside (the controller's address may be in it)"


def native_of(document: dict[str, Any]) -> dict[str, Any]:
    """A compiled policy without its copies through the ingress controller."""
    out = copy.deepcopy(document)
    for layer in out["segmentation"]["layers"]:
        for tier in layer["tiers"]:
            tier["rules"] = [r for r in tier["rules"] if "-via-controller" not in r["id"]]
    return out


def blocks_of(document: dict[str, Any], outside: list[str]) -> dict[str, Any]:
    """A policy allowing only what the ingress ipBlock rules (those from the external
    zones ``outside``) of ``document`` allow."""
    rules = [
        r
        for layer in document["segmentation"]["layers"]
        for tier in layer["tiers"]
        for r in tier["rules"]
        if r.get("from") == {"zone": outside} and r["action"] == "allow"
        and "-via-controller" not in r["id"]
    ]  # fmt: skip
    layer = {"id": "blocks", "default": "deny", "tiers": [{"id": "t", "rules": rules}]}
    return {"segmentation": {"layers": [layer]}}


def _through_controller(topo: TopologyDraft) -> set[tuple[str, str]]:
    """(host, service) pairs an Ingress or a Route publishes."""
    return {
        key
        for key, by in topo.published.items()
        if any(p.name.startswith(("Ingress ", "Route ")) for p in by)
    }


def exposures(cluster: Cluster) -> str:
    """A Service and an Ingress for each workload with labels and TCP ports (one
    backend per port), as YAML."""
    docs: list[dict[str, Any]] = []
    for i, w in enumerate(cluster.workloads):
        tcp = sorted({p.number for p in w.ports if p.protocol == "TCP"})
        if not w.labels or not tcp:
            continue
        name, meta = f"ztsim-exposed-{i}", {"name": f"ztsim-exposed-{i}", "namespace": w.namespace}
        ports = [{"name": f"p{n}", "port": n, "targetPort": n} for n in tcp]
        docs.append({"apiVersion": "v1", "kind": "Service", "metadata": meta,
                     "spec": {"selector": w.labels, "ports": ports}})  # fmt: skip
        paths = [
            {"path": f"/{n}", "pathType": "Prefix",
             "backend": {"service": {"name": name, "port": {"number": n}}}}
            for n in tcp
        ]  # fmt: skip
        docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": meta,
                     "spec": {"rules": [{"http": {"paths": paths}}]}})  # fmt: skip
    return yaml.safe_dump_all(docs, sort_keys=False)


@dataclass
class ControllerOutcome:
    """The controller's lines of one case, one way: agreements, explained extras
    (why -> count), failures."""

    case: str
    pairs: int = 0
    agree: int = 0
    explained: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


@dataclass
class _Routed:
    """A case compiled for the controller's lines."""

    topo: TopologyDraft
    naive: Compiled
    native: Compiled  # without the copies through the controller
    blocks: Compiled  # the ingress ipBlock rules alone
    engine: dict[tuple[str, str], list[tuple[str, int, int]]]


def _judge_routed(paths: list[Path]) -> _Routed:
    m = read_manifests([str(f) for f in paths])
    topo = topology_of(m)
    draft = policy_document(m, topo, "routed")
    doc = dict(topo.document)
    doc["external"] = [*(doc.get("external") or []), *draft.destinations]
    native = native_of(draft.document)
    blocks = blocks_of(draft.document, ["internet"])
    loaded = topology_from_text(yaml.safe_dump(doc, sort_keys=False), "topology.yaml")
    pol = policy_from_text(yaml.safe_dump(draft.document, sort_keys=False), "policy.yaml")
    scope = Scope.parse(["zone:internet"], [])
    engine = {
        (c.source, c.target): [(r.proto, r.low, r.high) for r in c.allowed.services]
        for c in reach_map(loaded, pol, all_ports=True, scope=scope).connections()
    }
    naive = Compiled(doc, draft.document)
    return _Routed(topo, naive, Compiled(doc, native), Compiled(doc, blocks), engine)


def run_controller(case: str, tmp: Path) -> tuple[ControllerOutcome, ControllerOutcome]:
    """The controller's lines of ``case`` (its workloads each published by an
    Ingress): the controller unknown, then the reference's controller named."""
    files = manifests(case)
    exposed = tmp / "exposed.yaml"
    exposed.write_text(exposures(load_cluster(files)))
    cluster = load_cluster([*files, exposed])
    lines = routed(cluster)  # netpol-analyzer's (adds the controller's namespace)
    pod = tmp / "controller.yaml"
    pod.write_text(CONTROLLER_POD)
    ctrl = RefWorkload(CONTROLLER.namespace, CONTROLLER.name, "Pod", {}, [])
    refs = {f"{w.namespace}/{w.name}": w for w in cluster.workloads}
    outcomes = []
    for way, paths in (("unknown", [*files, exposed]), ("named", [*files, exposed, pod])):
        j = _judge_routed(paths)
        out = ControllerOutcome(case)
        for host, service in sorted(_through_controller(j.topo)):
            number, proto = service.split("/")
            if proto != "tcp" or host not in refs:
                continue
            w, port = refs[host], int(number)
            if way == "unknown":
                want = port in lines.get(w.display, set())
            else:
                want = allowed(cluster, ctrl, w, port, "TCP")
            got = j.naive.allowed("internet", host, port, "TCP")
            engine = _engine_allows(j.engine, "internet", host, port, "TCP")
            out.pairs += 1
            if way == "named":
                why = BLOCK if j.blocks.allowed("internet", host, port, "TCP") else ""
            else:
                why = ITSELF if j.native.allowed("internet", host, port, "TCP") else ASSUMED
            if engine != got or got < want or (got > want and not why):
                out.failures.append(
                    f"{way}: controller -> {host} {service}: reference {want}, "
                    f"compiled {got}, engine {engine}"
                )
            elif got == want:
                out.agree += 1
            else:
                out.explained[why] = out.explained.get(why, 0) + 1
        outcomes.append(out)
    return outcomes[0], outcomes[1]


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=[pytest.mark.slow] if c in SLOW else []) for c in CASES]
)
def test_controller_lines(case: str, tmp_path: Path) -> None:
    for outcome in run_controller(case, tmp_path):
        assert not outcome.failures, "\n".join(outcome.failures[:20])


@pytest.mark.parametrize(
    "case", [pytest.param(c, marks=[pytest.mark.slow] if c in SLOW else []) for c in CASES]
)
def test_case_agrees(case: str) -> None:
    outcome = run_case(case)
    assert outcome.probes > 0
    assert not outcome.disagreements, "\n".join(outcome.disagreements[:20])


def main() -> int:
    """Print the agreement count (and the first disagreements of each case)."""
    agreeing = 0
    probes = 0
    for case in CASES:
        o = run_case(case)
        probes += o.probes
        if o.disagreements:
            print(f"{case}: {len(o.disagreements)} disagreement(s)")
            for d in o.disagreements[:5]:
                print("   ", d)
        else:
            agreeing += 1
    print(f"{agreeing}/{len(CASES)} cases agree ({probes:,} probes)")
    failed = _main_controller()
    return 0 if agreeing == len(CASES) and not failed else 1


def _main_controller() -> int:
    """Print the controller's lines' counts, both ways; the number of failures."""
    totals = {way: ControllerOutcome("all") for way in ("unknown", "named")}
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            (Path(tmp) / case).mkdir()
            for way, o in zip(totals, run_controller(case, Path(tmp) / case), strict=True):
                t = totals[way]
                t.pairs, t.agree = t.pairs + o.pairs, t.agree + o.agree
                t.failures += o.failures
                for why, n in o.explained.items():
                    t.explained[why] = t.explained.get(why, 0) + n
    for way, t in totals.items():
        extra = "; ".join(f"{n} where {why}" for why, n in sorted(t.explained.items()))
        print(
            f"ingress controller {way}: {t.agree}/{t.pairs} routed ports agree, "
            f"{sum(t.explained.values())} allowed more ({extra or 'none'}), "
            f"{len(t.failures)} failure(s)"
        )
        for f in t.failures[:10]:
            print("   ", f)
    return sum(len(t.failures) for t in totals.values())


if __name__ == "__main__":
    sys.exit(main())
