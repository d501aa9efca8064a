"""A naive reference implementation of spec §4 (flows) and §5 (the attacker).

Written from ``shared/spec/model-v1.md`` alone, deliberately without classes,
bitsets or indices, and without importing :mod:`ztsim.engine.compiled` or
:mod:`ztsim.engine.fixpoint`: it only reads the pydantic models.  Flows are decided by
scanning every rule in file order; reachability enumerates every instance of every
rule of §5 (for every combination of hosts, zones, credentials and data) and then
repeats "fire every instance whose needs are held" until nothing changes.

Facts use the engine's public tuple shapes so results compare directly:
``("zone", z)``, ``("priv", h, "user"|"root")``, ``("session", h, s, origin)``
(origin an external zone or ``"*"`` from inside), ``("cred", c)``, ``("data", d)``,
``("exfil", d)``, ``("tamper", d)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ztsim.model.schema import EntryPoint, Host, Policy, Topology
from ztsim.model.selectors import LabelExpression, Selector

Fact = tuple[str, ...]
INSIDE = "*"
RANK = {"service": 0, "user": 1, "root": 2}
#: The flow a step uses: ("flow"|"egress", from, to, service), ("traffic", index) or None.
Via = tuple[str, ...] | None


@dataclass(frozen=True)
class RefStep:
    """One instance of a rule of §5: technique, what it needs and gives, the flow it uses."""

    kind: str
    technique: str | None
    pre: frozenset[Fact]
    post: frozenset[Fact]
    via: Via = None
    #: Where the step happens, for detection `where` (§6): the host acted on or from,
    #: or the external zone of an entry.  Not part of the step's identity: it follows
    #: from the other fields.
    where: str | None = field(default=None, compare=False)


# --------------------------------------------------------------------------- §4 flows


def service_covered(specs: list[str] | None, service: str) -> bool:
    """§3: `services` omitted means any; entries are `any`, `PORT/PROTO`, `LOW-HIGH/PROTO`."""
    if specs is None:
        return True
    port, proto = service.split("/")
    for spec in specs:
        s = spec.strip().lower()
        if s == "any":
            return True
        ports, sproto = s.split("/")
        low, _, high = ports.partition("-")
        if sproto == proto and int(low) <= int(port) <= int(high or low):
            return True
    return False


def selector_host(sel: Selector, host: Host) -> bool:
    """§3: every key given must match (`zone`: any zone of the list); none given
    matches everything."""
    if sel.zone is not None and not any(z == host.zone for z in sel.zone):
        return False
    if sel.host is not None and host.id not in sel.host:
        return False
    if not all(host.labels.get(k) == v for k, v in (sel.labels or {}).items()):
        return False
    return all(expression_holds(e, host.labels) for e in sel.labels_match or ())


def expression_holds(e: LabelExpression, labels: dict[str, str]) -> bool:
    """Model v1.1 (docs/model-v1.1.md): Kubernetes' matchExpressions, one by one."""
    has = e.key in labels
    if e.operator == "In":
        return has and labels[e.key] in (e.values or [])
    if e.operator == "NotIn":
        return not has or labels[e.key] not in (e.values or [])
    if e.operator == "Exists":
        return has
    return not has  # DoesNotExist


def selector_zone(sel: Selector, zone: str) -> bool:
    """§3: only `zone` (or any) matches an external zone."""
    if sel.host is not None or sel.labels is not None or sel.labels_match is not None:
        return False
    return sel.zone is None or any(z == zone for z in sel.zone)


def flow(topo: Topology, pol: Policy, source: str, dst: str, service: str) -> tuple[bool, str]:
    """§4 rules 1-5: (allowed, deciding rule id | default | topology | self | intra_zone)."""
    hosts = {h.id: h for h in topo.hosts}
    host = hosts[dst]
    offers = [s for s in host.services if s.service == service]
    if not offers:
        return False, "topology"  # 1. must listen
    src = hosts.get(source)
    if src is None and not offers[0].public:
        return False, "topology"  # 2. from outside only public services
    if source == dst:
        return True, "self"  # 3.
    seg = pol.segmentation
    if src is not None and seg.intra_zone == "allow" and src.zone == host.zone:
        return True, "intra_zone"  # 4.
    for r in seg.rules:  # 5. first match wins
        src_ok = selector_zone(r.source, source) if src is None else selector_host(r.source, src)
        if src_ok and selector_host(r.to, host) and service_covered(r.services, service):
            return r.action == "allow", r.id
    return seg.default == "allow", "default"


