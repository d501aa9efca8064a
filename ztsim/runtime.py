"""Process-wide settings for large estates: CPython's cyclic garbage collector.

ztsim builds millions of small, long-lived objects (models, facts, steps) and
frees almost none of them before it exits; they do not form garbage cycles worth
collecting.  CPython's collector nevertheless rescans the whole heap each time it
grows by a quarter: on 50,000 hosts that was more than half of validation and a
third of the fixpoints.  So commands run with the collector paused
(:func:`paused_gc`), and a long-lived process (the TUI's workspace) moves what it
loaded out of the collector's sight (:func:`settle`) before resuming it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc", "settle"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Run the block with the cyclic collector off; restore its state after.

    Reference counting still frees every object that is not part of a cycle, so
    memory stays bounded by what the block keeps alive.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def settle() -> None:
    """Exempt every object alive now from later collections (:func:`gc.freeze`).

    For long-lived processes after a large load: collections then scan only
    what was allocated since.  Objects stay freed by reference counting.
    """
    gc.freeze()
