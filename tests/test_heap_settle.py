"""The workspace keeps its results out of the collector's scans (:func:`ztsim.perf.heap.settle`).

Freezing is only sound if what is frozen makes no garbage cycles (frozen cycles are
never collected) or if the frozen heap is collected now and then: these tests hold
both, and that a re-check no longer runs the collector over what it built.
"""

from __future__ import annotations

import gc
import shutil
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from ztsim.analysis import workspace as workspace_module
from ztsim.analysis.workspace import Workspace
from ztsim.perf import heap

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def collector() -> Iterator[None]:
    """Run with the collector on, a clean frozen heap and ``settle``'s memory reset."""
    was = gc.isenabled()
    saved = heap._mark
    gc.unfreeze()
    gc.collect()
    heap._mark = 0
    gc.enable()
    try:
        yield
    finally:
        gc.unfreeze()
        heap._mark = saved
        if not was:
            gc.disable()


@pytest.fixture(scope="module")
def estate(h600: Path) -> Path:
    """The heterogeneous estate of 600 hosts shared by the session (``conftest.h600``)."""
    return h600


def _copy(estate: Path, tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(estate, tmp_path / "s")
    return tmp_path / "s" / "topology.yaml", tmp_path / "s" / "policies"


def _edit(policies: Path) -> None:
    """Flip the first allow rule of one policy to deny."""
    path = policies / "h-two.yaml"
    text = path.read_text(encoding="utf-8")
    assert "action: allow" in text
    path.write_text(text.replace("action: allow", "action: deny", 1), encoding="utf-8")


def test_a_recheck_makes_no_garbage_cycles(
    estate: Path, tmp_path: Path, collector: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the workspace freezes must not hold cycles: judged without freezing, then
    # dropped, nothing is left for the collector to find.
    monkeypatch.setattr(workspace_module, "settle", lambda: None)
    topology, policies = _copy(estate, tmp_path)
    gc.disable()
    ws = Workspace(topology)
    a = ws.analyze([policies])
    assert a.results
    _edit(policies)
    a = ws.analyze([policies])
    assert ws.stats.solves == len(a.results) + 1
    del a, ws
    assert gc.collect() == 0


def test_a_recheck_runs_no_collection(estate: Path, tmp_path: Path, collector: None) -> None:
    topology, policies = _copy(estate, tmp_path)
    ws = Workspace(topology)
    ws.analyze([policies])
    runs: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            runs.append(info["generation"])

    _edit(policies)
    gc.callbacks.append(count)
    try:
        a = ws.analyze([policies])
        # what a caller does next allocates: still no scan of the re-check's objects
        [r.reachable_goals for r in a.results]
    finally:
        gc.callbacks.remove(count)
    assert ws.stats.solves == len(a.results) + 1
    assert runs == []


class _Node:
    """An object in a reference cycle (with itself)."""

    def __init__(self) -> None:
        self.me = self


def test_settle_collects_frozen_cycles_once_the_heap_doubles(collector: None) -> None:
    heap.settle()
    base = heap._mark
    assert base > 0
    garbage = [_Node() for _ in range(100)]
    probe = weakref.ref(garbage[0])
    heap.settle()  # frozen while alive
    del garbage
    assert probe() is not None  # a frozen cycle: kept
    heap.settle()  # not yet doubled: kept still
    assert probe() is not None
    # the heap doubles: the frozen objects are collected once, then frozen again
    kept = [[] for _ in range(base + 100)]
    heap.settle()
    assert probe() is None
    assert heap._mark > base
    assert len(kept) > base


def test_settle_counts_only_what_stays(collector: None) -> None:
    # A re-check builds the new result while the old one is still held, and the old
    # one is freed after the settle (a TUI shows it meanwhile): no growth.
    held: list[list[object]] = [[] for _ in range(50_000)]
    heap.settle()
    base = heap._mark
    for _ in range(6):
        new: list[list[object]] = [[] for _ in range(50_000)]
        heap.settle()
        held = new
        del new
    assert heap._mark == base
    assert len(held) == 50_000
