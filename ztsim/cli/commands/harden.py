"""``ztsim harden``: propose a small, verified set of changes that closes every goal."""

from __future__ import annotations

import argparse
import sys

from ztsim.cli.common import (
    add_command,
    add_k8s_arguments,
    imported_paths,
    imported_sources,
    load_scenario,
    stdout_console,
    usage_error,
)
from ztsim.cli.exitcodes import ExitCode
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.textsafe import safe
from ztsim.output.outfile import check_target, write_output

ORDER = 60

_KINDS = ("segmentation", "egress", "mfa", "encryption")


def _kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in _KINDS]
    if bad or not kinds:
        raise usage_error(
            "harden", f"--kinds takes a comma list of {', '.join(_KINDS)} (got {text!r})"
        )
    return kinds


def run(args: argparse.Namespace) -> int:
    """Harden one policy; print the proposal; optionally write the hardened YAML."""
    from ztsim.output.console import dump_json
    from ztsim.output.harden import hardening_json, hardening_text
    from ztsim.whatif.harden import harden
    from ztsim.whatif.yamlout import policy_yaml

    kinds = _kinds(args.kinds)
    if not 1 <= args.depth <= 4:  # ztsim.whatif.depth.MAX_DEPTH, checked before any work
        raise usage_error("harden", f"--depth takes 1 to 4 (got {args.depth})")
    inputs = [args.topology, args.policy, *imported_paths(args)]
    imported = bool(args.k8s or args.aws or args.terraform)
    if imported and args.write:
        # The proposal is ztsim rules, not manifests: printed, never written as them.
        raise usage_error("harden", "--write is not available with --k8s, --aws or --terraform")
    if not imported and args.policy is None:
        raise usage_error("harden", "--policy FILE (or --k8s PATH) is needed")
    if args.write:
        check_target(args.write, inputs, option="--write")  # before the search
    policies = [args.policy] if args.policy is not None else None
    topo, pols = load_scenario(args.topology, policies, args.strict, **imported_sources(args))
    if len(pols) != 1:
        raise InputError(
            [Diagnostic(args.policy, 1, 1, "error", "harden takes exactly one policy file")]
        )
    keep, limit = args.keep_traffic, args.exhaustive_limit
    if args.depth == 1:
        h = harden(topo, pols[0], keep_traffic=keep, kinds=kinds, exhaustive_limit=limit)
    else:
        from ztsim.whatif.depth import harden_depth

        try:
            h = harden_depth(
                topo, pols[0], args.depth, keep_traffic=keep, kinds=kinds, exhaustive_limit=limit
            )
        except ValueError as exc:
            raise usage_error("harden", str(exc)) from None
    if args.format == "json":
        sys.stdout.write(dump_json(hardening_json(h)))
    else:
        from ztsim.output.tables import StyledLines

        lines = StyledLines()  # wrapped at the terminal's width, never inside a word
        for line in hardening_text(h).splitlines():
            lines.add(line)
        stdout_console().print(lines, soft_wrap=True)
    if args.write:
        header = [
            f"Hardened by `ztsim harden {args.topology} --policy {args.policy}`",
            f"from {pols[0].path} ({len(h.changes)} change(s); comments of the original "
            "are not kept).",
            *[f"- {c.text}" for c in h.changes],
        ]
        write_output(args.write, policy_yaml(h.hardened, header), inputs, option="--write")
        print(f"wrote {safe(args.write)}", file=sys.stderr)
    return ExitCode.OK if h.complete else ExitCode.INCOMPLETE


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``harden`` to the parser."""
    p = add_command(
        sub,
        "harden",
        "Propose a small set of policy changes (narrow deny rules, egress allowlist, MFA, "
        "encryption) that makes every exfiltration and tampering goal unreachable, "
        "verified by the fixpoint. Exit 0 when every goal is closed, 1 otherwise.",
        "ztsim harden topologies/pajemploi.yaml --policy policies/flat.yaml --write hardened.yaml",
    )
    p.add_argument("topology", nargs="?", metavar="TOPOLOGY", help="topology file")
    p.add_argument("--policy", "-p", metavar="FILE", help="the policy to harden")
    add_k8s_arguments(p)
    p.add_argument(
        "--write",
        "-w",
        metavar="OUT.yaml",
        help="write the hardened policy here (atomically; never over the policy hardened "
        "or the topology)",
    )
    p.add_argument(
        "--keep-traffic",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="never break a legitimate traffic flow (default); with --no-keep-traffic, "
        "break flows only where nothing else closes a goal",
    )
    p.add_argument(
        "--kinds",
        default=",".join(_KINDS),
        metavar="LIST",
        help=f"change kinds allowed, comma separated (default {','.join(_KINDS)})",
    )
    p.add_argument(
        "--exhaustive-limit",
        type=int,
        default=300,
        metavar="N",
        help="above N hosts, hit cheapest plans one at a time instead of an exact search "
        "on the full attack graph (default 300)",
    )
    p.add_argument(
        "--depth",
        type=int,
        default=1,
        metavar="N",
        help="defence in depth: every goal stays closed even if any N-1 of the proposed "
        "changes are reverted, verified by re-checking each such reversal (default 1; "
        "at most 4; needs the exhaustive search)",
    )
    p.add_argument("--format", choices=("text", "json"), default="text", help="output format")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(func=run)
