"""Property test: a re-check after edits equals a fresh check (issue #23, point 3).

A re-check reuses an earlier compilation: :class:`ztsim.analysis.workspace.Workspace` keeps
the parsed topology, the attack model and each policy's last result, re-parses only
the edited rule (:mod:`ztsim.perf.incremental`) and compiles the new version with the
old one as ``previous`` (:class:`ztsim.engine.compiled.CompiledPolicy` then reuses its
target groups and the per-class decisions an edit cannot change).  Each of those
shortcuts is guarded by a condition; a wrong or missing guard makes a re-check
report what a fresh check would not, so this test edits a random policy in every
way a person can (selectors, labels, host lists, services, actions, rule order,
added and removed rules, defaults, ``intra_zone``, controls, egress patterns),
several edits in a row, and after each one compares the re-check with a fresh
check of the same text: every goal's verdict and cost, every traffic flow, every
flow and egress decision, the exhaustive fixpoint, and every plan's verdict.

The scenarios come from :mod:`test_property`'s generator (imported, not copied).
Settings as there: derandomized, no database; ``ZTSIM_RECHECK_EXAMPLES`` (and
``ZTSIM_PROPERTY_RANDOM=1``) to search harder locally.
"""

from __future__ import annotations

import copy
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st
from test_property import (
    LABELS,
    PATTERNS,
    RULE_SERVICES,
    SERVICES,
    TECHNIQUES,
    _dump,
    _selector,
    policies,
    topologies,
)
from test_property import (
    SETTINGS as PROPERTY_SETTINGS,
)

from ztsim.analysis.results import PolicyResult, judge_policy
from ztsim.analysis.workspace import Workspace
from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.fixpoint import goal_facts, solve
from ztsim.engine.plans import k_plans, merge_plans, plan_solve
from ztsim.engine.steps import Fact
from ztsim.engine.verdicts import judge_plans
from ztsim.inputs.loaded import LoadedTopology, reference_policy
from ztsim.inputs.loader import policy_from_text, topology_from_text
from ztsim.model.diagnostics import InputError

EXAMPLES = int(os.environ.get("ZTSIM_RECHECK_EXAMPLES", "150"))
# The property test's settings (derandomised, no deadline), with this file's count.
SETTINGS = settings(PROPERTY_SETTINGS, max_examples=EXAMPLES)


def _zone_lists_accepted() -> bool:
    """Whether the loader takes a list of zones in a selector (spec §3); when it does,
    the edits write some, so the re-use guards are tested on them too."""
    text = "ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n"
    text += "    - {id: a, action: allow, from: {zone: [a, b]}}\n"
    try:
        policy_from_text(text)
    except InputError:
        return False
    return True


ZONE_LISTS = _zone_lists_accepted()

#: Every kind of edit; each is drawn about equally often.
EDITS = (
    "seg-from",
    "seg-to",
    "seg-labels",
    "seg-hosts",
    "seg-zone",
    "seg-services",
    "seg-action",
    "seg-swap",
    "seg-add",
    "seg-remove",
    "seg-default",
    "intra-zone",
    "egress-from",
    "egress-to",
    "egress-services",
    "egress-action",
    "egress-swap",
    "egress-add",
    "egress-remove",
    "egress-default",
    "mfa",
    "encrypt",
    "detect-add",
    "detect-remove",
    "detect-change",
    "describe",
)
EGRESS_SERVICES = ["443/tcp", "any", "1-1000/tcp", "53/udp", "80/tcp"]


@dataclass(frozen=True)
class Edited:
    """A topology and successive versions of a policy (shown as YAML on failure)."""

    topology: str
    versions: tuple[str, ...]
    edits: tuple[str, ...]
    #: The topology after an edit made once the policy edits are re-checked, if any.
    topology_edit: str | None = None

    def __repr__(self) -> str:
        parts = [f"Edited(\n--- topology\n{self.topology}--- policy, version 0\n{self.versions[0]}"]
        for i, (kind, text) in enumerate(zip(self.edits, self.versions[1:], strict=True)):
            parts.append(f"--- edit {i + 1}: {kind}\n{text}")
        if self.topology_edit is not None:
            parts.append(f"--- topology edited\n{self.topology_edit}")
        return "".join(parts) + ")"


# --------------------------------------------------------------------------- edits


