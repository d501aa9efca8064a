"""What every command of :mod:`ztsim.cli.commands` shares: arguments, loading, printing.

Commands import this module and :mod:`ztsim.cli.exitcodes`, never
:mod:`ztsim.cli.main`, which imports them (by name, when it builds the parser).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Sequence
from typing import Any

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
    "imported_paths",
    "imported_sources",
    "load_aws",
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
    """A usage error, said as argparse says them (``ztsim: error: ...``, no place)."""
    return InputError([Diagnostic("ztsim", 0, 0, "error", message)])


def source_conflict(
    topology: str | None,
    policies: Sequence[str] | None,
    k8s: Sequence[str] | None,
    aws: Sequence[str] | None,
    terraform: str | None,
) -> str | None:
    """What is wrong with the estate's sources a command was given, else ``None``: an
    import option (``--k8s``, ``--aws``, ``--terraform``) is given alone, instead of
    ``TOPOLOGY`` and ``--policy``."""
    given = [o for o, v in (("--k8s", k8s), ("--aws", aws), ("--terraform", terraform)) if v]
    if len(given) > 1:
        return f"{' and '.join(given)}: give one source of the estate"
    if given and (topology is not None or policies):
        # `--k8s a/ b/` reads b/ as TOPOLOGY: say how to give several paths
        opt = given[0]
        several = (
            f" (several paths: repeat the option, {opt} A {opt} B)"
            if topology is not None and opt != "--terraform"  # one plan file
            else ""
        )
        return f"{opt} replaces TOPOLOGY and --policy: give one or the other{several}"
    return None


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


def load_aws(
    aws: Sequence[str] | None,
    terraform: str | None,
    overlay: str | None,
    strict: bool,
    *,
    warn: bool = True,
) -> tuple[LoadedTopology, LoadedPolicy]:
    """Import an AWS estate: ``describe-*`` JSON (``aws``: files and folders,
    :func:`ztsim.inputs.aws.importer.import_aws`) or what a Terraform plan would
    build (``terraform``, :func:`ztsim.inputs.aws.terraform_import.import_terraform`);
    notes printed as :func:`load_k8s` prints them."""
    if aws:
        from ztsim.inputs.aws.importer import import_aws

        imported = import_aws(aws, overlay)
    else:
        from ztsim.inputs.aws.terraform_import import import_terraform

        assert terraform is not None
        imported = import_terraform(terraform, overlay)
    own = set(imported.topology.warnings)
    warnings_gate([n for n in imported.notes if warn or n not in own], strict)
    retain(imported.topology, [imported.policy])
    return imported.topology, imported.policy


def imported_sources(args: argparse.Namespace) -> dict[str, Any]:
    """The import options of a command's arguments (``--k8s``, ``--aws``,
    ``--terraform``, ``--overlay``), as :func:`load_scenario` takes them."""
    return {
        "k8s": getattr(args, "k8s", None),
        "aws": getattr(args, "aws", None),
        "terraform": getattr(args, "terraform", None),
        "overlay": getattr(args, "overlay", None),
    }


def imported_paths(args: argparse.Namespace) -> list[str]:
    """Every file or folder an import option names (an ``--output`` never replaces one)."""
    sources = imported_sources(args)
    return [
        *(sources["k8s"] or []),
        *(sources["aws"] or []),
        *([sources["terraform"]] if sources["terraform"] else []),
        *([sources["overlay"]] if sources["overlay"] else []),
    ]


def load_scenario(
    topology: str | None,
    policies: Sequence[str] | None,
    strict: bool,
    *,
    warn: bool = True,
    defer: bool = False,
    k8s: Sequence[str] | None = None,
    overlay: str | None = None,
    aws: Sequence[str] | None = None,
    terraform: str | None = None,
) -> tuple[LoadedTopology, list[LoadedPolicy]]:
    """Load a scenario (:func:`ztsim.inputs.scenario.load_scenario`) for a command.

    Warnings (spec §1) are printed to standard error, or raised with ``strict``;
    ``warn=False`` leaves them to the caller (``check`` has the policies' warnings
    worked out with the analysis, see :func:`ztsim.analysis.analyze.analyze`), and
    allows ``defer`` (policies validated when first used).  ``k8s`` (manifest
    paths), ``aws`` (``describe-*`` JSON) or ``terraform`` (a plan), with an
    ``overlay``, instead of ``topology`` and ``policies``: see :func:`load_k8s`
    and :func:`load_aws`.
    """
    conflict = source_conflict(topology, policies, k8s, aws, terraform)
    if conflict is not None:
        raise _command_line(conflict)
    if k8s:
        topo, pol = load_k8s(k8s, overlay, strict, warn=warn)
        return topo, [pol]
    if aws or terraform:
        topo, pol = load_aws(aws, terraform, overlay, strict, warn=warn)
        return topo, [pol]
    if topology is None:
        raise _command_line(
            "a TOPOLOGY file, or an estate to import (--k8s PATH, --aws PATH or "
            "--terraform PLAN.json), is needed"
        )
    if overlay is not None:
        raise _command_line(
            "--overlay goes with --k8s, --aws or --terraform (an overlay adds to an import)"
        )
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
    """``--k8s PATH`` (repeatable), ``--aws PATH`` (repeatable), ``--terraform
    PLAN.json`` and ``--overlay FILE``; with ``proposed``, also ``--k8s-proposed
    PATH`` and ``--aws-proposed PATH`` (``diff``)."""
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
        "--aws",
        action="append",
        metavar="PATH",
        help="AWS describe-* JSON (a file or a folder, read recursively; repeatable) instead "
        "of TOPOLOGY and policies: imported as `ztsim import aws` does",
    )
    if proposed:
        p.add_argument(
            "--aws-proposed",
            action="append",
            metavar="PATH",
            help="with --aws: the describe-* JSON proposed (repeatable), compared with --aws's",
        )
    p.add_argument(
        "--terraform",
        metavar="PLAN.json",
        help="`terraform show -json` output instead of TOPOLOGY and policies: what the plan "
        "builds (diff: its prior state against it), imported as `ztsim import terraform` does",
    )
    p.add_argument(
        "--overlay",
        metavar="FILE",
        help="with --k8s, --aws or --terraform: the attack ingredients the import does not "
        "hold (kind: overlay)",
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
