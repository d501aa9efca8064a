"""The parts of the incident analysis (:mod:`ztsim.whatif.incident`) told step by step.

A step as a sentence, its ATT&CK technique and the tactic it serves, the ztsim
controls that would stop it and whether the policy has them, what the open plans
of a goal show (findings) and the compliance controls they put at stake.  Every
word comes from the step, the topology, the policy or a knowledge file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ztsim.analysis.results import PolicyResult, goal_label
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.decisions import Decision
from ztsim.engine.plans import Plan
from ztsim.engine.steps import Fact, Step
from ztsim.engine.verdicts import PlanVerdict, StepVerdict
from ztsim.inputs.knowledge import AttackData, LoadedCompliance
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology
from ztsim.model.techniques import technique as ztsim_technique

__all__ = [
    "UNDETECTED_BELOW",
    "ComplianceItem",
    "Finding",
    "StepControl",
    "TechniqueInfo",
    "compliance_items",
    "findings_of",
    "plan_stop",
    "step_controls",
    "step_sentence",
    "step_tactic",
    "step_technique",
]

#: An open plan whose P(detected) is below this is ``undetected`` (a finding).
UNDETECTED_BELOW = 0.5


@dataclass(frozen=True)
class TechniqueInfo:
    """A step's ATT&CK technique, with the tactic it serves in this step."""

    id: str
    name: str
    tactic: str
    tactic_name: str
    #: ``(M-id, name)`` of each ATT&CK mitigation of the technique.
    mitigations: tuple[tuple[str, str], ...]
    #: Whether the technique is in the shipped ATT&CK subset (an entry point may
    #: name any technique).
    known: bool

    @property
    def url(self) -> str:
        """The technique's page on attack.mitre.org."""
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/") + "/"


@dataclass(frozen=True)
class StepControl:
    """A ztsim control that would stop a step (or, for detection, see it)."""

    #: ``segmentation``, ``egress``, ``mfa``, ``encryption``, ``detection`` or ``none``.
    kind: str
    #: What the control is, in words: "segmentation denying api-01 -> payroll-db 5432/tcp".
    text: str
    #: Whether the policy under study has it.
    present: bool
    #: Whether it stops the step under this policy (detection only sees it).
    stops: bool
    #: The policy's rule or setting that decides the step (``default``, a rule id,
    #: ``mfa``...), and where it is written (``FILE:LINE``), when known.
    rule: str | None = None
    location: str | None = None
    #: The policy's decision in words (the engine's explanation).
    decision: str | None = None

    @property
    def rule_name(self) -> str:
        """The rule in words: ``segmentation default``, a rule id, ``mfa``."""
        if self.rule == "default" and self.kind in ("segmentation", "egress"):
            return f"{self.kind} default"
        return self.rule or "?"


@dataclass(frozen=True)
class Finding:
    """Something an open plan shows, for the compliance mapping: kind and detail."""

    kind: str
    detail: str


@dataclass(frozen=True)
class ComplianceItem:
    """A framework control at stake, with a one-line reason."""

    framework: str
    framework_name: str
    scope: str
    control: str
    title: str
    reason: str
    #: The reachable goals that put it at stake.
    goals: tuple[str, ...]


# --------------------------------------------------------------------------- techniques

# The tactic each kind of step serves, best first; the first the technique lists wins.
_ROLE: dict[str, tuple[str, ...]] = {
    "enter": ("initial-access",),
    "exploit-out": ("initial-access",),
    "exploit-in": ("lateral-movement", "privilege-escalation"),
    "login-out": ("initial-access",),
    "login-in": ("lateral-movement", "privilege-escalation"),
    "escalate": ("privilege-escalation",),
    "steal": ("credential-access",),
    "sniff": ("credential-access",),
    "collect": ("collection",),
    "exfiltrate": ("exfiltration", "command-and-control"),
    "exfiltrate-direct": ("exfiltration",),
    "tamper": ("impact",),
}


def _role(st: Step, topo: LoadedTopology) -> str:
    if st.kind in ("exploit", "login"):
        outside = st.source in topo.external_zones
        return f"{st.kind}-{'out' if outside else 'in'}"
    return st.kind


