"""The class-compressed engine against the uncompressed one (issue 6).

The fast path groups hosts that no selector tells apart into equivalence classes,
expands interchangeable hosts once (representatives) and indexes rules by what
their ``from`` requires.  ``AttackModel.compile(policy, compress=False)`` turns
all of that off: every host is a class of its own and its own representative.
On random topologies, with look-alike twins added so that representatives
matter, both must agree on every goal (reachable or not, at what cost), on every
flow decision, and, solved exhaustively, on every fact.
"""

from __future__ import annotations

import copy
from typing import Any

# tests/ is not a package: pytest puts this folder on sys.path (rootdir-based "prepend").
from hypothesis import given
from hypothesis import strategies as st
from test_property import SETTINGS, _dump, policies, topologies

from ztsim.engine import AttackModel, goal_facts, solve
from ztsim.loader import (
    LoadedPolicy,
    LoadedTopology,
    policy_from_text,
    reference_policy,
    topology_from_text,
)
from ztsim.policy import iter_bits


def _with_twins(topo: dict[str, Any]) -> dict[str, Any]:
    """Add a look-alike of every host that holds no data (same zone, labels, services,
    vulnerabilities, logins and stored credentials): interchangeable unless a policy
    names one of them."""
    out = copy.deepcopy(topo)
    twins = [
        {**copy.deepcopy(h), "id": f"{h['id']}-twin"} for h in out["hosts"] if not h.get("data")
    ]
    out["hosts"].extend(twins)
    return out


@st.composite
def twin_scenarios(draw: st.DrawFn) -> tuple[str, str]:
    """A topology with twins and a policy drawn for it, as YAML text."""
    topo = _with_twins(draw(topologies()))
    return _dump(topo), _dump(draw(policies(topo)))


def _offered(topo: LoadedTopology) -> list[tuple[str, str]]:
    """Every (host, service) the topology offers, sorted."""
    return sorted((h.id, s.service) for h in topo.model.hosts for s in h.services)


def _agree(topo: LoadedTopology, pol: LoadedPolicy) -> None:
    model = AttackModel(topo)
    fast = model.compile(pol)
    slow = model.compile(pol, compress=False)
    # Flow decisions, host by host, and reach() against them.
    sources = sorted(topo.hosts) + sorted(topo.external_zones)
    for src in sources:
        for h, svc in _offered(topo):
            assert fast.flow(src, h, svc) == slow.flow(src, h, svc), (src, h, svc)
        for compiled in (fast, slow):
            tg = compiled.targets
            bits = set(iter_bits(compiled.reach(src)))
            for gi, members in enumerate(tg.members):
                for h in members:
                    if h != src:
                        allowed = compiled.flow(src, h, tg.keys[gi][1]).allowed
                        assert (gi in bits) is allowed, (src, h)
    # Goals: reachable under one iff under the other, at the same cost.
    a, b = solve(model, fast), solve(model, slow)
    for g in goal_facts(topo):
        assert a.reachable(g) == b.reachable(g), g
        assert a.cost.get(g) == b.cost.get(g), g
    # The compressed solve derives a subset (representatives only), at equal costs.
    assert set(a.cost) <= set(b.cost)
    assert all(a.cost[f] == b.cost[f] for f in a.cost)
    # Exhaustive: the same facts exactly.
    ea, eb = solve(model, fast, exhaustive=True), solve(model, slow, exhaustive=True)
    assert ea.cost == eb.cost


@SETTINGS
@given(twin_scenarios())
def test_compressed_engine_matches_uncompressed(sc: tuple[str, str]) -> None:
    """Class compression changes the work, never the answer."""
    topo = topology_from_text(sc[0])
    _agree(topo, policy_from_text(sc[1]))
    _agree(topo, reference_policy())


