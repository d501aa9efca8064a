"""Fewest-steps plans and proven lower bounds on a goal's attack cost (spec §6).

A plan's cost is its number of distinct steps.  The fixpoint's own cost
(:attr:`ztsim.engine.fixpoint.Solution.cost`, one plus the sum of the preconditions')
counts a fact once per use, so the plan behind it is not the cheapest when two
branches of the derivation share facts (one foothold used both to reach the data
and to send it out).  The true minimum is a minimum-cost derivation in the
AND/OR graph of the solve (steps are AND nodes over their preconditions, facts OR
nodes over the steps giving them; the chosen supports must not loop): NP-hard in
general, small here.

Three tools:

* :func:`hmax` gives, per fact, the length of the longest chain of steps any plan
  deriving it must contain (``1 + max`` over preconditions, minimised): a lower
  bound on the cost of every plan, cheap (one Knuth-Dijkstra pass).
* :func:`cheapest` finds the fewest-steps plan within a solve's fired steps:
  first the h_max derivation, sharing facts where it can (it often meets the
  bound), then a small integer linear program (HiGHS, through ``highspy``, in
  :mod:`ztsim.engine.ilp`) over the goal's backward sub-graph, pruned to steps
  that fit in a plan cheaper than the one already known.  A node budget keeps it
  bounded; it then answers the best plan found and the solver's proven bound.
* :func:`relaxed_lower_bounds` gives a lower bound valid for the whole attack
  graph from a *pruned* solve (large estates fire one source per target): every
  step's launching position is relaxed to the best one that could launch it.

Only a solve that fired every step instance (``exhaustive=True``) has the whole
graph: :func:`cheapest` over it is the true minimum.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter

from ztsim.engine.extraction import Plan, _memo, extract_plan, givers_of, minimize
from ztsim.engine.fixpoint import Solution
from ztsim.engine.ilp import fewest_steps
from ztsim.engine.pairs import PairBound, hmax
from ztsim.engine.steps import Fact, Step, StepKey
from ztsim.engine.targets import iter_bits
from ztsim.perf.profiling import phase

__all__ = [
    "MAX_ILP_STEPS",
    "MAX_ILP_STEPS_PER_SOLVE",
    "Cheapest",
    "cheapest",
    "hmax",
    "hmax_plan",
    "relaxed_lower_bounds",
]

#: Above this many candidate steps (after pruning) no exact search is tried: the
#: plan already known is kept, with the h_max lower bound.
MAX_ILP_STEPS = 1_000

#: At most this many candidate steps are searched, summed over the goals of one
#: solve: past it, goals keep their plan and bound (a deterministic cap on the time
#: a check spends searching, whatever the number of goals).
MAX_ILP_STEPS_PER_SOLVE = 10_000

#: A step's (preconditions, outputs), as :func:`hmax` reads them.
_PRE_POST: Callable[[Step], tuple[tuple[Fact, ...], tuple[Fact, ...]]] = attrgetter("pre", "post")

#: A virtual fact of :func:`relaxed_lower_bounds`: a channel out is held.
_EGRESS: Fact = ("*egress",)


@dataclass(frozen=True)
class Cheapest:
    """The fewest-steps plan found for a goal within a solve, and a proven bound.

    ``lower`` is a lower bound on the cost of every plan in the solve's graph
    (``plan.cost`` itself when the search completed).  ``exact`` is whether
    ``plan.cost == lower``.
    """

    plan: Plan
    lower: int

    @property
    def exact(self) -> bool:
        """Whether the plan is proven the cheapest in the graph searched."""
        return self.plan.cost <= self.lower


class _Graph:
    """A solve's fired steps as an AND/OR graph (shared by every goal of the solve).

    ``goals``: when given, the facts :attr:`hmax` must cover (see :func:`_cone`); the
    graph is asked only about them until :meth:`cover` widens it to every fact.
    """

    def __init__(self, sol: Solution, goals: Collection[Fact] | None = None) -> None:
        #: Per fact, the steps giving it, in the order they fired (no sort of every
        #: fired step: :func:`_search`, whose models must be deterministic, sorts
        #: the few lists it reads; the rest read them in any order).
        self.givers = givers_of(sol)
        self._fired = sol.fired
        #: The facts :attr:`hmax` holds (their backward cone), or None: every fact.
        self.cone: set[Fact] | None = None
        if goals is None:
            self.hmax = hmax(map(_PRE_POST, sol.fired.values()))
        else:
            self.cone, steps = _cone(goals, self.givers)
            self.hmax = hmax(map(_PRE_POST, steps))
            if len(self.hmax) > len(self.cone):  # outputs beside the cone: unread
                self.hmax = {f: v for f, v in self.hmax.items() if f in self.cone}
        #: Per fact, the steps giving it that meet its h_max (:func:`_tight`), once asked.
        self.tight: dict[Fact, list[Step]] = {}
        self.found: dict[Fact, Cheapest] = {}
        #: Candidate steps searched so far (see MAX_ILP_STEPS_PER_SOLVE).
        self.searched = 0
        #: h² questions (:mod:`ztsim.engine.pairs`), once one is asked.
        self._pairs: PairBound | None = None

    def cover(self, goal: Fact) -> None:
        """Make :attr:`hmax` hold ``goal``'s value (and its cone's): past the cone it
        was built for, every fact's, updated in place (the values it held are the
        same, and the memos reading them stay right)."""
        if self.cone is not None and goal not in self.cone:
            self.hmax.update(hmax(map(_PRE_POST, self._fired.values())))
            self.cone = None

    def proves(self, goal: Fact, cost: int) -> bool:
        """Whether every plan of the graph for ``goal`` (derived) surely costs at least
        ``cost`` steps: by h_max, else by h² (:class:`~ztsim.engine.pairs.PairBound`)."""
        with phase("plans"):
            return self.at_least(goal, cost)

    def at_least(self, goal: Fact, cost: int) -> bool:
        """:meth:`proves`, in the caller's phase."""
        pairs = self._pairs
        if pairs is None:
            pairs = self._pairs = PairBound(self.givers, self.hmax)
        return pairs.at_least(goal, cost)


