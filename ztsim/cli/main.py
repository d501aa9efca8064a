"""The ``ztsim`` command line: a thin face over :mod:`ztsim.analysis.analyze`.

Each command lives in its own module under :mod:`ztsim.cli.commands` and
registers itself (a ``register(subparsers)`` function); the helpers they share
are in :mod:`ztsim.cli.common`, the exit statuses in :mod:`ztsim.cli.exitcodes`.
This module only builds the parser, runs the command and turns problems into
exit statuses: nothing imports it but the entry points.
"""

from __future__ import annotations

import argparse
import codecs
import importlib
import io
import os
import pkgutil
import sys
from collections.abc import Sequence
from contextlib import nullcontext, suppress
from typing import Any, NoReturn, TextIO, cast

from ztsim._version import __version__
from ztsim.cli.common import print_diagnostics
from ztsim.cli.exitcodes import ExitCode, exit_epilog
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.textsafe import safe
from ztsim.output.outfile import OutputError, guarded_stdout
from ztsim.perf import profiling
from ztsim.perf.heap import hard_exit, leave_heap_at_exit, leaving, paused_gc, say_output_failed

__all__ = ["EPILOG", "build_parser", "entry", "main"]


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


class _Version(argparse.Action):
    """``--version``: ztsim's and the shipped ATT&CK data's (read only when asked)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        from ztsim.inputs.knowledge import attack_version

        print(f"ztsim {__version__} ({attack_version()})")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ztsim`` with every command of :mod:`ztsim.cli.commands`."""
    parser = _Parser(
        prog="ztsim",
        description="Zero-trust egress and segmentation policy simulator: exact attacker paths "
        "from initial access to exfiltration, judged against your policies.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--version",
        action=_Version,
        nargs=0,
        help="show ztsim's version and the ATT&CK version it names, and exit",
    )
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
    # About the command line, not a file: no FILE:1:1 (line 0, see Diagnostic).
    cmd = f"ztsim {args.command}"
    out = [
        Diagnostic(cmd, 0, 0, "error", f"an empty path ('') names no file ({label})")
        for attr, label in _SINGLE_PATHS.items()
        if getattr(args, attr, None) == ""
    ]
    out.extend(
        Diagnostic(cmd, 0, 0, "error", f"standard output ('-') is not accepted by {label}: omit it")
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
        say_output_failed(exc)
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