def step_tactic(st: Step, tactics: Sequence[str], topo: LoadedTopology) -> str:
    """The tactic ``st`` serves: the first of its role's the technique lists, else
    the technique's first (its ATT&CK tactics in ``tactics``)."""
    for t in _ROLE.get(_role(st, topo), ()):
        if t in tactics:
            return t
    return tactics[0] if tactics else ""


def step_technique(st: Step, attack: AttackData, topo: LoadedTopology) -> TechniqueInfo | None:
    """``st``'s technique from the ATT&CK knowledge (a bare record when not in it)."""
    if st.technique is None:
        return None
    t = attack.technique(st.technique)
    if t is None:
        bare = ztsim_technique(st.technique)
        tactic = bare.tactic if bare is not None else ""
        found = attack.tactic(tactic)
        return TechniqueInfo(
            st.technique, st.technique, tactic, found.name if found else "", (), False
        )
    tactic = step_tactic(st, t.tactics, topo)
    found = attack.tactic(tactic)
    mitigations = tuple(
        (m, mm.name if (mm := attack.mitigation(m)) is not None else m) for m in t.mitigations
    )
    return TechniqueInfo(t.id, t.name, tactic, found.name if found else tactic, mitigations, True)


# --------------------------------------------------------------------------- sentences


def _level(st: Step) -> str:
    """What a step gives on its host, in words."""
    for f in st.post:
        if f[0] == "priv" and f[2] == "root":
            return "root"
    for f in st.post:
        if f[0] == "priv":
            return "user-level code execution"
        if f[0] == "session":
            return "a session to the service"
    return "a foothold"


def _records(topo: LoadedTopology, data_id: str) -> str:
    if data_id not in topo.data:
        return data_id
    _, item = topo.data[data_id]
    parts = [item.classification or "unclassified"]
    if item.records is not None:
        parts.append(f"{item.records:,} records")
    return f"{data_id} ({', '.join(parts)})"


def step_sentence(st: Step, topo: LoadedTopology) -> str:
    """``st`` as one sentence of the attack path narrative."""
    k = st.kind
    if k == "enter":
        return f"The attacker starts from entry point {st.key[1]}: {st.reason.split(': ', 1)[-1]}."
    if k == "exploit":
        return (
            f"From {st.source} the attacker exploits {st.key[4]} on {st.target} over "
            f"{st.service}, gaining {_level(st)}."
        )
    if k == "login":
        return (
            f"From {st.source} the attacker logs in to {st.target} over {st.service} with "
            f"credential {st.credential}, gaining {_level(st)}."
        )
    if k == "escalate":
        return f"On {st.host} the attacker exploits local vulnerability {st.key[2]} to become root."
    if k == "steal":
        return f"On {st.host} the attacker reads the stored credential {st.credential}."
    if k == "sniff":
        flow = topo.model.traffic[st.traffic] if st.traffic is not None else None
        seen = f"{flow.source} -> {flow.to} {flow.service}" if flow is not None else st.reason
        return (
            f"On {st.host}, as root, the attacker sniffs the clear-text traffic {seen} and "
            f"captures credential {st.credential}."
        )
    if k == "collect":
        how = f"through its session to {st.host}:{st.service}" if st.service else f"on {st.host}"
        return f"The attacker collects {_records(topo, str(st.target))} {how}."
    if k == "exfiltrate":
        dest = topo.destinations.get(str(st.target))
        where = f"{st.target} ({dest.address})" if dest is not None else str(st.target)
        return f"From {st.host} the attacker sends {st.key[1]} to {where} over {st.service}."
    if k == "exfiltrate-direct":
        return (
            f"The attacker carries {st.key[1]} out to {st.target} through the session to "
            f"{st.host}:{st.service} it opened from there."
        )
    if k == "tamper":
        return f"On {st.host} the attacker alters {_records(topo, str(st.target))}."
    return f"The attacker takes a {k} step: {st.reason}."


# --------------------------------------------------------------------------- controls


def _decision_location(d: Decision, policy: LoadedPolicy) -> str | None:
    """``FILE:LINE`` of the rule or default that decided ``d``."""
    if d.reason == "rule":
        return policy.rule_location(d.section, d.rule_id)
    if d.reason == "default":
        return _setting_location(policy, (d.section, "default"))
    if d.reason == "intra_zone":
        return _setting_location(policy, ("segmentation", "intra_zone"))
    return None


