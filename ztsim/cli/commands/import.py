"""``ztsim import k8s``: Kubernetes manifests written as ztsim files (issue 25, point 1).

``ztsim import k8s PATH... --output DIR`` reads the manifests, maps and compiles
them (:func:`ztsim.inputs.k8s.importer.import_k8s`, the loader ``check --k8s``
uses too), and writes ``DIR/topology.yaml``, ``DIR/policy.yaml`` (each item under
a comment naming its Kubernetes object and FILE:LINE) and ``DIR/overlay.yaml`` (a
commented template for the attack ingredients).  The three files are worked out
before any is written: on an error nothing is written (exit 2); an existing file
is never replaced without ``--force``, and then atomically.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ztsim.cli.common import add_command, warnings_gate
from ztsim.cli.exitcodes import ExitCode
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.textsafe import safe

ORDER = 15

#: The files written, in this order.
FILES = ("topology.yaml", "policy.yaml", "overlay.yaml")


def _texts(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    """The three files' text (by name), and the summary line; raises on bad input."""
    from ztsim.inputs.k8s.importer import (
        import_k8s,
        overlay_template_text,
        policy_yaml_text,
        topology_yaml_text,
    )

    imported = import_k8s(args.paths, name=args.name)
    warnings_gate(list(imported.notes), args.strict)
    sources = [str(p) for p in args.paths]
    texts = {
        "topology.yaml": topology_yaml_text(imported.topology_draft, sources),
        "policy.yaml": policy_yaml_text(imported.policy_draft, sources),
        "overlay.yaml": overlay_template_text(imported),
    }
    m = imported.manifests
    summary = (
        f"imported {len(m.workloads)} workload(s) in {len(m.namespaces)} namespace(s), "
        f"{len(m.network_policies)} NetworkPolicy, {len(m.admin_policies)} AdminNetworkPolicy, "
        f"{len(m.baseline_policies)} BaselineAdminNetworkPolicy, "
        f"{len(m.cilium_policies)} CiliumNetworkPolicy spec(s) from {len(m.files)} file(s)"
    )
    return texts, summary


def run(args: argparse.Namespace) -> int:
    """Import the manifests; write the three files, or nothing."""
    from ztsim.output.outfile import check_target, write_output

    out = Path(args.output)
    if out.exists() and not out.is_dir():
        msg = "--output names a folder to write topology.yaml, policy.yaml and overlay.yaml in"
        raise InputError([Diagnostic(args.output, 1, 1, "error", msg)])
    targets = [str(out / name) for name in FILES]
    inputs = [*args.paths]
    existing = [t for t in targets if Path(t).exists() or Path(t).is_symlink()]
    if existing and not args.force:
        raise InputError(
            [
                Diagnostic(t, 1, 1, "error", "exists already: not replaced (--force replaces it)")
                for t in existing
            ]
        )
    if out.is_dir():
        for t in targets:  # an input among them, a read-only file: refused before the run
            check_target(t, inputs)
    texts, summary = _texts(args)
    out.mkdir(parents=True, exist_ok=True)
    for name, target in zip(FILES, targets, strict=True):
        write_output(target, texts[name], inputs)
    print(safe(summary))
    print(f"wrote {', '.join(safe(t) for t in targets)}")
    if sys.stdout.isatty():
        check = f"ztsim check --k8s {' '.join(safe(str(p)) for p in args.paths)}"
        print(f"next: edit {safe(targets[2])}, then {check} --overlay {safe(targets[2])}")
    return ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``import`` (with its one format, ``k8s``) to the parser."""
    p = add_command(
        sub,
        "import",
        "Write ztsim files from another format: `ztsim import k8s` reads Kubernetes "
        "manifests (workloads, Services, Ingresses, NetworkPolicies, admin policies, "
        "Cilium FQDN egress).",
        "ztsim import k8s examples/k8s/manifests/ --output imported/",
    )
    formats = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    k = formats.add_parser(
        "k8s",
        help="Kubernetes manifests",
        description="Read Kubernetes manifests (files, folders read recursively, "
        "multi-document streams, *List kinds) and write DIR/topology.yaml, DIR/policy.yaml "
        "(each item under a comment naming its Kubernetes object and FILE:LINE) and "
        "DIR/overlay.yaml (a template for the attack ingredients).",
    )
    k.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or folders")
    k.add_argument("--output", "-o", required=True, metavar="DIR", help="the folder to write in")
    k.add_argument(
        "--force",
        action="store_true",
        help="replace files that exist already (atomically; never an input of the run)",
    )
    k.add_argument(
        "--name",
        metavar="NAME",
        help="the topology's and the policy's name (default: the last part of the PATH, "
        "or of the folder the PATHs share)",
    )
    k.add_argument("--strict", action="store_true", help="treat warnings as errors")
    k.set_defaults(func=run)
