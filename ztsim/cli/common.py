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
    "add_k8s_arguments",
    "add_scenario_arguments",
    "load_k8s",
    "load_scenario",
    "print_diagnostics",
    "stdout_console",
    "usage_error",
    "warnings_gate",
]


def stdout_console() -> Console:
    """A rich console on standard output: the terminal's width, or when piped
    ``COLUMNS`` (else a fixed width, for stable bytes; see
    :func:`ztsim.output.tables.output_width`)."""
    from ztsim.output.tables import output_width

    width = output_width(sys.stdout.isatty())
    return Console(width=width, highlight=False, soft_wrap=False, markup=False)


def usage_error(command: str, *messages: str) -> InputError:
    """Errors in how ``command`` was called, not in a file: ``ztsim COMMAND: error: ...``
    (as argparse says them), exit 2, without a made-up ``FILE:1:1``."""
    return InputError([Diagnostic(f"ztsim {command}", 0, 0, "error", m) for m in messages])


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


def _command_line(message: str) -> InputError:
    return InputError([Diagnostic("<command line>", 1, 1, "error", message)])


def load_k8s(
    paths: Sequence[str], overlay: str | None, strict: bool, *, warn: bool = True
) -> tuple[LoadedTopology, LoadedPolicy]:
    """Import Kubernetes manifests (:func:`ztsim.inputs.k8s.importer.import_k8s`): the
    topology and the one policy their network policies compile to.

    The import's notes are printed (raised with ``strict``); ``warn=False`` leaves
    the topology's own warnings to the caller, as :func:`load_scenario` does.
    """
    from ztsim.inputs.k8s.importer import import_k8s

    imported = import_k8s(paths, overlay)
    own = set(imported.topology.warnings)
    warnings_gate([n for n in imported.notes if warn or n not in own], strict)
    retain(imported.topology, [imported.policy])
    return imported.topology, imported.policy


def load_scenario(
    topology: str | None,
    policies: Sequence[str] | None,
    strict: bool,
    *,
    warn: bool = True,
    defer: bool = False,
    k8s: Sequence[str] | None = None,
    overlay: str | None = None,
) -> tuple[LoadedTopology, list[LoadedPolicy]]:
    """Load a scenario (:func:`ztsim.inputs.scenario.load_scenario`) for a command.

    Warnings (spec §1) are printed to standard error, or raised with ``strict``;
    ``warn=False`` leaves them to the caller (``check`` has the policies' warnings
    worked out with the analysis, see :func:`ztsim.analysis.analyze.analyze`), and
    allows ``defer`` (policies validated when first used).  ``k8s`` (manifest
    paths, with an ``overlay``) instead of ``topology`` and ``policies``: see
    :func:`load_k8s`.
    """
    if k8s:
        if topology is not None or policies:
            raise _command_line("--k8s replaces TOPOLOGY and --policy: give one or the other")
        topo, pol = load_k8s(k8s, overlay, strict, warn=warn)
        return topo, [pol]
    if topology is None:
        raise _command_line("a TOPOLOGY file, or Kubernetes manifests with --k8s PATH, is needed")
    if overlay is not None:
        raise _command_line("--overlay goes with --k8s (an overlay adds to imported manifests)")
    loaded = load_files(topology, policies, warnings=warn, defer=defer)
    if warn:
        warnings_gate(loaded.warnings, strict)
    retain(loaded.topology, loaded.policies)
    return loaded.topology, loaded.policies


def add_scenario_arguments(p: argparse.ArgumentParser) -> None:
    """The ``TOPOLOGY [--policy FILE|DIR]... | --k8s PATH... [--overlay FILE]`` and
    ``[--strict]`` arguments shared by commands."""
    p.add_argument("topology", nargs="?", metavar="TOPOLOGY", help="topology file (.yaml or .json)")
    p.add_argument(
        "--policy",
        "-p",
        action="append",
        metavar="FILE|DIR",
        help="policy file, or a folder of *.yaml policies; repeatable "
        "(none: the reference policy, which allows everything)",
    )
    add_k8s_arguments(p)
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")


def add_k8s_arguments(p: argparse.ArgumentParser, *, proposed: bool = False) -> None:
    """``--k8s PATH`` (repeatable) and ``--overlay FILE``; with ``proposed``, also
    ``--k8s-proposed PATH`` (``diff``)."""
    p.add_argument(
        "--k8s",
        action="append",
        metavar="PATH",
        help="Kubernetes manifests (a file or a folder, read recursively; repeatable) "
        "instead of TOPOLOGY and policies: imported as `ztsim import k8s` does",
    )
    if proposed:
        p.add_argument(
            "--k8s-proposed",
            action="append",
            metavar="PATH",
            help="with --k8s: the manifests proposed (repeatable), compared with --k8s's",
        )
    p.add_argument(
        "--overlay",
        metavar="FILE",
        help="with --k8s: the attack ingredients the manifests do not hold (kind: overlay)",
    )


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
