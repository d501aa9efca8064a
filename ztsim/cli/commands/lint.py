"""``ztsim lint``: shadowed, duplicate, dead, over-broad and exfiltration-prone rules."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import TYPE_CHECKING

from ztsim.cli.common import add_command, print_diagnostics, usage_error
from ztsim.cli.exitcodes import ExitCode
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.textsafe import safe

if TYPE_CHECKING:
    from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
    from ztsim.whatif.lint import Finding

ORDER = 55

#: A policy, its findings and its notes.
_Linted = tuple["LoadedPolicy", list["Finding"], list[str]]


def _forms(args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """The topology (or None) and the policy paths, from either form of the command.

    ``lint [TOPOLOGY] --policy P...`` is the form every command has; the old
    ``lint POLICY... [--topology T]`` still works, with a note on standard error.
    """
    if args.policy:
        if len(args.paths) > 1:
            raise usage_error(
                "lint", f"one topology at most before --policy (got {len(args.paths)} paths)"
            )
        if args.paths and args.topology is not None:
            raise usage_error("lint", "the topology is given twice (TOPOLOGY and --topology)")
        topology = args.paths[0] if args.paths else args.topology
        if args.topology is not None:
            _deprecated(f"lint {args.topology} --policy ...", "--topology")
        return topology, list(args.policy)
    if not args.paths:
        raise usage_error("lint", "no policy: ztsim lint [TOPOLOGY] --policy FILE|DIR...")
    words = [args.topology] if args.topology else []
    for path in args.paths:
        words += ["--policy", path]
    new = shlex.join(words)
    _deprecated(f"lint {new}", "POLICY... [--topology TOPOLOGY]")
    return args.topology, list(args.paths)


def _deprecated(instead: str, old: str) -> None:
    print(
        safe(f"ztsim lint: note: `lint {old}` is deprecated; write `ztsim {instead}`"),
        file=sys.stderr,
    )


def _load(args: argparse.Namespace) -> tuple[LoadedTopology | None, list[LoadedPolicy]]:
    """The topology (if given) and the policies, every error at once; prints the
    policies' warnings on the topology."""
    from ztsim.inputs.checks import policy_warnings
    from ztsim.inputs.loader import load_policies, load_topology

    topology, policies = _forms(args)
    errors: list[Diagnostic] = []
    topo: LoadedTopology | None = None
    if topology:
        try:
            topo = load_topology(topology)
        except InputError as exc:
            errors.extend(exc.diagnostics)
    try:
        pols = load_policies(policies)
    except InputError as exc:
        errors.extend(exc.diagnostics)
        pols = []
    if errors:
        raise InputError(errors)
    if not pols:
        raise InputError([Diagnostic(policies[0], 1, 1, "error", "no policy file found")])
    if topo is not None:
        print_diagnostics([w for p in pols for w in policy_warnings(p, topo)])
    return topo, pols


def _counts(findings: list[Finding]) -> dict[str, int]:
    return {lv: sum(f.level == lv for f in findings) for lv in ("error", "warning", "info")}


def _print_json(topo: LoadedTopology | None, results: list[_Linted]) -> None:
    from ztsim.output.console import dump_json

    payload = {
        "topology": topo.name if topo else None,
        "policies": [
            {
                "policy": p.name,
                "file": p.path,
                "findings": [f.to_json() for f in fs],
                "notes": notes,
                "summary": _counts(fs),
            }
            for p, fs, notes in results
        ],
    }
    sys.stdout.write(dump_json(payload))


def _print_text(topo: LoadedTopology | None, results: list[_Linted]) -> None:
    for p, fs, notes in results:
        for f in fs:
            print(f)
        for n in notes:
            print(safe(f"{p.path}: note: {n}"))
        counts = _counts(fs)
        print(
            f"{safe(p.path)}: {counts['error']} error(s), {counts['warning']} warning(s), "
            f"{counts['info']} info"
            + ("" if topo else " (policy only: give the topology for more)")
        )


def run(args: argparse.Namespace) -> int:
    """Lint each policy; exit 1 when a finding has level error."""
    from ztsim.whatif.lint import lint_policy

    topo, pols = _load(args)
    results: list[_Linted] = []
    worst = ExitCode.OK
    for p in pols:
        findings, notes = lint_policy(p, topo)
        if any(f.level == "error" for f in findings):
            worst = ExitCode.FINDINGS
        results.append((p, findings, notes))
    if args.format == "json":
        _print_json(topo, results)
    else:
        _print_text(topo, results)
    return worst


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``lint`` to the parser."""
    p = add_command(
        sub,
        "lint",
        "Find rules that never decide (shadowed, duplicate, matching nothing), rules broader "
        "than the legitimate traffic needs, and egress open to attacker-usable destinations; "
        "each with FILE:LINE and a fix. Exit 1 on findings of level error.",
        "ztsim lint topologies/pajemploi.yaml --policy policies/segmented.yaml\n"
        "ztsim lint --policy policies/    (the policies alone: fewer findings)",
    )
    p.add_argument(
        "paths",
        nargs="*",
        metavar="TOPOLOGY",
        help="the topology the policies are checked against (optional: without it, "
        "only what the policies show alone)",
    )
    p.add_argument(
        "--policy",
        "-p",
        action="append",
        metavar="FILE|DIR",
        help="policy file, or a folder of policies; repeatable",
    )
    p.add_argument(
        "--topology",
        "-t",
        metavar="TOPOLOGY",
        help="deprecated: give the topology first (old form: lint POLICY... --topology T)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.set_defaults(func=run)