def _rule(draw: st.DrawFn, topo: dict[str, Any], rid: str, egress: bool) -> dict[str, Any]:
    """A new rule for an ``-add`` edit, shaped like the generator's."""
    rule: dict[str, Any] = {"id": rid, "action": draw(st.sampled_from(["allow", "deny"]))}
    for key in ("from",) if egress else ("from", "to"):
        sel = _selector(draw, topo)
        if sel is not None:
            rule[key] = sel
    if egress and draw(st.booleans()):
        rule["to"] = draw(st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        pool = EGRESS_SERVICES if egress else RULE_SERVICES
        rule["services"] = draw(
            st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True)
        )
    return rule


def _as_dict(sel: Any) -> dict[str, Any]:
    """A selector as a mapping (``any``, ``{}`` and an omitted one are ``{}``)."""
    return dict(sel) if isinstance(sel, dict) else {}


def _set_selector(rule: dict[str, Any], key: str, sel: dict[str, Any]) -> None:
    if sel:
        rule[key] = sel
    else:
        rule.pop(key, None)


def _edit_labels(draw: st.DrawFn, sel: dict[str, Any]) -> dict[str, Any]:
    """Add, change or drop one label pair of a selector."""
    labels = dict(sel.get("labels") or {})
    key = draw(st.sampled_from(sorted(LABELS)))
    if key in labels and draw(st.booleans()):
        del labels[key]
    else:
        labels[key] = draw(st.sampled_from(LABELS[key]))
    out = {k: v for k, v in sel.items() if k != "labels"}
    if labels:
        out["labels"] = labels
    return out


def _edit_hosts(draw: st.DrawFn, sel: dict[str, Any], hosts: list[str]) -> dict[str, Any]:
    """Add or remove one host of a selector's host list (a single id becomes a list)."""
    named = sel.get("host")
    current = [named] if isinstance(named, str) else list(named or [])
    pick = draw(st.sampled_from([*hosts, "ghost"]))
    if pick in current:
        current.remove(pick)
    else:
        current.insert(draw(st.integers(0, len(current))), pick)
    out = {k: v for k, v in sel.items() if k != "host"}
    if current:
        out["host"] = current if len(current) > 1 or draw(st.booleans()) else current[0]
    return out


def _edit_zone(draw: st.DrawFn, sel: dict[str, Any], zones: list[str]) -> dict[str, Any]:
    """Set, change or drop a selector's zone (a list of zones when the loader takes one)."""
    out = {k: v for k, v in sel.items() if k != "zone"}
    choice = draw(st.sampled_from(["drop", "one", "list"] if ZONE_LISTS else ["drop", "one"]))
    if choice == "one":
        out["zone"] = draw(st.sampled_from([*zones, "nowhere"]))
    elif choice == "list":
        out["zone"] = draw(st.lists(st.sampled_from(zones), min_size=1, max_size=2, unique=True))
    return out


def _section(pol: dict[str, Any], name: str) -> dict[str, Any]:
    """The policy's ``segmentation`` or ``egress`` section, added (allow, no rules) if absent."""
    sec: dict[str, Any] = pol.setdefault(name, {"default": "allow", "rules": []})
    sec.setdefault("rules", [])
    return sec


