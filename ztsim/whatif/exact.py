"""The exact search of ``ztsim harden`` on the full attack graph.

Every step of the exhaustive attack graph under the current policy yields its
candidate changes (:class:`~ztsim.whatif.candidates.Context`); each change is
applied alone (and with ``intra_zone: rules`` where same-zone flows skip the
rules), compiled, and asked which steps it forbids and which legitimate flows it
breaks.  :class:`~ztsim.whatif.search.HittingSearch` then finds a smallest set.
"""

from __future__ import annotations

from collections import defaultdict

from ztsim.engine.fixpoint import solve
from ztsim.engine.steps import Fact, Step
from ztsim.whatif.candidates import Context, Unclosable, why_open
from ztsim.whatif.changes import Change, step_allowed
from ztsim.whatif.search import HittingSearch, SearchOutcome, StepGraph

__all__ = ["exhaustive_search", "order_steps"]

ExactResult = tuple[
    list[Change], list[Unclosable], bool, str, dict[tuple[str, ...], list[Step]], int
]


class _Exhaustive:
    """Candidates and options over the exhaustive attack graph."""

    def __init__(self, ctx: Context, steps: list[Step]) -> None:
        self.ctx = ctx
        self.steps = steps
        self.changes: list[Change] = []
        self.index: dict[tuple[str, ...], int] = {}
        self.breaks: list[frozenset[int]] = []
        options: list[set[tuple[int, ...]]] = [set() for _ in steps]
        breaking: list[set[tuple[int, ...]]] = [set() for _ in steps]
        for st in steps:
            for c in ctx.candidates(st):
                self._add(c)
        switch = self.index.get(("intra-zone-rules",))
        relevant = _StepIndex(steps)
        for ci, c in enumerate(list(self.changes)):
            bad = bool(self.breaks[ci])
            if bad and ctx.keep_traffic:
                continue
            alone = ctx.decider_with([c])
            with_switch = None
            if switch is not None and ci != switch and c.seg_rules:
                with_switch = ctx.decider_with([c, self.changes[switch]])
            for i in relevant.steps_for(c):
                st = steps[i]
                target = breaking[i] if bad else options[i]
                if not step_allowed(st, alone):
                    target.add((ci,))
                elif (
                    with_switch is not None
                    and ctx.is_intra_skipped(st)
                    and not step_allowed(st, with_switch)
                ):
                    assert switch is not None
                    target.add(tuple(sorted((ci, switch))))
        # Breaking changes only where nothing else forbids the step.
        self.options = [
            sorted(o) if o else sorted(b) for o, b in zip(options, breaking, strict=True)
        ]

    def _add(self, c: Change) -> None:
        if c.key not in self.index:
            self.index[c.key] = len(self.changes)
            self.changes.append(c)
            self.breaks.append(frozenset(self.ctx.breaks([c])))

    def key(self, chosen: frozenset[int]) -> tuple[object, ...]:
        broken: set[int] = set()
        for c in chosen:
            broken |= self.breaks[c]
        return (
            len(broken),
            sum(self.changes[c].rank for c in chosen),
            sorted(self.changes[c].key for c in chosen),
        )


class _StepIndex:
    """The steps each kind of change may affect, so no change scans every step."""

    def __init__(self, steps: list[Step]) -> None:
        self.flows_to: dict[tuple[str, str], list[int]] = defaultdict(list)
        self.logins_with: dict[str, list[int]] = defaultdict(list)
        self.egress_from: dict[str, list[int]] = defaultdict(list)
        self.flows: list[int] = []
        self.egress: list[int] = []
        self.sniffs: list[int] = []
        for i, st in enumerate(steps):
            if st.flow is not None:
                self.flows.append(i)
                self.flows_to[(st.flow[1], st.flow[2])].append(i)
                if st.kind == "login" and st.credential is not None:
                    self.logins_with[st.credential].append(i)
            elif st.kind == "sniff":
                self.sniffs.append(i)
            elif st.egress is not None:
                self.egress.append(i)
                self.egress_from[st.egress[0]].append(i)

    def steps_for(self, c: Change) -> list[int]:
        """Indices of the steps ``c`` may forbid (sniffs always: they read traffic)."""
        if c.kind in ("deny-flow", "restrict-service"):
            base = self.flows_to.get((c.key[1], c.key[2]), [])
        elif c.kind == "intra-zone-rules":
            base = self.flows
        elif c.kind == "mfa":
            base = self.logins_with.get(c.mfa or "", [])
        elif c.kind == "encrypt":
            base = []
        elif c.kind == "deny-egress":
            base = self.egress_from.get(c.key[1], [])
        else:
            base = self.egress
        return sorted({*base, *self.sniffs})


