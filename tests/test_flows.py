"""Flow and egress decisions, one test per rule of spec §4 (and what must not pass)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import compile_under, make_policy, make_topology

from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.targets import bitset_of, iter_bits
from ztsim.model.diagnostics import InputError
from ztsim.model.matching import fqdn_covers

# A small estate: two external zones, a DMZ with two web hosts told apart by labels,
# an app tier, a data tier; three external destinations.
BASE: dict[str, Any] = {
    "zones": [
        {"id": "internet", "external": True},
        {"id": "partners", "external": True},
        {"id": "dmz"},
        {"id": "app"},
        {"id": "data"},
    ],
    "hosts": [
        {
            "id": "web",
            "zone": "dmz",
            "labels": {"tier": "web", "env": "prod"},
            "services": [
                {"service": "443/tcp", "public": True},
                {"service": "22/tcp"},
            ],
        },
        {
            "id": "web2",
            "zone": "dmz",
            "labels": {"tier": "web", "env": "dev"},
            "services": [{"service": "443/tcp", "public": True}, {"service": "22/tcp"}],
        },
        {
            "id": "api",
            "zone": "app",
            "labels": {"tier": "api", "env": "prod"},
            "services": [
                {"service": "8443/tcp"},
                {"service": "9000/tcp"},
                {"service": "53/udp"},
            ],
        },
        {"id": "db", "zone": "data", "services": [{"service": "5432/tcp"}]},
    ],
    "external": [
        {"id": "c2", "fqdn": "c2.evil.example", "role": "c2"},
        {"id": "files", "fqdn": "*.files.example", "role": "web-service"},
        {"id": "bank", "fqdn": "api.bank.example", "services": ["443/tcp", "8443/tcp"]},
    ],
}


def compiled(policy: dict[str, Any] | None = None) -> CompiledPolicy:
    """BASE compiled under ``policy`` (the reference when None)."""
    return compile_under(make_topology(BASE), make_policy(policy))


def seg(*rules: dict[str, Any], default: str = "deny", intra: str = "rules") -> dict[str, Any]:
    """A policy with only a segmentation section."""
    return {"segmentation": {"default": default, "intra_zone": intra, "rules": list(rules)}}


def egr(*rules: dict[str, Any], default: str = "deny") -> dict[str, Any]:
    """A policy with only an egress section."""
    return {"egress": {"default": default, "rules": list(rules)}}


ALLOW_ALL = {"id": "allow-all", "action": "allow"}
DENY_ALL = {"id": "deny-all", "action": "deny"}


# --------------------------------------------------------------------------- rule 1


def test_destination_must_listen():
    """Rule 1: no allow rule opens a service the host does not offer."""
    for p in (compiled(), compiled(seg(ALLOW_ALL))):
        d = p.flow("web", "api", "1234/tcp")
        assert not d.allowed
        assert d.rule == "topology"
        assert d.reason == "topology"
    # same port, other protocol: not offered either
    assert not compiled().flow("web", "api", "9000/udp").allowed


# --------------------------------------------------------------------------- rule 2


def test_external_zone_reaches_only_public_services():
    """Rule 2: from outside, only public services, whatever the policy says."""
    everything = seg(
        {"id": "wide-open", "action": "allow", "from": {"zone": "internet"}, "to": "any"},
        default="allow",
    )
    for pol in (None, everything):
        p = compiled(pol)
        assert p.flow("internet", "web", "443/tcp").allowed
        d = p.flow("internet", "web", "22/tcp")
        assert (d.allowed, d.rule) == (False, "topology")
        assert p.flow("internet", "api", "8443/tcp").rule == "topology"
        assert not p.flow("partners", "db", "5432/tcp").allowed


def test_external_public_service_still_needs_the_policy():
    """Public is necessary, not sufficient: a deny default still denies it."""
    d = compiled(seg()).flow("internet", "web", "443/tcp")
    assert (d.allowed, d.rule, d.reason) == (False, "default", "default")


# --------------------------------------------------------------------------- rule 3


def test_self_is_always_allowed():
    """Rule 3: a host reaching itself, even with default deny and a deny-all rule first."""
    p = compiled(seg(DENY_ALL, default="deny"))
    d = p.flow("web", "web", "22/tcp")
    assert d.allowed
    assert (d.rule, d.reason) == ("self", "self")
    # ...but not a service it does not offer (rule 1 comes first)
    assert not p.flow("web", "web", "5432/tcp").allowed


# --------------------------------------------------------------------------- rule 4


def test_intra_zone_allow_skips_rules():
    """Rule 4: intra_zone allow lets same-zone flows through a deny-all rule."""
    p = compiled(seg(DENY_ALL, intra="allow"))
    d = p.flow("web", "web2", "22/tcp")
    assert d.allowed
    assert (d.rule, d.reason) == ("intra_zone", "intra_zone")
    # other zones still go through the rules
    assert p.flow("web", "api", "8443/tcp").rule == "deny-all"
    assert not p.flow("web", "api", "8443/tcp").allowed


def test_intra_zone_rules_applies_rules():
    """With ``intra_zone: rules`` (the default) same-zone flows meet the rules."""
    for pol in (seg(DENY_ALL, intra="rules"), {"segmentation": {"rules": [DENY_ALL]}}):
        d = compiled(pol).flow("web", "web2", "22/tcp")
        assert (d.allowed, d.rule, d.reason) == (False, "deny-all", "rule")


def test_intra_zone_allow_does_not_apply_to_external_sources():
    """An external zone is never "the same zone" as a host."""
    d = compiled(seg(intra="allow")).flow("internet", "web", "443/tcp")
    assert (d.allowed, d.rule) == (False, "default")


# --------------------------------------------------------------------------- rule 5


def test_first_match_wins_deny_before_allow():
    """Rule 5: an earlier deny beats a later allow."""
    p = compiled(
        seg(
            {"id": "no-api", "action": "deny", "from": {"zone": "dmz"}, "to": {"host": "api"}},
            ALLOW_ALL,
        )
    )
    d = p.flow("web", "api", "8443/tcp")
    assert (d.allowed, d.rule, d.reason) == (False, "no-api", "rule")
    assert p.flow("web", "db", "5432/tcp").rule == "allow-all"


def test_first_match_wins_allow_before_deny():
    """Rule 5: an earlier allow beats a later deny."""
    p = compiled(
        seg(
            {"id": "api-ok", "action": "allow", "from": {"zone": "dmz"}, "to": {"host": "api"}},
            DENY_ALL,
            default="allow",
        )
    )
    d = p.flow("web", "api", "8443/tcp")
    assert (d.allowed, d.rule) == (True, "api-ok")
    assert p.flow("web", "db", "5432/tcp").rule == "deny-all"


@pytest.mark.parametrize("default", ["allow", "deny"])
def test_default_decides_when_no_rule_matches(default: str):
    """Rule 5: with no matching rule, the default decides and is named."""
    p = compiled(seg({"id": "other", "action": "allow", "to": {"zone": "data"}}, default=default))
    d = p.flow("web", "api", "8443/tcp")
    assert (d.allowed, d.rule, d.reason) == (default == "allow", "default", "default")


def test_omitted_segmentation_section_allows():
    """An omitted segmentation section is ``default: allow`` with no rules."""
    d = compiled({"egress": {"default": "deny"}}).flow("web", "db", "5432/tcp")
    assert (d.allowed, d.rule) == (True, "default")


# --------------------------------------------------------------------------- selectors


def _allowed_sources(sel: Any) -> set[str]:
    """Hosts allowed to reach db:5432 under a single allow rule with ``from: sel``."""
    rule: dict[str, Any] = {"id": "r", "action": "allow", "services": ["5432/tcp"]}
    if sel is not ...:
        rule["from"] = sel
    p = compiled(seg(rule))
    return {h for h in ("web", "web2", "api") if p.flow(h, "db", "5432/tcp").allowed}


@pytest.mark.parametrize(
    ("sel", "expected"),
    [
        ({"zone": "dmz"}, {"web", "web2"}),
        ({"zone": "app"}, {"api"}),
        ({"host": "web2"}, {"web2"}),
        ({"host": ["web", "api"]}, {"web", "api"}),
        ({"labels": {"tier": "web"}}, {"web", "web2"}),
        ({"labels": {"tier": "web", "env": "prod"}}, {"web"}),  # all pairs must match
        ({"labels": {"env": "prod"}}, {"web", "api"}),
        ({"labels": {"tier": "web", "env": "staging"}}, set()),
        ({"zone": "dmz", "host": "api"}, set()),  # every key given must match
        ({"zone": "dmz", "labels": {"env": "dev"}}, {"web2"}),
        ("any", {"web", "web2", "api"}),
        ({}, {"web", "web2", "api"}),
        (..., {"web", "web2", "api"}),  # omitted
    ],
)
def test_source_selectors(sel: Any, expected: set[str]):
    """``from`` selectors: zone, host id, host list, labels (all pairs), any, {}, omitted."""
    assert _allowed_sources(sel) == expected


@pytest.mark.parametrize(
    ("sel", "expected"),
    [
        ({"zone": "dmz"}, {"web2"}),
        ({"host": "web2"}, {"web2"}),
        ({"host": ["web2", "api"]}, {"web2", "api"}),
        ({"host": ["db"]}, set()),
        ({"labels": {"tier": "web", "env": "dev"}}, {"web2"}),
        ({"labels": {"tier": "web", "env": "prod"}}, set()),  # web is the source (self)
        ("any", {"web2", "api"}),
        ({}, {"web2", "api"}),
        (..., {"web2", "api"}),
    ],
)
def test_destination_selectors(sel: Any, expected: set[str]):
    """``to`` selectors, from web to every other host on its first service."""
    rule: dict[str, Any] = {"id": "r", "action": "allow"}
    if sel is not ...:
        rule["to"] = sel
    p = compiled(seg(rule))
    got = {
        h for h, svc in (("web2", "22/tcp"), ("api", "8443/tcp")) if p.flow("web", h, svc).allowed
    }
    assert got == expected


@pytest.mark.parametrize(
    ("sel", "allowed"),
    [
        ({"zone": "internet"}, True),
        ({"zone": "partners"}, False),
        ("any", True),
        ({}, True),
        (..., True),
        ({"labels": {"tier": "web"}}, False),  # labels never match an external zone
        ({"host": "web"}, False),
        ({"zone": "internet", "labels": {"tier": "web"}}, False),
    ],
)
def test_only_zone_or_any_match_an_external_zone(sel: Any, allowed: bool):
    """A ``from`` with labels or hosts never matches a source standing in an external zone."""
    rule: dict[str, Any] = {"id": "in", "action": "allow", "to": {"host": "web"}}
    if sel is not ...:
        rule["from"] = sel
    d = compiled(seg(rule)).flow("internet", "web", "443/tcp")
    assert d.allowed is allowed
    assert d.rule == ("in" if allowed else "default")


def test_deny_by_labels_does_not_shield_external_sources():
    """A deny rule ``from: {labels: ...}`` cannot stop an external source (it does not match)."""
    p = compiled(
        seg({"id": "no-web", "action": "deny", "from": {"labels": {"tier": "web"}}}, ALLOW_ALL)
    )
    assert p.flow("internet", "web", "443/tcp").rule == "allow-all"
    assert p.flow("web2", "web", "443/tcp").rule == "no-web"


def test_empty_host_list_matches_no_host():
    """A deny rule ``to: {host: []}`` names no host: it must not deny everything."""
    try:
        p = compiled(seg({"id": "nobody", "action": "deny", "to": {"host": []}}, ALLOW_ALL))
    except InputError:
        return  # refusing the selector is fine too
    assert p.flow("web", "api", "8443/tcp").rule == "allow-all"


# --------------------------------------------------------------------------- services


@pytest.mark.parametrize(
    ("services", "port", "allowed"),
    [
        (["8000-8999/tcp"], "8443/tcp", True),
        (["8000-8999/tcp"], "9000/tcp", False),
        (["8000-9000/tcp"], "9000/tcp", True),  # bounds included
        (["9000/tcp"], "9000/tcp", True),
        (["any"], "53/udp", True),
        (None, "53/udp", True),  # omitted: any service
        (["53/tcp"], "53/udp", False),  # proto mismatch
        (["0-65535/tcp"], "53/udp", False),
        (["1-100/udp"], "53/udp", True),
        (["443/tcp", "50-60/udp"], "53/udp", True),
    ],
)
def test_rule_services(services: list[str] | None, port: str, allowed: bool):
    """Ranges ``LOW-HIGH/PROTO``, ``any``, omitted, and protocol mismatch."""
    rule: dict[str, Any] = {"id": "svc", "action": "allow", "to": {"host": "api"}}
    if services is not None:
        rule["services"] = services
    d = compiled(seg(rule)).flow("web", "api", port)
    assert d.allowed is allowed
    assert d.rule == ("svc" if allowed else "default")


# --------------------------------------------------------------------------- egress


def test_egress_first_match():
    """The first egress rule matching from, services and to decides."""
    p = compiled(
        egr(
            {"id": "no-c2", "action": "deny", "to": ["c2.evil.example"]},
            {"id": "all-out", "action": "allow"},
        )
    )
    d = p.egress("web", "c2", "443/tcp")
    assert (d.allowed, d.rule, d.section) == (False, "no-c2", "egress")
    assert p.egress("web", "files", "443/tcp").rule == "all-out"

    p = compiled(
        egr(
            {"id": "all-out", "action": "allow"},
            {"id": "no-c2", "action": "deny", "to": ["c2.evil.example"]},
        )
    )
    assert p.egress("web", "c2", "443/tcp").rule == "all-out"


def test_egress_from_selector():
    """``from`` narrows an egress rule to some hosts; the others fall to the default."""
    p = compiled(egr({"id": "app-out", "action": "allow", "from": {"labels": {"tier": "api"}}}))
    assert p.egress("api", "bank", "443/tcp").rule == "app-out"
    d = p.egress("web", "bank", "443/tcp")
    assert (d.allowed, d.rule) == (False, "default")


def test_egress_services():
    """Egress rule ``services`` are matched like segmentation ones."""
    p = compiled(egr({"id": "alt", "action": "allow", "services": ["8000-8999/tcp"]}))
    assert p.egress("web", "bank", "8443/tcp").allowed
    assert p.egress("web", "bank", "443/tcp").rule == "default"
    # a service the destination does not offer is decided by the topology
    d = p.egress("web", "c2", "8443/tcp")
    assert (d.allowed, d.rule) == (False, "topology")


@pytest.mark.parametrize(
    ("patterns", "dest", "allowed"),
    [
        (["c2.evil.example"], "c2", True),
        (["C2.Evil.Example"], "c2", True),  # case-insensitive
        (["*.example"], "c2", True),
        (["*.example"], "files", True),
        (["*.files.example"], "files", True),
        (["x.files.example"], "files", False),  # exact never covers a wildcard destination
        (["*.x.files.example"], "files", False),  # narrower wildcard does not either
        (["api.bank.example", "*.evil.example"], "c2", True),  # any pattern of the list
        (["api.bank.example"], "c2", False),
        (["*"], "files", True),
    ],
)
def test_egress_to_patterns(patterns: list[str], dest: str, allowed: bool):
    """``to`` patterns against destinations, through :meth:`CompiledPolicy.egress`."""
    p = compiled(egr({"id": "out", "action": "allow", "to": patterns}))
    d = p.egress("web", dest, "443/tcp")
    assert d.allowed is allowed
    assert d.rule == ("out" if allowed else "default")


def test_egress_to_omitted_is_everything():
    """An egress rule without ``to`` covers every destination, wildcards included."""
    p = compiled(egr({"id": "block", "action": "deny"}, default="allow"))
    for dest in ("c2", "files", "bank"):
        assert p.egress("api", dest, "443/tcp").rule == "block"


def test_omitted_egress_section_allows():
    """An omitted egress section is ``default: allow``."""
    d = compiled(seg()).egress("db", "c2", "443/tcp")
    assert (d.allowed, d.rule) == (True, "default")


@pytest.mark.parametrize(
    ("pattern", "destination", "covers"),
    [
        ("*", "a.b", True),
        ("*", "*.b", True),
        ("a.b", "a.b", True),
        ("a.b", "x.a.b", False),
        ("a.b", "b", False),
        ("a.b", "*.b", False),  # exact never covers a wildcard destination
        ("a.b", "*.a.b", False),
        ("*.b", "x.b", True),
        ("*.b", "y.x.b", True),
        ("*.b", "*.x.b", True),
        ("*.b", "*.b", True),
        ("*.b", "b", False),
        ("*.b", "xb", False),
        ("*.x.b", "*.b", False),
        ("*.x.b", "y.b", False),
        ("A.B", "a.b", True),  # case-insensitive both ways
        ("*.B", "X.b", True),
        ("a.b", "A.B", True),
    ],
)
def test_fqdn_coverage(pattern: str, destination: str, covers: bool):
    """Spec §4's FQDN coverage table."""
    assert fqdn_covers(pattern, destination) is covers


