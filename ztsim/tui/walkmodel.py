"""The walk-through's view model: one step of one plan under one policy, as plain rows.

Built from a :class:`~ztsim.tui.viewmodel.PlanView` (the steps and every policy's
verdict on each, copied from :mod:`ztsim.engine.verdicts`) and its
:class:`~ztsim.tui.walkdata.PlanWalkData` (the facts each step used, the controls
that stop it).  No Textual and no rich: :mod:`ztsim.tui.widgets.walk` draws it,
and the unit tests read it directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ztsim.model.techniques import technique
from ztsim.tui.viewmodel import PlanView, StepCheck, StepView
from ztsim.tui.walkdata import StepControl, StepWalkData

__all__ = [
    "ChainItem",
    "PolicyLine",
    "WalkCard",
    "chain",
    "stop_step",
    "tactic_name",
    "walk_card",
]

#: How a step stands under the current policy, in the kill-chain strip.
ChainState = Literal["open", "stop", "denied", "after", "after-denied"]

#: The tactic of a step whose technique names none (an entry point of its own).
_ENTER = {"enter": "initial-access"}

#: ATT&CK's spelling of the tactics ztsim names (its short names are kebab-case).
_SMALL_WORDS = frozenset({"and", "or", "of", "the"})


def tactic_name(short: str | None) -> str:
    """An ATT&CK tactic's display name from its short name.

    >>> tactic_name("command-and-control"), tactic_name(None)
    ('Command and Control', '')
    """
    if not short:
        return ""
    words = short.split("-")
    return " ".join(
        w if n and w in _SMALL_WORDS else w[:1].upper() + w[1:] for n, w in enumerate(words)
    )


@dataclass(frozen=True)
class ChainItem:
    """One step in the kill-chain strip: its number, label and state under the policy.

    ``state``: ``open`` (the policy lets it through), ``stop`` (where the policy
    stops the plan), ``denied`` (the policy would stop it too, were it reached),
    ``after`` (after the stop: not reached), ``after-denied`` (both).
    """

    number: int
    label: str
    state: ChainState
    current: bool


@dataclass(frozen=True)
class PolicyLine:
    """The plan's fate under one policy, and what that policy says of the current step."""

    name: str
    current: bool
    blocked: bool
    #: ``stops the plan at step 3 (default)`` or ``open, P(detected) 0.42``.
    fate: str
    #: What this policy does with the current step, in a few words.
    here: str
    here_stops: bool


@dataclass(frozen=True)
class WalkCard:
    """Everything the walk screen shows for one step of one plan under one policy."""

    title: str
    number: int
    total: int
    #: The step in one sentence (the incident analysis' narrative).
    sentence: str
    tactic: str
    technique: str | None
    technique_name: str | None
    url: str | None
    action: str
    #: Why the step was possible: the facts it used (each with the step that gave it),
    #: what in the topology enabled it, and what the policy decided of its flow.
    needs: tuple[str, ...]
    topology: str
    policy_decision: str
    #: The current policy lets the step through (else: what it would have needed).
    allowed: bool
    #: The policies the plan was found under (``reference``: every flow allowed).
    found_under: tuple[str, ...]
    gives: tuple[str, ...]
    #: ``M1030 Network Segmentation``: the ATT&CK mitigations of the technique.
    mitigations: tuple[str, ...]
    #: The ztsim controls that would stop this step (or see it), under the current
    #: policy: each present there or not, the one that stops it flagged ``stops``.
    controls: tuple[StepControl, ...]
    policy: str
    #: Where the current policy stops the plan (``None``: it does not).
    stop: int | None
    stop_rule: str | None
    #: The step is after the stop: the attacker never gets here under this policy.
    reached: bool
    policies: tuple[PolicyLine, ...]
    chain: tuple[ChainItem, ...]


def stop_step(plan: PlanView, policy: int) -> int | None:
    """The number of the step where policy number ``policy`` stops ``plan``, if it does."""
    if not 0 <= policy < len(plan.cells):
        return None
    cell = plan.cells[policy]
    return cell.step if cell.blocked else None


def _label(s: StepView) -> str:
    return s.technique or s.kind


