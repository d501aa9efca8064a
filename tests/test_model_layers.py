"""Model v1.1 sections 3 and 4 (docs/model-v1.1.md), one test per rule of the doc:
layers and tiers with ``pass``, CIDR destinations; and the loader's errors."""

from __future__ import annotations

from typing import Any

import pytest

from ztsim.engine.attack import AttackModel
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import policy_from_text
from ztsim.model.diagnostics import InputError
from ztsim.model.schema import Policy, Topology
from ztsim.whatif.changes import Change, apply_changes

TOPO: dict[str, Any] = {
    "ztsim": 1,
    "kind": "topology",
    "name": "t",
    "zones": [{"id": "web"}, {"id": "db"}, {"id": "net", "external": True}],
    "hosts": [
        {"id": "w", "zone": "web", "labels": {"app": "web"}, "services": [{"service": "22/tcp"}]},
        {"id": "w2", "zone": "web", "services": [{"service": "22/tcp"}]},
        {"id": "d", "zone": "db", "services": [{"service": "5432/tcp", "public": True}]},
    ],
    "external": [
        {"id": "blk", "cidr": "203.0.113.0/24"},
        {"id": "six", "cidr": "2001:db8::/64"},
        {"id": "name", "fqdn": "api.example.com"},
    ],
}


def compiled(seg: dict[str, Any] | None = None, egress: dict[str, Any] | None = None) -> Any:
    pol = {"ztsim": 1, "kind": "policy", "name": "p"}
    if seg is not None:
        pol["segmentation"] = seg
    if egress is not None:
        pol["egress"] = egress
    lt = LoadedTopology(Topology.model_validate(TOPO), "t.yaml")
    return AttackModel(lt).compile(LoadedPolicy(Policy.model_validate(pol), "p.yaml"))


def tiers(*tiers: list[dict[str, Any]], default: str = "allow", lid: str = "L") -> dict[str, Any]:
    return {
        "id": lid,
        "default": default,
        "tiers": [{"id": f"t{i}", "rules": rules} for i, rules in enumerate(tiers)],
    }


def test_pass_skips_the_rest_of_its_tier() -> None:
    c = compiled(
        {
            "layers": [
                tiers(
                    [{"id": "p", "action": "pass"}, {"id": "never", "action": "deny"}],
                    [{"id": "ok", "action": "allow"}],
                    default="deny",
                )
            ]
        }
    )
    d = c.flow("w", "d", "5432/tcp")
    assert (d.allowed, d.rule, d.layer) == (True, "L/ok", "L")


def test_pass_at_the_last_tier_falls_to_the_layer_default() -> None:
    seg = {"layers": [tiers([{"id": "p", "action": "pass"}], default="deny")]}
    d = compiled(seg).flow("w", "d", "5432/tcp")
    assert (d.allowed, d.rule, d.reason) == (False, "L/default", "default")


def test_layers_are_anded_and_named() -> None:
    egress_side = tiers([{"id": "e-allow", "action": "allow", "from": {"zone": "web"}}])
    ingress_side = {
        "id": "in",
        "default": "allow",
        "rules": [{"id": "in-deny", "action": "deny", "from": {"labels": {"app": "web"}}}],
    }
    c = compiled({"layers": [egress_side, ingress_side]})
    d = c.flow("w", "d", "5432/tcp")
    assert (d.allowed, d.rule, d.layer) == (False, "in/in-deny", "in")
    d = c.flow("w2", "d", "5432/tcp")
    assert (d.allowed, d.rule, d.layer) == (True, "L/e-allow+in/default", "L+in")
    assert d.parts == (("L", "e-allow"), ("in", "default"))
    assert "layer L rule e-allow" in d.describe() and "layer in default" in d.describe()


def test_first_denying_layer_decides() -> None:
    a = tiers([{"id": "a-deny", "action": "deny"}], lid="A")
    b = tiers([{"id": "b-deny", "action": "deny"}], lid="B")
    assert compiled({"layers": [a, b]}).flow("w", "d", "5432/tcp").rule == "A/a-deny"


def test_topology_self_intra_zone_and_public_come_before_layers() -> None:
    deny_all = tiers([{"id": "no", "action": "deny"}], default="deny")
    c = compiled({"intra_zone": "allow", "layers": [deny_all]})
    assert c.flow("w", "w", "22/tcp").reason == "self"
    assert c.flow("w", "w2", "22/tcp").reason == "intra_zone"
    assert c.flow("net", "w", "22/tcp").rule == "topology"  # not public
    assert c.flow("net", "d", "5432/tcp").rule == "L/no"


def _egress(rules: list[dict[str, Any]], default: str = "deny") -> Any:
    return compiled(egress={"default": default, "rules": rules})


def test_a_deny_covering_part_of_a_block_does_not_stop_it() -> None:
    c = _egress([{"id": "half", "action": "deny", "to": ["203.0.113.0/25"]}], default="allow")
    d = c.egress("w", "blk", "443/tcp")
    assert (d.allowed, d.rule) == (True, "default")


def test_an_allow_covering_part_of_a_block_allows_it() -> None:
    c = _egress([{"id": "half", "action": "allow", "to": ["203.0.113.128/25"]}])
    assert c.egress("w", "blk", "443/tcp").rule == "half"


