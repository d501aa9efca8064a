"""What judging assertions yields: outcomes, violations and where to fix them.

Plain frozen data, shared by :mod:`ztsim.whatif.intent` (which builds it) and
every report format (which render it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ztsim.analysis.judged import Analysis
from ztsim.engine.plans import Plan
from ztsim.engine.verdicts import PlanVerdict
from ztsim.inputs.assertions import Assertion, LoadedAssertions
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology

__all__ = ["MAX_FLOWS_SHOWN", "Location", "Outcome", "Report", "Status", "Violation"]

Status = Literal["pass", "fail", "known"]
#: Flows listed per violation before "and N more".
MAX_FLOWS_SHOWN = 5


@dataclass(frozen=True, order=True)
class Location:
    """A place in a source file: where a violation should be fixed."""

    path: str
    line: int
    column: int


@dataclass(frozen=True)
class Violation:
    """One way an assertion fails under a policy."""

    message: str
    key: tuple[str, ...]
    location: Location
    new: bool = True
    plan: Plan | None = None
    verdict: PlanVerdict | None = None
    flows: tuple[str, ...] = ()
    #: Why the fix goes at ``location``: the change that closes the counter-example
    #: (:mod:`ztsim.whatif.fixes`); empty for flow violations (the location says it).
    fix: str = ""


@dataclass(frozen=True)
class Outcome:
    """One assertion judged under one policy."""

    assertion: Assertion
    index: int | None
    policy: LoadedPolicy
    violations: tuple[Violation, ...]
    policy_index: int = 0

    @property
    def status(self) -> Status:
        """``pass``; ``fail`` (some violation is new); ``known`` (all known debt)."""
        if not self.violations:
            return "pass"
        return "fail" if any(v.new for v in self.violations) else "known"

    @property
    def breaks_build(self) -> bool:
        """Whether this outcome makes ``ztsim check`` exit 1."""
        return self.status == "fail" and self.assertion.severity == "error"


@dataclass
class Report:
    """Every assertion under every judged policy."""

    topology: LoadedTopology
    source: LoadedAssertions | None
    policies: list[LoadedPolicy]
    baseline: LoadedPolicy | None
    outcomes: list[Outcome]
    analysis: Analysis = field(repr=False)

    def outcomes_of(self, policy_index: int) -> list[Outcome]:
        """The outcomes under the ``policy_index``-th judged policy, in assertion order."""
        return [o for o in self.outcomes if o.policy_index == policy_index]

    @property
    def exit_code(self) -> int:
        """1 when some error-severity assertion fails with a new violation, else 0."""
        return 1 if any(o.breaks_build for o in self.outcomes) else 0
