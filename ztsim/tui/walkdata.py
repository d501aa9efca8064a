"""What the walk-through needs of a plan beyond the path detail, copied from the core.

Built in the analysis worker, next to :func:`ztsim.tui.viewmodel.plan_views`, as
plain immutable data (the core objects stay in the worker).  For each step: the
facts it used and the earlier step that gave each, what it gives, and from the
incident analysis (:mod:`ztsim.whatif.incident_facts`, the same words as ``ztsim
report --analysis``) the step in a sentence, its ATT&CK technique with the tactic it
serves here and the technique's mitigations, and under each policy the ztsim
controls that would stop it (or see it), each present or not, at its ``FILE:LINE``.
:mod:`ztsim.tui.walkmodel` turns this and the :class:`~ztsim.tui.viewmodel.PlanView`
into what the walk screen shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from threading import Lock
from weakref import ref

from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import PlanRow
from ztsim.engine.steps import INSIDE, Fact, Step, StepKey
from ztsim.inputs.knowledge import attack_data
from ztsim.whatif.incident_facts import (
    StepControl,
    TechniqueInfo,
    step_controls,
    step_sentence,
    step_technique,
)

__all__ = [
    "Need",
    "PlanWalkData",
    "StepControl",
    "StepWalkData",
    "TechniqueInfo",
    "describe_fact",
    "plan_walk_data",
]


@dataclass(frozen=True)
class Need:
    """A fact a step used, and the step that gave it (``None``: no earlier step did)."""

    text: str
    given_by: int | None


@dataclass(frozen=True)
class StepWalkData:
    """One step: the facts it used, what it gave, its technique, its controls per policy."""

    needs: tuple[Need, ...]
    gives: tuple[str, ...]
    #: The step in one sentence (the analysis' narrative).
    sentence: str
    #: The ATT&CK technique, the tactic it serves in this step, its mitigations.
    technique: TechniqueInfo | None
    #: One tuple per policy (policy order): the controls that would stop the step or see
    #: it, each present in that policy or not.
    controls: tuple[tuple[StepControl, ...], ...]
    #: Per policy, ``FILE:LINE`` of the rule or default that decided the step's flow.
    decided_at: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class PlanWalkData:
    """The walk-through data of one plan, step by step."""

    steps: tuple[StepWalkData, ...]


def describe_fact(fact: Fact) -> str:
    """A fact of spec §5 in words: ``user on api-01``, ``credential db-app-password``...

    >>> describe_fact(("session", "portal-web", "443/tcp", "internet"))
    'a session to portal-web:443/tcp opened from internet'
    """
    kind = fact[0]
    if kind == "zone":
        return f"a foothold in external zone {fact[1]}"
    if kind == "priv":
        return f"{fact[2]} on {fact[1]}"
    if kind == "session":
        origin = "inside" if fact[3] == INSIDE else fact[3]
        return f"a session to {fact[1]}:{fact[2]} opened from {origin}"
    if kind == "cred":
        return f"credential {fact[1]}"
    if kind == "data":
        return f"data {fact[1]} collected"
    if kind == "exfil":
        return f"{fact[1]} exfiltrated"
    if kind == "tamper":
        return f"{fact[1]} tampered with"
    return " ".join(fact)


def _needs(steps: Sequence[Step], i: int) -> tuple[Need, ...]:
    out: list[Need] = []
    for fact in steps[i].pre:
        given = next((n for n in range(i) if fact in steps[n].post), None)
        out.append(Need(describe_fact(fact), None if given is None else given + 1))
    return tuple(out)


def _decided_at(controls: Sequence[StepControl]) -> str | None:
    """Where the rule deciding the step's flow is written (its network control's place)."""
    return next((c.location for c in controls if c.kind in ("segmentation", "egress")), None)


#: A step's sentence, technique and controls under each policy.
_Shared = tuple[str, TechniqueInfo | None, tuple[tuple[StepControl, ...], ...]]


class _Memo:
    """The shared parts of the steps of the last analysis asked about, by step key.

    The plans listed share most of their steps, and a step's verdict under a policy
    depends on the step alone (the engine judges each step once,
    :mod:`ztsim.engine.verdicts`): each step is told once per analysis.  One
    analysis at a time (a reload brings a new one), held weakly.
    """

    def __init__(self) -> None:
        self._lock = Lock()
        self._owner: ref[Analysis] | None = None
        self._steps: dict[StepKey, tuple[Step, _Shared]] = {}

    def of(self, a: Analysis) -> dict[StepKey, tuple[Step, _Shared]]:
        """The memo of ``a`` (a fresh one when ``a`` is not the last analysis)."""
        with self._lock:
            if self._owner is None or self._owner() is not a:
                self._owner = ref(a)
                self._steps = {}
            return self._steps


_MEMO = _Memo()


def _shared(a: Analysis, row: PlanRow, i: int) -> _Shared:
    """Step ``i`` of ``row``'s plan told by the incident analysis, once per analysis."""
    st = row.plan.steps[i]
    memo = _MEMO.of(a)
    hit = memo.get(st.key)
    if hit is not None and (hit[0] is st or hit[0] == st):
        return hit[1]
    topo = a.topology
    controls = tuple(
        step_controls(st, v.steps[i], r.policy, r.compiled, topo)
        for r, v in zip(a.results, row.verdicts, strict=True)
    )
    found = (step_sentence(st, topo), step_technique(st, attack_data(), topo), controls)
    memo[st.key] = (st, found)
    return found


def plan_walk_data(a: Analysis, row: PlanRow) -> PlanWalkData:
    """The walk-through data of ``row``'s plan under every policy of ``a``."""
    steps = row.plan.steps
    out: list[StepWalkData] = []
    for i, st in enumerate(steps):
        sentence, technique, controls = _shared(a, row, i)
        out.append(
            StepWalkData(
                _needs(steps, i),
                tuple(dict.fromkeys(describe_fact(f) for f in st.post)),
                sentence,
                technique,
                controls,
                tuple(_decided_at(c) for c in controls),
            )
        )
    return PlanWalkData(tuple(out))
