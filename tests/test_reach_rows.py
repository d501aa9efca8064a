"""``reach`` built per source row (``ztsim.engine.maprows``, ``ztsim.engine.connectivity``).

* The row sweeps against a first match worked out bit by bit: a shared base with
  the cells each extra takes (v1), each layer on its own then crossed (model v1.1).
* The map against the judges ``check`` runs (``CompiledPolicy.flow`` and
  ``.egress``) on every pair and service served, and against the spec's naive
  evaluator (``tests/test_reach.py``) on every port with ``--all-ports``: on estates
  with many rules of one label pair, with the threshold above which such rules are
  shared (``SHARED_MIN``) as shipped and at 1 (every pair's rules in the base);
  layered policies against the judges too.
* Rows shared by sources whose `from` matches the same rules; ``count`` and the DOT
  helpers read the rows without expanding them.
"""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_layers_property import estates
from test_reach import _probes, _rule_at, naive_egress, naive_flow

from ztsim.engine import reach as bulk_reach
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.connectivity import PolicyMap, reach_map
from ztsim.engine.decisions import Decision
from ztsim.engine.layers import LayerPlan
from ztsim.engine.mapcells import Cells
from ztsim.engine.maprows import INTRA_ZONE, Base, bit_indices, layered_part, row_part
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.schema import Policy, Topology

EXAMPLES = int(os.environ.get("ZTSIM_PROPERTY_EXAMPLES", "150"))
_SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
CELLS = 12

# ------------------------------------------------------------------ the sweeps


@st.composite
def sweeps(draw: st.DrawFn) -> tuple[list[int], list[bool], list[int], list[int], int, int, bool]:
    """Rule masks over a few cells, their actions, a split into base and extras, the
    cells the source may reach, the intra-zone cells and the default."""
    n = draw(st.integers(0, 10))
    masks = [draw(st.integers(0, (1 << CELLS) - 1)) for _ in range(n)]
    allows = [draw(st.booleans()) for _ in range(n)]
    in_base = [draw(st.booleans()) for _ in range(n)]
    base = [i for i in range(n) if in_base[i]]
    extras = [i for i in range(n) if not in_base[i]]
    start = draw(st.integers(0, (1 << CELLS) - 1))
    intra = draw(st.sampled_from([0, draw(st.integers(0, (1 << CELLS) - 1))]))
    return masks, allows, base, extras, start, intra, draw(st.booleans())


@_SETTINGS
@given(sweeps())
def test_a_row_is_the_first_match_of_base_and_extras(
    case: tuple[list[int], list[bool], list[int], list[int], int, int, bool],
) -> None:
    """Per cell: left out unless in ``start``; ``intra_zone`` first; then the first rule
    of base and extras together, in rule order; else the default."""
    masks, allows, base_rules, extras, start, intra, default_allow = case
    decisions = [Decision(a, f"r{i}", "rule") for i, a in enumerate(allows)]
    default = Decision(default_allow, "default", "default")
    full = (1 << CELLS) - 1
    base = Base(base_rules, masks, full, CELLS, decisions.__getitem__, default)
    part = row_part(base, extras, masks, decisions.__getitem__, start, full, intra)
    want: list[Decision | None] = []
    for c in range(CELLS):
        d: Decision | None = None
        if start >> c & 1:
            if intra >> c & 1:
                d = INTRA_ZONE
            else:
                first = next((i for i in range(len(masks)) if masks[i] >> c & 1), None)
                d = default if first is None else decisions[first]
        want.append(d if d is not None and d.allowed else None)
    assert part.decisions() == want
    got: list[Decision | None] = [None] * CELLS
    for d, bits in part.items():  # disjoint, none empty
        assert bits
        for c in bit_indices(bits):
            assert got[c] is None
            got[c] = d
    assert got == want
    assert part.allowed == sum(1 << c for c in range(CELLS) if want[c] is not None)


