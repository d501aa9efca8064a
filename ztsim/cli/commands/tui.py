"""``ztsim tui``: open the terminal UI (the only command that imports Textual)."""

from __future__ import annotations

import argparse

from ztsim.cli.common import add_command
from ztsim.cli.exitcodes import ExitCode

ORDER = 90


def run(args: argparse.Namespace) -> int:
    """Open the app on the given scenario, or on the bundled Pajemploi one."""
    from ztsim.engine.ilp import silence_banner
    from ztsim.tui import run as run_tui

    silence_banner()  # HiGHS' banner printed now would land inside the app's screen
    return ExitCode(run_tui(args.topology, args.policies, watch=args.watch))


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tui`` to the parser."""
    p = add_command(
        sub,
        "tui",
        "Open the terminal UI: paths matrix, path detail, topology, traffic, live reload.",
        "ztsim tui topologies/pajemploi.yaml policies/ --watch",
    )
    p.add_argument("topology", nargs="?", metavar="TOPOLOGY", help="default: bundled Pajemploi")
    p.add_argument("policies", nargs="*", metavar="POLICY|DIR", help="policy files or folders")
    p.add_argument("--watch", action="store_true", help="reload when a file changes")
    p.set_defaults(func=run)
