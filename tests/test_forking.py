"""fork_map gives what a plain map gives, whatever happens in its child."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import ztsim.analysis
from ztsim.analysis import PolicyResult, analyze
from ztsim.engine import AttackModel
from ztsim.forking import Forked, fork_map
from ztsim.loader import LoadedPolicy, LoadedTopology, load_policies, load_topology

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZTSIM_PARALLEL", raising=False)


@pytest.mark.parametrize("n", [0, 1, 2, 3, 10, 101])
def test_same_results_in_the_same_order(n: int) -> None:
    items = list(range(n))
    assert fork_map(lambda x: (x, x * x), items) == [(x, x * x) for x in items]


def test_half_of_the_items_run_in_a_child() -> None:
    parent = os.getpid()
    pids = fork_map(lambda _: os.getpid(), list(range(6)))
    assert pids[0::2] == [parent] * 3
    assert all(p != parent for p in pids[1::2])


def test_a_failing_child_leaves_its_share_to_the_parent() -> None:
    parent = os.getpid()

    def only_here(x: int) -> int:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return x + 1

    assert fork_map(only_here, list(range(7))) == list(range(1, 8))


def test_results_pickle_refuses_are_computed_in_the_parent() -> None:
    out = fork_map(lambda x: lambda: x, list(range(5)))  # a lambda does not pickle
    assert [f() for f in out] == list(range(5))


def test_an_error_in_the_parent_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = os.getpid()

    def fails_here(x: int) -> int:
        if os.getpid() == parent:
            raise ValueError(x)
        return x

    with pytest.raises(ValueError):
        fork_map(fails_here, list(range(4)))
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # the child was reaped


def test_off_means_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZTSIM_PARALLEL", "off")
    parent = os.getpid()
    assert fork_map(lambda _: os.getpid(), list(range(6))) == [parent] * 6


def test_plans_by_goal_on_two_cores_are_the_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    topo = load_topology(ROOT / "topologies" / "pajemploi.yaml")
    pols = load_policies([ROOT / "policies"])
    expected = analyze(topo, pols)
    wanted = {g: expected.plans(g, 4) for g in expected.goals}
    monkeypatch.setattr(ztsim.analysis, "PARALLEL_HOSTS", 0)
    a = analyze(topo, pols)
    got = a.plans_by_goal(list(reversed(a.goals)), 4)
    assert list(got) == list(reversed(a.goals))
    assert got == wanted


def _scenario() -> tuple[LoadedTopology, list[LoadedPolicy]]:
    return load_topology(ROOT / "topologies" / "pajemploi.yaml"), load_policies([ROOT / "policies"])


@pytest.mark.parametrize("for_plans", [False, True])
def test_policies_solved_on_two_cores_give_the_same_results(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, for_plans: bool
) -> None:
    topo, pols = _scenario()
    monkeypatch.setenv("ZTSIM_PARALLEL", "off")
    expected = analyze(topo, pols, for_plans=for_plans)
    monkeypatch.delenv("ZTSIM_PARALLEL")
    monkeypatch.setattr(ztsim.analysis, "PARALLEL_HOSTS", 0)
    parent, log = os.getpid(), tmp_path / "solved-in-the-child"
    finish = ztsim.analysis._finish

    def spy(model: AttackModel, policy: LoadedPolicy, *rest: Any) -> PolicyResult:
        if os.getpid() != parent:
            with log.open("a") as f:
                f.write(policy.name + "\n")
        return finish(model, policy, *rest)

    monkeypatch.setattr(ztsim.analysis, "_finish", spy)
    got = analyze(topo, pols, for_plans=for_plans)
    # Every other policy (the second, the fourth...) was solved in the child; for
    # plan listing, every one here.
    solved = log.read_text().split() if log.exists() else []
    assert solved == ([] if for_plans else [p.name for p in pols[1::2]])
    assert got.to_json() == expected.to_json()
    for a, b in zip(got.results, expected.results, strict=True):
        assert a.solution.policy is a.compiled and a.solution.model is got.model
        assert a.solution.cost == b.solution.cost and a.solution.fired == b.solution.fired
        assert a.solution.best == b.solution.best
        assert list(a.solution.order.items()) == list(b.solution.order.items())
    assert [got.plans(g, 3) for g in got.goals] == [expected.plans(g, 3) for g in expected.goals]


def test_policies_a_child_fails_to_solve_are_solved_here(monkeypatch: pytest.MonkeyPatch) -> None:
    topo, pols = _scenario()
    expected = analyze(topo, pols).to_json()
    monkeypatch.setattr(ztsim.analysis, "PARALLEL_HOSTS", 0)
    parent = os.getpid()
    finish = ztsim.analysis._finish

    def only_here(*args: Any) -> PolicyResult:
        if os.getpid() != parent:
            raise RuntimeError("the child fails")
        return finish(*args)

    monkeypatch.setattr(ztsim.analysis, "_finish", only_here)
    assert analyze(topo, pols).to_json() == expected


def test_an_unreadable_answer_is_solved_here(monkeypatch: pytest.MonkeyPatch) -> None:
    topo, pols = _scenario()
    expected = analyze(topo, pols).to_json()
    monkeypatch.setattr(ztsim.analysis, "PARALLEL_HOSTS", 0)
    monkeypatch.setattr(Forked, "result", lambda self: self.close() or b"\x80junk")
    assert analyze(topo, pols).to_json() == expected
