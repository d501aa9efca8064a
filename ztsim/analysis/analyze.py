"""The headless API: judge policies on a topology, list plans, build JSON results.

This is what the CLI, the TUI and the Python API share::

    >>> from ztsim.analysis.analyze import analyze
    >>> from ztsim.inputs.loader import load_topology, load_policies
    >>> a = analyze(load_topology("topologies/pajemploi.yaml"),
    ...             load_policies(["policies/"]))  # doctest: +SKIP
    >>> [r.policy.name for r in a.results if r.reachable_goals]  # doctest: +SKIP
    ['flat', 'segmented']

Each policy's result (:mod:`ztsim.analysis.results`) is gathered in an
:class:`~ztsim.analysis.judged.Analysis`; on large estates a forked child judges
some of the policies (:mod:`ztsim.analysis.twocores`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import ResultWriter, judge_policy
from ztsim.analysis.twocores import analyze_on_two_cores, on_two_cores, warnings_of
from ztsim.engine.attack import AttackModel
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology, reference_policy
from ztsim.inputs.loader import check_policies
from ztsim.model.diagnostics import InputError

__all__ = ["Needs", "analyze"]


@dataclass(frozen=True)
class Needs:
    """What a caller of :func:`analyze` reads besides each policy's verdicts.

    Plain :func:`analyze` (``Needs()``) judges every policy and reports each goal's
    cheapest plan; what else is asked for here is worked out with the verdicts
    (on two cores, by whichever process is free), the rest when first read.
    """

    #: The caller lists plans (:meth:`Analysis.plans`) rather than report each
    #: goal's cheapest plan.  Each policy is then solved once, by
    #: :func:`ztsim.engine.plans.plan_solve`, and that solve serves as its result
    #: too: what is reachable is the same (every solve derives the same facts), so
    #: the verdicts, the exit status and the plans listed are unchanged, and no
    #: policy is solved twice.  The cost and plan of each
    #: :class:`~ztsim.analysis.results.GoalResult` are then that solve's, which need
    #: not be the ones plain :func:`analyze` reports.  Judged on one core.
    plan_listing: bool = False
    #: Each rule's impact (:meth:`Analysis.check_rules`), counted ahead; on two
    #: cores the child counts its policies' and sends no solution tables (they are
    #: solved again here if asked).
    rule_impact: bool = False
    #: Each policy's warnings on the topology (:attr:`Analysis.warnings`, as
    #: :func:`ztsim.inputs.checks.policy_warnings` gives them).
    warnings: bool = False
    #: Each result's JSON text, written ahead by this writer (with the rule
    #: impact, which it implies): on two cores, by the process that judged it.
    #: Read back by :meth:`Analysis.written_text`.
    result_text: ResultWriter | None = None


def analyze(
    topology: LoadedTopology,
    policies: Sequence[LoadedPolicy] | None = None,
    needs: Needs | None = None,
) -> Analysis:
    """Judge ``policies`` on ``topology`` (the reference policy when none is given).

    Each policy gets an exact fixpoint: a goal is reachable if and only if the
    fixpoint derives it; its cost is that of the cheapest plan found.  ``needs``
    says what else the caller reads (:class:`Needs`; by default nothing).

    From :data:`~ztsim.analysis.judged.PARALLEL_HOSTS` hosts and two policies on,
    unless for plan listing, a forked child judges some of the policies (see
    :func:`ztsim.analysis.twocores.analyze_on_two_cores`); the results are the same.

    Policies may be pending (:func:`ztsim.inputs.loader.read_policies`): each is then
    validated by the process that judges it.  If one is invalid, this raises
    :class:`~ztsim.model.diagnostics.InputError` with every policy's errors, in order,
    as :func:`ztsim.inputs.loader.load_policies` would have.
    """
    wanted = Needs() if needs is None else needs
    counted = wanted.rule_impact or wanted.result_text is not None
    model = AttackModel(topology)
    chosen = list(policies) if policies else [reference_policy()]
    try:
        if not wanted.plan_listing and on_two_cores(model, chosen):
            return analyze_on_two_cores(
                model,
                chosen,
                rule_impact=counted,
                warnings=wanted.warnings,
                write=wanted.result_text,
            )
        results = [judge_policy(model, p, plan_listing=wanted.plan_listing) for p in chosen]
        found = warnings_of(topology, chosen) if wanted.warnings else None
        a = Analysis(topology, model, results, found)
        if counted:
            a.check_rules()
        return a
    except InputError:
        # A policy validated on first use (PendingPolicy) is invalid: every policy's
        # errors, in file order, as loading them all up front reports them.
        check_policies(chosen)
        raise
