"""The commented overlay template ``ztsim import k8s`` writes as ``DIR/overlay.yaml``.

It is a valid, empty overlay: a header, then comments that list what there is to
select (the namespaces, the workloads with their kind, labels and services) and
an example of every section, written with the manifests' own names where they
fit.  Every name taken from the manifests is written as a YAML scalar that
stays on its line (JSON-quoted, ASCII only, when it is not a plain word), so no
label can end a comment and become YAML.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ztsim.inputs.k8s.drafts import TopologyDraft

__all__ = ["write_overlay_template"]

#: A scalar YAML reads as the same string when written plain.
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_./@+-]*$")
#: Plain-looking words YAML 1.1 reads as something else than a string.
_RESERVED = frozenset(["y", "yes", "n", "no", "true", "false", "on", "off", "null", "~"])


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar on one line.

    >>> _scalar("web"), _scalar("on"), _scalar("a\\nb")
    ('web', '"on"', '"a\\\\nb"')
    """
    if _PLAIN.match(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text, ensure_ascii=True)


def _labels(labels: dict[str, str]) -> str:
    pairs = ", ".join(f"{_scalar(k)}: {_scalar(v)}" for k, v in sorted(labels.items()))
    return "{" + pairs + "}"


def _services(host: dict[str, Any]) -> str:
    return ", ".join(
        s["service"] + (" public" if s.get("public") else "") for s in host.get("services", ())
    )


def _listing(draft: TopologyDraft) -> list[str]:
    """The comment lines listing namespaces and workloads."""
    doc = draft.document
    lines = ["#", "# Namespaces (select with {namespace: NAME}):"]
    internal = [z["id"] for z in doc["zones"] if not z.get("external")]
    lines += [f"#   {_scalar(z)}" for z in internal] or ["#   (none)"]
    external = [z["id"] for z in doc["zones"] if z.get("external")]
    lines += ["#", "# External zones (an entry point's zone): " + ", ".join(map(_scalar, external))]
    lines += [
        "#",
        "# Workloads (select with {workload: ID}, {kind: KIND}, {labels: {...}}):",
    ]
    for host in doc["hosts"]:
        by = draft.provenance.get(host["id"])
        kind = by.name.split(" ", 1)[0] if by is not None else "?"
        line = f"#   {_scalar(host['id'])}  kind: {_scalar(kind)}"
        if host.get("labels"):
            line += f"  labels: {_labels(host['labels'])}"
        if host.get("services"):
            line += f"  services: {_services(host)}"
        lines.append(line)
    if not doc["hosts"]:
        lines.append("#   (none)")
    return lines


def _example_target(doc: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """A workload and a service of it for the examples: a published one if any."""
    hosts = doc["hosts"]
    for want_public in (True, False):
        for host in hosts:
            for s in host.get("services", ()):
                if s.get("public") or not want_public:
                    return host, s["service"]
    return (hosts[0] if hosts else None), "443/tcp"


def _examples(doc: dict[str, Any]) -> list[str]:
    host, service = _example_target(doc)
    web = _scalar(host["id"]) if host else "NAMESPACE/NAME"
    namespace = host["zone"] if host else "NAMESPACE"
    internet = next((z["id"] for z in doc["zones"] if z.get("external")), "internet")
    return f"""\
#
# Uncomment and edit what applies (docs/k8s.md, "The overlay", explains each key).
#
# credentials:
#   - id: db-password
#
# workloads:
#   - select: {{workload: {web}}}
#     vulnerabilities:
#       - {{id: CVE-2025-0001, service: {service}, gives: user}}
#     credentials:
#       - {{credential: db-password, requires: user}}
#   - select: {{namespace: {_scalar(namespace)}, labels: {{app: db}}}}
#     services:
#       - {{service: 5432/tcp, name: postgres}}
#     logins:
#       - {{credential: db-password, service: 5432/tcp, gives: service}}
#     data:
#       - {{id: customers, classification: pii, records: 1000000,
#          requires: service, service: 5432/tcp, integrity: true}}
#
# external:
#   - {{id: c2, fqdn: c2.attacker.example, role: c2}}
#
# traffic:
#   - {{from: {_scalar(internet)}, to: {web}, service: {service}}}
#   - {{from: {web}, to: {{namespace: {_scalar(namespace)}, labels: {{app: db}}}},
#      service: 5432/tcp, credential: db-password}}
#
# entry_points:   # given, they replace the default (the internet)
#   - {{id: internet-attacker, zone: {_scalar(internet)}}}
#   - {{id: phished-developer, host: {web}, gives: user}}
#
# ingress_controllers:   # what proxies Ingresses and Routes (default: recognised)
#   - {{workload: ingress-nginx/ingress-nginx-controller}}
""".splitlines()


def write_overlay_template(draft: TopologyDraft) -> str:
    """The overlay template for ``draft``'s topology (see the module's docstring).

    Loaded as it is, it is a valid overlay that changes nothing.
    """
    doc = draft.document
    name = _scalar(f"{doc.get('name', 'kubernetes')}-overlay")
    head = [
        "# ztsim overlay: the attack ingredients Kubernetes manifests do not hold",
        "# (vulnerabilities, credentials, logins, data, entry points, legitimate traffic).",
        "# Use it with: ztsim check --k8s MANIFESTS... --overlay overlay.yaml",
        "ztsim: 1",
        "kind: overlay",
        f"name: {name}",
    ]
    return "\n".join([*head, *_listing(draft), *_examples(doc)]) + "\n"
