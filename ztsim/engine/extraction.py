"""One plan out of a solve: the :class:`Plan` type, the cheapest derivation of a goal
(:func:`extract_plan`) and the dropping of every step it can do without (:func:`minimize`).

The pieces :mod:`ztsim.engine.mincost` (fewest-steps plans) and :mod:`ztsim.engine.plans` (listing
several plans, judging them) both build on, so neither imports the other's way back.
Re-exported by :mod:`ztsim.engine.plans`, the public path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from ztsim.engine.fixpoint import Solution
from ztsim.engine.steps import Fact, Step, StepKey
from ztsim.perf.profiling import phase

__all__ = [
    "Derivations",
    "Plan",
    "derivations_of",
    "extract_plan",
    "givers_of",
    "minimize",
]


@dataclass(frozen=True)
class Plan:
    """An ordered list of steps from an entry point to a goal."""

    goal: Fact
    steps: tuple[Step, ...]

    @property
    def cost(self) -> int:
        """The number of steps (spec §6)."""
        return len(self.steps)

    @property
    def key(self) -> frozenset[StepKey]:
        """The set of step keys: two plans with the same steps are the same plan."""
        known = self.__dict__.get("_key")  # computed once (plans are compared often)
        if known is None:
            known = self.__dict__["_key"] = frozenset(self.sort_key[1])
        return cast(frozenset[StepKey], known)

    @property
    def sort_key(self) -> tuple[int, tuple[StepKey, ...]]:
        """Cheapest first, then a deterministic order on the steps."""
        known = self.__dict__.get("_sort_key")
        if known is None:
            known = self.__dict__["_sort_key"] = (self.cost, tuple([s.key for s in self.steps]))
        return cast(tuple[int, tuple[StepKey, ...]], known)

    @property
    def entry(self) -> str:
        """The id of the entry point the plan starts from."""
        first = self.steps[0]
        return first.key[1] if first.kind == "enter" else "?"

    @property
    def techniques(self) -> tuple[str, ...]:
        """The ATT&CK technique ids of its steps, in order (steps without one skipped)."""
        return tuple(s.technique for s in self.steps if s.technique)

    @property
    def ident(self) -> str:
        """A short stable identifier (for the TUI and reports)."""
        import hashlib

        text = "|".join(":".join(k) for k in sorted(self.key))
        return hashlib.sha1(f"{self.goal}|{text}".encode()).hexdigest()[:8]


def _schedule(steps: Sequence[Step], goal: Fact) -> list[Step] | None:
    """Order ``steps`` so each needs only what earlier ones gave; None if impossible.

    Greedy: again and again, the first step of ``steps`` (in their order) whose
    preconditions all hold is taken next.  One pass does it: a step that cannot be
    taken yet is set aside, and after each step taken the first of those set aside
    that now can be is taken (they all come before the rest).  Steps mostly come
    in an order that works, so little is ever set aside.
    """
    have: set[Fact] = set()
    ordered: list[Step] = []
    aside: list[Step] = []
    for st in steps:
        if not have.issuperset(st.pre):
            aside.append(st)
            continue
        ordered.append(st)
        have.update(st.post)
        while aside:
            for j, waiting in enumerate(aside):
                if have.issuperset(waiting.pre):
                    ordered.append(waiting)
                    have.update(waiting.post)
                    del aside[j]
                    break
            else:
                break
    if aside or goal not in have:
        return None
    return ordered


def _sole_givers(steps: Sequence[Step], goal: Fact) -> list[bool]:
    """For each step, whether it alone gives a fact the others need (or the goal).

    Such a step cannot be dropped: without it that fact never holds.  (A cheap
    test; a step it does not flag may still be needed.)
    """
    twice: dict[Fact, bool] = {}  # whether a fact has more than one giver
    users: dict[Fact, int] = {}
    for st in steps:
        for f in st.post:
            twice[f] = f in twice
        for f in st.pre:
            users[f] = users.get(f, 0) + 1
    out: list[bool] = []
    for st in steps:
        sole = False
        for f in st.post:
            if not twice[f] and (f == goal or users.get(f, 0) > st.pre.count(f)):
                sole = True
                break
        out.append(sole)
    return out


def _sole_in_tree(steps: Sequence[Step], chosen: dict[Fact, Step]) -> list[bool]:
    """:func:`_sole_givers` of the steps of a derivation tree, told by the tree.

    Each fact of the tree is the goal or needed by a step of it, so a step is a
    sole giver of a needed fact when it alone gives some fact of the tree.
    """
    twice: dict[Fact, bool] = {}
    for st in steps:
        for f in st.post:
            twice[f] = f in twice
    out: list[bool] = []
    for st in steps:
        sole = False
        for f in st.post:
            if not twice[f] and f in chosen:
                sole = True
                break
        out.append(sole)
    return out


def minimize(
    steps: Sequence[Step], goal: Fact, *, tree: dict[Fact, Step] | None = None
) -> list[Step]:
    """Drop every step the plan can do without, keeping a valid order.

    Greedy, last step first: a step is dropped when the others still reach the
    goal.  The result has no step that could be dropped (spec §6).  A step that
    alone gives a fact another step (or the goal) needs is kept without trying.
    ``tree``, when given, is the derivation tree (fact to step) ``steps`` come
    from, which tells those steps faster.
    """
    current = _schedule(steps, goal)
    if current is None:
        raise ValueError("not a valid plan")
    sole = _sole_givers(current, goal) if tree is None else _sole_in_tree(current, tree)
    i = len(current) - 1
    while i >= 0 and sole[i]:
        i -= 1
    if i < 0:
        return current
    return _Dropping(current, goal).run(i, sole)


class _Dropping:
    """:func:`minimize`'s greedy drops, from position ``i`` of a valid schedule down.

    Dropping a step rescheduled the rest and worked out which steps are sole givers
    anew: both a pass over the plan.  Here the positions of each fact's givers and
    users are kept instead.  A step can go, the order kept, when each fact it gives
    that the goal or a later step needs has another giver before that fact's first
    later user (not that user itself: a step may need a fact it gives): the rest is
    then scheduled as it stands, as :func:`_schedule` would take it.
    Otherwise (the rest would have to be reordered, or cannot be) :func:`_schedule`
    decides, as before.
    """

    def __init__(self, current: list[Step], goal: Fact) -> None:
        self.goal = goal
        self.steps: list[Step | None] = []  # None: dropped
        self.givers: dict[Fact, list[int]] = {}
        self.users: dict[Fact, list[int]] = {}
        self.index(current)

    def index(self, current: list[Step]) -> None:
        """Positions of each fact's givers and users in ``current``, ascending."""
        givers: dict[Fact, list[int]] = {}
        users: dict[Fact, list[int]] = {}
        for k, st in enumerate(current):
            for f in st.post:
                got = givers.get(f)
                if got is None:
                    givers[f] = [k]
                else:
                    got.append(k)
            for f in st.pre:
                got = users.get(f)
                if got is None:
                    users[f] = [k]
                else:
                    got.append(k)
        self.steps = list(current)
        self.givers, self.users = givers, users

    def sole(self, st: Step) -> bool:
        """:func:`_sole_givers` of ``st`` in the steps left."""
        givers, users = self.givers, self.users
        for f in st.post:
            if len(givers[f]) == 1 and (f == self.goal or len(users.get(f, ())) > st.pre.count(f)):
                return True
        return False

    def in_place(self, i: int, st: Step) -> bool:
        """Whether the steps left but ``st`` (at ``i``) stay a schedule in their order."""
        users = self.users
        for f in st.post:
            other = -1  # the first other giver
            for g in self.givers[f]:
                if g != i:
                    other = g
                    break
            first = -1  # the first later user
            for u in users.get(f, ()):
                if u > i:
                    first = u
                    break
            if first < 0 and f != self.goal:
                continue
            if other < 0 or (first >= 0 and other >= first):  # (a giver may need f too)
                return False
        return True

    def run(self, i: int, sole: list[bool]) -> list[Step]:
        """Try each step from ``i`` down; ``sole``: the sole givers before any drop."""
        steps = self.steps
        fresh = True  # nothing dropped yet: ``sole`` holds
        while i >= 0:
            st = steps[i]
            assert st is not None  # (only later steps were dropped)
            if not (sole[i] if fresh else self.sole(st)):
                if self.in_place(i, st):
                    steps[i] = None
                    for f in st.post:
                        self.givers[f].remove(i)
                    for f in st.pre:
                        self.users[f].remove(i)
                    fresh = False
                else:
                    rest = [x for k, x in enumerate(steps) if x is not None and k != i]
                    ordered = _schedule(rest, self.goal)
                    if ordered is not None:
                        # (The steps before i keep their positions: drops are all later.)
                        self.index(ordered)
                        steps = self.steps
                        fresh = False
            i -= 1
        return [x for x in steps if x is not None]


