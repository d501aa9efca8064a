"""Benchmark the Kubernetes import at scale (issue 25, "Scale").

Usage::

    python benchmarks/k8s.py                 # L: 10,000 pods, 100 namespaces, 2,000 policies
    python benchmarks/k8s.py --size S        # the CI smoke size (200 pods, 10 namespaces)
    python benchmarks/k8s.py --size L-open   # L with no NetworkPolicy (nothing isolated)

A seeded generator writes manifests to ``benchmarks/out/k8s-SIZE/`` (one file per
namespace: its Namespace, bare Pods, Services and NetworkPolicies; the same seed
gives the same bytes) and an overlay (a vulnerability on every ``tier: front``
pod, a login and data on every ``tier: db`` pod, a C2 destination).  Then, each
measured end to end in a fresh interpreter (``python -m ztsim``), median of
``--repeat`` runs:

* **import**: ``ztsim import k8s DIR --output OUT --force``;
* **check**: ``ztsim check --k8s DIR --overlay OVERLAY`` (import included);
* **reach**: ``ztsim reach`` on the imported files, ``--from zone:ns-000``.

Targets (L): import + check within 5 s, reach within 5 s on the 2-core machine.
Exit status: 0 every target met; 1 some target missed (or a command failed);
2 bad usage.  A command that fails prints its first error line.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"

#: size -> (namespaces, pods per namespace, NetworkPolicies per namespace)
SIZES = {"S": (10, 20, 4), "M": (50, 100, 10), "L": (100, 100, 20), "L-open": (100, 100, 0)}
TARGET_S = 5.0
APPS = ("front", "api", "worker", "cache", "db")


def _namespace(rng: random.Random, n: int, pods: int, policies: int, spaces: int) -> str:
    ns = f"ns-{n:03d}"
    docs = [
        f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n  labels: {{team: t{n % 7}}}"
    ]
    for p in range(pods):
        tier = APPS[p % len(APPS)]
        port = 8000 + APPS.index(tier)
        docs.append(
            f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: {tier}-{p:03d}\n  namespace: {ns}\n"
            f"  labels: {{app: {tier}-{p % 10}, tier: {tier}}}\nspec:\n  containers:\n"
            f"    - name: c\n      ports: [{{name: svc, containerPort: {port}}}]"
        )
    docs.append(
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: front, namespace: {ns}}}\n"
        "spec:\n  type: LoadBalancer\n  selector: {tier: front}\n"
        "  ports: [{port: 80, targetPort: svc}]"
    )
    if policies:  # none: every pod open (each side's rules are the unisolated tier's)
        docs.append(
            f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
            f"  name: default-deny\n  namespace: {ns}\nspec:\n  podSelector: {{}}\n"
            "  policyTypes: [Ingress, Egress]"
        )
    for i in range(policies - 1):
        src = APPS[i % (len(APPS) - 1)]
        dst = APPS[i % (len(APPS) - 1) + 1]
        peer_ns = f"ns-{rng.randrange(spaces):03d}"
        docs.append(
            f"apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n"
            f"  name: allow-{i:02d}\n  namespace: {ns}\nspec:\n"
            f"  podSelector: {{matchLabels: {{tier: {dst}}}}}\n  policyTypes: [Ingress]\n"
            f"  ingress:\n    - from:\n        - podSelector: {{matchLabels: {{tier: {src}}}}}\n"
            f"          namespaceSelector:\n            matchExpressions:\n"
            f"              - {{key: kubernetes.io/metadata.name, operator: In, "
            f"values: [{ns}, {peer_ns}]}}\n"
            f"      ports: [{{port: svc}}, {{port: {8000 + rng.randrange(5)}, endPort: 8010}}]"
        )
    return "\n---\n".join(docs) + "\n"


OVERLAY = """ztsim: 1
kind: overlay
name: bench
credentials: [{id: db-cred}]
workloads:
  - select: {labels: {tier: front}}
    vulnerabilities: [{id: CVE-1, service: 8000/tcp, gives: root}]
    credentials: [{credential: db-cred}]
  - select: {labels: {tier: db}}
    logins: [{credential: db-cred, service: 8004/tcp}]
    data: [{id: rows, records: 1000}]
external:
  - {id: c2, fqdn: c2.example, role: c2}
"""


def generate(size: str, seed: int = 25) -> tuple[Path, Path]:
    """Write the manifests and overlay of ``size`` (same seed, same bytes)."""
    spaces, pods, policies = SIZES[size]
    rng = random.Random(seed)
    base = OUT / f"k8s-{size}"
    manifests = base / "manifests"
    manifests.mkdir(parents=True, exist_ok=True)
    for n in range(spaces):
        (manifests / f"ns-{n:03d}.yaml").write_text(
            _namespace(rng, n, pods, policies, spaces), encoding="utf-8"
        )
    overlay = base / "overlay.yaml"
    overlay.write_text(OVERLAY, encoding="utf-8")
    return manifests, overlay


def _timed(argv: list[str], repeat: int) -> tuple[float | None, str]:
    times: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "ztsim", *argv], capture_output=True, text=True, cwd=ROOT
        )
        times.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            first = (proc.stderr.strip().splitlines() or ["?"])[-2:]
            return None, " / ".join(first)
    return statistics.median(times), ""


def main(argv: list[str] | None = None) -> int:
    """Generate, run and compare with the targets."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="L")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bound-factor", type=float, default=1.0, help="targets times this")
    ap.add_argument("--only", nargs="+", choices=("import", "check", "reach"), help="these runs")
    args = ap.parse_args(argv)
    manifests, overlay = generate(args.size)
    imported = manifests.parent / "imported"
    spaces, pods, policies = SIZES[args.size]
    print(
        f"k8s-{args.size}: {spaces * pods:,} pods, {spaces} namespaces, "
        f"{spaces * policies:,} NetworkPolicies"
    )
    runs = {
        "import": ["import", "k8s", str(manifests), "-o", str(imported), "--force"],
        "check": ["check", "--k8s", str(manifests), "--overlay", str(overlay)],
        "reach": [
            "reach",
            str(imported / "topology.yaml"),
            "-p",
            str(imported / "policy.yaml"),
            "--from",
            "zone:ns-000",
            "--format",
            "json",
        ],
    }
    bound = TARGET_S * args.bound_factor
    ok = True
    for name, cmd in runs.items():
        if args.only and name not in args.only:
            continue
        took, why = _timed(cmd, args.repeat)
        if took is None:
            print(f"  {name:<7} FAILED: {why}")
            ok = False
            continue
        met = took <= bound
        ok &= met
        print(f"  {name:<7} {took:6.2f} s  (target {bound:.1f} s: {'met' if met else 'MISSED'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
