"""``ztsim check``: the CI verdict of spec §7."""

from __future__ import annotations

import argparse
import sys

from ztsim.cli import ExitCode, add_command, add_scenario_arguments, load_scenario, stdout_console

ORDER = 20


def run(args: argparse.Namespace) -> int:
    """Judge each policy: goals reachable, traffic broken; exit 0 or 1."""
    from ztsim.analysis import analyze
    from ztsim.render import dump_json, render_check

    topo, pols = load_scenario(args.topology, args.policy, args.strict)
    a = analyze(topo, pols)
    if args.format == "json":
        sys.stdout.write(dump_json(a.to_json()))
    else:
        render_check(stdout_console(), a)
    return ExitCode.REACHABLE if a.exit_code else ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``check`` to the parser."""
    p = add_command(
        sub,
        "check",
        "Judge each policy: is any exfiltration or tampering goal reachable? "
        "Which legitimate flows does it break?",
        "ztsim check topologies/pajemploi.yaml --policy policies/ --format json",
    )
    add_scenario_arguments(p)
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.set_defaults(func=run)