def fqdn_covered(pattern: str, name: str) -> bool:
    """§4: `*` all; `a.b` only `a.b`; `*.b` any `x.b`, `*.x.b`, `*.b` (labels compared)."""
    p, n = pattern.lower().split("."), name.lower().split(".")
    if p == ["*"]:
        return True
    if p[0] != "*":
        return p == n  # an exact pattern never covers a wildcard name
    suffix = p[1:]
    return len(n) > len(suffix) and n[len(n) - len(suffix) :] == suffix


def egress(topo: Topology, pol: Policy, source: str, dest: str, service: str) -> tuple[bool, str]:
    """§4 egress: first rule matching `from`, `services` and some `to`; else default."""
    host = next(h for h in topo.hosts if h.id == source)
    ext = next(e for e in topo.external if e.id == dest)
    if service not in ext.services:
        return False, "topology"
    for r in pol.egress.rules:
        if (
            selector_host(r.source, host)
            and service_covered(r.services, service)
            and any(fqdn_covered(p, ext.fqdn) for p in r.to)
        ):
            return r.action == "allow", r.id
    return pol.egress.default == "allow", "default"


def traffic(topo: Topology, pol: Policy, source: str, to: str, service: str) -> tuple[bool, str]:
    """A `traffic` flow: egress when it goes to an external destination, else a flow."""
    if any(e.id == to for e in topo.external):
        return egress(topo, pol, source, to, service)
    return flow(topo, pol, source, to, service)


# --------------------------------------------------------------------------- §5 steps


def entry_points(topo: Topology) -> list[EntryPoint]:
    """§2: with no entry points, one per external zone with no credentials."""
    if topo.entry_points:
        return list(topo.entry_points)
    return [EntryPoint(id=f"from-{z.id}", zone=z.id) for z in topo.zones if z.external]


def gives(host: str, service: str, level: str, origin: str) -> frozenset[Fact]:
    """What `gives: level` on a host yields (root includes user; service is a session)."""
    if level == "service":
        return frozenset({("session", host, service, origin)})
    if level == "root":
        return frozenset({("priv", host, "user"), ("priv", host, "root")})
    return frozenset({("priv", host, "user")})