def test_twins_are_compressed() -> None:
    """The twins really share a class and only one of them is expanded."""
    topo = topology_from_text(
        _dump(
            {
                "ztsim": 1,
                "kind": "topology",
                "name": "twins",
                "zones": [{"id": "internet", "external": True}, {"id": "z"}],
                "hosts": [
                    {
                        "id": f"w{i}",
                        "zone": "z",
                        "services": [{"service": "22/tcp"}],
                        "vulnerabilities": [{"id": "v", "service": "22/tcp"}],
                    }
                    for i in range(5)
                ],
                "entry_points": [{"id": "e", "zone": "internet"}],
            }
        )
    )
    model = AttackModel(topo)
    fast = model.compile(reference_policy())
    slow = model.compile(reference_policy(), compress=False)
    assert [len(r) for r in fast.targets.representatives] == [1]
    assert len(slow.targets.keys) == 5
    _agree(topo, reference_policy())


@st.composite
def edited_scenarios(draw: st.DrawFn) -> tuple[str, str, str]:
    """A topology, a policy, and the policy with one segmentation rule's action flipped."""
    topo = _with_twins(draw(topologies()))
    pol = draw(policies(topo))
    rules = pol.get("segmentation", {}).get("rules", [])
    edited = copy.deepcopy(pol)
    if rules:
        i = draw(st.integers(0, len(rules) - 1))
        rule = edited["segmentation"]["rules"][i]
        rule["action"] = "deny" if rule["action"] == "allow" else "allow"
    return _dump(topo), _dump(pol), _dump(edited)


@SETTINGS
@given(edited_scenarios())
def test_recompile_after_an_edit_matches_a_fresh_compile(sc: tuple[str, str, str]) -> None:
    """Re-checks reuse the previous compilation's groups and unaffected decisions; the
    answers must be those of compiling the edited policy from scratch."""
    topo = topology_from_text(sc[0])
    model = AttackModel(topo)
    before = model.compile(policy_from_text(sc[1]))
    solve(model, before)  # fills the per-class memos the edit may inherit
    for src in sorted(topo.hosts) + sorted(topo.external_zones):
        before.reach(src)
    edited = policy_from_text(sc[2])
    again = model.compile(edited, previous=before)
    fresh = model.compile(edited)
    assert again.reused_targets
    for src in sorted(topo.hosts) + sorted(topo.external_zones):
        assert again.reach(src) == fresh.reach(src), src
        for h, svc in _offered(topo):
            assert again.flow(src, h, svc) == fresh.flow(src, h, svc), (src, h, svc)
    a, b = solve(model, again), solve(model, fresh)
    assert a.cost == b.cost


def _naive_groups(compiled: Any, model: AttackModel) -> tuple[list[Any], list[Any], list[Any]]:
    """Target groups the plain way, one target at a time in (host, service) order:
    keys in order of first target, members sorted, and the first host (by id) of each
    (source class, destination class, signature) as representative."""
    keys: list[Any] = []
    members: dict[Any, list[str]] = {}
    first: dict[Any, str] = {}
    reps: dict[Any, list[str]] = {}
    for host, svc in model.targets:
        offer = model.topology.hosts[host].offer(svc)
        if offer is None:
            continue
        key = (compiled.dest_class(host), svc, offer.public)
        if key not in members:
            keys.append(key)
            members[key], reps[key] = [], []
        members[key].append(host)
        sig = model.signatures.get(host)
        tag = (compiled.source_class(host), compiled.dest_class(host), sig)
        if sig is None or first.setdefault(tag, host) == host:
            reps[key].append(host)
    return keys, [members[k] for k in keys], [reps[k] for k in keys]


@SETTINGS
@given(twin_scenarios())
def test_bucketed_target_groups_match_a_naive_grouping(sc: tuple[str, str]) -> None:
    """Grouping by label-group buckets (TargetLayout) gives exactly the groups, order,
    members and representatives of grouping target by target."""
    topo = topology_from_text(sc[0])
    model = AttackModel(topo)
    for pol in (policy_from_text(sc[1]), reference_policy()):
        compiled = model.compile(pol)
        keys, members, reps = _naive_groups(compiled, model)
        tg = compiled.targets
        assert list(tg.keys) == keys
        assert [list(m) for m in tg.members] == members
        assert [list(r) for r in tg.representatives] == reps
