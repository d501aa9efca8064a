"""Work on two cores gives what one core gives, whatever happens in the child.

``fork_map`` on its own, then plans listed per goal on two cores.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import ztsim.analysis.analyze
from ztsim.analysis.analyze import analyze
from ztsim.inputs.loader import load_policies, load_topology
from ztsim.perf.forking import fork_map

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
    monkeypatch.setattr(ztsim.analysis.analyze, "PARALLEL_HOSTS", 0)
    a = analyze(topo, pols)
    got = a.plans_by_goal(list(reversed(a.goals)), 4)
    assert list(got) == list(reversed(a.goals))
    assert got == wanted