def _apply(
    draw: st.DrawFn, kind: str, pol: dict[str, Any], topo: dict[str, Any], n: int
) -> str | None:
    """Apply edit ``kind`` to ``pol`` in place; the kind applied, or None if it did not apply."""
    zones = [z["id"] for z in topo["zones"]]
    hosts = [h["id"] for h in topo["hosts"]]
    creds = [c["id"] for c in topo.get("credentials", [])] + ["unknown-cred"]
    pick = st.sampled_from
    area, _, what = kind.partition("-")
    if area in ("seg", "egress"):
        sec = _section(pol, "segmentation" if area == "seg" else "egress")
        rules: list[dict[str, Any]] = sec["rules"]
        egress = area == "egress"
        if what == "add":
            rules.insert(draw(st.integers(0, len(rules))), _rule(draw, topo, f"n{n}", egress))
            return kind
        if not rules and what != "default":  # a rule to edit first (the edit is kind's)
            rules.append(_rule(draw, topo, f"m{n}", egress))
        if what == "default":
            sec["default"] = "deny" if sec.get("default", "allow") == "allow" else "allow"
            return kind
        i = draw(st.integers(0, len(rules) - 1))
        rule = rules[i]
        if what == "remove":
            del rules[i]
        elif what == "swap":
            if len(rules) < 2:  # a second rule first (the edit is kind's)
                rules.append(_rule(draw, topo, f"m{n}b", egress))
            j = (i + 1 + draw(st.integers(0, len(rules) - 2))) % len(rules)
            rules[i], rules[j] = rules[j], rules[i]
        elif what == "action":
            rule["action"] = "deny" if rule["action"] == "allow" else "allow"
        elif what == "services":
            pool = EGRESS_SERVICES if egress else RULE_SERVICES
            if "services" in rule and draw(st.booleans()):
                del rule["services"]
            else:
                rule["services"] = draw(st.lists(pick(pool), min_size=1, max_size=3, unique=True))
        elif what == "to" and egress:
            if "to" in rule and draw(st.booleans()):
                del rule["to"]
            else:
                rule["to"] = draw(st.lists(pick(PATTERNS), min_size=1, max_size=3, unique=True))
        else:  # a selector: from, to (segmentation), or one part of one
            key = "to" if what == "to" else "from"
            if not egress and what in ("labels", "hosts", "zone"):
                key = draw(pick(["from", "to"]))
            sel = _as_dict(rule.get(key))
            if what in ("from", "to"):
                new = _selector(draw, topo)
                sel = new if isinstance(new, dict) else {}
            elif what == "labels":
                sel = _edit_labels(draw, sel)
            elif what == "hosts":
                sel = _edit_hosts(draw, sel, hosts)
            else:
                sel = _edit_zone(draw, sel, zones)
            _set_selector(rule, key, sel)
        return kind
    if kind == "intra-zone":
        sec = _section(pol, "segmentation")
        sec["intra_zone"] = "allow" if sec.get("intra_zone", "rules") == "rules" else "rules"
        return kind
    controls = pol.setdefault("controls", {})
    if kind == "mfa":
        mfa = list(controls.get("mfa", []))
        c = draw(pick(creds))
        controls["mfa"] = [x for x in mfa if x != c] if c in mfa else [*mfa, c]
        return kind
    if kind == "encrypt":
        controls["encrypt_in_transit"] = not controls.get("encrypt_in_transit", False)
        return kind
    if kind == "describe":
        pol["description"] = f"edit {n}"  # new bytes, same meaning
        return kind
    dets: list[dict[str, Any]] = controls.setdefault("detection", [])
    if not dets and kind != "detect-add":  # an entry to edit first (the edit is kind's)
        _apply(draw, "detect-add", pol, topo, n)
    if kind == "detect-add":
        det: dict[str, Any] = {
            "id": f"nd{n}",
            "techniques": draw(st.lists(pick(TECHNIQUES), min_size=1, max_size=2, unique=True)),
            "probability": draw(pick([0.25, 0.5, 0.9])),
        }
        where = _selector(draw, topo)
        if where is not None:
            det["where"] = where
        dets.append(det)
        return kind
    i = draw(st.integers(0, len(dets) - 1))
    if kind == "detect-remove":
        del dets[i]
        return kind
    part = draw(pick(["techniques", "where", "probability"]))
    if part == "techniques":
        dets[i]["techniques"] = draw(
            st.lists(pick(TECHNIQUES), min_size=1, max_size=2, unique=True)
        )
    elif part == "probability":
        dets[i]["probability"] = draw(pick([0.0, 0.25, 0.5, 0.9]))
    else:
        _set_selector(dets[i], "where", _edit_labels(draw, _as_dict(dets[i].get("where"))))
    return kind


@st.composite
def edited_scenarios(draw: st.DrawFn) -> Edited:
    """A topology, a policy and 2-6 successive edits of it (of distinct kinds)."""
    topo = _with_twins(draw, draw(topologies()))
    pol = draw(policies(topo))
    versions = [_dump(pol)]
    done: list[str] = []
    # Distinct kinds in a shuffled order, rotated by a hash of the topology: draws
    # lean to their simplest value (sampled_from to its first kind, permutations to
    # none), which would leave some kinds untried in a CI run's examples.
    order = draw(st.permutations(EDITS))
    turn = zlib.crc32(_dump(topo).encode()) % len(order)
    order = order[turn:] + order[:turn]
    for n in range(draw(st.integers(2, 6))):
        pol = copy.deepcopy(pol)
        kind = _apply(draw, order[n], pol, topo, n)
        if kind is None:
            continue
        done.append(kind)
        versions.append(_dump(pol))
    if not done:  # every edit drawn was one that could not apply: flip a default
        pol = copy.deepcopy(pol)
        done.append(str(_apply(draw, "seg-default", pol, topo, 0)))
        versions.append(_dump(pol))
    edited_topology = _edit_topology(draw, topo) if draw(st.integers(0, 2)) == 0 else None
    if edited_topology == _dump(topo):
        edited_topology = None  # the same bytes: nothing to re-load
    return Edited(_dump(topo), tuple(versions), tuple(done), edited_topology)


