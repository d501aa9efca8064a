"""``ztsim reach``'s map against a naive evaluation of spec §4, and against ``check``.

The naive evaluator below is written from the spec alone (per pair of endpoints,
per port and protocol, the first rule whose `from`, `to` and `services` match, else
the default; ``intra_zone``; egress patterns), with none of the engine's indexes,
classes or memos.  A map is compared with it on every ordered pair and on every
port where some decision may change (each rule range's ends and their neighbours,
0, 65535, every service served), for TCP, UDP, SCTP and ICMP: decisions are
constant between those.

Settings as in ``tests/test_property.py``: derandomized, no database;
``ZTSIM_PROPERTY_EXAMPLES`` searches harder.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
from conftest import ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.connectivity import PROTOCOLS, PolicyMap, reach_map
from ztsim.engine.endpoints import EndpointSelector, Scope
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import load_policies, load_topology
from ztsim.model.schema import Policy, Topology

EXAMPLES = int(os.environ.get("ZTSIM_PROPERTY_EXAMPLES", "150"))

# ------------------------------------------------------------------ the naive evaluator


def _sel_host(sel: dict[str, Any] | None, host: dict[str, Any]) -> bool:
    """Spec §3: every key given must match (a zone or host list: any of them)."""
    if not sel:
        return True
    if "zone" in sel and host["zone"] not in sel["zone"]:
        return False
    if "host" in sel and host["id"] not in sel["host"]:
        return False
    labels = host.get("labels", {})
    if not all(labels.get(k) == v for k, v in sel.get("labels", {}).items()):
        return False
    return all(_expression(e, labels) for e in sel.get("labels_match", []))


def _expression(e: dict[str, Any], labels: dict[str, str]) -> bool:
    """Model v1.1's label expressions, as Kubernetes' matchExpressions."""
    op, key = e["operator"], e["key"]
    if op == "In":
        return key in labels and labels[key] in e["values"]
    if op == "NotIn":
        return key not in labels or labels[key] not in e["values"]
    return (key in labels) == (op == "Exists")


def _sel_zone(sel: dict[str, Any] | None, zone: str) -> bool:
    """Only `zone` (or any) matches an external zone."""
    if not sel:
        return True
    if "host" in sel or "labels" in sel or "labels_match" in sel:
        return False
    return "zone" not in sel or zone in sel["zone"]


def _covers(services: list[str] | None, proto: str, port: int) -> bool:
    if services is None:
        return True
    for s in services:
        if s == "any":
            return True
        ports, p = s.split("/")
        low, _, high = ports.partition("-")
        if p == proto and int(low) <= port <= int(high or low):
            return True
    return False


def _fqdn(pattern: str, name: str) -> bool:
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    return pattern == name


def naive_flow(
    topo: dict[str, Any],
    pol: dict[str, Any],
    src: str,
    dst: str,
    proto: str,
    port: int,
    *,
    all_ports: bool,
) -> str | None:
    """The deciding rule id (``default``, ``intra_zone``) if allowed, else None."""
    hosts = {h["id"]: h for h in topo["hosts"]}
    external = {z["id"] for z in topo["zones"] if z.get("external")}
    d = hosts[dst]
    seg = pol.get("segmentation", {})
    if not all_ports:
        offer = [s for s in d.get("services", []) if s["service"] == f"{port}/{proto}"]
        if not offer:
            return None
        if src in external and not offer[0].get("public", False):
            return None
    s = hosts.get(src)
    if s is not None and seg.get("intra_zone") == "allow" and s["zone"] == d["zone"]:
        return "intra_zone"
    for r in seg.get("rules", []):
        ok_from = _sel_zone(r.get("from"), src) if s is None else _sel_host(r.get("from"), s)
        if ok_from and _sel_host(r.get("to"), d) and _covers(r.get("services"), proto, port):
            return r["id"] if r["action"] == "allow" else None
    return "default" if seg.get("default", "allow") == "allow" else None


def naive_egress(
    topo: dict[str, Any],
    pol: dict[str, Any],
    src: str,
    dst: str,
    proto: str,
    port: int,
    *,
    all_ports: bool,
) -> str | None:
    """Spec §4's egress: first rule whose from, services and a `to` pattern match."""
    s = next(h for h in topo["hosts"] if h["id"] == src)
    e = next(x for x in topo["external"] if x["id"] == dst)
    if not all_ports and f"{port}/{proto}" not in e.get("services", ["443/tcp"]):
        return None
    egress = pol.get("egress", {})
    for r in egress.get("rules", []):
        if (
            _sel_host(r.get("from"), s)
            and _covers(r.get("services"), proto, port)
            and any(_fqdn(p, e["fqdn"]) for p in r.get("to", ["*"]))
        ):
            return r["id"] if r["action"] == "allow" else None
    return "default" if egress.get("default", "allow") == "allow" else None