def _graph(sol: Solution, goal: Fact | None = None) -> _Graph:
    """The graph of ``sol``, built once and dropped with it (kept in the solve's memo).

    ``goal``: the fact asked about, which the graph's h_max then covers (see
    :func:`graph_for`)."""
    memo = _memo(sol)
    g = memo.graph
    if not isinstance(g, _Graph):
        with phase("plans"):
            g = memo.graph = _Graph(sol)
    elif goal is not None and g.cone is not None and goal not in g.cone:
        with phase("plans"):
            g.cover(goal)
    return g


def graph_for(sol: Solution, goals: Collection[Fact]) -> None:
    """Build ``sol``'s graph for questions about ``goals`` only, unless built already.

    ``check`` asks the graph about the few goals whose extracted plan misses the
    relaxed bound: their backward cone is a fraction of the solve, and h_max over
    it gives the very values h_max over every fired step gives its facts.  A
    question about another goal widens it (:meth:`_Graph.cover`).
    """
    memo = _memo(sol)
    if not isinstance(memo.graph, _Graph):
        with phase("plans"):
            memo.graph = _Graph(sol, goals)


def _cone(
    goals: Iterable[Fact], givers: Mapping[Fact, Sequence[Step]]
) -> tuple[set[Fact], list[Step]]:
    """The facts ``goals`` need (themselves, and every precondition of a step giving
    one of them, again and again) and the steps giving those facts.

    A fact's h_max reads only the steps giving it and, through their preconditions,
    facts of this cone: h_max over these steps alone gives each fact of the cone its
    value in the whole graph.
    """
    cone: set[Fact] = set(goals)
    stack = list(cone)
    steps: list[Step] = []
    extend = steps.extend
    get = givers.get
    # A step giving two facts of the cone is listed twice: h_max takes it twice at
    # no harm, for less than a set of the steps taken would cost.
    while stack:
        found = get(stack.pop())
        if found is None:
            continue
        extend(found)
        for st in found:
            for p in st.pre:
                if p not in cone:
                    cone.add(p)
                    stack.append(p)
    return cone, steps