def _with_twins(draw: st.DrawFn, topo: dict[str, Any]) -> dict[str, Any]:
    """Often a copy or two of a host (without its data, in any zone): interchangeable
    hosts are what a compressed compilation folds into one class, and where a reused
    one can go wrong (the generator alone rarely draws two hosts alike)."""
    for host in draw(st.lists(st.sampled_from(topo["hosts"]), max_size=2, unique_by=id)):
        twin = {k: copy.deepcopy(v) for k, v in host.items() if k != "data"}
        twin["id"] = f"{host['id']}t"
        # Often in another zone: a zone-blind policy's classes span zones, except
        # where a credential can be sniffed (spec rule 6).
        twin["zone"] = draw(
            st.sampled_from([z["id"] for z in topo["zones"] if not z.get("external")])
        )
        for v in twin.get("vulnerabilities", []):
            v["id"] = f"{v['id']}t"
        topo["hosts"].append(twin)
        event("topology: a twin host")
    return topo


def _edit_topology(draw: st.DrawFn, topo: dict[str, Any]) -> str:
    """The topology with one host's zone, labels or a service's ``public`` changed."""
    topo = copy.deepcopy(topo)
    host = draw(st.sampled_from(topo["hosts"]))
    what = draw(st.sampled_from(["zone", "labels", "public"]))
    if what == "zone":
        host["zone"] = draw(
            st.sampled_from([z["id"] for z in topo["zones"] if not z.get("external")])
        )
    elif what == "labels":
        host["labels"] = _edit_labels(draw, {"labels": host.get("labels") or {}}).get("labels", {})
    else:
        svc = draw(st.sampled_from(host["services"]))
        svc["public"] = not svc["public"]
    event(f"topology edit: {what}")
    return _dump(topo)


# --------------------------------------------------------------------------- comparison


def _verdicts(result: PolicyResult) -> tuple[list[Any], list[Any]]:
    """Each goal's (goal, reachable, cost) and each traffic flow's (allowed, rule)."""
    goals = [(g.goal, g.reachable, g.cost) for g in result.goals]
    flows = [(t.index, t.decision.allowed, t.decision.rule) for t in result.traffic]
    return goals, flows


def _decisions(topo: LoadedTopology, compiled: CompiledPolicy) -> list[Any]:
    """Every flow decision (each source to each host service) and every egress decision."""
    m = topo.model
    out: list[Any] = []
    for src in [h.id for h in m.hosts] + sorted(topo.external_zones):
        for h in m.hosts:
            for s in SERVICES:
                d = compiled.flow(src, h.id, s)
                out.append((src, h.id, s, d.allowed, d.rule))
    for h in m.hosts:
        for e in m.external:
            for s in e.services:
                d = compiled.egress(h.id, e.id, s)
                c = compiled.egress_class(h.id, e.id, s)
                out.append((h.id, e.id, s, d.allowed, d.rule, c.allowed, c.rule))
    return out


def _facts(model: AttackModel, compiled: CompiledPolicy) -> set[Fact]:
    return set(solve(model, compiled, exhaustive=True).cost)


def _plan_verdicts(plans: list[Any], compiled: CompiledPolicy) -> list[Any]:
    return [(v.blocked, v.step, v.blocked_by, v.p_detected) for v in judge_plans(plans, compiled)]


