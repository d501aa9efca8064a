"""The headless facade the CLI, the TUI and the pytest helpers share.

Judge a scenario with :func:`analyze` (what the caller needs said by
:class:`Needs`), read the verdicts from the :class:`Analysis` it returns (one
:class:`PolicyResult` per policy, one :class:`GoalResult` per goal), and re-judge
it as files change with :class:`~ztsim.analysis.workspace.Workspace`.
"""

from __future__ import annotations

from ztsim.analysis.analyze import Needs, analyze
from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import GoalResult, PlanRow, PolicyResult

__all__ = ["Analysis", "GoalResult", "Needs", "PlanRow", "PolicyResult", "analyze"]
