"""Map a function over items on two cores: half of them in a forked child.

Plan listing on a large estate is hundreds of independent searches, one per goal,
over solves that are already computed.  :func:`fork_map` forks once the shared
state is built (the child sees it without copying), lets the child take every
other item and send its results back pickled, and computes the rest meanwhile.

Nothing here decides a result: the function must be deterministic given the state
both processes share, and whatever goes wrong in the child (an exception, a
result pickle refuses, a crash) makes this process compute the child's share
itself, so the answer is the same, only slower.  Results keep the items' order.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence
from typing import TypeVar

from ztsim.splitparse import enabled

__all__ = ["fork_map"]

T = TypeVar("T")
R = TypeVar("R")


def fork_map(func: Callable[[T], R], items: Sequence[T], *, min_items: int = 2) -> list[R]:
    """``[func(x) for x in items]``, every other item computed in a forked child.

    Runs in this process alone when there are fewer than ``min_items`` items, when
    ``fork`` is missing, threads are running or ``ZTSIM_PARALLEL=off`` (see
    :func:`ztsim.splitparse.enabled`).
    """
    if len(items) < max(2, min_items) or not enabled():
        return [func(x) for x in items]
    mine, theirs = items[0::2], items[1::2]  # alternate: neighbours cost alike
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child; its coverage is not collected
        code = 1
        try:
            os.close(read_fd)
            try:
                blob = pickle.dumps([func(x) for x in theirs], protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # anything at all: the parent computes this share
                blob = b""
            view = memoryview(blob)
            while view:
                view = view[os.write(write_fd, view) :]
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    try:
        first = [func(x) for x in mine]
        chunks: list[bytes] = []
        while True:
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    second: list[R] | None = None
    if chunks:
        try:
            got = pickle.loads(b"".join(chunks))
        except Exception:  # a truncated or unreadable answer: computed here instead
            got = None
        if isinstance(got, list) and len(got) == len(theirs):
            second = got
    if second is None:
        second = [func(x) for x in theirs]
    out: list[R] = []
    for i in range(len(items)):
        out.append(first[i // 2] if i % 2 == 0 else second[i // 2])
    return out
