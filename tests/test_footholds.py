"""The single-foothold bound (ztsim.engine.footholds) against naive references.

* ``single_foothold_levels`` equals the minimum, over footholds, of h_max on the graph
  keeping that foothold alone (one ``hmax`` pass per foothold);
* the bound ``min(h_max + 1, single)`` never exceeds the fewest steps of any plan,
  found by brute force over every subset of steps of small random graphs.
"""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.engine import footholds
from ztsim.engine.footholds import foothold_bound, single_foothold_levels
from ztsim.engine.mincost import hmax
from ztsim.engine.steps import Fact

Steps = list[tuple[tuple[Fact, ...], tuple[Fact, ...]]]


def _fact(i: int) -> Fact:
    return ("f", str(i))


@st.composite
def graphs(draw: st.DrawFn) -> Steps:
    """Small AND/OR graphs: facts 0-5, steps with 0 to 2 preconditions and 1 or 2
    outputs, a few without preconditions (footholds)."""
    n = 6
    out: Steps = []
    for _ in range(draw(st.integers(1, 3))):
        out.append(((), (_fact(draw(st.integers(0, n - 1))),)))
    for _ in range(draw(st.integers(0, 8))):
        pre = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True))
        post = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True))
        out.append((tuple(map(_fact, pre)), tuple(map(_fact, post))))
    return out


def _naive_single(steps: Steps) -> dict[Fact, int]:
    """min over footholds e of h_max on the graph whose only foothold is e."""
    inner = [s for s in steps if s[0]]
    best: dict[Fact, int] = {}
    for e in (s for s in steps if not s[0]):
        for f, v in hmax([e, *inner]).items():
            best[f] = min(v, best.get(f, v))
    return best


def _derives(steps: Steps, goal: Fact) -> bool:
    have: set[Fact] = set()
    grew = True
    while grew:
        grew = False
        for pre, post in steps:
            if have.issuperset(pre) and not have.issuperset(post):
                have.update(post)
                grew = True
    return goal in have


def _fewest_steps(steps: Steps, goal: Fact) -> int | None:
    """The fewest steps of any plan deriving ``goal``: the smallest subset of steps
    that derives it, by brute force."""
    for size in range(1, len(steps) + 1):
        for subset in combinations(steps, size):
            if _derives(list(subset), goal):
                return size
    return None


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_levels_are_the_best_single_foothold_hmax(steps: Steps) -> None:
    assert single_foothold_levels(steps) == _naive_single(steps)


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_bound_never_exceeds_the_cheapest_plan(steps: Steps) -> None:
    h = hmax(steps)
    single = single_foothold_levels(steps)
    assert single is not None
    for goal, value in h.items():
        fewest = _fewest_steps(steps, goal)
        assert fewest is not None
        bound = foothold_bound(h, single, goal)
        assert value <= bound <= fewest, (goal, value, bound, fewest)


def test_two_footholds_cost_one_step_more_than_hmax() -> None:
    # g needs a (from foothold A) and b (from foothold B): h_max 2, but a plan takes
    # both footholds and the step: 3.
    a, b, g = _fact(0), _fact(1), _fact(2)
    steps: Steps = [((), (a,)), ((), (b,)), ((a, b), (g,))]
    assert hmax(steps)[g] == 2
    assert g not in (single_foothold_levels(steps) or {})
    assert _fewest_steps(steps, g) == 3


def test_too_many_footholds_give_no_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(footholds, "MAX_FOOTHOLDS", 1)
    steps: Steps = [((), (_fact(0),)), ((), (_fact(1),))]
    assert single_foothold_levels(steps) is None