class _Relaxation:
    """The virtual facts of :func:`relaxed_lower_bounds`, given as positions are held.

    ``("*reach", h, s)``: some position held may open a flow to ``h:s`` (what an
    exploit or login from inside needs, whatever its source); ``("*egress",)``:
    code execution on a host with some exfiltration channel allowed;
    ``("*sniff", i)``: root on a host that may sniff traffic flow ``i``.  Worked
    out from the policy's reach of each source class, as the solve expands them.
    """

    def __init__(self, sol: Solution, targets: set[Fact], sniffed: set[int]) -> None:
        """``targets``: the ``("*reach", host, service)`` facts some relaxed step needs;
        ``sniffed``: the traffic flows some fired step sniffs."""
        #: The ``("*reach", host, service)`` facts some relaxed step needs.
        self.targets = targets
        #: Per host, what it reaches on itself (always allowed): its services among
        #: the targets (a target's service is one its host offers).
        self.own: dict[str, list[Fact]] = {}
        # (In no particular order: the walk gives every fact of a level the same value.)
        for fact in targets:
            self.own.setdefault(fact[1], []).append(fact)
        self.model = sol.model
        self.policy = sol.policy
        self.reached = 0  # target groups some held host reaches
        self.classes: set[object] = set()
        self.egress_held = False
        topo = self.model.topology
        hosts = self.hosts = topo.hosts
        #: Per zone, the traffic flows a root there may sniff, with their end hosts.
        self.sniffs: dict[str, list[tuple[str, frozenset[str]]]] = {}
        for i in sniffed:
            t = topo.model.traffic[i]
            ends = frozenset(x for x in (t.source, t.to) if x in hosts)
            for zone in {hosts[x].zone for x in ends}:
                self.sniffs.setdefault(zone, []).append((str(i), ends))

    def __call__(self, f: Fact) -> Sequence[Fact]:
        """The virtual facts the ``priv`` fact ``f`` brings (most bring none)."""
        host = f[1]
        if f[2] != "user":
            if not self.sniffs:
                return ()
            zone = self.hosts[host].zone
            left = self.sniffs.get(zone)
            if not left:
                return ()
            # Each flow is given once, by the first root placed to sniff it: the
            # walk goes level by level, so that is its least level.  Only flows
            # ending at this host are kept for a later root (two ends at most).
            self.sniffs[zone] = [(i, ends) for i, ends in left if host in ends]
            return [("*sniff", i) for i, ends in left if host not in ends]
        own = self.own.get(host, ())
        p = self.policy
        ck = p.source_class(host)
        if ck in self.classes:  # most hosts: their class was seen, reach and egress too
            return own  # (read, never changed, by the walk)
        self.classes.add(ck)
        out = list(own)
        mask = p.reach(host)
        new = mask & ~self.reached
        if new:
            self.reached |= mask
            wanted = self.targets
            tg = p.targets
            for gi in iter_bits(new):
                svc = tg.keys[gi][1]
                for h in tg.members[gi]:
                    fact = ("*reach", h, svc)
                    if fact in wanted:
                        out.append(fact)
        if not self.egress_held and any(
            p.egress_class(host, dest, svc).allowed for dest, svc in self.model.exfil_destinations
        ):
            self.egress_held = True
            out.append(_EGRESS)
        return out


