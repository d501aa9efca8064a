"""Loading topology and policy files, and folders of policies.

The loader turns files into :class:`~ztsim.inputs.loaded.LoadedTopology` and
:class:`~ztsim.inputs.loaded.LoadedPolicy` objects, or raises
:class:`~ztsim.model.diagnostics.InputError` listing every problem found (not
just the first) as ``FILE:LINE:COL: message``.  Reading is here; validating
is :mod:`ztsim.inputs.validate`, the checks the schema cannot make
:mod:`ztsim.inputs.checks`, and what a policy names that a topology lacks
(warnings, spec §1) :func:`ztsim.inputs.checks.policy_warnings`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from functools import partial
from pathlib import Path

from ztsim.inputs.checks import check_policy, check_topology
from ztsim.inputs.collector import Collector
from ztsim.inputs.documents import load_document, parse_text, prefetch_entries
from ztsim.inputs.loaded import HostTables, LoadedPolicy, LoadedTopology
from ztsim.inputs.positions import Document, Mark, YamlInputError
from ztsim.inputs.validate import validate_document
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.schema import Policy, Topology
from ztsim.perf.dedupe import PlainKeys, shared_host_parts, shared_rule_parts
from ztsim.perf.heap import paused_gc
from ztsim.perf.prefetch import Prefetched, prefetch_documents

__all__ = [
    "POLICY_SUFFIXES",
    "RULE_DEPTH",
    "PendingPolicy",
    "check_policies",
    "document_from_text",
    "expand_policy_paths",
    "load_file",
    "load_policies",
    "load_policy",
    "load_topology",
    "policy_from_document",
    "policy_from_text",
    "prefetch_policies",
    "read_document",
    "read_policies",
    "topology_from_document",
    "topology_from_text",
]


# --------------------------------------------------------------------------- reading


def _yaml_error(exc: YamlInputError) -> InputError:
    """A read or syntax problem as the one diagnostic of an :class:`InputError`."""
    mark = exc.mark or Mark(1, 1)
    return InputError([Diagnostic(exc.path, mark.line, mark.column, "error", exc.message)])


def read_document(
    path: str | Path,
    *,
    positions: bool = False,
    depth: int | None = None,
    prefetched: Prefetched | None = None,
) -> Document:
    """Read a file, turning read and syntax problems into :class:`InputError`."""
    try:
        return load_document(path, positions=positions, depth=depth, prefetched=prefetched)
    except YamlInputError as exc:
        raise _yaml_error(exc) from None


def document_from_text(text: str, name: str = "<string>") -> Document:
    """Parse YAML text, turning syntax problems into :class:`InputError`."""
    try:
        return parse_text(text, name)
    except YamlInputError as exc:
        raise _yaml_error(exc) from None


# --------------------------------------------------------------------------- topology


def _topology_from(doc: Document) -> LoadedTopology:
    with paused_gc():
        built: list[HostTables] = []  # the check's tables, handed to LoadedTopology
        known: PlainKeys = []  # filled by shared_host_parts, if it runs

        def check(col: Collector, topo: Topology) -> None:
            built.append(check_topology(col, topo, known))

        prepare = partial(shared_host_parts, found=known)
        topo, warnings = validate_document(doc, "topology", Topology, check, prepare)
        return LoadedTopology(topo, doc.path, doc, warnings=warnings, tables=built[0])


def topology_from_document(doc: Document) -> LoadedTopology:
    """Validate an already parsed topology document (``ztsim validate`` reads each once).

    Raises :class:`~ztsim.model.diagnostics.InputError` as :func:`load_topology` does.
    """
    return _topology_from(doc)


def load_topology(path: str | Path) -> LoadedTopology:
    """Load and check a topology file.

    Raises
    ------
    InputError
        With every problem found, each located at its file, line and column.
    """
    return _topology_from(read_document(path))


def topology_from_text(text: str, name: str = "<string>") -> LoadedTopology:
    """Load a topology from YAML text (tests, the Python API)."""
    return _topology_from(document_from_text(text, name))


# --------------------------------------------------------------------------- policy


def _policy_from(doc: Document) -> LoadedPolicy:
    pol, _warnings = validate_document(doc, "policy", Policy, check_policy, shared_rule_parts)
    return LoadedPolicy(pol, doc.path, doc)


#: Steps from a policy's root to one of its rules: ``("segmentation", "rules", 3)``.
RULE_DEPTH = 3


def policy_from_document(doc: Document) -> LoadedPolicy:
    """Validate an already parsed policy document (e.g. one patched after an edit).

    Raises :class:`~ztsim.model.diagnostics.InputError` as :func:`load_policy` does.
    """
    return _policy_from(doc)


def load_policy(path: str | Path, *, prefetched: Prefetched | None = None) -> LoadedPolicy:
    """Load and check a policy file (see :func:`load_topology`).

    ``prefetched``: parses started by :func:`prefetch_policies`, used when there.
    """
    # A policy's rule lines are always shown: record positions while parsing, down
    # to the rules (section, "rules", index); an error inside one indexes the rest.
    doc = read_document(path, positions=True, depth=RULE_DEPTH, prefetched=prefetched)
    return _policy_from(doc)


def policy_from_text(text: str, name: str = "<string>") -> LoadedPolicy:
    """Load a policy from YAML text (tests, the Python API)."""
    return _policy_from(document_from_text(text, name))


def load_file(path: str | Path) -> LoadedTopology | LoadedPolicy:
    """Load a file of either kind, as its ``kind`` says."""
    doc = read_document(path)
    data = doc.data
    if isinstance(data, dict) and data.get("kind") == "policy":
        return _policy_from(doc)
    return _topology_from(doc)


class PendingPolicy(LoadedPolicy):
    """A parsed policy file, validated when its model is first read.

    ``check`` validates each policy when it first judges it
    (:func:`ztsim.analysis.analyze.analyze`), not all of them up front.  Reading
    :attr:`model` validates (and raises :class:`~ztsim.model.diagnostics.InputError`
    as :func:`load_policy` would); :attr:`name` is read from the document until
    then, since the schema takes a policy's name as written (a strict string).
    :func:`check_policies` reports every pending policy's errors at once.
    """

    def __init__(self, doc: Document) -> None:
        self.path = doc.path
        self.doc = doc
        self.warnings = []
        self._model: Policy | None = None

    @property
    def model(self) -> Policy:
        """The validated policy (validated now, if it was not yet)."""
        if self._model is None:
            assert self.doc is not None
            self._model = _policy_from(self.doc).model
        return self._model

    @model.setter
    def model(self, value: Policy) -> None:
        self._model = value

    @property
    def name(self) -> str:
        """The policy's name, as written in its file until the policy is validated."""
        if self._model is None and self.doc is not None and isinstance(self.doc.data, dict):
            name = self.doc.data.get("name")
            if type(name) is str:
                return name
        return self.model.name

    @property
    def validated(self) -> bool:
        """Whether the policy was validated (and found valid) already."""
        return self._model is not None


