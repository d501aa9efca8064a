"""Benchmark ``ztsim reach``: the connectivity map of each policy, on S and M (and H-L).

Usage::

    python benchmarks/reach.py                      # workloads S and M
    python benchmarks/reach.py --workload S --no-cli
    python benchmarks/reach.py --workload H-L       # issue 26: reach under 5 s on H-L

For each workload (generated as ``run.py`` does, cached in ``benchmarks/out/``)
and each of its three policies, in both modes (services served, ``--all-ports``):

* **map s**: :func:`ztsim.engine.connectivity.reach_map` in-process, the topology
  already loaded: the decisions per pair of classes and the rows per source class;
* **pairs** and **expand s**: the connections (ordered host pairs) and the time to
  enumerate them (:meth:`~ztsim.engine.connectivity.PolicyMap.connections`), which
  every format does once;
* **json s** (S only): the JSON text of the whole map (M's maps hold 10⁷ pairs and
  more: gigabytes of JSON, not a sensible measure).

Then ``python -m ztsim reach TOPOLOGY -p POLICIES --from zone:dmz --format json``
end to end (interpreter start-up, parsing, three policies, one zone's sources: a
realistic question on a large estate; ``zone:hz0`` in the H family).

Targets (the median of ``--repeat`` runs): the map of one policy in one mode
within 1 s on S and 5 s on M and H-L; the scoped command within 2 s on S and 5 s
on M and H-L (issue 26 asks for ``reach`` under 5 s on H-L).
Exit status: 0 every target met; 1 some target missed; 2 bad usage.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import generate
import hfamily
from run import DEFAULT_OUT, ensure_inputs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ztsim.engine.connectivity import reach_map  # noqa: E402
from ztsim.inputs.loader import load_policies, load_topology  # noqa: E402
from ztsim.output.reach import reach_json  # noqa: E402

#: Seconds: (map of one policy in one mode, the scoped command end to end).
TARGETS = {"S": (1.0, 2.0), "M": (5.0, 5.0), "H-M": (5.0, 5.0), "H-L": (5.0, 5.0)}
WORKLOADS = {**generate.WORKLOADS, **hfamily.WORKLOADS}


def _median(times: list[float]) -> float:
    return statistics.median(times)


def bench(name: str, args: argparse.Namespace) -> list[str]:
    """Print the workload's table; return the targets it misses."""
    workload = WORKLOADS[name]
    out = DEFAULT_OUT / name
    ensure_inputs(workload, args.seed, out, False)
    map_target, cli_target = TARGETS[name]
    topo = load_topology(out / "topology.yaml")
    policies = load_policies([out / "policies"])
    missed: list[str] = []
    print(
        f"\n{name}: {len(topo.hosts):,} hosts, targets: map {map_target} s, scoped command "
        f"{cli_target} s"
    )
    print(f"{'policy':<12} {'mode':<10} {'map s':>7} {'pairs':>12} {'expand s':>9} {'json s':>7}")
    for pol in policies:
        for all_ports in (False, True):
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                m = reach_map(topo, pol, all_ports=all_ports)
                times.append(time.perf_counter() - start)
            start = time.perf_counter()
            pairs = sum(1 for _ in m.connections())
            expand = time.perf_counter() - start
            json_s = "-"
            if name == "S":
                start = time.perf_counter()
                reach_json(topo, [m])
                json_s = f"{time.perf_counter() - start:.2f}"
            mode = "all-ports" if all_ports else "served"
            took = _median(times)
            flag = "" if took <= map_target else "  over"
            print(
                f"{pol.name:<12} {mode:<10} {took:>7.2f} {pairs:>12,} {expand:>9.2f} "
                f"{json_s:>7}{flag}"
            )
            if flag:
                missed.append(f"{name} {pol.name} {mode}: map {took:.2f} s > {map_target} s")
    if args.cli:
        scope = "zone:hz0" if name.startswith("H-") else "zone:dmz"
        cmd = [
            sys.executable,
            "-m",
            "ztsim",
            "reach",
            str(out / "topology.yaml"),
            "-p",
            str(out / "policies"),
            "--from",
            scope,
            "--format",
            "json",
        ]
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - start)
        took = _median(times)
        print(f"scoped command (--from {scope}, three policies, json): {took:.2f} s")
        if took > cli_target:
            missed.append(f"{name} scoped command: {took:.2f} s > {cli_target} s")
    return missed


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workload", nargs="+", choices=sorted(TARGETS), default=["S", "M"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="runs per measure (median)")
    parser.add_argument(
        "--no-cli", dest="cli", action="store_false", help="skip the end-to-end command"
    )
    args = parser.parse_args(argv)
    missed = [m for name in args.workload for m in bench(name, args)]
    for m in missed:
        print(f"missed: {m}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
