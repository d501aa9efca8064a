"""GitHub Actions workflow commands: one annotation per violation.

``::error file=F,line=L,col=C,title=T::message`` for a new violation of an
error-severity assertion, ``::warning`` for a warning, ``::notice`` for known debt
(with ``--baseline``).  Values are escaped as the Actions toolkit does: ``%``,
CR and LF everywhere, plus ``:`` and ``,`` in properties; every other control,
bidi or zero-width character is escaped first (``\\x1b``, :mod:`ztsim.output.escape`),
so no name can end the command line or start a second command.
"""

from __future__ import annotations

from ztsim.output.escape import github_data, github_property
from ztsim.output.reports.common import plan_steps, relative_path
from ztsim.whatif.intent import Report

__all__ = ["render_github"]


def render_github(report: Report) -> str:
    """One workflow command line per violation (nothing when every assertion passes)."""
    lines = []
    for o in report.outcomes:
        for v in o.violations:
            if not v.new:
                cmd = "notice"
            else:
                cmd = "error" if o.assertion.severity == "error" else "warning"
            title = f"ztsim {o.assertion.id} [{o.policy.name}]"
            msg = v.message + ("" if v.new else " (known debt: also under the baseline)")
            if v.plan is not None:
                msg += "\n" + "\n".join(plan_steps(v.plan, v.verdict, o.policy))
            if v.fix:
                msg += f"\nfix here: {v.fix}"
            loc = v.location
            props = (
                f"file={github_property(relative_path(loc.path))},line={loc.line},"
                f"col={loc.column},title={github_property(title)}"
            )
            lines.append(f"::{cmd} {props}::{github_data(msg)}")
    return "".join(line + "\n" for line in lines)
