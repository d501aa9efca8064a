"""Minimum hitting sets of policy changes on an AND-OR attack graph.

Facts are OR nodes (any step deriving them will do) and steps AND nodes (every
precondition needed).  Each step may be forbidden by *options*: sets of change
indices (one change, or a change with the switch it depends on).  The search
finds a smallest set of changes under which no target goal is derivable:

1. a seed (upper bound) from a minimum cut of the graph read as a plain flow
   network (``networkx``) — exact for OR-only paths, an over-approximation with
   AND nodes — and from a greedy plan-hitting pass, each pruned of redundant changes;
2. exact iterative deepening: at each node take a derivation that is still open
   (any solution must forbid one of its steps) and branch on the options that
   forbid one of its steps.  Depth ``d`` exhausted proves that no set of ``d``
   changes or fewer exists.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

import networkx as nx

from ztsim.engine.steps import Fact, Step

__all__ = ["Budget", "HittingSearch", "SearchOutcome", "StepGraph"]

INF = float("inf")
Option = tuple[int, ...]


class StepGraph:
    """An AND-OR graph over fired steps (facts OR, steps AND)."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        self.fact_index: dict[Fact, int] = {}
        self.pre: list[tuple[int, ...]] = []
        self.post: list[tuple[int, ...]] = []
        for st in self.steps:
            self.pre.append(tuple(sorted({self._fact(f) for f in st.pre})))
            self.post.append(tuple(sorted({self._fact(f) for f in st.post})))
        self.users: list[list[int]] = [[] for _ in self.fact_index]
        for i, pre in enumerate(self.pre):
            for f in pre:
                self.users[f].append(i)

    def _fact(self, f: Fact) -> int:
        idx = self.fact_index.get(f)
        if idx is None:
            idx = self.fact_index[f] = len(self.fact_index)
        return idx

    def derive(
        self, blocked: AbstractSet[int], weight: Sequence[int]
    ) -> tuple[list[float], list[int]]:
        """Cheapest derivation of every fact (Knuth), skipping ``blocked`` steps.

        A step costs its weight plus the costs of its preconditions.  Returns each
        fact's cost (``inf`` when underivable) and its best step.
        """
        n = len(self.fact_index)
        cost: list[float] = [INF] * n
        best = [-1] * n
        remaining = [len(p) for p in self.pre]
        heap: list[tuple[float, int, int]] = []
        for i, pre in enumerate(self.pre):
            if not pre and i not in blocked:
                for q in self.post[i]:
                    heap.append((weight[i], q, i))
        heapq.heapify(heap)
        while heap:
            c, f, i = heapq.heappop(heap)
            if cost[f] < INF:
                continue
            cost[f] = c
            best[f] = i
            for j in self.users[f]:
                remaining[j] -= 1
                if remaining[j] == 0 and j not in blocked:
                    cj = weight[j] + sum(cost[p] for p in self.pre[j])
                    for q in self.post[j]:
                        if cost[q] == INF:
                            heapq.heappush(heap, (cj, q, j))
        return cost, best

    def support(self, best: Sequence[int], goal: int) -> set[int]:
        """The steps of the derivation of ``goal`` that ``best`` records."""
        out: set[int] = set()
        stack = [goal]
        seen: set[int] = set()
        while stack:
            f = stack.pop()
            if f in seen:
                continue
            seen.add(f)
            i = best[f]
            out.add(i)
            stack.extend(self.pre[i])
        return out


class Budget(Exception):
    """The search used up its evaluations."""


@dataclass(frozen=True)
class SearchOutcome:
    """The chosen changes and what the search proved about them."""

    chosen: frozenset[int]
    proven: bool
    exhausted_size: int  # every set of at most this many changes was ruled out
    evaluations: int


