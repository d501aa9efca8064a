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

from ztsim.engine.attack import AttackModel
from ztsim.engine.fixpoint import goal_facts, solve
from ztsim.engine.targets import TargetLayout, iter_bits, target_layout
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology, reference_policy
from ztsim.inputs.loader import policy_from_text, topology_from_text


def _with_twins(topo: dict[str, Any]) -> dict[str, Any]:
    """Add a look-alike of every host that holds no data (same zone, labels, services,
    vulnerabilities, logins and stored credentials): interchangeable unless a policy
    names one of them; and one in the next internal zone, interchangeable under a
    policy that names no zone (zone-blind) unless sniffing tells the zones apart."""
    out = copy.deepcopy(topo)
    zones = [z["id"] for z in out["zones"] if not z.get("external")]
    twins = []
    for h in out["hosts"]:
        if h.get("data"):
            continue
        twins.append({**copy.deepcopy(h), "id": f"{h['id']}-twin"})
        if len(zones) > 1 and h["zone"] in zones:
            far = zones[(zones.index(h["zone"]) + 1) % len(zones)]
            # Sorted before the original: the representative of a zone-blind class.
            twins.append({**copy.deepcopy(h), "id": f"0-{h['id']}", "zone": far})
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
    # Facts about no host in particular (credentials, data, goals, zones) are all
    # derived, at equal costs: a representative misses nothing its look-alikes give.
    glob = ("cred", "data", "exfil", "tamper", "zone")
    assert {f: c for f, c in a.cost.items() if f[0] in glob} == {
        f: c for f, c in b.cost.items() if f[0] in glob
    }
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


def _two_zone_twins() -> LoadedTopology:
    """Look-alike hosts in two zones, reachable from the internet through ``w0``."""
    hosts = [
        {
            "id": f"w{i}",
            "zone": ("a", "b")[i % 2],
            "services": [{"service": "22/tcp", "public": i == 0}],
            "vulnerabilities": [{"id": "v", "service": "22/tcp"}],
        }
        for i in range(6)
    ]
    return topology_from_text(
        _dump(
            {
                "ztsim": 1,
                "kind": "topology",
                "name": "two-zones",
                "zones": [{"id": "internet", "external": True}, {"id": "a"}, {"id": "b"}],
                "hosts": hosts,
                "entry_points": [{"id": "e", "zone": "internet"}],
            }
        )
    )


POLICY = "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  default: allow\n"


def test_a_policy_that_names_no_zone_groups_hosts_across_zones() -> None:
    """Zone-blind: one class and one representative for the look-alikes of both zones;
    a policy naming a zone keeps one per zone.  Both agree with no compression."""
    topo = _two_zone_twins()
    model = AttackModel(topo)
    blind = model.compile(reference_policy())
    assert [len(r) for r in blind.targets.representatives] == [1, 1]  # private, public w0
    labels_only = policy_from_text(
        POLICY + "  rules:\n    - {id: r, action: deny, to: {labels: {x: y}}}\n"
    )
    assert [len(r) for r in model.compile(labels_only).targets.representatives] == [1, 1]
    for zoned in (
        POLICY + "  rules:\n    - {id: r, action: deny, from: {zone: b}}\n",
        POLICY + "  intra_zone: allow\n",
        POLICY + "egress:\n  rules:\n    - {id: e, action: deny, from: {zone: a}}\n",
    ):
        compiled = model.compile(policy_from_text(zoned))
        assert sorted(len(r) for r in compiled.targets.representatives) == [1, 1, 1], zoned
    for pol in (reference_policy(), labels_only, policy_from_text(zoned)):
        _agree(topo, pol)


def test_look_alikes_in_a_zone_with_sniffable_traffic_stay_apart() -> None:
    """Rule 6: root on a host sniffs the flows of its own zone.  Under a policy that
    names no zone, look-alikes of two zones still differ when one zone carries a
    credential over the wire: the one there must be expanded (here, the only way in)."""
    exposed = {"services": [{"service": "22/tcp", "public": True}]}
    hosts = [
        {
            "id": "w1",
            "zone": "b",
            **exposed,
            "vulnerabilities": [{"id": "v", "service": "22/tcp", "gives": "root"}],
        },
        {
            "id": "w2",
            "zone": "a",
            **exposed,
            "vulnerabilities": [{"id": "v", "service": "22/tcp", "gives": "root"}],
        },
        {"id": "app", "zone": "a"},
        {
            "id": "db",
            "zone": "a",
            "services": [{"service": "5432/tcp"}],
            "logins": [{"credential": "dbcred", "service": "5432/tcp"}],
            "data": [{"id": "records", "records": 10}],
        },
    ]
    topo = topology_from_text(
        _dump(
            {
                "ztsim": 1,
                "kind": "topology",
                "name": "sniff",
                "zones": [{"id": "internet", "external": True}, {"id": "a"}, {"id": "b"}],
                "credentials": [{"id": "dbcred"}],
                "hosts": hosts,
                "external": [{"id": "c2", "fqdn": "c2.example", "role": "c2"}],
                "traffic": [
                    {"from": "app", "to": "db", "service": "5432/tcp", "credential": "dbcred"}
                ],
                "entry_points": [{"id": "e", "zone": "internet"}],
            }
        )
    )
    model = AttackModel(topo)
    sol = solve(model, model.compile(reference_policy()))
    assert sol.reachable(("exfil", "records"))
    _agree(topo, reference_policy())