def test_traffic_routes_to_segmentation_or_egress():
    """``traffic()`` decides host targets by segmentation and external ones by egress."""
    p = compiled({**seg(ALLOW_ALL), **egr()})
    assert p.traffic("web", "api", "8443/tcp").section == "segmentation"
    d = p.traffic("web", "bank", "443/tcp")
    assert (d.section, d.allowed, d.rule) == ("egress", False, "default")


# --------------------------------------------------------------------------- reach vs flow


def _reach_agrees(topo_spec: dict[str, Any], policy: dict[str, Any] | None) -> int:
    """Check reach() against flow() for every source and target; return pairs checked."""
    topo = make_topology(topo_spec)
    model = AttackModel(topo)
    p = model.compile(make_policy(policy))
    tg = p.targets
    sources = sorted(topo.hosts) + sorted(topo.external_zones)
    checked = 0
    for src in sources:
        bits = set(iter_bits(p.reach(src)))
        for gi, members in enumerate(tg.members):
            svc = tg.keys[gi][1]
            for h in members:
                if h == src:
                    continue  # self-flows are left out of reach() by design
                assert (gi in bits) is p.flow(src, h, svc).allowed, (src, h, svc)
                checked += 1
    return checked


def _vuln_host(hid: str, zone: str, labels: dict[str, str], services: list[str]) -> dict[str, Any]:
    return {
        "id": hid,
        "zone": zone,
        "labels": labels,
        "services": [{"service": s, "public": s == "443/tcp"} for s in services],
        "vulnerabilities": [
            {"id": f"V-{hid}-{s.replace('/', '-')}", "service": s} for s in services
        ],
    }


