"""Model v1.1 layers and tiers with ``pass``, and CIDR destinations, against a naive
evaluator of ``docs/model-v1.1.md`` sections 3 and 4 written here.

Random small topologies and random layered policies (tiers, ``pass``, defaults,
``intra_zone``), and egress to CIDR blocks walked address by address: single flows
(``CompiledPolicy.flow``/``egress``, compressed or not, with the deciding rule's
name), bulk reach (the fixpoint's bitsets) and ``reach --all-ports`` must agree.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reach import _covers, _fqdn, _rule_at, _sel_host, _sel_zone

from ztsim.engine.attack import AttackModel
from ztsim.engine.connectivity import PROTOCOLS, reach_map
from ztsim.engine.targets import iter_bits
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.schema import Policy, Topology

EXAMPLES = int(os.environ.get("ZTSIM_PROPERTY_EXAMPLES", "150"))
SERVICES = ["22/tcp", "53/udp", "80/tcp"]
BLOCKS = ["10.0.0.0/28", "10.0.0.16/28", "10.0.0.0/27", "10.0.0.8/29"]
PATTERNS = ["10.0.0.0/29", "10.0.0.8/29", "10.0.0.0/28", "10.0.0.16/30", "10.0.0.0/26"]

# ------------------------------------------------------------------ the naive evaluator


def _tiers(layer: dict[str, Any]) -> list[list[dict[str, Any]]]:
    if "tiers" in layer:
        return [t.get("rules", []) for t in layer["tiers"]]
    return [layer.get("rules", [])]


def layer_verdict(layer: dict[str, Any], match: Any) -> tuple[bool, str]:
    """Section 3 within a layer: tiers in order, first match, `pass` ends the tier."""
    for rules in _tiers(layer):
        for r in rules:
            if match(r):
                if r["action"] == "pass":
                    break
                return r["action"] == "allow", r["id"]
    return layer.get("default", "allow") == "allow", "default"


def layered(layers: list[dict[str, Any]], match: Any) -> tuple[bool, str]:
    """Across layers: allowed iff every layer allows; named as section 3 says."""
    verdicts = [(y["id"], *layer_verdict(y, match)) for y in layers]
    for lid, ok, rid in verdicts:
        if not ok:
            return False, f"{lid}/{rid}"
    return True, "+".join(f"{lid}/{rid}" for lid, _, rid in verdicts)


def naive_flow(
    topo: dict[str, Any],
    pol: dict[str, Any],
    src: str,
    dst: str,
    proto: str,
    port: int,
    *,
    all_ports: bool,
) -> tuple[bool, str]:
    hosts = {h["id"]: h for h in topo["hosts"]}
    external = {z["id"] for z in topo["zones"] if z.get("external")}
    d = hosts[dst]
    seg = pol["segmentation"]
    if not all_ports:
        offer = [s for s in d.get("services", []) if s["service"] == f"{port}/{proto}"]
        if not offer or (src in external and not offer[0].get("public", False)):
            return False, "topology"
    s = hosts.get(src)
    if s is not None and src == dst:
        return True, "self"
    if s is not None and seg.get("intra_zone") == "allow" and s["zone"] == d["zone"]:
        return True, "intra_zone"

    def match(r: dict[str, Any]) -> bool:
        ok_from = _sel_zone(r.get("from"), src) if s is None else _sel_host(r.get("from"), s)
        return ok_from and _sel_host(r.get("to"), d) and _covers(r.get("services"), proto, port)

    return layered(seg["layers"], match)


def _addresses(text: str) -> set[int]:
    net = ipaddress.ip_network(text)
    return set(range(int(net.network_address), int(net.broadcast_address) + 1))


def _pattern_addresses(p: Any) -> set[int] | None:
    """The addresses a `to` pattern covers (None: a name pattern)."""
    if isinstance(p, dict):
        out = _addresses(p["cidr"])
        for e in p.get("except", []):
            out -= _addresses(e)
        return out
    if "/" in p:
        return _addresses(p)
    return None


def naive_egress(
    topo: dict[str, Any],
    pol: dict[str, Any],
    src: str,
    dst: str,
    proto: str,
    port: int,
    *,
    all_ports: bool,
) -> tuple[bool, str]:
    """Section 4: a block's every address walked alone; allowed iff some address is
    allowed by every layer; the names as the doc says."""
    s = next(h for h in topo["hosts"] if h["id"] == src)
    e = next(x for x in topo["external"] if x["id"] == dst)
    if not all_ports and f"{port}/{proto}" not in e.get("services", ["443/tcp"]):
        return False, "topology"
    egress = pol["egress"]
    layers = egress.get("layers") or [
        {"id": None, "default": egress.get("default", "allow"), "rules": egress.get("rules", [])}
    ]
    points = _addresses(e["cidr"]) if "cidr" in e else {0}

    def covers(r: dict[str, Any], a: int) -> bool:
        for p in r.get("to", ["*"]):
            if p == "*":
                return True
            got = _pattern_addresses(p)
            if "cidr" in e and got is not None and a in got:
                return True
            if "fqdn" in e and got is None and _fqdn(p, e["fqdn"]):
                return True
        return False

    def verdicts(layer: dict[str, Any], a: int) -> tuple[bool, str]:
        return layer_verdict(
            layer,
            lambda r: (
                _sel_host(r.get("from"), s)
                and _covers(r.get("services"), proto, port)
                and covers(r, a)
            ),
        )

    order = {
        id(layer): {r["id"]: k for k, r in enumerate(x for t in _tiers(layer) for x in t)}
        for layer in layers
    }
    running = set(points)
    for layer in layers:
        per = {a: verdicts(layer, a) for a in running}
        allowed = {a for a, (ok, _) in per.items() if ok}
        if not allowed:
            denying = [rid for ok, rid in per.values() if rid != "default"]
            rid = min(denying, key=order[id(layer)].__getitem__) if denying else "default"
            return False, rid if layer["id"] is None else f"{layer['id']}/{rid}"
        running = allowed
    names = []
    for layer in layers:
        rids = [verdicts(layer, a)[1] for a in running]
        rules = [r for r in rids if r != "default"]
        rid = min(rules, key=order[id(layer)].__getitem__) if rules else "default"
        names.append(rid if layer["id"] is None else f"{layer['id']}/{rid}")
    return True, "+".join(names)


# ------------------------------------------------------------------ random estates


@st.composite
def estates(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    hosts = []
    for i in range(draw(st.integers(2, 5))):
        hosts.append(
            {
                "id": f"h{i}",
                "zone": draw(st.sampled_from(["z0", "z1"])),
                "labels": {"app": draw(st.sampled_from(["a", "b"]))} if draw(st.booleans()) else {},
                "services": [
                    {"service": s, "public": draw(st.booleans())}
                    for s in SERVICES
                    if draw(st.booleans())
                ]
                or [{"service": "22/tcp"}],
                "vulnerabilities": [{"id": f"CVE-{i}", "service": "22/tcp"}]
                if draw(st.booleans())
                else [],
            }
        )
    for h in hosts:  # the attack target must be served
        if h["vulnerabilities"] and all(s["service"] != "22/tcp" for s in h["services"]):
            h["services"].append({"service": "22/tcp"})
    external = [
        {"id": f"x{i}", "cidr": b, "services": ["443/tcp", "53/udp"]}
        for i, b in enumerate(draw(st.lists(st.sampled_from(BLOCKS), max_size=2, unique=True)))
    ]
    external.append({"id": "named", "fqdn": "a.example", "services": ["443/tcp"]})
    topo = {
        "ztsim": 1,
        "kind": "topology",
        "name": "t",
        "zones": [{"id": "z0"}, {"id": "z1"}, {"id": "out", "external": True}],
        "hosts": hosts,
        "external": external,
    }
    ids = iter(range(1000))

    def selector() -> Any:
        kind = draw(st.integers(0, 4))
        if kind == 0:
            return {}
        if kind == 1:
            return {"zone": draw(st.sampled_from(["z0", "z1", "out"]))}
        if kind == 2:
            return {"labels": {"app": draw(st.sampled_from(["a", "b"]))}}
        if kind == 3:
            return {"host": draw(st.sampled_from([h["id"] for h in hosts]))}
        return {"zone": "z0", "labels": {"app": "a"}}

    def rule(egress: bool) -> dict[str, Any]:
        r: dict[str, Any] = {
            "id": f"r{next(ids)}",
            "action": draw(st.sampled_from(["allow", "deny", "pass"])),
        }
        if draw(st.booleans()):
            r["from"] = selector()
        if not egress and draw(st.booleans()):
            r["to"] = selector()
        if egress and draw(st.booleans()):
            to: list[Any] = []
            for _ in range(draw(st.integers(1, 2))):
                k = draw(st.integers(0, 3))
                if k == 0:
                    to.append("*")
                elif k == 1:
                    to.append(draw(st.sampled_from(["a.example", "*.example", "b.example"])))
                elif k == 2:
                    to.append(draw(st.sampled_from(PATTERNS)))
                else:
                    to.append(
                        {"cidr": "10.0.0.0/27", "except": [draw(st.sampled_from(PATTERNS[:4]))]}
                    )
            r["to"] = to
        if draw(st.booleans()):
            r["services"] = [draw(st.sampled_from([*SERVICES, "1-60/tcp", "443/tcp", "53/udp"]))]
        return r

    def layers(egress: bool) -> list[dict[str, Any]]:
        out = []
        for i in range(draw(st.integers(1, 3))):
            layer: dict[str, Any] = {
                "id": f"L{i}",
                "default": draw(st.sampled_from(["allow", "deny"])),
            }
            if draw(st.booleans()):
                layer["rules"] = [
                    {**rule(egress), "action": draw(st.sampled_from(["allow", "deny"]))}
                    for _ in range(draw(st.integers(0, 3)))
                ]
            else:
                layer["tiers"] = [
                    {"id": f"t{j}", "rules": [rule(egress) for _ in range(draw(st.integers(0, 3)))]}
                    for j in range(draw(st.integers(1, 3)))
                ]
            out.append(layer)
        return out

    seg: dict[str, Any] = {"layers": layers(False)}
    if draw(st.booleans()):
        seg["intra_zone"] = "allow"
    if draw(st.booleans()):
        egress: dict[str, Any] = {"layers": layers(True)}
    else:
        egress = {
            "default": draw(st.sampled_from(["allow", "deny"])),
            "rules": [
                {**rule(True), "action": draw(st.sampled_from(["allow", "deny"]))}
                for _ in range(draw(st.integers(0, 3)))
            ],
        }
    pol = {"ztsim": 1, "kind": "policy", "name": "p", "segmentation": seg, "egress": egress}
    return topo, pol


def _loaded(topo: dict[str, Any], pol: dict[str, Any]) -> tuple[LoadedTopology, LoadedPolicy]:
    return (
        LoadedTopology(Topology.model_validate(topo), "t.yaml"),
        LoadedPolicy(Policy.model_validate(pol), "p.yaml"),
    )


_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("ZTSIM_PROPERTY_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
)


@_SETTINGS
@given(estates())
def test_single_and_bulk_match_the_naive_evaluator(
    estate: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """``flow``, ``egress`` (with the deciding rule's name) and bulk ``reach``,
    with and without compression."""
    topo, pol = estate
    lt, lp = _loaded(topo, pol)
    model = AttackModel(lt)
    hosts = [h["id"] for h in topo["hosts"]]
    for compress in (True, False):
        c = model.compile(lp, compress=compress)
        for src in [*hosts, "out"]:
            reached = {
                (h, c.targets.keys[g][1])
                for g in iter_bits(c.reach(src))
                for h in c.targets.members[g]
            }
            for dst in hosts:
                for svc in SERVICES:
                    port, proto = svc.split("/")
                    want = naive_flow(topo, pol, src, dst, proto, int(port), all_ports=False)
                    got = c.flow(src, dst, svc)
                    assert (got.allowed, got.rule) == want, (src, dst, svc)
                    if (
                        svc == "22/tcp"
                        and dst != src
                        and any(h["id"] == dst and h["vulnerabilities"] for h in topo["hosts"])
                    ):
                        assert ((dst, svc) in reached) == want[0], (src, dst)
        for h in hosts:
            for x in topo["external"]:
                for svc in ("443/tcp", "53/udp"):
                    port, proto = svc.split("/")
                    want = naive_egress(topo, pol, h, x["id"], proto, int(port), all_ports=False)
                    got = c.egress(h, x["id"], svc)
                    assert (got.allowed, got.rule) == want, (h, x["id"], svc)


@_SETTINGS
@given(estates())
def test_reach_all_ports_matches_the_naive_evaluator(
    estate: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """``reach --all-ports``: every probed port of every pair, with its rule."""
    topo, pol = estate
    lt, lp = _loaded(topo, pol)
    got = {(c.source, c.target): c.allowed for c in reach_map(lt, lp, all_ports=True).connections()}
    ports = sorted({0, 1, 21, 22, 23, 52, 53, 54, 59, 60, 61, 79, 80, 81, 442, 443, 444, 65535})
    hosts = [h["id"] for h in topo["hosts"]]
    pairs = [(s, d, naive_flow) for s in [*hosts, "out"] for d in hosts if s != d]
    pairs += [(s, x["id"], naive_egress) for s in hosts for x in topo["external"]]
    for s, d, naive in pairs:
        allowed = got.get((s, d))
        for proto in PROTOCOLS:
            for port in ports:
                ok, rule = naive(topo, pol, s, d, proto, port, all_ports=True)
                have = None if allowed is None else _rule_at(allowed, proto, port)
                assert have == (rule if ok else None), (s, d, proto, port)
