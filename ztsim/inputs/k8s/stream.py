"""From paths to manifest objects: files, YAML streams, JSON, ``*List`` kinds.

Every file goes through the safe readers of :mod:`ztsim.inputs.documents` and
the guards of :mod:`ztsim.inputs.guards` (size, aliases, duplicate keys, refused
tags).  Those read one document per file; a multi-document YAML stream is cut at
its ``---`` lines (YAML forbids a document marker at the start of a line inside
any scalar, so the cut is exact) and each part is parsed on its own; its
positions are offset by the lines above it (:class:`StreamDocument`).

Recording positions while parsing costs about as much as the parse itself, and
most objects of a cluster (pods, workloads, namespaces, services) need only the
place of the object itself unless a problem must be placed: those are parsed
without positions (:data:`SHALLOW_KINDS`), their place found by indexing the
document up to its first node and a problem's by indexing it then.  The others
(policies, ingresses, lists) record them to the depth of a policy's rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ztsim.inputs.collector import Loc
from ztsim.inputs.documents import document_from_bytes, parse_text
from ztsim.inputs.guards import read_bytes
from ztsim.inputs.positions import Document, Mark, YamlInputError
from ztsim.model.diagnostics import Diagnostic

__all__ = [
    "MANIFEST_SUFFIXES",
    "SHALLOW_KINDS",
    "RawObject",
    "StreamDocument",
    "expand_paths",
    "located",
    "objects_of",
    "read_stream",
]

#: The files a directory contributes (others in it are ignored, as kubectl does).
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")

#: A document start marker: ``---`` at the start of a line, then a blank or the end
#: (``\r`` too: CRLF files), with the directives (``%YAML 1.2``) that precede it.
_DOC_START = re.compile(r"^(?:%[^\n]*\n)*---(?=[ \t\r]|$)", re.MULTILINE)
#: The depth of the positions recorded while parsing (see :func:`_documents`).
_RECORDED_DEPTH = 3

#: The kinds whose reading, when nothing is wrong, asks only where the object stands.
SHALLOW_KINDS = frozenset(
    {"Namespace", "Pod", "Service", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
    | {"ReplicationController", "Job", "CronJob"}
)
#: A top-level ``kind:`` line of a block mapping: a guess at the kind before parsing
#: (checked on the data after it, so a wrong guess costs a second parse, no more).
_KIND_LINE = re.compile(r"^kind:[ \t]*[\"']?([A-Za-z]+)", re.MULTILINE)

#: A line with content: not blank, not a comment, not a bare marker.
_CONTENT = re.compile(r"^(?![ \t\r]*(?:#|$))(?!(?:---|\.\.\.)[ \t\r]*(?:#|$))", re.MULTILINE)


@dataclass(frozen=True)
class RawObject:
    """One object of a manifest: its document, where it stands in it, its data and
    its kind (an item of a typed list, ``PodList`` say, takes the list's)."""

    doc: Document
    loc: Loc
    data: Any
    kind: str | None


def expand_paths(paths: Iterable[str | Path]) -> tuple[list[str], list[Diagnostic]]:
    """The files named by ``paths``: files as given, directories recursively in
    sorted order (their ``.yaml``, ``.yml`` and ``.json`` files); a path that does
    not exist is an error."""
    files: list[str] = []
    problems: list[Diagnostic] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(
                str(p)
                for p in path.rglob("*")
                if p.suffix.lower() in MANIFEST_SUFFIXES and p.is_file()
            )
            files.extend(found)
        elif path.exists() or str(given) == "-":
            files.append(str(given))
        else:
            problems.append(Diagnostic(str(given), 1, 1, "error", "no such file or directory"))
    return files, problems


@dataclass(frozen=True)
class StreamDocument:
    """One document of a stream, parsed on its own: its positions are ``offset``
    lines above the file's (add ``offset`` to a line to get the file's)."""

    doc: Document
    offset: int


def read_stream(name: str) -> list[StreamDocument]:
    """The documents of file ``name`` (a JSON file is one; a YAML stream any number,
    empty ones left out).  Raises :class:`YamlInputError` at the first problem (at
    the file's line)."""
    raw = read_bytes(name)
    if Path(name).suffix.lower() == ".json":
        return [StreamDocument(document_from_bytes(name, raw), 0)]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        document_from_bytes(name, raw)  # raises the reader's own not-UTF-8 error
        raise  # pragma: no cover - the line above always raises
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # a byte-order mark: kept as a blank, columns unchanged
    return [part for part in _documents(text, name) if part.doc.data is not None]


def _documents(text: str, name: str) -> Iterator[StreamDocument]:
    starts = [m.start() for m in _DOC_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    ends = [*starts[1:], len(text)]
    line, counted = 0, 0  # lines before ``counted``: counted once, as the parts go
    for start, end in zip(starts, ends, strict=True):
        line += text.count("\n", counted, start)
        counted = start
        part = text[start:end] if len(starts) > 1 else text
        if not _CONTENT.search(part):
            continue  # only markers, comments and blank lines
        try:
            doc = _parse(part, name)
        except YamlInputError as exc:
            if exc.mark is not None:
                exc.mark = Mark(exc.mark.line + line, exc.mark.column)
            raise
        yield StreamDocument(doc, line)


def _parse(part: str, name: str) -> Document:
    """Document ``part`` of file ``name``: without positions if it is one of the
    :data:`SHALLOW_KINDS`, else with them to the depth of a policy's rules (spec,
    ingress, i): those of every rule are asked for, the rest only on an error."""
    guess = _KIND_LINE.search(part)
    if guess is not None and guess.group(1) in SHALLOW_KINDS:
        doc = parse_text(part, name)
        data = doc.data
        if isinstance(data, dict) and data.get("kind") in SHALLOW_KINDS:
            return doc
    return parse_text(part, name, positions=True, depth=_RECORDED_DEPTH)


def objects_of(doc: Document) -> Iterator[RawObject]:
    """The objects of ``doc``: itself, or the items of a ``*List`` (recursively).

    An item with no ``kind`` takes its typed list's (``NamespaceList`` items are
    Namespaces); a ``List`` item must name its own.
    """
    yield from _expand(doc, (), doc.data)


def _expand(doc: Document, loc: Loc, data: Any) -> Iterator[RawObject]:
    kind = data.get("kind") if isinstance(data, dict) else None
    if (
        isinstance(kind, str)
        and kind.endswith("List")
        and isinstance(data, dict)
        and isinstance(data.get("items"), list)
    ):
        implied = kind[: -len("List")] or None
        for i, item in enumerate(data["items"]):
            item_loc = (*loc, "items", i)
            item_kind = item.get("kind") if isinstance(item, dict) else None
            if isinstance(item, dict) and item_kind is None and implied is not None:
                yield RawObject(doc, item_loc, item, implied)
            else:
                yield from _expand(doc, item_loc, item)
        return
    yield RawObject(doc, loc, data, kind if isinstance(kind, str) else None)


def located(problem: YamlInputError) -> Diagnostic:
    """A reading problem as a diagnostic (at 1:1 when it concerns the whole file)."""
    mark = problem.mark
    return Diagnostic(
        problem.path, mark.line if mark else 1, mark.column if mark else 1, "error", problem.message
    )
