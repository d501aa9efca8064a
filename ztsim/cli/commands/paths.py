"""``ztsim paths``: attack plans step by step, judged under each policy."""

from __future__ import annotations

import argparse
import sys

from ztsim.cli.common import (
    add_command,
    add_scenario_arguments,
    imported_sources,
    load_scenario,
    stdout_console,
    usage_error,
)
from ztsim.cli.exitcodes import ExitCode
from ztsim.perf.heap import retain

ORDER = 30


def run(args: argparse.Namespace) -> int:
    """List plans per goal and their verdict under each policy."""
    from ztsim.analysis.analyze import Needs, analyze
    from ztsim.output.console import paths_json_text, render_paths, select_goals

    if args.max_paths < 1:
        raise usage_error("paths", "--max-paths must be >= 1")
    topo, pols = load_scenario(args.topology, args.policy, args.strict, **imported_sources(args))
    a = analyze(topo, pols, Needs(plan_listing=True))  # one solve per policy serves both
    retain(a)
    try:
        goals = select_goals(a.goals, args.goal)
    except ValueError as exc:
        raise usage_error("paths", *exc.args[0]) from None
    rows = a.plans_by_goal(goals, args.max_paths)
    if args.format == "json":
        sys.stdout.write(paths_json_text(a, rows))
    else:
        console = stdout_console()
        render_paths(console, a, rows)
        if args.rules:
            from ztsim.analysis.judged import rows_impact
            from ztsim.output.console import render_rule_impact

            listed = [row for rs in rows.values() for row in rs]
            render_rule_impact(console, rows_impact(a, [row.verdicts for row in listed]))
    return ExitCode.REACHABLE if a.exit_code else ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``paths`` to the parser."""
    p = add_command(
        sub,
        "paths",
        "List attack plans per goal, step by step with ATT&CK techniques, and whether "
        "each policy blocks them (where, by which rule) or leaves them open.",
        "ztsim paths topologies/pajemploi.yaml --policy policies/ --goal payroll-records",
    )
    add_scenario_arguments(p)
    p.add_argument(
        "--goal",
        action="append",
        metavar="GOAL",
        help="only this goal: DATA (both goals about a data item), exfiltrate(DATA) or "
        "tamper(DATA); repeatable",
    )
    p.add_argument(
        "--max-paths", "-k", type=int, default=5, metavar="K", help="plans per goal (default 5)"
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument(
        "--rules",
        action="store_true",
        help="text: add a per-rule table (plans each rule enables and blocks among those "
        "listed, legitimate flows it carries); JSON always has it under `rules`",
    )
    p.set_defaults(func=run)
