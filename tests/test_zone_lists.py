"""Selectors' ``zone`` as a list of zones (spec §3: "an id or a list of ids: any of them").

One test per consumer: segmentation `from` and `to` (single flows and the bulk
``reach`` the fixpoint uses), external zones in a list, egress `from`, detection
`where`, the warnings of a policy naming unknown zones, ``lint``'s shadowing, the
YAML written back by ``harden --write``, the JSON schema and assertions.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from conftest import compile_under, make_policy, make_topology
from test_plans import SHOP, TAMPER, reference_plan, verdict_under

from ztsim.cli.commands.schema import json_schema
from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.targets import iter_bits
from ztsim.inputs.assertions import NoFlow, assertion_errors, assertions_from_text, flow_sources
from ztsim.inputs.checks import policy_warnings
from ztsim.inputs.loaded import LoadedPolicy
from ztsim.inputs.loader import policy_from_text
from ztsim.model.diagnostics import InputError
from ztsim.model.selectors import Selector
from ztsim.whatif.cover import segmentation_shadowing
from ztsim.whatif.lint import lint_policy
from ztsim.whatif.yamlout import policy_yaml

# Every host offers 22/tcp (public on web) with a remote vulnerability on it: every
# (host, 22/tcp) is an attack target, so `reach` covers every flow of the estate.
TOPO: dict[str, Any] = {
    "zones": [
        {"id": "internet", "external": True},
        {"id": "partners", "external": True},
        {"id": "dmz"},
        {"id": "app"},
        {"id": "data"},
    ],
    "hosts": [
        {
            "id": h,
            "zone": z,
            "labels": {"tier": t},
            "services": [{"service": "22/tcp", "public": h == "web"}],
            "vulnerabilities": [{"id": f"CVE-{h}", "service": "22/tcp"}],
        }
        for h, z, t in (("web", "dmz", "web"), ("api", "app", "api"), ("db", "data", "db"))
    ],
    "external": [{"id": "bank", "fqdn": "api.bank.example"}],
}
HOSTS = ("web", "api", "db")
SOURCES = ("internet", "partners", *HOSTS)


def seg(*rules: dict[str, Any]) -> dict[str, Any]:
    """A deny-by-default policy with these segmentation rules."""
    return {"segmentation": {"default": "deny", "rules": list(rules)}}


def compiled(policy: dict[str, Any]) -> CompiledPolicy:
    return compile_under(make_topology(TOPO), make_policy(policy))


def allowed_flows(c: CompiledPolicy) -> set[tuple[str, str]]:
    """(source, destination) pairs on 22/tcp that single-flow decisions allow, after
    checking that the bulk path (`reach`, the rule indexes and target masks) agrees."""
    single = {(s, d) for s in SOURCES for d in HOSTS if s != d and c.flow(s, d, "22/tcp").allowed}
    tg = c.targets
    bulk = {
        (s, h)
        for s in SOURCES
        for g in iter_bits(c.reach(s))
        for h in tg.members[g]
        if h != s and tg.keys[g][1] == "22/tcp"
    }
    assert bulk == single
    return single


def test_from_zone_list_matches_either_zone() -> None:
    c = compiled(seg({"id": "r", "action": "allow", "from": {"zone": ["app", "data"]}}))
    assert allowed_flows(c) == {("api", "web"), ("api", "db"), ("db", "web"), ("db", "api")}
    assert c.flow("api", "web", "22/tcp").rule == "r"


def test_to_zone_list_matches_either_zone() -> None:
    c = compiled(
        seg(
            {"id": "r", "action": "allow", "from": {"zone": "dmz"}, "to": {"zone": ["app", "data"]}}
        )
    )
    assert allowed_flows(c) == {("web", "api"), ("web", "db")}


def test_zone_list_rule_first_match_wins_in_both_paths() -> None:
    """A deny naming two zones shadows a later allow for both, not only the first."""
    c = compiled(
        seg(
            {"id": "no", "action": "deny", "to": {"zone": ["dmz", "data"]}},
            {"id": "yes", "action": "allow"},
        )
    )
    assert allowed_flows(c) == {("web", "api"), ("db", "api")}


def test_external_zone_in_a_list() -> None:
    """An external zone in a list matches it (only `zone` can); other zones of the
    list keep matching their hosts."""
    c = compiled(seg({"id": "r", "action": "allow", "from": {"zone": ["partners", "data"]}}))
    # From an external zone, only public services (web's); data reaches everything.
    assert allowed_flows(c) == {("partners", "web"), ("db", "web"), ("db", "api")}


def test_external_zone_in_a_list_with_labels_matches_no_external_zone() -> None:
    c = compiled(
        seg(
            {
                "id": "r",
                "action": "allow",
                "from": {"zone": ["internet", "app"], "labels": {"tier": "api"}},
            }
        )
    )
    assert allowed_flows(c) == {("api", "web"), ("api", "db")}


def test_egress_from_zone_list() -> None:
    pol = {
        "egress": {
            "default": "deny",
            "rules": [
                {"id": "out", "action": "allow", "from": {"zone": ["dmz", "data"]}, "to": ["*"]}
            ],
        }
    }
    c = compiled(pol)
    got = {h: c.egress(h, "bank", "443/tcp").allowed for h in HOSTS}
    assert got == {"web": True, "api": False, "db": True}
    assert {h: c.egress_class(h, "bank", "443/tcp").allowed for h in HOSTS} == got


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"zone": ["dmz", "lan"]}, 0.4),  # db is in lan
        ({"zone": ["lan"]}, 0.4),
        ({"zone": ["dmz", "internet"]}, 0.0),
        ({"zone": ["dmz", "lan"], "labels": {"tier": "web"}}, 0.0),
    ],
)
def test_detection_where_zone_list(where: dict[str, Any], expected: float) -> None:
    plan, t = reference_plan(SHOP, TAMPER)  # collect (T1213) happens on db, in lan
    det = [{"id": "audit", "techniques": ["T1213"], "where": where, "probability": 0.4}]
    got = verdict_under(plan, t, {"controls": {"detection": det}}).p_detected
    assert got == pytest.approx(expected)


def test_detection_where_zone_list_sees_an_external_zone() -> None:
    """A step in an external zone (entering it) is seen by a list naming that zone."""
    # Zone entry points with a technique (T1133: external remote services).
    shop = SHOP.replace("zone: internet}", "zone: internet, technique: T1133}")
    shop = shop.replace(
        "zone: internet, credentials", "zone: internet, technique: T1133, credentials"
    )
    plan, t = reference_plan(shop, TAMPER)
    enter = plan.steps[0]
    assert (enter.kind, enter.technique, enter.host) == ("enter", "T1133", "internet")
    for where, expected in (({"zone": ["dmz", "internet"]}, 0.5), ({"zone": ["dmz", "lan"]}, 0.0)):
        det = [{"id": "edge", "techniques": ["T1133"], "where": where, "probability": 0.5}]
        got = verdict_under(plan, t, {"controls": {"detection": det}}).p_detected
        assert got == pytest.approx(expected), where


POLICY_TEXT = """\
ztsim: 1
kind: policy
name: p
segmentation:
  rules:
    - {id: a, action: allow, from: {zone: [dmz, nowhere]}, to: {zone: [app, ghost]}}
    - id: b
      action: deny
      from:
        zone:
          - app
          - elsewhere
    - {id: c, action: deny, from: {zone: nowhere}}
