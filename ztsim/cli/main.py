"""The ``ztsim`` command line: a thin face over :mod:`ztsim.analysis.analyze`.

Each command lives in its own module under :mod:`ztsim.cli.commands` and registers
itself with :func:`register` semantics (a ``register(subparsers)`` function);
this module only builds the parser, runs the command and turns problems into
exit statuses.

Exit statuses (spec §7, then ours): 0 no goal reachable, 1 some goal reachable,
2 invalid input or usage (every problem as ``FILE:LINE:COL: message``, never a
traceback), 3 an internal error (a bug: please report it; ``ZTSIM_DEBUG=1`` shows
the trace), 4 output not delivered (standard output closed early, disk full),
130 interrupted.  What 0 and 1 mean depends on the command: each lists its own in
:data:`EXIT_STATUSES`, which its ``--help`` shows.
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import io
import os
import pkgutil
import sys
import textwrap
from collections.abc import Sequence
from contextlib import nullcontext, suppress
from enum import IntEnum
from typing import Any, NoReturn, TextIO, cast

from rich.console import Console

from ztsim import __version__
from ztsim.inputs.loader import LoadedPolicy, LoadedTopology
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.textsafe import safe
from ztsim.output.outfile import OutputError, guarded_stdout
from ztsim.perf import profiling
from ztsim.perf.heap import (
    OUTPUT_FAILED,
    hard_exit,
    leave_heap_at_exit,
    leaving,
    paused_gc,
    retain,
)

__all__ = [
    "EPILOG",
    "EXIT_STATUSES",
    "ExitCode",
    "add_command",
    "add_scenario_arguments",
    "build_parser",
    "entry",
    "exit_epilog",
    "load_scenario",
    "main",
    "print_diagnostics",
    "stdout_console",
]


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


EPILOG = exit_epilog() + (
    "\nparse cache: files of 256 KiB or more, kept parsed in $ZTSIM_CACHE_DIR (default\n"
    "~/.cache/ztsim) and verified before use; ZTSIM_CACHE=off turns it off.\n"
)


class _Parser(argparse.ArgumentParser):
    """argparse that exits with :attr:`ExitCode.INVALID` on usage errors.

    Options are spelled in full: with argparse's prefixes, ``check --base P`` (diff's
    option) was read as ``--baseline P`` and passed a gate on "nothing new".
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(int(ExitCode.INVALID), f"{self.prog}: error: {safe(message)}\n")


def stdout_console() -> Console:
    """A rich console on standard output; fixed width when piped, for stable bytes."""
    width = None if sys.stdout.isatty() else 120
    return Console(width=width, highlight=False, soft_wrap=False, markup=False)


def print_diagnostics(diags: Sequence[Diagnostic]) -> None:
    """Print diagnostics to standard error, one ``FILE:LINE:COL: level: message`` a line."""
    for d in diags:
        print(str(d), file=sys.stderr)


def warnings_gate(warnings: Sequence[Diagnostic], strict: bool) -> None:
    """Print warnings; with ``--strict`` raise them as errors."""
    if not warnings:
        return
    if strict:
        raise InputError(
            [
                Diagnostic(w.path, w.line, w.column, "error", w.message + " (--strict)", w.omitted)
                for w in warnings
            ]
        )
    print_diagnostics(warnings)


def load_scenario(
    topology: str,
    policies: Sequence[str] | None,
    strict: bool,
    *,
    warn: bool = True,
    defer: bool = False,
) -> tuple[LoadedTopology, list[LoadedPolicy]]:
    """Load a topology and policies (folders expanded), report every error at once.

    Warnings (spec §1) are printed to standard error, or raised with ``strict``;
    ``warn=False`` leaves them to the caller (``check`` has the policies' warnings
    worked out with the analysis, see :func:`ztsim.analysis.analyze.analyze`).

    ``defer`` (with ``warn=False``): when the topology is valid, the policies are
    parsed but validated when first used (:func:`ztsim.inputs.loader.read_policies`);
    :func:`ztsim.analysis.analyze.analyze` then reports their errors as this would.
    """
    from ztsim.inputs.loader import (
        load_policies,
        load_topology,
        policy_warnings,
        prefetch_policies,
        read_policies,
    )

    errors: list[Diagnostic] = []
    topo = None
    pols: list[LoadedPolicy] = []
    # Large policy files are parsed in a child while the topology loads here.
    with prefetch_policies(policies or []) as ahead:
        try:
            topo = load_topology(topology)
        except InputError as exc:
            errors.extend(exc.diagnostics)
        if policies:
            # Validated later only if nothing is to report now (a bad topology
            # reports its policies' errors with its own).
            read = read_policies if defer and not warn and not errors else load_policies
            try:
                pols = read(policies, prefetched=ahead)
            except InputError as exc:
                errors.extend(exc.diagnostics)
            if not errors and not pols:
                msg = "no policy file found"
                raise InputError([Diagnostic(str(policies[0]), 1, 1, "error", msg)])
    if errors:
        raise InputError(errors)
    assert topo is not None
    if warn:
        warnings = list(topo.warnings)
        for p in pols:
            warnings.extend(policy_warnings(p, topo))
        warnings_gate(warnings, strict)
    retain(topo, pols)
    return topo, pols


def add_scenario_arguments(p: argparse.ArgumentParser) -> None:
    """The ``TOPOLOGY [--policy FILE|DIR]... [--strict]`` arguments shared by commands."""
    p.add_argument("topology", metavar="TOPOLOGY", help="topology file (.yaml or .json)")
    p.add_argument(
        "--policy",
        "-p",
        action="append",
        metavar="FILE|DIR",
        help="policy file, or a folder of *.yaml policies; repeatable "
        "(none: the reference policy, which allows everything)",
    )
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")


