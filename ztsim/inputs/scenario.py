"""One loader of a scenario (a topology and the policies judged on it), for every face.

The command line (:func:`ztsim.cli.common.load_scenario`) and the TUI
(:meth:`ztsim.tui.scenario.Scenario.load`) both load through
:func:`load_scenario`, so a bad scenario gets the same diagnostics in either:
every file's errors at once (``FILE:LINE:COL``), a bad topology's with its
policies', and ``no policy file found`` for folders that hold none.  What each
face then does with the warnings (print them, fail on them with ``--strict``,
show them in a pane) is its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ztsim.inputs.checks import policy_warnings
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import load_policies, load_topology, prefetch_policies, read_policies
from ztsim.model.diagnostics import Diagnostic, InputError

__all__ = ["LoadedScenario", "load_scenario", "scenario_warnings"]


@dataclass(frozen=True)
class LoadedScenario:
    """A loaded topology, its policies, and their warnings (spec §1) when asked for."""

    topology: LoadedTopology
    policies: list[LoadedPolicy]
    warnings: list[Diagnostic]


def scenario_warnings(
    topology: LoadedTopology, policies: Sequence[LoadedPolicy]
) -> list[Diagnostic]:
    """The topology's warnings, then each policy's on it, in file order."""
    found = list(topology.warnings)
    for p in policies:
        found.extend(policy_warnings(p, topology))
    return found


def load_scenario(
    topology: str | Path,
    policies: Sequence[str | Path] | None,
    *,
    warnings: bool = True,
    defer: bool = False,
) -> LoadedScenario:
    """Load a topology and policies (folders expanded), reporting every error at once.

    ``warnings=False`` leaves the warnings to the caller (``check`` has the
    policies' worked out with the analysis): the result then holds none.

    ``defer`` (with ``warnings=False``): when the topology is valid, the policies
    are parsed but validated when first used (:func:`ztsim.inputs.loader.read_policies`);
    :func:`ztsim.analysis.analyze.analyze` then reports their errors as this would.

    Large policy files are parsed in a child process while the topology loads
    here (:func:`ztsim.inputs.loader.prefetch_policies`; skipped where threads run,
    as in the TUI's worker).

    Raises
    ------
    InputError
        With the errors of every file (``FILE:LINE:COL``).
    """
    errors: list[Diagnostic] = []
    topo: LoadedTopology | None = None
    pols: list[LoadedPolicy] = []
    with prefetch_policies(policies or []) as ahead:
        try:
            topo = load_topology(topology)
        except InputError as exc:
            errors.extend(exc.diagnostics)
        if policies:
            # Validated later only if nothing is to report now (a bad topology
            # reports its policies' errors with its own).
            read = read_policies if defer and not warnings and not errors else load_policies
            try:
                pols = read(policies, prefetched=ahead)
            except InputError as exc:
                errors.extend(exc.diagnostics)
            if not errors and not pols:
                msg = "no policy file found"
                raise InputError([Diagnostic(str(policies[0]), 1, 1, "error", msg)])
    if errors:
        raise InputError(errors)
    assert topo is not None
    return LoadedScenario(topo, pols, scenario_warnings(topo, pols) if warnings else [])
