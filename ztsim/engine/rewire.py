"""Shorter plans by re-launching a step from a position the plan already holds.

A plan extracted from a pruned solve counts a shared fact once per use, so it
often holds two footholds where one would do: an exploit launched from the
internet to reach the data, and a phished workstation to send it out, when the
workstation could have launched the exploit too.  :func:`rewired` tries, for each
step of a plan, every other fired step giving the same fact whose preconditions
the plan already derives; the plan then drops what it no longer needs
(:func:`ztsim.engine.extraction.minimize`).  The cheapest result (ties by the
plan's sort key) is kept, and the search starts again from it until no swap
helps.

It only ever proposes plans of the solve's graph, so it never beats the graph's
h_max: :func:`ztsim.engine.plans.first_plan` offers its answer as the first plan
when strictly cheaper, and a first plan meeting a proven lower bound spares
``check`` the listing of further plans (:func:`ztsim.engine.plans.goal_costs`).
The work is a handful of schedules per step of the plan, far below one listing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ztsim.engine.extraction import Plan, minimize
from ztsim.engine.steps import Fact, Step

__all__ = ["rewired"]


def rewired(plan: Plan, givers: Mapping[Fact, Sequence[Step]], floor: int = 0) -> Plan:
    """The cheapest plan one or more single-step swaps of ``plan`` reach.

    ``givers``: per fact, the fired steps giving it (the solve's AND/OR graph).  A
    swap replaces a step of the plan by another giver of one of its outputs whose
    preconditions are all outputs of the plan's steps; the steps are then put in
    a valid order (a swap that would need its own outputs is refused) and every
    step the goal no longer needs is dropped.  Returns ``plan`` itself when no
    swap makes it strictly shorter.

    ``floor``: a proven lower bound on the cost of every plan of the graph for the
    goal.  A plan meeting it has no strictly shorter swap, so the search stops there
    rather than trying every swap once more to find none.
    """
    goal = plan.goal
    best = plan
    while best.cost > floor:
        found = _best_swap(best, goal, givers)
        if found is None:
            return best
        best = found
    return best


def _best_swap(plan: Plan, goal: Fact, givers: Mapping[Fact, Sequence[Step]]) -> Plan | None:
    """The cheapest strictly shorter plan one swap of ``plan`` gives, or None.

    Only a step with a precondition no other step uses is worth swapping, and only
    for a step that does without one of those, or gives more: otherwise every
    precondition of the step swapped out still serves some step, every other step
    still serves the goal, and the plan keeps its length.
    """
    steps = plan.steps
    held: set[Fact] = set()
    uses: dict[Fact, int] = {}
    for st in steps:
        held.update(st.post)
        for p in st.pre:
            uses[p] = uses.get(p, 0) + 1
    keys = {st.key for st in steps}
    best: Plan | None = None
    for i, st in enumerate(steps):
        # What only this step uses: a swap shortens the plan only if it frees one of
        # these, or gives more than the step did (another step may then go).
        own = [p for p in st.pre if uses[p] == 1]
        if not own:
            continue
        for fact in st.post:
            for alt in givers.get(fact, ()):
                if alt.key in keys or not held.issuperset(alt.pre):
                    continue
                if all(p in alt.pre for p in own) and all(q in st.post for q in alt.post):
                    continue
                # In place of the step it replaces: what came before still comes before.
                candidate = [*steps[:i], alt, *steps[i + 1 :]]
                try:
                    got = Plan(goal, tuple(minimize(candidate, goal)))
                except ValueError:
                    continue  # the new step needs what only the old one gave
                if got.cost < plan.cost and (best is None or got.sort_key < best.sort_key):
                    best = got
    return best
