"""``ztsim diff``: goals, plans, traffic and rules that change between two policies."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from conftest import ROOT, _text, make_policy, make_topology

from ztsim.cli.main import main
from ztsim.inputs.loader import load_policy, load_topology
from ztsim.output.diff import diff_markdown, diff_text
from ztsim.whatif.diff import diff_policies, lcs_moved

PAJEMPLOI = str(ROOT / "topologies/pajemploi.yaml")
POL = ROOT / "policies"

TOPO = {
    "zones": [{"id": "internet", "external": True}, {"id": "dmz"}, {"id": "data"}],
    "hosts": [
        {
            "id": "web",
            "zone": "dmz",
            "services": [{"service": "443/tcp", "public": True}],
            "vulnerabilities": [{"id": "CVE-1", "service": "443/tcp", "gives": "user"}],
        },
        {"id": "app", "zone": "dmz", "services": [{"service": "8080/tcp"}]},
        {
            "id": "db",
            "zone": "data",
            "services": [{"service": "5432/tcp"}],
            "vulnerabilities": [{"id": "CVE-2", "service": "5432/tcp", "gives": "user"}],
            "data": [{"id": "rows", "integrity": True}],
        },
    ],
    "traffic": [
        {"from": "internet", "to": "web", "service": "443/tcp"},
        {"from": "app", "to": "db", "service": "5432/tcp"},
    ],
}
DENY_WEB = {"id": "deny-web-db", "action": "deny", "from": {"host": "web"}, "to": {"zone": "data"}}
ALLOW_DATA = {
    "id": "allow-data",
    "action": "allow",
    "to": {"zone": "data"},
    "services": ["5432/tcp"],
}


def _seg(*rules, default="allow"):
    return make_policy({"segmentation": {"default": default, "rules": list(rules)}})


def test_reordering_alone_opens_a_goal_under_first_match():
    topo = make_topology(TOPO)
    base, proposed = _seg(DENY_WEB, ALLOW_DATA), _seg(ALLOW_DATA, DENY_WEB)
    d = diff_policies(topo, base, proposed)
    assert [(r.change, r.rule) for r in d.rules] == [("moved", "allow-data")]
    assert d.settings == []
    assert [(g.change, g.goal) for g in d.goals] == [("opened", ("tamper", "rows"))]
    opened = [p for p in d.plans if p.change == "opened"]
    assert opened and all(p.rule == "allow-data" for p in opened)
    assert opened[0].plan.steps[opened[0].step].flow == ("web", "db", "5432/tcp")
    assert d.failed("opened") and not d.failed("broken-traffic") and d.failed("any")
    text = diff_text(d, "opened")
    assert "moved    allow-data" in text and "#2 -> #1, now before deny-web-db" in text


def test_reverse_direction_closes_and_passes():
    topo = make_topology(TOPO)
    d = diff_policies(topo, _seg(ALLOW_DATA, DENY_WEB), _seg(DENY_WEB, ALLOW_DATA))
    assert [g.change for g in d.goals] == ["closed"]
    closed = [p for p in d.plans if p.change == "closed"]
    assert closed and closed[0].rule == "deny-web-db" and closed[0].section == "segmentation"
    assert not d.failed("any")


def test_broken_traffic_and_fail_on(tmp_path: Path, capsys):
    t = tmp_path / "t.yaml"
    t.write_text(_text(TOPO, "topology"))
    base = tmp_path / "base.yaml"
    base.write_text("ztsim: 1\nkind: policy\nname: open\n")
    prop = tmp_path / "prop.yaml"
    prop.write_text(
        yaml.safe_dump(
            {"ztsim": 1, "kind": "policy", "name": "closed", "segmentation": {"default": "deny"}}
        )
    )
    argv = ["diff", str(t), "--base", str(base), "--proposed", str(prop)]
    assert main(argv) == 0  # opens nothing
    out = capsys.readouterr().out
    assert "broken   app -> db 5432/tcp" in out
    assert "segmentation.default: allow -> deny" in out
    assert main([*argv, "--fail-on", "broken-traffic"]) == 1
    assert main([*argv, "--fail-on", "any"]) == 1
    capsys.readouterr()
    assert main([*argv, "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["summary"]["traffic_broken"] == 2 and data["summary"]["goals_closed"] == 1
    assert data["failed"] is False


def test_pajemploi_zero_trust_to_segmented_opens_goals(capsys):
    argv = [
        "diff",
        PAJEMPLOI,
        "--base",
        str(POL / "zero-trust.yaml"),
        "--proposed",
        str(POL / "segmented.yaml"),
    ]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert out.startswith("diff on topology pajemploi")
    assert "FAIL (--fail-on opened)" in out
    assert "opened   exfiltrate(payroll-records)" in out
    assert "controls.encrypt_in_transit: true -> false" in out
    assert "controls.mfa[ops-ssh-key]: on -> off" in out


def test_markdown_is_a_pull_request_comment(capsys):
    topo = load_topology(PAJEMPLOI)
    d = diff_policies(topo, load_policy(POL / "flat.yaml"), load_policy(POL / "zero-trust.yaml"))
    md = diff_markdown(d, "opened")
    assert md.startswith("### ztsim diff: `flat` → `zero-trust` on `pajemploi`")
    assert "✅ **PASS" in md
    assert "| change | goal | base | proposed |" in md
    assert "| closed | `exfiltrate(payroll-records)` |" in md
    assert "#### Rules" in md and "#### Settings" in md
    # Every row of a table has as many cell separators as its header (pipes escaped).
    width = None
    for line in md.splitlines():
        if not line.startswith("|"):
            width = None
            continue
        cells = line.count("|") - line.count("\\|")
        width = width or cells
        assert cells == width, line


def test_identical_policies_have_no_difference(capsys):
    argv = ["diff", PAJEMPLOI, "--base", str(POL / "flat.yaml"), "--proposed"]
    assert main([*argv, str(POL / "flat.yaml")]) == 0
    assert "no difference" in capsys.readouterr().out


def test_changed_and_added_rules_and_detection():
    topo = make_topology(TOPO)
    base = make_policy(
        {
            "segmentation": {"rules": [ALLOW_DATA]},
            "controls": {"detection": [{"id": "d", "techniques": ["T1190"], "probability": 0.5}]},
        }
    )
    changed = {**ALLOW_DATA, "services": ["5432/tcp", "8080/tcp"]}
    prop = make_policy(
        {
            "segmentation": {"rules": [changed, DENY_WEB]},
            "controls": {"mfa": []},
        }
    )
    d = diff_policies(topo, base, prop)
    kinds = {(r.change, r.rule) for r in d.rules}
    assert kinds == {("changed", "allow-data"), ("added", "deny-web-db")}
    (ch,) = [r for r in d.rules if r.change == "changed"]
    assert ch.detail == "services: [5432/tcp] -> [5432/tcp, 8080/tcp]"
    assert [s.setting for s in d.settings] == ["controls.detection d"]


def test_lcs_moved():
    assert lcs_moved(["a", "b", "c"], ["a", "b", "c"]) == set()
    assert lcs_moved(["a", "b", "c", "d"], ["b", "c", "d", "a"]) == {"a"}
    assert lcs_moved([], []) == set()


def test_json_is_deterministic(capsys):
    argv = ["diff", PAJEMPLOI, "--base", str(POL / "segmented.yaml"), "--format", "json"]
    main([*argv, "--proposed", str(POL / "zero-trust.yaml")])
    first = capsys.readouterr().out
    main([*argv, "--proposed", str(POL / "zero-trust.yaml")])
    assert capsys.readouterr().out == first
    data = json.loads(first)
    assert data["summary"]["goals_closed"] == 2 and data["plans"]
    assert all(p["change"] in ("opened", "closed", "moved") for p in data["plans"])
