"""``ztsim lint``: rules that never decide, duplicate, dead, over-broad or exfiltration-prone.

Without a topology, the checks are about the policy alone: rules shadowed by
earlier rules (:mod:`ztsim.whatif.cover`), duplicates, ``any -> any`` allows and
egress allows to ``*``.  With one, every concrete flow (source host or external
zone, destination host, offered service) and egress (host, destination, service)
is decided under the policy, and each rule is checked for matching nothing,
deciding nothing (shadowed in this topology), deciding nothing that matters
(no legitimate flow, no attack step of the reference policy's full attack graph),
allowing more than the legitimate traffic needs, and egress that reaches an
attacker-usable destination (role ``c2`` or ``web-service``).

Levels: ``error`` (exit 1) for a rule whose intent is never honoured (shadowed by
rules of the other action) and for egress that lets data out to the attacker;
``warning`` for dead or over-broad rules; ``info`` for the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.inputs.positions import locate
from ztsim.model.schema import EgressRule, PlacedRule, SegmentationRule
from ztsim.model.textsafe import safe
from ztsim.whatif.cover import egress_shadowing, segmentation_shadowing
from ztsim.whatif.lintflows import FlowChecks

__all__ = ["Finding", "lint_policy"]

Level = Literal["error", "warning", "info"]
Section = Literal["segmentation", "egress"]


R = TypeVar("R", SegmentationRule, EgressRule)


def _tiers(placed: Sequence[PlacedRule[R]]) -> list[list[R]]:
    """The rules of each tier, in order (one list for a v1 section)."""
    out: dict[tuple[int, int], list[R]] = {}
    for p in placed:
        out.setdefault((p.layer_index, p.tier_index), []).append(p.rule)
    return list(out.values()) or [[]]


@dataclass(frozen=True, order=True)
class Finding:
    """One lint finding, located at its rule (or section) in the policy file."""

    path: str
    line: int
    column: int
    level: Level
    code: str
    section: str
    rule: str | None
    message: str
    fix: str

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "file": self.path,
            "line": self.line,
            "column": self.column,
            "level": self.level,
            "code": self.code,
            "section": self.section,
            "rule": self.rule,
            "message": self.message,
            "fix": self.fix,
        }

    def __str__(self) -> str:
        # user text escaped field by field (ztsim.model.textsafe): the newline is the only one
        what = f" {self.section} rule {safe(self.rule)}:" if self.rule else f" {self.section}:"
        return (
            f"{safe(self.path)}:{self.line}:{self.column}: {self.level}: [{self.code}]{what} "
            f"{safe(self.message)}\n    fix: {safe(self.fix)}"
        )


class _Linter(FlowChecks):
    def __init__(self, policy: LoadedPolicy, topo: LoadedTopology | None) -> None:
        self.policy = policy
        self.topo = topo
        self.findings: list[Finding] = []
        self.notes: list[str] = []

    def add(
        self, level: Level, code: str, section: Section, rule: str | None, msg: str, fix: str
    ) -> None:
        if rule is not None:
            mark = self.policy.rule_mark(section, rule)
        elif self.policy.doc is not None:
            mark = locate(self.policy.doc, (section, "default"))
        else:
            mark = None
        line, col = (mark.line, mark.column) if mark else (1, 1)
        self.findings.append(
            Finding(self.policy.path, line, col, level, code, section, rule, msg, fix)
        )

    # ------------------------------------------------------------------ policy alone

    def shadowing(self) -> None:
        model = self.policy.model
        tables: list[tuple[Section, Sequence[SegmentationRule] | Sequence[EgressRule], Any]] = []
        # Per tier (model v1.1: first match holds within a tier; a `pass` covers like
        # a deciding rule); a v1 section is one tier.
        for seg in _tiers(model.segmentation.placed_rules()):
            tables.append(("segmentation", seg, segmentation_shadowing(seg)))
        for egr in _tiers(model.egress.placed_rules()):
            tables.append(("egress", egr, egress_shadowing(egr)))
        for section, rules, shadows in tables:
            for j, sh in sorted(shadows.items()):
                r = rules[j]
                names = ", ".join(rules[i].id for i in sh.by)
                level: Level = "error" if sh.conflicting else "warning"
                intent = (
                    f"its {r.action} is never honoured: earlier rules of the other action decide"
                    if sh.conflicting
                    else "it is redundant"
                )
                if sh.duplicate_of is not None:
                    first = rules[sh.duplicate_of].id
                    self.add(
                        level,
                        "duplicate",
                        section,
                        r.id,
                        f"matches exactly what {first} matches (first match: {first}); {intent}",
                        f"remove {r.id}"
                        if not sh.conflicting
                        else f"decide between {first} and {r.id}, and keep one",
                    )
                else:
                    self.add(
                        level,
                        "shadowed",
                        section,
                        r.id,
                        f"never decides anything: earlier rule(s) {names} match every flow it "
                        f"matches (selectors and services); {intent}",
                        f"move {r.id} above {rules[sh.by[0]].id} or narrow the earlier rule(s)"
                        if sh.conflicting
                        else f"remove {r.id}",
                    )

    def broad_syntactic(self) -> None:
        if self.policy.model.egress.default == "allow":
            self.add(
                "warning",
                "egress-attacker",
                "egress",
                None,
                "default allow: every host may reach any destination, the attacker's too",
                "set egress.default: deny and allow only the FQDNs hosts need",
            )
        if self.policy.model.segmentation.default == "allow":
            self.add(
                "info",
                "default-allow",
                "segmentation",
                None,
                "default allow: every flow no rule matches is allowed",
                "set segmentation.default: deny and allow the flows the business needs",
            )
        for r in self.policy.model.segmentation.rules:
            if r.action == "allow" and r.source.is_any and r.to.is_any:
                self.add(
                    "warning",
                    "broad-allow",
                    "segmentation",
                    r.id,
                    "allows any -> any"
                    + ("" if r.services else " on every service")
                    + ": every host is a stepping stone",
                    "name the sources and destinations that need the flow",
                )
        for e in self.policy.model.egress.rules:
            if e.action == "allow" and "*" in e.to:
                self.add(
                    "warning",
                    "egress-attacker",
                    "egress",
                    e.id,
                    "allows egress to `*`: every destination, the attacker's own server too",
                    "list the exact FQDNs the hosts need",
                )


def lint_policy(
    policy: LoadedPolicy, topology: LoadedTopology | None = None
) -> tuple[list[Finding], list[str]]:
    """Lint ``policy`` (against ``topology`` when given): sorted findings and notes."""
    lt = _Linter(policy, topology)
    lt.shadowing()
    if topology is None:
        lt.broad_syntactic()
    else:
        lt.concrete(topology)
    seen: set[tuple[str, str | None, str]] = set()
    out: list[Finding] = []
    for f in sorted(lt.findings):
        k = (f.section, f.rule, f.code)
        if k not in seen:  # the policy-only and the per-flow check may agree
            seen.add(k)
            out.append(f)
    return out, lt.notes