class HittingSearch:
    """Smallest set of changes that makes every target goal underivable.

    Parameters
    ----------
    graph
        The attack graph.
    targets
        Fact indices of the goals to close.
    options
        Per step, the option sets that forbid it (empty: it cannot be forbidden).
    key
        Order on candidate solutions of equal size (secondary criteria).
    budget
        The most derivations the search may compute.
    """

    def __init__(
        self,
        graph: StepGraph,
        targets: Sequence[int],
        options: Sequence[Sequence[Option]],
        key: Callable[[frozenset[int]], tuple[object, ...]],
        budget: int = 20000,
    ) -> None:
        self.graph = graph
        self.targets = list(targets)
        self.options = [sorted(set(o)) for o in options]
        self.weight = [1 if o else 0 for o in self.options]
        self.key = key
        self.budget = budget
        self.evaluations = 0
        self.blockable = [i for i, o in enumerate(self.options) if o]

    # ------------------------------------------------------------------ basics

    def blocked(self, chosen: AbstractSet[int]) -> set[int]:
        """The steps forbidden by ``chosen``."""
        return {
            i for i in self.blockable if any(all(c in chosen for c in o) for o in self.options[i])
        }

    def open_goals(self, chosen: AbstractSet[int]) -> tuple[list[int], list[int]]:
        """Target goals still derivable under ``chosen``, and the best-step table."""
        self.evaluations += 1
        cost, best = self.graph.derive(self.blocked(chosen), self.weight)
        return [t for t in self.targets if cost[t] < INF], best

    def closes(self, chosen: AbstractSet[int]) -> bool:
        """Whether ``chosen`` closes every target goal."""
        return not self.open_goals(chosen)[0]

    def prune(self, chosen: frozenset[int]) -> frozenset[int]:
        """Drop changes the others make redundant (least preferred tried first)."""
        current = set(chosen)
        for c in sorted(chosen, key=lambda x: self.key(frozenset({x})), reverse=True):
            trial = current - {c}
            if self.closes(trial):
                current = trial
        return frozenset(current)

    # ------------------------------------------------------------------ seeds

    def greedy(self) -> frozenset[int]:
        """Repeatedly take the option forbidding most steps of the open derivations."""
        chosen: set[int] = set()
        while True:
            goals, best = self.open_goals(chosen)
            if not goals:
                return self.prune(frozenset(chosen))
            score: dict[Option, int] = {}
            for g in goals:
                for i in self.graph.support(best, g):
                    for o in self.options[i]:
                        score[o] = score.get(o, 0) + 1
            if not score:
                raise ValueError("an open goal has no forbiddable step")
            pick = min(score, key=lambda o: (-score[o], len(o), self.key(frozenset(o))))
            chosen.update(pick)

    def min_cut(self) -> frozenset[int] | None:
        """Seed from a minimum step cut of the graph read as a flow network.

        Every blockable step is a unit-capacity edge ``in -> out``; facts and other
        steps have infinite capacity.  Cutting every source-to-goal path closes
        every goal (a derivation always contains such a path), so the cut, each
        step covered by an option, is a valid — if not minimal — solution.
        Returns None when no finite cut exists (AND nodes can cause that).
        """
        src, sink = ("source",), ("sink",)
        net = self._flow_network(src, sink)
        if src not in net or sink not in net:
            return frozenset()
        try:
            _value, (side, _other) = nx.minimum_cut(net, src, sink)
        except nx.NetworkXUnbounded:
            return None
        cut = {i for i in self.blockable if ("in", i) in side and ("out", i) not in side}
        chosen = self._cover(cut)
        if not self.closes(chosen):
            return None
        return self.prune(frozenset(chosen))

    def _flow_network(self, src: tuple[str], sink: tuple[str]) -> nx.DiGraph:
        """The graph as a flow network: blockable steps are the unit-capacity edges."""
        graph = self.graph
        net = nx.DiGraph()
        for i in range(len(graph.steps)):
            if self.options[i]:
                net.add_edge(("in", i), ("out", i), capacity=1)
            else:
                net.add_edge(("in", i), ("out", i))
            if not graph.pre[i]:
                net.add_edge(src, ("in", i))
            for f in graph.pre[i]:
                net.add_edge(("fact", f), ("in", i))
            for f in graph.post[i]:
                net.add_edge(("out", i), ("fact", f))
        for t in self.targets:
            net.add_edge(("fact", t), sink)
        return net

    def _cover(self, cut: set[int]) -> set[int]:
        """Changes forbidding every step of ``cut``: greedily, the option covering most."""
        chosen: set[int] = set()
        uncovered = set(cut)
        while uncovered:
            count: dict[Option, int] = {}
            for i in uncovered:
                for o in self.options[i]:
                    count[o] = count.get(o, 0) + 1
            pick = min(count, key=lambda o: (-count[o], len(o), self.key(frozenset(o))))
            chosen.update(pick)
            uncovered = {
                i
                for i in uncovered
                if not any(all(c in chosen for c in o) for o in self.options[i])
            }
        return chosen

    # ------------------------------------------------------------------ exact search

    def _branch(
        self,
        chosen: frozenset[int],
        depth: int,
        found: list[frozenset[int]],
        seen: set[frozenset[int]],
    ) -> None:
        if self.evaluations >= self.budget:
            raise Budget
        goals, best = self.open_goals(chosen)
        if not goals:
            found.append(chosen)
            return
        if len(chosen) >= depth:
            return
        # Branch on the open derivation with the fewest ways to forbid it.
        choice: list[Option] | None = None
        for g in goals:
            support = self.graph.support(best, g)
            opts = sorted({o for i in support for o in self.options[i]})
            if choice is None or len(opts) < len(choice):
                choice = opts
        assert choice is not None
        choice.sort(key=lambda o: (len(set(o) - chosen), self.key(frozenset(o))))
        for o in choice:
            nxt = chosen | frozenset(o)
            if len(nxt) > depth or nxt in seen:
                continue
            seen.add(nxt)
            self._branch(nxt, depth, found, seen)

    def run(self) -> SearchOutcome:
        """Seed, then deepen until the seed's size; return the best set found."""
        seeds = [s for s in (self.min_cut(), self.greedy()) if s is not None]
        best = min(seeds, key=lambda s: (len(s), self.key(s)))
        exhausted = -1
        try:
            for depth in range(0, len(best) + 1):
                found: list[frozenset[int]] = []
                try:
                    self._branch(frozenset(), depth, found, {frozenset()})
                except Budget:
                    if found:
                        pick = min(found, key=lambda s: (len(s), self.key(s)))
                        if (len(pick), self.key(pick)) < (len(best), self.key(best)):
                            best = pick
                    raise
                if found:
                    pick = min(found, key=lambda s: (len(s), self.key(s)))
                    if (len(pick), self.key(pick)) < (len(best), self.key(best)):
                        best = pick
                    exhausted = max(exhausted, len(best) - 1)
                    break
                exhausted = depth
        except Budget:
            pass
        proven = exhausted >= len(best) - 1
        return SearchOutcome(best, proven, exhausted, self.evaluations)