def _setting_location(policy: LoadedPolicy, path: tuple[str, ...]) -> str | None:
    mark = policy.doc.node_mark(path) if policy.doc is not None else None
    return f"{policy.path}:{mark.line}" if mark is not None else None


def _network(st: Step, sv: StepVerdict | None, policy: LoadedPolicy, kind: str) -> StepControl:
    """The segmentation or egress control over ``st``'s flow."""
    if st.flow is not None:
        src, host, svc = st.flow
        what = f"segmentation denying {src} -> {host} {svc}"
    else:
        assert st.egress is not None
        src, dest, svc = st.egress
        what = f"egress denying {src} -> {dest} {svc}"
    d = sv.decision if sv is not None else None
    if d is None:
        return StepControl(kind, what, False, False)
    loc = _decision_location(d, policy)
    explanation = sv.explanation if sv is not None else None
    return StepControl(kind, what, not d.allowed, not d.allowed, d.rule, loc, explanation)


def step_controls(
    st: Step,
    sv: StepVerdict | None,
    policy: LoadedPolicy,
    compiled: CompiledPolicy,
    topo: LoadedTopology,
) -> tuple[StepControl, ...]:
    """The controls that would stop ``st`` (or see it), each present in ``policy`` or not.

    ``sv``: the policy's verdict on the step.  The order is the engine's: the
    flow's decision, then MFA; a step without a network flow has no control that
    stops it (``none``), only detection.
    """
    out: list[StepControl] = []
    if st.flow is not None:
        out.append(_network(st, sv, policy, "segmentation"))
    if st.kind == "login" and st.credential is not None:
        has = st.credential in compiled.mfa
        flow_open = not out or not out[0].stops
        out.append(
            StepControl(
                "mfa",
                f"MFA on credential {st.credential}",
                has,
                has and flow_open,
                "mfa" if has else None,
                _setting_location(policy, ("controls", "mfa")) if has else None,
            )
        )
    if st.kind == "sniff":
        enc = compiled.encrypt_in_transit
        sniffed = sv is not None and not sv.allowed
        out.append(
            StepControl(
                "encryption",
                "encryption in transit (controls.encrypt_in_transit)",
                enc,
                enc or sniffed,
                "encrypt_in_transit" if enc else (sv.blocked_by if sniffed and sv else None),
                _setting_location(policy, ("controls", "encrypt_in_transit")) if enc else None,
                sv.explanation if sv is not None else None,
            )
        )
    if st.egress is not None:
        out.append(_network(st, sv, policy, "egress"))
    if st.kind == "enter":
        # the entry point is where the study starts, not a step a policy can refuse
        out.append(
            StepControl(
                "none",
                "no control: the entry point is the study's premise (where the attacker starts)",
                False,
                False,
            )
        )
    elif not out:
        out.append(
            StepControl(
                "none",
                "no network control: the step happens on the host (patch, harden, detect)",
                False,
                False,
            )
        )
    seen = sv.detections if sv is not None else ()
    if st.kind == "enter" and not st.technique and not seen:
        return tuple(out)  # an entry with no technique of its own: nothing to detect
    where = f" on {st.host}" if st.host else ""
    tech = st.technique or "the step"
    if seen:
        probs = {d.id: d.probability for d in policy.model.controls.detection}
        shown = ", ".join(f"{d} (p={probs.get(d, 0):.2f})" for d in seen)
        out.append(StepControl("detection", f"detection of {tech}{where}: {shown}", True, False))
    else:
        out.append(StepControl("detection", f"a detection of {tech}{where}", False, False))
    return tuple(out)


def plan_stop(v: PlanVerdict, policy: LoadedPolicy) -> StepControl | None:
    """The control that stops a blocked plan: the engine's ``blocked_by`` at its place."""
    if not v.blocked or v.step is None:
        return None
    sv = v.steps[v.step]
    d = sv.decision
    by = v.blocked_by or "?"
    if by in ("mfa", "encrypt_in_transit") and (d is None or d.allowed):
        kind = "mfa" if by == "mfa" else "encryption"
        loc = _setting_location(policy, ("controls", by))
    else:
        kind = "egress" if d is not None and d.section == "egress" else "segmentation"
        loc = _decision_location(d, policy) if d is not None else None
    return StepControl(kind, sv.explanation, True, True, by, loc or policy.path, sv.explanation)


# --------------------------------------------------------------------------- findings


