"""Interactive re-checks: keep a topology in memory, re-judge only what changed.

A :class:`Workspace` holds a parsed topology and its :class:`~ztsim.engine.attack.AttackModel`
(the expensive part of a large estate) and the result of every policy it judged,
keyed by the policy file's content.  After an edit, :meth:`Workspace.analyze`
re-reads the files, re-parses only those whose bytes changed, and re-solves only
the policies whose content changed::

    >>> from ztsim.inputs.bundled import pajemploi
    >>> topology, policies = pajemploi()
    >>> ws = Workspace(topology)
    >>> a = ws.analyze([policies])  # solves the three policies of the folder
    >>> a = ws.analyze([policies])  # nothing changed: no solve
    >>> ws.stats.solves
    3

The topology is re-parsed (and everything re-solved) only when its own file changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ztsim.analysis.judged import Analysis
from ztsim.analysis.results import PolicyResult, judge_policy
from ztsim.engine.attack import AttackModel
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology, reference_policy
from ztsim.inputs.loader import (
    expand_policy_paths,
    load_policy,
    load_topology,
    policy_from_document,
)
from ztsim.perf.heap import paused_gc, settle
from ztsim.perf.incremental import patch_document
from ztsim.perf.prefetch import digest

__all__ = ["Workspace", "WorkspaceStats"]


def _digest(path: Path) -> bytes:
    # The hash prefetch compares files with (BLAKE2b: a re-check hashes every file,
    # and SHA-256 is slower).
    return digest(path.read_bytes())


@dataclass
class WorkspaceStats:
    """What the workspace had to redo, for tests and ``--profile``."""

    topology_loads: int = 0
    policy_loads: int = 0
    #: Policy loads done by re-parsing only the edited rule (:mod:`ztsim.perf.incremental`).
    policy_patches: int = 0
    solves: int = 0
    #: Solves that reused the earlier version's (:func:`~ztsim.engine.replay.same_answers`).
    replays: int = 0


class Workspace:
    """A topology kept in memory and policies re-judged on change.

    Parameters
    ----------
    topology
        Path of the topology file.
    """

    def __init__(self, topology: str | Path) -> None:
        self.topology_path = Path(topology)
        self.stats = WorkspaceStats()
        self._topo_digest: bytes | None = None
        self._topology: LoadedTopology | None = None
        self._model: AttackModel | None = None
        self._policies: dict[Path, tuple[bytes, LoadedPolicy]] = {}
        self._results: dict[Path, tuple[bytes, PolicyResult]] = {}

    @property
    def topology(self) -> LoadedTopology:
        """The current topology (loaded on first use)."""
        self._refresh_topology()
        assert self._topology is not None
        return self._topology

    def _refresh_topology(self) -> None:
        digest = _digest(self.topology_path)
        if digest == self._topo_digest and self._topology is not None:
            return
        with paused_gc():
            topo = load_topology(self.topology_path)  # raises InputError; old state kept
            model = AttackModel(topo)
        settle()  # the workspace keeps these for its lifetime: keep them out of gc scans
        self._topology = topo
        self._model = model
        self._topo_digest = digest
        self._results.clear()  # every policy must be judged on the new topology
        self.stats.topology_loads += 1

    def _policy(self, path: Path) -> tuple[bytes, LoadedPolicy]:
        digest = _digest(path)
        known = self._policies.get(path)
        if known is not None and known[0] == digest:
            return known
        loaded = self._patched(path, known[1]) if known is not None else None
        if loaded is None:
            loaded = load_policy(path)
        else:
            self.stats.policy_patches += 1
        self._policies[path] = (digest, loaded)
        self.stats.policy_loads += 1
        return digest, loaded

    def _patched(self, path: Path, previous: LoadedPolicy) -> LoadedPolicy | None:
        """The policy re-read by re-parsing only the rule an edit changed, if it can be."""
        if previous.doc is None:
            return None
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError):
            return None  # the full load reports it
        doc = patch_document(previous.doc, text)
        if doc is None:
            return None
        return policy_from_document(doc)

    def _result(self, path: Path) -> PolicyResult:
        """The result of the policy file at ``path``: cached while its content is unchanged."""
        assert self._model is not None
        digest, loaded = self._policy(path)
        cached = self._results.get(path)
        if cached is not None and cached[0] == digest:
            return cached[1]
        earlier = cached[1] if cached is not None else None
        result = judge_policy(self._model, loaded, earlier=earlier)
        self.stats.solves += 1
        if earlier is not None and result.solution.cost is earlier.solution.cost:
            self.stats.replays += 1
        self._results[path] = (digest, result)
        return result

    def analyze(self, policies: Sequence[str | Path]) -> Analysis:
        """Judge ``policies`` (files or folders) on the topology, reusing what is unchanged.

        Raises
        ------
        InputError
            When a changed file is invalid; the workspace keeps its last good state.
        """
        self._refresh_topology()
        assert self._topology is not None and self._model is not None
        before = (self.stats.policy_loads, self.stats.solves)
        with paused_gc():
            results = [self._result(path) for path in expand_policy_paths(policies)]
            if not results:
                results.append(judge_policy(self._model, reference_policy()))
                self.stats.solves += 1
            if (self.stats.policy_loads, self.stats.solves) != before:
                # Kept until the next edit: out of the collector's scans (a re-check
                # would otherwise pay a scan of everything it built, once per
                # generation, for garbage it does not make).
                settle()
        return Analysis(self._topology, self._model, results)
