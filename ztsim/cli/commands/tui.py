"""``ztsim tui``: open the terminal UI (the only command that imports Textual)."""

from __future__ import annotations

import argparse

from ztsim.cli.common import add_command, add_k8s_arguments, source_conflict, usage_error
from ztsim.cli.exitcodes import ExitCode

ORDER = 90


def policy_args(args: argparse.Namespace) -> list[str]:
    """The policies to open: the positional ones (the older form), then each ``--policy``.

    Raises
    ------
    InputError
        A policy without a topology (usage error, exit 2).
    """
    policies = [*args.policies, *(args.policy or [])]
    conflict = source_conflict(args.topology, policies, args.k8s, args.aws, args.terraform)
    if conflict is not None:
        raise usage_error("tui", conflict)
    if args.overlay is not None and not (args.k8s or args.aws or args.terraform):
        raise usage_error(
            "tui",
            "--overlay goes with --k8s, --aws or --terraform (an overlay adds to an import)",
        )
    if policies and args.topology is None:
        raise usage_error("tui", "--policy needs a TOPOLOGY: ztsim tui TOPOLOGY --policy FILE|DIR")
    return policies


def run(args: argparse.Namespace) -> int:
    """Open the app on the given scenario, or on the bundled Pajemploi one."""
    policies = policy_args(args)
    from ztsim.engine.ilp import silence_banner
    from ztsim.tui import run as run_tui

    silence_banner()  # HiGHS' banner printed now would land inside the app's screen
    if args.k8s:
        return ExitCode(run_tui(None, watch=args.watch, k8s=args.k8s, overlay=args.overlay))
    if args.aws or args.terraform:
        aws = [*(args.aws or []), *([args.terraform] if args.terraform else [])]
        kind = "aws" if args.aws else "terraform"
        return ExitCode(
            run_tui(None, watch=args.watch, aws=aws, aws_kind=kind, overlay=args.overlay)
        )
    return ExitCode(run_tui(args.topology, policies, watch=args.watch))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tui`` to the parser.

    ``TOPOLOGY --policy FILE|DIR`` as every other command; the policies may also
    follow the topology as positional arguments (the older form, kept).
    """
    p = add_command(
        sub,
        "tui",
        "Open the terminal UI: paths matrix, path detail, topology, traffic, live reload.",
        "ztsim tui topologies/pajemploi.yaml --policy policies/ --watch",
    )
    p.add_argument("topology", nargs="?", metavar="TOPOLOGY", help="default: bundled Pajemploi")
    p.add_argument(
        "policies", nargs="*", metavar="POLICY|DIR", help="policy files or folders (as --policy)"
    )
    p.add_argument(
        "--policy",
        "-p",
        action="append",
        metavar="FILE|DIR",
        help="policy file, or a folder of *.yaml policies; repeatable",
    )
    add_k8s_arguments(p)
    p.add_argument("--watch", action="store_true", help="reload when a file changes")
    p.set_defaults(func=run)
