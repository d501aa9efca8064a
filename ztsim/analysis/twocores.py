"""``check`` on two cores: a forked child judges some of the policies.

From :data:`~ztsim.analysis.judged.PARALLEL_HOSTS` hosts and two policies on,
:func:`ztsim.analysis.analyze.analyze` shares the policies with a forked child
(:func:`analyze_on_two_cores`); the results are the same.  Kept because a paired
benchmark showed it worth its complexity (``benchmarks/README.md``, "The two-core
check protocol").
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Sequence
from typing import Any, cast

from ztsim.analysis import judged
from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import (
    GoalResult,
    PolicyResult,
    ResultStats,
    ResultWriter,
    TrafficResult,
    goal_plans,
    judge_policy,
    policy_impact,
)
from ztsim.engine.attack import AttackModel
from ztsim.engine.fixpoint import Solution
from ztsim.engine.impact import counts_reference
from ztsim.engine.plans import Plan, merge_plans
from ztsim.engine.verdicts import step_outcome
from ztsim.inputs.checks import policy_warnings
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.diagnostics import Diagnostic
from ztsim.perf import forking
from ztsim.perf.profiling import phase

__all__ = ["analyze_on_two_cores", "on_two_cores", "warnings_of"]


def on_two_cores(model: AttackModel, policies: Sequence[LoadedPolicy]) -> bool:
    """Whether :func:`ztsim.analysis.analyze.analyze` shares the policies with a
    forked child (not for plan listing, which the caller decides)."""
    return (
        2 <= len(policies) < forking.Tickets.MOST  # one more ticket: the warnings
        and len(model.topology.hosts) >= judged.PARALLEL_HOSTS  # read here: tests lower it
        and forking.enabled()
    )


#: What the child sends of each policy it judged: its tables (unless ``rule_impact``),
#: goals, flows and sizes.
_Sent = tuple[tuple[Any, ...] | None, list[GoalResult], list[TrafficResult], ResultStats]


def warnings_of(topology: LoadedTopology, policies: Sequence[LoadedPolicy]) -> list[Diagnostic]:
    """Every policy's warnings on ``topology``, in order."""
    return [w for p in policies for w in policy_warnings(p, topology)]


def analyze_on_two_cores(
    model: AttackModel,
    policies: Sequence[LoadedPolicy],
    *,
    rule_impact: bool,
    warnings: bool,
    write: ResultWriter | None,
) -> Analysis:
    """:func:`ztsim.analysis.analyze.analyze` with a forked child judging some of the policies.

    The policies are tickets (:class:`ztsim.perf.forking.Tickets`) that this process
    and the child take in turn: each compiles and solves the policies it takes,
    the faster taking more.  With ``warnings``, one more ticket, last, stands for
    working out the policies' warnings.  The child then sends what it found: of
    each policy, the solution's tables, goals and flow decisions, bound here to
    this process's model and a compilation of the policy, so the results are
    those a solve here gives.  With ``rule_impact`` it sends no tables (``check``
    reads none; they are solved again here if asked), and then counts the rule
    impact of its policies (:meth:`Analysis.check_rules`), while this process
    counts its own, over the plans of the impact basis: this process sends its
    own policies' plans, and the child merges them with its own.  With a
    ``write``, each process also writes the JSON of the results it counted.

    A child that fails, or sends what cannot be read, leaves its policies (or
    their rule impact, or the warnings) to this process: the results do not change.
    """
    topology = model.topology
    with phase("compile"):
        _ = model.layout  # shared by every compilation: built once, before the fork
    n = len(policies)
    tickets = forking.Tickets(n + 1 if warnings else n)

    def work() -> tuple[dict[int, PolicyResult], list[Diagnostic] | None]:
        """Take tickets until none is left: judge each policy, or work out the warnings."""
        judged: dict[int, PolicyResult] = {}
        found: list[Diagnostic] | None = None
        while (i := tickets.take()) is not None:
            if i == n:
                found = warnings_of(topology, policies)
            else:
                judged[i] = judge_policy(model, policies[i])
        return judged, found

    def serve(receive: Callable[[], object], send: Callable[[object], bool]) -> None:
        mine, found = work()
        sent: dict[int, _Sent] = {}
        for i, r in mine.items():
            s = r.solution
            tables = None if rule_impact else (s.cost, s.order, s.best, s.fired, s.complete)
            sent[i] = (tables, r.goals, r.traffic, r.stats)
        if not send((sent, found)) or not rule_impact:
            return
        # While the parent finishes: decide each policy's own plans' steps up to the
        # blocking one (a share of the basis, each flow's decision remembered) and
        # find its rules' lines, as counting its rule impact will.
        for r in mine.values():
            for plan in goal_plans(r):
                for st in plan.steps:
                    if not step_outcome(st, r.compiled)[0]:
                        break
            r.policy.rule_marks()
        plans = _basis_from(receive(), mine, n)
        if plans is None:
            return
        counted: dict[int, tuple[bytes, str | None]] = {}
        for i, r in mine.items():
            rows = policy_impact(r, plans)
            text = write(r, rows) if write is not None else None
            counted[i] = (marshal.dumps([tuple(x) for x in rows]), text)
        send(counted)

    helper = forking.Helper(serve)
    try:
        results, found = work()
        with phase("fixpoint"):  # the child's solves, as far as this process waits
            got = helper.receive()
        sent, their_warnings = got if isinstance(got, tuple) and len(got) == 2 else (None, None)
        theirs = _received(model, policies, sent, set(results))
        results.update(theirs)
        for i, p in enumerate(policies):
            if i not in results:  # the child failed: judged here
                results[i] = judge_policy(model, p)
        if warnings and found is None:
            ok = isinstance(their_warnings, list) and all(
                isinstance(w, Diagnostic) for w in their_warnings
            )
            found = their_warnings if ok else warnings_of(topology, policies)
        a = Analysis(topology, model, [results[i] for i in range(n)], found)
        if rule_impact and theirs:
            _rules_on_two_cores(a, helper, set(theirs), write)
        return a
    finally:
        tickets.close()
        helper.close(wait=False)  # the child's teardown overlaps this process's output


