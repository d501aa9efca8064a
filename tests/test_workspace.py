"""The Workspace re-judges only what changed (issue: interactive re-checks)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from ztsim.analysis.workspace import Workspace
from ztsim.model.diagnostics import InputError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "topologies" / "pajemploi.yaml", tmp_path / "topology.yaml")
    shutil.copytree(ROOT / "policies", tmp_path / "policies", ignore=shutil.ignore_patterns("*/"))
    for sub in ("k8s-shop", "corporate"):
        shutil.rmtree(tmp_path / "policies" / sub, ignore_errors=True)
    return tmp_path


def _reachable(a) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {r.policy.name: len(r.reachable_goals) for r in a.results}


def test_unchanged_files_are_not_solved_again(scenario: Path) -> None:
    ws = Workspace(scenario / "topology.yaml")
    first = ws.analyze([scenario / "policies"])
    assert ws.stats.solves == 3 and ws.stats.topology_loads == 1
    again = ws.analyze([scenario / "policies"])
    assert ws.stats.solves == 3 and ws.stats.policy_loads == 3
    assert _reachable(first) == _reachable(again) == {"flat": 2, "segmented": 2, "zero-trust": 0}


def test_one_policy_edit_resolves_only_that_policy(scenario: Path) -> None:
    ws = Workspace(scenario / "topology.yaml")
    ws.analyze([scenario / "policies"])
    zt = scenario / "policies" / "zero-trust.yaml"
    # Opening egress again lets the data out under zero-trust too.
    zt.write_text(zt.read_text().replace("default: deny", "default: allow"), encoding="utf-8")
    a = ws.analyze([scenario / "policies"])
    assert ws.stats.solves == 4 and ws.stats.topology_loads == 1
    assert _reachable(a)["zero-trust"] > 0


def test_a_broken_edit_raises_and_keeps_the_last_good_state(scenario: Path) -> None:
    ws = Workspace(scenario / "topology.yaml")
    good = ws.analyze([scenario / "policies"])
    flat = scenario / "policies" / "flat.yaml"
    text = flat.read_text()
    flat.write_text(text.replace("segmentation:", "segmentaton:"), encoding="utf-8")
    with pytest.raises(InputError) as err:
        ws.analyze([scenario / "policies"])
    assert "flat.yaml" in str(err.value)
    flat.write_text(text, encoding="utf-8")
    assert _reachable(ws.analyze([scenario / "policies"])) == _reachable(good)


def test_a_topology_edit_resolves_everything(scenario: Path) -> None:
    ws = Workspace(scenario / "topology.yaml")
    ws.analyze([scenario / "policies"])
    topo = scenario / "topology.yaml"
    topo.write_text(topo.read_text() + "\n# a comment changes the bytes\n", encoding="utf-8")
    ws.analyze([scenario / "policies"])
    assert ws.stats.topology_loads == 2 and ws.stats.solves == 6


def test_a_one_rule_edit_is_patched_and_matches_a_fresh_check(scenario: Path) -> None:
    """The edited rule alone is re-parsed, the target groups are reused, and the
    result is the one a fresh analysis of the edited files gives."""
    from ztsim.analysis.analyze import analyze
    from ztsim.inputs.loader import load_policies, load_topology
    from ztsim.output.console import dump_json

    ws = Workspace(scenario / "topology.yaml")
    ws.analyze([scenario / "policies"])
    path = scenario / "policies" / "segmented.yaml"
    text = path.read_text(encoding="utf-8")
    assert "action: allow" in text
    path.write_text(text.replace("action: allow", "action: deny", 1), encoding="utf-8")
    edited = ws.analyze([scenario / "policies"])
    assert ws.stats.policy_patches == 1 and ws.stats.solves == 4
    seg = next(r for r in edited.results if r.policy.name == "segmented")
    assert seg.compiled.reused_targets
    fresh = analyze(
        load_topology(scenario / "topology.yaml"), load_policies([scenario / "policies"])
    )
    assert dump_json(edited.to_json()) == dump_json(fresh.to_json())


SNIFF_TOPOLOGY = """\
ztsim: 1
kind: topology
name: sniff-twins
zones: [{id: x, external: true}, {id: a}, {id: b}]
credentials: [{id: c}]
hosts:
  - id: s1
    zone: b
    services: [{service: 22/tcp, public: true}]
    vulnerabilities: [{id: v1, service: 22/tcp, gives: root}]
  - id: s2
    zone: a
    services: [{service: 22/tcp, public: true}]
    vulnerabilities: [{id: v2, service: 22/tcp, gives: root}]
  - id: q
    zone: a
    services: [{service: 80/tcp}]
  - id: p
    zone: a
    services: [{service: 5432/tcp}]
    logins: [{credential: c, service: 5432/tcp, gives: user}]
    data: [{id: d, integrity: true}]
traffic:
  - {from: q, to: p, service: 5432/tcp, credential: c}
