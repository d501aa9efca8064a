"""Loading topology and policy files into validated, indexed models.

The loader turns files into :class:`LoadedTopology` and :class:`LoadedPolicy`
objects, or raises :class:`~ztsim.diagnostics.InputError` listing every problem
found (not just the first) as ``FILE:LINE:COL: message``.  It checks what the
schema cannot: uniqueness of ids across a topology's lists, references, that every
named service is offered by its destination, and (as warnings) what a policy names
that a topology lacks (spec §1).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ValidationError

from ztsim.diagnostics import Diagnostic, InputError
from ztsim.model import (
    ID_PATTERN,
    DataItem,
    EntryPoint,
    ExternalDestination,
    Host,
    HostService,
    Policy,
    Selector,
    Topology,
    invalid_id_message,
)
from ztsim.profiling import phase
from ztsim.runtime import paused_gc
from ztsim.yamlio import (
    Document,
    Mark,
    YamlInputError,
    load_document,
    locate,
    parse_text,
)

__all__ = [
    "REFERENCE_POLICY",
    "LoadedPolicy",
    "LoadedTopology",
    "expand_policy_paths",
    "load_file",
    "load_policies",
    "load_policy",
    "load_topology",
    "policy_from_document",
    "policy_from_text",
    "policy_warnings",
    "reference_policy",
    "topology_from_text",
]

Loc = tuple[str | int, ...]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class HostIndex:
    """Host ids by zone and by label pair."""

    all_hosts: frozenset[str]
    by_zone: dict[str, set[str]]
    by_label: dict[tuple[str, str], set[str]]


@dataclass(eq=False)
class LoadedTopology:
    """A validated topology with lookup tables for the engine."""

    model: Topology
    path: str
    doc: Document | None = None
    warnings: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        m = self.model
        self.zones = {z.id: z for z in m.zones}
        self.external_zones = frozenset(z.id for z in m.zones if z.external)
        self.hosts: dict[str, Host] = {h.id: h for h in m.hosts}
        self.destinations: dict[str, ExternalDestination] = {e.id: e for e in m.external}
        self.data: dict[str, tuple[Host, DataItem]] = {
            d.id: (h, d) for h in m.hosts for d in h.data
        }
        self.entry_points: tuple[EntryPoint, ...] = tuple(m.entry_points) or tuple(
            EntryPoint(id=f"from-{z.id}", zone=z.id) for z in m.zones if z.external
        )

    @property
    def name(self) -> str:
        """The topology's name."""
        return self.model.name

    @cached_property
    def offers(self) -> dict[tuple[str, str], HostService]:
        """Each host's services by (host id, service)."""
        return {(h.id, s.service): s for h in self.model.hosts for s in h.services}

    @cached_property
    def label_sets(self) -> dict[str, frozenset[tuple[str, str]]]:
        """Each host's labels as a set of (key, value) pairs (for class keys)."""
        return {h.id: frozenset(h.labels.items()) for h in self.model.hosts}

    @cached_property
    def host_index(self) -> HostIndex:
        """Hosts indexed by zone and by label pair, for selector look-ups."""
        by_zone: defaultdict[str, set[str]] = defaultdict(set)
        by_label: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
        for h in self.model.hosts:
            hid = h.id
            by_zone[h.zone].add(hid)
            for pair in h.labels.items():
                by_label[pair].add(hid)
        # Plain dicts: a look-up of an absent key must not add it.
        return HostIndex(frozenset(self.hosts), dict(by_zone), dict(by_label))

    def mark(self, loc: Loc, *, key: bool = False) -> Mark:
        """Where ``loc`` stands in the source file (1:1 when unknown)."""
        return locate(self.doc, loc, key=key) if self.doc is not None else Mark(1, 1)


@dataclass(eq=False)
class LoadedPolicy:
    """A validated policy and where each of its rules stands in its file."""

    model: Policy
    path: str
    doc: Document | None = None
    warnings: list[Diagnostic] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The policy's name."""
        return self.model.name

    @cached_property
    def _rule_index(self) -> dict[tuple[str, str], int]:
        seg = {("segmentation", r.id): i for i, r in enumerate(self.model.segmentation.rules)}
        egr = {("egress", r.id): i for i, r in enumerate(self.model.egress.rules)}
        return seg | egr

    def rule_mark(self, section: Literal["segmentation", "egress"], rule_id: str) -> Mark | None:
        """Return the line and column of rule ``rule_id`` of ``section``, if known."""
        index = self._rule_index.get((section, rule_id))
        if index is None or self.doc is None:
            return None
        return locate(self.doc, (section, "rules", index))

    def rule_location(self, section: Literal["segmentation", "egress"], rule_id: str) -> str:
        """``FILE:LINE`` of a rule, for explanations; the file alone if unknown."""
        mark = self.rule_mark(section, rule_id)
        return f"{self.path}:{mark.line}" if mark else self.path