def test_a_zone_named_by_an_edit_is_not_reused_from_a_zone_blind_compilation() -> None:
    topo = _two_zone_twins()
    model = AttackModel(topo)
    before = model.compile(policy_from_text(POLICY + "  rules:\n    - {id: r, action: allow}\n"))
    solve(model, before)
    edited = policy_from_text(POLICY + "  rules:\n    - {id: r, action: deny, to: {zone: b}}\n")
    again, fresh = model.compile(edited, previous=before), model.compile(edited)
    assert not again.reused_targets
    assert solve(model, again).cost == solve(model, fresh).cost
    for src in [*sorted(topo.hosts), "internet"]:
        assert again.reach(src) == fresh.reach(src)
    # The other way round, a zone-blind edit of a zoned policy reuses the finer groups.
    back = model.compile(
        policy_from_text(POLICY + "  rules:\n    - {id: r, action: allow}\n"), previous=fresh
    )
    assert back.reused_targets  # more representatives than it needs: the same facts
    assert solve(model, back, exhaustive=True).cost == solve(model, before, exhaustive=True).cost


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


def _canonical_layout(layout: TargetLayout) -> tuple[Any, ...]:
    """A layout in a canonical order (groups by their first host, buckets by first
    host and service, twins by first host) and its signatures renumbered in that
    order: all that ``group_targets`` depends on."""
    numbers: dict[int, int] = {}
    out = []
    for group, buckets, twins in sorted(layout.groups, key=lambda g: min(b[2][0] for b in g[1])):
        ordered = sorted(twins, key=lambda t: t[1][0])
        out.append(
            (
                group,
                tuple(sorted(buckets, key=lambda b: (b[2][0], b[0]))),
                tuple((numbers.setdefault(n, len(numbers)), hosts) for n, hosts in ordered),
            )
        )
    return tuple(out), layout.loners


@SETTINGS
@given(twin_scenarios())
def test_the_models_layout_is_target_layout(sc: tuple[str, str]) -> None:
    """The model buckets its targets per host shape as target_layout does target by
    target: the same groups, buckets, twins and loners, hosts sorted (file order is
    not sorted: the twins' ``0-`` look-alikes come last)."""
    topo = topology_from_text(sc[0])
    model = AttackModel(topo)
    reference = target_layout(topo, model.targets, model.groups, model.signatures)
    assert _canonical_layout(model.layout) == _canonical_layout(reference)
    for layout in (model.layout, reference):
        for _, buckets, twins in layout.groups:
            assert all(list(hosts) == sorted(hosts) for *_, hosts in (*buckets, *twins))


@SETTINGS
@given(twin_scenarios())
def test_the_models_tables_are_the_hosts_lists(sc: tuple[str, str]) -> None:
    """The tables the model derives from host shapes (:attr:`AttackModel.shapes`) are
    what each host's own lists say, host by host."""
    topo = topology_from_text(sc[0])
    model = AttackModel(topo)
    m = topo.model
    vulns: dict[tuple[str, str], list[Any]] = {}
    logins: dict[tuple[str, str], list[Any]] = {}
    for h in m.hosts:
        for v in h.vulnerabilities:
            if not v.local:
                vulns.setdefault((h.id, str(v.service)), []).append(v)
        for lg in h.logins:
            logins.setdefault((h.id, lg.service), []).append(lg)
    assert {k: list(v) for k, v in model.vulns.items()} == vulns
    assert {k: list(v) for k, v in model.logins.items()} == logins
    assert model.local_vulns == {
        h.id: tuple(v for v in h.vulnerabilities if v.local)
        for h in m.hosts
        if any(v.local for v in h.vulnerabilities)
    }
    assert model.stores == {
        h.id: tuple((c.credential, c.requires) for c in h.credentials)
        for h in m.hosts
        if h.credentials
    }
    assert model.targets == tuple(sorted({*vulns, *logins}))
    own: dict[str, set[str]] = {}
    for host, svc in model.targets:
        own.setdefault(host, set()).add(svc)
    assert model.own_targets == {h: tuple(sorted(s)) for h, s in own.items()}
    apart = {t.source for t in m.traffic} | {t.to for t in m.traffic}
    apart |= {ep.host for ep in m.entry_points if ep.host is not None}
    apart |= {h.id for h in m.hosts if h.data}
    assert {h for h, sig in model.signatures.items() if sig is None} == apart & set(topo.hosts)
    assert {h for h, sig in model.signatures.items() if sig is not None} == set(own) - apart
