"""``ztsim harden``: verified, minimal changes that close every goal without breaking traffic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, make_policy, make_topology

from ztsim.cli.main import main
from ztsim.engine.attack import AttackModel
from ztsim.engine.fixpoint import goal_facts, solve
from ztsim.engine.plans import extract_plan
from ztsim.inputs.loaded import LoadedPolicy
from ztsim.inputs.loader import load_policy, load_topology, policy_from_text
from ztsim.whatif.harden import harden
from ztsim.whatif.search import HittingSearch, StepGraph
from ztsim.whatif.yamlout import policy_yaml

PAJEMPLOI = str(ROOT / "topologies/pajemploi.yaml")
FLAT = str(ROOT / "policies/flat.yaml")

# The attacker's only way to the data rides two legitimate flows: nothing can be
# denied without breaking one of them.
REFUSE = {
    "zones": [{"id": "internet", "external": True}, {"id": "dmz"}, {"id": "data"}],
    "hosts": [
        {
            "id": "web",
            "zone": "dmz",
            "services": [{"service": "443/tcp", "public": True}],
            "vulnerabilities": [{"id": "CVE-1", "service": "443/tcp", "gives": "user"}],
        },
        {
            "id": "db",
            "zone": "data",
            "services": [{"service": "5432/tcp"}],
            "vulnerabilities": [{"id": "CVE-2", "service": "5432/tcp", "gives": "user"}],
            "data": [{"id": "rows", "integrity": True}],
        },
    ],
    "external": [{"id": "c2", "fqdn": "c2.evil.example", "role": "c2"}],
    "traffic": [
        {"from": "internet", "to": "web", "service": "443/tcp"},
        {"from": "web", "to": "db", "service": "5432/tcp"},
    ],
}

# Same zone, intra_zone: allow, default allow: a deny needs intra_zone: rules first.
INTRA = {
    "zones": [{"id": "internet", "external": True}, {"id": "dmz"}],
    "hosts": [
        {
            "id": "web",
            "zone": "dmz",
            "services": [{"service": "443/tcp", "public": True}],
            "vulnerabilities": [{"id": "CVE-1", "service": "443/tcp", "gives": "user"}],
        },
        {
            "id": "db",
            "zone": "dmz",
            "services": [{"service": "5432/tcp"}, {"service": "22/tcp"}],
            "vulnerabilities": [{"id": "CVE-2", "service": "22/tcp", "gives": "user"}],
            "data": [{"id": "rows", "integrity": True}],
        },
        {"id": "app", "zone": "dmz", "services": [{"service": "8080/tcp"}]},
    ],
    "traffic": [
        {"from": "internet", "to": "web", "service": "443/tcp"},
        {"from": "app", "to": "db", "service": "5432/tcp"},
    ],
}


def _reachable(topo, policy: LoadedPolicy) -> list:
    model = AttackModel(topo)
    sol = solve(model, model.compile(policy))
    return [g for g in goal_facts(topo) if sol.reachable(g)]


def test_pajemploi_flat_closes_every_goal_without_breaking_traffic():
    topo, pol = load_topology(PAJEMPLOI), load_policy(FLAT)
    h = harden(topo, pol)
    assert h.before and h.complete and h.verified
    assert h.after == [] and h.broken == [] and not h.unclosable
    assert h.proven and h.mode == "exhaustive"
    # Independent check: reload the written YAML and run the fixpoint again.
    again = policy_from_text(policy_yaml(h.hardened), "hardened.yaml")
    assert _reachable(topo, again) == []
    model = AttackModel(topo)
    compiled = model.compile(again)
    assert all(compiled.traffic(t.source, t.to, t.service).allowed for t in topo.model.traffic)
    # Every change is needed: without any one of them some goal reopens.
    assert all(h.necessary[c.key] for c in h.changes)


def test_network_only_hardening_is_three_narrow_rule_groups():
    h = harden(load_topology(PAJEMPLOI), load_policy(FLAT), kinds=["segmentation", "egress"])
    assert h.complete and h.proven
    assert [c.kind for c in h.changes] == ["restrict-service"] * 3
    assert "no set of 2 or fewer" in h.proof
    rules = [r for c in h.changes for _, r in c.rules()]
    # Deny rules are narrow: one destination host and one service each.
    for r in rules:
        if r["action"] == "deny":
            assert len(r["to"]["host"]) == 1 and len(r["services"]) == 1


def test_write_round_trips_and_passes_check(tmp_path: Path, capsys):
    out = tmp_path / "hardened.yaml"
    code = main(["harden", PAJEMPLOI, "--policy", FLAT, "--write", str(out)])
    assert code == 0
    text = out.read_text()
    assert text.startswith("# Hardened by `ztsim harden")
    assert "source:" not in text
    capsys.readouterr()
    assert main(["check", PAJEMPLOI, "--policy", str(out)]) == 0
    assert main(["harden", PAJEMPLOI, "--policy", str(out)]) == 0
    assert "nothing to harden" in capsys.readouterr().out


def test_written_rules_use_from_key(tmp_path: Path):
    out = tmp_path / "h.yaml"
    main(["harden", PAJEMPLOI, "-p", FLAT, "--kinds", "segmentation,egress", "-w", str(out)])
    text = out.read_text()
    assert "from: {host: [api-01, api-02, bo-app, payments-batch, jump-host]}" in text
    assert main(["check", PAJEMPLOI, "-p", str(out)]) == 0


def test_segmented_needs_one_narrow_deny():
    h = harden(load_topology(PAJEMPLOI), load_policy(ROOT / "policies/segmented.yaml"))
    assert h.complete and h.proven and len(h.changes) == 1
    (change,) = h.changes
    assert change.kind == "deny-flow"
    (rule,) = change.seg_rules
    assert rule["from"] == {"host": ["log-collector"]}
    assert rule["to"] == {"host": ["payroll-db"]} and rule["services"] == ["5432/tcp"]


def test_broad_egress_denied_before_the_wildcard_keeps_the_partner_bucket():
    topo = load_topology(ROOT / "topologies/k8s-shop.yaml")
    h = harden(topo, load_policy(ROOT / "policies/k8s-shop/broad-egress.yaml"))
    assert h.complete and len(h.changes) == 1
    (c,) = h.changes
    assert c.kind == "deny-destination"
    actions = [r["action"] for r in c.egress_rules]
    assert actions == ["allow", "deny"]  # the legitimate bucket first, then the wildcard
    assert c.egress_rules[0]["to"] == ["shop-assets.blob.cloudstore.example"]


def test_refuses_when_the_only_cut_breaks_traffic(capsys):
    topo, pol = make_topology(REFUSE), make_policy({})
    h = harden(topo, pol)
    assert not h.complete and h.broken == []
    assert [u.goal for u in h.unclosable] == [("tamper", "rows")]
    (u,) = h.unclosable
    assert u.needs == (
        "legitimate flow internet -> web 443/tcp",
        "legitimate flow web -> db 5432/tcp",
    )
    # Exfiltration can still be closed (egress), tampering cannot.
    assert h.after == [("tamper", "rows")]


def test_refusal_exit_status_and_message(tmp_path: Path, capsys):
    from conftest import _text

    t = tmp_path / "t.yaml"
    t.write_text(_text(REFUSE, "topology"))
    p = tmp_path / "p.yaml"
    p.write_text("ztsim: 1\nkind: policy\nname: open\n")
    assert main(["harden", str(t), "-p", str(p)]) == 1
    out = capsys.readouterr().out
    assert "cannot be closed without breaking legitimate traffic" in out
    assert "tamper(rows): its open plan needs legitimate flow internet -> web 443/tcp" in out
    assert main(["harden", str(t), "-p", str(p), "--no-keep-traffic"]) == 0
    out = capsys.readouterr().out
    assert "broken: web -> db 5432/tcp" in out


def test_no_keep_traffic_breaks_only_what_it_must():
    h = harden(make_topology(REFUSE), make_policy({}), keep_traffic=False)
    assert h.complete and len(h.broken) == 1
    assert h.topology.model.traffic[h.broken[0]].to == "db"


def test_intra_zone_allow_needs_the_switch_first():
    topo = make_topology(INTRA)
    pol = make_policy({"segmentation": {"default": "allow", "intra_zone": "allow"}})
    h = harden(topo, pol)
    assert h.complete and h.proven
    kinds = sorted(c.kind for c in h.changes)
    assert "intra-zone-rules" in kinds and len(kinds) == 2
    assert h.hardened.segmentation.intra_zone == "rules"
    # The legitimate same-zone flow keeps an explicit allow.
    assert h.broken == []


def test_iterative_mode_for_large_topologies():
    h = harden(load_topology(PAJEMPLOI), load_policy(FLAT), exhaustive_limit=0)
    assert h.mode == "iterative" and h.complete and not h.proven
    assert "not proven minimal" in h.proof


def test_output_is_deterministic(capsys):
    main(["harden", PAJEMPLOI, "-p", FLAT, "--format", "json"])
    first = capsys.readouterr().out
    main(["harden", PAJEMPLOI, "-p", FLAT, "--format", "json"])
    assert capsys.readouterr().out == first
    data = json.loads(first)
    assert data["complete"] and data["proven_minimal"] and data["broken"] == []


def test_bad_kinds_is_a_usage_error(capsys):
    assert main(["harden", PAJEMPLOI, "-p", FLAT, "--kinds", "firewall"]) == 2
    assert "--kinds" in capsys.readouterr().err


def test_nothing_to_do_under_zero_trust():
    h = harden(load_topology(PAJEMPLOI), load_policy(ROOT / "policies/zero-trust.yaml"))
    assert h.before == [] and h.changes == [] and h.complete


# --------------------------------------------------------------------------- search


class _S:
    """A stand-in step: only what StepGraph reads."""

    def __init__(self, pre: tuple, post: tuple) -> None:
        self.pre, self.post = pre, post


def test_exact_search_beats_the_path_view_cut_on_an_and_node():
    # goal <- g(A, B); A <- a; B <- b1 | b2.  Forbidding `a` alone closes the goal,
    # while cutting every path also needs b1 and b2.
    steps = [
        _S((), (("s",),)),
        _S((("s",),), (("A",),)),  # a: change 0
        _S((("s",),), (("B",),)),  # b1: change 1
        _S((("s",),), (("B",),)),  # b2: change 2
        _S((("A",), ("B",)), (("goal",),)),
    ]
    g = StepGraph(steps)  # type: ignore[arg-type]
    options = [[], [(0,)], [(1,)], [(2,)], []]
    search = HittingSearch(g, [g.fact_index[("goal",)]], options, lambda s: (sorted(s),))
    out = search.run()
    assert out.chosen == frozenset({0}) and out.proven


def test_exact_search_proves_two_disjoint_plans_need_two_changes():
    steps = [
        _S((), (("s",),)),
        _S((("s",),), (("goal",),)),  # change 0
        _S((("s",),), (("goal",),)),  # change 1
    ]
    g = StepGraph(steps)  # type: ignore[arg-type]
    search = HittingSearch(
        g, [g.fact_index[("goal",)]], [[], [(0,)], [(1,)]], lambda s: (sorted(s),)
    )
    out = search.run()
    assert out.chosen == frozenset({0, 1}) and out.proven and out.exhausted_size >= 1


@pytest.mark.parametrize("policy", ["flat", "segmented", "zero-trust"])
def test_yaml_writer_round_trips_shipped_policies(policy: str):
    p = load_policy(ROOT / f"policies/{policy}.yaml")
    assert policy_from_text(policy_yaml(p.model)).model == p.model


def test_the_iterative_search_says_when_it_ran_out_of_rounds(monkeypatch):
    import ztsim.whatif.harden as hardening

    topo = load_topology(PAJEMPLOI)
    monkeypatch.setattr(hardening, "ROUNDS", 0)
    h = harden(topo, load_policy(FLAT), exhaustive_limit=0)
    assert h.mode == "iterative" and not h.changes and h.after and not h.complete
    assert h.proof.startswith("incomplete: goals were still open after 0 rounds")
    assert not h.proven


def test_the_context_keeps_a_few_compilations_and_memoises_their_answers(monkeypatch):
    import ztsim.whatif.candidates as candidates
    from ztsim.whatif.candidates import Context
    from ztsim.whatif.changes import step_allowed

    monkeypatch.setattr(candidates, "KEEP_COMPILED", 3)

    topo = load_topology(PAJEMPLOI)
    model = AttackModel(topo)
    ctx = Context(model, load_policy(FLAT))
    sol = solve(model, ctx.compiled)
    steps = [st for g in goal_facts(topo) if (p := extract_plan(sol, g)) for st in p.steps]
    changes = {c.key: c for st in steps for c in ctx.candidates(st)}
    assert len(changes) > 3  # enough to overflow the cache
    for c in changes.values():
        for st in steps:
            assert ctx.allows(st, [c]) == step_allowed(st, ctx.decider_with([c]))
        assert ctx.breaks([c]) == ctx.breaks([c])
    assert len(ctx._compiled) == 3
    for c in changes.values():  # answers stay right once their compilation is dropped
        fresh = Context(model, load_policy(FLAT))
        for st in steps:
            assert ctx.allows(st, [c]) == fresh.allows(st, [c])
        assert ctx.breaks([c]) == fresh.breaks([c])
