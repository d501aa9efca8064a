"""``ztsim validate``: check files without judging anything.

Each input is read once and parsed once; its kind (topology, policy or
assertions) is the ``kind`` key of the parsed document, never a guess from the
text (a ``description: |`` quoting ``kind: assertions`` is text, not a kind).
``-`` reads standard input, and a pipe (``/dev/stdin``, ``<(cat topo.yaml)``) is
read like a file, with the same byte bound (:data:`ztsim.inputs.guards.MAX_BYTES`).
"""

from __future__ import annotations

import argparse
import codecs
import fcntl
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from ztsim.cli.common import add_command, print_diagnostics, warnings_gate
from ztsim.cli.exitcodes import ExitCode
from ztsim.model.diagnostics import Diagnostic, InputError

if TYPE_CHECKING:
    from ztsim.inputs.assertions import LoadedAssertions
    from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
    from ztsim.inputs.positions import Document

ORDER = 10

#: The argument that names standard input, and the name its diagnostics carry.
STDIN_ARG, STDIN_NAME = "-", "<stdin>"
#: What a folder given to ``validate`` is searched for (its error messages say so).
_SOUGHT = "topology, policy or assertions"
_CHUNK = 1 << 20


@dataclass
class _Found:
    """What the inputs held, by kind, and every error met reading them."""

    topos: list[LoadedTopology] = field(default_factory=list)
    pols: list[LoadedPolicy] = field(default_factory=list)
    asserts: list[LoadedAssertions] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)


def _inputs(args: argparse.Namespace, found: _Found) -> list[str | Path]:
    """Every input: standard input, files, the files of folders."""
    from ztsim.inputs.loader import expand_policy_paths

    inputs: list[str | Path] = []
    for arg in args.files:
        if arg == STDIN_ARG:
            inputs.append(STDIN_ARG)
            continue
        try:
            inputs.extend(expand_policy_paths([arg], what=_SOUGHT))
        except InputError as exc:
            found.errors.extend(exc.diagnostics)
    return inputs


def _load(f: str | Path, found: _Found) -> None:
    """Read ``f`` and load it as the kind it says it is (errors raised)."""
    from ztsim.inputs.assertions import assertions_from_document
    from ztsim.inputs.loader import policy_from_document, topology_from_document
    from ztsim.inputs.positions import locate

    doc = _read(f)
    data = doc.data
    kind = data.get("kind") if isinstance(data, dict) else None
    if isinstance(data, dict) and "kind" not in data and "ztsim" in data:
        mark = locate(doc, ())
        message = f"missing `kind` ({_SOUGHT})"
        raise InputError([Diagnostic(doc.path, mark.line, mark.column, "error", message)])
    if kind == "assertions":
        found.asserts.append(assertions_from_document(doc))
    elif kind == "policy":
        found.pols.append(policy_from_document(doc))
    else:  # a topology, or what its header check reports (no mapping, unknown kind)
        found.topos.append(topology_from_document(doc))


def _cross_check(found: _Found) -> list[Diagnostic]:
    """The warnings; errors of assertions against the topology go to ``found``."""
    from ztsim.inputs.assertions import assertion_errors
    from ztsim.inputs.checks import policy_warnings

    topos = found.topos
    warnings: list[Diagnostic] = [w for t in topos for w in t.warnings]
    # A policy may serve several topologies: cross-check only against a single one,
    # or every policy would warn about every other scenario's ids.
    if len(topos) == 1:
        for p in found.pols:
            warnings.extend(policy_warnings(p, topos[0]))
        for a in found.asserts:
            found.errors.extend(assertion_errors(a, topos[0]))
    elif found.pols and len(topos) > 1:
        print(
            "note: several topologies given; policies are cross-checked only with one "
            "topology (ztsim validate TOPOLOGY POLICY...)",
            file=sys.stderr,
        )
    return warnings


