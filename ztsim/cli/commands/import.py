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


def _aws_texts(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    """``import aws`` and ``import terraform``: the three files and the summary line."""
    from ztsim.inputs.aws.importer import import_aws
    from ztsim.inputs.aws.terraform_import import import_terraform
    from ztsim.inputs.checks import NO_DATA_MESSAGE
    from ztsim.inputs.k8s.importer import (
        overlay_template_text,
        policy_yaml_text,
        topology_yaml_text,
    )

    if args.format == "terraform":
        imported = import_terraform(args.paths[0], name=args.name, side=args.side)
    else:
        imported = import_aws(args.paths, name=args.name)
    # AWS holds no data item: the overlay written next to the import adds them, so
    # "no data item" is the import's doing here, not a problem of the input.
    warnings_gate([n for n in imported.notes if n.message != NO_DATA_MESSAGE], args.strict)
    sources = [str(p) for p in args.paths]
    topology = topology_yaml_text(imported.topology_draft, sources)
    policy = policy_yaml_text(imported.policy_draft, sources)
    kind = "Terraform plan" if args.format == "terraform" else "AWS describe-* output"
    header = (
        ("Kubernetes manifests by `ztsim import k8s`", f"{kind} by `ztsim import {args.format}`"),
        (
            "Kubernetes network policies by `ztsim import k8s`",
            f"{kind} by `ztsim import {args.format}`",
        ),
        ("names the Kubernetes object it", "names the AWS object (or Terraform resource) it"),
        ("\n# Manifests: ", "\n# Read from: "),
    )
    for old, new in header:  # the shared bridge's headers name Kubernetes
        topology = topology.replace(old, new, 1)
        policy = policy.replace(old, new, 1)
    texts = {
        "topology.yaml": topology,
        "policy.yaml": policy,
        "overlay.yaml": overlay_template_text(imported),
    }
    doc = imported.topology_draft.document
    hosts = doc.get("hosts") or []
    policy_doc = imported.policy_draft.document
    rules = sum(
        len(tier.get("rules") or [])
        for section in ("segmentation", "egress")
        for layer in (policy_doc.get(section) or {}).get("layers") or []
        for tier in (layer.get("tiers") or [layer])
    )
    zones = [z for z in doc.get("zones") or [] if not z.get("external")]
    side = f" ({args.side} estate)" if args.format == "terraform" else ""
    summary = (
        f"imported {len(hosts)} host(s) in {len(zones)} subnet(s){side}, "
        f"{rules} rule(s) from security groups, network ACLs and routes"
    )
    return texts, summary


def _texts(args: argparse.Namespace) -> tuple[dict[str, str], str]:
    """The three files' text (by name), and the summary line; raises on bad input."""
    if args.format in ("aws", "terraform"):
        return _aws_texts(args)
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
        option = f"--{args.format}"
        check = f"ztsim check {' '.join(f'{option} {safe(str(p))}' for p in args.paths)}"
        print(f"next: edit {safe(targets[2])}, then {check} --overlay {safe(targets[2])}")
    return ExitCode.OK


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``import`` (with its formats ``k8s``, ``aws`` and ``terraform``) to the parser."""
    p = add_command(
        sub,
        "import",
        "Write ztsim files from another format: `ztsim import k8s` reads Kubernetes "
        "manifests (workloads, Services, Ingresses, NetworkPolicies, admin policies, "
        "Cilium FQDN egress); `ztsim import aws` the JSON of aws ec2 describe-* and aws rds "
        "describe-db-instances; `ztsim import terraform` the JSON of terraform show -json.",
        "ztsim import k8s examples/k8s/manifests/ --output imported/\n"
        "ztsim import aws examples/aws/describe --output imported/\n"
        "ztsim import terraform examples/aws/terraform/plan.json --output imported/",
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
    a = formats.add_parser(
        "aws",
        help="AWS describe-* JSON",
        description="Read the JSON that aws ec2 describe-instances, -security-groups, "
        "-network-acls, -subnets, -vpcs, -network-interfaces, -internet-gateways, "
        "-route-tables, -managed-prefix-lists (and get-managed-prefix-list-entries) and aws "
        "rds describe-db-instances print (one file per call, any names, told by their "
        "top-level key) and write DIR/topology.yaml, DIR/policy.yaml (each rule under a "
        "comment naming its security group rule, ACL entry or route and FILE:LINE) and "
        "DIR/overlay.yaml.",
    )
    a.add_argument("paths", nargs="+", metavar="PATH", help="JSON files or folders")
    t = formats.add_parser(
        "terraform",
        help="a Terraform plan or state (terraform show -json)",
        description="Read the JSON that terraform show -json prints for a plan (what it "
        "would build, or with --side base its prior state) or a state, and write "
        "DIR/topology.yaml, DIR/policy.yaml (each rule under a comment naming its "
        "Terraform resource address and its .tf file when the files are next to the plan) "
        "and DIR/overlay.yaml. Values known only after apply are read conservatively and "
        "reported.",
    )
    t.add_argument("paths", nargs=1, metavar="PLAN.json", help="terraform show -json output")
    t.add_argument(
        "--side",
        choices=("proposed", "base"),
        default="proposed",
        help="the estate the plan builds (proposed, default) or its prior state (base)",
    )
    for sp in (a, t):
        sp.add_argument(
            "--output", "-o", required=True, metavar="DIR", help="the folder to write in"
        )
        sp.add_argument(
            "--force",
            action="store_true",
            help="replace files that exist already (atomically; never an input of the run)",
        )
        sp.add_argument(
            "--name",
            metavar="NAME",
            help="the topology's and the policy's name (default: the folder's or plan's name)",
        )
        sp.add_argument("--strict", action="store_true", help="treat warnings as errors")
        sp.set_defaults(func=run)