def _step_findings(st: Step, topo: LoadedTopology) -> list[Finding]:
    """What one step of an open plan shows (its logins are under no MFA: it is open)."""
    out = []
    if st.kind == "exploit":
        kind = "public-exploit" if st.source in topo.external_zones else "remote-exploit"
        out.append(Finding(kind, f"{st.key[4]} on {st.target}:{st.service}"))
    elif st.kind == "escalate":
        out.append(Finding("privilege-escalation", f"{st.key[2]} on {st.host}"))
    elif st.kind == "steal":
        out.append(Finding("stored-credentials", f"{st.credential} stored on {st.host}"))
    elif st.kind == "sniff":
        out.append(Finding("cleartext-traffic", f"{st.credential} sniffed on {st.host}"))
    elif st.kind == "exfiltrate" and st.egress is not None:
        out.append(Finding("open-egress", f"{st.egress[0]} -> {st.egress[1]} {st.egress[2]}"))
    if st.kind == "login" and st.credential is not None:
        out.append(Finding("no-mfa", f"{st.credential} accepted by {st.target} without MFA"))
    if st.flow is not None:
        src, host, svc = st.flow
        hosts = topo.hosts
        if src in hosts and host in hosts and hosts[src].zone != hosts[host].zone:
            z1, z2 = hosts[src].zone, hosts[host].zone
            out.append(Finding("lateral-movement", f"{src} ({z1}) -> {host} ({z2}) {svc}"))
    return out


def findings_of(plans: Sequence[tuple[Plan, PlanVerdict]], topo: LoadedTopology) -> list[Finding]:
    """What the open plans of one goal show, each finding once, in the plans' order.

    ``plans``: each open plan with its verdict under the policy (whose MFA the
    steps' verdicts already reflect: a login of an open plan is not under MFA).
    """
    out: dict[Finding, None] = {}
    for plan, v in plans:
        for st in plan.steps:
            for f in _step_findings(st, topo):
                out.setdefault(f, None)
        p = v.p_detected or 0.0
        if p < UNDETECTED_BELOW:
            out.setdefault(Finding("undetected", f"plan {plan.ident} seen with p={p:.2f}"), None)
    return list(out)


# --------------------------------------------------------------------------- compliance


def _joined(findings: Sequence[Finding], kinds: Sequence[str] | None) -> str:
    chosen = [f.detail for f in findings if kinds is None or f.kind in kinds]
    if not chosen:
        return "the open path itself"
    more = f" and {len(chosen) - 3} more" if len(chosen) > 3 else ""
    return "; ".join(chosen[:3]) + more


def compliance_items(
    mapping: LoadedCompliance,
    findings: dict[Fact, list[Finding]],
    result: PolicyResult,
    topo: LoadedTopology,
) -> list[ComplianceItem]:
    """The controls of ``mapping`` the reachable goals put at stake, in the file's order.

    One item per control, its reason filled from the first goal that puts it at
    stake; ``goals`` lists them all.
    """
    out = []
    reached = result.reachable_goals
    for fw in mapping.model.frameworks:
        for c in fw.controls:
            w = c.when
            hits = []
            for g in reached:
                _, item = topo.data[g.goal[1]]
                kind = "exfiltrate" if g.goal[0] == "exfil" else "tamper"
                fs = findings.get(g.goal, [])
                if w.classifications is not None and not (
                    "*" in w.classifications or item.classification in w.classifications
                ):
                    continue
                if w.goals is not None and kind not in w.goals:
                    continue
                if w.findings is not None and not any(f.kind in w.findings for f in fs):
                    continue
                hits.append((g, item, kind, fs))
            if not hits:
                continue
            g, item, kind, fs = hits[0]
            values = {
                "data": g.goal[1],
                "classification": item.classification or "unclassified",
                "records": f"{g.records or 0:,}",
                "goal": goal_label(g.goal),
                "action": "exfiltrated" if kind == "exfiltrate" else "tampered with",
                "policy": result.policy.name,
                "cost": g.cost_text,
                "findings": _joined(fs, w.findings),
            }
            reason = " ".join(c.reason.format_map(values).split())
            out.append(
                ComplianceItem(
                    fw.id,
                    fw.name,
                    fw.scope,
                    c.id,
                    c.title,
                    reason,
                    tuple(goal_label(h[0].goal) for h in hits),
                )
            )
    return out
