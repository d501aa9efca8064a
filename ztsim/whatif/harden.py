"""``ztsim harden``: a small, verified set of policy changes that closes every goal.

The candidates come from the attack graph under the current policy: every step a
policy can forbid (a flow, an egress, a login's credential, a sniff) yields the
changes that would forbid it (:mod:`ztsim.whatif.candidates`), and each change's
real effect — the steps it forbids, the legitimate flows it breaks — is measured by
compiling the changed policy.  On small and medium topologies the graph is the
exhaustive one and :mod:`ztsim.whatif.exact` finds a minimum set (and says whether
it is proven minimal); above ``exhaustive_limit`` hosts, cheapest plans are hit one
at a time.  Either way the result is verified by
re-running the fixpoint on the changed policy, and each change is checked to be
necessary.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ztsim.engine.attack import AttackModel
from ztsim.engine.fixpoint import goal_facts, solve
from ztsim.engine.plans import extract_plan
from ztsim.engine.steps import Fact, Step
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.schema import Policy
from ztsim.whatif.candidates import Context, Unclosable, why_open
from ztsim.whatif.changes import GROUPS, Change, apply_changes
from ztsim.whatif.exact import exhaustive_search

__all__ = ["Hardening", "Unclosable", "harden"]


@dataclass
class Hardening:
    """The outcome of :func:`harden`."""

    topology: LoadedTopology
    policy: LoadedPolicy
    keep_traffic: bool
    mode: str  # "exhaustive" or "iterative"
    before: list[Fact]
    changes: list[Change]
    hardened: Policy
    after: list[Fact]
    broken: list[int]
    unclosable: list[Unclosable]
    proven: bool
    proof: str
    blocks: dict[tuple[str, ...], list[Step]] = field(default_factory=dict)
    necessary: dict[tuple[str, ...], list[Fact]] = field(default_factory=dict)
    candidates: int = 0

    @property
    def verified(self) -> bool:
        """The fixpoint on the hardened policy reaches no goal that was meant to close."""
        closable = set(self.before) - {u.goal for u in self.unclosable}
        return not (closable & set(self.after)) and (not self.keep_traffic or not self.broken)

    @property
    def complete(self) -> bool:
        """Every goal is closed, verified, and (with keep-traffic) no flow is broken."""
        return self.verified and not self.after


#: Rounds (changes added) of the iterative search before it gives up.
ROUNDS = 200


def _reachable(model: AttackModel, policy: LoadedPolicy, goals: Sequence[Fact]) -> list[Fact]:
    sol = solve(model, model.compile(policy))
    return [g for g in goals if sol.reachable(g)]


def _iterative(
    ctx: Context,
    targets: list[Fact],
    max_rounds: int | None = None,
    initial: Sequence[Change] = (),
) -> tuple[list[Change], list[Unclosable], dict[tuple[str, ...], list[Step]], bool]:
    """Large topologies: hit the cheapest open plans, one change at a time.

    Each round solves the policy with the changes chosen so far, takes each open
    goal's cheapest plan, and adds the option that forbids the most of their steps
    (ties: fewer changes, narrower kinds, then by key).  Changes that are not needed
    are then removed one at a time, each removal verified by a solve.

    Returns the changes, the goals no option can close, the steps each change was
    chosen for, and whether goals were still open after ``max_rounds`` rounds
    (default :data:`ROUNDS`).
    """
    chosen: list[Change] = list(initial)
    unclosable: dict[Fact, Unclosable] = {}
    switch = ctx.intra_zone_switch() if ctx.intra_allow else None
    blocks: dict[tuple[str, ...], list[Step]] = {}

    def options(st: Step) -> list[tuple[Change, ...]]:
        out: list[tuple[Change, ...]] = []
        for c in ctx.candidates(st):
            if ctx.keep_traffic and ctx.breaks([c]):
                continue
            if not ctx.allows(st, [c]):
                out.append((c,))
            elif (
                switch is not None
                and c is not switch
                and ctx.is_intra_skipped(st)
                and not ctx.allows(st, [c, switch])
            ):
                out.append((c, switch))
        return out

    exhausted = True
    for _ in range(ROUNDS if max_rounds is None else max_rounds):
        sol = solve(ctx.model, ctx.compiled_with(chosen))
        open_plans = []
        for g in targets:
            if g in unclosable:
                continue
            plan = extract_plan(sol, g)
            if plan is not None:
                open_plans.append(plan)
        if not open_plans:
            exhausted = False
            break
        score: dict[tuple[tuple[str, ...], ...], tuple[int, tuple[Change, ...], list[Step]]] = {}
        for plan in open_plans:
            hit = False
            for st in plan.steps:
                for opt in options(st):
                    k = tuple(sorted(c.key for c in opt))
                    n, _o, sts = score.get(k, (0, opt, []))
                    score[k] = (n + 1, opt, [*sts, st])
                    hit = True
            if not hit:
                needs = sorted({w for st in plan.steps if (w := why_open(ctx, st)) is not None})
                unclosable[plan.goal] = Unclosable(plan.goal, plan.steps, tuple(needs))
        if not score:
            continue
        k = min(score, key=lambda x: (-score[x][0], len(x), sum(c.rank for c in score[x][1]), x))
        for c in score[k][1]:
            if c not in chosen:
                chosen.append(c)
                blocks.setdefault(c.key, []).extend(score[k][2])
    goals = [g for g in targets if g not in unclosable]
    if not exhausted:
        # Every trial drops one change from a set whose compilation names every host
        # the trial's rules name: it lends its target groups (ztsim.engine.compiled).
        full = ctx.compiled_with(chosen)
        for c in sorted(chosen, key=lambda c: (c.rank, c.key), reverse=True):
            trial = [x for x in chosen if x is not c]
            sol = solve(ctx.model, ctx.compiled_with(trial, previous=full))
            if not any(sol.reachable(g) for g in goals):
                chosen = trial
    chosen.sort(key=lambda c: (c.rank, c.key))
    return (
        chosen,
        list(unclosable.values()),
        {c.key: blocks.get(c.key, []) for c in chosen},
        exhausted,
    )


def harden(
    topology: LoadedTopology,
    policy: LoadedPolicy,
    *,
    keep_traffic: bool = True,
    kinds: Sequence[str] = tuple(GROUPS),
    exhaustive_limit: int = 300,
    budget: int = 20000,
) -> Hardening:
    """Propose a small set of changes to ``policy`` that closes every goal, verified.

    Parameters
    ----------
    keep_traffic
        Never break a legitimate flow the policy allows today; goals that cannot be
        closed otherwise are reported as :class:`Unclosable`.
    kinds
        Change groups allowed: ``segmentation``, ``egress``, ``mfa``, ``encryption``.
    exhaustive_limit
        Above this many hosts, hit cheapest plans iteratively (no minimality proof).
    budget
        Most graph evaluations the exact search may spend.
    """
    model = AttackModel(topology)
    ctx = Context(model, policy, keep_traffic, frozenset(kinds))
    goals = goal_facts(topology)
    before = _reachable(model, policy, goals)
    if len(topology.hosts) <= exhaustive_limit:
        mode = "exhaustive"
        changes, unclosable, proven, proof, blocks, ncand = exhaustive_search(ctx, before, budget)
    else:
        mode = "iterative"
        changes, unclosable, blocks, exhausted = _iterative(ctx, before)
        proven, ncand = len(changes) == 1 and not exhausted, 0
        proof = (
            "proven minimal: a single change"
            if proven
            else f"not proven minimal: {len(topology.hosts)} hosts is above the exhaustive "
            f"limit ({exhaustive_limit}); cheapest plans were hit one change at a time, "
            "then redundant changes removed"
        )
        if exhausted:
            proof = (
                f"incomplete: goals were still open after {ROUNDS} rounds of the iterative "
                f"search ({len(topology.hosts)} hosts is above the exhaustive limit, "
                f"{exhaustive_limit})"
            )
    if mode == "exhaustive" and changes:
        # The search assumes changes combine by union; if the combined policy says
        # otherwise, hit what stays open plan by plan, starting from this set.
        closable = [g for g in before if g not in {u.goal for u in unclosable}]
        sol = solve(model, ctx.compiled_with(changes))
        if any(sol.reachable(g) for g in closable):
            more, _, more_blocks, _ = _iterative(ctx, closable, initial=changes)
            changes = more
            blocks = {c.key: blocks.get(c.key, more_blocks.get(c.key, [])) for c in changes}
            proven = False
            proof = "not proven minimal: the exact search's set needed completing"
    hardened = apply_changes(policy.model, changes)
    if changes:
        note = f"hardened by ztsim harden: {len(changes)} change(s)"
        desc = f"{hardened.description} ({note})" if hardened.description else note.capitalize()
        hardened = hardened.model_copy(update={"description": desc})
    loaded = LoadedPolicy(hardened, "<hardened>")
    full = model.compile(loaded)
    sol = solve(model, full)
    after = [g for g in goals if sol.reachable(g)]
    broken = ctx.breaks(changes)
    necessary: dict[tuple[str, ...], list[Fact]] = {}
    for c in changes:
        rest = [x for x in changes if x is not c]
        sol = solve(model, ctx.compiled_with(rest, previous=full))
        necessary[c.key] = [g for g in goals if sol.reachable(g) and g not in after]
    return Hardening(
        topology,
        policy,
        keep_traffic,
        mode,
        before,
        changes,
        hardened,
        after,
        broken,
        unclosable,
        proven,
        proof,
        blocks,
        necessary,
        ncand,
    )