def relaxed_lower_bounds(sol: Solution, goals: Sequence[Fact]) -> dict[Fact, int]:
    """A lower bound on the cost of every plan to each of ``goals``, from any solve.

    A pruned solve (the default) fires, per target, the steps of its cheapest
    sources only, and expands one host per class: its graph lacks plans, so its
    own h_max is no bound.  Here the position a step is launched from is relaxed
    to the best one that could launch it: an exploit or login from inside needs
    only "some host held reaches this service" (the policy's reach, per source
    class), an exfiltration "some host held has an allowed channel out", a sniff
    "root on some host placed to sniff that flow".  Steps differing only by their
    source become one, which the pruned solve did fire, so every plan of the whole
    graph maps onto a relaxed plan no longer than it (hosts the solve left out as
    interchangeable with a representative map onto it): the relaxed h_max is at
    most the whole graph's.  Goals not derived get no bound.
    """
    cost = sol.cost
    relaxed: set[tuple[tuple[Fact, ...], tuple[Fact, ...]]] = set()
    targets: set[Fact] = set()
    sniffed: set[int] = set()
    for st in sol.fired.values():
        pre = st.pre
        kind = st.kind
        if kind == "exploit" or kind == "login":
            if pre[0][0] == "priv":  # from inside: any source reaching the service
                assert st.flow is not None
                _, host, service = st.flow
                target = ("*reach", host, service)
                targets.add(target)
                pre = (target, *pre[1:])
        elif kind == "exfiltrate":
            pre = (pre[0], _EGRESS)  # (the data, code execution with a channel out)
        elif kind == "sniff":
            pre = (("*sniff", str(st.traffic)),)
            if st.traffic is not None:
                sniffed.add(st.traffic)
        relaxed.add((pre, st.post))
    wanted = [g for g in goals if g in cost]
    # The values do not depend on the order the steps come in.
    h = hmax(relaxed, also=_Relaxation(sol, targets, sniffed), until=wanted)
    return {g: h[g] for g in wanted}


def _dist_to(goal: Fact, givers: Mapping[Fact, Sequence[Step]]) -> dict[Fact, int]:
    """Per fact of the goal's backward sub-graph, the fewest steps from it to the goal."""
    dist: dict[Fact, int] = {goal: 0}
    frontier = [goal]
    d = 0
    while frontier:
        d += 1
        nxt: list[Fact] = []
        for f in frontier:
            for st in givers.get(f, ()):
                for p in st.pre:
                    if p not in dist:
                        dist[p] = d
                        nxt.append(p)
        frontier = nxt
    return dist


def cheapest(sol: Solution, goal: Fact, known: Plan | None = None) -> Cheapest | None:
    """The fewest-steps plan for ``goal`` among the steps ``sol`` fired.

    ``known``: a plan for the goal already found in ``sol`` (the extracted one
    when not given); the search looks only for cheaper ones.  None when the goal
    was not derived.  Remembered per solve and goal.
    """
    if goal not in sol.cost:
        return None
    g = _graph(sol, goal)
    got = g.found.get(goal)
    if got is not None:
        return got
    if known is None:
        known = extract_plan(sol, goal)
        assert known is not None
    with phase("plans"):
        got = _search(g, goal, known)
    g.found[goal] = got
    return got


