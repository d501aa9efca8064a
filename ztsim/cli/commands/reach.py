"""``ztsim reach``: the allowed-connectivity map of each policy (a segmentation map).

Per policy, every ordered pair of endpoints with an allowed service, its services
and the rule (``FILE:LINE``), default or ``intra_zone`` that decides each
(:mod:`ztsim.engine.connectivity`, rendered by :mod:`ztsim.output.reach`).  It is a
report, not a gate: exit 0 whatever the policies allow.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ztsim.cli.common import (
    add_command,
    add_scenario_arguments,
    imported_paths,
    imported_sources,
    load_scenario,
)
from ztsim.cli.exitcodes import ExitCode
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.textsafe import safe
from ztsim.output.outfile import check_target, write_output

if TYPE_CHECKING:
    from ztsim.engine.connectivity import PolicyMap
    from ztsim.inputs.loaded import LoadedTopology

ORDER = 35

_FORMATS = ("text", "json", "csv", "md", "dot")


def _usage(message: str) -> InputError:
    return InputError([Diagnostic("ztsim reach", 0, 0, "error", message)])


def _maps(args: argparse.Namespace) -> tuple[LoadedTopology, list[PolicyMap]]:
    """Load the scenario and map each policy (the reference policy when none)."""
    from ztsim.engine.connectivity import reach_map
    from ztsim.engine.endpoints import Scope
    from ztsim.inputs.loaded import reference_policy

    try:
        scope = Scope.parse(args.sources or [], args.targets or [])
    except ValueError as exc:
        raise _usage(str(exc)) from None
    topo, pols = load_scenario(args.topology, args.policy, args.strict, **imported_sources(args))
    problems = scope.problems(topo)
    if problems:
        raise InputError([Diagnostic("ztsim reach", 0, 0, "error", p) for p in problems])
    maps = [
        reach_map(topo, p, all_ports=args.all_ports, scope=scope)
        for p in (pols or [reference_policy()])
    ]
    return topo, maps


def run(args: argparse.Namespace) -> int:
    """Map each policy's allowed connections and print (or write) them."""
    from ztsim.output.reach import iter_reach, render_reach

    inputs = [args.topology, *(args.policy or []), *imported_paths(args)]
    if args.output:
        check_target(args.output, inputs)  # before the run, not after it
    topo, maps = _maps(args)
    if args.output:
        write_output(args.output, render_reach(args.format, topo, maps), inputs)
        print(f"wrote {args.format} to {safe(args.output)}", file=sys.stderr)
    else:
        # Written as it is expanded: a map of millions of pairs is never held whole.
        for piece in iter_reach(args.format, topo, maps):
            sys.stdout.write(piece)
    return ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``reach`` to the parser."""
    p = add_command(
        sub,
        "reach",
        "Map what each policy allows: every ordered pair of endpoints (hosts, external "
        "zones as sources, external destinations) with an allowed service, its services "
        "and the rule (FILE:LINE), default or intra_zone deciding each. By default the "
        "services each destination serves (public ones only from an external zone); "
        "--all-ports: the policy's decision on every port and protocol.",
        "ztsim reach topologies/pajemploi.yaml --policy policies/zero-trust.yaml\n"
        "ztsim reach topologies/k8s-shop.yaml -p policies/k8s-shop/ --all-ports "
        "--from zone:shop --to label:app=orders-db --format json",
    )
    add_scenario_arguments(p)
    p.add_argument(
        "--all-ports",
        action="store_true",
        help="the policy's decision on every port and protocol, whether or not something "
        "listens or is public (what Kubernetes reports); default: the services each "
        "destination serves",
    )
    selector_help = (
        "only {what} matching SEL: terms KIND:VALUE joined by commas, all of which must "
        "match (zone:NAME, host:ID, label:KEY=VALUE, external:ID); repeatable (any of them)"
    )
    p.add_argument(
        "--from",
        dest="sources",
        action="append",
        metavar="SEL",
        help=selector_help.format(what="sources (hosts, external zones)"),
    )
    p.add_argument(
        "--to",
        dest="targets",
        action="append",
        metavar="SEL",
        help=selector_help.format(what="destinations (hosts, external destinations)"),
    )
    p.add_argument("--format", choices=_FORMATS, default="text", help="output format")
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the map to FILE (atomically; never over an input of the run), "
        "not standard output",
    )
    p.set_defaults(func=run)
