"""Work on a second core: forked children that compute bytes or talk both ways.

Four things run on two cores: the split parse of a large topology
(:mod:`ztsim.perf.splitparse`), the policy files parsed ahead (:mod:`ztsim.perf.prefetch`),
the policies of ``check`` (:mod:`ztsim.analysis.twocores`) and plan listing per
goal (:func:`fork_map`).  The parses and plan listing fork a child that computes
a byte string (``marshal`` or ``pickle`` of its answer) and sends it back through
a pipe (:class:`Forked`).  ``check`` forks a :class:`Helper`, a child that
exchanges pickled objects with its parent both ways, and the two share the
policies out as :class:`Tickets`, each taken by whichever process is free first.

Nothing forked decides a result: a child that fails, crashes or sends nothing
yields ``None``, and the caller then does the work itself, so the answer is the
same, only slower.

A cost to know of: after a fork, the first write to each page of memory the two
processes share (a reference count is a write) copies or re-maps that page.
Forking before the heap grows (the parses) costs nothing; forking from a large
heap (policies, plan listing) pays part of its gain back (``benchmarks/README.md``
has the figures).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["Forked", "Helper", "Tickets", "enabled", "fork_map"]

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
    _reap_unreaped()
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


class Tickets:
    """The numbers ``0 .. n-1``, each taken once by whichever process asks first.

    Made before a fork, shared by both processes after it: a pipe holding the
    numbers, 4 bytes each, whose writing end is closed at once.  A read of 4 bytes
    from a pipe is never split between two readers, so each number goes to one
    process; work is shared out as it goes, the faster process taking more.
    """

    #: At most this many: they are written whole before anyone reads, and a pipe
    #: holds 64 KiB on Linux (a write past that would wait for a reader).
    MOST = 16_384

    def __init__(self, n: int) -> None:
        if n > self.MOST:
            raise ValueError(f"too many tickets: {n} (at most {self.MOST})")
        read_fd, write_fd = os.pipe()
        try:
            os.write(write_fd, b"".join(i.to_bytes(4, "little") for i in range(n)))
        finally:
            os.close(write_fd)
        self._fd = read_fd

    def take(self) -> int | None:
        """The next number, or ``None`` once every one is taken."""
        if self._fd < 0:
            return None
        got = os.read(self._fd, 4)
        if len(got) < 4:
            self.close()
            return None
        return int.from_bytes(got, "little")

    def close(self) -> None:
        """Take no more (the numbers left stay for the other process)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class Helper:
    """A forked child that exchanges pickled objects with this process, both ways.

    The child runs ``serve(receive, send)`` and ends with ``os._exit`` when it
    returns (or raises).  In either process, ``receive()`` gives the next object
    the other sent, or ``None`` when it sent nothing more (it ended, failed,
    crashed or sent what cannot be read); ``send(obj)`` says whether it went.
    Objects go length-prefixed through two pipes.  A conversation must not have
    both processes send at once: an object larger than :data:`PIPE_BYTES` waits
    in ``send`` for the other to receive it.  Always :meth:`close` it, so that
    the child is reaped.
    """

    def __init__(self, serve: Callable[[Callable[[], object], Callable[[object], bool]], None]):
        up_read, up_write = os.pipe()
        down_read, down_write = os.pipe()
        _widen(up_write)
        _widen(down_write)

        def child() -> None:
            os.close(up_read)
            os.close(down_write)
            serve(lambda: _receive(down_read), lambda obj: _send(up_write, obj))

        self._pid = _fork(child)
        os.close(up_write)
        os.close(down_read)
        self._read = up_read
        self._write = down_write

    def receive(self) -> object:
        """The next object the child sent, or ``None``."""
        return None if self._read < 0 else _receive(self._read)

    def send(self, obj: object) -> bool:
        """Send ``obj`` to the child; whether it went (the child may have ended)."""
        return self._write >= 0 and _send(self._write, obj)

    def close(self, *, wait: bool = True) -> None:
        """End the conversation and the child (nothing more is wanted from it).

        ``wait=False`` leaves the child to be reaped later (at the next fork, see
        :data:`_UNREAPED`): the kernel takes a while to tear down a large child,
        and this process need not wait.
        """
        for fd in (self._write, self._read):
            if fd >= 0:
                os.close(fd)
        self._write = self._read = -1
        if self._pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
            if wait:
                os.waitpid(self._pid, 0)
            else:
                _reap_later(self._pid)
            self._pid = 0


#: Children ended by ``Helper.close(wait=False)`` and not reaped yet: the next fork
#: reaps them first (a thread would do it sooner, but threads turn forking off:
#: see :func:`enabled`).  Until then each is a zombie; at exit, init reaps them.
_UNREAPED: list[int] = []


def _reap_later(pid: int) -> None:
    """Reap ``pid`` (killed, or exiting) now if it has exited, else at the next fork."""
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if not done:
            _UNREAPED.append(pid)


def _reap_unreaped() -> None:
    """Reap the children :func:`_reap_later` left (each was killed: this is short)."""
    while _UNREAPED:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(_UNREAPED.pop(), 0)


#: Bytes a pipe of :class:`Helper` holds (Linux's default most, ``pipe-max-size``).
PIPE_BYTES = 1 << 20


def _widen(fd: int) -> None:
    """Let the pipe of ``fd`` hold :data:`PIPE_BYTES` where the system allows it.

    A sender blocks once the pipe is full until the other process reads.  The
    default 64 KiB made the parent of ``check`` wait, a chunk at a time, for its
    child to take the 600 KB of plans it sends on L; a message that fits is
    written at once, and the sender goes on.
    """
    with contextlib.suppress(ImportError, AttributeError, OSError):
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _send(fd: int, obj: object) -> bool:
    try:
        blob = pickle.dumps(obj, pickle.HIGHEST_PROTOCOL)
        view = memoryview(len(blob).to_bytes(8, "little") + blob)
        while view:
            view = view[os.write(fd, view) :]
        return True
    except Exception:  # a broken pipe, or an object pickle refuses
        return False


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n > 0:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _receive(fd: int) -> object:
    try:
        head = _read_exactly(fd, 8)
        blob = None if head is None else _read_exactly(fd, int.from_bytes(head, "little"))
        return None if blob is None else pickle.loads(blob)
    except Exception:  # an unreadable answer: as if nothing came
        return None


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