def steps(topo: Topology, pol: Policy) -> list[RefStep]:
    """Every instance of every rule of §5 permitted by the policy, needed or not."""
    out: list[RefStep] = []

    def add(
        kind: str,
        tech: str | None,
        pre: set[Fact],
        post: Iterable[Fact],
        via: Via = None,
        *,
        where: str | None,
    ) -> None:
        out.append(RefStep(kind, tech, frozenset(pre), frozenset(post), via, where))

    ext_zones = [z.id for z in topo.zones if z.external]
    mfa = set(pol.controls.mfa)
    at_least = {lvl: [x for x in ("user", "root") if RANK[x] >= RANK[lvl]] for lvl in RANK}
    # Row 1: enter; the entry's own technique, T1566 (phishing) by default for a host.
    for ep in entry_points(topo):
        creds = {("cred", c) for c in ep.credentials}
        if ep.zone is not None:
            add("enter", ep.technique, set(), {("zone", ep.zone)} | creds, where=ep.zone)
        else:
            add(
                "enter",
                ep.technique or "T1566",
                set(),
                gives(ep.host or "", "", ep.level, "*") | creds,
                where=ep.host,
            )
    # Sources: the external zones (standing there) and every host (with user or root).
    sources: list[tuple[str, Fact, str]] = [(z, ("zone", z), z) for z in ext_zones]
    sources += [(h.id, ("priv", h.id, "user"), INSIDE) for h in topo.hosts]
    for src, stand, origin in sources:
        outside = origin != INSIDE
        for h in topo.hosts:
            # Row 2: exploit a remote vulnerability over an allowed flow.
            for v in h.vulnerabilities:
                if v.service is not None and flow(topo, pol, src, h.id, v.service)[0]:
                    tech = "T1190" if outside else "T1210"
                    post = gives(h.id, v.service, v.gives, origin)
                    via = ("flow", src, h.id, v.service)
                    add("exploit", tech, {stand}, post, via, where=h.id)
            # Row 3: log in with a held credential not under MFA over an allowed flow.
            for lg in h.logins:
                if lg.credential not in mfa and flow(topo, pol, src, h.id, lg.service)[0]:
                    tech = "T1078" if outside or lg.gives == "service" else "T1021"
                    pre = {stand, ("cred", lg.credential)}
                    post = gives(h.id, lg.service, lg.gives, origin)
                    add("login", tech, pre, post, ("flow", src, h.id, lg.service), where=h.id)
    for h in topo.hosts:
        user, root = ("priv", h.id, "user"), ("priv", h.id, "root")
        # Row 4: escalate with a local vulnerability.
        for v in h.vulnerabilities:
            if v.local:
                add("escalate", "T1068", {user}, {root}, where=h.id)
        # Row 5: steal a stored credential at level >= requires.
        for cs in h.credentials:
            tech = "T1552" if cs.requires == "user" else "T1003"
            for lvl in at_least[cs.requires]:
                add("steal", tech, {("priv", h.id, lvl)}, {("cred", cs.credential)}, where=h.id)
        # Row 7: collect with level >= requires, or through a session to its service.
        for d in h.data:
            for lvl in at_least[d.requires]:
                add("collect", "T1005", {("priv", h.id, lvl)}, {("data", d.id)}, where=h.id)
            if d.requires == "service" and d.service is not None:
                for origin in [*ext_zones, INSIDE]:
                    session = ("session", h.id, d.service, origin)
                    add("collect", "T1213", {session}, {("data", d.id)}, where=h.id)
    # Row 6: sniff a credential-carrying traffic flow from a root host beside an endpoint.
    hosts = {h.id: h for h in topo.hosts}
    for i, t in enumerate(topo.traffic):
        if t.credential is None or pol.controls.encrypt_in_transit:
            continue
        offer = [s for s in hosts[t.to].services if s.service == t.service] if t.to in hosts else []
        if offer and offer[0].encrypted:
            continue  # an encrypted service (egress is always sniffable)
        if not traffic(topo, pol, t.source, t.to, t.service)[0]:
            continue
        end_zones = {hosts[x].zone for x in (t.source, t.to) if x in hosts}
        for h in topo.hosts:
            if h.id not in (t.source, t.to) and h.zone in end_zones:
                pre = {("priv", h.id, "root")}
                stolen = {("cred", t.credential)}
                add("sniff", "T1557", pre, stolen, ("traffic", str(i)), where=h.id)
    for h, d in [(x, d) for x in topo.hosts for d in x.data]:
        # Row 8: exfiltrate from any host with user over allowed egress to c2/web-service.
        for sender in topo.hosts:
            for e in topo.external:
                for s in e.services if e.role in ("c2", "web-service") else []:
                    if egress(topo, pol, sender.id, e.id, s)[0]:
                        tech = "T1041" if e.role == "c2" else "T1567"
                        pre = {("data", d.id), ("priv", sender.id, "user")}
                        via = ("egress", sender.id, e.id, s)
                        add("exfiltrate", tech, pre, {("exfil", d.id)}, via, where=sender.id)
        # Row 9: data read through a session opened from an external zone goes out directly.
        if d.requires == "service" and d.service is not None:
            for z in ext_zones:
                pre = {("session", h.id, d.service, z), ("data", d.id)}
                add("exfiltrate-direct", "T1041", pre, {("exfil", d.id)}, where=h.id)
        # Row 10: tamper with integrity data the attacker can collect.
        if d.integrity:
            add("tamper", "T1565.001", {("data", d.id)}, {("tamper", d.id)}, where=h.id)
    return out


# --------------------------------------------------------------------------- fixpoint


def fixpoint(all_steps: Iterable[RefStep]) -> set[Fact]:
    """Repeat: fire every step whose needs are held; until nothing changes (§5, §6)."""
    todo = list(all_steps)
    facts: set[Fact] = set()
    changed = True
    while changed:
        changed = False
        for st in todo:
            if st.pre <= facts and not st.post <= facts:
                facts |= st.post
                changed = True
    return facts


def goals(topo: Topology) -> list[Fact]:
    """§6: exfiltration of every data item, tampering of those with integrity."""
    out: list[Fact] = []
    for h in topo.hosts:
        for d in h.data:
            out.append(("exfil", d.id))
            if d.integrity:
                out.append(("tamper", d.id))
    return out