def chain(plan: PlanView, policy: int, current: int) -> tuple[ChainItem, ...]:
    """The plan's steps as a strip under policy number ``policy``, step ``current`` marked."""
    stop = stop_step(plan, policy)
    out: list[ChainItem] = []
    for s in plan.steps:
        denied = 0 <= policy < len(s.checks) and not s.checks[policy].allowed
        state: ChainState
        if stop is not None and s.number == stop:
            state = "stop"
        elif stop is not None and s.number > stop:
            state = "after-denied" if denied else "after"
        else:
            state = "denied" if denied else "open"
        out.append(ChainItem(s.number, _label(s), state, s.number == current))
    return tuple(out)


def _action(s: StepView) -> str:
    """``exploit: portal-web -> api-01 on 8081/tcp``."""
    if s.kind == "enter":
        return f"enter at {s.target}"
    if s.kind in ("escalate",):
        return f"escalate on {s.target}"
    if s.kind in ("steal", "sniff", "collect", "tamper"):
        on = f" on {s.source}" if s.source else ""
        via = f" (a {s.service} flow)" if s.kind == "sniff" and s.service else ""
        return f"{s.kind} {s.target}{on}{via}"
    svc = f" on {s.service}" if s.service else ""
    return f"{s.kind}: {s.source} -> {s.target}{svc}"


def _fate(plan: PlanView, k: int) -> tuple[bool, str]:
    cell = plan.cells[k]
    if cell.blocked:
        return True, f"stops the plan at step {cell.step} ({cell.rule})"
    return False, f"open, P(detected) {cell.p_detected or 0.0:.2f}"


def _here(s: StepView, k: int, stop: int | None) -> tuple[bool, str]:
    check = s.checks[k]
    if not check.allowed:
        # at the plan's stop the fate just named the rule
        return (
            True,
            "here: stops it" if s.number == stop else f"here: stops it ({check.blocked_by})",
        )
    if not check.network:
        return False, "here: not a policy decision"
    return False, "here: lets it through"


def _decision(check: StepCheck | None, data: StepWalkData | None, policy: int) -> str:
    """The policy's word on the step, with the FILE:LINE of a default that decided it."""
    if check is None:
        return ""
    where = data.decided_at[policy] if data and 0 <= policy < len(data.decided_at) else None
    if where and where not in check.explanation:
        return f"{check.explanation} ({where})"
    return check.explanation


def walk_card(plan: PlanView, policies: tuple[str, ...], policy: int, number: int) -> WalkCard:
    """Step ``number`` (1-based, clamped) of ``plan`` under policy number ``policy``."""
    number = min(max(number, 1), len(plan.steps))
    s = plan.steps[number - 1]
    data = plan.walk.steps[number - 1] if plan.walk is not None else None
    check = s.checks[policy] if 0 <= policy < len(s.checks) else None
    stop = stop_step(plan, policy)
    lines: list[PolicyLine] = []
    for k, name in enumerate(policies):
        if k >= len(plan.cells) or k >= len(s.checks):
            continue
        blocked, fate = _fate(plan, k)
        stops, here = _here(s, k, stop_step(plan, k))
        lines.append(PolicyLine(name, k == policy, blocked, fate, here, stops))
    info = data.technique if data else None
    t = technique(s.technique)
    # an entry point with no technique of its own is still the attacker's initial access
    tactic = info.tactic_name if info else tactic_name(s.tactic or _ENTER.get(s.kind))
    used = data.needs if data else ()
    needs = tuple(f"{n.text} (step {n.given_by})" if n.given_by else n.text for n in used)
    title = f"plan {plan.ident}: {plan.goal} from {plan.entry}, cost {plan.cost}"
    if plan.records is not None:
        title += f", {plan.records:,} records"
    return WalkCard(
        title=title,
        number=number,
        total=len(plan.steps),
        sentence=data.sentence if data else "",
        tactic=tactic,
        technique=s.technique,
        technique_name=info.name if info else s.technique_name,
        url=info.url if info and info.known else (t.url if t and t.tactic else None),
        action=_action(s),
        needs=needs,
        topology=s.reason,
        policy_decision=_decision(check, data, policy),
        allowed=check.allowed if check is not None else True,
        found_under=plan.found_under,
        gives=data.gives if data else (),
        mitigations=tuple(f"{m} {name}" for m, name in info.mitigations) if info else (),
        controls=data.controls[policy] if data and 0 <= policy < len(data.controls) else (),
        policy=policies[policy] if 0 <= policy < len(policies) else "",
        stop=stop,
        stop_rule=plan.cells[policy].rule if stop is not None else None,
        reached=check.reached if check is not None else True,
        policies=tuple(lines),
        chain=chain(plan, policy, number),
    )