# --------------------------------------------------------------------------- folders of policies


#: What a folder of policies holds: files with these suffixes (any case), read as
#: YAML (``.json``: JSON).  The spec says ``*.yaml``; ``*.yml`` and ``*.json`` are
#: read too, so that no policy file in the folder is silently left out.
POLICY_SUFFIXES = (".yaml", ".yml", ".json")


def expand_policy_paths(
    paths: Iterable[str | Path], *, strict: bool = True, what: str = "policy"
) -> list[Path]:
    """Expand folders into their policy files (:data:`POLICY_SUFFIXES`), sorted by name.

    A folder never shrinks silently: with ``strict`` (the default), an entry
    named like a policy that cannot be read as one (a dangling symbolic link, a
    FIFO, socket or device, a folder, an unreadable file), a folder that cannot be
    listed or holds no policy file, and an empty path (``-p ''``, which ``Path``
    would read as the current folder) are errors, all raised at once as an
    :class:`InputError` (``what`` names the files sought in its messages).
    Without ``strict``, every entry named like a policy is listed as it stands
    (for watching files change).
    """
    found, problems = _expand(paths, what)
    if strict and problems:
        raise InputError(problems)
    return found


def _expand(paths: Iterable[str | Path], what: str) -> tuple[list[Path], list[Diagnostic]]:
    """:func:`expand_policy_paths`: the files, and the problems found (strict mode's errors)."""
    out: list[Path] = []
    problems: list[Diagnostic] = []

    def problem(where: Path | str, message: str) -> None:
        problems.append(Diagnostic(str(where), 1, 1, "error", message))

    for p in paths:
        if isinstance(p, str) and not p:
            problem("''", "an empty path names no file (for the current folder, write `.`)")
            continue
        path = Path(p)
        if not path.is_dir():
            out.append(path)  # a file: read (and its problems reported) by its loader
            continue
        try:
            entries = sorted(q for q in path.iterdir() if q.suffix.lower() in POLICY_SUFFIXES)
        except OSError as exc:
            problem(path, f"cannot list folder: {exc.strerror or exc}")
            continue
        if not entries:
            problem(path, f"no {what} file found in this folder (no *.yaml, *.yml or *.json)")
        for q in entries:
            out.append(q)
            why = _not_a_policy_file(q)
            if why is not None:
                problem(q, why)
    return out, problems


