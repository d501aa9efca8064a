"""The files a TUI session judges: loading them and noticing when they change.

No Textual here: the app asks a :class:`Scenario` to load (in a worker thread)
and, with ``--watch``, compares :meth:`Scenario.stamp` between polls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ztsim.diagnostics import Diagnostic, InputError
from ztsim.loader import (
    LoadedPolicy,
    LoadedTopology,
    expand_policy_paths,
    load_policies,
    load_topology,
    policy_warnings,
)

__all__ = ["Scenario", "display_path"]

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
    """A topology file and the policy files or folders judged on it."""

    topology: str
    policies: tuple[str, ...] = ()

    @classmethod
    def from_args(cls, topology: str | Path, policies: list[str] | tuple[str, ...]) -> Scenario:
        """Normalise command-line paths for display (relative to the cwd when possible)."""
        return cls(display_path(topology), tuple(display_path(p) for p in policies))

    def files(self) -> list[Path]:
        """Every file read: the topology, then each policy (folders expanded)."""
        return [Path(self.topology), *expand_policy_paths(self.policies)]

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

        Raises
        ------
        InputError
            With the errors of every file at once (``FILE:LINE:COL``).
        """
        errors: list[Diagnostic] = []
        topo: LoadedTopology | None = None
        try:
            topo = load_topology(self.topology)
        except InputError as exc:
            errors.extend(exc.diagnostics)
        pols: list[LoadedPolicy] = []
        if self.policies:
            try:
                pols = load_policies(list(self.policies))
            except InputError as exc:
                errors.extend(exc.diagnostics)
            if not errors and not pols:
                errors.append(Diagnostic(self.policies[0], 1, 1, "error", "no policy file found"))
        if errors:
            raise InputError(errors)
        assert topo is not None
        warnings = list(topo.warnings)
        for p in pols:
            warnings.extend(policy_warnings(p, topo))
        return topo, pols, [w for w in warnings if w.level == "warning"]
