"""``ztsim lint``: shadowed, duplicate, dead and over-broad rules, exfiltration-prone egress."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import ROOT, make_policy, make_topology

from ztsim.cli.main import main
from ztsim.inputs.loader import load_policy, load_topology
from ztsim.model.selectors import Selector
from ztsim.model.services import parse_port_range
from ztsim.whatif.cover import selector_covers, service_space, space_covers
from ztsim.whatif.lint import lint_policy

PAJEMPLOI = str(ROOT / "topologies/pajemploi.yaml")


def _codes(findings):
    return [(f.code, f.rule, f.level) for f in findings]


def _policy(*seg, egress=(), **extra):
    return make_policy(
        {
            "segmentation": {"default": "deny", "rules": list(seg)},
            "egress": {"default": "deny", "rules": list(egress)},
        }
        | extra
    )


def test_union_of_port_ranges_shadows_a_range_with_label_selectors():
    pol = _policy(
        {"id": "low", "action": "allow", "from": {"zone": "app"}, "services": ["1-1000/tcp"]},
        {"id": "high", "action": "allow", "from": {"zone": "app"}, "services": ["1001-2000/tcp"]},
        {
            "id": "block-api",
            "action": "deny",
            "from": {"zone": "app", "labels": {"tier": "api"}},
            "to": {"labels": {"tier": "db"}},
            "services": ["900-1100/tcp"],
        },
    )
    findings, _ = lint_policy(pol)
    assert _codes(findings)[0] == ("shadowed", "block-api", "error")
    assert "low, high" in findings[0].message and "never honoured" in findings[0].message
    # The rule's own line in the YAML text (block style: the line of its `- id:`).
    assert pol.doc is not None
    assert pol.doc.text.splitlines()[findings[0].line - 1].strip() == "- id: block-api"


def test_label_subset_shadows_same_action_as_a_warning():
    pol = _policy(
        {"id": "web", "action": "allow", "from": {"labels": {"tier": "web"}}},
        {
            "id": "web-prod",
            "action": "allow",
            "from": {"labels": {"tier": "web", "env": "prod"}},
            "services": ["443/tcp"],
        },
    )
    (f,) = lint_policy(pol)[0]
    assert (f.code, f.rule, f.level) == ("shadowed", "web-prod", "warning")
    assert f.fix == "remove web-prod"


def test_partial_cover_is_not_shadowing():
    pol = _policy(
        {"id": "a", "action": "allow", "from": {"zone": "app"}, "services": ["1-1000/tcp"]},
        {"id": "b", "action": "deny", "from": {"zone": "app"}, "services": ["999-1001/tcp"]},
        {"id": "c", "action": "deny", "from": {"labels": {"x": "y"}}, "services": ["80/tcp"]},
        {"id": "d", "action": "deny", "from": {"zone": "app"}, "services": ["80/udp"]},
    )
    assert lint_policy(pol)[0] == []


def test_host_lists_are_covered_host_by_host():
    pol = _policy(
        {"id": "a", "action": "allow", "from": {"host": "h1"}, "to": {"zone": "db"}},
        {"id": "b", "action": "allow", "from": {"host": ["h2", "h3"]}, "to": {"zone": "db"}},
        {"id": "c", "action": "allow", "from": {"host": ["h3", "h1"]}, "to": {"zone": "db"}},
    )
    assert _codes(lint_policy(pol)[0]) == [("shadowed", "c", "warning")]


def test_duplicates_and_conflicting_duplicates():
    rule = {"id": "a", "action": "allow", "from": {"zone": "z"}, "services": ["22/tcp"]}
    pol = _policy(rule, {**rule, "id": "b"}, {**rule, "id": "c", "action": "deny"})
    assert _codes(lint_policy(pol)[0]) == [
        ("duplicate", "b", "warning"),
        ("duplicate", "c", "error"),
    ]


def test_egress_wildcard_shadows_exact_name():
    pol = _policy(
        egress=[
            {"id": "all", "action": "allow", "to": ["*.example"]},
            {"id": "one", "action": "deny", "to": ["files.example"], "services": ["443/tcp"]},
            {"id": "sub", "action": "deny", "to": ["*.a.example"]},
            {"id": "star", "action": "deny", "to": ["*"]},
        ]
    )
    codes = _codes(lint_policy(pol)[0])
    assert ("shadowed", "one", "error") in codes and ("shadowed", "sub", "error") in codes
    assert all(rule != "star" for _, rule, _ in codes)


def test_cover_primitives():
    assert selector_covers(Selector(), Selector(zone="a"))
    assert not selector_covers(Selector(zone="a"), Selector())
    assert not selector_covers(Selector(host=["a"]), Selector(zone="z"))
    any_space = service_space([parse_port_range("any")])
    assert space_covers(any_space, service_space([]))
    assert not space_covers(service_space([]), any_space)


def test_k8s_wildcard_egress_is_an_error_with_its_line(capsys):
    pol = str(ROOT / "policies/k8s-shop/broad-egress.yaml")
    code = main(["lint", pol, "--topology", str(ROOT / "topologies/k8s-shop.yaml")])
    out = capsys.readouterr().out
    assert code == 1
    line = next(x for x in out.splitlines() if "egress-attacker" in x)
    assert line.startswith(
        f"{pol}:36:7: error: [egress-attacker] egress rule shop-to-cloud-storage"
    )
    assert "*.blob.cloudstore.example (web-service)" in line


def test_segmented_broad_allows_get_narrow_fixes():
    findings, _ = lint_policy(
        load_policy(ROOT / "policies/segmented.yaml"), load_topology(PAJEMPLOI)
    )
    by_rule = {f.rule: f for f in findings if f.code == "broad-allow"}
    f = by_rule["admin-to-data"]
    assert f.level == "warning" and "log-collector -> payroll-db 5432/tcp" in f.message
    assert f.fix.endswith(
        "{id: admin-to-data, action: allow, from: {host: [jump-host]}, to: {host: [payroll-db]}, "
        "services: [5432/tcp]}"
    )
    assert by_rule["dmz-to-backoffice"].level == "info"  # surplus, but no attack step uses it
    (egress,) = [f for f in findings if f.section == "egress"]
    assert egress.level == "error" and egress.rule is None


def test_zero_trust_is_clean():
    for name, topo in (("zero-trust", "pajemploi"), ("k8s-shop/network-policies", "k8s-shop")):
        findings, notes = lint_policy(
            load_policy(ROOT / f"policies/{name}.yaml"),
            load_topology(ROOT / f"topologies/{topo}.yaml"),
        )
        assert findings == [] and notes == []


def test_topology_dependent_findings(tmp_path: Path):
    topo = make_topology(
        {
            "zones": [{"id": "internet", "external": True}, {"id": "app"}, {"id": "data"}],
            "hosts": [
                {
                    "id": "api",
                    "zone": "app",
                    "labels": {"tier": "api"},
                    "services": [{"service": "8080/tcp"}],
                },
                {"id": "db", "zone": "data", "services": [{"service": "5432/tcp"}]},
            ],
            "traffic": [{"from": "api", "to": "db", "service": "5432/tcp"}],
        }
    )
    pol = _policy(
        {"id": "app-db", "action": "allow", "from": {"zone": "app"}, "to": {"zone": "data"}},
        # every tier=api host is in zone app: shadowed here, though not in general
        {
            "id": "api-db",
            "action": "deny",
            "from": {"labels": {"tier": "api"}},
            "to": {"host": "db"},
        },
        {"id": "ghost", "action": "allow", "from": {"labels": {"tier": "nope"}}},
        {"id": "db-api", "action": "deny", "from": {"host": "db"}, "to": {"host": "api"}},
    )
    findings, _ = lint_policy(pol, topo)
    codes = _codes(findings)
    assert ("shadowed", "api-db", "warning") in codes
    assert ("no-match", "ghost", "warning") in codes
    assert ("unused", "db-api", "info") in codes
    assert not any(rule == "app-db" for _, rule, _ in codes)


def test_policy_only_any_to_any(capsys, tmp_path: Path):
    p = tmp_path / "p.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "ztsim": 1,
                "kind": "policy",
                "name": "loose",
                "segmentation": {"default": "deny", "rules": [{"id": "all", "action": "allow"}]},
                "egress": {"default": "deny", "rules": [{"id": "out", "action": "allow"}]},
            },
            sort_keys=False,
        )
    )
    assert main(["lint", str(p), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    (entry,) = data["policies"]
    codes = {(f["code"], f["rule"]) for f in entry["findings"]}
    assert codes == {("broad-allow", "all"), ("egress-attacker", "out")}
    assert entry["summary"] == {"error": 0, "warning": 2, "info": 0}


def test_bad_input_exits_2(tmp_path: Path, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text("ztsim: 1\nkind: policy\nname: x\nsegmentation: {defualt: deny}\n")
    assert main(["lint", str(p)]) == 2
    assert f"{p}:4:" in capsys.readouterr().err