def _probes(topo: dict[str, Any], pol: dict[str, Any]) -> list[tuple[str, int]]:
    """Every (protocol, port) where a decision may change, and every service served."""
    ports = {0, 1, 65534, 65535}
    lists = [
        r.get("services") or []
        for sec in ("segmentation", "egress")
        for r in pol.get(sec, {}).get("rules", [])
    ]
    lists += [[s["service"] for s in h.get("services", [])] for h in topo["hosts"]]
    lists += [x.get("services", ["443/tcp"]) for x in topo.get("external", [])]
    for services in lists:
        for s in services:
            if s == "any":
                continue
            low, _, high = s.split("/")[0].partition("-")
            for p in (int(low), int(high or low)):
                ports.update(q for q in (p - 1, p, p + 1) if 0 <= q <= 65535)
    return [(proto, port) for proto in PROTOCOLS for port in sorted(ports)]


def _map_decisions(m: PolicyMap) -> dict[tuple[str, str], dict[tuple[str, int], str]]:
    """The map as {pair: {(proto, port): rule}}, for the probed ports only (filled lazily)."""
    out: dict[tuple[str, str], Any] = {}
    for c in m.connections():
        out[(c.source, c.target)] = c.allowed
    return out


def _rule_at(allowed: Any, proto: str, port: int) -> str | None:
    for g in allowed.grants:
        for r in g.services:
            if r.proto == proto and r.low <= port <= r.high:
                return str(g.decision.rule)
    return None


def compare(topo: dict[str, Any], pol: dict[str, Any], *, all_ports: bool) -> None:
    """The map of ``pol`` on ``topo`` equals the naive evaluation, pair by pair."""
    lt = LoadedTopology(Topology.model_validate(topo), "t.yaml")
    lp = LoadedPolicy(Policy.model_validate(pol), "p.yaml")
    m = reach_map(lt, lp, all_ports=all_ports)
    got = _map_decisions(m)
    probes = _probes(topo, pol)
    hosts = [h["id"] for h in topo["hosts"]]
    sources = hosts + [z["id"] for z in topo["zones"] if z.get("external")]
    pairs = [(s, d, naive_flow) for s in sources for d in hosts if s != d]
    pairs += [(s, x["id"], naive_egress) for s in hosts for x in topo.get("external", [])]
    expected_pairs = set()
    for s, d, naive in pairs:
        want = {(p, n): naive(topo, pol, s, d, p, n, all_ports=all_ports) for p, n in probes}
        if any(v is not None for v in want.values()):
            expected_pairs.add((s, d))
        allowed = got.get((s, d))
        for (p, n), rule in want.items():
            have = None if allowed is None else _rule_at(allowed, p, n)
            assert have == rule, (s, d, p, n, have, rule, all_ports)
    assert set(got) == expected_pairs
    for allowed in got.values():  # merged and sorted: no two ranges touch
        spans = [(PROTOCOLS.index(r.proto), r.low, r.high) for r in allowed.services]
        assert spans == sorted(spans)
        for a, b in itertools.pairwise(spans):
            assert a[0] != b[0] or a[2] + 1 < b[1]


# ------------------------------------------------------------------ random scenarios

