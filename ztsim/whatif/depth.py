"""``ztsim harden --depth N``: defence in depth, a proposal that survives N-1 reverted changes.

A proposal has depth ``N`` when every goal stays closed whichever ``N - 1`` of its
changes are reverted (a rule deleted in a hurry, MFA switched off for a migration).
The proven-minimal fix of :func:`ztsim.whatif.harden.harden` has depth 1: on the flat
Pajemploi network, MFA on two passwords, while egress to the attacker's server stays
open.  :func:`harden_depth` grows it:

1. start from :func:`~ztsim.whatif.harden.harden`'s set ``S`` (depth 1);
2. on the exhaustive attack graph (:mod:`ztsim.whatif.exact`'s candidates and
   options), look for a set ``R`` of ``N - 1`` changes of ``S`` whose reversal
   reopens a goal; add a smallest set of *other* changes that closes every goal with
   ``S - R`` in place (:class:`~ztsim.whatif.search.HittingSearch`, the changes of
   ``R`` unavailable); repeat until no such ``R`` is left;
3. drop, least preferred first, each change without which the depth still holds;
4. verify, not assume: the fixpoint is solved on the real policy with every subset
   of at most ``N - 1`` changes reverted (the graph model assumes that changes
   combine by union; the policy decides).

Time is bounded: each search has the evaluation budget of ``harden``, at most
:data:`MAX_ROUNDS` rounds add changes, and at most :data:`MAX_CHECKS` re-checks are
made (beyond, the depth is reported unverified and the run fails).  Minimality: any
set of depth ``N`` keeps a closing set after ``N - 1`` reversals, so it has at least
``m + N - 1`` changes when ``m`` changes are the proven minimum at depth 1; a result of
that size is proven minimal, others are not claimed to be.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from math import comb

from ztsim.engine.attack import AttackModel
from ztsim.engine.fixpoint import solve
from ztsim.engine.steps import Fact
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.schema import Policy
from ztsim.whatif.candidates import Context
from ztsim.whatif.changes import GROUPS, Change, apply_changes

# The exact search's graph and options, shared rather than rebuilt differently here.
from ztsim.whatif.exact import _blocks, _Exhaustive
from ztsim.whatif.harden import Hardening, harden
from ztsim.whatif.search import Budget, HittingSearch, StepGraph

__all__ = ["MAX_CHECKS", "MAX_DEPTH", "MAX_ROUNDS", "DepthHardening", "harden_depth"]

#: The deepest defence asked for (each level multiplies the re-checks).
MAX_DEPTH = 4
#: Rounds of step 2 (each adds at least one change).
MAX_ROUNDS = 50
#: Most fixpoint re-checks of step 4.
MAX_CHECKS = 2000


@dataclass
class DepthHardening(Hardening):
    """A :class:`~ztsim.whatif.harden.Hardening` of depth ``depth``, and its verification."""

    depth: int = 1
    #: Every subset of at most ``depth - 1`` changes reverted leaves every closable
    #: goal closed, verified by the fixpoint on the real policy.
    depth_holds: bool = True
    #: Subsets re-checked by the fixpoint.
    rechecks: int = 0
    #: Why the depth is not reached: changes reverted (keys) and the goals reopened,
    #: or a sentence when the search or the bound stopped it.
    failures: list[tuple[tuple[tuple[str, ...], ...], list[Fact]]] = field(default_factory=list)
    reason: str = ""

    @property
    def complete(self) -> bool:
        """Every goal closed, and kept closed with any ``depth - 1`` changes reverted."""
        return super().complete and self.depth_holds


def _subsets(items: Sequence[int], size: int) -> Iterator[frozenset[int]]:
    for r in combinations(sorted(items), size):
        yield frozenset(r)


class _DepthSearch:
    """Steps 2 and 3 on the exhaustive attack graph, over change indices."""

    def __init__(self, ctx: Context, targets: list[Fact], budget: int) -> None:
        sol = solve(ctx.model, ctx.compiled, exhaustive=True)
        self.steps = [
            st for _, st in sorted(sol.fired.items()) if all(p in sol.cost for p in st.pre)
        ]
        self.ex = _Exhaustive(ctx, self.steps)
        self.graph = StepGraph(self.steps)
        self.targets = [self.graph.fact_index[g] for g in targets if g in self.graph.fact_index]
        self.budget = budget
        self.check = HittingSearch(self.graph, self.targets, self.ex.options, self.ex.key, budget)

    def index(self, changes: Sequence[Change]) -> set[int] | None:
        """The changes as indices of the graph's candidates (None: one is not among them)."""
        out = {self.ex.index.get(c.key, -1) for c in changes}
        return None if -1 in out else out

    def failing(self, chosen: set[int], depth: int) -> frozenset[int] | None:
        """A set of ``depth - 1`` changes whose reversal reopens a goal, if any."""
        for r in _subsets(list(chosen), min(depth - 1, len(chosen))):
            if not self.check.closes(chosen - r):
                return r
        return None

    def extend(self, chosen: set[int], reverted: frozenset[int]) -> frozenset[int]:
        """A smallest set of changes outside ``reverted`` closing every goal with
        ``chosen - reverted`` in place (raises ValueError when none exists)."""
        kept = chosen - reverted
        options = [
            [tuple(c for c in o if c not in kept) for o in opts if not reverted & set(o)]
            for opts in self.ex.options
        ]
        search = HittingSearch(self.graph, self.targets, options, self.ex.key, self.budget)
        return search.run().chosen

    def prune(self, chosen: set[int], depth: int) -> set[int]:
        """Drop, least preferred first, each change the depth does not need."""
        for c in sorted(chosen, key=lambda x: self.ex.key(frozenset({x})), reverse=True):
            trial = chosen - {c}
            if len(trial) >= depth and self.failing(trial, depth) is None:
                chosen = trial
        return chosen


