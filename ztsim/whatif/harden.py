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
from ztsim.engine.plans import Plan, extract_plan
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
    exhausted = True
    for _ in range(ROUNDS if max_rounds is None else max_rounds):
        sol = solve(ctx.model, ctx.compiled_with(chosen))
        open_plans = [
            plan
            for g in targets
            if g not in unclosable and (plan := extract_plan(sol, g)) is not None
        ]
        if not open_plans:
            exhausted = False
            break
        score = _score_options(ctx, open_plans, switch, unclosable)
        if not score:
            continue
        k = min(score, key=lambda x: (-score[x][0], len(x), sum(c.rank for c in score[x][1]), x))
        for c in score[k][1]:
            if c not in chosen:
                chosen.append(c)
                blocks.setdefault(c.key, []).extend(score[k][2])
    if not exhausted:
        chosen = _drop_unneeded(ctx, chosen, [g for g in targets if g not in unclosable])
    chosen.sort(key=lambda c: (c.rank, c.key))
    return (
        chosen,
        list(unclosable.values()),
        {c.key: blocks.get(c.key, []) for c in chosen},
        exhausted,
    )


#: Per option (its changes' keys): plans' steps it forbids, the option, and those steps.
_Scores = dict[tuple[tuple[str, ...], ...], tuple[int, tuple[Change, ...], list[Step]]]


def _score_options(
    ctx: Context,
    open_plans: list[Plan],
    switch: Change | None,
    unclosable: dict[Fact, Unclosable],
) -> _Scores:
    """Score every option forbidding a step of the open plans; a plan none hits is unclosable."""
    score: _Scores = {}
    for plan in open_plans:
        hit = False
        for st in plan.steps:
            for opt in _options(ctx, st, switch):
                k = tuple(sorted(c.key for c in opt))
                n, _o, sts = score.get(k, (0, opt, []))
                score[k] = (n + 1, opt, [*sts, st])
                hit = True
        if not hit:
            needs = sorted({w for st in plan.steps if (w := why_open(ctx, st)) is not None})
            unclosable[plan.goal] = Unclosable(plan.goal, plan.steps, tuple(needs))
    return score


def _options(ctx: Context, st: Step, switch: Change | None) -> list[tuple[Change, ...]]:
    """The candidate changes that forbid ``st`` alone, or with the ``intra_zone`` switch."""
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


def _drop_unneeded(ctx: Context, chosen: list[Change], goals: list[Fact]) -> list[Change]:
    """Remove, least preferred first, each change without which ``goals`` stay closed."""
    # Every trial drops one change from a set whose compilation names every host
    # the trial's rules name: it lends its target groups (ztsim.engine.compiled).
    full = ctx.compiled_with(chosen)
    for c in sorted(chosen, key=lambda c: (c.rank, c.key), reverse=True):
        trial = [x for x in chosen if x is not c]
        sol = solve(ctx.model, ctx.compiled_with(trial, previous=full))
        if not any(sol.reachable(g) for g in goals):
            chosen = trial
    return chosen


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
        if changes:
            changes, blocks, proven, proof = _complete_exact(
                ctx, before, unclosable, changes, blocks, proven, proof
            )
    else:
        mode = "iterative"
        changes, unclosable, blocks, exhausted = _iterative(ctx, before)
        proven, ncand = len(changes) == 1 and not exhausted, 0
        proof = _iterative_proof(proven, exhausted, len(topology.hosts), exhaustive_limit)
    hardened = _hardened(policy, changes)
    full = model.compile(LoadedPolicy(hardened, "<hardened>"))
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


def _complete_exact(
    ctx: Context,
    before: list[Fact],
    unclosable: list[Unclosable],
    changes: list[Change],
    blocks: dict[tuple[str, ...], list[Step]],
    proven: bool,
    proof: str,
) -> tuple[list[Change], dict[tuple[str, ...], list[Step]], bool, str]:
    """The exact search's set, completed iteratively if together it leaves a goal open."""
    # The search assumes changes combine by union; if the combined policy says
    # otherwise, hit what stays open plan by plan, starting from this set.
    closable = [g for g in before if g not in {u.goal for u in unclosable}]
    sol = solve(ctx.model, ctx.compiled_with(changes))
    if not any(sol.reachable(g) for g in closable):
        return changes, blocks, proven, proof
    more, _, more_blocks, _ = _iterative(ctx, closable, initial=changes)
    blocks = {c.key: blocks.get(c.key, more_blocks.get(c.key, [])) for c in more}
    return more, blocks, False, "not proven minimal: the exact search's set needed completing"


def _iterative_proof(proven: bool, exhausted: bool, hosts: int, limit: int) -> str:
    """What the iterative search can claim about its set, in words."""
    if exhausted:
        return (
            f"incomplete: goals were still open after {ROUNDS} rounds of the iterative "
            f"search ({hosts} hosts is above the exhaustive limit, {limit})"
        )
    if proven:
        return "proven minimal: a single change"
    return (
        f"not proven minimal: {hosts} hosts is above the exhaustive "
        f"limit ({limit}); cheapest plans were hit one change at a time, "
        "then redundant changes removed"
    )


def _hardened(policy: LoadedPolicy, changes: list[Change]) -> Policy:
    """``policy`` with ``changes`` applied, its description saying so."""
    hardened = apply_changes(policy.model, changes)
    if changes:
        note = f"hardened by ztsim harden: {len(changes)} change(s)"
        desc = f"{hardened.description} ({note})" if hardened.description else note.capitalize()
        hardened = hardened.model_copy(update={"description": desc})
    return hardened
