"""Benchmark ``ztsim reach``: the connectivity map of each policy, on S and M (and H-L).

Usage::

    python benchmarks/reach.py                      # workloads S and M
    python benchmarks/reach.py --workload S --no-cli
    python benchmarks/reach.py --workload H-L       # issue 26: reach under 5 s on H-L

For each workload (generated as ``run.py`` does, cached in ``benchmarks/out/``)
and each of its three policies, in both modes (services served, ``--all-ports``):

* **map s**: :func:`ztsim.engine.connectivity.reach_map` in-process, the topology
  already loaded, the cyclic collector paused as the command line runs (the rows
  per source, :mod:`ztsim.engine.maprows`);
* **rows**: the distinct rows (sources whose `from` matches the same rules share one);
* **pairs** and **count s**: the connections (ordered host pairs), counted from
  the rows (:meth:`~ztsim.engine.connectivity.PolicyMap.count`, what the text and
  Markdown headings print) without listing them;
* **expand s**: the time to enumerate them
  (:meth:`~ztsim.engine.connectivity.PolicyMap.connections`, which every format
  does once), only up to ``--expand-limit`` pairs (H-L's maps hold 2x10^9);
* **json s** (S only): the JSON text of the whole map (M's maps hold 10^7 pairs and
  more: gigabytes of JSON, not a sensible measure).

Then ``python -m ztsim reach TOPOLOGY -p POLICIES --from zone:dmz --format json``
end to end (interpreter start-up, parsing, three policies, one zone's sources: a
realistic question on a large estate; ``zone:hz0`` in the H family), its output
to ``/dev/null``; then once more through a pipe to count the connections and bytes
it writes (a large scope's time is then mostly writing).

Each workload's heading gives the calibration loop of ``run.py`` (one core) and the
load average, and its end the load average again: this machine is shared.

Targets (the median of ``--repeat`` runs): the map of one policy in one mode
within 1 s on S and H-S, 5 s on M, H-M and H-L; the scoped command within 2 s on
S and H-S, 5 s on M, H-M and H-L (issue 26 asks for ``reach`` under 5 s on H-L).
Exit status: 0 every target met; 1 some target missed; 2 bad usage.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import generate
import hfamily
from run import DEFAULT_OUT, calibrate, ensure_inputs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ztsim.engine.connectivity import reach_map  # noqa: E402
from ztsim.inputs.loader import load_policies, load_topology  # noqa: E402
from ztsim.output.reach import reach_json  # noqa: E402
from ztsim.perf.heap import paused_gc  # noqa: E402

#: Seconds: (map of one policy in one mode, the scoped command end to end).
TARGETS = {
    "S": (1.0, 2.0),
    "M": (5.0, 5.0),
    "H-S": (1.0, 2.0),
    "H-M": (5.0, 5.0),
    "H-L": (5.0, 5.0),
}
WORKLOADS = {**generate.WORKLOADS, **hfamily.WORKLOADS}


def _median(times: list[float]) -> float:
    return statistics.median(times)


def _map_rows(name: str, out: Path, args: argparse.Namespace) -> list[str]:
    """The in-process table of one workload; the targets it misses."""
    map_target = TARGETS[name][0]
    topo = load_topology(out / "topology.yaml")
    policies = load_policies([out / "policies"])
    missed: list[str] = []
    print(
        f"{'policy':<10} {'mode':<10} {'map s':>6} {'rows':>6} {'pairs':>14} {'count s':>8} "
        f"{'expand s':>9} {'json s':>7}"
    )
    for pol in policies:
        for all_ports in [m == "all-ports" for m in args.modes]:
            times = []
            for _ in range(args.repeat):
                with paused_gc():
                    start = time.perf_counter()
                    m = reach_map(topo, pol, all_ports=all_ports)
                    times.append(time.perf_counter() - start)
            with paused_gc():
                start = time.perf_counter()
                pairs = m.count()
                count_s = time.perf_counter() - start
                expand = json_s = "-"
                if pairs <= args.expand_limit:
                    start = time.perf_counter()
                    listed = sum(1 for _ in m.connections())
                    expand = f"{time.perf_counter() - start:.2f}"
                    assert listed == pairs, (listed, pairs)
                if name == "S":
                    start = time.perf_counter()
                    reach_json(topo, [m])
                    json_s = f"{time.perf_counter() - start:.2f}"
            mode = "all-ports" if all_ports else "served"
            took = _median(times)
            flag = "" if took <= map_target else "  over"
            print(
                f"{pol.name:<10} {mode:<10} {took:>6.2f} {len(m.rows):>6,} {pairs:>14,} "
                f"{count_s:>8.2f} {expand:>9} {json_s:>7}{flag}",
                flush=True,
            )
            if flag:
                missed.append(f"{name} {pol.name} {mode}: map {took:.2f} s > {map_target} s")
    return missed


def _written(cmd: list[str]) -> tuple[int, int]:
    """Run ``cmd`` once; the connections (JSON ``"from"`` keys) and bytes it writes."""
    pairs = size = 0
    tail = b""
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            size += len(chunk)
            pairs += (tail + chunk).count(b'"from": ') - tail.count(b'"from": ')
            tail = chunk[-16:]
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return pairs, size


def bench(name: str, args: argparse.Namespace) -> list[str]:
    """Print the workload's tables; return the targets it misses."""
    workload = WORKLOADS[name]
    out = DEFAULT_OUT / name
    ensure_inputs(workload, args.seed, out, False)
    map_target, cli_target = TARGETS[name]
    print(
        f"\n{name}: {workload.hosts:,} hosts, targets: map {map_target} s, scoped command "
        f"{cli_target} s; calibration loop {calibrate():.2f} s, load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    missed = _map_rows(name, out, args) if args.maps else []
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
        pairs, size = _written(cmd)
        print(
            f"scoped command (--from {scope}, three policies, json to /dev/null): {took:.2f} s; "
            f"it writes {pairs:,} connections, {size / 1e6:,.1f} MB"
        )
        if took > cli_target:
            missed.append(f"{name} scoped command: {took:.2f} s > {cli_target} s")
    print(f"load average after {name}: {os.getloadavg()[0]:.2f}")
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
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=("served", "all-ports"),
        default=["served", "all-ports"],
        help="the modes of the in-process maps",
    )
    parser.add_argument(
        "--no-maps", dest="maps", action="store_false", help="only the end-to-end command"
    )
    parser.add_argument(
        "--expand-limit",
        type=int,
        default=20_000_000,
        help="list a map's connections only up to this many (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    missed = [m for name in args.workload for m in bench(name, args)]
    for m in missed:
        print(f"missed: {m}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
