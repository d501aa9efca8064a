"""Parse some files ahead, in a forked child, while this process does other work.

A check reads one large topology and a few policies.  The topology's parse
already keeps both cores busy for part of its time (:mod:`ztsim.perf.splitparse`), and
the policies wait behind it: :func:`prefetch_documents` forks a child that parses
the policy files meanwhile, and :func:`ztsim.inputs.documents.load_document` takes each
result as it would take a parse-cache entry (the same ``(data, marks)`` form).

Nothing here decides a result.  The child answers ``None`` for a file it could
not parse (the parent then parses it itself and reports the exact error), the
parent drops an answer whose file changed since (it compares digests of the
bytes), and anything unusual (no ``fork``, threads running, ``ZTSIM_PARALLEL=off``,
small files) skips the prefetch altogether.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ztsim.perf.forking import Forked, enabled

__all__ = ["MIN_BYTES", "Entry", "Prefetched", "digest", "prefetch_documents"]

#: Files smaller than this in all are parsed in place (a fork would cost more than it saves).
MIN_BYTES = 512 * 1024

#: What the child sends per file: (name, flavour, digest, data, marks) or None.
Entry = tuple[str, str, bytes, Any, Any]


def digest(raw: bytes) -> bytes:
    """The digest that tells whether a file is still the one the child read."""
    return hashlib.blake2b(raw, digest_size=16).digest()


class Prefetched:
    """Parses running in a forked child; :meth:`take` waits for them on first use."""

    def __init__(self, child: Forked) -> None:
        self._child = child
        self._entries: dict[tuple[str, str], Entry] | None = None

    def take(self, name: str, flavour: str, raw: bytes) -> tuple[Any, Any] | None:
        """The child's ``(data, marks)`` for file ``name`` read as ``flavour``, if usable.

        ``raw`` is the file's content as this process read it: an answer for
        other bytes (the file changed meanwhile) is not used.
        """
        entries = self._collect()
        entry = entries.pop((name, flavour), None)
        if entry is None or entry[2] != digest(raw):
            return None
        return entry[3], entry[4]

    def _collect(self) -> dict[tuple[str, str], Entry]:
        if self._entries is None:
            self._entries = {}
            blob = self._child.result()
            try:
                got = marshal.loads(blob) if blob is not None else []
            except (EOFError, ValueError, TypeError):
                got = []
            for entry in got if isinstance(got, list) else []:
                if isinstance(entry, tuple) and len(entry) == 5:
                    self._entries[(entry[0], entry[1])] = entry
        return self._entries

    def close(self) -> None:
        """Stop waiting for the child (it is reaped)."""
        self._child.close()


@contextmanager
def prefetch_documents(
    files: Sequence[tuple[str | Path, bool, int | None]],
    parse_all: Callable[[Sequence[tuple[str, bool, int | None]]], list[Entry | None]],
) -> Iterator[Prefetched | None]:
    """Parse ``files`` (each ``(path, positions, depth)``) in a child while the block runs.

    ``parse_all`` is what the child runs on them (:func:`ztsim.inputs.documents.prefetch_entries`:
    the reader lives in the layer above, this module only forks and hands back).

    Yields ``None`` when prefetching is not worth it or not possible; pass what
    it yields to :func:`ztsim.inputs.documents.load_document` (``prefetched=``).  The child
    is reaped when the block ends, whether its answers were used or not.
    """
    wanted = [(str(p), positions, depth) for p, positions, depth in files]
    try:
        size = sum(os.path.getsize(name) for name, _, _ in wanted)
    except OSError:
        size = 0
    if not wanted or size < MIN_BYTES or not enabled():
        yield None
        return
    ahead = Prefetched(Forked(lambda: marshal.dumps(parse_all(wanted))))
    try:
        yield ahead
    finally:
        ahead.close()
