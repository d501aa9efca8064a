"""Benchmark ``ztsim check`` on synthetic workloads and compare with targets.

Usage::

    python benchmarks/run.py                       # workloads S and M, 3 runs each
    python benchmarks/run.py --workload S M L XL --repeat 5
    python benchmarks/run.py --workload S --bound-factor 10 --repeat 1   # CI smoke
    python benchmarks/run.py --workload H-M H-L    # the heterogeneous family (hfamily.py)

For each workload the inputs are generated into ``benchmarks/out/<W>/`` by
``generate.py`` (reused while the generator version, sizes and seed are
unchanged, which ``benchmarks/out/<W>/params.json`` records), then::

    python -m ztsim check OUT/topology.yaml --policy OUT/policies --format json

(``--format text``: the command's default output instead) runs ``--repeat``
times in a child process. Wall-clock time is measured around the child
(interpreter start-up and imports included, as CI sees it); the peak resident
set size is the child's own ``ru_maxrss`` as returned by ``os.wait4`` for that
one process, so neither the harness nor earlier runs inflate it. The median time
and the largest peak RSS over the runs are compared with the workload's targets
times ``--bound-factor``.

``ztsim check`` exits 1 when a goal is reachable: that is a normal result.
Exit status 2, any other status, a signal, a timeout or output that is not the
expected JSON (or, in text, a verdict line) is an error of the run.

Exit status: 0 every workload within its targets; 1 some workload over a target;
2 some run failed (or bad usage).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import generate
import hfamily

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_OUT = HERE / "out"


@dataclass(frozen=True)
class Target:
    """Time and memory bounds of one workload (before ``--bound-factor``)."""

    seconds: float
    megabytes: float


TARGETS: dict[str, Target] = {
    "S": Target(1.0, 300.0),
    "M": Target(3.0, 500.0),
    "L": Target(15.0, 2048.0),
    "XL": Target(60.0, 4096.0),
    # The heterogeneous family of issue 26 (hfamily.py); H-S's is not the issue's.
    "H-S": Target(1.0, 300.0),
    "H-M": Target(2.0, 400.0),
    "H-L": Target(8.0, 1536.0),
    "H-XL": Target(20.0, 3072.0),
}

#: Every workload by name: the tidy family (generate.py) and H (hfamily.py).
WORKLOADS: dict[str, generate.Workload] = {**generate.WORKLOADS, **hfamily.WORKLOADS}


@dataclass
class RunResult:
    """One timed run of the CLI."""

    seconds: float
    peak_mb: float
    exit_status: int
    output: str
    stderr: str
    timed_out: bool = False
    cpu_seconds: float = 0.0


@dataclass
class WorkloadResult:
    """Aggregated measurements for one workload."""

    workload: generate.Workload
    generate_seconds: float | None
    runs: list[RunResult] = field(default_factory=list)
    facts: int | None = None
    facts_by_policy: dict[str, int | None] = field(default_factory=dict)
    error: str | None = None
    timed_out: bool = False

    @property
    def median_seconds(self) -> float | None:
        """Median wall-clock seconds over the runs (the timeout if a run hit it)."""
        if self.timed_out:
            return max(r.seconds for r in self.runs)
        return statistics.median(r.seconds for r in self.runs) if self.runs else None

    @property
    def median_cpu_seconds(self) -> float | None:
        """Median user+system CPU seconds of the child over the runs."""
        return statistics.median(r.cpu_seconds for r in self.runs) if self.runs else None

    @property
    def peak_mb(self) -> float | None:
        """Largest peak RSS over the runs, in MiB."""
        return max(r.peak_mb for r in self.runs) if self.runs else None


def ensure_inputs(workload: generate.Workload, seed: int, out: Path, force: bool) -> float | None:
    """Generate the workload's files unless an up-to-date copy exists.

    Returns the generation time in seconds, or None when the cache was used.
    """
    params = generate.Params(workload.hosts, workload.zones, workload.rules, seed, workload.name)
    stamp = out / "params.json"
    wanted = params.as_dict()
    # The H family by name: H-S ... H-XL, or any size (scaling.py's H-12500 ...).
    hetero = workload.name.startswith("H-")
    if hetero:
        wanted = {**wanted, "generator": f"hfamily-{hfamily.GENERATOR_VERSION}"}
    names = hfamily.POLICY_NAMES if hetero else generate.POLICY_NAMES
    files = [out / "topology.yaml", *(out / "policies" / f"{n}.yaml" for n in names)]
    if not force and stamp.exists() and all(f.exists() for f in files):
        try:
            if json.loads(stamp.read_text(encoding="utf-8")) == wanted:
                return None
        except json.JSONDecodeError:
            pass
    start = time.perf_counter()
    stamp.unlink(missing_ok=True)
    if hetero:
        hfamily.write(workload.hosts, workload.rules, seed, out)
    else:
        generate.write(generate.generate(params), out)
    stamp.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
    return time.perf_counter() - start


def _maxrss_mb(ru_maxrss: int) -> float:
    """``ru_maxrss`` in MiB (kilobytes on Linux, bytes on macOS)."""
    return ru_maxrss / (1024 * 1024) if sys.platform == "darwin" else ru_maxrss / 1024


def run_once(cmd: list[str], timeout: float | None) -> RunResult:
    """Run ``cmd`` once; measure wall time and the child's own peak RSS."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=ROOT, env=_ENV
        )
        lock = threading.Lock()
        reaped = False
        killed = False

        def kill() -> None:
            # Our own child only, by pid, and only while it is not reaped yet.
            nonlocal killed
            with lock:
                if not reaped:
                    killed = True
                    os.kill(proc.pid, signal.SIGKILL)

        timer: threading.Timer | None = None
        if timeout is not None:
            timer = threading.Timer(timeout, kill)
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            with lock:
                reaped = True
            if timer is not None:
                timer.cancel()
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
        return RunResult(
            elapsed,
            _maxrss_mb(usage.ru_maxrss),
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            stderr,
            timed_out=killed,
            cpu_seconds=usage.ru_utime + usage.ru_stime,
        )


