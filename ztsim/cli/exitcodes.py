"""What ``ztsim`` returns to the shell: :class:`ExitCode` and each command's table.

Exit statuses (spec §7, then ours): 0 no goal reachable, 1 some goal reachable,
2 invalid input or usage (every problem as ``FILE:LINE:COL: message``, never a
traceback), 3 an internal error (a bug: please report it; ``ZTSIM_DEBUG=1`` shows
the trace), 4 output not delivered (standard output closed early, disk full),
130 interrupted.  What 0 and 1 mean depends on the command: each lists its own in
:data:`EXIT_STATUSES`, which its ``--help`` shows (:func:`exit_epilog`).
"""

from __future__ import annotations

from enum import IntEnum

from ztsim.perf.heap import OUTPUT_FAILED

__all__ = ["EXIT_STATUSES", "ExitCode", "exit_epilog"]


class ExitCode(IntEnum):
    """What ``ztsim`` returns to the shell (each command's own in :data:`EXIT_STATUSES`).

    Status 1 has a name per command: it always means "the gate fails", never an
    error (REACHABLE for check and paths, FINDINGS for lint, REGRESSION for diff,
    INCOMPLETE for harden).  OUTPUT wins over 0 and 1: a verdict whose report was
    not delivered must not pass, nor read as "reachable" when it is an I/O error.
    """

    OK = 0
    REACHABLE = 1
    FINDINGS = 1
    REGRESSION = 1
    INCOMPLETE = 1
    INVALID = 2
    INTERNAL = 3
    OUTPUT = OUTPUT_FAILED
    INTERRUPTED = 130


_COMMON: tuple[tuple[ExitCode, str], ...] = (
    (ExitCode.INVALID, "invalid input or usage (FILE:LINE:COL: error: message)"),
    (ExitCode.INTERNAL, "internal error (a bug; ZTSIM_DEBUG=1 shows the traceback)"),
    (
        ExitCode.OUTPUT,
        "output not written: standard output closed early or a write failed\n"
        "(disk full, ...); one line 'ztsim: cannot write output: ...' says why",
    ),
    (ExitCode.INTERRUPTED, "interrupted (Ctrl-C)"),
)

#: Every status each command can return, and what it means there: its ``--help``
#: lists exactly these (``tests/test_exit_status.py`` checks them against the code).
EXIT_STATUSES: dict[str, tuple[tuple[ExitCode, str], ...]] = {
    "validate": (
        (ExitCode.OK, "every file valid (warnings allowed without --strict)"),
        *_COMMON,
    ),
    "check": (
        (
            ExitCode.OK,
            "no goal reachable under any judged policy (with --assert: no assertion of\n"
            "severity error fails; with --baseline: nothing new)",
        ),
        (ExitCode.REACHABLE, "some goal reachable (--assert: an assertion fails; --baseline: new)"),
        *_COMMON,
    ),
    "paths": (
        (ExitCode.OK, "no goal reachable under any judged policy"),
        (ExitCode.REACHABLE, "some goal reachable under some judged policy"),
        *_COMMON,
    ),
    "graph": (
        (ExitCode.OK, "graph written (whether or not a goal is reachable)"),
        *_COMMON,
    ),
    "lint": (
        (ExitCode.OK, "no finding of level error (warnings and info allowed)"),
        (ExitCode.FINDINGS, "some finding of level error"),
        *_COMMON,
    ),
    "diff": (
        (ExitCode.OK, "the --fail-on criterion is not met"),
        (ExitCode.REGRESSION, "the --fail-on criterion is met (opened, broken-traffic, any)"),
        *_COMMON,
    ),
    "harden": (
        (ExitCode.OK, "every goal closed by the proposal"),
        (ExitCode.INCOMPLETE, "some goal still reachable (the proposal is incomplete)"),
        *_COMMON,
    ),
    "init": (
        (ExitCode.OK, "the example scenario copied (nothing overwritten without --force)"),
        *_COMMON,
    ),
    "import": (
        (ExitCode.OK, "the files written (warnings allowed without --strict)"),
        *_COMMON,
    ),
    "report": (
        (ExitCode.OK, "the report written, whatever the policies allow"),
        *_COMMON,
    ),
    "reach": (
        (ExitCode.OK, "the map printed (or written), whatever the policies allow"),
        *_COMMON,
    ),
    "schema": ((ExitCode.OK, "schema printed"), *_COMMON),
    "tui": (
        (ExitCode.OK, "the app was closed"),
        (ExitCode.INVALID, "a file named on the command line is missing, or bad usage"),
        (ExitCode.INTERNAL, "internal error (a bug; ZTSIM_DEBUG=1 shows the traceback)"),
    ),
}


def exit_epilog(command: str | None = None) -> str:
    """The ``exit status:`` block of a command's ``--help`` (of ``ztsim`` when None)."""
    if command is None:
        rows: list[tuple[int, str]] = [
            (0, "no goal reachable, nothing failed (each command: see its --help)"),
            (
                1,
                "the gate fails: a goal reachable (check, paths), an error finding (lint),"
                "\n--fail-on met (diff), a goal left open (harden)",
            ),
            *((int(c), m) for c, m in _COMMON),
        ]
    else:
        rows = [(int(c), m) for c, m in EXIT_STATUSES[command]]
    lines = ["exit status:"]
    for code, meaning in rows:
        first, *rest = meaning.split("\n")
        lines.append(f"  {code:<4} {first}")
        lines.extend(f"       {r}" for r in rest)
    return "\n".join(lines) + "\n"