def harden_depth(
    topology: LoadedTopology,
    policy: LoadedPolicy,
    depth: int,
    *,
    keep_traffic: bool = True,
    kinds: Sequence[str] = tuple(GROUPS),
    exhaustive_limit: int = 300,
    budget: int = 20000,
) -> DepthHardening:
    """A verified proposal closing every goal even with any ``depth - 1`` changes reverted.

    ``depth`` 1 is :func:`~ztsim.whatif.harden.harden`'s proposal.  Raises ValueError
    when ``depth`` is out of 1..:data:`MAX_DEPTH` or the topology is above
    ``exhaustive_limit`` hosts (the depth search needs the exhaustive attack graph).
    """
    if not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"--depth takes 1 to {MAX_DEPTH} (got {depth})")
    if depth > 1 and len(topology.hosts) > exhaustive_limit:
        raise ValueError(
            f"--depth needs the exhaustive search: {len(topology.hosts)} hosts is above "
            f"--exhaustive-limit {exhaustive_limit}"
        )
    base = harden(
        topology,
        policy,
        keep_traffic=keep_traffic,
        kinds=kinds,
        exhaustive_limit=exhaustive_limit,
        budget=budget,
    )
    fields = {k: getattr(base, k) for k in Hardening.__dataclass_fields__}
    if depth == 1 or not base.changes:
        return DepthHardening(**fields, depth=depth)
    ctx = Context(AttackModel(topology), policy, keep_traffic, frozenset(kinds))
    closable = [g for g in base.before if g not in {u.goal for u in base.unclosable}]
    search = _DepthSearch(ctx, closable, budget)
    chosen = search.index(base.changes)
    reason = ""
    if chosen is None:
        reason = "the base proposal has a change outside the attack graph's candidates"
        chosen_changes = list(base.changes)
    else:
        reason, chosen = _grow(search, chosen, depth)
        chosen_changes = sorted(
            (search.ex.changes[c] for c in chosen), key=lambda c: (c.rank, c.key)
        )
    return _verified(base, fields, ctx, search, chosen_changes, closable, depth, reason)


