"""Model v1.1's label expressions (``labels_match``, docs/model-v1.1.md).

One test per consumer, as tests/test_zone_lists.py does for zone lists: the schema,
segmentation `from` and `to` (single flows and the bulk ``reach``), external zones,
egress `from`, detection `where`, warnings, ``lint``'s shadowing, the YAML written
back, assertions; the classes stay exact (hosts no selector tells apart); and a
property test against the reference model on policies of expressions only.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import reference_model as ref
import yaml
from conftest import make_policy, make_topology
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_plans import SHOP, TAMPER, reference_plan, verdict_under
from test_zone_lists import ASSERTIONS, HOSTS, TOPO, allowed_flows, compiled, seg

from ztsim.cli.commands.schema import json_schema
from ztsim.engine.attack import AttackModel
from ztsim.engine.targets import iter_bits
from ztsim.inputs.assertions import assertion_errors, assertions_from_text, flow_sources
from ztsim.inputs.checks import policy_warnings
from ztsim.inputs.loader import policy_from_text
from ztsim.model.diagnostics import InputError
from ztsim.model.matching import selector_matches_host
from ztsim.model.schema import Host
from ztsim.model.selectors import LabelExpression, Selector
from ztsim.whatif.cover import segmentation_shadowing
from ztsim.whatif.yamlout import policy_yaml


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    """An expression as a file writes it."""
    return {"key": key, "operator": op, **({"values": list(values)} if values else {})}


# --------------------------------------------------------------------------- model


@pytest.mark.parametrize(
    ("op", "values", "labels", "holds"),
    [
        ("In", ["web", "api"], {"tier": "web"}, True),
        ("In", ["web", "api"], {"tier": "db"}, False),
        ("In", ["web"], {}, False),
        ("NotIn", ["web"], {}, True),  # Kubernetes: an absent key is "not in"
        ("NotIn", ["web"], {"tier": "web"}, False),
        ("NotIn", ["web"], {"tier": "db"}, True),
        ("Exists", None, {"tier": ""}, True),
        ("Exists", None, {"env": "prod"}, False),
        ("DoesNotExist", None, {}, True),
        ("DoesNotExist", None, {"tier": "web"}, False),
    ],
)
def test_expression_semantics(
    op: str, values: list[str] | None, labels: dict[str, str], holds: bool
) -> None:
    e = LabelExpression.model_validate(expr("tier", op, *(values or [])))
    assert e.holds(labels) is holds
    assert ref.expression_holds(e, labels) is holds
    host = Host(id="h", zone="z", labels=labels)
    assert selector_matches_host(Selector(labels_match=[e]), host) is holds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[]", "labels_match: List should have at least 1 item"),
        ("~", "labels_match: blank value"),
        ("[{key: a, operator: In}]", "operator In needs `values`"),
        ("[{key: a, operator: NotIn, values: []}]", "values: List should have at least 1 item"),
        ("[{key: a, operator: Exists, values: [x]}]", "operator Exists takes no `values`"),
        ("[{key: a, operator: in, values: [x]}]", "operator: Input should be 'In'"),
        ("[{key: a, operator: In, values: [yes]}]", "quote"),
        ("[{key: a, operator: Exists, value: x}]", "unknown key 'value'"),
    ],
)
def test_bad_expressions_are_errors(value: str, message: str) -> None:
    text = "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
    text += f"    - {{id: a, action: allow, from: {{labels_match: {value}}}}}\n"
    with pytest.raises(InputError) as err:
        policy_from_text(text, "p.yaml")
    first = err.value.diagnostics[0]
    assert first.line == 6
    assert message in first.message


def test_str_and_is_any() -> None:
    sel = Selector.model_validate(
        {
            "zone": "dmz",
            "labels": {"app": "x"},
            "labels_match": [expr("tier", "NotIn", "web", "api"), expr("canary", "DoesNotExist")],
        }
    )
    assert str(sel) == "zone=dmz app=x tier notin (api,web),!canary"
    assert not Selector(labels_match=[LabelExpression(key="a", operator="Exists")]).is_any


# --------------------------------------------------------------------------- engine


def test_from_and_to_expressions_single_and_bulk() -> None:
    c = compiled(
        seg(
            {
                "id": "r",
                "action": "allow",
                "from": {"labels_match": [expr("tier", "In", "web", "api")]},
                "to": {"labels_match": [expr("tier", "NotIn", "web")]},
            }
        )
    )
    assert allowed_flows(c) == {("web", "api"), ("web", "db"), ("api", "db")}
    assert c.flow("web", "db", "22/tcp").rule == "r"


def test_expressions_never_match_an_external_zone() -> None:
    """Like `labels`, even an expression "no labels" satisfies names hosts only."""
    c = compiled(
        seg({"id": "r", "action": "allow", "from": {"labels_match": [expr("x", "DoesNotExist")]}})
    )
    assert ("internet", "web") not in allowed_flows(c)
    assert not c.flow("partners", "web", "22/tcp").allowed


def test_first_match_with_expressions_in_both_paths() -> None:
    c = compiled(
        seg(
            {"id": "no", "action": "deny", "to": {"labels_match": [expr("tier", "Exists")]}},
            {"id": "yes", "action": "allow"},
        )
    )
    assert allowed_flows(c) == set()
    assert c.flow("web", "db", "22/tcp").rule == "no"


def test_egress_from_expression() -> None:
    pol = {
        "egress": {
            "default": "deny",
            "rules": [
                {
                    "id": "out",
                    "action": "allow",
                    "from": {"labels_match": [expr("tier", "NotIn", "api")]},
                }
            ],
        }
    }
    c = compiled(pol)
    got = {h: c.egress(h, "bank", "443/tcp").allowed for h in HOSTS}
    assert got == {"web": True, "api": False, "db": True}
    assert {h: c.egress_class(h, "bank", "443/tcp").allowed for h in HOSTS} == got


def test_classes_tell_apart_hosts_only_an_expression_separates() -> None:
    """Hosts whose labels no `labels` pair names, told apart by an expression only
    (a value outside `In`'s list, a missing key), land in different classes; hosts
    an expression cannot tell apart share one."""
    hosts = [
        {
            "id": h,
            "zone": "app",
            "labels": labels,
            "services": [{"service": "22/tcp"}],
            "vulnerabilities": [{"id": f"CVE-{h}", "service": "22/tcp"}],
        }
        for h, labels in (
            ("a", {"v": "1"}),
            ("b", {"v": "2"}),
            ("c", {"v": "3"}),
            ("d", {}),
            ("src", {"role": "client"}),
        )
    ]
    topo = make_topology(
        {"zones": [{"id": "app"}, {"id": "out", "external": True}], "hosts": hosts}
    )
    pol = make_policy(
        seg({"id": "r", "action": "allow", "to": {"labels_match": [expr("v", "NotIn", "1")]}})
    )
    c = AttackModel(topo).compile(pol)
    allowed = {h for h in "abcd" if c.flow("src", h, "22/tcp").allowed}
    assert allowed == {"b", "c", "d"}
    bulk = {h for g in iter_bits(c.reach("src")) for h in c.targets.members[g]}
    assert bulk - {"src"} == {"b", "c", "d"}
    # b and c (v=2, v=3) and d (no v) satisfy the same expression: one class for the
    # policy (no selector can tell them apart); a (v=1) is another.
    assert c.dest_class("b") == c.dest_class("c") == c.dest_class("d") != c.dest_class("a")


SYNTHETIC = '\x00expr:["k", "Exists", []]'


def test_a_host_label_key_like_the_synthetic_one_does_not_collide() -> None:
    """The pairs standing for expressions use a key prefix no host label key has: a
    host labelled with the very pair `k Exists` would stand for is not taken to have k."""
    hosts = [
        {"id": "a", "zone": "app", "labels": {SYNTHETIC: ""}, "services": [{"service": "22/tcp"}]},
        {"id": "b", "zone": "app", "services": [{"service": "22/tcp"}]},
    ]
    topo = make_topology(
        {"zones": [{"id": "app"}, {"id": "out", "external": True}], "hosts": hosts}
    )
    pol = make_policy(
        seg({"id": "r", "action": "allow", "to": {"labels_match": [expr("k", "Exists")]}})
    )
    c = AttackModel(topo).compile(pol)
    assert not c.flow("a", "b", "22/tcp").allowed
    assert not c.flow("b", "a", "22/tcp").allowed


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"labels_match": [expr("nothere", "DoesNotExist")]}, 0.4),  # every host
        ({"labels_match": [expr("nothere", "Exists")]}, 0.0),
    ],
)
def test_detection_where_expression(where: dict[str, Any], expected: float) -> None:
    plan, t = reference_plan(SHOP, TAMPER)
    det = [{"id": "audit", "techniques": ["T1213"], "where": where, "probability": 0.4}]
    assert verdict_under(plan, t, {"controls": {"detection": det}}).p_detected == pytest.approx(
        expected
    )


# --------------------------------------------------------------------------- consumers


def test_selector_with_expressions_matching_nothing_is_a_warning() -> None:
    text = "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
    text += "    - {id: a, action: allow, from: {labels_match: [{key: tier, "
    text += "operator: In, values: [x]}]}}\n"
    got = [d.message for d in policy_warnings(policy_from_text(text), make_topology(TOPO))]
    assert got == ["selector `tier in (x)` matches nothing in topology 'test-topology'"]
    ok = text.replace("values: [x]", "values: [x, db]")
    assert policy_warnings(policy_from_text(ok), make_topology(TOPO)) == []


def test_lint_shadowing_with_expressions() -> None:
    def shadowed(*froms: Any) -> set[int]:
        rules = [{"id": f"r{i}", "action": "deny", "from": f} for i, f in enumerate(froms)]
        return set(segmentation_shadowing(make_policy(seg(*rules)).model.segmentation.rules))

    e1 = {"labels_match": [expr("tier", "In", "web")]}
    e2 = {"labels_match": [expr("tier", "In", "web"), expr("env", "Exists")]}
    assert shadowed(e1, e2) == {1}
    assert shadowed(e2, e1) == set()  # e2 is narrower: it covers nothing of e1
    assert shadowed(e1, {"zone": "dmz"}) == set()
    assert shadowed({"zone": "dmz"}, {"zone": "dmz", **e1}) == {1}
    # Same meaning, written apart: a duplicate.
    assert shadowed(e1, {"labels_match": [expr("tier", "In", "web", "web")]}) == {1}


def test_policy_yaml_round_trips_expressions() -> None:
    pol = make_policy(
        seg(
            {
                "id": "a",
                "action": "allow",
                "from": {"labels_match": [expr("tier", "In", "web"), expr("x", "DoesNotExist")]},
            }
        )
    ).model
    text = policy_yaml(pol)
    assert "labels_match" in text
    assert policy_from_text(text).model == pol


def test_schema_accepts_expressions() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema("policy")
    doc = yaml.safe_load(
        "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
        "    - {id: a, action: allow, from: {labels_match: [{key: a, operator: Exists}]}}\n"
    )
    jsonschema.validate(doc, schema)
    doc["segmentation"]["rules"][0]["from"]["labels_match"] = []
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, schema)


def test_assertion_selectors_take_expressions() -> None:
    topo = make_topology(TOPO)
    body = (
        "  - {id: a, type: no-flow, from: {labels_match: [{key: tier, operator: NotIn, "
        "values: [web]}]}, to: {zone: dmz}}\n"
    )
    loaded = assertions_from_text(ASSERTIONS + body, "a.yaml")
    assert assertion_errors(loaded, topo) == []
    (a,) = loaded.model.assertions
    assert flow_sources(a.source, topo) == ["api", "db"]  # no external zone


def test_v1_policy_dumps_unchanged() -> None:
    """A v1 selector has no `labels_match` in what is written back."""
    pol = make_policy(seg({"id": "a", "action": "allow", "from": {"labels": {"tier": "web"}}}))
    assert "labels_match" not in policy_yaml(pol.model)


# --------------------------------------------------------------------------- property

KEYS = ("tier", "env")
VALUES = ("a", "b", "c")
SERVICES = ("22/tcp", "443/tcp")


@st.composite
def _estates(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Hosts with random labels over a small alphabet; rules selecting by expressions
    (and sometimes a pair), so that classes are drawn by expressions alone."""
    hosts = []
    for i in range(draw(st.integers(2, 7))):
        labels = {k: draw(st.sampled_from(VALUES)) for k in KEYS if draw(st.booleans())}
        hosts.append(
            {
                "id": f"h{i}",
                "zone": draw(st.sampled_from(["z0", "z1"])),
                "labels": labels,
                "services": [{"service": s, "public": True} for s in SERVICES],
                "vulnerabilities": [{"id": f"CVE-{i}", "service": "22/tcp"}],
            }
        )
    topo = {
        "zones": [{"id": "z0"}, {"id": "z1"}, {"id": "out", "external": True}],
        "hosts": hosts,
        "external": [{"id": "ext", "fqdn": "x.example"}],
    }

    def selector() -> dict[str, Any]:
        sel: dict[str, Any] = {}
        exprs = []
        for _ in range(draw(st.integers(1, 2))):
            op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
            values = draw(st.lists(st.sampled_from(VALUES), min_size=1, max_size=2))
            exprs.append(expr(draw(st.sampled_from(KEYS)), op, *(values if "In" in op else [])))
        sel["labels_match"] = exprs
        if draw(st.integers(0, 3)) == 0:
            sel["labels"] = {draw(st.sampled_from(KEYS)): draw(st.sampled_from(VALUES))}
        if draw(st.integers(0, 3)) == 0:
            sel["zone"] = draw(st.sampled_from(["z0", "z1"]))
        return sel

    rules = []
    for i in range(draw(st.integers(1, 5))):
        rule: dict[str, Any] = {"id": f"r{i}", "action": draw(st.sampled_from(["allow", "deny"]))}
        for side in ("from", "to"):
            if draw(st.booleans()):
                rule[side] = selector()
        if draw(st.booleans()):
            rule["services"] = [draw(st.sampled_from(SERVICES))]
        rules.append(rule)
    egress = [
        {"id": f"e{i}", "action": draw(st.sampled_from(["allow", "deny"])), "from": selector()}
        for i in range(draw(st.integers(0, 2)))
    ]
    pol = {
        "segmentation": {"default": draw(st.sampled_from(["allow", "deny"])), "rules": rules},
        "egress": {"default": draw(st.sampled_from(["allow", "deny"])), "rules": egress},
    }
    return topo, pol


@settings(
    max_examples=int(os.environ.get("ZTSIM_PROPERTY_EXAMPLES", "250")),
    deadline=None,
    derandomize=os.environ.get("ZTSIM_PROPERTY_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(_estates())
def test_expressions_engine_matches_reference(
    estate: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    """Every flow and egress decision, single and bulk, with and without compression,
    as the reference model decides it."""
    topo_doc, pol_doc = estate
    topo, pol = make_topology(topo_doc), make_policy(pol_doc)
    m, p = topo.model, pol.model
    model = AttackModel(topo)
    for compress in (True, False):
        c = model.compile(pol, compress=compress)
        for src in [h.id for h in m.hosts] + ["out"]:
            reached = {
                (h, c.targets.keys[g][1])
                for g in iter_bits(c.reach(src))
                for h in c.targets.members[g]
            }
            for h in m.hosts:
                for s in SERVICES:
                    want = ref.flow(m, p, src, h.id, s)
                    got = c.flow(src, h.id, s)
                    assert (got.allowed, got.rule) == want, (src, h.id, s)
                    if s == "22/tcp" and h.id != src:  # the attack target
                        assert ((h.id, s) in reached) == want[0], (src, h.id)
        for h in m.hosts:
            want = ref.egress(m, p, h.id, "ext", "443/tcp")
            got = c.egress(h.id, "ext", "443/tcp")
            assert (got.allowed, got.rule) == want, h.id
            assert c.egress_class(h.id, "ext", "443/tcp") == got


def test_recheck_reuses_a_lowering_only_when_it_fits() -> None:
    """An edit using only expressions the previous compilation lowered keeps its
    classes and target groups; one adding an expression is compiled afresh."""
    model = AttackModel(make_topology(TOPO))

    def version(action: str, *exprs: dict[str, Any]) -> Any:
        rule = {"id": "r", "action": action, "to": {"labels_match": list(exprs)}}
        return make_policy({"segmentation": {"default": "allow", "rules": [rule]}})

    web = expr("tier", "In", "web")
    before = model.compile(version("deny", web))
    after = model.compile(version("allow", web), previous=before)
    assert after.reused_targets
    wider = model.compile(version("allow", web, expr("env", "DoesNotExist")), previous=before)
    assert not wider.reused_targets
    for c, allowed in ((after, True), (wider, True), (before, False)):
        assert c.flow("api", "web", "22/tcp").allowed is allowed
        assert ("web" in {h for g in iter_bits(c.reach("api")) for h in c.targets.members[g]}) is (
            allowed
        )