@st.composite
def layered_sweeps(
    draw: st.DrawFn,
) -> tuple[LayerPlan, list[tuple[int, int]], int, int]:
    """A plan of one to three layers of tiers with pass, its rules' masks, a start and
    intra-zone cells."""
    placed = []
    defaults = []
    tiers = 0
    for layer in range(draw(st.integers(1, 3))):
        defaults.append(draw(st.booleans()))
        for _ in range(draw(st.integers(1, 3))):
            for _ in range(draw(st.integers(0, 3))):
                action = draw(st.sampled_from(["allow", "deny", "pass"]))
                placed.append((layer, tiers, action, f"r{len(placed)}"))
            tiers += 1
    plan = LayerPlan("segmentation", [f"l{k}" for k in range(len(defaults))], defaults, placed)
    hits = [
        (i, draw(st.integers(0, (1 << CELLS) - 1)))
        for i in range(len(placed))
        if draw(st.booleans())
    ]
    start = draw(st.integers(0, (1 << CELLS) - 1))
    intra = draw(st.sampled_from([0, draw(st.integers(0, (1 << CELLS) - 1))]))
    return plan, hits, start, intra


@_SETTINGS
@given(layered_sweeps())
def test_a_layered_row_is_each_cells_plan_decision(
    case: tuple[LayerPlan, list[tuple[int, int]], int, int],
) -> None:
    """Per cell: ``LayerPlan.decide`` on the rules matching it (what a single flow gets)."""
    plan, hits, start, intra = case
    part = layered_part(plan, hits, start, intra, CELLS)
    for c in range(CELLS):
        want: Decision | None = None
        if start >> c & 1:
            if intra >> c & 1:
                want = INTRA_ZONE
            else:
                d = plan.decide([i for i, m in hits if m >> c & 1])
                want = d if d.allowed else None
        assert part.decisions()[c] == want, c


# ------------------------------------------------------------------ the map