def _grow(search: _DepthSearch, chosen: set[int], depth: int) -> tuple[str, set[int]]:
    """Steps 2 and 3: add changes until no ``depth - 1`` reversals reopen a goal, then prune."""
    for _ in range(MAX_ROUNDS):
        reverted = search.failing(chosen, depth)
        if reverted is None:
            return "", search.prune(chosen, depth)
        try:
            more = search.extend(chosen, reverted)
        except (ValueError, Budget):
            names = ", ".join(search.ex.changes[c].text for c in sorted(reverted))
            return (
                f"no other candidate change closes every goal once these are reverted: {names}",
                chosen,
            )
        if not more - chosen:
            return "the search found nothing to add (the graph model disagrees)", chosen
        chosen |= more
    return f"stopped after {MAX_ROUNDS} rounds of adding changes", chosen


def _verified(
    base: Hardening,
    fields: dict[str, object],
    ctx: Context,
    search: _DepthSearch,
    changes: list[Change],
    closable: list[Fact],
    depth: int,
    reason: str,
) -> DepthHardening:
    """Step 4: the proposal solved with every subset of at most ``depth - 1`` reverted."""
    model = ctx.model
    full = ctx.compiled_with(changes)
    after = [g for g in base.before if solve(model, full).reachable(g)]
    failures: list[tuple[tuple[tuple[str, ...], ...], list[Fact]]] = []
    checks = sum(comb(len(changes), k) for k in range(1, depth))
    rechecks = 0
    if checks > MAX_CHECKS:
        reason = reason or f"not verified: {checks} re-checks exceed the bound ({MAX_CHECKS})"
    else:
        for k in range(1, min(depth, len(changes) + 1)):
            for r in combinations(range(len(changes)), k):
                rest = [c for i, c in enumerate(changes) if i not in r]
                sol = solve(model, ctx.compiled_with(rest, previous=full))
                rechecks += 1
                reopened = [g for g in closable if sol.reachable(g)]
                if reopened:
                    failures.append((tuple(changes[i].key for i in r), reopened))
    holds = not failures and not reason
    m = len(base.changes)
    indices = search.index(changes)
    fields.update(
        changes=changes,
        hardened=_hardened(base, changes, depth),
        after=after,
        broken=ctx.breaks(changes),
        blocks=base.blocks
        if indices is None
        else _blocks(search.steps, search.graph, search.ex, sorted(indices)),
        necessary={},
        proven=base.proven and len(changes) == m + depth - 1,
        proof=_proof(base.proven, m, len(changes), depth),
    )
    return DepthHardening(
        **fields,  # type: ignore[arg-type]
        depth=depth,
        depth_holds=holds,
        rechecks=rechecks,
        failures=failures,
        reason=reason,
    )


def _proof(base_proven: bool, m: int, n: int, depth: int) -> str:
    """What is known of the size ``n`` of a depth-``depth`` set, in words."""
    bound = m + depth - 1
    if base_proven and n == bound:
        return (
            f"proven minimal for depth {depth}: every set of depth {depth} has at least "
            f"{bound} changes (the {m} a proven-minimal fix needs, plus {depth - 1} that may "
            "be reverted)"
        )
    floor = f"at least {bound} are needed" if base_proven else "no lower bound proven"
    return f"not proven minimal for depth {depth} ({floor})"


def _hardened(base: Hardening, changes: list[Change], depth: int) -> Policy:
    """The policy with ``changes`` applied, its description saying so."""
    hardened = apply_changes(base.policy.model, changes)
    note = f"hardened by ztsim harden --depth {depth}: {len(changes)} change(s)"
    desc = f"{hardened.description} ({note})" if hardened.description else note.capitalize()
    return hardened.model_copy(update={"description": desc})