def _recheck_equals_fresh(ws: Workspace, topo_path: Path, pol_path: Path, step: int) -> None:
    """The workspace's re-check of ``pol_path`` against a fresh check of the same text."""
    got = ws.analyze([pol_path]).results[0]
    text = pol_path.read_text(encoding="utf-8")
    topo = topology_from_text(topo_path.read_text(encoding="utf-8"))
    model = AttackModel(topo)
    fresh = judge_policy(model, policy_from_text(text))
    event(f"re-check: target groups {'reused' if got.compiled.reused_targets else 'rebuilt'}")
    assert got.policy.model == fresh.policy.model, ("re-read policy", step)
    assert _verdicts(got) == _verdicts(fresh), ("goals and traffic", step)
    ws_topo, ws_model = ws.topology, got.model
    assert ws_model is not None
    assert _decisions(ws_topo, got.compiled) == _decisions(topo, fresh.compiled), ("flows", step)
    assert _facts(ws_model, got.compiled) == _facts(model, fresh.compiled), ("fixpoint", step)
    # Every plan possible at all (listed under the reference policy) and those the
    # policy's own solve lists, judged under the re-checked and the fresh compilation.
    ref_compiled = model.compile(reference_policy())
    ref_sol = plan_solve(model, ref_compiled)
    own_sol = plan_solve(model, fresh.compiled)
    plans = merge_plans(
        [k_plans(model, ref_compiled, g, 3, solution=ref_sol) for g in goal_facts(topo)]
        + [k_plans(model, fresh.compiled, g, 3, solution=own_sol) for g in goal_facts(topo)]
    )
    assert _plan_verdicts(plans, got.compiled) == _plan_verdicts(plans, fresh.compiled), (
        "plan verdicts",
        step,
    )
    # An uncompressed compilation lent this one's groups must stay uncompressed:
    # every fact derived, not one per class of interchangeable hosts.
    plain = ws_model.compile(got.policy, compress=False, previous=got.compiled)
    fresh_plain = model.compile(fresh.policy, compress=False)
    assert set(solve(ws_model, plain).cost) == set(solve(model, fresh_plain).cost), (
        "uncompressed",
        step,
    )


@SETTINGS
@given(edited_scenarios())
def test_recheck_equals_fresh_check(sc: Edited) -> None:
    """After each edit, the workspace's re-check equals a fresh check of the edited text."""
    for kind in sc.edits:
        event(f"edit: {kind}")
    event(f"edits in a row: {len(sc.edits)}")
    with TemporaryDirectory() as tmp:
        topo_path, pol_path = Path(tmp) / "topo.yaml", Path(tmp) / "pol.yaml"
        topo_path.write_text(sc.topology, encoding="utf-8")
        pol_path.write_text(sc.versions[0], encoding="utf-8")
        ws = Workspace(topo_path)
        _recheck_equals_fresh(ws, topo_path, pol_path, 0)
        for step, text in enumerate(sc.versions[1:], start=1):
            pol_path.write_text(text, encoding="utf-8")
            _recheck_equals_fresh(ws, topo_path, pol_path, step)
        assert ws.stats.topology_loads == 1
        if sc.topology_edit is not None:
            topo_path.write_text(sc.topology_edit, encoding="utf-8")
            _recheck_equals_fresh(ws, topo_path, pol_path, len(sc.versions))
            assert ws.stats.topology_loads == 2
        event(f"policy re-reads patched: {'some' if ws.stats.policy_patches else 'none'}")


def test_a_compilation_of_another_topology_is_not_reused() -> None:
    """A ``previous`` compiled on another topology, or without a model's layout, must
    not lend its target groups (the identity guards of ``ztsim.engine.reuse.can_reuse``)."""
    text = yaml.safe_dump(
        {
            "ztsim": 1,
            "kind": "topology",
            "name": "t",
            "zones": [{"id": "x", "external": True}, {"id": "z"}],
            "hosts": [
                {
                    "id": f"h{i}",
                    "zone": "z",
                    "services": [{"service": "22/tcp", "public": True}],
                    "vulnerabilities": [{"id": f"v{i}", "service": "22/tcp", "gives": "root"}],
                    **({"data": [{"id": "d", "integrity": True}]} if i == 1 else {}),
                }
                for i in range(2)
            ],
        }
    )
    pol = reference_policy()
    one = AttackModel(topology_from_text(text))
    other = AttackModel(topology_from_text(text.replace("h1", "h9")))
    reused = other.compile(pol, previous=one.compile(pol))
    assert not reused.reused_targets
    assert set(solve(other, reused).cost) == set(solve(other, other.compile(pol)).cost)
    # Compiled directly (no model, so no layout): given other targets, nothing is lent.
    topo = one.topology
    both = [("h0", "22/tcp"), ("h1", "22/tcp")]
    bare = CompiledPolicy(pol, topo, targets=both[:1])
    again = CompiledPolicy(pol, topo, targets=both, previous=bare)
    assert not again.reused_targets
    assert again.targets.keys == CompiledPolicy(pol, topo, targets=both).targets.keys