def read_facts(output: str) -> tuple[int | None, dict[str, int | None]]:
    """Total and per-policy ``stats.facts`` from the JSON output (None if absent)."""
    doc: Any = json.loads(output)
    per: dict[str, int | None] = {}
    for result in doc["results"]:
        stats = result.get("stats")
        facts = stats.get("facts") if isinstance(stats, dict) else None
        per[str(result.get("policy"))] = facts if isinstance(facts, int) else None
    values = [v for v in per.values() if v is not None]
    return (sum(values) if values else None), per


def bench(workload: generate.Workload, args: argparse.Namespace) -> WorkloadResult:
    """Generate (if needed) and time one workload."""
    out: Path = args.out / workload.name
    gen_seconds = ensure_inputs(workload, args.seed, out, args.regenerate)
    result = WorkloadResult(workload, gen_seconds)
    cmd = [
        args.python,
        "-m",
        "ztsim",
        "check",
        str(out / "topology.yaml"),
        "--policy",
        str(out / "policies"),
        "--format",
        args.format,
    ]
    for i in range(args.repeat):
        run = run_once(cmd, args.timeout)
        if run.timed_out:
            # Over any target by construction: a FAIL, not an error of the run.
            result.runs.append(run)
            result.timed_out = True
            print(
                f"  {workload.name} run {i + 1}: killed after the {args.timeout:g} s timeout",
                file=sys.stderr,
            )
            break
        if run.exit_status not in (0, 1):
            tail = run.stderr.strip().splitlines()[-5:]
            result.error = f"run {i + 1}: exit status {run.exit_status}: " + " | ".join(tail)
            result.runs.append(run)
            break
        try:
            if args.format == "json":
                result.facts, result.facts_by_policy = read_facts(run.output)
            elif not run.output.startswith(("FAIL: ", "PASS: ")):
                raise ValueError(f"text output begins {run.output[:40]!r}")
        except (ValueError, KeyError, TypeError) as exc:
            result.error = f"run {i + 1}: unexpected output ({exc})"
            break
        result.runs.append(run)
        if args.verbose:
            print(
                f"  {workload.name} run {i + 1}: {run.seconds:.2f} s "
                f"(cpu {run.cpu_seconds:.2f} s), {run.peak_mb:.0f} MB, "
                f"exit {run.exit_status}",
                file=sys.stderr,
            )
    return result


def verdict(result: WorkloadResult, factor: float) -> str:
    """PASS, FAIL or ERROR for one workload."""
    if result.error is not None or not result.runs:
        return "ERROR"
    if result.timed_out:
        return "FAIL"
    target = TARGETS[result.workload.name]
    seconds, peak = result.median_seconds, result.peak_mb
    assert seconds is not None and peak is not None
    ok = seconds <= target.seconds * factor and peak <= target.megabytes * factor
    return "PASS" if ok else "FAIL"


