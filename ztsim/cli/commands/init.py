"""``ztsim init [DIR]``: copy a bundled scenario, so a pip user starts from a working example.

The files keep the layout of ztsim's own repository (``topologies/``, ``policies/``,
``assertions/``), so every command of the README runs as written inside ``DIR``.
A file already there is never overwritten without ``--force``: all targets are
checked before the first is written, so a refused run writes nothing.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
from pathlib import Path

from ztsim.cli.common import add_command, usage_error
from ztsim.cli.exitcodes import ExitCode
from ztsim.inputs.bundled import SCENARIOS, scenario_files
from ztsim.model.textsafe import safe

__all__ = ["register", "run"]

ORDER = 5


def _write(target: Path, data: bytes) -> None:
    """``data`` to ``target`` through a temporary file renamed over it (never half written)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    """Copy the scenario's files into ``args.dir``; refuse to overwrite without --force."""
    dest = Path(args.dir)
    if dest.exists() and not dest.is_dir():
        raise usage_error("init", f"{args.dir} exists and is not a folder")
    files = scenario_files(args.scenario)
    existing = [rel for rel, _ in files if (dest / rel).exists() or (dest / rel).is_symlink()]
    if existing and not args.force:
        listed = ", ".join(existing)
        raise usage_error(
            "init", f"would overwrite {listed} in {args.dir}: nothing written (--force overwrites)"
        )
    for rel, src in files:
        target = dest / rel
        if target.is_dir():
            raise usage_error("init", f"{target} is a folder: nothing more written")
        _write(target, src.read_bytes())
        print(safe(f"wrote {target}"), file=sys.stderr)
    topo = next(rel for rel, _ in files if rel.startswith("topologies/"))
    pols = "policies/" if args.scenario == SCENARIOS[0] else f"policies/{args.scenario}/"
    asserts = next(rel for rel, _ in files if rel.startswith("assertions/"))
    cd = "" if dest.resolve() == Path.cwd().resolve() else f"cd {shlex.quote(args.dir)} && "
    print(safe(f"scenario {args.scenario} copied to {args.dir}; try:"))
    print(safe(f"  {cd}ztsim check {topo} --policy {pols}"))
    print(safe(f"  ztsim check {topo} --policy {pols} --assert {asserts}"))
    print(safe(f"  ztsim tui {topo} {pols}"))
    return ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``init`` to the parser."""
    p = add_command(
        sub,
        "init",
        "Copy a bundled example scenario (topology, policies, intent assertions) into a "
        "folder, to start from a working example. Never overwrites a file without --force.",
        "ztsim init my-network && cd my-network && ztsim check topologies/pajemploi.yaml "
        "--policy policies/",
    )
    p.add_argument(
        "dir", nargs="?", default=".", metavar="DIR", help="where to copy it (default: here)"
    )
    p.add_argument(
        "--scenario",
        choices=SCENARIOS,
        default=SCENARIOS[0],
        help=f"which scenario (default {SCENARIOS[0]})",
    )
    p.add_argument("--force", action="store_true", help="overwrite files already there")
    p.set_defaults(func=run)
