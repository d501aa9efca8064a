"""A tiny phase profiler for ``ztsim --profile``: where does the time go?

Phases nest; each phase is charged its own time only (a phase's children are
subtracted), so the figures add up to the total.  Disabled, :func:`phase` costs a
function call and a flag test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["enable", "phase", "report", "reset"]

_enabled = False
_totals: dict[str, float] = {}
_stack: list[list[float | str]] = []


def enable(on: bool = True) -> None:
    """Turn recording on (or off)."""
    global _enabled
    _enabled = on


def reset() -> None:
    """Forget what was recorded."""
    _totals.clear()
    _stack.clear()


@contextmanager
def phase(name: str) -> Iterator[None]:
    """Charge the time spent in the block to ``name`` (exclusive of nested phases)."""
    if not _enabled:
        yield
        return
    now = time.perf_counter()
    if _stack:
        parent = _stack[-1]
        _totals[str(parent[0])] = _totals.get(str(parent[0]), 0.0) + now - float(parent[1])
    _stack.append([name, now])
    try:
        yield
    finally:
        end = time.perf_counter()
        top = _stack.pop()
        _totals[name] = _totals.get(name, 0.0) + end - float(top[1])
        if _stack:
            _stack[-1][1] = end


def report() -> str:
    """The recorded phases as a small table, largest first."""
    total = sum(_totals.values())
    lines = [f"{'phase':<10} {'seconds':>8} {'share':>6}"]
    for name, secs in sorted(_totals.items(), key=lambda kv: (-kv[1], kv[0])):
        share = secs / total if total else 0.0
        lines.append(f"{name:<10} {secs:>8.3f} {share:>6.0%}")
    lines.append(f"{'total':<10} {total:>8.3f}")
    return "\n".join(lines)
