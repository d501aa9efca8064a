"""The h² question of ztsim.engine.pairs against naive references.

* ``PairBound.at_least(goal, t)`` answers exactly ``H²(goal) >= t``, with H² worked
  out for every pair of a small random graph by a plain fixpoint (the textbook
  recurrence, no threshold, no memo);
* a plan it proves costs at least ``t`` does: the fewest steps of any plan, found
  by brute force over every subset of steps, is never below a proven ``t``;
* a budget too small to finish answers "not proven", never a wrong proof.
"""

from __future__ import annotations

from itertools import combinations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.engine import pairs
from ztsim.engine.mincost import hmax
from ztsim.engine.pairs import PairBound
from ztsim.engine.steps import Fact, Step

INF = 10**9


def _fact(i: int) -> Fact:
    return ("f", str(i))


@st.composite
def graphs(draw: st.DrawFn) -> list[Step]:
    """Small AND/OR graphs: facts 0-5, steps with 0 to 2 preconditions and 1 or 2
    outputs, a few without preconditions (footholds)."""
    n = 6
    raw: list[tuple[tuple[Fact, ...], tuple[Fact, ...]]] = []
    for _ in range(draw(st.integers(1, 3))):
        raw.append(((), (_fact(draw(st.integers(0, n - 1))),)))
    for _ in range(draw(st.integers(0, 8))):
        pre = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True))
        post = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=2, unique=True))
        raw.append((tuple(map(_fact, pre)), tuple(map(_fact, post))))
    return [_step(f"t{i}", pre, post) for i, (pre, post) in enumerate(raw)]


def _step(name: str, pre: tuple[Fact, ...], post: tuple[Fact, ...]) -> Step:
    return Step(("t", name), "exploit", None, None, None, None, "", pre, post)


def _graph(steps: list[Step]) -> tuple[dict[Fact, list[Step]], dict[Fact, int]]:
    """The givers and h_max of the derivable part, as ``mincost._Graph`` keeps them."""
    h = hmax((s.pre, s.post) for s in steps)
    givers: dict[Fact, list[Step]] = {}
    for s in steps:
        if all(p in h for p in s.pre):
            for f in s.post:
                givers.setdefault(f, []).append(s)
    return givers, h


def _naive_h2(steps: list[Step], facts: list[Fact]) -> dict[frozenset[Fact], int]:
    """H² of every fact and pair, by value iteration of the recurrence."""
    keys = [frozenset((a, b)) for a in facts for b in facts]
    h2 = dict.fromkeys(keys, INF)

    def of(xs: set[Fact]) -> int:
        return max((h2[frozenset((a, b))] for a in xs for b in xs), default=0)

    changed = True
    while changed:
        changed = False
        for key in set(keys):
            best = h2[key]
            for s in steps:
                gives = set(s.post) & key
                if not gives:
                    continue
                before = set(s.pre) | (set(key) - set(s.post))
                best = min(best, 1 + of(before))
            if best < h2[key]:
                h2[key] = best
                changed = True
    return h2


def _derives(steps: tuple[Step, ...], goal: Fact) -> bool:
    have: set[Fact] = set()
    grew = True
    while grew:
        grew = False
        for s in steps:
            if have.issuperset(s.pre) and not have.issuperset(s.post):
                have.update(s.post)
                grew = True
    return goal in have


def _fewest_steps(steps: list[Step], goal: Fact) -> int:
    for size in range(1, len(steps) + 1):
        for subset in combinations(steps, size):
            if _derives(subset, goal):
                return size
    raise AssertionError("goal not derivable")


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_answers_are_the_textbook_h2(steps: list[Step]) -> None:
    givers, h = _graph(steps)
    every = sorted({f for s in steps for f in (*s.pre, *s.post)})
    naive = _naive_h2(steps, every)
    bound = PairBound(givers, h)
    for goal in sorted(h):
        value = naive[frozenset((goal,))]
        for t in range(0, value + 3):
            assert bound.at_least(goal, t) == (value >= t), (goal, t, value)


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_a_proven_cost_is_never_above_the_cheapest_plan(steps: list[Step]) -> None:
    givers, h = _graph(steps)
    bound = PairBound(givers, h)
    for goal in sorted(h):
        fewest = _fewest_steps(steps, goal)
        assert bound.at_least(goal, h[goal])  # h_max, at least, is proven
        for t in range(h[goal] + 1, fewest + 3):
            # A proof is never wrong (it may be missing: h² is not always tight).
            assert not bound.at_least(goal, t) or t <= fewest, (goal, t, fewest)


def _login_shape(tag: str = "") -> tuple[list[Step], Fact]:
    """A login needing a position (one exploit) and a credential (another exploit,
    then a theft), both from one foothold: h_max 4, every plan 5 steps."""
    e, pos, root, cred, g = (("f", f"{tag}{i}") for i in range(5))
    steps = [
        _step(f"{tag}enter", (), (e,)),
        _step(f"{tag}x1", (e,), (pos,)),
        _step(f"{tag}x2", (e,), (root,)),
        _step(f"{tag}s", (root,), (cred,)),
        _step(f"{tag}l", (pos, cred), (g,)),
    ]
    return steps, g


def test_two_branches_from_one_foothold_cost_both() -> None:
    steps, g = _login_shape()
    givers, h = _graph(steps)
    assert h[g] == 4
    assert PairBound(givers, h).at_least(g, 5)
    assert _fewest_steps(steps, g) == 5


def test_out_of_budget_is_not_a_proof(monkeypatch: pytest.MonkeyPatch) -> None:
    steps, g = _login_shape()
    givers, h = _graph(steps)
    monkeypatch.setattr(pairs, "PAIR_BUDGET", 1)
    assert not PairBound(givers, h).at_least(g, 5)


def test_the_graph_budget_is_shared_by_its_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    # Two goals of the same shape, each needing a few expansions: with a budget for
    # the graph that covers the first question only, the second is not proven.
    (a, ga), (b, gb) = _login_shape("a"), _login_shape("b")
    givers, h = _graph(a + b)
    first = PairBound(givers, h)
    assert first.at_least(ga, 5)
    used = pairs.PAIR_BUDGET_PER_GRAPH - first.total
    assert used > 0
    monkeypatch.setattr(pairs, "PAIR_BUDGET_PER_GRAPH", used)
    bound = PairBound(givers, h)
    assert bound.at_least(ga, 5)
    assert bound.total == 0
    assert not bound.at_least(gb, 5)  # out of budget: not proven
    assert bound.at_least(ga, 5)  # remembered: still proven


def test_a_long_chain_is_answered_without_overflowing_the_stack() -> None:
    # 3,000 logins in a row, each needing the previous position and a credential the
    # foothold holds: h_max answers up to its value, above MAX_STEPS nothing is tried.
    e, cred = ("f", "e"), ("f", "cred")
    steps = [_step("enter", (), (e, cred))]
    prev = e
    for i in range(3_000):
        nxt = ("f", f"p{i}")
        steps.append(_step(f"l{i}", (prev, cred), (nxt,)))
        prev = nxt
    givers, h = _graph(steps)
    bound = PairBound(givers, h)
    assert bound.at_least(prev, h[prev])
    assert not bound.at_least(prev, h[prev] + 1)
    mid = ("f", "p100")
    assert bound.at_least(mid, h[mid])
    assert not bound.at_least(mid, h[mid] + 1)  # searched: the chain is the plan
