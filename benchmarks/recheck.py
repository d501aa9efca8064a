"""Benchmark interactive re-checks: one rule edited, the policies judged again.

Usage::

    python benchmarks/recheck.py                  # workload L, 5 edits
    python benchmarks/recheck.py --workload M --edits 9 --target 0.5
    python benchmarks/recheck.py --workload H-L   # the heterogeneous family (issue 26)

What it measures is what the TUI's ``--watch`` does on each save, through the
Python API (:class:`ztsim.analysis.workspace.Workspace`): the topology is loaded once, the
three policies are judged once, then for each edit one rule of ``segmented.yaml``
(``h-two.yaml`` in the H family; a copy in a temporary folder) changes its action
(allow to deny; deny to allow with ``--open``),
the file is saved and ``Workspace.analyze`` runs again.  The time of each re-check (re-read of the
changed file, re-compilation and fixpoint of that policy, goals and traffic) is
printed with the median, compared with the target (1 s on L, issue 6), and the
median of each kind of re-check: *replayed* when the edited policy answers every
question of the earlier solve alike (:mod:`ztsim.engine.replay`: only its
legitimate flows are judged anew), else *solved*.

Exit status: 0 the median is within the target; 1 it is over; 2 bad usage.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import generate
import hfamily
from run import DEFAULT_OUT, ensure_inputs

from ztsim.analysis.workspace import Workspace


def main(argv: list[str] | None = None) -> int:
    """Run the re-check benchmark; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    workloads = {**generate.WORKLOADS, **hfamily.WORKLOADS}
    parser.add_argument("--workload", default="L", choices=sorted(workloads))
    parser.add_argument("--edits", type=int, default=5, help="edits to time (default 5)")
    parser.add_argument("--target", type=float, default=1.0, help="seconds (default 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--open",
        action="store_true",
        help="edit deny rules to allow instead (edits that more often open new attack steps)",
    )
    args = parser.parse_args(argv)
    old, new = ("deny", "allow") if args.open else ("allow", "deny")
    workload = workloads[args.workload]
    out = DEFAULT_OUT / args.workload
    ensure_inputs(workload, args.seed, out, False)
    with tempfile.TemporaryDirectory() as tmp:
        policies = Path(tmp) / "policies"
        shutil.copytree(out / "policies", policies)
        ws = Workspace(out / "topology.yaml")
        t0 = time.perf_counter()
        ws.analyze([policies])
        print(f"first check: {time.perf_counter() - t0:.2f} s (topology and 3 policies)")
        edited = "h-two" if workload.name.startswith("H-") else "segmented"
        path = policies / f"{edited}.yaml"
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        rule_lines = [i for i, line in enumerate(lines) if f"action: {old}" in line]
        step = max(1, len(rule_lines) // (args.edits + 1))
        times: list[float] = []
        kinds: dict[str, list[float]] = {"replayed": [], "solved": []}
        for n in range(args.edits):
            i = rule_lines[(n + 1) * step % len(rule_lines)]
            lines[i] = lines[i].replace(f"action: {old}", f"action: {new}", 1)
            path.write_text("".join(lines), encoding="utf-8")
            replays = ws.stats.replays
            t = time.perf_counter()
            a = ws.analyze([policies])
            times.append(time.perf_counter() - t)
            reachable = sum(len(r.reachable_goals) for r in a.results)
            kind = "replayed" if ws.stats.replays > replays else "solved"
            kinds[kind].append(times[-1])
            print(f"edit {n + 1}: line {i + 1}: {times[-1]:.3f} s, {kind} ({reachable} goals open)")
        median = statistics.median(times)
        print(
            f"re-check median {median:.3f} s over {len(times)} edits "
            f"(target {args.target:.2f} s; {ws.stats.policy_patches} edits re-read "
            f"by patching one rule): {'OK' if median <= args.target else 'OVER'}"
        )
        for kind, seconds in kinds.items():
            if seconds:
                print(
                    f"  {kind}: {len(seconds)} edits, median {statistics.median(seconds):.3f} s"
                )
        return 0 if median <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