def test_except_ranges_and_the_first_allowing_rule() -> None:
    whole_but_block = {"cidr": "203.0.0.0/16", "except": ["203.0.113.0/24"]}
    c = _egress(
        [
            {"id": "x", "action": "allow", "to": [whole_but_block]},
            {"id": "deny-low", "action": "deny", "to": ["203.0.113.0/25"]},
            {"id": "deny-high", "action": "deny", "to": ["203.0.113.128/25"]},
        ]
    )
    d = c.egress("w", "blk", "443/tcp")
    assert (d.allowed, d.rule) == (False, "deny-low")  # the first rule denying an address


def test_ipv6_blocks_and_star() -> None:
    c = _egress([{"id": "v6", "action": "allow", "to": ["2001:db8::/32"]}])
    assert c.egress("w", "six", "443/tcp").rule == "v6"
    assert not c.egress("w", "blk", "443/tcp").allowed  # another version: untouched
    assert (
        _egress([{"id": "all", "action": "allow", "to": ["*"]}])
        .egress("w", "six", "443/tcp")
        .allowed
    )


def test_fqdn_patterns_and_cidr_patterns_never_cross() -> None:
    c = _egress([{"id": "names", "action": "allow", "to": ["*.example.com", "0.0.0.0/0"]}])
    assert c.egress("w", "name", "443/tcp").rule == "names"
    assert c.egress("w", "blk", "443/tcp").rule == "names"
    c = _egress([{"id": "ips", "action": "allow", "to": ["0.0.0.0/0"]}])
    assert not c.egress("w", "name", "443/tcp").allowed
    c = _egress([{"id": "n", "action": "allow", "to": ["*.example.com"]}])
    assert not c.egress("w", "blk", "443/tcp").allowed


def test_harden_adds_rules_to_the_first_tier_of_the_first_layer() -> None:
    pol = Policy.model_validate(
        {
            "ztsim": 1,
            "kind": "policy",
            "name": "p",
            "segmentation": {"layers": [tiers([{"id": "a", "action": "allow"}], [])]},
        }
    )
    deny = {"id": "h-deny", "action": "deny", "from": {"zone": "web"}}
    out = apply_changes(pol, [Change("deny-flow", ("web",), "deny", seg_rules=(deny,))])
    assert [p.rule.id for p in out.segmentation.placed_rules()] == ["h-deny", "a"]
    assert out.segmentation.placed_rules()[0].tier == "t0"


BAD = """\
ztsim: 1
kind: policy
name: bad
segmentation:
  rules:
    - {id: a, action: pass}
egress:
  layers:
    - id: a/b
      tiers:
        - id: t
          rules:
            - {id: e, action: deny, to: ["10.0.0.1/8"], typo: 1}
"""

DUP = """\
ztsim: 1
kind: policy
name: dup
segmentation:
  layers:
    - id: L
      tiers:
        - id: t
          rules:
            - {id: a, action: deny}
        - id: t
    - id: L
      rules:
        - {id: a, action: pass}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            BAD,
            [
                "p.yaml:6:7: error: segmentation.rules.0: action `pass` is only allowed in a layer",
                "p.yaml:9:11: error: egress.layers.0.id: invalid layer id 'a/b'",
                "p.yaml:13:41: error: egress.layers.0.tiers.0.rules.0.to.cidr: '10.0.0.1/8' is not",
                "p.yaml:13:57: error: unknown key 'typo'",
            ],
        ),
        (
            DUP,
            [
                "p.yaml:11:15: error: duplicate tier id 't' in layer 'L'",
                "p.yaml:12:11: error: duplicate layer id 'L' in segmentation",
                "p.yaml:14:16: error: duplicate rule id 'a' (first at line 10)",
            ],
        ),
    ],
)
def test_loader_errors_name_file_line_col(text: str, expected: list[str]) -> None:
    with pytest.raises(InputError) as err:
        policy_from_text(text, "p.yaml")
    got = [str(d) for d in err.value.diagnostics]
    assert len(got) == len(expected), got
    for line, want in zip(got, expected, strict=True):
        assert line.startswith(want), (line, want)


def test_layers_exclude_rules_and_default() -> None:
    text = (
        "ztsim: 1\nkind: policy\nname: x\nsegmentation:\n  default: deny\n  layers:\n    - id: L\n"
    )
    with pytest.raises(InputError, match="with `layers` has no `default`"):
        policy_from_text(text, "p.yaml")


def test_rule_locations_inside_layers() -> None:
    lp = policy_from_text(
        DUP.replace("- {id: a, action: pass}", "- {id: b, action: pass}").replace(
            "        - id: t\n    - id: L", "        - id: u\n    - id: M"
        ),
        "p.yaml",
    )
    assert lp.rule_location("segmentation", "M/b") == "p.yaml:14"
    assert lp.rule_location("segmentation", "b") == "p.yaml:14"
    assert lp.rule_location("segmentation", "L/default") == "p.yaml:6"
    assert lp.rule_location("segmentation", "L/a+M/b") == "p.yaml:10"
