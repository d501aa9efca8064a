"""Work on a second core: a forked child that computes bytes.

Three things run on two cores: the split parse of a large topology
(:mod:`ztsim.perf.splitparse`), the policy files parsed ahead (:mod:`ztsim.perf.prefetch`)
and plan listing per goal (:func:`fork_map`).  Each forks a child that computes
a byte string (``marshal`` or ``pickle`` of its answer) and sends it back through
a pipe (:class:`Forked`).

Nothing forked decides a result: a child that fails, crashes or sends nothing
yields ``None``, and the caller then does the work itself, so the answer is the
same, only slower.

A cost to know of: after a fork, the first write to each page of memory the two
processes share (a reference count is a write) copies or re-maps that page.
Forking before the heap grows (the parses) costs little; forking from a large
heap (plan listing) pays part of its gain back.  Sharing the policies of
``check`` with a forked child was measured and dropped (``benchmarks/README.md``).
"""

from __future__ import annotations

import os
import pickle
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["Forked", "enabled", "fork_map"]

T = TypeVar("T")
R = TypeVar("R")


def enabled() -> bool:
    """Whether work may be forked onto a second core (``ZTSIM_PARALLEL=off`` says no).

    Also no without ``os.fork`` or with threads running (a fork copies one thread).
    """
    if os.environ.get("ZTSIM_PARALLEL", "on").lower() in ("off", "0", "no", "false"):
        return False
    return hasattr(os, "fork") and threading.active_count() == 1


def _fork(child: Callable[[], object]) -> int:
    """Fork: the child runs ``child()`` and exits, with status 0, or 1 if it raised.

    Returns the child's pid, here.  Whatever the child raises stays there: its
    parent does the work itself.
    """
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its coverage is not collected
        code = 1
        try:
            child()
            code = 0
        except BaseException:  # anything at all: the parent does the work
            pass
        finally:
            os._exit(code)
    return pid


class Forked:
    """A forked child computing ``produce()``; :meth:`result` waits for its bytes.

    The child starts at once and ends with ``os._exit`` once its bytes are sent.
    Always :meth:`result` or :meth:`close` it, so that it is reaped.
    """

    def __init__(self, produce: Callable[[], bytes]) -> None:
        read_fd, write_fd = os.pipe()

        def child() -> None:
            os.close(read_fd)
            view = memoryview(produce())
            while view:
                view = view[os.write(write_fd, view) :]

        self._pid = _fork(child)
        os.close(write_fd)
        self._fd = read_fd

    def result(self) -> bytes | None:
        """The child's bytes (waiting for them), or ``None`` if it failed or sent none."""
        if self._fd < 0:
            return None
        chunks: list[bytes] = []
        try:
            while True:
                chunk = os.read(self._fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            status = self._reap()
        blob = b"".join(chunks)
        return blob if blob and status == 0 else None

    def close(self) -> None:
        """Stop waiting: the child, if still writing, gets a broken pipe and exits."""
        if self._fd >= 0:
            self._reap()

    def _reap(self) -> int:
        os.close(self._fd)
        self._fd = -1
        return os.waitpid(self._pid, 0)[1]


def fork_map(func: Callable[[T], R], items: Sequence[T], *, min_items: int = 2) -> list[R]:
    """``[func(x) for x in items]``, every other item computed in a forked child.

    For searches that share state built beforehand (the child sees it without
    copying): the child's results come back pickled, and whatever goes wrong
    there (an exception, a result pickle refuses, a crash) makes this process
    compute the child's share itself.  ``func`` must be deterministic given that
    state.  Runs here alone with fewer than ``min_items`` items or when
    :func:`enabled` says no.  Results keep the items' order.

    >>> fork_map(abs, [-3, 1, -4, 1, -5])  # -3, -4, -5 here; 1, 1 in the child
    [3, 1, 4, 1, 5]
    >>> fork_map(str.upper, ["a", "b"], min_items=3)  # too few: all here
    ['A', 'B']
    """
    if len(items) < max(2, min_items) or not enabled():
        return [func(x) for x in items]
    mine, theirs = items[0::2], items[1::2]  # alternate: neighbours cost alike
    child = Forked(lambda: pickle.dumps([func(x) for x in theirs], pickle.HIGHEST_PROTOCOL))
    try:
        first = [func(x) for x in mine]
        blob = child.result()
    finally:
        child.close()
    second: list[R] | None = None
    if blob is not None:
        try:
            got = pickle.loads(blob)
        except Exception:  # an unreadable answer: computed here instead
            got = None
        if isinstance(got, list) and len(got) == len(theirs):
            second = got
    if second is None:
        second = [func(x) for x in theirs]
    return [first[i // 2] if i % 2 == 0 else second[i // 2] for i in range(len(items))]