def _not_a_policy_file(path: Path) -> str | None:
    """Why ``path``, named like a policy in a folder, cannot be read as one (None: it can)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return f"dangling symbolic link (to {os.readlink(path)}): no policy file here"
        return "vanished while the folder was read"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return "a folder named like a policy file: rename it, or move it out"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, socket or device): no policy file here"
    if not os.access(path, os.R_OK):
        return "cannot read: permission denied"
    return None


def prefetch_policies(paths: Sequence[str | Path]) -> AbstractContextManager[Prefetched | None]:
    """Start parsing the policy files of ``paths`` in a child process (large ones only).

    For the block that loads the topology meanwhile; pass what it yields to
    :func:`load_policies`.  See :mod:`ztsim.perf.prefetch`.

    >>> with prefetch_policies(["policies/"]) as ahead:  # doctest: +SKIP
    ...     topology = load_topology("topologies/pajemploi.yaml")
    ...     policies = load_policies(["policies/"], prefetched=ahead)
    """
    found, problems = _expand(paths, "policy")
    if problems:  # never read a FIFO ahead: the loader reports what is wrong
        return nullcontext()
    return prefetch_documents([(p, True, RULE_DEPTH) for p in found], prefetch_entries)


def read_policies(
    paths: Sequence[str | Path], *, prefetched: Prefetched | None = None
) -> list[LoadedPolicy]:
    """:func:`load_policies`, each policy validated when first used (:class:`PendingPolicy`).

    The files are read and parsed now: a file that cannot be read or parsed
    makes this load every policy as :func:`load_policies` does, which reports
    all the errors.  Whoever holds pending policies calls :func:`check_policies`
    when one of them raises, so that every error is reported, in file order.
    """
    docs: list[Document] = []
    found, problems = _expand(paths, "policy")
    if problems:
        return load_policies(paths, prefetched=prefetched)
    for p in found:
        try:
            docs.append(read_document(p, positions=True, depth=RULE_DEPTH, prefetched=prefetched))
        except InputError:
            return load_policies(paths, prefetched=prefetched)
    return [PendingPolicy(doc) for doc in docs]


def check_policies(policies: Iterable[LoadedPolicy]) -> None:
    """Validate every pending policy of ``policies``; raise every error found, in order.

    The errors are those :func:`load_policies` reports for the same files.
    """
    diagnostics: list[Diagnostic] = []
    for p in policies:
        try:
            _ = p.model
        except InputError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise InputError(diagnostics)


def load_policies(
    paths: Sequence[str | Path], *, prefetched: Prefetched | None = None
) -> list[LoadedPolicy]:
    """Load several policy files (folders expanded), collecting every error."""
    found, diagnostics = _expand(paths, "policy")
    bad = {d.path for d in diagnostics}
    loaded: list[LoadedPolicy] = []
    for p in found:
        if str(p) in bad:
            continue  # reported already (reading a FIFO would block)
        try:
            loaded.append(load_policy(p, prefetched=prefetched))
        except InputError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise InputError(diagnostics)
    return loaded
