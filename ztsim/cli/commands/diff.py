"""``ztsim diff``: what a proposed policy opens, closes and breaks against a base policy."""

from __future__ import annotations

import argparse
import sys

from ztsim.cli.common import add_command, add_k8s_arguments, load_scenario, warnings_gate
from ztsim.cli.exitcodes import ExitCode
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.diagnostics import Diagnostic, InputError

ORDER = 50


def run(args: argparse.Namespace) -> int:
    """Judge both policies; exit 1 when the ``--fail-on`` criterion is met."""
    from ztsim.output.console import dump_json
    from ztsim.output.diff import diff_json, diff_markdown, diff_text
    from ztsim.whatif.diff import diff_policies

    if args.max_paths < 1:
        raise InputError([Diagnostic("ztsim diff", 0, 0, "error", "--max-paths must be >= 1")])
    if args.terraform or args.aws or args.aws_proposed:
        topo, pols = _aws(args)
    elif args.k8s or args.k8s_proposed:
        topo, pols = _k8s(args)
    else:
        if args.base is None or args.proposed is None:
            raise InputError(
                [Diagnostic("ztsim diff", 0, 0, "error", "--base and --proposed are needed")]
            )
        topo, pols = load_scenario(args.topology, [args.base, args.proposed], args.strict)
    if len(pols) != 2:
        raise InputError(
            [Diagnostic("ztsim diff", 0, 0, "error", "--base and --proposed name one file each")]
        )
    d = diff_policies(topo, pols[0], pols[1], args.max_paths)
    if args.format == "json":
        sys.stdout.write(dump_json(diff_json(d, args.fail_on)))
    elif args.format == "markdown":
        sys.stdout.write(diff_markdown(d, args.fail_on))
    else:
        sys.stdout.write(diff_text(d, args.fail_on))
    return ExitCode.REGRESSION if d.failed(args.fail_on) else ExitCode.OK


def _k8s(args: argparse.Namespace) -> tuple[LoadedTopology, list[LoadedPolicy]]:
    """``--k8s BASE --k8s-proposed HEAD``: both on one topology
    (:func:`ztsim.inputs.k8s.pair.import_k8s_pair` says which, and why)."""
    from ztsim.inputs.k8s.pair import import_k8s_pair

    if not args.k8s or not args.k8s_proposed:
        msg = "--k8s (the manifests in force) and --k8s-proposed go together"
        raise InputError([Diagnostic("ztsim diff", 0, 0, "error", msg)])
    if args.topology is not None or args.base is not None or args.proposed is not None:
        msg = "--k8s replaces TOPOLOGY, --base and --proposed: give one or the other"
        raise InputError([Diagnostic("ztsim diff", 0, 0, "error", msg)])
    pair = import_k8s_pair(args.k8s, args.k8s_proposed, args.overlay)
    warnings_gate(list(pair.notes), args.strict)
    return pair.topology, [pair.base, pair.proposed]


def _aws(args: argparse.Namespace) -> tuple[LoadedTopology, list[LoadedPolicy]]:
    """``--terraform PLAN`` (its prior state against what it builds) or ``--aws BASE
    --aws-proposed HEAD``: both on one topology
    (:mod:`ztsim.inputs.aws.terraform_import` says which, and why)."""
    from ztsim.inputs.aws.terraform_import import import_aws_pair, import_terraform_pair

    if args.topology is not None or args.base is not None or args.proposed is not None:
        msg = "--terraform and --aws replace TOPOLOGY, --base and --proposed: give one or the other"
        raise InputError([Diagnostic("ztsim diff", 0, 0, "error", msg)])
    if args.k8s or args.k8s_proposed or (args.terraform and (args.aws or args.aws_proposed)):
        msg = "give one source of the estate: --terraform, --aws or --k8s"
        raise InputError([Diagnostic("ztsim diff", 0, 0, "error", msg)])
    if args.terraform:
        pair = import_terraform_pair(args.terraform, args.overlay)
    elif not args.aws or not args.aws_proposed:
        msg = "--aws (the estate in force) and --aws-proposed go together"
        raise InputError([Diagnostic("ztsim diff", 0, 0, "error", msg)])
    else:
        pair = import_aws_pair(args.aws, args.aws_proposed, args.overlay)
    warnings_gate(list(pair.notes), args.strict)
    return pair.topology, [pair.base, pair.proposed]


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``diff`` to the parser."""
    p = add_command(
        sub,
        "diff",
        "Compare a proposed policy with a base one: goals and attack plans opened or closed "
        "(with the step and rule responsible), legitimate flows broken or restored, rules "
        "added, removed, changed or reordered. Exit 1 when --fail-on is met.",
        "ztsim diff topologies/pajemploi.yaml --base policies/segmented.yaml \\\n"
        "    --proposed policies/zero-trust.yaml --format markdown\n"
        "ztsim diff --terraform plan.json --overlay attack.yaml",
    )
    p.add_argument("topology", nargs="?", metavar="TOPOLOGY", help="topology file")
    p.add_argument("--base", metavar="POLICY", help="the policy in force")
    p.add_argument("--proposed", metavar="POLICY", help="the policy proposed")
    add_k8s_arguments(p, proposed=True)
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
