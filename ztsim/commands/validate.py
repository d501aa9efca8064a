"""``ztsim validate``: check files without judging anything."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ztsim.cli import ExitCode, add_command, print_diagnostics, warnings_gate
from ztsim.diagnostics import Diagnostic, InputError

ORDER = 10


def run(args: argparse.Namespace) -> int:
    """Schema, references, services; policy warnings against a single topology."""
    from ztsim.assertions import LoadedAssertions, assertion_errors, load_assertions
    from ztsim.loader import (
        LoadedPolicy,
        LoadedTopology,
        expand_policy_paths,
        load_file,
        policy_warnings,
    )

    errors: list[Diagnostic] = []
    topos: list[LoadedTopology] = []
    pols: list[LoadedPolicy] = []
    asserts: list[LoadedAssertions] = []
    for f in expand_policy_paths(args.files):
        try:
            if _kind_of(f) == "assertions":
                asserts.append(load_assertions(f))
                continue
            loaded = load_file(f)
        except InputError as exc:
            errors.extend(exc.diagnostics)
            continue
        if isinstance(loaded, LoadedTopology):
            topos.append(loaded)
        else:
            pols.append(loaded)
    warnings: list[Diagnostic] = [w for t in topos for w in t.warnings]
    # A policy may serve several topologies: cross-check only against a single one,
    # or every policy would warn about every other scenario's ids.
    if len(topos) == 1:
        for p in pols:
            warnings.extend(policy_warnings(p, topos[0]))
        for a in asserts:
            errors.extend(assertion_errors(a, topos[0]))
    elif pols and len(topos) > 1:
        print(
            "note: several topologies given; policies are cross-checked only with one "
            "topology (ztsim validate TOPOLOGY POLICY...)",
            file=sys.stderr,
        )
    if errors:
        print_diagnostics(sorted(errors + warnings))
        return ExitCode.INVALID
    warnings_gate(sorted(set(warnings)), args.strict)
    n_t, n_p = len(topos), len(pols)
    print(
        f"ok: {n_t} topolog{'y' if n_t == 1 else 'ies'}, {n_p} polic{'y' if n_p == 1 else 'ies'}"
        + (f", {len(asserts)} assertions file(s)" if asserts else "")
        + (f", {len(set(warnings))} warning(s)" if warnings else "")
    )
    return ExitCode.OK


def _kind_of(path: Path) -> str | None:
    """The ``kind`` a file declares, from a cheap look at its text (None if unsure)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            head = fh.read(65536)
    except OSError:
        return None
    m = re.search(r'^\s*"?kind"?\s*:\s*"?([A-Za-z]+)', head, flags=re.M)
    return m.group(1) if m else None


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``validate`` to the parser."""
    p = add_command(
        sub,
        "validate",
        "Check topology, policy and assertions files: schema, references, services, warnings.",
        "ztsim validate topologies/pajemploi.yaml policies/ assertions/pajemploi.yaml",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="files or folders of *.yaml")
    p.add_argument("--strict", action="store_true", help="treat warnings as errors")
    p.set_defaults(func=run)