@st.composite
def estates_of_many_rules(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Zones, an external zone (with a host in it at times), hosts with two labels and
    a few services, external destinations; up to 40 rules, most of whose `from` is a
    single label pair (shared by many classes), the rest a zone, a host, a zone with a
    label or anything; both defaults, both ``intra_zone``."""
    zones = ["z0", "z1", "z2"]
    n = draw(st.integers(1, 8))
    services = ["22/tcp", "80/tcp", "443/tcp", "53/udp", "8080/tcp"]
    hosts = [
        {
            "id": f"h{i}",
            "zone": draw(st.sampled_from([*zones, "net"])),
            "labels": {
                "tier": draw(st.sampled_from(["web", "db"])),
                "app": draw(st.sampled_from(["a", "b", "c"])),
            },
            "services": [
                {"service": s, "public": draw(st.booleans())}
                for s in draw(st.lists(st.sampled_from(services), max_size=3, unique=True))
            ],
        }
        for i in range(n)
    ]
    ids = [h["id"] for h in hosts]

    def selector(d: st.DrawFn) -> dict[str, Any]:
        kind = d(st.integers(0, 9))
        if kind <= 4:
            return {"labels": {d(st.sampled_from(["tier", "app"])): "web" if kind < 2 else "a"}}
        if kind == 5:
            return {"zone": [d(st.sampled_from([*zones, "net"]))]}
        if kind == 6:
            return {"host": [d(st.sampled_from(ids))]}
        if kind == 7:
            return {"zone": [d(st.sampled_from(zones))], "labels": {"app": "b"}}
        return {}

    ranges = ["22/tcp", "80/tcp", "0-1023/tcp", "53/udp", "any", "400-9000/tcp", "1-65535/udp"]
    rules = []
    for i in range(draw(st.integers(0, 40))):
        r: dict[str, Any] = {
            "id": f"r{i}",
            "action": draw(st.sampled_from(["allow", "allow", "deny"])),
            "from": selector(draw),
            "to": selector(draw),
        }
        if draw(st.booleans()):
            r["services"] = draw(st.lists(st.sampled_from(ranges), min_size=1, max_size=2))
        rules.append(r)
    egress = [
        {
            "id": f"e{i}",
            "action": draw(st.sampled_from(["allow", "deny"])),
            "from": selector(draw),
            "to": [draw(st.sampled_from(["*", "a.example", "*.example"]))],
        }
        for i in range(draw(st.integers(0, 4)))
    ]
    topology = {
        "ztsim": 1,
        "kind": "topology",
        "name": "t",
        "zones": [{"id": z} for z in zones] + [{"id": "net", "external": True}],
        "hosts": hosts,
        "external": [
            {"id": "x0", "fqdn": "a.example", "services": ["443/tcp", "53/udp"]},
            {"id": "x1", "fqdn": "b.other", "services": ["80/tcp"]},
        ],
    }
    policy = {
        "ztsim": 1,
        "kind": "policy",
        "name": "p",
        "segmentation": {
            "default": draw(st.sampled_from(["allow", "deny"])),
            "intra_zone": draw(st.sampled_from(["rules", "allow"])),
            "rules": rules,
        },
        "egress": {"default": draw(st.sampled_from(["allow", "deny"])), "rules": egress},
    }
    return topology, policy


def _loaded(topo: dict[str, Any], pol: dict[str, Any]) -> tuple[LoadedTopology, LoadedPolicy]:
    return (
        LoadedTopology(Topology.model_validate(topo), "t.yaml"),
        LoadedPolicy(Policy.model_validate(pol), "p.yaml"),
    )


def check_served(lt: LoadedTopology, lp: LoadedPolicy) -> PolicyMap:
    """The default map equals the judges' decisions on every pair and service served."""
    m = reach_map(lt, lp)
    got = {(c.source, c.target): c.allowed for c in m.connections()}
    compiled = CompiledPolicy(lp, lt)
    expected = set()
    for s in [*lt.hosts, *sorted(lt.external_zones)]:
        for d, host in lt.hosts.items():
            if s == d:
                continue
            for offer in host.services:
                decision = compiled.flow(s, d, offer.service)
                port, proto = offer.service.split("/")
                have = got.get((s, d))
                rule = _rule_at(have, proto, int(port)) if have else None
                assert rule == (decision.rule if decision.allowed else None), (s, d, offer)
                if decision.allowed:
                    expected.add((s, d))
        if s in lt.hosts:
            for e, dest in lt.destinations.items():
                for service in dest.services:
                    decision = compiled.egress(s, e, service)
                    port, proto = service.split("/")
                    have = got.get((s, e))
                    rule = _rule_at(have, proto, int(port)) if have else None
                    assert rule == (decision.rule if decision.allowed else None), (s, e)
                    if decision.allowed:
                        expected.add((s, e))
    assert set(got) == expected
    _check_reading(lt, m, got)
    return m


def _check_reading(lt: LoadedTopology, m: PolicyMap, got: dict[tuple[str, str], Any]) -> None:
    """``count``, ``connected`` and ``externals`` agree with the connections listed."""
    assert m.count() == len(got)
    for s in m.sources:
        assert m.connected(s) == any(a == s for a, _ in got), s
    assert m.externals() == {d for _, d in got if d in lt.destinations}


def check_all_ports(topo: dict[str, Any], pol: dict[str, Any]) -> None:
    """``--all-ports`` equals the spec's naive evaluation on every port that matters."""
    lt, lp = _loaded(topo, pol)
    m = reach_map(lt, lp, all_ports=True)
    got = {(c.source, c.target): c.allowed for c in m.connections()}
    probes = _probes(topo, pol)
    hosts = [h["id"] for h in topo["hosts"]]
    sources = hosts + [z["id"] for z in topo["zones"] if z.get("external")]
    pairs = [(s, d, naive_flow) for s in sources for d in hosts if s != d]
    pairs += [(s, x["id"], naive_egress) for s in hosts for x in topo["external"]]
    for s, d, naive in pairs:
        allowed = got.get((s, d))
        for proto, port in probes:
            want = naive(topo, pol, s, d, proto, port, all_ports=True)
            have = None if allowed is None else _rule_at(allowed, proto, port)
            assert have == want, (s, d, proto, port)
    _check_reading(lt, m, got)


@pytest.mark.slow  # property tests (the quick loop stays under a minute)
@_SETTINGS
@given(estates_of_many_rules(), st.sampled_from([1, bulk_reach.SHARED_MIN]))
def test_map_of_many_rules_equals_the_judges(
    estate: tuple[dict[str, Any], dict[str, Any]], shared_min: int
) -> None:
    """Both modes, with rules shared from one of a pair on (every pair's rules swept
    in a base) and from the shipped threshold on."""
    topo, pol = estate
    with mock.patch.object(bulk_reach, "SHARED_MIN", shared_min):
        check_served(*_loaded(topo, pol))
        check_all_ports(topo, pol)


@pytest.mark.slow
@_SETTINGS
@given(estates())
def test_layered_map_equals_the_judges(estate: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """Model v1.1 layers, tiers and pass, services served: every pair as ``check``
    judges it (``--all-ports`` is compared in ``tests/test_layers_property.py``)."""
    check_served(*_loaded(*estate))


# ------------------------------------------------------------------ rows


def _topology(hosts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "ztsim": 1,
        "kind": "topology",
        "name": "t",
        "zones": [{"id": "a"}, {"id": "b"}, {"id": "net", "external": True}],
        "hosts": hosts,
    }


def test_sources_matching_the_same_rules_share_a_row() -> None:
    """x and y are told apart by a selector (app=1 in zone b) that matches neither of
    them: one row; z, which it matches, has its own."""
    topo = _topology(
        [
            {"id": "x", "zone": "a", "labels": {"app": "1"}, "services": [{"service": "22/tcp"}]},
            {"id": "y", "zone": "a", "labels": {"app": "2"}, "services": [{"service": "22/tcp"}]},
            {"id": "z", "zone": "b", "labels": {"app": "1"}, "services": [{"service": "22/tcp"}]},
        ]
    )
    pol = {
        "ztsim": 1,
        "kind": "policy",
        "name": "p",
        "segmentation": {
            "default": "deny",
            "rules": [
                {"id": "r0", "action": "allow", "from": {"zone": "b", "labels": {"app": "1"}}},
                {"id": "r1", "action": "allow", "from": {"labels": {"app": "2"}}},
            ],
        },
    }
    lt, lp = _loaded(topo, pol)
    m = check_served(lt, lp)
    compiled = CompiledPolicy(lp, lt)
    assert compiled.source_class("x") != compiled.source_class("y")
    assert m.sources["x"] != m.sources["y"]  # y matches r1
    pol["segmentation"]["rules"].pop()
    lt, lp = _loaded(topo, pol)
    m = check_served(lt, lp)
    assert m.sources["x"] == m.sources["y"] != m.sources["z"]


def test_count_and_dot_read_rows_without_expanding() -> None:
    """``count``, ``connected`` and ``externals`` never list a row's pairs."""
    topo = _topology(
        [
            {"id": f"h{i}", "zone": "ab"[i % 2], "services": [{"service": "22/tcp"}]}
            for i in range(6)
        ]
    )
    lt, lp = _loaded(topo, {"ztsim": 1, "kind": "policy", "name": "p"})
    m = reach_map(lt, lp)
    with mock.patch.object(Cells, "expand", side_effect=AssertionError("expanded")):
        assert m.count() == 30  # every host to every other, on 22/tcp
        assert all(m.connected(s) for s in lt.hosts)
        assert not m.connected("net")  # nothing public
    assert sum(1 for _ in m.connections()) == 30


def test_a_host_alone_in_its_class_is_left_out_of_its_own_row() -> None:
    """Two hosts of one class: each reaches the other, never itself; alone, nothing."""
    one = {"id": "a1", "zone": "a", "services": [{"service": "22/tcp"}]}
    lt, lp = _loaded(_topology([one]), {"ztsim": 1, "kind": "policy", "name": "p"})
    m = reach_map(lt, lp)
    assert m.count() == 0 and list(m.connections()) == [] and not m.connected("a1")
    two = {"id": "a2", "zone": "a", "services": [{"service": "22/tcp"}]}
    lt, lp = _loaded(_topology([one, two]), {"ztsim": 1, "kind": "policy", "name": "p"})
    m = reach_map(lt, lp)
    assert [(c.source, c.target) for c in m.connections()] == [("a1", "a2"), ("a2", "a1")]
    assert m.count() == 2