_SERVICES = ["22/tcp", "53/udp", "80/tcp", "443/tcp", "8080/tcp", "161/udp", "5060/sctp"]
_RANGES = [
    "22/tcp",
    "80/tcp",
    "80-443/tcp",
    "0-1023/tcp",
    "53/udp",
    "1-65535/udp",
    "any",
    "5000-6000/sctp",
    "0/icmp",
    "443/tcp",
    "8080/tcp",
]
_FQDNS = ["a.example", "b.example", "x.a.example", "*.example", "*.a.example"]
_PATTERNS = ["*", "a.example", "*.example", "*.a.example", "b.example"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A small topology and a policy over it (ids from small pools, so selectors hit)."""
    internal = draw(
        st.lists(st.sampled_from(["z1", "z2", "z3"]), min_size=1, max_size=3, unique=True)
    )
    external = draw(st.lists(st.sampled_from(["net", "partner"]), max_size=2, unique=True))
    zones = [{"id": z} for z in internal] + [{"id": z, "external": True} for z in external]
    n_hosts = draw(st.integers(1, 6))
    label = st.dictionaries(
        st.sampled_from(["app", "tier"]), st.sampled_from(["a", "b"]), max_size=2
    )
    hosts = []
    for i in range(n_hosts):
        served = draw(st.lists(st.sampled_from(_SERVICES), max_size=3, unique=True))
        hosts.append(
            {
                "id": f"h{i}",
                "zone": draw(st.sampled_from(internal + external[:1])),
                "labels": draw(label),
                "services": [{"service": s, "public": draw(st.booleans())} for s in served],
            }
        )
    dests = [
        {
            "id": f"e{i}",
            "fqdn": f,
            "services": draw(
                st.lists(st.sampled_from(_SERVICES), min_size=1, max_size=2, unique=True)
            ),
        }
        for i, f in enumerate(draw(st.lists(st.sampled_from(_FQDNS), max_size=2, unique=True)))
    ]
    host_ids = [h["id"] for h in hosts]

    @st.composite
    def selector(d: st.DrawFn) -> dict[str, Any]:
        sel: dict[str, Any] = {}
        if d(st.booleans()):
            sel["zone"] = d(
                st.lists(
                    st.sampled_from([z["id"] for z in zones]), min_size=1, max_size=2, unique=True
                )
            )
        if d(st.integers(0, 3)) == 0:
            sel["host"] = d(
                st.lists(st.sampled_from(host_ids), min_size=1, max_size=2, unique=True)
            )
        if d(st.integers(0, 2)) == 0:
            sel["labels"] = d(
                st.dictionaries(
                    st.sampled_from(["app", "tier"]),
                    st.sampled_from(["a", "b"]),
                    min_size=1,
                    max_size=2,
                )
            )
        if d(st.integers(0, 2)) == 0:  # model v1.1
            sel["labels_match"] = [
                {"key": d(st.sampled_from(["app", "tier", "none"])), "operator": op}
                | (
                    {"values": d(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1))}
                    if op in ("In", "NotIn")
                    else {}
                )
                for op in d(
                    st.lists(
                        st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]),
                        min_size=1,
                        max_size=2,
                    )
                )
            ]
        return sel

    def rule(d: st.DrawFn, i: int, egress: bool) -> dict[str, Any]:
        r: dict[str, Any] = {
            "id": f"{'e' if egress else 'r'}{i}",
            "action": d(st.sampled_from(["allow", "deny"])),
            "from": d(selector()),
        }
        if egress:
            r["to"] = d(st.lists(st.sampled_from(_PATTERNS), min_size=1, max_size=2, unique=True))
        else:
            r["to"] = d(selector())
        if d(st.booleans()):
            r["services"] = d(
                st.lists(st.sampled_from(_RANGES), min_size=1, max_size=3, unique=True)
            )
        return r

    policy = {
        "ztsim": 1,
        "kind": "policy",
        "name": "p",
        "segmentation": {
            "default": draw(st.sampled_from(["allow", "deny"])),
            "intra_zone": draw(st.sampled_from(["rules", "allow"])),
            "rules": [rule(draw, i, False) for i in range(draw(st.integers(0, 6)))],
        },
        "egress": {
            "default": draw(st.sampled_from(["allow", "deny"])),
            "rules": [rule(draw, i, True) for i in range(draw(st.integers(0, 3)))],
        },
    }
    topology = {
        "ztsim": 1,
        "kind": "topology",
        "name": "t",
        "zones": zones,
        "hosts": hosts,
        "external": dests,
    }
    return topology, policy


@pytest.mark.slow  # a property test (the quick loop stays under a minute)
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
def test_map_equals_the_naive_evaluation(scenario: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Both modes, every pair, every port that matters: the map is spec §4's."""
    topo, pol = scenario
    compare(topo, pol, all_ports=True)
    compare(topo, pol, all_ports=False)


# ------------------------------------------------------------------ reach and check agree

SCENARIOS = [
    (
        "topologies/pajemploi.yaml",
        ["policies/flat.yaml", "policies/segmented.yaml", "policies/zero-trust.yaml"],
    ),
    ("topologies/k8s-shop.yaml", ["policies/k8s-shop"]),
    ("topologies/corporate.yaml", ["policies/corporate"]),
]


@pytest.mark.parametrize(("topology", "policies"), SCENARIOS)
def test_reach_and_check_never_disagree(topology: str, policies: list[str]) -> None:
    """On the shipped scenarios, every pair and every service served: the map's verdict
    and deciding rule are ``check``'s (``CompiledPolicy.flow`` and ``.egress``), and
    --all-ports agrees with both on those services."""
    topo = load_topology(ROOT / topology)
    for pol in load_policies([ROOT / p for p in policies]):
        compiled = CompiledPolicy(pol, topo)
        served = {(c.source, c.target): c.allowed for c in reach_map(topo, pol).connections()}
        every = {
            (c.source, c.target): c.allowed
            for c in reach_map(topo, pol, all_ports=True).connections()
        }
        sources = [*topo.hosts, *sorted(topo.external_zones)]
        for s in sources:
            for d, host in topo.hosts.items():
                if s == d:
                    continue
                for offer in host.services:
                    decision = compiled.flow(s, d, offer.service)
                    proto, port = offer.service.split("/")[1], int(offer.service.split("/")[0])
                    have = served.get((s, d))
                    rule = _rule_at(have, proto, port) if have else None
                    assert rule == (decision.rule if decision.allowed else None), (s, d, offer)
                    if decision.allowed:  # public or not, --all-ports allows it too
                        assert _rule_at(every[(s, d)], proto, port) == decision.rule
            if s not in topo.hosts:
                continue
            for e, dest in topo.destinations.items():
                for service in dest.services:
                    decision = compiled.egress(s, e, service)
                    assert compiled._egress.first_match(s, e, service) == decision
                    proto, port = service.split("/")[1], int(service.split("/")[0])
                    have = served.get((s, e))
                    rule = _rule_at(have, proto, port) if have else None
                    assert rule == (decision.rule if decision.allowed else None), (s, e)


# ------------------------------------------------------------------ scope


def test_scope_selects_sources_and_destinations() -> None:
    """--from and --to keep exactly the pairs whose ends match (terms AND, options OR)."""
    topo = load_topology(ROOT / "topologies/pajemploi.yaml")
    (pol,) = load_policies([ROOT / "policies/segmented.yaml"])
    whole = list(reach_map(topo, pol).connections())
    scope = Scope.parse(["zone:dmz", "zone:internet"], ["zone:app,label:app=payroll-api"])
    part = list(reach_map(topo, pol, scope=scope).connections())
    dmz = {h for h, x in topo.hosts.items() if x.zone == "dmz"} | {"internet"}
    want = [
        c
        for c in whole
        if c.source in dmz
        and c.target in topo.hosts
        and topo.hosts[c.target].zone == "app"
        and topo.hosts[c.target].labels.get("app") == "payroll-api"
    ]
    assert part == want and part


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("zone", "is not KIND:VALUE"),
        ("zone:dmz,", "empty term"),
        ("colour:red", "is not KIND:VALUE"),
        ("label:tier", "write label:KEY=VALUE"),
        ("host:", "names no host"),
    ],
)
def test_bad_selectors_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EndpointSelector.parse(text)


def test_selectors_naming_nothing_are_refused() -> None:
    """A typo must not read as "nothing is allowed": unknown names and empty sides fail."""
    topo = load_topology(ROOT / "topologies/pajemploi.yaml")
    problems = Scope.parse(
        ["zone:dmzz", "external:c2", "zone:dmz,host:payroll-db"], ["zone:internet"]
    ).problems(topo)
    assert problems == [
        "--from 'zone:dmzz': no zone 'dmzz' in the topology",
        "--from 'external:c2' matches no source (a host or an external zone)",
        "--from 'zone:dmz,host:payroll-db' matches no source (a host or an external zone)",
        "--to 'zone:internet' matches no destination (a host or an external destination)",
    ]
