"""Candidate policy changes for ``ztsim harden``, and applying them to a policy.

A :class:`Change` is one edit an architect reviews as a unit: a narrow deny rule,
a service restricted to its legitimate clients, an egress deny or allowlist, MFA on
a credential, encryption in transit.  Deny rules go to the top of the rule list
(first match honours them), each preceded by exact allows for the legitimate flows
it would otherwise catch, so a change never breaks a legitimate flow unless it is
built to (``--no-keep-traffic``).  The candidates for a step are built by
:class:`ztsim.whatif.candidates.Context`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.steps import Step
from ztsim.model.schema import Policy

__all__ = [
    "GROUPS",
    "Change",
    "Rule",
    "apply_changes",
    "slug",
    "step_allowed",
]

#: Change kinds by the group ``--kinds`` selects them with.
GROUPS: dict[str, tuple[str, ...]] = {
    "segmentation": ("deny-flow", "restrict-service", "intra-zone-rules"),
    "egress": ("deny-egress", "deny-destination", "egress-allowlist"),
    "mfa": ("mfa",),
    "encryption": ("encrypt",),
}
# Preference among changes of equal count: narrow network rules first, global switches last.
_RANK = {
    "deny-flow": 0,
    "restrict-service": 1,
    "deny-egress": 1,
    "deny-destination": 1,
    "egress-allowlist": 1,
    "mfa": 2,
    "intra-zone-rules": 3,
    "encrypt": 3,
}
# Where a change's segmentation rules go, top to bottom: denies before rule groups.
_ORDER = {"deny-flow": 0, "restrict-service": 1, "intra-zone-rules": 2}

Rule = dict[str, Any]


@dataclass(frozen=True, eq=False)
class Change:
    """One reviewable policy edit.

    Attributes
    ----------
    kind
        ``deny-flow``, ``restrict-service``, ``intra-zone-rules``, ``deny-egress``,
        ``deny-destination``, ``egress-allowlist``, ``mfa`` or ``encrypt``.
    key
        Identity and deterministic order.
    text
        What it does, in one line.
    seg_rules, egress_rules
        Rules inserted at the top of each list, in order.
    egress_tail
        Rules appended at the end of the egress list (the allowlist).
    """

    kind: str
    key: tuple[str, ...]
    text: str
    seg_rules: tuple[Rule, ...] = ()
    egress_rules: tuple[Rule, ...] = ()
    egress_tail: tuple[Rule, ...] = ()
    egress_default_deny: bool = False
    intra_zone_rules: bool = False
    mfa: str | None = None
    encrypt: bool = False
    note: str | None = None

    @property
    def rank(self) -> int:
        """Preference among equally many changes (lower is preferred)."""
        return _RANK[self.kind]

    def rules(self) -> list[tuple[str, Rule]]:
        """``(section, rule)`` for every rule the change adds, in order."""
        return (
            [("segmentation", r) for r in self.seg_rules]
            + [("egress", r) for r in self.egress_rules]
            + [("egress", r) for r in self.egress_tail]
        )


def slug(text: str) -> str:
    """A service or pattern as an id fragment: ``5432/tcp`` -> ``5432-tcp``.

    >>> slug("5432/tcp"), slug("*.pastebin.com")
    ('5432-tcp', 'any.pastebin.com')
    """
    return text.replace("/", "-").replace("*", "any").replace(" ", "-")


def _dedupe_ids(rules: Iterable[Rule], taken: set[str]) -> list[Rule]:
    """Drop rules identical to an earlier one; make ids unique against ``taken``."""
    out: list[Rule] = []
    seen: set[str] = set()
    for r in rules:
        body = repr({k: v for k, v in r.items() if k not in ("id", "description")})
        if body in seen:
            continue
        seen.add(body)
        rid, n = r["id"], 2
        while rid in taken:
            rid = f"{r['id']}-{n}"
            n += 1
        taken.add(rid)
        out.append({**r, "id": rid})
    return out


def apply_changes(policy: Policy, changes: Sequence[Change]) -> Policy:
    """The policy with ``changes`` applied (rules at the top, deny-flows first).

    A rule two changes add alike is added once.

    >>> policy = Policy.model_validate({"ztsim": 1, "kind": "policy", "name": "p"})
    >>> deny = {"id": "deny-dmz-db", "action": "deny", "from": {"zone": "dmz"},
    ...         "to": {"host": "db"}, "services": ["5432/tcp"]}
    >>> change = Change("deny-flow", ("dmz", "db"), "deny dmz -> db", seg_rules=(deny,))
    >>> mfa = Change("mfa", ("vpn",), "MFA on vpn-password", mfa="vpn-password")
    >>> hardened = apply_changes(policy, [mfa, change, change])
    >>> [r.id for r in hardened.segmentation.rules], hardened.controls.mfa
    (['deny-dmz-db'], ['vpn-password'])
    """
    data = policy.model_dump(by_alias=True, exclude_none=True)
    seg = data.setdefault("segmentation", {})
    egr = data.setdefault("egress", {})
    ctl = data.setdefault("controls", {})
    ordered = sorted(changes, key=lambda c: (_ORDER.get(c.kind, 9), c.key))
    # Rule ids are unique across both sections and every layer (spec §3, model v1.1).
    taken = {r.id for r in policy.segmentation.all_rules()}
    taken.update(r.id for r in policy.egress.all_rules())
    top = _dedupe_ids([r for c in ordered for r in c.seg_rules], taken)
    etop = _dedupe_ids([r for c in ordered for r in c.egress_rules], taken)
    etail = _dedupe_ids([r for c in ordered for r in c.egress_tail], taken)
    deny_default = any(c.egress_default_deny for c in ordered)
    _add_rules(seg, top, [], False)
    _add_rules(egr, etop, etail, deny_default)
    for c in ordered:
        if c.intra_zone_rules:
            seg["intra_zone"] = "rules"
        if c.mfa is not None and c.mfa not in ctl.setdefault("mfa", []):
            ctl["mfa"].append(c.mfa)
        if c.encrypt:
            ctl["encrypt_in_transit"] = True
    return Policy.model_validate(data)


def _add_rules(
    section: dict[str, Any], top: list[Rule], tail: list[Rule], deny_default: bool
) -> None:
    """Rules added to a dumped section: ``top`` first, ``tail`` last, the default
    made ``deny``.  In a layered section (model v1.1) all go to the first layer:
    ``top`` first in its first tier (the layers are ANDed, so a deny in any layer
    closes a flow), ``tail`` last in its last tier, and its default is the one made
    ``deny`` (``tail`` allows what that default allowed)."""
    layers = section.get("layers")
    if not layers:
        section["rules"] = top + list(section.get("rules", [])) + tail
        if deny_default:
            section["default"] = "deny"
        return
    # Dumped with their defaults: a layered section writes neither (model v1.1).
    section.pop("rules", None)
    section.pop("default", None)
    first = layers[0]
    if first.get("tiers"):
        tiers = first["tiers"]
        tiers[0]["rules"] = top + list(tiers[0].get("rules", []))
        tiers[-1]["rules"] = list(tiers[-1].get("rules", [])) + tail
    else:
        first.pop("tiers", None)
        first["rules"] = top + list(first.get("rules", [])) + tail
    if deny_default:
        first["default"] = "deny"


def step_allowed(step: Step, policy: CompiledPolicy) -> bool:
    """Whether ``policy`` lets ``step`` happen (the step verdict of spec §6)."""
    if step.flow is not None:
        if not policy.flow(*step.flow).allowed:
            return False
        return not (step.kind == "login" and step.credential in policy.mfa)
    if step.kind == "sniff":
        if policy.encrypt_in_transit:
            return False
        assert step.traffic is not None
        t = policy.topology.model.traffic[step.traffic]
        return policy.traffic(t.source, t.to, t.service).allowed
    if step.egress is not None:
        return policy.egress(*step.egress).allowed
    return True
