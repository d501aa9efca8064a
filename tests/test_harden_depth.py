"""``ztsim harden --depth N`` (issue 27, point 12): every goal closed even with any N-1 of
the proposed changes reverted, checked here independently of the search's own checks."""

from __future__ import annotations

import json
from itertools import combinations

import pytest

import ztsim.whatif.depth as depth_mod
from tests.conftest import ROOT, make_policy, make_topology
from ztsim.cli.main import main
from ztsim.engine.attack import AttackModel
from ztsim.engine.fixpoint import goal_facts, solve
from ztsim.inputs.loaded import LoadedPolicy
from ztsim.inputs.loader import load_policy, load_topology
from ztsim.whatif.changes import apply_changes
from ztsim.whatif.depth import DepthHardening, harden_depth
from ztsim.whatif.harden import harden

SCENARIOS = [
    ("topologies/pajemploi.yaml", "policies/flat.yaml"),
    ("topologies/corporate.yaml", "policies/corporate/flat.yaml"),
    ("topologies/k8s-shop.yaml", "policies/k8s-shop/default-allow.yaml"),
]


def _reopened(topo, policy, changes) -> list:
    """Goals reachable under ``policy`` with ``changes`` applied, solved from scratch."""
    model = AttackModel(topo)
    pol = LoadedPolicy(apply_changes(policy.model, list(changes)), "<test>")
    sol = solve(model, model.compile(pol))
    return [g for g in goal_facts(topo) if sol.reachable(g)]


@pytest.mark.parametrize(("topo", "pol"), SCENARIOS)
@pytest.mark.parametrize("n", [2, 3])
def test_every_reversal_of_n_minus_1_changes_leaves_every_goal_closed(topo, pol, n) -> None:
    t, p = load_topology(str(ROOT / topo)), load_policy(str(ROOT / pol))
    h = harden_depth(t, p, n)
    assert h.complete and h.depth_holds and not h.failures
    assert len(h.changes) >= len(harden(t, p).changes) + n - 1  # the lower bound holds
    for k in range(n):
        for kept in combinations(h.changes, len(h.changes) - k):
            assert _reopened(t, p, kept) == [], [c.text for c in h.changes if c not in kept]
    assert h.rechecks == sum(len(list(combinations(h.changes, k))) for k in range(1, n))


def test_depth_1_is_hardens_proposal(capsys) -> None:
    argv = ["harden", str(ROOT / SCENARIOS[0][0]), "-p", str(ROOT / SCENARIOS[0][1])]
    assert main(argv) == 0
    plain = capsys.readouterr().out
    assert main([*argv, "--depth", "1"]) == 0
    assert capsys.readouterr().out == plain


def test_the_verification_is_not_assumed(monkeypatch) -> None:
    """With the growing step disabled, the re-checks find the reversals that reopen."""
    monkeypatch.setattr(depth_mod, "_grow", lambda search, chosen, depth: ("", chosen))
    t, p = load_topology(str(ROOT / SCENARIOS[0][0])), load_policy(str(ROOT / SCENARIOS[0][1]))
    h = harden_depth(t, p, 2)
    assert not h.depth_holds and not h.complete
    assert len(h.failures) == len(h.changes) == 2  # each MFA alone leaves the other path


def _one_credential_scenario():
    topo = make_topology(
        {
            "zones": [{"id": "internet", "external": True}, {"id": "dmz"}],
            "credentials": [{"id": "admin-key"}],
            "hosts": [
                {
                    "id": "web",
                    "zone": "dmz",
                    "services": [{"service": "22/tcp", "public": True}],
                    "logins": [{"credential": "admin-key", "service": "22/tcp", "gives": "root"}],
                    "data": [{"id": "records", "records": 10, "requires": "user"}],
                }
            ],
            "external": [{"id": "c2", "fqdn": "c2.example", "role": "c2"}],
            "traffic": [{"from": "internet", "to": "web", "service": "22/tcp"}],
            "entry_points": [{"id": "leak", "zone": "internet", "credentials": ["admin-key"]}],
        }
    )
    return topo, make_policy({})


def test_a_depth_no_candidate_set_reaches_is_reported_and_fails(tmp_path, capsys) -> None:
    topo, pol = _one_credential_scenario()
    h = harden_depth(topo, pol, 2, kinds=["mfa"])  # MFA on the one key is the only fix
    assert isinstance(h, DepthHardening)
    assert [c.text for c in h.changes] == [harden(topo, pol, kinds=["mfa"]).changes[0].text]
    assert not h.complete and "no other candidate change closes every goal" in h.reason


def test_cli_depth_reports_and_exits(tmp_path, capsys) -> None:
    t, p = (str(ROOT / x) for x in SCENARIOS[0])
    assert main(["harden", t, "-p", p, "--depth", "2", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["depth"] == 2 and data["depth_holds"] and data["complete"]
    assert data["reversals_checked"] == len(data["changes"])
    assert main(["harden", t, "-p", p, "--depth", "2"]) == 0
    out = capsys.readouterr().out
    assert "defence in depth 2" in out and "depth 2 (verified by the fixpoint)" in out
    assert main(["harden", t, "-p", p, "--depth", "0"]) == 2
    assert capsys.readouterr().err.startswith("ztsim harden: error: --depth takes 1 to 4")
    assert main(["harden", t, "-p", p, "--depth", "2", "--exhaustive-limit", "3"]) == 2
    assert "--depth needs the exhaustive search" in capsys.readouterr().err
    out_file = tmp_path / "hardened.yaml"
    assert main(["harden", t, "-p", p, "--depth", "2", "--write", str(out_file)]) == 0
    capsys.readouterr()
    hardened = load_policy(str(out_file))
    assert _reopened(load_topology(t), hardened, []) == []