class _SolutionMemo:
    """What plan listing remembers about one solve, shared by every goal.

    ``closure[f]`` is the derivation tree of ``f`` through best steps only (each
    fact of it with its best step).  ``plans[(goal, k)]`` is what
    :func:`ztsim.engine.plans.plans_from_solution` answered; ``first[goal]`` what
    :func:`ztsim.engine.plans.first_plan` did.
    """

    def __init__(self) -> None:
        self.closure: dict[Fact, dict[Fact, Step]] = {}
        self.plans: dict[tuple[Fact, int], list[Plan]] = {}
        #: The first plan and whether it is not the extracted one.
        self.first: dict[Fact, tuple[Plan, bool]] = {}
        #: The extracted plan (the best derivation's) of goals whose first plan is
        #: not known yet: ``check`` makes them all before the graph it may need.
        self.extracted: dict[Fact, Plan] = {}
        #: :class:`Derivations` of the solve, once made (shared by every goal).
        self.derivations: Derivations | None = None
        #: Per fact, the fired steps giving it (:func:`givers_of`), once made.
        self.givers: dict[Fact, list[Step]] | None = None
        #: The solve's AND/OR graph (:mod:`ztsim.engine.mincost`'s ``_Graph``), once built.
        self.graph: object = None


def _memo(sol: Solution) -> _SolutionMemo:
    """The memo of ``sol``, kept in :attr:`Solution.memo <ztsim.engine.fixpoint.Solution.memo>`
    (made on first use; it holds no reference back to ``sol``, so the two go together)."""
    memo = sol.memo
    if not isinstance(memo, _SolutionMemo):
        memo = sol.memo = _SolutionMemo()
    return memo