def add_command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help_text: str,
    example: str,
) -> argparse.ArgumentParser:
    """Add a command whose ``--help`` explains it, shows an example and its exit statuses.

    The statuses are the command's row of :data:`EXIT_STATUSES` (which must have one).
    """
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog="example:\n" + textwrap.indent(example, "  ") + "\n\n" + exit_epilog(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return p


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ztsim`` with every command of :mod:`ztsim.cli.commands`."""
    parser = _Parser(
        prog="ztsim",
        description="Zero-trust egress and segmentation policy simulator: exact attacker paths "
        "from initial access to exfiltration, judged against your policies.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ztsim {__version__}")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print to standard error how the time splits (parse, validate, model: "
        "topology indices, compile: policies, fixpoint, plans, judge, output: the rest)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    import ztsim.cli.commands as pkg

    modules = sorted(
        (m.name for m in pkgutil.iter_modules(pkg.__path__)),
        key=lambda n: (getattr(importlib.import_module(f"ztsim.cli.commands.{n}"), "ORDER", 50), n),
    )
    for name in modules:
        importlib.import_module(f"ztsim.cli.commands.{name}").register(sub)
    return parser


#: Single-path options (attribute -> how the command line spells it). An empty one
#: (`-o "$OUT"` with OUT unset in a CI script) is refused: read as "not given" it
#: would drop the report (-o, --write) or the topology lint checks against (-t), and
#: the gate would pass on less than it was asked. Policy paths are the loader's.
_SINGLE_PATHS = {
    "topology": "the topology",
    "assertions": "--assert",
    "baseline": "--baseline",
    "output": "--output",
    "write": "--write",
}


def _empty_paths(args: argparse.Namespace) -> list[Diagnostic]:
    """An error per single-path option given as the empty string, and per output
    option given as ``-``: not standard output (where the text summary goes too),
    and never a file named ``-`` left in the folder."""
    out = [
        Diagnostic("''", 1, 1, "error", f"an empty path names no file ({label})")
        for attr, label in _SINGLE_PATHS.items()
        if getattr(args, attr, None) == ""
    ]
    out.extend(
        Diagnostic("-", 1, 1, "error", f"standard output ('-') is not accepted by {label}: omit it")
        for attr, label in (("output", "--output"), ("write", "--write"))
        if getattr(args, attr, None) == "-"
    )
    return out


def _utf8_stdout() -> None:
    """Make standard output UTF-8 whatever the locale (``LANG=C``, ``PYTHONIOENCODING=ascii``).

    Names are Unicode: an ASCII or Latin-1 stream would fail on the first ``é`` of a
    report (an internal error, exit 3) or, with replacement, print JSON that is not
    JSON. The bytes are then the same in every environment, as output files are.
    """
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper) and codecs.lookup(stream.encoding).name != "utf-8":
        stream.reconfigure(encoding="utf-8")


class _BestEffortStderr:
    """Standard error whose failures never change a run's exit status.

    Diagnostics are best effort: with descriptor 2 closed (``2>&-``) Python sets
    ``sys.stderr`` to None and ``print(file=None)`` would write warnings and errors
    into standard output (a JSON report with a warning line before it); on a full
    disk (``2>/dev/full``) the failed write escaped as an exception and turned an
    input error (2) or a pass (0) into 1. The exit status is then the only message.
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with suppress(OSError, ValueError):
            if self._stream is not None:
                self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        with suppress(OSError, ValueError):
            if self._stream is not None:
                self._stream.flush()

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ztsim``; returns the exit status."""
    original = sys.stderr
    sys.stderr = cast(TextIO, _BestEffortStderr(original))
    try:
        return _main(argv)
    finally:
        sys.stderr = original


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return ExitCode.INVALID
    if args.profile:
        profiling.enable()
    # One-shot commands run with the cyclic collector paused (see ztsim.perf.heap), and
    # left paused when the process ends right after (entry); the TUI lives long and
    # makes cyclic garbage (widgets), so it keeps the collector.
    gc_mode = nullcontext() if args.command == "tui" else paused_gc(restore=not leaving())
    # Standard output's failures (closed pipe, full disk) raise OutputError, flushed
    # at the end of the block; the TUI owns the terminal and is left alone.
    guard = nullcontext() if args.command == "tui" else guarded_stdout()
    if args.command != "tui":
        _utf8_stdout()
    try:
        with profiling.phase("output"), gc_mode, guard:
            if empty := _empty_paths(args):
                raise InputError(empty)
            return int(args.func(args))
    except InputError as exc:
        print_diagnostics(exc.diagnostics)
        print(f"ztsim: {exc.error_count:,} error(s) in input", file=sys.stderr)
        return ExitCode.INVALID
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    except (OutputError, BrokenPipeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        print(f"ztsim: cannot write output: {safe(str(reason))}", file=sys.stderr)
        return ExitCode.OUTPUT
    except Exception as exc:  # a bug: say so plainly, trace only on request
        if os.environ.get("ZTSIM_DEBUG"):
            raise
        print(
            f"ztsim: internal error: {type(exc).__name__}: {safe(str(exc))} "
            "(ZTSIM_DEBUG=1 for details)",
            file=sys.stderr,
        )
        return ExitCode.INTERNAL
    finally:
        if args.profile:
            print(profiling.report(), file=sys.stderr)


def entry() -> NoReturn:
    """The ``ztsim`` program (console script and ``python -m ztsim``): :func:`main`, then exit.

    Exits with :func:`ztsim.perf.heap.hard_exit`: on large estates, tearing the heap
    down object by object took longer than writing the report.  Call :func:`main`
    instead to run a command inside a longer-lived Python process.
    """
    leave_heap_at_exit()
    hard_exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