REFERENCE_POLICY = Policy.model_validate(
    {
        "ztsim": 1,
        "kind": "policy",
        "name": "reference",
        "description": "Allows every flow and has no controls: every plan possible under any "
        "policy is possible under it (spec §6).",
    }
)


def reference_policy() -> LoadedPolicy:
    """The reference policy of spec §6, as a loaded policy with no file."""
    return LoadedPolicy(REFERENCE_POLICY, "<reference>")


# --------------------------------------------------------------------------- helpers


class Collector:
    """Gathers diagnostics for one document."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.items: list[Diagnostic] = []

    def add(
        self,
        loc: Loc,
        message: str,
        level: Literal["error", "warning"] = "error",
        *,
        key: bool = False,
    ) -> None:
        mark = locate(self.doc, loc, key=key)
        self.items.append(Diagnostic(self.doc.path, mark.line, mark.column, level, message))

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.level == "error"]


def _yaml_error(exc: YamlInputError) -> InputError:
    mark = exc.mark or Mark(1, 1)
    return InputError([Diagnostic(exc.path, mark.line, mark.column, "error", exc.message)])


def _pydantic_diagnostics(col: Collector, exc: ValidationError) -> None:
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        kind = err["type"]
        msg = str(err["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif (
            kind == "string_pattern_mismatch"
            and (err.get("ctx") or {}).get("pattern") == ID_PATTERN
        ):
            msg = invalid_id_message(err["input"])
        if kind == "extra_forbidden":
            col.add(loc, f"unknown key {loc[-1]!r}", key=True)
        elif kind == "missing":
            col.add(loc[:-1], f"missing required key {loc[-1]!r}")
        else:
            where = ".".join(str(p) for p in loc if isinstance(p, str | int))
            col.add(loc, f"{where}: {msg}" if where else msg)


KINDS = ("topology", "policy", "assertions")


def _header(doc: Document, col: Collector, expected: str) -> None:
    """Check ``ztsim: 1`` and that ``kind`` is ``expected``."""
    data = doc.data
    if not isinstance(data, dict):
        col.add((), f"expected a mapping with `ztsim: 1`, `kind: {expected}` and `name`")
        return
    version = data.get("ztsim")
    if version is None:
        col.add((), "missing `ztsim: 1` (format version)")
        return
    if version != 1 or isinstance(version, bool):
        col.add(("ztsim",), f"unsupported format version {version!r} (this ztsim reads 1)")
        return
    kind = data.get("kind")
    if kind is None:
        col.add((), f"missing `kind: {expected}`")
    elif kind not in KINDS:
        col.add(("kind",), f"unknown kind {kind!r} ({', '.join(KINDS)})")
    elif kind != expected:
        col.add(
            ("kind",),
            f"expected {'an' if expected[0] in 'aeiou' else 'a'} {expected} file, "
            f"found kind {kind!r}",
        )


ModelT = TypeVar("ModelT", bound=BaseModel)


def validate_document(
    doc: Document,
    kind: str,
    model: type[ModelT],
    check: Callable[[Collector, ModelT], None] | None = None,
) -> tuple[ModelT, list[Diagnostic]]:
    """Validate one document of ``kind``: header, schema, then ``check``'s own rules.

    Returns the model and the warnings; raises :class:`InputError` with every error
    found (all at once), each at the file, line and column of its node.
    """
    with phase("validate"), paused_gc():
        col = Collector(doc)
        _header(doc, col, kind)
        if col.errors:
            raise InputError(col.items)
        try:
            validated = model.model_validate(doc.data)
        except ValidationError as exc:
            _pydantic_diagnostics(col, exc)
            raise InputError(col.items) from None
        if check is not None:
            check(col, validated)
        if col.errors:
            raise InputError(col.items)
        return validated, col.items


def read_document(path: str | Path, *, positions: bool = False) -> Document:
    """Read a file, turning read and syntax problems into :class:`InputError`."""
    try:
        return load_document(path, positions=positions)
    except YamlInputError as exc:
        raise _yaml_error(exc) from None


def document_from_text(text: str, name: str = "<string>") -> Document:
    """Parse YAML text, turning syntax problems into :class:`InputError`."""
    try:
        return parse_text(text, name)
    except YamlInputError as exc:
        raise _yaml_error(exc) from None


def _report_duplicate_ids(col: Collector, topo: Topology) -> None:
    """Report every id declared twice, at its second (and later) declaration."""
    seen: dict[str, Loc] = {}

    def declare(ident: str, loc: Loc) -> None:
        if ident in seen:
            first = locate(col.doc, seen[ident])
            col.add(loc, f"duplicate id {ident!r} (first declared at line {first.line})")
        else:
            seen[ident] = loc

    for i, z in enumerate(topo.zones):
        declare(z.id, ("zones", i, "id"))
    for i, c in enumerate(topo.credentials):
        declare(c.id, ("credentials", i, "id"))
    for i, h in enumerate(topo.hosts):
        declare(h.id, ("hosts", i, "id"))
        for j, d in enumerate(h.data):
            declare(d.id, ("hosts", i, "data", j, "id"))
    for i, e in enumerate(topo.external):
        declare(e.id, ("external", i, "id"))
    for i, ep in enumerate(topo.entry_points):
        declare(ep.id, ("entry_points", i, "id"))


def _check_topology(col: Collector, topo: Topology) -> None:
    """Uniqueness, references and service offers (spec §1, §2).

    This runs once per host, so the usual case (nothing wrong) is kept lean: a
    location is only built, and looked up, for a problem actually reported.
    """
    ids = [z.id for z in topo.zones]
    ids += [c.id for c in topo.credentials]
    ids += [h.id for h in topo.hosts]
    ids += [d.id for h in topo.hosts if h.data for d in h.data]
    ids += [e.id for e in topo.external]
    ids += [ep.id for ep in topo.entry_points]
    if len(set(ids)) != len(ids):
        _report_duplicate_ids(col, topo)
    del ids

    zones = {z.id: z for z in topo.zones}
    creds = {c.id for c in topo.credentials}
    hosts = {h.id: h for h in topo.hosts}
    dests = {e.id: e for e in topo.external}
    add = col.add

    def need_cred(cid: str, loc: Loc) -> None:
        if cid not in creds:
            add(loc, f"unknown credential {cid!r} (declare it under `credentials`)")

    def no_service(svc: str, loc: Loc, what: str, host: Host) -> None:
        add(loc, f"{what} names service {svc}, which host {host.id!r} does not offer")

    for i, h in enumerate(topo.hosts):
        zone = zones.get(h.zone)
        if zone is None:
            add(("hosts", i, "zone"), f"unknown zone {h.zone!r}")
        elif zone.external:
            add(
                ("hosts", i, "zone"),
                f"host {h.id!r} is in external zone {h.zone!r}; external zones hold no hosts",
            )
        services = h.services
        offered = {s.service for s in services}
        if len(offered) != len(services):
            once: set[str] = set()
            for j, s in enumerate(services):
                if s.service in once:
                    add(("hosts", i, "services", j, "service"), f"service {s.service} listed twice")
                once.add(s.service)
        if h.vulnerabilities:
            vuln_ids: set[str] = set()
            for j, v in enumerate(h.vulnerabilities):
                if v.id in vuln_ids:
                    add(
                        ("hosts", i, "vulnerabilities", j, "id"),
                        f"vulnerability {v.id!r} listed twice",
                    )
                vuln_ids.add(v.id)
                if v.service is not None and v.service not in offered:
                    no_service(
                        v.service, ("hosts", i, "vulnerabilities", j, "service"), "vulnerability", h
                    )
        if h.credentials:
            for j, cs in enumerate(h.credentials):
                if cs.credential not in creds:
                    need_cred(cs.credential, ("hosts", i, "credentials", j, "credential"))
        if h.logins:
            for j, lg in enumerate(h.logins):
                if lg.credential not in creds:
                    need_cred(lg.credential, ("hosts", i, "logins", j, "credential"))
                if lg.service not in offered:
                    no_service(lg.service, ("hosts", i, "logins", j, "service"), "login", h)
        if h.data:
            for j, d in enumerate(h.data):
                if d.service is not None and d.service not in offered:
                    no_service(d.service, ("hosts", i, "data", j, "service"), "data item", h)

    for i, t in enumerate(topo.traffic):
        base = ("traffic", i)
        src_zone = zones.get(t.source)
        if t.source in hosts:
            pass
        elif src_zone is not None:
            if not src_zone.external:
                col.add(
                    (*base, "from"),
                    f"traffic comes from a host or an external zone; zone {t.source!r} is "
                    "internal (name its hosts)",
                )
        else:
            col.add((*base, "from"), f"unknown source {t.source!r} (a host or an external zone)")
        if t.to in hosts:
            dst_host = hosts[t.to]
            svc = next((s for s in dst_host.services if s.service == t.service), None)
            if svc is None:
                col.add(
                    (*base, "service"),
                    f"traffic names service {t.service}, which host {t.to!r} does not offer",
                )
            elif src_zone is not None and src_zone.external and not svc.public:
                col.add(
                    (*base, "service"),
                    f"traffic from external zone {t.source!r} to {t.to}:{t.service}, which is "
                    "not public: no policy can allow it",
                    "warning",
                )
        elif t.to in dests:
            if t.service not in dests[t.to].services:
                col.add(
                    (*base, "service"),
                    f"traffic names service {t.service}, which destination {t.to!r} does not offer",
                )
            if src_zone is not None:
                col.add((*base, "to"), "traffic from an external zone goes to a host, not outside")
        else:
            col.add(
                (*base, "to"), f"unknown destination {t.to!r} (a host or an external destination)"
            )
        if t.credential is not None:
            need_cred(t.credential, (*base, "credential"))

    for i, ep in enumerate(topo.entry_points):
        base = ("entry_points", i)
        if ep.zone is not None:
            ez = zones.get(ep.zone)
            if ez is None:
                col.add((*base, "zone"), f"unknown zone {ep.zone!r}")
            elif not ez.external:
                col.add(
                    (*base, "zone"),
                    f"entry zone {ep.zone!r} is internal; the attacker starts in an external "
                    "zone (use `host:` for a foothold inside)",
                )
        if ep.host is not None and ep.host not in hosts:
            col.add((*base, "host"), f"unknown host {ep.host!r}")
        for j, cred_id in enumerate(ep.credentials):
            need_cred(cred_id, (*base, "credentials", j))

    if not topo.entry_points and not any(z.external for z in topo.zones):
        col.add((), "no entry point: declare `entry_points` or an external zone")


def _topology_from(doc: Document) -> LoadedTopology:
    with paused_gc():
        topo, warnings = validate_document(doc, "topology", Topology, _check_topology)
        return LoadedTopology(topo, doc.path, doc, warnings=warnings)


def load_topology(path: str | Path) -> LoadedTopology:
    """Load and check a topology file.

    Raises
    ------
    InputError
        With every problem found, each located at its file, line and column.
    """
    return _topology_from(read_document(path))


def topology_from_text(text: str, name: str = "<string>") -> LoadedTopology:
    """Load a topology from YAML text (tests, the Python API)."""
    return _topology_from(document_from_text(text, name))


# --------------------------------------------------------------------------- policy


def _check_policy(col: Collector, pol: Policy) -> None:
    # Rule ids are unique within a policy (spec §3), across both sections, so that
    # a `rule` in the results is never ambiguous.
    seen: dict[str, tuple[str, int]] = {}
    for section in ("segmentation", "egress"):
        ids = [
            r.id
            for r in (pol.segmentation.rules if section == "segmentation" else pol.egress.rules)
        ]
        for i, rid in enumerate(ids):
            if rid in seen:
                first = locate(col.doc, (seen[rid][0], "rules", seen[rid][1]))
                col.add(
                    (section, "rules", i, "id"),
                    f"duplicate rule id {rid!r} (first at line {first.line})",
                )
            else:
                seen[rid] = (section, i)
    seen_det: set[str] = set()
    for i, d in enumerate(pol.controls.detection):
        if d.id in seen_det:
            col.add(("controls", "detection", i, "id"), f"duplicate detection id {d.id!r}")
        seen_det.add(d.id)


def _policy_from(doc: Document) -> LoadedPolicy:
    pol, _warnings = validate_document(doc, "policy", Policy, _check_policy)
    return LoadedPolicy(pol, doc.path, doc)


def policy_from_document(doc: Document) -> LoadedPolicy:
    """Validate an already parsed policy document (e.g. one patched after an edit).

    Raises :class:`~ztsim.diagnostics.InputError` as :func:`load_policy` does.
    """
    return _policy_from(doc)


def load_policy(path: str | Path) -> LoadedPolicy:
    """Load and check a policy file (see :func:`load_topology`)."""
    # A policy's rule lines are always shown: record positions while parsing.
    return _policy_from(read_document(path, positions=True))


def policy_from_text(text: str, name: str = "<string>") -> LoadedPolicy:
    """Load a policy from YAML text (tests, the Python API)."""
    return _policy_from(document_from_text(text, name))


def load_file(path: str | Path) -> LoadedTopology | LoadedPolicy:
    """Load a file of either kind, as its ``kind`` says."""
    doc = read_document(path)
    data = doc.data
    if isinstance(data, dict) and data.get("kind") == "policy":
        return _policy_from(doc)
    return _topology_from(doc)


# --------------------------------------------------------------------------- policy vs topology


def _selector_matches_any(sel: Selector, topo: LoadedTopology) -> bool:
    """Whether ``sel`` matches some host or external zone (indexed: no host scan)."""
    zone, hosts, labels = sel.zone, sel.host, sel.labels
    if zone is None and not hosts and not labels:
        return True  # any
    if zone is not None and zone in topo.external_zones:
        return not hosts and not labels
    index = topo.host_index
    # The usual one-key selectors, without building candidate sets (the index
    # holds no empty set).
    if not labels:
        if not hosts:
            return zone in index.by_zone
        if zone is None:
            return not index.all_hosts.isdisjoint(hosts)
    candidates: list[set[str]] = []
    if zone is not None:
        candidates.append(index.by_zone.get(zone, set()))
    if hosts:
        candidates.append(set(hosts) & index.all_hosts)
    for pair in (labels or {}).items():
        candidates.append(index.by_label.get(pair, set()))
    candidates.sort(key=len)
    first, *rest = candidates
    return any(all(h in c for c in rest) for h in first)


def policy_warnings(policy: LoadedPolicy, topo: LoadedTopology) -> list[Diagnostic]:
    """What ``policy`` names that ``topo`` lacks, as warnings (errors with ``--strict``).

    A policy may serve several topologies (spec §1), so an unknown id or a selector
    that matches nothing is not an error by itself.
    """
    if policy.doc is None:
        return []
    with phase("validate"), paused_gc():
        return _policy_warnings(policy, topo)


def _policy_warnings(policy: LoadedPolicy, topo: LoadedTopology) -> list[Diagnostic]:
    assert policy.doc is not None
    col = Collector(policy.doc)
    creds = {c.id for c in topo.model.credentials}

    zones, hosts = topo.zones, topo.hosts

    def check_selector(sel: Selector, loc: Loc) -> None:
        unknown = False
        zone, named = sel.zone, sel.host
        if zone is not None and zone not in zones:
            col.add((*loc, "zone"), f"zone {zone!r} is not in topology {topo.name!r}", "warning")
            unknown = True
        if named:
            for j, h in enumerate(named):
                if h not in hosts:
                    col.add(
                        (*loc, "host", j) if len(named) > 1 else (*loc, "host"),
                        f"host {h!r} is not in topology {topo.name!r}",
                        "warning",
                    )
                    unknown = True
        if not unknown and not _selector_matches_any(sel, topo):
            col.add(loc, f"selector `{sel}` matches nothing in topology {topo.name!r}", "warning")

    pol = policy.model
    for i, r in enumerate(pol.segmentation.rules):
        check_selector(r.source, ("segmentation", "rules", i, "from"))
        check_selector(r.to, ("segmentation", "rules", i, "to"))
    for i, er in enumerate(pol.egress.rules):
        check_selector(er.source, ("egress", "rules", i, "from"))
    for i, c in enumerate(pol.controls.mfa):
        if c not in creds:
            col.add(
                ("controls", "mfa", i),
                f"credential {c!r} is not in topology {topo.name!r}",
                "warning",
            )
    for i, d in enumerate(pol.controls.detection):
        check_selector(d.where, ("controls", "detection", i, "where"))
    return col.items


def expand_policy_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Expand folders into their ``*.yaml`` (and ``*.json``) files, sorted by name."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found = sorted(
                q for q in path.iterdir() if q.is_file() and q.suffix in (".yaml", ".json")
            )
            out.extend(found)
        else:
            out.append(path)
    return out


def load_policies(paths: Sequence[str | Path]) -> list[LoadedPolicy]:
    """Load several policy files (folders expanded), collecting every error."""
    diagnostics: list[Diagnostic] = []
    loaded: list[LoadedPolicy] = []
    for p in expand_policy_paths(paths):
        try:
            loaded.append(load_policy(p))
        except InputError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise InputError(diagnostics)
    return loaded
