"""Why a plan is blocked, or how likely it is seen: a plan judged under a policy (spec §6).

A plan is blocked at its first step the policy forbids, with what forbids it: a
segmentation or egress rule (its id), ``default``, ``mfa`` (a login with a
credential under MFA) or ``encrypt_in_transit`` (a sniffed flow).  A plan no
step of which is forbidden is open, with the probability that the policy's
detection entries see it: ``1 - prod(1 - p)`` over the entries that see some
step (each entry once).  Plans themselves are listed by :mod:`ztsim.engine.plans`.

>>> PlanVerdict("strict", True, 0, "deny-all", "step 1: ...", None, ()).short
'blocked: deny-all'
>>> PlanVerdict("flat", False, None, None, "open", 0.42, ()).short
'open P(det)=0.42'
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.decisions import Decision
from ztsim.engine.extraction import Plan
from ztsim.engine.steps import Step, StepKey
from ztsim.model.matching import selector_matches_host, selector_matches_zone
from ztsim.model.schema import Detection
from ztsim.model.techniques import technique_matches
from ztsim.perf.profiling import phase

__all__ = ["PlanVerdict", "StepVerdict", "judge", "judge_plans", "step_outcome"]


class StepVerdict(NamedTuple):
    """What a policy says of one step of a plan (a named tuple, like :class:`PlanVerdict`)."""

    allowed: bool
    blocked_by: str | None
    explanation: str
    decision: Decision | None
    detections: tuple[str, ...]


class PlanVerdict(NamedTuple):
    """What a policy says of a whole plan: blocked where and why, or open.

    A named tuple, cheap to build: a check judges every plan of its basis under
    every policy, and ``paths`` every plan it lists.
    """

    policy: str
    blocked: bool
    step: int | None
    blocked_by: str | None
    explanation: str
    p_detected: float | None
    steps: tuple[StepVerdict, ...]

    @property
    def short(self) -> str:
        """``blocked: RULE`` or ``open P=0.42`` for tables."""
        if self.blocked:
            return f"blocked: {self.blocked_by}"
        return f"open P(det)={self.p_detected:.2f}"


#: What :func:`_step_verdict` finds: allowed, what blocks it, in words, the decision.
_Finding = tuple[bool, str | None, str, Decision | None]


def _describe(decision: Decision, policy: CompiledPolicy) -> str:
    """``Decision.describe`` memoised per policy (plans share most of their steps)."""
    cache = _judgements(policy).descriptions
    text = cache.get(decision)
    if text is None:
        text = cache[decision] = decision.describe(policy.loaded)
    return text


def _step_verdict(step: Step, policy: CompiledPolicy) -> _Finding:
    """What ``policy`` decides of ``step`` (detection apart): :func:`step_outcome`'s
    verdict, in words."""
    allowed, decision = step_outcome(step, policy)
    if decision is None:
        if not allowed:  # a sniffed flow under encrypt_in_transit
            return False, "encrypt_in_transit", "encrypt_in_transit: the flow cannot be read", None
        return True, None, "no network flow: not a policy decision", None
    what = f"{_network_part(step, policy)} {_describe(decision, policy)}"
    if not decision.allowed:
        return False, decision.rule, what, decision
    if not allowed:  # the flow of a login whose credential is under MFA
        return False, "mfa", f"credential {step.credential} is under MFA", decision
    return True, None, what, decision


def _network_part(step: Step, policy: CompiledPolicy) -> str:
    """The flow, sniffed traffic or egress a policy decides of ``step``, in words."""
    if step.flow is not None:
        source, host, service = step.flow
        return f"flow {source} -> {host}:{service}"
    if step.kind == "sniff":
        assert step.traffic is not None
        flow = policy.topology.model.traffic[step.traffic]
        return f"traffic {flow.source} -> {flow.to} {flow.service}"
    assert step.egress is not None
    host, destination, service = step.egress
    return f"egress {host} -> {destination} {service}"


def step_outcome(step: Step, policy: CompiledPolicy) -> tuple[bool, Decision | None]:
    """Whether ``policy`` allows ``step``, and the decision :func:`_step_verdict` names:
    its verdict without words or detections.

    Rule impact reads no more of a step (:func:`ztsim.engine.impact.basis_impact`),
    and a check asks it of every distinct step of its basis under every policy:
    the explanation's text, built for each, was most of that cost.  Where a step's
    verdict is decided: :func:`_step_verdict` puts this one in words.
    """
    if step.flow is not None:
        decision = policy.flow(*step.flow)
        if not decision.allowed:
            return False, decision
        return not (step.kind == "login" and step.credential in policy.mfa), decision
    if step.kind == "sniff":
        if policy.encrypt_in_transit:
            return False, None
        assert step.traffic is not None
        flow = policy.topology.model.traffic[step.traffic]
        decision = policy.traffic(flow.source, flow.to, flow.service)
        return decision.allowed, decision
    if step.egress is not None:
        decision = policy.egress(*step.egress)
        return decision.allowed, decision
    return True, None


def _detections(technique: str, where: str | None, policy: CompiledPolicy) -> tuple[str, ...]:
    """Ids of the detection entries that see ``technique`` at ``where`` (a host or zone)."""
    topo = policy.topology
    hits: list[str] = []
    by_technique = _judgements(policy).by_technique
    seeing = by_technique.get(technique)
    if seeing is None:
        seeing = by_technique[technique] = [
            det
            for det in policy.loaded.model.controls.detection
            if any(technique_matches(t, technique) for t in det.techniques)
        ]
    for det in seeing:
        if where in topo.hosts:
            ok = selector_matches_host(det.where, topo.hosts[where])
        elif where is not None:
            ok = selector_matches_zone(det.where, where)
        else:
            ok = det.where.is_any
        if ok:
            hits.append(det.id)
    return tuple(hits)


class _Judgements:
    """What judging plans under one compiled policy has found so far.

    A compiled policy never changes, and the plans judged under it share most of
    their steps, many steps their technique and host: so each step is judged once,
    and each (technique, host) pair looked up against the detection entries once.
    (Kept in the policy's ``judgements`` slot, so dropped with it; the policy is
    not held here.)
    """

    __slots__ = ("by_technique", "descriptions", "detections", "probabilities", "steps")

    def __init__(self, policy: CompiledPolicy) -> None:
        #: Step verdicts by step key, with the step judged: plans found under
        #: different policies come from different solves, whose equal steps are
        #: distinct objects, so a hit is one equal to the step asked about.
        self.steps: dict[StepKey, tuple[Step, StepVerdict]] = {}
        #: Detection ids by (technique, where the step happens).
        self.detections: dict[tuple[str, str | None], tuple[str, ...]] = {}
        #: Probability of each detection entry, by id (the last entry of an id wins).
        self.probabilities = {d.id: d.probability for d in policy.loaded.model.controls.detection}
        #: ``Decision.describe`` of each decision met (plans share most of their steps).
        self.descriptions: dict[Decision, str] = {}
        #: Detection entries that see each technique.
        self.by_technique: dict[str, list[Detection]] = {}

    def step(self, step: Step, policy: CompiledPolicy) -> StepVerdict:
        """The verdict of ``policy`` on ``step`` (judged on first sight, then remembered)."""
        hit = self.steps.get(step.key)
        if hit is not None and (hit[0] is step or hit[0] == step):
            return hit[1]
        allowed, blocked_by, explanation, decision = _step_verdict(step, policy)
        detections: tuple[str, ...] = ()
        if step.technique is not None:
            where = (step.technique, step.host)
            found = self.detections.get(where)
            if found is None:
                found = self.detections[where] = _detections(step.technique, step.host, policy)
            detections = found
        verdict = StepVerdict(allowed, blocked_by, explanation, decision, detections)
        self.steps[step.key] = (step, verdict)
        return verdict


def _judgements(policy: CompiledPolicy) -> _Judgements:
    """The judgements of ``policy``, kept in its ``judgements`` slot (which the
    engine's lower modules cannot type: they do not import this one)."""
    memo = policy.judgements
    if not isinstance(memo, _Judgements):
        memo = policy.judgements = _Judgements(policy)
    return memo


def judge(plan: Plan, policy: CompiledPolicy) -> PlanVerdict:
    """Judge ``plan`` against ``policy`` (spec §6).

    Blocked at the first step the policy forbids; otherwise open, with
    ``P(detected) = 1 - prod(1 - p)`` over every detection entry that matches some
    step (each entry counted once, however many steps it sees).
    """
    with phase("judge"):
        return _judge(plan, policy, _judgements(policy))


def judge_plans(
    plans: Iterable[Plan], policy: CompiledPolicy, *, whole: bool = True
) -> list[PlanVerdict]:
    """``[judge(p, policy) for p in plans]``, in one profiling phase.

    ``whole=False``: a blocked plan's verdict stops at its blocking step
    (``steps`` ends with that step's verdict); the steps after it, which never
    happen, are not judged.  Everything else is the same.  For counting rule
    impact, which reads no step after the block: under a strict policy most of
    a basis is blocked early, and far fewer distinct steps are judged (figures in
    ``benchmarks/README.md``).
    """
    with phase("judge"):
        memo = _judgements(policy)
        if whole:
            return [_judge(p, policy, memo) for p in plans]
        return [_judge_to_block(p, policy, memo) for p in plans]


def _judge(plan: Plan, policy: CompiledPolicy, memo: _Judgements) -> PlanVerdict:
    known = memo.steps
    # The memo's fast path inlined: most steps of most plans were judged before.
    verdicts = [
        hit[1] if (hit := known.get(st.key)) is not None and hit[0] is st else memo.step(st, policy)
        for st in plan.steps
    ]
    for i, verdict in enumerate(verdicts):
        if not verdict.allowed:
            return _blocked(policy, i, verdicts)
    return _open(memo, policy, verdicts)


def _judge_to_block(plan: Plan, policy: CompiledPolicy, memo: _Judgements) -> PlanVerdict:
    """:func:`_judge`, stopping at the first step ``policy`` forbids."""
    known = memo.steps
    verdicts: list[StepVerdict] = []
    for st in plan.steps:
        hit = known.get(st.key)
        verdict = hit[1] if hit is not None and hit[0] is st else memo.step(st, policy)
        verdicts.append(verdict)
        if not verdict.allowed:
            return _blocked(policy, len(verdicts) - 1, verdicts)
    return _open(memo, policy, verdicts)


def _blocked(policy: CompiledPolicy, i: int, verdicts: list[StepVerdict]) -> PlanVerdict:
    """The verdict of a plan blocked at step ``i`` (``verdicts``: its steps judged)."""
    verdict = verdicts[i]
    why = f"step {i + 1}: {verdict.explanation}"
    return PlanVerdict(policy.loaded.name, True, i, verdict.blocked_by, why, None, tuple(verdicts))


def _open(memo: _Judgements, policy: CompiledPolicy, verdicts: list[StepVerdict]) -> PlanVerdict:
    """The verdict of an open plan, every step of which ``verdicts`` allow."""
    name = policy.loaded.name
    probabilities = memo.probabilities
    matched = sorted({d for verdict in verdicts for d in verdict.detections})
    miss = 1.0
    for detection in matched:
        miss *= 1.0 - probabilities[detection]
    p_detected = round(1.0 - miss, 6)
    return PlanVerdict(name, False, None, None, "open", p_detected, tuple(verdicts))
