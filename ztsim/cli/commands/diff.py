"""``ztsim diff``: what a proposed policy opens, closes and breaks against a base policy."""

from __future__ import annotations

import argparse
import sys

from ztsim.cli.common import add_command, load_scenario
from ztsim.cli.exitcodes import ExitCode
from ztsim.model.diagnostics import Diagnostic, InputError

ORDER = 50


def run(args: argparse.Namespace) -> int:
    """Judge both policies; exit 1 when the ``--fail-on`` criterion is met."""
    from ztsim.output.console import dump_json
    from ztsim.output.diff import diff_json, diff_markdown, diff_text
    from ztsim.whatif.diff import diff_policies

    if args.max_paths < 1:
        raise InputError([Diagnostic("<command line>", 1, 1, "error", "--max-paths must be >= 1")])
    topo, pols = load_scenario(args.topology, [args.base, args.proposed], args.strict)
    if len(pols) != 2:
        raise InputError(
            [
                Diagnostic(
                    "<command line>", 1, 1, "error", "--base and --proposed name one file each"
                )
            ]
        )
    d = diff_policies(topo, pols[0], pols[1], args.max_paths)
    if args.format == "json":
        sys.stdout.write(dump_json(diff_json(d, args.fail_on)))
    elif args.format == "markdown":
        sys.stdout.write(diff_markdown(d, args.fail_on))
    else:
        sys.stdout.write(diff_text(d, args.fail_on))
    return ExitCode.REGRESSION if d.failed(args.fail_on) else ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``diff`` to the parser."""
    p = add_command(
        sub,
        "diff",
        "Compare a proposed policy with a base one: goals and attack plans opened or closed "
        "(with the step and rule responsible), legitimate flows broken or restored, rules "
        "added, removed, changed or reordered. Exit 1 when --fail-on is met.",
        "ztsim diff topologies/pajemploi.yaml --base policies/segmented.yaml \\\n"
        "    --proposed policies/zero-trust.yaml --format markdown",
    )
    p.add_argument("topology", metavar="TOPOLOGY", help="topology file")
    p.add_argument("--base", required=True, metavar="POLICY", help="the policy in force")
    p.add_argument("--proposed", required=True, metavar="POLICY", help="the policy proposed")
    p.add_argument(
        "--format", choices=("text", "json", "markdown"), default="text", help="output format"
    )
    p.add_argument(
        "--fail-on",
        choices=("opened", "broken-traffic", "any"),
        default="opened",
        help="exit 1 when the proposed policy opens a goal or plan the base blocks (opened, "
        "default), newly breaks a legitimate flow (broken-traffic), or either (any)",
    )
    p.add_argument(
        "--max-paths", "-k", type=int, default=5, metavar="K", help="plans compared per goal"
    )
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(func=run)