REACH_TOPO: dict[str, Any] = {
    "zones": [{"id": "internet", "external": True}, {"id": "a"}, {"id": "b"}, {"id": "c"}],
    "hosts": [
        _vuln_host("a1", "a", {"role": "web", "env": "prod"}, ["443/tcp", "22/tcp"]),
        _vuln_host("a2", "a", {"role": "web", "env": "dev"}, ["443/tcp", "22/tcp"]),
        _vuln_host("a3", "a", {"role": "batch"}, ["22/tcp", "8080/tcp"]),
        _vuln_host("b1", "b", {"role": "api", "env": "prod"}, ["8443/tcp", "22/tcp"]),
        _vuln_host("b2", "b", {"role": "api", "env": "dev"}, ["8443/tcp", "8081/tcp"]),
        _vuln_host("c1", "c", {"role": "db"}, ["5432/tcp", "22/tcp"]),
        _vuln_host("c2", "c", {"role": "db", "env": "prod"}, ["5432/tcp", "443/tcp"]),
    ],
}

REACH_POLICIES: list[dict[str, Any] | None] = [
    None,
    seg(
        {"id": "in", "action": "allow", "from": {"zone": "internet"}, "to": {"zone": "a"}},
        {
            "id": "no-dev",
            "action": "deny",
            "from": {"labels": {"env": "dev"}},
            "to": {"labels": {"env": "prod"}},
        },
        {
            "id": "web-api",
            "action": "allow",
            "from": {"labels": {"role": "web"}},
            "to": {"zone": "b"},
            "services": ["8000-8999/tcp"],
        },
        {
            "id": "api-db",
            "action": "allow",
            "from": {"host": ["b1", "b2"]},
            "to": {"labels": {"role": "db"}},
            "services": ["5432/tcp"],
        },
        {"id": "ssh", "action": "allow", "from": {"host": "a3"}, "services": ["22/tcp"]},
        {"id": "c2-web", "action": "deny", "to": {"host": "c2"}, "services": ["443/tcp"]},
    ),
    seg(
        {"id": "block-c", "action": "deny", "to": {"zone": "c"}},
        {"id": "prod", "action": "allow", "from": {"labels": {"env": "prod"}}},
        {"id": "any-in", "action": "allow", "from": "any", "to": {"host": "c2"}},
        intra="allow",
    ),
    seg(
        {"id": "d1", "action": "deny", "from": {"zone": "a", "labels": {"role": "web"}}},
        {"id": "ext", "action": "deny", "from": {"zone": "internet"}, "to": {"host": "a2"}},
        default="allow",
    ),
]