def _closure(sol: Solution, memo: _SolutionMemo, f: Fact) -> dict[Fact, Step]:
    """The best-step derivation tree of ``f`` (memoised; best steps never loop)."""
    known = memo.closure
    got = known.get(f)
    if got is not None:
        return got
    best = sol.best
    # Iterative post-order: a fact's tree is built once its preconditions' are.
    stack: list[tuple[Fact, bool]] = [(f, False)]
    while stack:
        x, ready = stack.pop()
        if x in known:
            continue
        st = best[x]
        if not ready:
            stack.append((x, True))
            stack.extend((p, False) for p in st.pre if p not in known)
            continue
        tree: dict[Fact, Step] = {}
        for p in st.pre:
            tree.update(known[p])
        tree[x] = st
        known[x] = tree
    return known[f]


def _derive(
    sol: Solution,
    goal: Fact,
    override: dict[Fact, Step],
    memo: _SolutionMemo | None = None,
) -> dict[Fact, Step] | None:
    """The derivation tree of ``goal``: each fact's best step unless overridden.

    Returns the chosen step per fact, or None when an override makes a fact
    depend on itself (no plan then).  A fact whose best-step tree holds no
    overridden fact is taken with that whole tree at once: it cannot loop, nor
    reach back to a fact being visited (that would put an overridden fact in it).
    """
    if memo is None:
        memo = _memo(sol)
    if not override:
        return _closure(sol, memo, goal)
    closures = memo.closure
    best = sol.best
    keys = override.keys()
    chosen: dict[Fact, Step] = {}
    in_progress: set[Fact] = set()
    # Depth first, without recursion (derivations can be deep), nor a recursive
    # closure (a cycle that would keep the whole solve alive until the cyclic
    # collector runs): each step's preconditions are read in one loop, left for the
    # first one that needs walking, taken up again when it is done.  The goal comes
    # as the one precondition of a frame with no step (nothing chosen for it).
    stack: list[tuple[Fact, Step | None, Iterator[Fact]]] = [(goal, None, iter((goal,)))]
    while stack:
        top, step, pres = stack[-1]
        for p in pres:
            if p in chosen:
                continue
            if p in in_progress:
                return None
            st = override.get(p)
            if st is None:
                tree = closures.get(p)
                if tree is None:
                    tree = _closure(sol, memo, p)
                if keys.isdisjoint(tree.keys()):
                    chosen.update(tree)
                    continue
                st = best[p]
            in_progress.add(p)
            stack.append((p, st, iter(st.pre)))
            break
        else:
            stack.pop()
            if step is not None:
                in_progress.discard(top)
                chosen[top] = step
    return chosen