def _received(
    model: AttackModel, policies: Sequence[LoadedPolicy], got: object, known: set[int]
) -> dict[int, PolicyResult]:
    """The results the child sent (``{}`` if unreadable), bound to this process."""
    if not isinstance(got, dict):
        return {}
    try:
        out: dict[int, PolicyResult] = {}
        for i, (tables, goals, traffic, stats) in cast(dict[int, _Sent], got).items():
            if i in known or not 0 <= i < len(policies):
                return {}
            if not (isinstance(stats, ResultStats) and isinstance(goals, list)):
                return {}
            r = PolicyResult.later(policies[i], model, goals, traffic, stats)
            if tables is not None:
                cost, order, best, fired, complete = tables
                r.bind(Solution(model, r.compiled, cost, order, best, fired, complete))
            out[i] = r
        return out
    except Exception:  # an unreadable answer: judged here instead
        return {}


def _basis_from(got: object, mine: dict[int, PolicyResult], n: int) -> list[Plan] | None:
    """In the child: the plans rule impact is counted over, from what the parent sent
    (the merged basis, or its own policies' goal plans to merge with the child's as
    :func:`impact_basis` does); ``None`` if unreadable."""
    if isinstance(got, list):
        return got
    if not isinstance(got, dict) or set(got) | set(mine) != set(range(n)) or set(got) & set(mine):
        return None
    groups = {**got, **{i: goal_plans(r) for i, r in mine.items()}}
    return merge_plans(groups[i] for i in range(n))


def _rules_on_two_cores(
    a: Analysis, helper: forking.Helper, theirs: set[int], write: ResultWriter | None
) -> None:
    """Count :meth:`Analysis.check_rules` here and, for the policies ``theirs``, in the
    child; with a ``write``, each process writes the JSON of the results it counted."""
    mine = [i for i in range(len(a.results)) if i not in theirs]
    message: object
    if counts_reference(len(a.topology.hosts), [r.policy.path for r in a.results]):
        message = a._check_basis()[0]  # with the reference's plans, which the child lacks
    else:  # the child merges the basis itself, from its own plans and these
        message = {i: goal_plans(a.results[i]) for i in mine}
    if not helper.send(message):
        return  # counted here when asked
    plans, _ = a._check_basis()
    for i in mine:
        a._rules[i] = policy_impact(a.results[i], plans)
    if write is not None:
        for i in mine:
            a.written_text(i, write)  # written while the child counts
    with phase("judge"):  # the child's counts, as far as this process waits
        got = helper.receive()
    if not isinstance(got, dict) or set(got) != theirs:
        return  # counted here when asked
    if not all(
        isinstance(x, tuple)
        and len(x) == 2
        and isinstance(x[0], bytes)
        and isinstance(x[1], str | None)
        for x in got.values()
    ):
        return
    for i, (blob, text) in got.items():
        a._blobs[i] = blob  # read when asked (:meth:`Analysis._rows`)
        if text is not None:
            a._texts[i] = text