"""


def test_a_recheck_that_turns_encryption_off_keeps_the_sniffing_zone_apart(
    tmp_path: Path,
) -> None:
    """Under a zone-blind policy that encrypts in transit, s1 (zone b) and s2 (zone a)
    are one class and s1 represents both.  Turning encryption off makes zone a
    matter (root on s2 can sniff q -> p and log in to p with c): the
    re-check must not reuse the earlier classes (``_kept_zones`` grew), or it misses
    that tampering with d is reachable, as a fresh check finds it."""
    from ztsim.analysis.analyze import analyze
    from ztsim.inputs.loader import load_policies, load_topology

    topo, pol = tmp_path / "topology.yaml", tmp_path / "policy.yaml"
    topo.write_text(SNIFF_TOPOLOGY, encoding="utf-8")
    head = "ztsim: 1\nkind: policy\nname: p\ncontrols:\n  encrypt_in_transit: "
    pol.write_text(head + "true\n", encoding="utf-8")
    ws = Workspace(topo)
    before = ws.analyze([pol]).results[0]
    assert not any(g.reachable for g in before.goals)
    pol.write_text(head + "false\n", encoding="utf-8")
    after = ws.analyze([pol]).results[0]
    fresh = analyze(load_topology(topo), load_policies([pol])).results[0]
    assert {g.goal: g.reachable for g in fresh.goals}[("tamper", "d")]
    assert [(g.goal, g.reachable, g.cost) for g in after.goals] == [
        (g.goal, g.reachable, g.cost) for g in fresh.goals
    ]


def _recheck_and_fresh(tmp_path: Path, topology: str, before: str, after: str) -> tuple[Any, Any]:
    """Goals (goal, reachable, cost) of a workspace re-check of ``after`` following
    ``before``, and of a fresh check of ``after``."""
    from ztsim.analysis.analyze import analyze
    from ztsim.inputs.loader import load_policies, load_topology

    topo, pol = tmp_path / "topology.yaml", tmp_path / "policy.yaml"
    topo.write_text(topology, encoding="utf-8")
    pol.write_text(before, encoding="utf-8")
    ws = Workspace(topo)
    ws.analyze([pol])
    pol.write_text(after, encoding="utf-8")
    got = ws.analyze([pol]).results[0]
    fresh = analyze(load_topology(topo), load_policies([pol])).results[0]

    def goals(r: Any) -> list[tuple[Any, bool, int | None]]:
        return [(g.goal, g.reachable, g.cost) for g in r.goals]

    return goals(got), goals(fresh)


def test_a_recheck_that_allows_intra_zone_flows_redraws_zone_blind_classes(
    tmp_path: Path,
) -> None:
    """A zone-blind policy's classes span zones (their zone is ``""``); turning
    ``intra_zone: allow`` on makes zones count, so they must not be reused (else
    w in zone a is judged as if u in zone b were in its zone)."""
    topology = """\
ztsim: 1
kind: topology
name: intra
zones: [{id: x, external: true}, {id: a}, {id: b}]
hosts:
  - id: w
    zone: a
    services: [{service: 22/tcp, public: true}]
    vulnerabilities: [{id: vw, service: 22/tcp, gives: root}]
  - id: t
    zone: a
    services: [{service: 5432/tcp}]
    vulnerabilities: [{id: vt, service: 5432/tcp, gives: user}]
    data: [{id: d, integrity: true}]
  - id: u
    zone: b
    services: [{service: 5432/tcp}]
    vulnerabilities: [{id: vu, service: 5432/tcp, gives: user}]
    data: [{id: e, integrity: true}]
"""
    policy = """\
ztsim: 1
kind: policy
name: p
segmentation:
  default: deny
  intra_zone: {mode}
  rules: [{{id: in, action: allow, to: {{host: w}}}}]
"""
    got, fresh = _recheck_and_fresh(
        tmp_path, topology, policy.format(mode="rules"), policy.format(mode="allow")
    )
    assert (("tamper", "d"), True, 5) in fresh and (("tamper", "e"), False, None) in fresh
    assert got == fresh


def test_a_recheck_whose_rule_names_a_new_label_pair_redraws_destination_classes(
    tmp_path: Path,
) -> None:
    """Destination classes tell hosts apart only by the label pairs some `to` names;
    a rule naming a new pair (tier=db) needs finer classes than the earlier version's
    (else db and web, one class, are judged alike and a -> db is missed)."""
    topology = """\
ztsim: 1
kind: topology
name: labels
zones: [{id: z}]
hosts:
  - {id: a, zone: z}
  - id: db
    zone: z
    labels: {tier: db}
    services: [{service: 22/tcp}]
    vulnerabilities: [{id: v1, service: 22/tcp, gives: root}]
    data: [{id: d, integrity: true}]
  - id: web
    zone: z
    services: [{service: 22/tcp}]
    vulnerabilities: [{id: v2, service: 22/tcp, gives: root}]
entry_points: [{id: foothold, host: a, gives: user}]
"""
    before = "ztsim: 1\nkind: policy\nname: p\nsegmentation: {default: deny}\n"
    after = before.replace(
        "{default: deny}",
        "\n  default: deny\n  rules: [{id: db, action: allow, to: {labels: {tier: db}}}]",
    )
    got, fresh = _recheck_and_fresh(tmp_path, topology, before, after)
    assert (("tamper", "d"), True, 4) in fresh
    assert got == fresh
