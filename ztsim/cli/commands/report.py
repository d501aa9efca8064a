"""``ztsim report``: one self-contained HTML file with the verdicts and the attack pictures.

``ztsim report TOPOLOGY -p FILE|DIR... [--assert FILE] -o report.html`` reports a
check: verdicts, the plans x policies matrix, each plan drawn, the attack graph
around a goal, per-rule impact, broken flows, assertions.  ``ztsim report TOPOLOGY
--base B --proposed P -o diff.html`` reports a change: what ``ztsim diff`` says,
with the opened and closed plans drawn side by side.  A report, not a gate: exit 0
once written, whatever the policies allow (``check`` and ``diff`` are the gates).
"""

from __future__ import annotations

import argparse
import sys

from ztsim.cli.common import (
    add_command,
    add_scenario_arguments,
    imported_sources,
    load_scenario,
    usage_error,
)
from ztsim.cli.exitcodes import ExitCode
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.textsafe import safe
from ztsim.output.outfile import check_target, write_output
from ztsim.perf.heap import retain

ORDER = 25


def _usage(message: str) -> InputError:
    return usage_error("report", message)


def _inputs(args: argparse.Namespace) -> list[str | None]:
    """Every file or folder the run reads: --output may overwrite none of them."""
    return [
        args.topology,
        *(args.policy or []),
        args.assertions,
        args.base,
        args.proposed,
        args.compliance,
    ]


def _format(args: argparse.Namespace) -> str:
    """``--format``, else markdown for an ``.md`` output, else html."""
    if args.format is not None:
        return str(args.format)
    return "markdown" if str(args.output).lower().endswith((".md", ".markdown")) else "html"


def _diff_report(args: argparse.Namespace) -> str:
    from ztsim.output.reports.html_diff import render_diff_html
    from ztsim.whatif.diff import diff_policies

    if args.policy or args.assertions:
        raise _usage("--base/--proposed report a change: give no --policy or --assert with them")
    if args.base is None or args.proposed is None:
        raise _usage("--base and --proposed go together (a change has both)")
    topo, pols = load_scenario(args.topology, [args.base, args.proposed], args.strict)
    if len(pols) != 2:
        raise _usage("--base and --proposed name one policy file each")
    d = diff_policies(topo, pols[0], pols[1], args.max_paths)
    retain(d)
    return render_diff_html(d, args.fail_on)


def _check_report(args: argparse.Namespace) -> str:
    from ztsim.inputs.assertions import LoadedAssertions, assertion_errors, load_assertions
    from ztsim.output.reports.html import render_html
    from ztsim.whatif.intent import evaluate

    errors: list[Diagnostic] = []
    checks: LoadedAssertions | None = None
    if args.assertions is not None:
        try:
            checks = load_assertions(args.assertions)
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
    compliance = None
    if args.compliance is not None:
        from ztsim.inputs.knowledge import load_compliance

        try:
            compliance = load_compliance(args.compliance)
        except InputError as exc:
            errors.extend(exc.diagnostics)
    if errors:
        raise InputError(errors)
    report = evaluate(topo, pols, checks, max_paths=args.max_paths)
    retain(report)
    if args.goal is not None:
        from ztsim.output.console import select_goals

        try:  # a usage error, as paths says it: no FILE:1:1 for what is not in a file
            select_goals(report.analysis.goals, [args.goal])
        except ValueError as exc:
            raise usage_error("report", *exc.args[0]) from None
    fmt = _format(args)
    if args.analysis:
        from ztsim.whatif.incident import incident_analysis

        ia = incident_analysis(report, max_paths=args.max_paths, compliance=compliance)
        if fmt == "markdown":
            from ztsim.output.reports.incident_markdown import render_incident_markdown

            return render_incident_markdown(ia)
        from ztsim.output.reports.incident_html import render_incident_html

        return render_incident_html(ia, topo)
    if fmt == "markdown":
        from ztsim.output.reports.markdown import render_markdown

        return render_markdown(report)
    return render_html(report, max_paths=args.max_paths, goal=args.goal)


