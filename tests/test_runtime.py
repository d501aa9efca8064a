"""Process-wide settings: the paused collector, retained objects, leaving without teardown."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from ztsim.cli.main import main
from ztsim.perf import heap as runtime
from ztsim.perf.heap import paused_gc, retain

PAJEMPLOI = str(Path(__file__).resolve().parents[1] / "topologies" / "pajemploi.yaml")


@pytest.fixture(autouse=True)
def _restore_gc():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    runtime._leaving = False
    runtime._retained.clear()


def test_paused_gc_restores_the_collector() -> None:
    gc.enable()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():  # nested: the outer block restores
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_paused_gc_can_leave_the_collector_off() -> None:
    """For a process that ends right after: turned on, it would sweep the whole heap."""
    gc.enable()
    with paused_gc(restore=False):
        pass
    assert not gc.isenabled()


def test_retain_keeps_only_in_a_leaving_process() -> None:
    obj = object()
    retain(obj)
    assert runtime._retained == []  # tests and the Python API keep nothing
    runtime.leave_heap_at_exit()
    retain(obj)
    assert runtime._retained == [obj]


def test_a_leaving_command_line_leaves_the_collector_off(capsys) -> None:
    gc.enable()
    assert main(["validate", PAJEMPLOI]) == 0
    assert gc.isenabled()  # in-process (tests, API): restored
    runtime.leave_heap_at_exit()
    assert main(["validate", PAJEMPLOI]) == 0
    assert not gc.isenabled()  # the process ends with hard_exit: no last sweep
    capsys.readouterr()