def min_cost(all_steps: list[RefStep], goal: Fact, limit: int = 20_000) -> int | None:
    """The fewest steps of any plan reaching ``goal`` (§6), by breadth-first search
    over sets of held facts; None if unreachable or more than ``limit`` states."""
    # Only steps that can contribute to the goal, backwards, are worth trying.
    relevant: set[Fact] = {goal}
    useful: dict[RefStep, None] = {}  # ordered, for a deterministic search
    grew = True
    while grew:
        grew = False
        for st in all_steps:
            if st.post & relevant and st not in useful:
                useful[st] = None
                relevant |= st.pre
                grew = True
    layer: set[frozenset[Fact]] = {frozenset()}
    seen = set(layer)
    depth = 0
    while layer:
        if any(goal in s for s in layer):
            return depth
        nxt: set[frozenset[Fact]] = set()
        for state in layer:
            for st in useful:
                if st.pre <= state and not st.post <= state:
                    new = state | (st.post & relevant)
                    if new not in seen:
                        seen.add(new)
                        nxt.add(new)
        if len(seen) > limit:
            return None
        layer, depth = nxt, depth + 1
    return None


# --------------------------------------------------------------------------- §6 verdicts


@dataclass(frozen=True)
class RefVerdict:
    """A plan judged under a policy (§6): blocked at ``step`` (0-based) by ``rule``, or
    open with probability ``p_detected`` of being seen."""

    blocked: bool
    step: int | None
    rule: str | None
    p_detected: float | None


def technique_seen(listed: str, used: str) -> bool:
    """§6: an entry listing a technique sees it and its sub-techniques (`T1565` sees
    `T1565.001`; a sub-technique does not see its parent)."""
    listed, used = listed.upper(), used.upper()
    return used == listed or used.startswith(listed + ".")


def where_matches(topo: Topology, sel: Selector, where: str | None) -> bool:
    """A detection's `where` against the place of a step: a host, or an external zone
    (which only `zone` or `any` matches); a step with no place is seen only by `any`."""
    hosts = {h.id: h for h in topo.hosts}
    if where in hosts:
        return selector_host(sel, hosts[where])
    if where is not None:
        return selector_zone(sel, where)
    return sel.zone is None and not sel.host and not sel.labels and not sel.labels_match


def step_blocker(topo: Topology, pol: Policy, st: RefStep) -> str | None:
    """What forbids one step under ``pol`` (a rule id, `default`, `topology`, `mfa` or
    `encrypt_in_transit`), or None when the policy allows it.

    A login over a denied flow is blocked by the flow (the credential is never
    offered); only a login over an allowed flow can be blocked by MFA.
    """
    if st.via is not None and st.via[0] == "flow":
        ok, rule = flow(topo, pol, st.via[1], st.via[2], st.via[3])
        if not ok:
            return rule
        creds = [f[1] for f in st.pre if f[0] == "cred"]
        if st.kind == "login" and any(c in pol.controls.mfa for c in creds):
            return "mfa"
        return None
    if st.via is not None and st.via[0] == "egress":
        ok, rule = egress(topo, pol, st.via[1], st.via[2], st.via[3])
        return None if ok else rule
    if st.kind == "sniff":
        if pol.controls.encrypt_in_transit:
            return "encrypt_in_transit"
        assert st.via is not None and st.via[0] == "traffic"
        t = topo.traffic[int(st.via[1])]
        ok, rule = traffic(topo, pol, t.source, t.to, t.service)
        return None if ok else rule
    return None


def judge(topo: Topology, pol: Policy, plan: list[RefStep]) -> RefVerdict:
    """§6: blocked at the first step the policy forbids; else open, with
    P(detected) = 1 - prod(1 - p) over every detection entry that matches some step
    (one of its techniques is the step's or a parent of it, its `where` matches the
    place of the step), each entry counted once."""
    for i, st in enumerate(plan):
        rule = step_blocker(topo, pol, st)
        if rule is not None:
            return RefVerdict(True, i, rule, None)
    miss = 1.0
    for det in pol.controls.detection:
        if any(
            st.technique is not None
            and any(technique_seen(t, st.technique) for t in det.techniques)
            and where_matches(topo, det.where, st.where)
            for st in plan
        ):
            miss *= 1.0 - det.probability
    return RefVerdict(False, None, None, 1.0 - miss)
