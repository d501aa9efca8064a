"""A naive evaluator of a layered (model v1.1) policy document, for the k8s tests.

Reads the plain documents the Kubernetes compiler writes (no ztsim code at all)
and answers one question per call, by the letter of docs/model-v1.1.md section 3
(and spec section 4 past its listening and public rules): may ``src`` (a host id
or an external zone id) open ``port``/``proto`` on host ``dst``?  Each layer:
tiers in order, first matching rule of a tier decides, ``pass`` skips to the next
tier, else the layer's default; the flow is allowed iff every layer allows it.
Egress to an external destination likewise, on the egress section's layers, a
CIDR destination being covered by a pattern only when wholly inside it (the
tests only probe destinations that no pattern splits).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

__all__ = ["Compiled"]


def _services_match(services: list[str] | None, port: int, proto: str) -> bool:
    if services is None:
        return True
    for s in services:
        if s == "any":
            return True
        ports, p = s.split("/")
        low, _, high = ports.partition("-")
        if p == proto.lower() and int(low) <= port <= int(high or low):
            return True
    return False


def _holds(expr: dict[str, Any], labels: dict[str, str]) -> bool:
    key, op = expr["key"], expr["operator"]
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    inside = key in labels and labels[key] in expr["values"]
    return inside if op == "In" else not inside


@dataclass
class Compiled:
    """A topology document and a compiled policy document."""

    topology: dict[str, Any]
    policy: dict[str, Any]

    def __post_init__(self) -> None:
        self.hosts = {h["id"]: h for h in self.topology.get("hosts") or []}
        self.external = {z["id"] for z in self.topology.get("zones") or [] if z.get("external")}

    def matches(self, sel: dict[str, Any] | None, who: str) -> bool:
        """Whether selector ``sel`` picks host or external zone ``who``."""
        if not sel:
            return True
        if who in self.external:
            return set(sel) == {"zone"} and who in sel["zone"]
        host = self.hosts[who]
        labels = host.get("labels") or {}
        zones = sel.get("zone")
        if zones is not None and host["zone"] not in ([zones] if isinstance(zones, str) else zones):
            return False
        if "host" in sel and who not in sel["host"]:
            return False
        if any(labels.get(k) != v for k, v in (sel.get("labels") or {}).items()):
            return False
        return all(_holds(e, labels) for e in sel.get("labels_match") or [])

    def _layer(self, layer: dict[str, Any], match: Any) -> bool:
        tiers = layer.get("tiers") or [{"rules": layer.get("rules") or []}]
        for tier in tiers:
            for rule in tier["rules"]:
                if match(rule):
                    if rule["action"] == "pass":
                        break
                    return bool(rule["action"] == "allow")
        return bool(layer.get("default", "allow") == "allow")

    def allowed(self, src: str, dst: str, port: int, proto: str) -> bool:
        """Whether segmentation allows ``src`` to open ``port``/``proto`` on host ``dst``."""

        def match(rule: dict[str, Any]) -> bool:
            return (
                self.matches(rule.get("from"), src)
                and self.matches(rule.get("to"), dst)
                and _services_match(rule.get("services"), port, proto)
            )

        layers = self.policy["segmentation"]["layers"]
        return all(self._layer(layer, match) for layer in layers)

    def egress_allowed(self, src: str, dest: dict[str, Any], port: int, proto: str) -> bool:
        """Whether host ``src`` may reach external destination ``dest`` on ``port``/``proto``."""

        def covers(pattern: Any) -> bool:
            if pattern == "*":
                return True
            if isinstance(pattern, dict) or "/" in pattern:
                if "cidr" not in dest:
                    return False
                block = pattern if isinstance(pattern, dict) else {"cidr": pattern}
                net = ipaddress.ip_network(dest["cidr"])
                outer = ipaddress.ip_network(block["cidr"])
                return (
                    net.version == outer.version
                    and net.subnet_of(outer)  # type: ignore[arg-type]
                    and not any(
                        net.overlaps(ipaddress.ip_network(e)) for e in block.get("except") or []
                    )
                )
            name = dest.get("fqdn")
            if name is None:
                return False
            if pattern.startswith("*."):
                return bool(name.endswith(pattern[1:]))
            return bool(name == pattern)

        def match(rule: dict[str, Any]) -> bool:
            return (
                self.matches(rule.get("from"), src)
                and any(covers(p) for p in rule.get("to") or ["*"])
                and _services_match(rule.get("services"), port, proto)
            )

        layers = self.policy["egress"]["layers"]
        return all(self._layer(layer, match) for layer in layers)
