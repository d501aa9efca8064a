"""Record what every command prints, to prove a refactor changed nothing for users.

``record`` runs every command in every format on the shipped scenarios and on
benchmark workloads, and writes each run's exit status, standard output and
standard error to one file per run (plus any file the run wrote).  ``compare``
runs the same set again and reports each run whose bytes differ from a record.

    python benchmarks/outputs.py record --out /tmp/before            # S workload too
    python benchmarks/outputs.py record --out /tmp/before --workload S M
    python benchmarks/outputs.py compare /tmp/before                 # exit 1 on any difference
    python benchmarks/outputs.py record --out /tmp/old --source /tmp/old-tree   # another tree

Run from the repository root with the project's virtual environment active.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: The shipped scenarios: topology, policies (file or folder), assertions, a base and
#: a proposed policy for ``diff``, a policy to ``harden``.
SCENARIOS: dict[str, dict[str, str]] = {
    "pajemploi": {
        "topology": "topologies/pajemploi.yaml",
        "policies": "policies/flat.yaml policies/segmented.yaml policies/zero-trust.yaml",
        "assert": "assertions/pajemploi.yaml",
        "base": "policies/segmented.yaml",
        "proposed": "policies/zero-trust.yaml",
        "harden": "policies/segmented.yaml",
    },
    "k8s-shop": {
        "topology": "topologies/k8s-shop.yaml",
        "policies": "policies/k8s-shop",
        "assert": "assertions/k8s-shop.yaml",
        "base": "policies/k8s-shop/default-allow.yaml",
        "proposed": "policies/k8s-shop/network-policies.yaml",
        "harden": "policies/k8s-shop/broad-egress.yaml",
    },
    "corporate": {
        "topology": "topologies/corporate.yaml",
        "policies": "policies/corporate",
        "assert": "assertions/corporate.yaml",
        "base": "policies/corporate/flat.yaml",
        "proposed": "policies/corporate/tiered.yaml",
        "harden": "policies/corporate/flat.yaml",
    },
}

#: Another source tree to run (``--source``): its ``ztsim`` package is imported first.
SOURCE: Path | None = None

CHECK_FORMATS = ("text", "json", "junit", "sarif", "github", "markdown")


def _policy_args(policies: str) -> list[str]:
    out: list[str] = []
    for p in policies.split():
        out += ["-p", p]
    return out


def runs(sc: dict[str, str], *, small: bool) -> Iterator[tuple[str, list[str]]]:
    """(name, argv) of every run on one scenario; ``small`` adds the costly ones."""
    topo, pols = sc["topology"], _policy_args(sc["policies"])
    for fmt in CHECK_FORMATS:
        yield f"check-{fmt}", ["check", topo, *pols, "--format", fmt]
        if "assert" in sc:
            yield (
                f"check-assert-{fmt}",
                ["check", topo, *pols, "--assert", sc["assert"], "--format", fmt],
            )
    yield "check-rules", ["check", topo, *pols, "--rules"]
    yield "check-baseline", ["check", topo, "-p", sc["proposed"], "--baseline", sc["base"]]
    yield "paths-text", ["paths", topo, *pols]
    yield "paths-json", ["paths", topo, *pols, "--format", "json"]
    yield "paths-k1", ["paths", topo, *pols, "-k", "1"]
    for fmt in ("text", "json", "markdown"):
        yield (
            f"diff-{fmt}",
            ["diff", topo, "--base", sc["base"], "--proposed", sc["proposed"], "--format", fmt],
        )
    for fmt in ("text", "json"):
        yield f"lint-{fmt}", ["lint", "--topology", topo, *sc["policies"].split(), "--format", fmt]
    if small:
        for fmt in ("text", "json"):
            yield f"harden-{fmt}", ["harden", topo, "-p", sc["harden"], "--format", fmt]
        for fmt in ("graphml", "dot", "json"):
            yield f"graph-{fmt}", ["graph", topo, "-p", sc["base"], "--format", fmt]
    yield "validate", ["validate", topo, *sc["policies"].split()]


def plan(workloads: list[str]) -> list[tuple[str, list[str]]]:
    """Every (run name, argv) to record, in a fixed order."""
    out: list[tuple[str, list[str]]] = [
        ("schema-" + kind, ["schema", kind]) for kind in ("topology", "policy", "assertions")
    ]
    for name, sc in SCENARIOS.items():
        out += [(f"{name}/{r}", argv) for r, argv in runs(sc, small=True)]
    for w in workloads:
        folder = ROOT / "benchmarks" / "out" / f"{w}-seed1"
        hetero = w.startswith("H-")  # issue 26's family (hfamily.py)
        if not (folder / "topology.yaml").exists():
            script = "hfamily.py" if hetero else "generate.py"
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "benchmarks" / script),
                    "--workload",
                    w,
                    "--seed",
                    "1",
                    "--out",
                    str(folder),
                ],
                check=True,
            )
        base, proposed = ("h-one", "h-two") if hetero else ("segmented", "zero-trust")
        sc = {
            "topology": str(folder / "topology.yaml"),
            "policies": str(folder / "policies"),
            "base": str(folder / "policies" / f"{base}.yaml"),
            "proposed": str(folder / "policies" / f"{proposed}.yaml"),
            "harden": str(folder / "policies" / f"{base}.yaml"),
        }
        out += [(f"workload-{w}/{r}", argv) for r, argv in runs(sc, small=w in ("S", "H-S"))]
    return out


def run_one(argv: list[str]) -> bytes:
    """Run ``python -m ztsim ARGV`` from the root; its status, stdout and stderr as bytes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZTSIM_")}
    env.update({"ZTSIM_CACHE": "off", "COLUMNS": "120"})
    # `python -m` puts the working folder first on sys.path: another tree runs from its
    # own root (its own copies of the shipped scenarios; workloads are absolute paths).
    cwd = ROOT if SOURCE is None else SOURCE
    proc = subprocess.run(
        [sys.executable, "-m", "ztsim", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        check=False,
        timeout=600,
    )
    return (
        f"$ ztsim {' '.join(argv)}\nexit {proc.returncode}\n--- stdout\n".encode()
        + proc.stdout
        + b"\n--- stderr\n"
        + proc.stderr
    )


def _file(out: Path, name: str) -> Path:
    return out / (name.replace("/", "__") + ".out")


def record(out: Path, workloads: list[str]) -> int:
    """Write one file per run under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for name, argv in plan(workloads):
        _file(out, name).write_bytes(run_one(argv))
        print(f"recorded {name}", file=sys.stderr)
    return 0


def compare(before: Path, workloads: list[str], *, context: int) -> int:
    """Run again and compare with the records in ``before``; 1 on any difference."""
    differ = 0
    for name, argv in plan(workloads):
        old_path = _file(before, name)
        if not old_path.exists():
            print(f"NEW      {name} (no record)")
            continue
        new, old = run_one(argv), old_path.read_bytes()
        if new == old:
            print(f"same     {name}  {hashlib.sha256(new).hexdigest()[:12]}")
            continue
        differ += 1
        print(f"DIFFERS  {name}")
        lines = difflib.unified_diff(
            old.decode(errors="replace").splitlines(),
            new.decode(errors="replace").splitlines(),
            "before",
            "after",
            n=1,
            lineterm="",
        )
        for i, line in enumerate(lines):
            if i >= context:
                print("    ...")
                break
            print("    " + line)
    print(f"{differ} run(s) differ")
    return 1 if differ else 0


def main() -> int:
    """Parse the command line and record or compare."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="what", required=True)
    r = sub.add_parser("record")
    r.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("--context", type=int, default=30, help="diff lines shown per run")
    for p in (r, c):
        p.add_argument(
            "--workload", nargs="*", default=["S"], choices=["S", "M", "L", "H-S", "H-M"]
        )
        p.add_argument("--source", type=Path, help="run this source tree's ztsim instead")
    args = ap.parse_args()
    global SOURCE
    SOURCE = args.source
    if args.what == "record":
        return record(args.out, args.workload)
    return compare(args.before, args.workload, context=args.context)


if __name__ == "__main__":
    sys.exit(main())