def _search(g: _Graph, goal: Fact, known: Plan) -> Cheapest:
    """:func:`cheapest` once the graph is built."""
    hm = g.hmax
    lower = hm[goal]
    if known.cost <= lower:
        return Cheapest(known, lower)
    # A cheap try first: the h_max derivation, sharing facts where it can, often
    # meets the bound (then no search is needed).
    tight = _hmax_plan(g, goal)
    if tight.sort_key < known.sort_key:
        known = tight
        if known.cost <= lower:
            return Cheapest(known, lower)
    bound = known.cost - 1  # the search is for a plan of at most this many steps
    dist = _dist_to(goal, g.givers)
    # A step of a plan of at most `bound` steps heads a chain at least 1 + max h(pre)
    # long and one of its outputs starts a chain of at least dist to the goal; the
    # two share no step (one is before the output, one after).
    kept: list[Step] = []
    seen: set[StepKey] = set()
    for f in sorted(dist, key=lambda x: (dist[x], x)):
        for st in sorted(g.givers.get(f, ()), key=_step_key):
            if st.key in seen:
                continue
            seen.add(st.key)
            head = 1 + max((hm[p] for p in st.pre), default=0)
            tail = min(dist[q] for q in st.post if q in dist)
            if head + tail <= bound:
                kept.append(st)
    if not kept or len(kept) > MAX_ILP_STEPS or g.searched + len(kept) > MAX_ILP_STEPS_PER_SOLVE:
        return Cheapest(known, lower)
    g.searched += len(kept)
    found, proven = fewest_steps(kept, goal, dist, hm, bound)
    best = known if found is None else _as_plan(found, goal, hm)
    if best.cost > known.cost:  # never worse than what was known
        best = known
    if proven is True:
        # Optimal among plans of at most `bound` steps, or none exists: `best` is
        # the cheapest of the graph.
        return Cheapest(best, best.cost)
    # The budget ran out: every plan costs at least the solver's bound (on plans
    # of at most `bound` steps) or more than `bound`, i.e. at least `known`.
    if not math.isfinite(proven):
        return Cheapest(best, lower)
    proved = min(known.cost, math.ceil(proven - 1e-6))
    return Cheapest(best, max(lower, proved))


def _step_key(st: Step) -> StepKey:
    """A step's key (the fixed order of the steps a search reads)."""
    return st.key


def hmax_plan(sol: Solution, goal: Fact) -> Plan:
    """The h_max plan of ``goal`` in ``sol``'s graph (see :func:`_hmax_plan`); the
    goal must be derived."""
    g = _graph(sol, goal)
    with phase("plans"):
        return _hmax_plan(g, goal)


def _hmax_plan(g: _Graph, goal: Fact) -> Plan:
    """A plan along h_max: each fact needed is given by a step that meets its h_max
    (its preconditions then have lower values: no loop), preferring a step whose
    preconditions are already needed (shared facts are paid once)."""
    hm = g.hmax
    chosen: dict[Fact, Step] = {}
    needed: set[Fact] = {goal}
    stack = [goal]
    while stack:
        f = stack.pop()
        if f in chosen:
            continue
        tight = g.tight.get(f)
        if tight is None:
            tight = _tight(g, f)
        pick = tight[0]
        if len(tight) > 1:  # the fewest preconditions not needed yet, then the least key
            least = -1
            for st in tight:
                n = 0
                for p in st.pre:
                    if p not in needed:
                        n += 1
                if least < 0 or n < least or (n == least and st.key < pick.key):
                    pick, least = st, n
        chosen[f] = pick
        for p in pick.pre:
            if p not in needed:
                needed.add(p)
                stack.append(p)
    # In the order of _as_plan: a step meets the h_max of each fact it was picked for,
    # which is then its own chain's length.
    ranked = {st.key: (hm[f], st.key, st) for f, st in chosen.items()}
    return Plan(goal, tuple(minimize([st for _, _, st in sorted(ranked.values())], goal)))


def _tight(g: _Graph, f: Fact) -> list[Step]:
    """The steps giving ``f`` that meet its h_max, in the order they fired (at least
    one: h_max is a minimum over them).  Remembered per graph: goals share facts."""
    hm = g.hmax
    h = hm[f] - 1
    got: list[Step] = []
    for st in g.givers.get(f, ()):
        top = 0
        for p in st.pre:  # (at most two: a loop beats max() over a generator)
            v = hm[p]
            if v > top:
                top = v
        if top == h:
            got.append(st)
    assert got  # some step gives f its h_max
    g.tight[f] = got
    return got


def _as_plan(steps: Sequence[Step], goal: Fact, hm: Mapping[Fact, int]) -> Plan:
    """The chosen steps as a plan, in a valid order, with no droppable step."""
    ordered = sorted(steps, key=lambda s: (1 + max((hm[p] for p in s.pre), default=0), s.key))
    return Plan(goal, tuple(minimize(ordered, goal)))
