"""What every command of :mod:`ztsim.cli.commands` shares: arguments, loading, printing.

Commands import this module and :mod:`ztsim.cli.exitcodes`, never
:mod:`ztsim.cli.main`, which imports them (by name, when it builds the parser).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence

from rich.console import Console

from ztsim.cli.exitcodes import exit_epilog
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.scenario import load_scenario as load_files
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.perf.heap import retain

__all__ = [
    "add_command",
    "add_scenario_arguments",
    "load_scenario",
    "print_diagnostics",
    "stdout_console",
    "warnings_gate",
]


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
    """Load a scenario (:func:`ztsim.inputs.scenario.load_scenario`) for a command.

    Warnings (spec §1) are printed to standard error, or raised with ``strict``;
    ``warn=False`` leaves them to the caller (``check`` has the policies' warnings
    worked out with the analysis, see :func:`ztsim.analysis.analyze.analyze`), and
    allows ``defer`` (policies validated when first used).
    """
    loaded = load_files(topology, policies, warnings=warn, defer=defer)
    if warn:
        warnings_gate(loaded.warnings, strict)
    retain(loaded.topology, loaded.policies)
    return loaded.topology, loaded.policies


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

    The statuses are the command's row of :data:`ztsim.cli.exitcodes.EXIT_STATUSES`
    (which must have one).
    """
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog="example:\n" + textwrap.indent(example, "  ") + "\n\n" + exit_epilog(name),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    return p