def run(args: argparse.Namespace) -> int:
    """Schema, references, services; policy warnings against a single topology."""
    found = _Found()
    inputs = _inputs(args, found)
    for f in inputs:
        try:
            _load(f, found)
        except InputError as exc:
            found.errors.extend(exc.diagnostics)
    warnings = _cross_check(found)
    errors = found.errors
    if errors:
        print_diagnostics(sorted(errors + warnings))
        n = InputError(errors).error_count  # closing "and N more" lines count their N
        # An input that could not be read at all (an empty folder) validated nothing.
        tail = "; nothing validated" if not inputs else ""
        print(f"ztsim: {n:,} error(s) in input{tail}", file=sys.stderr)
        return ExitCode.INVALID
    warnings_gate(sorted(set(warnings)), args.strict)
    n_t, n_p = len(found.topos), len(found.pols)
    print(
        f"ok: {n_t} topolog{'y' if n_t == 1 else 'ies'}, {n_p} polic{'y' if n_p == 1 else 'ies'}"
        + (f", {len(found.asserts)} assertions file(s)" if found.asserts else "")
        + (f", {len(set(warnings))} warning(s)" if warnings else "")
    )
    return ExitCode.OK


def _read(f: str | Path) -> Document:
    """Read and parse one input once: a file, standard input (``-``) or a pipe."""
    from ztsim.inputs.documents import document_from_bytes
    from ztsim.inputs.loader import _yaml_error, read_document
    from ztsim.inputs.positions import YamlInputError

    name = STDIN_NAME if f == STDIN_ARG else str(f)
    try:
        if f == STDIN_ARG:
            if sys.stdin is None:  # started with standard input closed (`<&-`)
                raise YamlInputError(name, None, "cannot read: standard input is closed")
            raw = read_bounded(sys.stdin.buffer, name)
        elif _is_pipe(Path(f)):
            raw = _read_pipe(name)
        else:
            return read_document(f)
        return document_from_bytes(name, raw)
    except YamlInputError as exc:
        raise _yaml_error(exc) from None


def _is_pipe(path: Path) -> bool:
    """Whether ``path`` (links followed) is a pipe or FIFO, as ``/dev/stdin`` often is."""
    try:
        return stat.S_ISFIFO(path.stat().st_mode)
    except OSError:
        return False  # the file reader reports it


def _read_pipe(name: str) -> bytes:
    """The content of pipe ``name``, read once with a byte bound.

    Opened without waiting for a writer (a FIFO nobody writes to reads as empty
    instead of hanging), then read blocking until the writer closes it.
    """
    from ztsim.inputs.positions import YamlInputError

    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise YamlInputError(name, None, f"cannot read file: {exc.strerror or exc}") from None
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        return read_bounded(fh, name)


def read_bounded(stream: BinaryIO, name: str) -> bytes:
    """Everything ``stream`` holds, refused past :data:`~ztsim.inputs.guards.MAX_BYTES` bytes.

    Read in chunks, each checked as it comes: a NUL byte or bytes that are not
    UTF-8 stop the read at once (``/dev/zero`` or ``/dev/urandom`` behind a pipe
    are refused in the first megabyte, not after the whole bound).
    """
    from ztsim.inputs.guards import MAX_BYTES
    from ztsim.inputs.positions import YamlInputError

    chunks: list[bytes] = []
    size = 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    while True:
        try:
            chunk = stream.read(_CHUNK)
        except OSError as exc:
            raise YamlInputError(name, None, f"cannot read: {exc.strerror or exc}") from None
        if not chunk:
            break
        size += len(chunk)
        if size > MAX_BYTES:
            raise YamlInputError(
                name, None, f"input too large: over {MAX_BYTES:,} bytes (ZTSIM_MAX_BYTES)"
            )
        if b"\0" in chunk:
            raise YamlInputError(name, None, "binary data (a NUL byte): not YAML or JSON text")
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise YamlInputError(name, None, f"not UTF-8 text: {exc.reason}") from None
        chunks.append(chunk)
    return b"".join(chunks)


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``validate`` to the parser."""
    p = add_command(
        sub,
        "validate",
        "Check topology, policy and assertions files: schema, references, services, warnings.",
        "ztsim validate topologies/pajemploi.yaml policies/ assertions/pajemploi.yaml\n"
        "cat topologies/pajemploi.yaml | ztsim validate -",
    )
    p.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="files, folders of *.yaml (*.yml, *.json), or - for standard input; "
        "each file's `kind` says what it is",
    )
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(func=run)
