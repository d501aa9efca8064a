"""The guards of reading: bounded reads, and documents too large once aliases expand.

A file is read only if it is a regular file (or a stream a command accepts)
of at most :data:`MAX_BYTES`, with that bound enforced while reading.  A
document whose aliases would expand it past :func:`expansion_limit` nodes or
:data:`MAX_DEPTH` levels (the "billion laughs" attack), or that contains itself,
is refused before anything walks it, at the alias that crosses the line.

Apart from :mod:`ztsim.inputs.documents`, which parses what is read here, so
each can be read (and tested) on its own: the byte and alias bounds are the
whole of the limits an input meets.
"""

from __future__ import annotations

import os
import stat
import sys
from typing import Any

import yaml

from ztsim.inputs.positions import BaseSafeLoader, Mark, YamlInputError
from ztsim.model.diagnostics import env_int

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_EXPANSION",
    "MAX_NODES",
    "check_expansion",
    "expansion_limit",
    "read_bytes",
    "read_bytes_bounded",
]

#: Largest file accepted, in bytes (override with ``ZTSIM_MAX_BYTES``).
MAX_BYTES = env_int("ZTSIM_MAX_BYTES", 512 * 1024 * 1024)
#: Largest document accepted once aliases are expanded, in nodes.
MAX_NODES = env_int("ZTSIM_MAX_NODES", 50_000_000)
#: Nodes aliases may add beyond two per character of the text (see :func:`expansion_limit`).
MAX_EXPANSION = env_int("ZTSIM_MAX_EXPANSION", 200_000, minimum=0)
#: Deepest nesting accepted once aliases are expanded (libyaml's own limit on the text).
MAX_DEPTH = 1000


def read_bytes(name: str) -> bytes:
    """The content of file ``name`` (:func:`read_bytes_bounded` of a regular file)."""
    return read_bytes_bounded(name)


#: What a file that is not a regular one is, for the message that refuses it.
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

#: How much of a stream is read at a time (see :func:`read_bytes_bounded`).
_READ_CHUNK = 1024 * 1024