def _plan_from(sol: Solution, goal: Fact, chosen: dict[Fact, Step]) -> Plan:
    """The plan of a derivation tree: :func:`minimize` of its steps, each placed at
    the first of its facts the solve derived.

    Most trees need only scheduling: each of their steps alone gives a fact of the
    tree (:func:`_sole_in_tree`), so none can be dropped.
    """
    steps: dict[StepKey, Step] = {}
    for f in sorted(chosen, key=sol.order.__getitem__):
        st = chosen[f]
        if st.key not in steps:
            steps[st.key] = st
    ordered = list(steps.values())
    if not all(_sole_in_tree(ordered, chosen)):
        return Plan(goal, tuple(minimize(ordered, goal, tree=chosen)))
    current = _schedule(ordered, goal)
    if current is None:
        raise ValueError("not a valid plan")
    return Plan(goal, tuple(current))


def extract_plan(sol: Solution, goal: Fact) -> Plan | None:
    """The plan behind the cheapest derivation of ``goal`` in ``sol``, or None."""
    if goal not in sol.cost:
        return None
    with phase("plans"):
        chosen = _derive(sol, goal, {})
        assert chosen is not None  # best derivations never loop: costs strictly grow
        return _plan_from(sol, goal, chosen)


class Derivations(Mapping[Fact, list[Step]]):
    """``sol.derivations()``, each fact's list sorted only when first asked for.

    Every fired step that derives each fact, cheapest first (ties by key); a step
    counts for a fact only when all its preconditions were derived, which every
    fired step's are.  Plan listing reads the lists of the few facts on the plans it
    finds, and ``check`` lists the plans of few goals: the lists are the solve's
    givers (:func:`givers_of`, which the AND/OR graph of
    :mod:`ztsim.engine.mincost` reads too), each priced and sorted when first read.
    """

    def __init__(self, sol: Solution) -> None:
        self._cost = sol.cost
        self._givers = givers_of(sol)
        self._sorted: dict[Fact, list[Step]] = {}

    def __getitem__(self, fact: Fact) -> list[Step]:
        got = self._sorted.get(fact)
        if got is None:
            cost = self._cost

            def rank(st: Step) -> tuple[int, StepKey]:
                c = 1
                for p in st.pre:
                    c += cost[p]
                return c, st.key

            got = self._sorted[fact] = sorted(self._givers[fact], key=rank)
        return got

    def __contains__(self, fact: object) -> bool:
        return fact in self._givers

    def __iter__(self) -> Iterator[Fact]:
        return iter(self._givers)

    def __len__(self) -> int:
        return len(self._givers)


def givers_of(sol: Solution) -> dict[Fact, list[Step]]:
    """Per derived fact, the steps ``sol`` fired that give it, in the order they fired.

    Made once per solve: plan listing (:class:`Derivations`) and the AND/OR graph of
    :mod:`ztsim.engine.mincost` share it.  Every fired step's preconditions are
    derived (the solve prices a step from their costs as it fires it), so no step is
    left out for a missing one.
    """
    memo = _memo(sol)
    givers = memo.givers
    if givers is None:
        givers = memo.givers = {}
        if sol.complete:  # every output of a fired step was then derived
            for st in sol.fired.values():
                for f in st.post:
                    got = givers.get(f)
                    if got is None:
                        givers[f] = [st]
                    else:
                        got.append(st)
        else:
            cost = sol.cost
            for st in sol.fired.values():
                for f in st.post:
                    if f in cost:
                        givers.setdefault(f, []).append(st)
    return givers


def derivations_of(sol: Solution) -> Derivations:
    """The :class:`Derivations` of ``sol``, made once per solve (goals share them)."""
    memo = _memo(sol)
    if memo.derivations is None:
        memo.derivations = Derivations(sol)
    return memo.derivations
