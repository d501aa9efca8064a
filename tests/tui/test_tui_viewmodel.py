"""The TUI's Textual-free layers: view model, filter and sort, export, scenario, run()."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tui_support import TOPOLOGY, copy_scenario

from ztsim.analysis.analyze import analyze
from ztsim.model.diagnostics import InputError
from ztsim.tui import default_scenario, run
from ztsim.tui.diffview import build_diff, write_diff_export
from ztsim.tui.export import ExportState, export_json, export_markdown, write_export
from ztsim.tui.query import PlanQuery, parse_filter
from ztsim.tui.scenario import Reuse, Scenario, Session, display_path
from ztsim.tui.topoview import HostViews
from ztsim.tui.viewmodel import ViewModel, base_view, plan_views, with_plans


@pytest.fixture
def vm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ViewModel:
    """The full view model of the frozen scenario."""
    monkeypatch.chdir(tmp_path)
    topo, pols, warnings = copy_scenario(tmp_path).load()
    a = analyze(topo, pols)
    base = base_view(a, topo.path, warnings)
    plans = []
    for g in a.goals:
        plans.extend(plan_views(a, a.plans(g, 5), start=len(plans)))
    return with_plans(base, plans, len(a.goals))


def test_view_model_copies_the_core_verdicts(vm):
    assert vm.complete and vm.goals_total == 2
    assert [p.name for p in vm.policies] == ["flat", "segmented", "zero-trust"]
    zt = vm.policies[2]
    assert zt.safe and zt.records_at_risk == 0 and zt.plans_blocked == zt.plans == len(vm.plans)
    for plan in vm.plans:
        assert len(plan.cells) == 3 and all(len(s.checks) == 3 for s in plan.steps)
        assert plan.cost == len(plan.steps)
        for i, cell in enumerate(plan.cells):
            if cell.blocked:
                # the blocking step is the first one not allowed, and later steps are not reached
                step = plan.steps[cell.step - 1].checks[i]
                assert not step.allowed and step.blocked_by == cell.rule
                assert all(not s.checks[i].reached for s in plan.steps[cell.step :])
            else:
                assert all(s.checks[i].allowed for s in plan.steps)
    assert vm.plan(vm.plans[0].ident) is vm.plans[0]
    assert vm.plan("nope") is None


def test_hosts_and_plans_through_them(vm):
    zones = {z.id: z for z in vm.topology.zones}
    assert zones["internet"].external and "payroll-db" in zones["data"].hosts
    db = vm.topology.hosts["payroll-db"]
    assert any(s.startswith("5432/tcp") and "plaintext" in s for s in db.services)
    assert any("payroll-records" in d and "1,200,000" in d for d in db.data)
    through = vm.plans_through("payroll-db")
    assert through and all("payroll-db" in p.hosts for p in through)


def test_traffic_rows_have_one_cell_per_policy(vm):
    assert len(vm.traffic) == 27
    first = vm.traffic[0]
    assert (first.source, first.to, first.service) == ("internet", "portal-web", "443/tcp")
    assert [c.policy for c in first.cells] == ["flat", "segmented", "zero-trust"]
    assert all(c.allowed for c in first.cells)
    assert "policies/zero-trust.yaml:" in first.cells[2].explanation


def test_parse_filter():
    assert parse_filter("goal:Tamper t:T1557 vpn host:") == [
        ("goal", "tamper"),
        ("tech", "t1557"),
        (None, "vpn"),
        (None, "host:"),
    ]
    assert parse_filter("  ") == []


def test_query_filters_and_sorts(vm):
    everything = PlanQuery().apply(vm.plans, 0)
    assert [p.cost for p in everything] == sorted(p.cost for p in vm.plans)
    vpn = PlanQuery("entry:vpn").apply(vm.plans, 0)
    assert vpn and all("vpn" in p.entry for p in vpn)
    assert PlanQuery("is:blocked").apply(vm.plans, 2) == PlanQuery().apply(vm.plans, 2)
    assert PlanQuery("is:blocked").apply(vm.plans, 0) == []
    assert PlanQuery("no-such-thing").apply(vm.plans, 0) == []
    by_goal = PlanQuery(sort="goal").apply(vm.plans, 0)
    assert [p.goal for p in by_goal] == sorted(p.goal for p in vm.plans)
    assert PlanQuery().next_sort().sort == "records"
    assert PlanQuery(sort="goal").next_sort().sort == "cost"
    assert PlanQuery("x").describe() == "sorted by cost, filter: x"


def test_exports_are_deterministic_and_relative(vm, tmp_path):
    state = ExportState("paths", PlanQuery(), 1, vm.plans[0].ident, None)
    md = export_markdown(vm, state)
    assert md == export_markdown(vm, state)
    assert str(tmp_path) not in md
    assert f"## Plan {vm.plans[0].ident} under segmented" in md
    data = export_json(vm, state)
    assert data["policy"] == "segmented" and data["file"] == TOPOLOGY
    assert data["selected"]["steps"][0]["step"] == 1
    path = write_export(vm, state, "json", tmp_path)
    assert path.name == "ztsim-export-paths.json"
    assert json.loads(path.read_text()) == json.loads(json.dumps(data))
    topo = export_markdown(vm, ExportState("topology", host="payroll-db"))
    assert "## Host payroll-db (zone data)" in topo and "### Plans through payroll-db" in topo
    tj = export_json(vm, ExportState("topology", host="payroll-db"))
    assert tj["host"]["plans"]
    traffic = export_json(vm, ExportState("traffic"))
    assert len(traffic["traffic"]) == 27


def test_scenario_stamp_notices_changes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    sc = copy_scenario(tmp_path)
    before = sc.stamp()
    assert [s[0] for s in before] == [
        TOPOLOGY,
        "policies/flat.yaml",
        "policies/segmented.yaml",
        "policies/zero-trust.yaml",
    ]
    assert sc.stamp() == before
    (tmp_path / "policies" / "extra.yaml").write_text((tmp_path / "policies/flat.yaml").read_text())
    assert sc.stamp() != before


def test_scenario_paths_are_shown_relative(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert display_path(tmp_path / "a" / "b.yaml") == "a/b.yaml"
    assert display_path("x.yaml") == "x.yaml"
    assert display_path("/elsewhere/x.yaml") == "/elsewhere/x.yaml"
    sc = Scenario.from_args(tmp_path / "t.yaml", [str(tmp_path / "p")])
    assert sc == Scenario("t.yaml", ("p",))


def test_empty_policy_folder_is_an_error(tmp_path, monkeypatch):
    from ztsim.model.diagnostics import InputError

    monkeypatch.chdir(tmp_path)
    copy_scenario(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError) as exc:
        Scenario(TOPOLOGY, ("empty",)).load()
    assert str(exc.value).startswith("empty:1:1: error: no policy file found")


def test_default_scenario_is_the_bundled_pajemploi():
    sc = default_scenario()
    assert sc.topology.endswith("pajemploi.yaml")
    topo, pols, _ = sc.load()
    assert topo.name == "pajemploi" and len(pols) >= 3


def test_run_reports_a_missing_file(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run("nope.yaml", []) == 2
    assert capsys.readouterr().err.startswith("nope.yaml:1:1: error:")


def test_cli_tui_with_a_missing_file_exits_2(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "ztsim", "tui", "missing.yaml"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "missing.yaml:1:1: error" in proc.stderr


def test_the_view_model_layers_do_not_import_textual():
    code = (
        "import sys, ztsim.tui, ztsim.tui.viewmodel, ztsim.tui.query, ztsim.tui.export, "
        "ztsim.tui.scenario, ztsim.tui.topoview, ztsim.tui.diffview\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_session_reuses_unchanged_policies(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    session = Session(copy_scenario(tmp_path))
    a, _, reuse = session.analyze()
    assert [r.policy.name for r in a.results] == ["flat", "segmented", "zero-trust"]
    assert reuse == Reuse(True, 3, 3, 0)
    assert reuse.describe() == "topology changed: judged 3 policies"
    again, _, reuse = session.analyze()
    assert (
        reuse == Reuse(False, 0, 0, 3) and reuse.describe() == "nothing changed: reused 3 policies"
    )
    assert again.topology is a.topology  # parsed once
    assert again.results[0] is a.results[0]
    policy = tmp_path / "policies" / "zero-trust.yaml"
    policy.write_text(policy.read_text() + "\n")
    third, _, reuse = session.analyze()
    assert reuse == Reuse(False, 1, 1, 2) and reuse.describe() == "reloaded 1 policy, reused 2"
    assert third.results[:2] == a.results[:2] and third.results[2] is not a.results[2]
    assert session.workspace() is session.workspace()


def test_a_policy_reload_keeps_the_topology_view_and_hosts_are_viewed_on_demand(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    session = Session(copy_scenario(tmp_path))
    a, _, _ = session.analyze()
    view = base_view(a, a.topology.path).topology
    assert isinstance(view.hosts, HostViews) and view.hosts._views == {}  # nothing built yet
    db = view.hosts["payroll-db"]
    assert list(view.hosts._views) == ["payroll-db"] and view.hosts["payroll-db"] is db
    assert len(view.hosts) == len(a.topology.hosts) and list(view.hosts) == list(a.topology.hosts)
    assert "payroll-db" in view.hosts and "nope" not in view.hosts
    assert view.hosts.get("nope") is None
    policy = tmp_path / "policies" / "zero-trust.yaml"
    policy.write_text(policy.read_text() + "\n")
    again, _, _ = session.analyze()
    assert base_view(again, again.topology.path).topology is view  # the tab need not rebuild
    topo = tmp_path / TOPOLOGY
    topo.write_text(topo.read_text() + "\n")
    third, _, _ = session.analyze()
    fresh = base_view(third, third.topology.path).topology
    assert fresh is not view and fresh == view  # re-read, same content
    assert fresh.hosts == dict(view.hosts.items()) and fresh.hosts != {"x": db}


def test_session_reports_every_bad_file_at_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = copy_scenario(tmp_path)
    session = Session(scenario)
    session.analyze()
    for name in ("flat", "segmented"):
        policy = tmp_path / "policies" / f"{name}.yaml"
        policy.write_text(policy.read_text().replace("ztsim: 1", "ztsim: 1\nbogus: 2"))
    with pytest.raises(InputError) as exc:
        session.analyze()
    paths = {d.path for d in exc.value.diagnostics}
    assert paths == {"policies/flat.yaml", "policies/segmented.yaml"}
    assert all(d.line >= 1 and d.column >= 1 for d in exc.value.diagnostics)


def test_empty_policy_folder_is_an_error_for_the_session(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    copy_scenario(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no policy file found"):
        Session(Scenario(TOPOLOGY, ("empty",))).analyze()


def test_via_tells_plans_apart(vm):
    assert all(p.via.startswith("portal-web>") for p in vm.plans)
    assert len({(p.entry, p.via) for p in vm.plans}) == len(vm.plans)
    jumps = [p for p in vm.plans if "," in p.via]
    assert jumps and all(",portal-web>payroll-db" in p.via for p in jumps)
    assert any(p.via.endswith(" api-01⇒c2") for p in vm.plans)


def test_diff_view_rows(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    topo, pols, _ = copy_scenario(tmp_path).load()
    flat, zt = pols[0], pols[2]
    dv = build_diff(topo, flat, zt)
    assert (dv.base, dv.proposed, dv.base_path) == ("flat", "zero-trust", "policies/flat.yaml")
    assert not dv.failed and dv.verdict.startswith("PASS (--fail-on opened)")
    assert [g.change for g in dv.goals] == ["closed", "closed"]
    assert dv.goals[0].base == "reachable (cost 7)" and dv.goals[0].proposed == "blocked"
    assert len(dv.plans) == 10 and {p.change for p in dv.plans} == {"closed"}
    first = dv.plans[0]
    assert first.cause == "segmentation default" and first.step == 3
    assert [s.responsible for s in first.steps].count(True) == 1
    assert first.steps[2].proposed.text.startswith("BLOCKED by default")
    assert not first.steps[3].proposed.reached and first.steps[3].base.reached
    added = [r for r in dv.rules if r.change == "added"]
    assert added[0].location == "policies/zero-trust.yaml:14"
    back = build_diff(topo, zt, flat)
    assert back.failed and {p.change for p in back.plans} == {"opened"}
    assert dv.plan(first.ident) is first and dv.plan("nope") is None
    same = build_diff(topo, flat, flat)
    assert same.empty and not same.plans
    md = write_diff_export(dv, "md", tmp_path)
    assert md.name == "ztsim-export-diff.md" and md.read_text() == dv.markdown
    data = json.loads(write_diff_export(dv, "json", tmp_path).read_text())
    assert data["summary"]["plans_closed"] == 10
