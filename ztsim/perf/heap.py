"""Process-wide settings for large estates: CPython's cyclic garbage collector.

ztsim builds millions of small, long-lived objects (models, facts, steps) and
frees almost none of them before it exits; they do not form garbage cycles worth
collecting.  CPython's collector nevertheless rescans the whole heap each time it
grows by a quarter: on large estates, a large share of validation and of the
fixpoints.  So commands run with the collector paused
(:func:`paused_gc`), and a long-lived process (the TUI's workspace) moves what it
loaded out of the collector's sight (:func:`settle`) before resuming it.

Tearing that heap down is no cheaper: at exit CPython runs a last full collection
and frees every object one by one, a long wait on large estates for memory the
operating system reclaims at once.  The command line therefore leaves with
:func:`hard_exit` (as mypy does), and commands :func:`retain` what they built so
that it is not freed object by object on the way out either.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import NoReturn

from ztsim.model.textsafe import safe

__all__ = [
    "OUTPUT_FAILED",
    "hard_exit",
    "leave_heap_at_exit",
    "leaving",
    "paused_gc",
    "retain",
    "say_output_failed",
    "settle",
]

#: The exit status when output could not be written (``ztsim.cli.exitcodes.ExitCode.OUTPUT``).
OUTPUT_FAILED = 4

#: Objects kept alive until :func:`hard_exit`; only filled after :func:`leave_heap_at_exit`.
_retained: list[object] = []
_leaving = False


@contextmanager
def paused_gc(*, restore: bool = True) -> Iterator[None]:
    """Run the block with the cyclic collector off; restore its state after.

    Reference counting still frees every object that is not part of a cycle, so
    memory stays bounded by what the block keeps alive.

    ``restore=False`` leaves the collector off after the block: for a process
    that ends right after it with :func:`hard_exit`.  Turned back on, the
    collector would run at the next allocation over every object the block
    allocated (the whole heap) for nothing.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was and restore:
            gc.enable()


#: Memory blocks allocated after the first :func:`settle` or its last full collection.
_mark = 0


def settle() -> None:
    """Exempt every object alive now from later collections (:func:`gc.freeze`).

    For long-lived processes after a large load or a re-check: collections then
    scan only what was allocated since.  Objects stay freed by reference
    counting; only garbage *cycles* among frozen objects would be kept.  ztsim's
    own results form none (``tests/test_heap_settle.py`` checks it), but a
    process may hold others (a TUI's discarded widgets), so when the heap has
    doubled since the last full collection, the frozen objects are collected
    once and frozen again: like CPython's own rule for its oldest generation,
    the full scans cost at most about twice the heap over the process's life,
    and kept cycles stay within the live heap.

    The heap is measured by :func:`sys.getallocatedblocks` (a walk over the
    allocator's arenas, not over objects): it sees what was freed since, whoever
    freed it, where CPython's young count forgets frees of frozen objects and
    ``gc.get_freeze_count()`` walks every frozen object.
    """
    global _mark
    gc.freeze()
    blocks = sys.getallocatedblocks()
    if _mark and blocks > 2 * _mark:
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        _mark = sys.getallocatedblocks()
    elif not _mark or blocks < _mark:
        _mark = blocks  # the first call, or the heap shrank (a topology replaced)


def leaving() -> bool:
    """Whether this process ends with :func:`hard_exit` (see :func:`leave_heap_at_exit`)."""
    return _leaving


def leave_heap_at_exit() -> None:
    """Declare that this process ends with :func:`hard_exit`: :func:`retain` then keeps.

    Only the command-line entry point calls this; in any other process (tests,
    the Python API) :func:`retain` does nothing, so nothing outlives its use.
    """
    global _leaving
    _leaving = True


def retain(*objects: object) -> None:
    """Keep ``objects`` alive until the process exits (after :func:`leave_heap_at_exit`).

    Returning from a command would otherwise free its analysis object by object
    just before the process exits.
    """
    if _leaving:
        _retained.extend(objects)


def say_output_failed(exc: BaseException) -> None:
    """Say on standard error why output was not delivered: the one line of exit status 4.

    ``exc`` is the failed write's ``OSError`` (its reason, ``Broken pipe``) or an
    error whose text is the reason (``ztsim.output.outfile.OutputError``).  Best
    effort: a failing standard error changes nothing.
    """
    reason = exc.strerror if isinstance(exc, OSError) else str(exc)
    with suppress(OSError, ValueError, AttributeError):
        print(f"ztsim: cannot write output: {safe(str(reason))}", file=sys.stderr)


def hard_exit(code: int) -> NoReturn:
    """Flush standard output and error, then end the process without tearing down.

    Skips the interpreter's last collection and object-by-object deallocation.
    Only for a process whose work is done: files are closed, children joined.

    A failed flush of standard output (the reader went away, the disk is full) is
    said in one line on standard error, and a verdict status (0 or 1) becomes
    :data:`OUTPUT_FAILED`: output that was not delivered never passes.  When
    ``code`` is already :data:`OUTPUT_FAILED` the failure was reported.  Nothing
    is printed by the interpreter either (no "Exception ignored" at shutdown).
    """
    try:
        if sys.stdout is not None:
            sys.stdout.flush()
    except (OSError, ValueError) as exc:
        if code != OUTPUT_FAILED:
            say_output_failed(exc)
        if code in (0, 1):
            code = OUTPUT_FAILED
    if sys.stderr is not None:
        with suppress(OSError, ValueError):
            sys.stderr.flush()
    os._exit(code)
