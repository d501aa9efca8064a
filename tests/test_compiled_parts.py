"""The parts a compiled policy is made of (ztsim.engine.{classes,targets,reach,reuse}).

Commands run with the cyclic garbage collector paused (ztsim.perf.heap), so a
compiled policy must be freed by reference counting alone: none of its parts may
refer back to it.  ``harden`` compiles hundreds of candidate policies.
"""

from __future__ import annotations

import gc
import weakref

from conftest import compile_under, make_policy, make_topology
from test_zone_lists import TOPO, seg

from ztsim.engine.attack import AttackModel
from ztsim.engine.verdicts import judge_plans
from ztsim.inputs.loaded import reference_policy


def test_a_compiled_policy_is_freed_without_the_cyclic_collector() -> None:
    topo = make_topology(TOPO)
    policy = make_policy(seg({"id": "r", "action": "allow", "from": {"zone": "dmz"}, "to": "any"}))
    was = gc.isenabled()
    gc.disable()
    try:
        compiled = compile_under(topo, policy)
        for src in ("internet", "web", "api"):
            compiled.reach(src)
            compiled.flow(src, "db", "22/tcp")
        compiled.egress("web", "bank", "443/tcp")
        compiled.egress_class("web", "bank", "443/tcp")
        compiled.traffic("web", "db", "22/tcp")
        gone = weakref.ref(compiled)
        del compiled
        assert gone() is None
    finally:
        if was:
            gc.enable()


def test_a_reused_compilation_and_its_judgements_are_freed_too() -> None:
    topo = make_topology(TOPO)
    model = AttackModel(topo)
    was = gc.isenabled()
    gc.disable()
    try:
        before = model.compile(reference_policy())
        before.reach("web")
        judge_plans([], before)  # sets its judgements
        after = model.compile(reference_policy(), previous=before)
        assert after.reused_targets
        after.reach("web")
        judge_plans([], after)
        refs = weakref.ref(before), weakref.ref(after)
        del before, after
        assert [r() for r in refs] == [None, None]
    finally:
        if was:
            gc.enable()
