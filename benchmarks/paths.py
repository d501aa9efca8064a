"""Benchmark ``ztsim paths -k 5 --format json`` end to end (issue 26: under 15 s on H-L).

Usage::

    python benchmarks/paths.py                          # H-M, 3 runs
    python benchmarks/paths.py --workload H-L --repeat 3

Each run is ``python -m ztsim paths TOPOLOGY -p POLICIES -k 5 --format json`` from a
fresh interpreter, cold (no parse cache), as ``run.py`` runs ``check``: interpreter
start-up, parsing, a plan solve per policy and the reference's, every goal's listing
(on two cores on large estates) and the JSON.  Printed: the median wall seconds, the
child's CPU seconds, its peak memory, the bytes written, and the goals and plans
listed (read from the JSON), with the calibration loop of ``run.py`` and the load
average: this machine is shared.

Exit status: 0 the median is within the workload's target (or it has none); 1 it is
over, or a run failed; 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import orjson
from run import DEFAULT_OUT, WORKLOADS, calibrate, ensure_inputs, run_once

#: Seconds, end to end (issue 26 sets H-L's).
TARGETS = {"H-L": 15.0}


def main(argv: list[str] | None = None) -> int:
    """Time ``paths -k 5`` on one workload; see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workload", default="H-M", choices=sorted(WORKLOADS))
    ap.add_argument("--repeat", type=int, default=3, help="runs; the median counts (default 3)")
    ap.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    ap.add_argument("-k", type=int, default=5, help="plans per goal (default 5)")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.k < 1:
        ap.error("--repeat and -k must be at least 1")
    workload = WORKLOADS[args.workload]
    out = DEFAULT_OUT / args.workload
    ensure_inputs(workload, args.seed, out, False)
    cmd = [sys.executable, "-m", "ztsim", "paths", str(out / "topology.yaml")]
    cmd += ["-p", str(out / "policies"), "-k", str(args.k), "--format", "json"]
    print(
        f"{args.workload}: paths -k {args.k}, {args.repeat} cold run(s); calibration "
        f"{calibrate():.2f} s, load {os.getloadavg()[0]:.1f}"
    )
    runs = [run_once(cmd, None) for _ in range(args.repeat)]
    for r in runs:
        print(f"  {r.seconds:7.2f} s wall, {r.cpu_seconds:7.2f} s cpu, {r.peak_mb:6.0f} MB")
    failed = [r for r in runs if r.exit_status not in (0, 1)]
    if failed:
        print(f"a run failed (exit {failed[0].exit_status}): {failed[0].stderr[-500:]}")
        return 1
    data = orjson.loads(runs[-1].output)
    plans = sum(len(g["plans"]) for g in data["goals"])
    median = statistics.median(r.seconds for r in runs)
    target = TARGETS.get(args.workload)
    print(
        f"median {median:.2f} s, peak {max(r.peak_mb for r in runs):.0f} MB, "
        f"{len(runs[-1].output.encode()):,} bytes, {len(data['goals']):,} goals, "
        f"{plans:,} plans listed; load {os.getloadavg()[0]:.1f}"
    )
    if target is None:
        return 0
    met = median <= target
    print(f"target {target:g} s: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
