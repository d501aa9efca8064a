"""The files a TUI session judges: loading them and noticing when they change.

No Textual here: the app asks a :class:`Session` to judge the scenario (in a
worker thread) through a :class:`~ztsim.analysis.workspace.Workspace`, so a reload after
editing one policy re-parses and re-solves that policy only; with ``--watch`` it
compares :meth:`Scenario.stamp` between polls.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import judge_policy
from ztsim.analysis.workspace import Workspace
from ztsim.engine.attack import AttackModel
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.loader import expand_policy_paths
from ztsim.inputs.scenario import load_scenario, scenario_warnings
from ztsim.model.diagnostics import Diagnostic, InputError

__all__ = ["Reuse", "Scenario", "Session", "display_path"]

Stamp = tuple[tuple[str, int, int], ...]


def display_path(path: str | Path) -> str:
    """``path`` relative to the working directory when it lies under it, else as given.

    Relative paths keep the screen free of machine-specific prefixes (and make
    snapshots and exports reproducible).
    """
    p = Path(path)
    if not p.is_absolute():
        return str(p)
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


@dataclass(frozen=True)
class Scenario:
    """A topology file and the policy files or folders judged on it.

    Or Kubernetes manifests (``ztsim tui --k8s PATH... [--overlay FILE]``):
    ``k8s`` and ``overlay`` are imported as ``ztsim import k8s`` does, and
    ``topology`` is the first manifest path (shown in the title).  Or an AWS
    estate: ``aws`` holds ``describe-*`` paths (``aws_kind`` ``aws``) or one
    Terraform plan (``aws_kind`` ``terraform``), imported as ``ztsim import``
    does.
    """

    topology: str
    policies: tuple[str, ...] = ()
    k8s: tuple[str, ...] = ()
    overlay: str | None = None
    aws: tuple[str, ...] = ()
    aws_kind: str = "aws"

    @classmethod
    def from_args(cls, topology: str | Path, policies: list[str] | tuple[str, ...]) -> Scenario:
        """Normalise command-line paths for display (relative to the cwd when possible)."""
        return cls(display_path(topology), tuple(display_path(p) for p in policies))

    @classmethod
    def from_k8s(cls, paths: list[str] | tuple[str, ...], overlay: str | None) -> Scenario:
        """Manifest paths and an overlay (as :meth:`from_args` normalises them)."""
        shown = tuple(display_path(p) for p in paths)
        return cls(shown[0], (), shown, None if overlay is None else display_path(overlay))

    @classmethod
    def from_aws(
        cls, paths: list[str] | tuple[str, ...], kind: str, overlay: str | None
    ) -> Scenario:
        """``describe-*`` paths (``kind`` ``aws``) or a plan (``terraform``) and an overlay."""
        shown = tuple(display_path(p) for p in paths)
        return cls(
            shown[0], (), (), None if overlay is None else display_path(overlay), shown, kind
        )

    @property
    def imported(self) -> bool:
        """Whether the scenario is imported (manifests or an AWS estate), not ztsim files."""
        return bool(self.k8s or self.aws)

    def files(self) -> list[Path]:
        """Every file read: the topology, then each policy (folders expanded).

        Listed as they stand, bad folder entries included (watched and never
        written over); loading reports them (:func:`~ztsim.inputs.loader.expand_policy_paths`).
        """
        if self.k8s:
            from ztsim.inputs.k8s.stream import expand_paths

            found = [Path(f) for f in expand_paths(self.k8s)[0]]
            return [*found, *([Path(self.overlay)] if self.overlay else [])]
        if self.aws:
            from ztsim.inputs.k8s.stream import expand_paths

            found = [Path(f) for f in expand_paths(self.aws)[0]]
            return [*found, *([Path(self.overlay)] if self.overlay else [])]
        return [Path(self.topology), *expand_policy_paths(self.policies, strict=False)]

    def stamp(self) -> Stamp:
        """Modification times and sizes of :meth:`files` (a missing file reads as -1).

        Folders are expanded on every call, so a policy added to or removed from a
        folder changes the stamp too.
        """
        out: list[tuple[str, int, int]] = []
        for f in self.files():
            try:
                st = os.stat(f)
                out.append((str(f), st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((str(f), -1, -1))
        return tuple(out)

    def load(self) -> tuple[LoadedTopology, list[LoadedPolicy], list[Diagnostic]]:
        """Load every file; returns the topology, the policies and the warnings.

        The command line's loader (:func:`ztsim.inputs.scenario.load_scenario`):
        the same errors and warnings as ``ztsim check`` prints.

        Raises
        ------
        InputError
            With the errors of every file at once (``FILE:LINE:COL``).
        """
        if self.k8s:
            from ztsim.inputs.k8s.importer import import_k8s

            imported = import_k8s(self.k8s, self.overlay)
            return imported.topology, [imported.policy], _shown(list(imported.notes))
        if self.aws:
            from ztsim.inputs.aws.importer import import_aws
            from ztsim.inputs.aws.terraform_import import import_terraform

            if self.aws_kind == "terraform":
                imported = import_terraform(self.aws[0], self.overlay)
            else:
                imported = import_aws(self.aws, self.overlay)
            return imported.topology, [imported.policy], _shown(list(imported.notes))
        loaded = load_scenario(self.topology, self.policies)
        return loaded.topology, loaded.policies, _shown(loaded.warnings)


def _shown(warnings: list[Diagnostic]) -> list[Diagnostic]:
    """The warnings the TUI shows: those of level warning (no info)."""
    return [w for w in warnings if w.level == "warning"]


def _policies(n: int) -> str:
    return f"{n} polic{'y' if n == 1 else 'ies'}"


@dataclass(frozen=True)
class Reuse:
    """What one :meth:`Session.analyze` redid and what it kept from the previous run."""

    topology_parsed: bool
    policies_parsed: int
    policies_solved: int
    policies_reused: int

    def describe(self) -> str:
        """``reloaded 1 policy, reused 2`` (or what else happened), for the status line."""
        if self.topology_parsed:
            return f"topology changed: judged {_policies(self.policies_solved)}"
        if not self.policies_solved:
            return f"nothing changed: reused {_policies(self.policies_reused)}"
        return f"reloaded {_policies(self.policies_solved)}, reused {self.policies_reused}"


class Session:
    """One :class:`~ztsim.analysis.workspace.Workspace` per topology a TUI session opens.

    The workspace keeps the parsed topology, its attack model and the result of
    every policy, keyed by the files' content: a reload re-parses and re-solves
    only what changed.  Calls are serialised (a cancelled worker thread may still
    be running when the next reload starts).
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._workspaces: dict[str, Workspace] = {}
        self._lock = threading.Lock()

    def workspace(self) -> Workspace:
        """The workspace of the scenario's topology (created on first use)."""
        path = str(Path(self.scenario.topology).resolve())
        ws = self._workspaces.get(path)
        if ws is None:
            ws = self._workspaces[path] = Workspace(self.scenario.topology)
        return ws

    def analyze(self) -> tuple[Analysis, list[Diagnostic], Reuse]:
        """Judge every policy on the topology, reusing what did not change.

        Returns the analysis, the warnings and what was reused.

        Raises
        ------
        InputError
            With the errors of every file at once (``FILE:LINE:COL``); the
            workspace keeps its last good state.
        """
        with self._lock:
            if self.scenario.imported:
                return self._imported()
            ws = self.workspace()
            if self.scenario.policies and not expand_policy_paths(self.scenario.policies):
                self.scenario.load()  # raises the "no policy file found" error
            before = (ws.stats.topology_loads, ws.stats.policy_loads, ws.stats.solves)
            try:
                a = ws.analyze(list(self.scenario.policies))
            except (InputError, OSError) as exc:
                # the workspace stops at the first bad file: list every error at once
                self.scenario.load()
                if isinstance(exc, InputError):
                    raise
                where = str(getattr(exc, "filename", None) or self.scenario.topology)
                raise InputError([Diagnostic(where, 1, 1, "error", str(exc))]) from exc
            stats = ws.stats
            solved = stats.solves - before[2]
            reuse = Reuse(
                stats.topology_loads > before[0],
                stats.policy_loads - before[1],
                solved,
                len(a.results) - solved,
            )
        warnings = scenario_warnings(a.topology, [r.policy for r in a.results])
        return a, _shown(warnings), reuse

    def _imported(self) -> tuple[Analysis, list[Diagnostic], Reuse]:
        """A Kubernetes scenario, imported and judged whole on every load: a change
        to any manifest may change every compiled rule, so there is nothing to reuse."""
        topology, policies, warnings = self.scenario.load()
        model = AttackModel(topology)
        results = [judge_policy(model, p) for p in policies]
        return Analysis(topology, model, results), warnings, Reuse(True, 1, len(results), 0)
