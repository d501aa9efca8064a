"""Writing policies back to YAML (``ztsim harden --write``).

PyYAML's safe dumper, with rules and other short leaf mappings in flow style as
the shipped policies write them (``- {id: x, action: deny, from: {zone: internet}}``),
``from`` under its own name (the model's field is ``source``), and defaults left
out.  Comments of the original file are not kept: a header says where the file
came from.  The output loads back into the same policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from ztsim.model.schema import Policy

__all__ = ["policy_yaml", "rule_line"]


class _Flow(dict[str, Any]):
    """A mapping written in flow style."""


class _Dumper(yaml.SafeDumper):
    """Safe dumper that indents block sequences and writes :class:`_Flow` inline."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_flow(dumper: yaml.SafeDumper, data: _Flow) -> yaml.Node:
    return dumper.represent_mapping("tag:yaml.org,2002:map", dict(data), flow_style=True)


_Dumper.add_representer(_Flow, _represent_flow)


def rule_line(rule: dict[str, Any]) -> str:
    """One rule as a one-line YAML flow mapping."""
    text = yaml.dump(_Flow(rule), Dumper=_Dumper, sort_keys=False, width=10**6, allow_unicode=True)
    return text.strip()


def policy_yaml(policy: Policy, header: Sequence[str] = ()) -> str:
    """The policy as YAML text (a rule per line), ``header`` lines first as comments.

    Both sections are written with their ``default`` even when it is the
    default, so the reader sees the posture at a glance.
    """
    data = policy.model_dump(by_alias=True, exclude_defaults=True)
    out: dict[str, Any] = {k: data[k] for k in ("ztsim", "kind", "name") if k in data}
    if "description" in data:
        out["description"] = data["description"]
    seg: dict[str, Any] = {"default": policy.segmentation.default}
    if policy.segmentation.intra_zone != "rules":
        seg["intra_zone"] = policy.segmentation.intra_zone
    seg["rules"] = [_Flow(r) for r in data.get("segmentation", {}).get("rules", [])]
    out["segmentation"] = seg
    egr: dict[str, Any] = {"default": policy.egress.default}
    egr["rules"] = [_Flow(r) for r in data.get("egress", {}).get("rules", [])]
    out["egress"] = egr
    controls = data.get("controls")
    if controls:
        if "detection" in controls:
            controls["detection"] = [_Flow(d) for d in controls["detection"]]
        out["controls"] = controls
    body = yaml.dump(out, Dumper=_Dumper, sort_keys=False, width=10**6, allow_unicode=True)
    head = "".join(f"# {line}\n" if line else "#\n" for line in header)
    return head + body
