"""The headless facade the CLI, the TUI and the pytest helpers share.

Judge a scenario with :func:`ztsim.analysis.analyze.analyze` (what the caller
needs said by :class:`Needs`; also ``ztsim.analyze``), read the verdicts from the
:class:`Analysis` it returns (one :class:`PolicyResult` per policy, one
:class:`GoalResult` per goal), and re-judge it as files change with
:class:`~ztsim.analysis.workspace.Workspace`.

The function ``analyze`` is not re-exported here: it would hide the module
:mod:`ztsim.analysis.analyze` of the same name.
"""

from __future__ import annotations

from ztsim.analysis.analyze import Needs
from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import GoalResult, PlanRow, PolicyResult

__all__ = ["Analysis", "GoalResult", "Needs", "PlanRow", "PolicyResult"]
