"""Per-rule impact in ``check`` and ``paths`` JSON and text."""

from __future__ import annotations

import json

from conftest import ROOT, make_policy, make_topology

from ztsim.analysis.analyze import analyze
from ztsim.analysis.judged import check_impact, impact_basis
from ztsim.cli.main import main
from ztsim.inputs.loader import load_policies, load_topology

PAJEMPLOI = str(ROOT / "topologies/pajemploi.yaml")


def _rows(result_json):
    return {(r["section"], r["rule"]): r for r in result_json["rules"]}


def test_check_json_has_rules_per_result(capsys):
    main(["check", PAJEMPLOI, "-p", str(ROOT / "policies"), "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert data["impact_basis"]["found_under"][0] == "reference"
    by_policy = {r["policy"]: r for r in data["results"]}
    seg = _rows(by_policy["segmented"])
    # The default deny blocks plans; admin-to-data lets one through (the sniffed DBA login).
    assert seg[("segmentation", "default")]["plans_blocked"] > 0
    assert seg[("segmentation", "admin-to-data")]["plans_open"] > 0
    assert seg[("segmentation", "admin-to-data")]["line"] == 26
    # Flows carried match the traffic verdicts' deciding rules.
    traffic = by_policy["segmented"]["traffic"]
    for (section, rule), row in seg.items():
        if section == "segmentation" and rule != "default":  # JSON `rule` lacks the section
            expected = sum(1 for t in traffic if t["allowed"] and t["rule"] == rule)
            assert row["traffic"] == expected, rule
    zt = _rows(by_policy["zero-trust"])
    assert zt[("egress", "bank-api")]["traffic"] == 1
    assert all(r["plans_open"] == 0 for r in zt.values())


def test_counts_on_a_small_scenario():
    topo = make_topology(
        {
            "zones": [{"id": "internet", "external": True}, {"id": "dmz"}, {"id": "data"}],
            "hosts": [
                {
                    "id": "web",
                    "zone": "dmz",
                    "services": [{"service": "443/tcp", "public": True}],
                    "vulnerabilities": [{"id": "V1", "service": "443/tcp", "gives": "user"}],
                },
                {
                    "id": "db",
                    "zone": "data",
                    "services": [{"service": "5432/tcp"}],
                    "vulnerabilities": [{"id": "V2", "service": "5432/tcp", "gives": "user"}],
                    "data": [{"id": "rows"}],
                },
            ],
            "external": [{"id": "c2", "fqdn": "c2.example", "role": "c2"}],
            "traffic": [{"from": "internet", "to": "web", "service": "443/tcp"}],
        }
    )
    pol = make_policy(
        {
            "segmentation": {
                "default": "deny",
                "rules": [
                    {
                        "id": "in",
                        "action": "allow",
                        "from": {"zone": "internet"},
                        "to": {"host": "web"},
                        "services": ["443/tcp"],
                    },
                    {
                        "id": "web-db",
                        "action": "allow",
                        "from": {"host": "web"},
                        "to": {"host": "db"},
                    },
                ],
            },
            "egress": {"default": "deny"},
        }
    )
    a = analyze(topo, [pol])
    plans, names = impact_basis(a)
    assert names == ["reference", "test-policy"] and len(plans) == 1
    ((_, rows),) = check_impact(a)
    by = {(x.section, x.rule): x for x in rows}
    assert (by[("segmentation", "in")].plans_enabled, by[("segmentation", "in")].traffic) == (1, 1)
    assert by[("segmentation", "web-db")].plans_enabled == 1
    assert by[("segmentation", "web-db")].plans_open == 0
    assert by[("egress", "default")].plans_blocked == 1
    assert by[("segmentation", "default")].plans_blocked == 0


def test_paths_json_and_rules_table(capsys):
    argv = ["paths", PAJEMPLOI, "-p", str(ROOT / "policies/segmented.yaml"), "-k", "2"]
    main([*argv, "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    (entry,) = data["rules"]
    assert entry["policy"] == "segmented"
    assert any(r["rule"] == "logging" and r["plans_enabled"] for r in entry["rules"])
    main([*argv, "--rules"])
    out = capsys.readouterr().out
    assert "per-rule impact: segmented" in out and "enables" in out


def test_render_check_can_add_the_rule_tables():
    from rich.console import Console

    from ztsim.output.console import render_check

    a = analyze(load_topology(PAJEMPLOI), load_policies([ROOT / "policies/zero-trust.yaml"]))
    console = Console(width=120, record=True, highlight=False)
    render_check(console, a, rules=True)
    text = console.export_text()
    assert "per-rule impact: zero-trust" in text
    assert "│ workstations-to-backoffice │" in text  # never truncated


def test_check_json_stays_deterministic(capsys):
    pols = load_policies([ROOT / "policies"])
    topo = load_topology(PAJEMPLOI)
    assert analyze(topo, pols).to_json() == analyze(topo, pols).to_json()
