"""Bulk reach with shared rules swept once (``BulkReach._shared``, ``_Prefix``) against
the plain sweep of every candidate, on random policies whose `from` selectors are
often ``any`` or a single label pair: the same bitset for every source.

The thresholds are lowered so that small policies take the shared path (a prefix
from one shared rule, state kept after every one to three rules); the plain sweep
is itself checked against the spec in ``tests/test_property.py`` and
``tests/test_reach.py``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ztsim.engine import reach
from ztsim.engine.compiled import CompiledPolicy
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.schema import Policy, Topology

EXAMPLES = int(os.environ.get("ZTSIM_PROPERTY_EXAMPLES", "150"))

_SERVICES = ["22/tcp", "80/tcp", "443/tcp", "53/udp"]
_PAIRS = [{"tier": "a"}, {"tier": "b"}, {"app": "x"}, {"tier": "a", "app": "x"}]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """A topology of a few hosts and a policy of up to 30 rules, most of them shared."""
    zones = [{"id": "z1"}, {"id": "z2"}, {"id": "net", "external": True}]
    hosts = [
        {
            "id": f"h{i}",
            "zone": draw(st.sampled_from(["z1", "z2"])),
            "labels": draw(
                st.dictionaries(
                    st.sampled_from(["tier", "app"]), st.sampled_from(["a", "b", "x"]), max_size=2
                )
            ),
            "services": [
                {"service": s, "public": draw(st.booleans())}
                for s in draw(st.lists(st.sampled_from(_SERVICES), max_size=3, unique=True))
            ],
        }
        for i in range(draw(st.integers(1, 8)))
    ]
    ids = [h["id"] for h in hosts]
    source = st.one_of(
        st.just({}),
        st.sampled_from(_PAIRS).map(lambda p: {"labels": p}),
        st.sampled_from(["z1", "z2", "net"]).map(lambda z: {"zone": [z]}),
        st.sampled_from(ids).map(lambda h: {"host": [h]}),
        st.sampled_from(_PAIRS).map(lambda p: {"zone": ["z1"], "labels": p}),
    )
    target = st.one_of(
        st.just({}),
        st.sampled_from(_PAIRS).map(lambda p: {"labels": p}),
        st.sampled_from(["z1", "z2"]).map(lambda z: {"zone": [z]}),
        st.sampled_from(ids).map(lambda h: {"host": [h]}),
    )
    rules = []
    for i in range(draw(st.integers(0, 30))):
        r: dict[str, Any] = {
            "id": f"r{i}",
            "action": draw(st.sampled_from(["allow", "deny"])),
            "from": draw(source),
            "to": draw(target),
        }
        if draw(st.booleans()):
            r["services"] = draw(st.lists(st.sampled_from(_SERVICES), min_size=1, max_size=2))
        rules.append(r)
    policy = {
        "ztsim": 1,
        "kind": "policy",
        "name": "p",
        "segmentation": {
            "default": draw(st.sampled_from(["allow", "deny"])),
            "intra_zone": draw(st.sampled_from(["rules", "allow"])),
            "rules": rules,
        },
    }
    topology = {"ztsim": 1, "kind": "topology", "name": "t", "zones": zones, "hosts": hosts}
    return topology, policy


def _reach_all(topo: LoadedTopology, pol: LoadedPolicy, order: list[str]) -> dict[str, int]:
    """Every source's reach, every target a group of its own, asked in ``order``."""
    targets = [(h, s.service) for h, host in topo.hosts.items() for s in host.services]
    compiled = CompiledPolicy(pol, topo, targets=targets, compress=False)
    return {s: compiled.reach(s) for s in order}


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios(), st.integers(1, 3), st.integers(1, 3), st.randoms(use_true_random=False))
def test_shared_rules_swept_once_give_the_plain_reach(
    scenario: tuple[dict[str, Any], dict[str, Any]], least: int, step: int, rnd: Any
) -> None:
    """With shared rules (lowered thresholds) every source reaches what the plain
    sweep finds, in any order of asking (a prefix is built for the second class)."""
    topo_doc, pol_doc = scenario
    topo = LoadedTopology(Topology.model_validate(topo_doc), "t.yaml")
    pol = LoadedPolicy(Policy.model_validate(pol_doc), "p.yaml")
    order = [*topo.hosts, *sorted(topo.external_zones)]
    rnd.shuffle(order)
    saved = reach.SHARED_MIN, reach.PREFIX_STEP
    try:
        reach.SHARED_MIN = 10**9
        plain = _reach_all(topo, pol, order)
        reach.SHARED_MIN, reach.PREFIX_STEP = least, step
        shared = _reach_all(topo, pol, order)
    finally:
        reach.SHARED_MIN, reach.PREFIX_STEP = saved
    assert shared == plain


def test_the_shared_path_is_taken() -> None:
    """The test above exercises the shared sweep: with ten `any` rules and lowered
    thresholds, the second source class is swept through a prefix."""
    hosts = [{"id": f"h{i}", "zone": "z1", "labels": {"tier": "a"}} for i in range(3)]
    hosts[0]["services"] = [{"service": "22/tcp"}]
    rules = [{"id": "r0", "action": "deny", "from": {"host": ["h0"]}, "to": {}}]
    rules += [{"id": f"a{i}", "action": "allow", "from": {}, "to": {}} for i in range(10)]
    topo = LoadedTopology(
        Topology.model_validate(
            {"ztsim": 1, "kind": "topology", "name": "t", "zones": [{"id": "z1"}], "hosts": hosts}
        ),
        "t.yaml",
    )
    pol = LoadedPolicy(
        Policy.model_validate(
            {
                "ztsim": 1,
                "kind": "policy",
                "name": "p",
                "segmentation": {"default": "deny", "rules": rules},
            }
        ),
        "p.yaml",
    )
    saved = reach.SHARED_MIN
    try:
        reach.SHARED_MIN = 4
        compiled = CompiledPolicy(pol, topo, targets=[("h0", "22/tcp")], compress=False)
        assert [compiled.reach(h) for h in ("h0", "h1", "h2")] == [0, 1, 1]
        assert any(isinstance(p, reach._Prefix) for p in compiled._reach._prefixes.values())
    finally:
        reach.SHARED_MIN = saved


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