def exhaustive_search(ctx: Context, targets: list[Fact], budget: int) -> ExactResult:
    """A smallest set of candidate changes closing ``targets`` on the full attack graph.

    Returns the changes (by rank, then key), the goals no candidate can close,
    whether minimality is proven, the proof's wording, the steps each change
    blocks (cheapest first) and the number of candidates.
    """
    sol = solve(ctx.model, ctx.compiled, exhaustive=True)
    steps = [st for _, st in sorted(sol.fired.items()) if all(p in sol.cost for p in st.pre)]
    ex = _Exhaustive(ctx, steps)
    graph = StepGraph(steps)
    goal_idx = [graph.fact_index[g] for g in targets if g in graph.fact_index]
    search = HittingSearch(graph, goal_idx, ex.options, ex.key, budget)
    closable, unclosable = _split_goals(ctx, steps, graph, ex, search.weight, goal_idx)
    search.targets = closable
    if not closable:
        return [], unclosable, True, "nothing to close", {}, len(ex.changes)
    outcome = search.run()
    chosen = sorted(outcome.chosen, key=lambda c: (ex.changes[c].rank, ex.changes[c].key))
    return (
        [ex.changes[c] for c in chosen],
        unclosable,
        outcome.proven,
        _proof(outcome, len(chosen), len(ex.changes)),
        _blocks(steps, graph, ex, chosen),
        len(ex.changes),
    )


def _split_goals(
    ctx: Context,
    steps: list[Step],
    graph: StepGraph,
    ex: _Exhaustive,
    weight: list[int],
    goal_idx: list[int],
) -> tuple[list[int], list[Unclosable]]:
    """Goals closed by every candidate at once, and the others with a plan and its needs."""
    everything = {i for i, o in enumerate(ex.options) if o}
    cost, best = graph.derive(everything, weight)
    unclosable: list[Unclosable] = []
    closable: list[int] = []
    for g in goal_idx:
        if cost[g] == float("inf"):
            closable.append(g)
            continue
        support = sorted(graph.support(best, g))
        plan = order_steps(steps, support, graph, g)
        needs = sorted({w for st in plan if (w := why_open(ctx, st)) is not None})
        fact = next(f for f, i in graph.fact_index.items() if i == g)
        unclosable.append(Unclosable(fact, tuple(plan), tuple(needs)))
    return closable, unclosable


def _proof(outcome: SearchOutcome, n: int, candidates: int) -> str:
    """What the search proved about its ``n`` changes, in words."""
    if outcome.proven:
        return (
            f"proven minimal: no set of {n - 1} or fewer of the {candidates} candidate "
            "changes closes every goal (exhaustive search on the full attack graph)"
            if n > 1
            else "proven minimal: a single change"
        )
    return (
        f"not proven minimal: the search stopped after {outcome.evaluations} evaluations; "
        f"no set of {max(outcome.exhausted_size, 0)} or fewer changes closes every goal"
    )


def _blocks(
    steps: list[Step], graph: StepGraph, ex: _Exhaustive, chosen: list[int]
) -> dict[tuple[str, ...], list[Step]]:
    """Per chosen change (by key), the steps it forbids."""
    # Examples cheapest first: the steps an attacker reaches soonest.
    unit, _ = graph.derive(set(), [1] * len(steps))
    depth = [sum(unit[f] for f in graph.pre[i]) for i in range(len(steps))]
    blocks: dict[tuple[str, ...], list[Step]] = {}
    for c in chosen:
        hit = [i for i, opts in enumerate(ex.options) if any(c in o for o in opts)]
        hit.sort(key=lambda i: (depth[i], steps[i].key))
        blocks[ex.changes[c].key] = [steps[i] for i in hit]
    return blocks


def order_steps(steps: list[Step], support: list[int], graph: StepGraph, goal: int) -> list[Step]:
    """The support's steps in an executable order (preconditions first)."""
    have: set[int] = set()
    todo = list(support)
    out: list[Step] = []
    while todo:
        for i in todo:
            if all(p in have for p in graph.pre[i]):
                out.append(steps[i])
                have.update(graph.post[i])
                todo.remove(i)
                break
        else:
            out.extend(steps[i] for i in todo)
            break
    return out