def run(args: argparse.Namespace) -> int:
    """Write the HTML report of a check, or of a change with ``--base``/``--proposed``."""
    if args.max_paths < 1:
        raise _usage("--max-paths must be >= 1")
    check_target(args.output, _inputs(args))  # before the run, not after it
    diff = args.base is not None or args.proposed is not None
    if diff and (args.analysis or args.compliance is not None):
        raise _usage("--analysis reports policies (--policy), not a change (--base/--proposed)")
    if args.compliance is not None and not args.analysis:
        raise _usage("--compliance goes with --analysis (the mapping is the analysis's)")
    if diff and _format(args) != "html":
        raise _usage("a change (--base/--proposed) is reported in HTML only")
    text = _diff_report(args) if diff else _check_report(args)
    write_output(args.output, text, _inputs(args))
    print(f"wrote {safe(args.output)}", file=sys.stderr)
    return ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``report`` to the parser."""
    p = add_command(
        sub,
        "report",
        "Write one self-contained HTML report (no network needed to open it): the verdict "
        "per policy, the plans x policies matrix, each attack plan drawn across its zones "
        "with the blocking steps marked, the attack graph around a goal, per-rule impact, "
        "broken flows, assertions. With --base/--proposed: a change, opened and closed "
        "plans side by side. With --analysis: the incident analysis, written before the "
        "incident (executive summary, attack path narrative, kill chain by ATT&CK tactic, "
        "compliance exposure, mitigations and controls per step, impact, harden's "
        "recommended actions), in HTML or Markdown.",
        "ztsim report topologies/pajemploi.yaml -p policies/ --assert assertions/pajemploi.yaml "
        "-o report.html\n"
        "ztsim report topologies/pajemploi.yaml --base policies/segmented.yaml "
        "--proposed policies/zero-trust.yaml -o diff.html\n"
        "ztsim report topologies/pajemploi.yaml -p policies/ --analysis -o analysis.html\n"
        "ztsim report topologies/pajemploi.yaml -p policies/ --analysis -o analysis.md",
    )
    add_scenario_arguments(p)
    p.add_argument(
        "--output",
        "-o",
        required=True,
        metavar="FILE",
        help="the file to write (atomically; never over an input of the run)",
    )
    p.add_argument(
        "--format",
        choices=("html", "markdown"),
        default=None,
        help="html (default) or markdown (the default for an output ending in .md)",
    )
    p.add_argument(
        "--analysis",
        action="store_true",
        help="write the incident analysis of each policy instead: executive summary, "
        "attack path narrative, kill chain, compliance exposure, mitigations, impact, "
        "recommended actions",
    )
    p.add_argument(
        "--compliance",
        metavar="FILE",
        help="with --analysis: your own compliance mapping (kind: compliance; default: "
        "the one shipped, ztsim/data/compliance.yaml)",
    )
    p.add_argument("--assert", dest="assertions", metavar="FILE", help="intent assertions file")
    p.add_argument("--base", metavar="POLICY", help="report a change: the policy in force")
    p.add_argument("--proposed", metavar="POLICY", help="report a change: the policy proposed")
    p.add_argument(
        "--fail-on",
        choices=("opened", "broken-traffic", "any"),
        default="opened",
        help="with --base/--proposed: what the verdict line calls a failure (as diff's)",
    )
    p.add_argument(
        "--max-paths", "-k", type=int, default=5, metavar="K", help="plans per goal (default 5)"
    )
    p.add_argument(
        "--goal",
        metavar="GOAL",
        help="draw the attack graph around this goal: DATA (its first goal with a plan), "
        "exfiltrate(DATA) or tamper(DATA) (default: the first goal open under some policy)",
    )
    p.set_defaults(func=run)
