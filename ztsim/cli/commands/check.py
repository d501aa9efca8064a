"""``ztsim check``: the CI verdict of spec §7, intent assertions and CI reports.

Without ``--assert`` and ``--baseline``, ``--format text|json`` is exactly spec §7.
``--assert FILE`` judges intent assertions instead (exit 1 when an error-severity
assertion fails); ``--baseline POLICY`` fails only on what is new compared with
that policy.  ``--format junit|sarif|github|markdown`` write CI reports (without
``--assert``: one implicit assertion per goal); ``--output FILE`` writes the
report to a file and prints the text summary.
"""

from __future__ import annotations

import argparse
import io
import sys

from rich.console import Console

from ztsim.cli.common import (
    add_command,
    add_scenario_arguments,
    imported_paths,
    imported_sources,
    load_scenario,
    stdout_console,
    usage_error,
    warnings_gate,
)
from ztsim.cli.exitcodes import ExitCode
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.textsafe import safe
from ztsim.output.outfile import check_target, write_output
from ztsim.perf.heap import retain

ORDER = 20

FORMATS = ("text", "json", "junit", "sarif", "github", "markdown")


def _inputs(args: argparse.Namespace) -> list[str | None]:
    """Every file or folder the run reads: --output may overwrite none of them."""
    return [
        args.topology,
        *(args.policy or []),
        *imported_paths(args),
        args.assertions,
        args.baseline,
    ]


def _write(args: argparse.Namespace, text: str) -> None:
    write_output(args.output, text, _inputs(args))


def _spec_check(args: argparse.Namespace) -> int:
    """Spec §7 exactly: goals per policy, exit 0 or 1."""
    from ztsim.analysis.analyze import Needs, analyze
    from ztsim.output.checkjson import check_json_text, result_text
    from ztsim.output.console import render_check

    # The policies' warnings are worked out with the analysis (on a second core on
    # large estates), and printed, or raised with --strict, before any result.  Each
    # policy is validated there too, by the process that judges it.
    topo, pols = load_scenario(
        args.topology,
        args.policy,
        args.strict,
        warn=False,
        defer=True,
        **imported_sources(args),
    )
    as_json = args.format == "json"
    writer = result_text if as_json else None  # each result's JSON, written ahead
    a = analyze(topo, pols, Needs(rule_impact=args.rules, warnings=True, result_text=writer))
    retain(a)
    warnings_gate([*topo.warnings, *(a.warnings or [])], args.strict)
    if as_json:
        text = check_json_text(a)
    else:
        buf = io.StringIO()
        render_check(
            Console(file=buf, width=120, highlight=False, soft_wrap=False, markup=False),
            a,
            rules=args.rules,
        )
        text = buf.getvalue()
    if args.output:
        _write(args, text)
        render_check(stdout_console(), a, rules=args.rules)
    elif args.format == "json":
        sys.stdout.write(text)
    else:
        render_check(stdout_console(), a, rules=args.rules)
    return ExitCode.REACHABLE if a.exit_code else ExitCode.OK


def run(args: argparse.Namespace) -> int:
    """Judge each policy; with assertions or a baseline, judge the intent instead."""
    if args.max_paths < 1:
        raise usage_error("check", "--max-paths must be >= 1")
    if args.output:
        check_target(args.output, _inputs(args))  # before the run, not after it
    if args.assertions is None and args.baseline is None and args.format in ("text", "json"):
        return _spec_check(args)
    from ztsim.inputs.assertions import LoadedAssertions, assertion_errors, load_assertions
    from ztsim.inputs.checks import policy_warnings
    from ztsim.inputs.loaded import LoadedPolicy
    from ztsim.inputs.loader import load_policy
    from ztsim.output.reports import render
    from ztsim.whatif.intent import evaluate

    errors: list[Diagnostic] = []
    checks: LoadedAssertions | None = None
    baseline: LoadedPolicy | None = None
    if args.assertions is not None:
        try:
            checks = load_assertions(args.assertions)
        except InputError as exc:
            errors.extend(exc.diagnostics)
    if args.baseline is not None:
        try:
            baseline = load_policy(args.baseline)
        except InputError as exc:
            errors.extend(exc.diagnostics)
    try:
        topo, pols = load_scenario(
            args.topology, args.policy, args.strict, **imported_sources(args)
        )
    except InputError as exc:
        raise InputError([*errors, *exc.diagnostics]) from None
    if checks is not None:
        errors.extend(assertion_errors(checks, topo))
    if errors:
        raise InputError(errors)
    if baseline is not None:
        warnings_gate(policy_warnings(baseline, topo), args.strict)
    report = evaluate(topo, pols, checks, baseline=baseline, max_paths=args.max_paths)
    retain(report)
    text = render(report, args.format)
    if args.output:
        _write(args, text)
        sys.stdout.write(render(report, "text"))
        print(f"wrote {args.format} report to {safe(args.output)}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return ExitCode.REACHABLE if report.exit_code else ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``check`` to the parser."""
    p = add_command(
        sub,
        "check",
        "Judge each policy: is any exfiltration or tampering goal reachable? "
        "Which legitimate flows does it break? With --assert, judge intent assertions; "
        "with --baseline, fail only on what is new.",
        "ztsim check topologies/pajemploi.yaml --policy policies/ --format json\n"
        "ztsim check topologies/pajemploi.yaml -p policies/zero-trust.yaml "
        "--assert assertions/pajemploi.yaml --format sarif --output ztsim.sarif",
    )
    add_scenario_arguments(p)
    p.add_argument(
        "--rules",
        action="store_true",
        help="also print per-rule impact: plans each rule enables or blocks, flows it carries",
    )
    p.add_argument(
        "--format",
        choices=FORMATS,
        default="text",
        help="output format: text and json (spec §7), junit, sarif (2.1.0), github "
        "(workflow annotations), markdown (job summary)",
    )
    p.add_argument(
        "--assert",
        dest="assertions",
        metavar="FILE",
        help="intent assertions file (kind: assertions): exit 1 when one of severity "
        "error fails under some policy",
    )
    p.add_argument(
        "--baseline",
        metavar="POLICY",
        help="compare with this policy: fail only on goals, plans or flows that are new "
        "(the rest is reported as known debt)",
    )
    p.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="write the report to FILE (atomically; never over an input of the run); "
        "the text summary still goes to the terminal",
    )
    p.add_argument(
        "--max-paths",
        "-k",
        type=int,
        default=5,
        metavar="K",
        help="plans per goal compared with the baseline (default 5)",
    )
    p.set_defaults(func=run)
