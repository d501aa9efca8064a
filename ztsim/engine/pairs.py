"""Proving a plan's cost the least with h² (pairs of facts), on demand.

h_max (:func:`hmax`, kept here with the search it feeds and re-exported by
:mod:`ztsim.engine.mincost`) bounds a plan by its longest chain: it
misses that a step needing two facts, each reached by its own step, pays for both
(the position a login is launched from and the stolen credential it uses: two
exploits from the same foothold).  Haslum and Geffner's h² bounds the cost of
holding *pairs* of facts: the last step of a plan holding ``{p, q}`` gives one of
them (or both), and before it the plan held that step's preconditions and the
other fact::

    H({p, q}) = min over steps s giving p or q of 1 + H(pre(s) + the one s does not give)
    H(X)      = max over pairs (and single facts) of X;   H({}) = 0

Every plan holding ``X`` costs at least ``H(X)`` (plans here never undo a fact).

Worked out for every pair of a large graph, h² is quadratic; here it is asked one
question, "does every plan of ``goal`` cost at least ``t``?", answered by a
depth-first search over the pairs the goal regresses to, with the threshold going
down by one per step: a pair whose h_max already meets its threshold needs no
search, answers are remembered per pair (the highest threshold proven, the lowest
refuted), and budgets of pairs looked at, per question and per graph, keep it
bounded (out of budget: not proven, and the caller lists plans as before).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from ztsim.engine.steps import Fact, Step

__all__ = ["MAX_STEPS", "PAIR_BUDGET", "PAIR_BUDGET_PER_GRAPH", "PairBound", "hmax"]

#: At most this many pairs are expanded to answer one question.
PAIR_BUDGET = 2_000

#: Above this many steps no proof is tried: the search recurses once per step of
#: the threshold (a chain of thousands of logins would overflow Python's stack).
MAX_STEPS = 150

#: At most this many pairs are expanded over all the questions asked of one graph
#: (a deterministic cap on the time proofs take, whatever the number of goals):
#: past it, only answers already known are given.
PAIR_BUDGET_PER_GRAPH = 500_000


def hmax(
    steps: Iterable[tuple[tuple[Fact, ...], tuple[Fact, ...]]],
    *,
    also: Callable[[Fact], Iterable[Fact]] | None = None,
    until: Iterable[Fact] = (),
) -> dict[Fact, int]:
    """Per fact, the fewest steps of the longest chain any plan deriving it contains.

    ``steps``: each step's (preconditions, outputs).  ``h(f) = min over steps s
    giving f of 1 + max(h(p) for p in s.pre)`` (0 for no precondition): a plan
    deriving ``f`` orders its steps, and the first producers of the facts it uses
    form a chain at least ``h(f)`` long, so ``h(goal)`` is a lower bound on the
    cost of every plan.  Every step adds one, so Knuth's generalisation of
    Dijkstra's algorithm is a walk level by level (no heap).

    ``also(f)``: virtual facts that hold, at no cost, as soon as ``f`` (a ``priv``
    fact) does (see :func:`ztsim.engine.mincost.relaxed_lower_bounds`).  ``until``:
    stop once these facts all have their value (facts above them may then be missing).
    """
    # Most steps have one precondition: such a step is ready as soon as that fact
    # holds, so its outputs are listed under the fact directly (one extend per
    # fact, no count to keep); the others wait for every precondition.
    single: dict[Fact, list[Fact]] = {}
    users: dict[Fact, list[int]] = {}
    waiting: list[int] = []
    posts: list[tuple[Fact, ...]] = []
    level: list[Fact] = []
    for pre, post in steps:
        if len(pre) == 1:
            got = single.get(pre[0])
            if got is None:
                single[pre[0]] = list(post)
            else:
                got.extend(post)
            continue
        if not pre:
            level.extend(post)
            continue
        i = len(posts)
        posts.append(post)
        waiting.append(len(pre))
        for p in pre:
            found = users.get(p)
            if found is None:
                users[p] = [i]
            else:
                found.append(i)
    left = set(until)
    h: dict[Fact, int] = {}
    get_single = single.get
    get_users = users.get
    c = 1
    while level:
        nxt: list[Fact] = []
        extend = nxt.extend
        # A for loop over a growing list sees what is appended: virtual facts come
        # at no cost, on this level.
        for f in level:
            if f in h:
                continue
            h[f] = c
            if left:
                left.discard(f)
                if not left:
                    return h
            if also is not None and f[0] == "priv":
                level.extend(also(f))
            ready = get_single(f)
            if ready is not None:
                extend(ready)
            waiters = get_users(f)
            if waiters is not None:
                for i in waiters:
                    w = waiting[i] - 1
                    waiting[i] = w
                    if not w:
                        extend(posts[i])
        level = nxt
        c += 1
    return h


#: What is known of a pair not asked yet: nothing proven, nothing refuted.
_NOTHING_KNOWN = (0, 1 << 30)


class _OutOfBudget(Exception):
    """The question took more than :data:`PAIR_BUDGET` expansions."""


class PairBound:
    """h² questions on one graph: its givers (per fact, the steps giving it, every
    precondition derived) and its h_max.  Answers are remembered across questions."""

    def __init__(self, givers: Mapping[Fact, Sequence[Step]], hmax: Mapping[Fact, int]) -> None:
        self.givers = givers
        self.hmax = hmax
        #: Per pair, the highest threshold proven and the lowest one refuted (one
        #: look-up for both; a single fact is its own key).
        self.known: dict[object, tuple[int, int]] = {}
        self._left = 0
        #: Expansions left for the graph's later questions.
        self.total = PAIR_BUDGET_PER_GRAPH

    def at_least(self, goal: Fact, t: int) -> bool:
        """Whether every plan deriving ``goal`` (derived in the graph) surely costs at
        least ``t`` steps; False also when the search ran out of budget."""
        if t <= self.hmax[goal]:
            return True
        if t > MAX_STEPS:
            return False
        budget = min(PAIR_BUDGET, self.total)
        self._left = budget
        try:
            return self._pair(goal, goal, t)
        except _OutOfBudget:
            return False
        finally:
            self.total -= budget - max(self._left, 0)

    def _pair(self, p: Fact, q: Fact, t: int) -> bool:
        """Whether ``H({p, q}) >= t`` (``p == q``: a single fact)."""
        hm = self.hmax
        if t <= hm[p] or t <= hm[q]:
            return True
        key: object = p if p is q else ((p, q) if p <= q else (q, p))
        proven, refuted = self.known.get(key, _NOTHING_KNOWN)
        if proven >= t:
            return True
        if refuted <= t:
            return False
        self._left -= 1
        if self._left < 0:
            raise _OutOfBudget
        ok = self._every_last_step(p, q, t)
        # (The search may have learnt about this pair meanwhile: read it again.)
        now_proven, now_refuted = self.known.get(key, _NOTHING_KNOWN)
        if ok:
            self.known[key] = (max(t, now_proven), now_refuted)
        elif t < refuted:
            self.known[key] = (now_proven, t)
        return ok

    def _every_last_step(self, p: Fact, q: Fact, t: int) -> bool:
        """Whether each step that could be the last of a plan holding ``{p, q}``
        leaves at least ``t - 1`` steps before it."""
        givers = self.givers
        any_pair = self._any_pair
        for st in givers.get(p, ()):
            pre = st.pre
            if not any_pair(pre if q in st.post else (*pre, q), t - 1):
                return False
        if p == q:
            return True
        for st in givers.get(q, ()):
            post = st.post
            if p in post:
                continue  # a giver of p too (p is derived): asked above
            if not any_pair((*st.pre, p), t - 1):
                return False
        return True

    def _any_pair(self, facts: Sequence[Fact], t: int) -> bool:
        """Whether ``H(facts) >= t``: some fact or pair of them needs ``t`` steps."""
        if t <= 0:
            return True
        if not facts:
            return False
        hm = self.hmax
        # The cheap answers first: a fact whose h_max meets t, then single facts, then pairs.
        for f in facts:
            if hm[f] >= t:
                return True
        n = len(facts)
        if n <= 2:  # (most steps: no set to sort) singles, highest h_max first, then the pair
            a, b = facts[0], facts[-1]
            if a == b:
                return self._pair(a, a, t)
            ha, hb = hm[a], hm[b]
            if hb > ha or (hb == ha and b < a):
                a, b = b, a
            return self._pair(a, a, t) or self._pair(b, b, t) or self._pair(a, b, t)
        uniq = sorted(set(facts), key=lambda f: (-hm[f], f))
        for a in uniq:
            if self._pair(a, a, t):
                return True
        for i, a in enumerate(uniq):
            for b in uniq[i + 1 :]:
                if self._pair(a, b, t):
                    return True
        return False