def _kind_of_file(mode: int) -> str:
    """``a FIFO (named pipe)``, ``a directory``...: what a non-regular file is."""
    for test, kind in _FILE_KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def read_bytes_bounded(name: str, *, allow_stream: bool = False, limit: int | None = None) -> bytes:
    """The content of file ``name``, read with a hard bound of ``limit`` bytes.

    Only regular files are read, unless ``allow_stream`` (for a command that
    explicitly accepts ``-`` or ``/dev/stdin``): a FIFO, a device such as
    ``/dev/zero`` or ``/dev/urandom``, a socket or a folder is refused before a
    byte is read (opening a FIFO with no writer would wait forever; a device
    never ends).  ``-`` means standard input and needs ``allow_stream``.  The
    bound (default :data:`MAX_BYTES`) is checked from ``fstat`` before reading
    and enforced while reading, so a file that grows meanwhile, or a stream,
    never holds more than ``limit`` bytes in memory.

    Raises :class:`YamlInputError` (position 1:1: it is about the whole file).
    """
    bound = MAX_BYTES if limit is None else limit
    too_large = f"file too large: more than {bound:,} bytes (limit {bound:,}; ZTSIM_MAX_BYTES)"
    if name == "-":
        if not allow_stream:
            raise YamlInputError(name, None, "standard input ('-') is not accepted here")
        return _read_stream(name, sys.stdin.buffer.fileno(), bound, too_large)
    try:
        st = os.stat(name)  # never blocks, whatever the file is
    except OSError as exc:
        raise YamlInputError(name, None, f"cannot read file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise YamlInputError(name, None, "is a directory, not a file")
    if not stat.S_ISREG(st.st_mode) and not allow_stream:
        raise YamlInputError(
            name,
            None,
            f"not a regular file: {_kind_of_file(st.st_mode)} (ztsim reads regular files only)",
        )
    if st.st_size > bound:
        raise YamlInputError(
            name, None, f"file too large: {st.st_size:,} bytes (limit {bound:,}; ZTSIM_MAX_BYTES)"
        )
    try:
        # O_NONBLOCK: a FIFO put in the file's place since the stat must not block
        # the open; fstat then tells what was opened.
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise YamlInputError(name, None, f"cannot read file: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb", closefd=False) as fh:
                raw = fh.read(bound + 1)
            if len(raw) > bound:
                raise YamlInputError(name, None, too_large)
            return raw
        if not allow_stream or stat.S_ISDIR(mode):
            raise YamlInputError(
                name,
                None,
                f"not a regular file: {_kind_of_file(mode)} (ztsim reads regular files only)",
            )
        os.set_blocking(fd, True)
        return _read_stream(name, fd, bound, too_large)
    except OSError as exc:
        raise YamlInputError(name, None, f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _read_stream(name: str, fd: int, bound: int, too_large: str) -> bytes:
    """Everything ``fd`` gives until its end, refused past ``bound`` bytes."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, _READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > bound:
            raise YamlInputError(name, None, too_large)
        chunks.append(chunk)


def expansion_limit(text_length: int) -> int:
    """How many nodes a document of ``text_length`` characters may hold once its
    aliases are expanded: :data:`MAX_EXPANSION` plus two per character, and never
    more than :data:`MAX_NODES`.

    Without aliases a document holds about a node per character or fewer; the
    allowance leaves room for aliases used to share parts (a service list named
    by thousands of hosts) and refuses a "billion laughs" (a few lines whose
    aliases of aliases stand for millions of nodes) before anything walks it:
    validation and every later pass would expand it, and an invalid one would
    report an error per expanded node.
    """
    return min(MAX_NODES, MAX_EXPANSION + 2 * text_length)


def check_expansion(data: Any, path: str, text: str) -> int:
    """Count the nodes of ``data`` as if every alias were expanded; refuse it past
    :func:`expansion_limit` nodes, :data:`MAX_DEPTH` levels, or containing itself.

    Shared sub-structures (what aliases produce) are counted once per use but
    measured once, so the count is linear in the distinct nodes; the walk keeps
    its own stack (the nesting that aliases of aliases build is not bounded by
    the text's).  The error names the alias that crosses the limit, found by
    :func:`_expansion_problem` from the text.
    """
    limit = expansion_limit(len(text))
    measured: dict[int, tuple[int, int]] = {}  # id -> (nodes, depth)
    open_: set[int] = set()  # containers whose children are being measured
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        obj, children_done = stack.pop()
        if type(obj) is not dict and type(obj) is not list:
            continue
        key = id(obj)
        values = obj.values() if type(obj) is dict else obj
        if children_done:
            total = 1 + (len(obj) if type(obj) is dict else 0)
            deepest = 0
            for child in values:
                if type(child) is dict or type(child) is list:
                    nodes, depth = measured[id(child)]
                    total += nodes
                    deepest = max(deepest, depth)
                else:
                    total += 1
            open_.discard(key)
            measured[key] = (total, deepest + 1)
            if total > limit or deepest + 1 > MAX_DEPTH:
                raise _expansion_problem(text, path, limit)
            continue
        if key in measured:
            continue
        if key in open_:
            raise _expansion_problem(text, path, limit)
        open_.add(key)
        stack.append((obj, True))
        stack.extend(
            (child, False)
            for child in values
            if (type(child) is dict or type(child) is list) and id(child) not in measured
        )
    return measured[id(data)][0] if id(data) in measured else 1


def _expansion_problem(text: str, path: str, limit: int) -> YamlInputError:
    """The error for a document refused by :func:`check_expansion`, at the alias that
    makes it too large, too deep or recursive.

    A pass over the parser's events (the error path only) counts the nodes as
    they would stand with every alias expanded, in document order, measuring each
    anchored node once; the first alias that takes the count past ``limit`` (or
    the nesting past :data:`MAX_DEPTH`), or that names a node it stands in, is
    the one reported.
    """
    measured: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, depth)
    # Per open container: [anchor, count when it opened, deepest child depth].
    stack: list[list[Any]] = []
    count = 0
    open_anchors: set[str] = set()
    fallback = Mark(1, 1)

    def close(depth: int) -> None:
        if stack:
            stack[-1][2] = max(stack[-1][2], depth)

    ev: Any
    try:
        for ev in yaml.parse(text, Loader=BaseSafeLoader):
            kind = type(ev)
            if kind is yaml.ScalarEvent:
                count += 1
                if ev.anchor is not None:
                    measured[ev.anchor] = (1, 0)
                close(0)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                count += 1
                stack.append([ev.anchor, count, 0])
                if ev.anchor is not None:
                    open_anchors.add(ev.anchor)
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                anchor, opened, deepest = stack.pop()
                nodes = count - opened + 1
                if anchor is not None:
                    measured[anchor] = (nodes, deepest + 1)
                    open_anchors.discard(anchor)
                close(deepest + 1)
            elif kind is yaml.AliasEvent:
                at = Mark(ev.start_mark.line + 1, ev.start_mark.column + 1)
                name = ev.anchor
                if name in open_anchors:
                    return YamlInputError(
                        path, at, f"recursive alias *{name}: it stands inside the node it names"
                    )
                nodes, depth = measured.get(name, (1, 0))
                count += nodes
                if count > limit:
                    return YamlInputError(
                        path,
                        at,
                        f"alias *{name} stands for {nodes:,} nodes: the document would hold "
                        f"more than {limit:,} once aliases are expanded (limit: "
                        f"{MAX_EXPANSION:,} + 2 per character of the file; ZTSIM_MAX_EXPANSION)",
                    )
                if len(stack) + depth > MAX_DEPTH:
                    return YamlInputError(
                        path,
                        at,
                        f"alias *{name} nests the document more than {MAX_DEPTH:,} levels deep "
                        "once aliases are expanded",
                    )
                close(depth)
                if fallback == Mark(1, 1):
                    fallback = at
    except yaml.YAMLError:
        pass
    # Not found by counting events (merge keys copy differently): name the first alias.
    return YamlInputError(
        path,
        fallback,
        f"document too large, too deep or recursive once aliases are expanded "
        f"(more than {limit:,} nodes or {MAX_DEPTH:,} levels; ZTSIM_MAX_EXPANSION)",
    )
