"""The exact fewest-steps search of :mod:`ztsim.engine.mincost`: an integer linear
program solved by HiGHS (through ``highspy``, imported only when a search runs).

:func:`fewest_steps` builds and solves the model over the candidate steps of one
goal; :func:`silence_banner` keeps HiGHS' start-up banner off standard output.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from ztsim.engine.steps import Fact, Step

__all__ = [
    "MAX_ILP_NODES",
    "fewest_steps",
    "silence_banner",
]

#: Branch-and-bound nodes the solver may explore per goal (a deterministic budget,
#: unlike a time limit: the same input gives the same answer on any machine).
MAX_ILP_NODES = 1_000

_BANNER_LOCK = threading.Lock()
_BANNER_DONE: list[bool] = []


def silence_banner() -> None:
    """Make this process's first HiGHS instance with standard output muted (once).

    Call it before another thread may write to standard output (the TUI does,
    before its app starts); :func:`_quiet_highs` calls it otherwise.
    """
    if _BANNER_DONE:
        return
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
    _BANNER_DONE.append(True)


def _quiet_highs() -> Any:
    """A HiGHS instance, its start-up banner kept off standard output.

    HiGHS prints a banner from the C++ constructor of the first instance of a
    process, before any option can be set: file descriptor 1 points at the null
    device for that one construction (``--format json`` must stay one object).
    Later instances print nothing and are made as they are; the TUI makes the
    first one before Textual owns the terminal (:func:`silence_banner`), so no
    frame written by another thread is lost meanwhile.
    """
    import highspy

    with _BANNER_LOCK:
        if not _BANNER_DONE:
            silence_banner()
        h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_max_nodes", MAX_ILP_NODES)
    return h


def _facts_of(kept: Sequence[Step], dist: Mapping[Fact, int]) -> dict[Fact, int]:
    """The facts of the model, numbered: every precondition, and every output that
    leads to the goal (in ``dist``)."""
    facts: dict[Fact, int] = {}
    for st in kept:
        for p in st.pre:
            facts.setdefault(p, len(facts))
        for q in st.post:
            if q in dist:
                facts.setdefault(q, len(facts))
    return facts


def _build(
    h: Any,
    kept: Sequence[Step],
    facts: Mapping[Fact, int],
    goal: Fact,
    hm: Mapping[Fact, int],
    bound: int,
) -> list[Any]:
    """Add the variables and constraints of :func:`fewest_steps` to ``h``, and the
    objective; returns the step variables ``x``.  (The order of the calls fixes the
    model, hence the plan HiGHS answers: it is part of the output.)"""
    top = float(bound)
    x = [h.addBinary() for _ in kept]
    y = {f: h.addBinary() for f in facts}
    t = {f: h.addVariable(lb=float(hm[f]), ub=top) for f in facts}
    supports: dict[Fact, list[Any]] = {f: [] for f in facts}
    for i, st in enumerate(kept):
        for p in st.pre:
            h.addConstr(x[i] <= y[p])
        for q in st.post:
            if q not in facts:
                continue
            z = h.addBinary()
            supports[q].append(z)
            h.addConstr(z <= x[i])
            for p in st.pre:
                # z = 1: t[q] >= t[p] + 1; else none (t[q] - t[p] >= h_max(q) - bound).
                big = top - hm[q] + 1.0
                h.addConstr(t[q] - t[p] - big * z >= 1.0 - big)
    for f, zs in supports.items():
        if zs:
            h.addConstr(y[f] - sum(zs[1:], zs[0]) <= 0)
        else:
            h.addConstr(y[f] <= 0)
    h.addConstr(y[goal] >= 1)
    total = sum(x[1:], x[0])
    h.addConstr(total <= bound)
    h.addConstr(total >= hm[goal])
    h.minimize(total)
    return x


def fewest_steps(
    kept: Sequence[Step],
    goal: Fact,
    dist: Mapping[Fact, int],
    hm: Mapping[Fact, int],
    bound: int,
) -> tuple[list[Step] | None, float | bool]:
    """Solve the fewest-steps model over ``kept``.

    Variables: ``x[s]`` step used, ``y[f]`` fact needed, ``z[s, f]`` fact ``f``
    first given by step ``s``, ``t[f]`` a level: a step's output is above its
    inputs when it is their support, so supports never loop.  The longest chain of
    supports to a fact of a plan of at most ``bound`` steps lies between its h_max
    and ``bound``: levels take those bounds, which keeps the big-M constraints
    tight (a much stronger relaxation than levels in [0, facts]).  Returns the steps of
    the best plan found (None if none) and either True (proven: no plan of at
    most ``bound`` steps exists, or the plan returned is optimal) or the solver's
    lower bound when the node budget ran out.
    """
    facts = _facts_of(kept, dist)
    if goal not in facts:
        return None, True
    h = _quiet_highs()
    x = _build(h, kept, facts, goal, hm, bound)
    import highspy

    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        return None, True
    has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
    chosen = [st for i, st in enumerate(kept) if has_solution and h.val(x[i]) > 0.5]
    optimal = status == highspy.HighsModelStatus.kOptimal
    proven: float | bool = True if optimal else float(info.mip_dual_bound)
    return (chosen or None), proven
