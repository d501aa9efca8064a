"""``ztsim graph``: export the attack graph for other tools."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ztsim.cli import ExitCode, add_command, load_scenario

ORDER = 40


def run(args: argparse.Namespace) -> int:
    """Solve under one policy and write the graph as GraphML, DOT or JSON."""
    from ztsim.engine import AttackModel, solve
    from ztsim.graph import attack_graph, to_dot, to_graphml, to_json
    from ztsim.loader import reference_policy

    topo, pols = load_scenario(args.topology, [args.policy] if args.policy else None, args.strict)
    policy = pols[0] if pols else reference_policy()
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
        Path(args.output).write_text(text, encoding="utf-8")
        n, e = g.number_of_nodes(), g.number_of_edges()
        print(f"wrote {args.output}: {n} nodes, {e} edges", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``graph`` to the parser."""
    p = add_command(
        sub,
        "graph",
        "Export the attack graph (fact and step nodes; edges precondition -> step -> fact).",
        "ztsim graph topologies/pajemploi.yaml -p policies/flat.yaml --format graphml -o g.xml",
    )
    p.add_argument("topology", metavar="TOPOLOGY", help="topology file")
    p.add_argument("--policy", "-p", metavar="FILE", help="policy (default: the reference policy)")
    p.add_argument("--format", choices=("graphml", "dot", "json"), required=True)
    p.add_argument("--output", "-o", metavar="FILE", help="write to FILE, not standard output")
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