def table(results: list[WorkloadResult], factor: float) -> str:
    """The results as a Markdown table."""
    head = [
        "workload",
        "hosts",
        "rules",
        "facts",
        "seconds (median)",
        "cpu s",
        "peak MB",
        "target s",
        "target MB",
        "result",
    ]
    rows = [head]
    for r in results:
        t = TARGETS[r.workload.name]
        secs, cpu, peak = r.median_seconds, r.median_cpu_seconds, r.peak_mb
        rows.append(
            [
                r.workload.name,
                f"{r.workload.hosts:,}",
                f"{r.workload.rules:,}",
                f"{r.facts:,}" if r.facts is not None else "-",
                "-"
                if secs is None or r.error is not None
                else f">{secs:.0f} (timeout)"
                if r.timed_out
                else f"{secs:.2f}",
                "-" if cpu is None or r.error is not None or r.timed_out else f"{cpu:.2f}",
                f"{peak:.0f}" if peak is not None and r.error is None else "-",
                f"{t.seconds * factor:g}",
                f"{t.megabytes * factor:g}",
                verdict(r, factor),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        description="Time `ztsim check` on synthetic workloads against targets."
    )
    parser.add_argument(
        "--workload",
        nargs="+",
        choices=list(WORKLOADS),
        default=["S", "M"],
        help="workloads to run (default: S M)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs per workload; the median time is reported (default 3)",
    )
    parser.add_argument(
        "--bound-factor",
        type=float,
        default=1.0,
        help="multiply every target by this (default 1.0)",
    )
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="where workloads are generated (default benchmarks/out)",
    )
    parser.add_argument(
        "--regenerate", action="store_true", help="regenerate the inputs even if cached"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="kill a run after this many seconds; it then counts as FAIL "
        "(default: 20 x the workload's time target x the bound factor; 0: none)",
    )
    parser.add_argument(
        "--python", default=sys.executable, help="interpreter that runs ztsim (default: this one)"
    )
    parser.add_argument(
        "--json-out", type=Path, help="also write the measurements to this JSON file"
    )
    parser.add_argument(
        "--format",
        choices=("json", "text"),
        default="json",
        help="the output `ztsim check` writes (default json, as CI reads it; text is the "
        "command's default, its tables drawn; facts are only read from json)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="print every run")
    parser.add_argument(
        "--warm",
        action="store_true",
        help="let ztsim reuse its parse cache (re-check figures); default: cold runs",
    )
    return parser


def calibrate() -> float:
    """Seconds for a fixed pure-Python loop: how fast this machine is right now.

    Shared virtual machines vary a lot from one minute to the next; printing this
    with the figures lets them be compared across runs and machines.
    """
    start = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - start


#: The environment of the timed runs: cold (no parse cache) unless --warm.
_ENV: dict[str, str] = {**os.environ, "ZTSIM_CACHE": "off"}


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    if args.warm:
        _ENV["ZTSIM_CACHE"] = "on"
    if args.repeat < 1 or args.bound_factor <= 0:
        build_parser().error("--repeat must be >= 1 and --bound-factor > 0")
    results: list[WorkloadResult] = []
    explicit_timeout = args.timeout
    for name in args.workload:
        w = WORKLOADS[name]
        if explicit_timeout is None:
            args.timeout = 20 * TARGETS[name].seconds * args.bound_factor
        elif explicit_timeout <= 0:
            args.timeout = None
        print(
            f"{name}: {w.hosts:,} hosts, {w.zones} zones, {w.rules:,} rules ...",
            file=sys.stderr,
            flush=True,
        )
        r = bench(w, args)
        gen = "cached" if r.generate_seconds is None else f"generated in {r.generate_seconds:.2f} s"
        print(
            f"{name}: inputs {gen}; "
            + (
                r.error
                if r.error
                else f"timed out after {r.median_seconds:.0f} s"
                if r.timed_out
                else f"median {r.median_seconds:.2f} s, peak {r.peak_mb:.0f} MB, "
                f"facts {r.facts_by_policy}"
            ),
            file=sys.stderr,
            flush=True,
        )
        results.append(r)
    print(table(results, args.bound_factor))
    print(
        f"machine speed: a 10,000,000-step Python loop took {calibrate():.2f} s "
        "(about 0.6 s on an unloaded 2.5 GHz core; scale the figures by it)"
    )
    if args.json_out is not None:
        payload = [
            {
                "workload": r.workload.name,
                "hosts": r.workload.hosts,
                "zones": r.workload.zones,
                "rules": r.workload.rules,
                "facts": r.facts,
                "facts_by_policy": r.facts_by_policy,
                "seconds": [round(x.seconds, 4) for x in r.runs],
                "median_seconds": r.median_seconds,
                "cpu_seconds": [round(x.cpu_seconds, 4) for x in r.runs],
                "median_cpu_seconds": r.median_cpu_seconds,
                "peak_mb": r.peak_mb,
                "target_seconds": TARGETS[r.workload.name].seconds * args.bound_factor,
                "target_mb": TARGETS[r.workload.name].megabytes * args.bound_factor,
                "result": verdict(r, args.bound_factor),
                "error": r.error,
            }
            for r in results
        ]
        args.json_out.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    verdicts = [verdict(r, args.bound_factor) for r in results]
    if "ERROR" in verdicts:
        return 2
    return 1 if "FAIL" in verdicts else 0


if __name__ == "__main__":
    sys.exit(main())