controls:
  detection:
    - {id: d, techniques: [T1078], where: {zone: [data, gone]}, probability: 0.5}
"""


def test_unknown_zone_in_a_list_is_a_warning_at_its_position() -> None:
    pol = policy_from_text(POLICY_TEXT, "p.yaml")
    got = [
        (d.line, d.column, d.level, d.message) for d in policy_warnings(pol, make_topology(TOPO))
    ]
    name = "'test-topology'"
    assert got == [
        (6, 49, "warning", f"zone 'nowhere' is not in topology {name}"),
        (6, 77, "warning", f"zone 'ghost' is not in topology {name}"),
        (12, 13, "warning", f"zone 'elsewhere' is not in topology {name}"),
        (13, 42, "warning", f"zone 'nowhere' is not in topology {name}"),  # a single zone
        (16, 57, "warning", f"zone 'gone' is not in topology {name}"),
    ]


def test_a_list_of_known_zones_matching_no_host_warns_once() -> None:
    text = "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
    text += "    - {id: a, action: allow, from: {zone: [app, data], labels: {tier: web}}}\n"
    got = [d.message for d in policy_warnings(policy_from_text(text), make_topology(TOPO))]
    assert got == ["selector `zone=app,data tier=web` matches nothing in topology 'test-topology'"]
    # One zone of the list that holds a matching host is enough.
    ok = text.replace("[app, data]", "[app, dmz]")
    assert policy_warnings(policy_from_text(ok), make_topology(TOPO)) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[]", "zone: List should have at least 1 item"),
        ("[~]", "zone.0: Input should be a valid string"),
        ("[dmz, ~]", "zone.1: Input should be a valid string"),
        ("~", "zone: blank value"),
        ("[[dmz]]", "zone.0: Input should be a valid string"),
    ],
)
def test_empty_or_blank_zone_lists_are_errors(value: str, message: str) -> None:
    """`zone: []` would read as "any zone" if accepted: it is refused, like `host: []`."""
    text = "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
    text += f"    - {{id: a, action: allow, from: {{zone: {value}}}}}\n"
    with pytest.raises(InputError) as err:
        policy_from_text(text, "p.yaml")
    first = err.value.diagnostics[0]
    assert first.line == 6
    assert message in first.message


def test_single_zone_is_a_one_zone_list() -> None:
    assert Selector.model_validate({"zone": "dmz"}) == Selector.model_validate({"zone": ["dmz"]})
    assert (
        str(Selector.model_validate({"zone": ["dmz", "app"], "host": "x"})) == "zone=dmz,app host=x"
    )


def test_policy_yaml_round_trips_zone_lists() -> None:
    """`harden --write` writes a list back as a list, a single zone as it was."""
    pol = make_policy(
        {
            "segmentation": {
                "default": "deny",
                "rules": [
                    {"id": "a", "action": "allow", "from": {"zone": ["dmz", "app"]}},
                    {"id": "b", "action": "allow", "from": {"zone": "dmz"}},
                ],
            },
            "controls": {
                "detection": [
                    {
                        "id": "d",
                        "techniques": ["T1078"],
                        "where": {"zone": ["app", "data"]},
                        "probability": 0.5,
                    }
                ]
            },
        }
    ).model
    text = policy_yaml(pol)
    assert "from: {zone: [dmz, app]}" in text
    assert "from: {zone: dmz}" in text
    assert "where: {zone: [app, data]}" in text
    assert policy_from_text(text).model == pol


def test_lint_zone_list_covered_by_one_rule_per_zone() -> None:
    def shadowed(*froms: Any) -> set[int]:
        rules = [{"id": f"r{i}", "action": "deny", "from": f} for i, f in enumerate(froms)]
        return set(segmentation_shadowing(make_policy(seg(*rules)).model.segmentation.rules))

    assert shadowed({"zone": "dmz"}, {"zone": "app"}, {"zone": ["app", "dmz"]}) == {2}
    assert shadowed({"zone": "dmz"}, {"zone": ["app", "dmz"]}) == set()
    assert shadowed({"zone": ["app", "dmz", "data"]}, {"zone": "dmz"}) == {1}
    assert shadowed({"zone": ["app", "dmz"]}, {"zone": ["dmz", "app"]}) == {1}
    assert shadowed({"zone": "dmz"}, {"zone": ["dmz", "data"], "labels": {"tier": "web"}}) == set()
    # One zone of a list covers nothing wider than itself.
    assert shadowed({"zone": ["dmz", "app"]}, {"labels": {"tier": "web"}}) == set()


def test_schema_accepts_a_zone_or_a_list_and_refuses_an_empty_list() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema("policy")
    base = yaml.safe_load(POLICY_TEXT)
    jsonschema.validate(base, schema)
    base["segmentation"]["rules"][0]["from"]["zone"] = []
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(base, schema)


ASSERTIONS = "ztsim: 1\nkind: assertions\nname: ci\nassertions:\n"


def test_assertion_selectors_take_zone_lists() -> None:
    """`no-flow` and `egress-denied` select with the same selectors (spec §3)."""
    topo = make_topology(TOPO)
    body = "  - {id: a, type: no-flow, from: {zone: [partners, data]}, to: {zone: [dmz, app]}}\n"
    loaded = assertions_from_text(ASSERTIONS + body, "a.yaml")
    assert assertion_errors(loaded, topo) == []
    (a,) = loaded.model.assertions
    assert isinstance(a, NoFlow)
    assert flow_sources(a.source, topo) == ["partners", "db"]
    bad = body.replace("[partners, data]", "[partners, dataa]")
    (err,) = assertion_errors(assertions_from_text(ASSERTIONS + bad, "a.yaml"), topo)
    assert (err.line, err.column) == (5, 52)
    assert "unknown zone 'dataa'" in err.message


def test_recheck_recomputes_classes_in_every_zone_of_an_edited_rule() -> None:
    """A re-check keeps the decisions of source classes no edited rule matches: a class
    in the second zone of an edited rule's list is matched, so recomputed."""
    model = AttackModel(make_topology(TOPO))

    def version(action: str) -> LoadedPolicy:
        rule = {"id": "r", "action": action, "from": {"zone": ["dmz", "app"]}, "to": {"host": "db"}}
        return make_policy({"segmentation": {"default": "allow", "rules": [rule]}})

    before = model.compile(version("deny"))
    assert not before.flow("api", "db", "22/tcp").allowed  # memoised for api's class
    assert before.reach("api") == before.reach("web")
    after = model.compile(version("allow"), previous=before)
    assert after.reused_targets
    fresh = model.compile(version("allow"))
    for src in SOURCES:
        for dst in HOSTS:
            assert after.flow(src, dst, "22/tcp") == fresh.flow(src, dst, "22/tcp"), (src, dst)
        if src in HOSTS:
            assert after.reach(src) == fresh.reach(src), src


def test_lint_narrows_a_broad_allow_to_a_zone_list() -> None:
    """The fix `lint` proposes for a broad allow used from two external zones names
    both in one zone list, and it loads and keeps both legitimate flows."""
    topo = make_topology(
        {
            **TOPO,
            "traffic": [
                {"from": "internet", "to": "web", "service": "22/tcp"},
                {"from": "partners", "to": "web", "service": "22/tcp"},
            ],
        }
    )
    pol = make_policy(seg({"id": "all", "action": "allow"}))
    findings, _ = lint_policy(pol, topo)
    (broad,) = [f for f in findings if f.code == "broad-allow"]
    rule = (
        "{id: all, action: allow, from: {zone: [internet, partners]}, to: {host: [web]}, "
        "services: [22/tcp]}"
    )
    assert broad.fix.endswith(rule)
    fixed = compile_under(topo, make_policy(seg(yaml.safe_load(rule))))
    assert fixed.flow("internet", "web", "22/tcp").allowed
    assert fixed.flow("partners", "web", "22/tcp").allowed
    assert not fixed.flow("api", "web", "22/tcp").allowed