@pytest.mark.parametrize("index", range(len(REACH_POLICIES)))
def test_reach_agrees_with_flow(index: int):
    """The bitset fixpoint view and the one-flow view give the same answers."""
    assert _reach_agrees(REACH_TOPO, REACH_POLICIES[index]) > 50


def test_reach_agrees_with_flow_on_shared_classes():
    """Hosts no selector tells apart share a class; host selectors split them again."""
    topo = {
        "zones": [{"id": "out", "external": True}, {"id": "z"}, {"id": "y"}],
        "hosts": [_vuln_host(f"z{i}", "z", {"k": "v"}, ["80/tcp", "443/tcp"]) for i in range(5)]
        + [_vuln_host(f"y{i}", "y", {"k": str(i % 2)}, ["80/tcp"]) for i in range(4)],
    }
    for pol in (
        seg(
            {"id": "one", "action": "allow", "from": {"host": ["z1", "y2"]}},
            {"id": "lab", "action": "allow", "from": {"labels": {"k": "1"}}, "to": {"zone": "z"}},
            {"id": "out", "action": "allow", "from": {"zone": "out"}, "to": {"host": "z3"}},
        ),
        seg(
            {"id": "deny-z4", "action": "deny", "to": {"host": "z4"}},
            {"id": "y-to-z", "action": "allow", "from": {"zone": "y"}, "to": {"zone": "z"}},
            intra="allow",
            default="deny",
        ),
    ):
        assert _reach_agrees(topo, pol) > 20


@pytest.mark.parametrize(
    "bits", [[], [0], [7], [8], [0, 3, 9, 64, 65, 1000], list(range(0, 300, 7)), [5, 5]]
)
def test_bitset_of_sets_exactly_the_bits_given(bits: list[int]) -> None:
    size = max(bits, default=0) + 1
    mask = bitset_of(bits, size)
    assert mask == sum(1 << b for b in set(bits))
    assert list(iter_bits(mask)) == sorted(set(bits))
