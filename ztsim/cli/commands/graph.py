"""``ztsim graph``: export the attack graph for other tools, or draw plans as SVG."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ztsim.cli.common import add_command, load_scenario, usage_error
from ztsim.cli.exitcodes import ExitCode
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.textsafe import safe
from ztsim.output.outfile import check_target, write_output

ORDER = 40


def run(args: argparse.Namespace) -> int:
    """Solve under one policy and write the graph as GraphML, DOT or JSON.

    One graph is one policy's: several policies (``-p`` repeated, or a folder of
    more than one) are refused rather than one of them silently picked.
    """
    from ztsim.engine.attack import AttackModel
    from ztsim.engine.fixpoint import solve
    from ztsim.inputs.loaded import reference_policy
    from ztsim.output.graph import attack_graph, to_dot, to_graphml, to_json

    given: list[str] = args.policy or []
    if len(given) > 1:
        msg = f"graph exports one policy's attack graph; --policy given {len(given)} times"
        raise InputError([Diagnostic("ztsim graph", 0, 0, "error", msg)])
    inputs = [args.topology, *given]
    if args.output:
        check_target(args.output, inputs)  # before the solve, not after it
    topo, pols = load_scenario(args.topology, given or None, args.strict)
    if len(pols) > 1:
        msg = (
            f"graph exports one policy's attack graph; {given[0]} holds {len(pols)} "
            "policies: name one file"
        )
        raise InputError([Diagnostic(given[0], 1, 1, "error", msg)])
    policy = pols[0] if pols else reference_policy()
    if args.plan is not None or args.format == "svg":
        text, what = _plans_output(args, topo, policy)
        if args.output:
            write_output(args.output, text, inputs)
            print(f"wrote {safe(args.output)}: {what}", file=sys.stderr)
        else:
            sys.stdout.write(text)
        return ExitCode.OK
    model = AttackModel(topo)
    exhaustive = not args.cheapest and len(topo.hosts) <= args.exhaustive_limit
    sol = solve(model, model.compile(policy), exhaustive=exhaustive)
    g = attack_graph(sol)
    writers: dict[str, Callable[[Any], str]] = {
        "graphml": to_graphml,
        "dot": to_dot,
        "json": to_json,
    }
    text = writers[args.format](g)
    if args.output:
        write_output(args.output, text, inputs)
        n, e = g.number_of_nodes(), g.number_of_edges()
        print(f"wrote {safe(args.output)}: {n} nodes, {e} edges", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return ExitCode.OK


def _plans_output(
    args: argparse.Namespace, topo: LoadedTopology, policy: LoadedPolicy
) -> tuple[str, str]:
    """``--plan ID`` (one plan's sub-graph or drawing) or ``--format svg`` (the plans
    listed, merged, drawn as the HTML report draws them); and what was written."""
    from ztsim.analysis.analyze import Needs, analyze
    from ztsim.output.drawing.attack import block_marks, plan_figure, plans_figure, topology_places
    from ztsim.output.drawing.svg import render_svg
    from ztsim.output.graph import plan_graph, to_dot, to_graphml, to_json

    if args.max_paths < 1:
        raise usage_error("graph", "--max-paths must be >= 1")
    a = analyze(topo, [policy], Needs(plan_listing=True))
    rows = [row for rs in a.plans_by_goal(a.goals, args.max_paths).values() for row in rs]
    if args.plan is None:
        zones, external = topology_places(topo)
        fig = plans_figure(
            "plans",
            f"{len(rows)} plan(s) listed under {policy.name}, merged",
            [row.plan.steps for row in rows],
            zones=zones,
            external=external,
            numbered=False,
        )
        return render_svg(fig), f"{len(rows)} plan(s) drawn"
    row = next((r for r in rows if r.plan.ident == args.plan), None)
    if row is None:
        known = ", ".join(r.plan.ident for r in rows) or "none"
        msg = (
            f"--plan {args.plan}: no such plan among the {len(rows)} listed with "
            f"--max-paths {args.max_paths} (ztsim paths lists them): {known}"
        )
        raise usage_error("graph", msg)
    plan = row.plan
    if args.format == "svg":
        marks = block_marks(row.verdicts, [policy])
        title = f"plan {plan.ident} under {policy.name}: {row.verdicts[0].explanation}"
        return render_svg(plan_figure(plan.ident, title, plan.steps, topo, marks)), "1 plan drawn"
    g = plan_graph(plan, topo, policy.name)
    writers: dict[str, Callable[[Any], str]] = {
        "graphml": to_graphml,
        "dot": to_dot,
        "json": to_json,
    }
    return writers[args.format](g), f"{g.number_of_nodes()} nodes, {g.number_of_edges()} edges"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``graph`` to the parser."""
    p = add_command(
        sub,
        "graph",
        "Export the attack graph under one policy (fact and step nodes; edges precondition "
        "-> step -> fact). Several policies (-p repeated, a folder of more than one) are "
        "refused: run graph once per policy.",
        "ztsim graph topologies/pajemploi.yaml -p policies/flat.yaml --format graphml -o g.xml\n"
        "ztsim graph topologies/pajemploi.yaml -p policies/segmented.yaml --plan 990a6a9c "
        "--format svg -o plan.svg",
    )
    p.add_argument("topology", metavar="TOPOLOGY", help="topology file")
    p.add_argument(
        "--policy",
        "-p",
        action="append",
        metavar="FILE",
        help="the one policy (default: the reference policy); a folder must hold exactly one",
    )
    p.add_argument(
        "--format",
        choices=("graphml", "dot", "json", "svg"),
        required=True,
        help="graphml, dot (zones as clusters), json; svg: the plans drawn as the HTML "
        "report draws them (with --plan, that plan and where the policy blocks it)",
    )
    p.add_argument(
        "--plan",
        metavar="ID",
        help="only this plan (its id as ztsim paths and the report show it): its steps and "
        "the facts they need and give, blocked or not under the policy",
    )
    p.add_argument(
        "--max-paths",
        "-k",
        type=int,
        default=5,
        metavar="K",
        help="plans listed per goal for --plan and svg (default 5, as paths)",
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write to FILE (atomically; never over an input of the run), not standard output",
    )
    p.add_argument(
        "--cheapest",
        action="store_true",
        help="only the steps the engine fired for cheapest plans, not every step instance",
    )
    p.add_argument(
        "--exhaustive-limit",
        type=int,
        default=2000,
        metavar="N",
        help="above N hosts, export the cheapest-steps graph (default 2000)",
    )
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(func=run)
