"""A/B test of the time after parsing: two source trees, rounds alternated, paired.

This machine's speed changes from one minute to the next (the calibration loop of
``run.py`` has taken from 0.48 s to 1.13 s within an hour), so figures taken
minutes apart say little about a change.  This script alternates the trees, one
``phases.py`` run each (``--repeat`` rounds, its minimum kept), and reports the
ratio of each pair, taken in the same minute, and the median of those ratios::

    git worktree add /tmp/base HEAD~3
    ln -s "$PWD/benchmarks/out" /tmp/base/benchmarks/out   # share the workloads
    python benchmarks/abtest.py . /tmp/base --workload L --pairs 8

Each tree's own ``benchmarks/phases.py`` runs, with this interpreter, so older
trees are measured by their own harness; ``--parallel`` is always given (as
``check`` runs).  Exit status 0, or 2 when a run gave no figure.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

AFTER = re.compile(r"^\s+after\s+([0-9.]+)", re.MULTILINE)


def after_parsing(tree: Path, workload: str, repeat: int) -> float | None:
    """The minimum time after parsing that ``tree``'s ``phases.py`` prints, or ``None``."""
    run = subprocess.run(
        [
            sys.executable,
            str(tree / "benchmarks" / "phases.py"),
            "--workload",
            workload,
            "--repeat",
            str(repeat),
            "--parallel",
        ],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    found = AFTER.search(run.stdout)
    return float(found.group(1)) if found else None


def main(argv: list[str] | None = None) -> int:
    """Alternate the two trees and print each pair, then the median ratio A/B."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a", type=Path, help="source tree A (the change)")
    ap.add_argument("b", type=Path, help="source tree B (the baseline)")
    ap.add_argument("--workload", default="L", help="S, M, L or XL (default L)")
    ap.add_argument("--pairs", type=int, default=8, help="pairs of runs (default 8)")
    ap.add_argument("--repeat", type=int, default=2, help="rounds per run (default 2)")
    args = ap.parse_args(argv)
    pairs: list[tuple[float, float]] = []
    for i in range(max(1, args.pairs)):
        a = after_parsing(args.a.resolve(), args.workload, args.repeat)
        b = after_parsing(args.b.resolve(), args.workload, args.repeat)
        if a is None or b is None:
            print(f"pair {i + 1}: a run printed no figure (is the workload generated?)")
            return 2
        pairs.append((a, b))
        print(f"pair {i + 1}: A {a:.3f} s  B {b:.3f} s  A/B {a / b:.3f}", flush=True)
    ratio = statistics.median(a / b for a, b in pairs)
    print(
        f"median A/B {ratio:.3f} over {len(pairs)} pairs; "
        f"minimum A {min(a for a, _ in pairs):.3f} s, B {min(b for _, b in pairs):.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
