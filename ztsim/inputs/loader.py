"""Loading topology and policy files into validated, indexed models.

The loader turns files into :class:`LoadedTopology` and :class:`LoadedPolicy`
objects, or raises :class:`~ztsim.model.diagnostics.InputError` listing every problem
found (not just the first) as ``FILE:LINE:COL: message``.  It checks what the
schema cannot: uniqueness of ids across a topology's lists, references, that every
named service is offered by its destination, and (as warnings) what a policy names
that a topology lacks (spec §1).
"""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import InitVar, dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, TypeVar, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from ztsim.inputs.documents import (
    Document,
    Mark,
    NodePath,
    YamlInputError,
    load_document,
    locate,
    parse_text,
    prefetch_entries,
)
from ztsim.model.diagnostics import MAX_LISTED, Diagnostic, InputError, omitted_summary
from ztsim.model.fields import ID_PATTERN, Labels, invalid_id_message
from ztsim.model.schema import (
    DataItem,
    EntryPoint,
    ExternalDestination,
    Host,
    Policy,
    Topology,
    lists_key,
)
from ztsim.model.selectors import Selector
from ztsim.perf.dedupe import PerObject, PlainKeys, shared_host_parts, shared_rule_parts
from ztsim.perf.heap import paused_gc
from ztsim.perf.prefetch import Prefetched, prefetch_documents
from ztsim.perf.profiling import phase

__all__ = [
    "REFERENCE_POLICY",
    "RULE_DEPTH",
    "LabelGroup",
    "LoadedPolicy",
    "LoadedTopology",
    "PendingPolicy",
    "check_policies",
    "expand_policy_paths",
    "label_pair_counts",
    "load_file",
    "load_policies",
    "load_policy",
    "load_topology",
    "policy_from_document",
    "policy_from_text",
    "policy_warnings",
    "prefetch_policies",
    "read_policies",
    "reference_policy",
    "topology_from_document",
    "topology_from_text",
]

Loc = tuple[str | int, ...]


# --------------------------------------------------------------------------- results


class HostTables(NamedTuple):
    """A topology's hosts and data items by id, in file order.

    The loader fills them in the pass over the hosts that checks them (see
    :func:`_check_topology`), so that :class:`LoadedTopology` does not walk the
    hosts again: at 50,000 hosts every pass costs tens of milliseconds, much of
    it waiting on memory.
    """

    hosts: dict[str, Host]
    data: dict[str, tuple[Host, DataItem]]
    #: :func:`~ztsim.model.schema.lists_key` of each host, in file order (the check works
    #: them out anyway; the attack model reads them again).
    keys: list[tuple[int, int, int, int]]

    @classmethod
    def of(cls, model: Topology) -> HostTables:
        """The tables of ``model`` (for a topology not loaded through this module)."""
        hosts = {h.id: h for h in model.hosts}
        return cls(
            hosts,
            {d.id: (h, d) for h in model.hosts if h.data for d in h.data},
            [lists_key(h) for h in model.hosts],
        )


#: A host's zone and label pairs: all that selectors other than ``host:`` can see.
LabelGroup = tuple[str, frozenset[tuple[str, str]]]


@dataclass(frozen=True)
class HostGroups:
    """The hosts' distinct (zone, label set) groups, indexed for selector look-ups.

    Whether some host matches a selector's zone and labels depends only on the
    host's group, and hosts of one role share theirs (benchmark L: 50,000 hosts,
    about 7,900 groups), so an index of groups is a fraction of an index of hosts
    to build.  Host ids need no index: a selector names a few, looked up directly.
    """

    #: Group numbers by zone (zones that hold no host are absent).
    by_zone: dict[str, set[int]]
    #: Group numbers by (key, value) label pair.
    by_label: dict[tuple[str, str], set[int]]

    @classmethod
    def of_groups(cls, groups: Iterable[LabelGroup]) -> HostGroups:
        """Index the hosts' groups (repeats allowed; numbered in order of first appearance)."""
        distinct = dict.fromkeys(groups)
        by_zone: defaultdict[str, set[int]] = defaultdict(set)
        by_label: defaultdict[tuple[str, str], set[int]] = defaultdict(set)
        for g, (zone, labels) in enumerate(distinct):
            by_zone[zone].add(g)
            for pair in labels:
                by_label[pair].add(g)
        # Plain dicts: a look-up of an absent key must not add it.
        return cls(dict(by_zone), dict(by_label))

    def any_match(self, zone: str | None, labels: Mapping[str, str]) -> bool:
        """Whether some host is in ``zone`` (any zone if ``None``) and has all ``labels``."""
        if not labels:
            return bool(self.by_zone) if zone is None else zone in self.by_zone
        candidates: list[set[int]] = []
        if zone is not None:
            in_zone = self.by_zone.get(zone)
            if in_zone is None:
                return False
            candidates.append(in_zone)
        for pair in labels.items():
            having = self.by_label.get(pair)
            if having is None:
                return False
            candidates.append(having)
        if len(candidates) == 1:
            return True  # the index holds no empty set
        candidates.sort(key=len)
        first, *rest = candidates
        return not first.isdisjoint(rest[0]) if len(rest) == 1 else bool(first.intersection(*rest))


def label_pair_counts(groups: Iterable[LabelGroup]) -> dict[tuple[str, str], int]:
    """For each label pair, in how many distinct groups of ``groups`` it appears."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for _zone, labels in set(groups):
        for pair in labels:
            counts[pair] += 1
    return dict(counts)


@dataclass(eq=False)
class LoadedTopology:
    """A validated topology with lookup tables for the engine.

    ``tables`` (init only) are the host tables when the caller already built them;
    they are built from ``model`` otherwise.
    """

    model: Topology
    path: str
    doc: Document | None = None
    warnings: list[Diagnostic] = field(default_factory=list)
    tables: InitVar[HostTables | None] = None

    def __post_init__(self, tables: HostTables | None) -> None:
        m = self.model
        self.zones = {z.id: z for z in m.zones}
        self.external_zones = frozenset(z.id for z in m.zones if z.external)
        if tables is None:
            tables = HostTables.of(m)
        self.hosts: dict[str, Host] = tables.hosts
        #: :func:`~ztsim.model.schema.lists_key` of each host of ``model.hosts``, in order.
        self.lists_keys: list[tuple[int, int, int, int]] = tables.keys
        self.destinations: dict[str, ExternalDestination] = {e.id: e for e in m.external}
        self.data: dict[str, tuple[Host, DataItem]] = tables.data
        self.entry_points: tuple[EntryPoint, ...] = tuple(m.entry_points) or tuple(
            EntryPoint(id=f"from-{z.id}", zone=z.id) for z in m.zones if z.external
        )

    @property
    def name(self) -> str:
        """The topology's name."""
        return self.model.name

    @cached_property
    def label_groups(self) -> dict[str, LabelGroup]:
        """Each host's (zone, label pairs), one shared tuple per distinct value.

        All that selectors other than ``host:`` can see of a host.  Far fewer
        groups than hosts on real estates (hosts of one role share their labels):
        selector checks and policy classes work per group.
        """
        interned: dict[LabelGroup, LabelGroup] = {}
        # Hosts of one role repeat their labels in the same order: a tuple of the
        # items finds the group without building a frozenset per host, and labels
        # shared by many hosts (Labels, see ztsim.perf.dedupe) are found by identity.
        seen: dict[tuple[str, tuple[tuple[str, str], ...]], LabelGroup] = {}
        shared: dict[tuple[str, int], LabelGroup] = {}
        out: dict[str, LabelGroup] = {}
        for h in self.model.hosts:
            labels = h.labels
            if type(labels) is Labels:
                group = shared.get((h.zone, id(labels)))  # alive: the host holds it
                if group is not None:
                    out[h.id] = group
                    continue
            as_given = (h.zone, tuple(labels.items()))
            group = seen.get(as_given)
            if group is None:
                key = (h.zone, frozenset(labels.items()))
                group = seen[as_given] = interned.setdefault(key, key)
            if type(labels) is Labels:
                shared[(h.zone, id(labels))] = group
            out[h.id] = group
        return out

    @cached_property
    def label_pair_counts(self) -> dict[tuple[str, str], int]:
        """For each label pair, in how many distinct (zone, labels) groups it appears.

        How rare a pair is, for indexing rules by their rarest pair; shared by the
        policies compiled against this topology (:func:`label_pair_counts`).
        """
        return label_pair_counts(self.label_groups.values())

    @cached_property
    def host_groups(self) -> HostGroups:
        """The hosts' (zone, label set) groups, indexed for selector look-ups."""
        return HostGroups.of_groups(self.label_groups.values())

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

    @cached_property
    def _rule_marks(self) -> dict[tuple[str, str], Mark]:
        """Where each rule stands, by (section, id), found once for every rule.

        ``check`` names the line of every rule (impact rows) and of each rule a
        decision cites: on a 10,000-rule policy, walking the node index once per
        question cost more than the rest of the verdicts.
        """
        doc = self.doc
        if doc is None:
            return {}
        marks: dict[tuple[str, str], Mark] = {}
        rules = list(self._rule_index.items())
        paths: list[NodePath] = [(section, "rules", index) for (section, _), index in rules]
        indexed: dict[str, bool] = {}
        for (key, _), path, mark in zip(rules, paths, doc.node_marks(paths), strict=True):
            section = key[0]
            if section not in indexed:
                indexed[section] = (
                    doc.node_mark((section,)) is not None
                    and doc.node_mark((section, "rules")) is not None
                )
            # What ``locate`` returns when the whole path is indexed (as it is for a
            # rule parsed from the file); anything else goes through ``locate``.
            if mark is None or not indexed[section]:
                mark = locate(doc, path)
            marks[key] = mark
        return marks

    def rule_marks(self) -> Mapping[tuple[str, str], Mark]:
        """Where each rule stands, by (section, rule id): :meth:`rule_mark` of them all."""
        return self._rule_marks

    def rule_mark(self, section: Literal["segmentation", "egress"], rule_id: str) -> Mark | None:
        """Return the line and column of rule ``rule_id`` of ``section``, if known."""
        return self._rule_marks.get((section, rule_id))

    def rule_location(self, section: Literal["segmentation", "egress"], rule_id: str) -> str:
        """``FILE:LINE`` of a rule, for explanations; the file alone if unknown."""
        mark = self._rule_marks.get((section, rule_id))
        return f"{self.path}:{mark.line}" if mark else self.path


class PendingPolicy(LoadedPolicy):
    """A parsed policy file, validated when its model is first read.

    ``check`` on a large estate validates each policy in the process that judges
    it (:func:`ztsim.analysis.analyze.analyze` on two cores), not all of them up front:
    two 10,000-rule policies take a tenth of a second to validate.  Reading
    :attr:`model` validates (and raises :class:`~ztsim.model.diagnostics.InputError`
    as :func:`load_policy` would); :attr:`name` is read from the document until
    then, since the schema takes a policy's name as written (a strict string).
    :func:`check_policies` reports every pending policy's errors at once.
    """

    def __init__(self, doc: Document) -> None:
        self.path = doc.path
        self.doc = doc
        self.warnings = []
        self._model: Policy | None = None

    @property
    def model(self) -> Policy:
        """The validated policy (validated now, if it was not yet)."""
        if self._model is None:
            assert self.doc is not None
            self._model = _policy_from(self.doc).model
        return self._model

    @model.setter
    def model(self, value: Policy) -> None:
        self._model = value

    @property
    def name(self) -> str:
        """The policy's name, as written in its file until the policy is validated."""
        if self._model is None and self.doc is not None and isinstance(self.doc.data, dict):
            name = self.doc.data.get("name")
            if type(name) is str:
                return name
        return self.model.name

    @property
    def validated(self) -> bool:
        """Whether the policy was validated (and found valid) already."""
        return self._model is not None


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
    """Gathers diagnostics for one document.

    At most :data:`~ztsim.model.diagnostics.MAX_LISTED` of each level are kept in
    :attr:`items`; the others are only counted (not even located), and
    :meth:`diagnostics` closes the list with a line that says how many there were.
    """

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self._items: list[Diagnostic] = []
        # Listed, not located yet: located all at once when read (see ``items``).
        self._pending: list[tuple[Loc, bool, Literal["error", "warning"], str]] = []
        #: Every diagnostic added, listed or not.
        self.count = 0
        self._listed = {"error": 0, "warning": 0}
        #: Per level: how many were not listed, and where the first of them is (loc, key).
        self._omitted: dict[str, tuple[int, Loc, bool]] = {}

    def add(
        self,
        loc: Loc,
        message: str,
        level: Literal["error", "warning"] = "error",
        *,
        key: bool = False,
    ) -> None:
        """Add a problem at ``loc`` (the key itself with ``key``), or count it past the cap."""
        self.count += 1
        if self._listed[level] >= MAX_LISTED:
            self.omit(1, level, loc, key=key)
            return
        self._listed[level] += 1
        self._pending.append((loc, key, level, message))

    @property
    def items(self) -> list[Diagnostic]:
        """The diagnostics listed so far, in the order they were added."""
        self._locate_pending([])
        return self._items

    def _locate_pending(self, more: list[tuple[Loc, bool]]) -> list[Mark]:
        """Locate the pending diagnostics into :attr:`items`, and ``more`` places
        (their marks returned), all in one pass."""
        if not self._pending and not more:
            return []
        pending, self._pending = self._pending, []
        marks = self.doc.locate_many([(loc, key) for loc, key, _, _ in pending] + more)
        self._items.extend(
            Diagnostic(self.doc.path, m.line, m.column, level, message)
            for m, (_, _, level, message) in zip(marks, pending, strict=False)
        )
        return marks[len(pending) :]

    def counting_only(self, level: Literal["error", "warning"] = "error") -> bool:
        """Whether problems of ``level`` are only counted from now on (the first
        one not listed is known already)."""
        return level in self._omitted

    def omit(
        self, n: int, level: Literal["error", "warning"], loc: Loc, *, key: bool = False
    ) -> None:
        """Count ``n`` problems not listed, the first of them at ``loc``."""
        count, first, first_key = self._omitted.get(level, (0, loc, key))
        self._omitted[level] = (count + n, first, first_key)

    def diagnostics(self) -> list[Diagnostic]:
        """The problems listed, and per level a closing line for those only counted."""
        levels: list[Literal["error", "warning"]] = [
            lv for lv in ("error", "warning") if lv in self._omitted
        ]
        # Located with the pending ones, in one pass over the text.
        marks = self._locate_pending([self._omitted[lv][1:] for lv in levels])
        out = list(self._items)
        for level, mark in zip(levels, marks, strict=True):
            n = self._omitted[level][0]
            out.append(omitted_summary(self.doc.path, mark.line, mark.column, level, n))
        return out

    @property
    def errors(self) -> bool:
        """Whether an error was added (none is counted only while none is listed)."""
        return self._listed["error"] > 0


def _yaml_error(exc: YamlInputError) -> InputError:
    mark = exc.mark or Mark(1, 1)
    return InputError([Diagnostic(exc.path, mark.line, mark.column, "error", exc.message)])


def _pydantic_diagnostics(
    col: Collector, exc: ValidationError, prefix: Loc = (), indexes: Sequence[int] = ()
) -> None:
    """Add pydantic's errors to ``col``, one each; ``prefix`` and ``indexes`` place
    errors of a part validated alone (items ``indexes`` of the list at ``prefix``).

    Once ``col`` only counts, the errors are counted without being built.
    """
    if col.counting_only("error"):
        col.omit(exc.error_count(), "error", prefix)
        return
    for err in exc.errors(include_url=False):
        loc: Loc = tuple(err["loc"])
        if prefix:
            first = loc[0] if loc else None
            if indexes and type(first) is int:
                loc = (*prefix, indexes[first], *loc[1:])
            else:
                loc = (*prefix, *loc)
        kind = err["type"]
        msg = str(err["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        elif (
            kind == "string_pattern_mismatch"
            and (err.get("ctx") or {}).get("pattern") == ID_PATTERN
        ):
            msg = invalid_id_message(err["input"])
        elif kind == "string_type" and isinstance(err.get("input"), bool | int | float):
            msg += _yaml_scalar_hint(err["input"])
        if kind == "extra_forbidden":
            col.add(loc, f"unknown key {loc[-1]!r}", key=True)
        elif kind == "invalid_key" or loc[-1:] == ("[key]",):
            # A key that is not a string (``~``, ``12``, a date): point at the key.
            at = loc[:-1] if loc[-1:] == ("[key]",) else loc
            where = ".".join(str(p) for p in at[:-1] if isinstance(p, str | int))
            text = f"key {at[-1]} is not a string (write it in quotes): {msg}" if at else msg
            col.add(at, f"{where}: {text}" if where else text, key=True)
        elif kind == "missing":
            col.add(loc[:-1], f"missing required key {loc[-1]!r}")
        else:
            where = ".".join(str(p) for p in loc if isinstance(p, str | int))
            col.add(loc, f"{where}: {msg}" if where else msg)


def _yaml_scalar_hint(value: bool | int | float) -> str:
    """Why YAML gave a number or a boolean where text was expected, and the fix.

    YAML 1.1 reads ``no``, ``on`` or ``yes`` as booleans and ``017`` or ``1:30``
    as numbers: a host id ``no`` is a typo-class surprise, not a type confusion.
    """
    what = "a boolean" if isinstance(value, bool) else "a number"
    return f" (YAML read this value as {what}, {value!r}: quote it to make it text)"


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
    prepare: Callable[[object], object | None] | None = None,
) -> tuple[ModelT, list[Diagnostic]]:
    """Validate one document of ``kind``: header, schema, then ``check``'s own rules.

    ``prepare`` may return the document's data with parts already validated (see
    :mod:`ztsim.perf.dedupe`), or ``None``; whatever it finds wrong, the data as
    read is validated instead, so errors are reported as they would be without it.

    Returns the model and the warnings; raises :class:`InputError` with every error
    found (all at once), each at the file, line and column of its node.
    """
    with phase("validate"), paused_gc():
        col = Collector(doc)
        _header(doc, col, kind)
        if col.errors:
            raise InputError(col.diagnostics())
        validated = _validate(col, model, doc.data, prepare, len(doc.text))
        if validated is None:
            raise InputError(col.diagnostics())
        if check is not None:
            check(col, validated)
        if col.errors:
            raise InputError(col.diagnostics())
        return validated, col.diagnostics()


def _validate(
    col: Collector,
    model: type[ModelT],
    data: object,
    prepare: Callable[[object], object | None] | None,
    text_size: int = 0,
) -> ModelT | None:
    """``model.model_validate(data)``, through ``prepare``'s shortcut when it gives one;
    ``None`` when the data is invalid (the errors are in ``col``).  ``text_size``:
    the length of the document's text (see :func:`_long_lists`)."""
    if prepare is not None:
        try:
            ready = prepare(data)
            if ready is not None:
                return _validate_in_parts(model, ready, None, text_size)
        except (ValidationError, _PartInvalid):
            pass  # the data as read gives the errors, at their places
    return _validate_in_parts(model, data, col, text_size)


#: Lists longer than this are validated this many items at a time (see
#: :func:`_validate_in_parts`).
VALIDATION_CHUNK = 2048

_ADAPTERS: dict[object, TypeAdapter[Any]] = {}
#: The keys each model accepts (its fields' names and aliases).
_MODEL_KEYS: dict[object, frozenset[str]] = {}


#: Items of a long list above this many bytes of text on average are looked into
#: for long lists of their own (see :func:`_long_lists`).
BIG_ITEM_BYTES = 64 * 1024


def _generic_type(annotation: object, origin: type) -> object | None:
    """``annotation`` when it is ``origin[...]`` (``list[X]``, ``dict[K, V]``),
    perhaps ``Annotated``, else ``None``."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation if get_origin(annotation) is origin else None


def _model_of(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


#: A part of a document validated on its own (see :func:`_long_lists`): its kind
#: (``list``, ``dict``, or ``keys``: a model's mapping with thousands of keys), where
#: it is, and its type (``list[Host]``, ``dict[str, str]``, or the model).
Part = tuple[str, Loc, object]


def _long_lists(model: type[BaseModel], data: dict[str, object], text_size: int) -> list[Part]:
    """The parts of ``data`` with more than :data:`VALIDATION_CHUNK` items: lists and
    mappings that are fields of ``model`` or of its sections (``hosts``,
    ``segmentation.rules``), ``data`` itself or a section when it has that many
    keys (all but a few unknown), and, when the items of a list average more than
    :data:`BIG_ITEM_BYTES` of the ``text_size`` characters, the same in each of
    those items (one host listing a million services or labels).  Looks at a few
    fields, and at the items only of lists of such large items (never on an estate).
    """
    found: list[Part] = []
    if len(data) > VALIDATION_CHUNK:
        found.append(("keys", (), model))
    for name, info in model.model_fields.items():
        key = info.alias or name
        value = data.get(key)
        annotation = info.annotation
        if type(value) is list:
            list_type = _generic_type(annotation, list)
            if list_type is None:
                continue
            if len(value) > VALIDATION_CHUNK:
                found.append(("list", (key,), list_type))
            item_model = _model_of(get_args(list_type)[0])
            if item_model is not None and text_size > (len(value) + 1) * BIG_ITEM_BYTES:
                for i, item in enumerate(value):
                    if type(item) is dict:
                        found.extend(
                            (kind, (key, i, *loc), t)
                            for kind, loc, t in _long_lists(item_model, item, 0)
                            if len(loc) <= 1
                        )
        elif type(value) is dict:
            section = _model_of(annotation)
            if section is not None:
                found.extend(
                    (kind, (key, *loc), t)
                    for kind, loc, t in _long_lists(section, value, text_size)
                )
            elif len(value) > VALIDATION_CHUNK and (dict_type := _generic_type(annotation, dict)):
                found.append(("dict", (key,), dict_type))
    return found


class _PartInvalid(Exception):
    """A part validated on its own is invalid (raised instead of reporting, with no
    collector: see :func:`_validate_in_parts`)."""


def _at_path(data: object, path: Loc) -> Any:
    node: Any = data
    for step in path:
        node = node[step]
    return node


def _replace_at(data: dict[str, object], path: Loc, value: object) -> dict[str, object]:
    """A copy of ``data`` with ``value`` at ``path`` (the containers along it copied)."""
    copy = dict(data)
    node: Any = copy
    for step in path[:-1]:
        child = node[step]
        child = dict(child) if type(child) is dict else list(child)
        node[step] = child
        node = child
    node[path[-1]] = value
    return copy


def _validate_in_parts(
    model: type[ModelT], data: object, col: Collector | None, text_size: int = 0
) -> ModelT | None:
    """``model.model_validate(data)``, its long lists :data:`VALIDATION_CHUNK` items
    at a time.

    pydantic keeps every error of a validation until it ends (about 400 bytes each): a
    few megabytes of ``{}`` in a host list made millions of them and gigabytes
    (benchmarks/README.md has the figures).  Validated in parts, each part's errors are
    handed to ``col`` (which lists the first ones, counts the rest) and let go; the
    document is then validated with each long list replaced by its items' models
    (pydantic takes a model as it is), or by ``[]`` when a part of it failed, so that
    nothing is validated twice and no error is reported twice.  The parts are those of
    :func:`_long_lists`: long lists and mappings of the top level, of sections, and of
    items that average over :data:`BIG_ITEM_BYTES` of text (one host listing a million
    services or labels).  Deeper ones are validated whole: their errors take up to 1 KB
    each until the cap drops them.

    With ``col`` ``None``, raises the first :class:`ValidationError` instead.
    """
    # The items still to validate of each long list: those not models already (a
    # large estate's plain hosts are, see ztsim.perf.dedupe; pydantic takes them as they are).
    todo: list[tuple[str, Loc, object, list[int]]] = []
    for kind, path, annotation in _long_lists(model, data, text_size) if type(data) is dict else []:
        pending: list[int] = []
        if kind == "list":
            (item_type,) = get_args(annotation)
            items = _at_path(data, path)
            pending = [i for i, x in enumerate(items) if type(x) is not item_type]
            if len(pending) <= VALIDATION_CHUNK:
                continue
        todo.append((kind, path, annotation, pending))
    if not todo:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            if col is None:
                raise
            _pydantic_diagnostics(col, exc)
            return None
    assert type(data) is dict
    whole: dict[str, object] = data
    failed = False
    for kind, path, annotation, pending in todo:
        if kind == "keys":
            # Thousands of keys where a model has a few: the unknown ones are
            # reported here (as pydantic would, "unknown key") and left out.
            mapping = _at_path(whole, path)
            fields = _MODEL_KEYS.get(annotation)
            if fields is None:
                assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
                fields = _MODEL_KEYS[annotation] = frozenset(
                    k for n, i in annotation.model_fields.items() for k in (n, i.alias) if k
                )
            unknown = {k for k in mapping if type(k) is str and k not in fields}
            if unknown:
                if col is None:
                    raise _PartInvalid
                failed = True
                for k in mapping:
                    if k in unknown:
                        col.add((*path, k), f"unknown key {k!r}", key=True)
                kept = {k: v for k, v in mapping.items() if k not in unknown}
                whole = _replace_at(whole, path, kept) if path else kept
            continue
        adapter = _ADAPTERS.get(annotation)
        if adapter is None:
            adapter = _ADAPTERS[annotation] = TypeAdapter(annotation)  # type: ignore[arg-type]
        source = _at_path(whole, path)
        part_failed = False
        done: Any
        if kind == "dict":
            pairs = list(source.items())
            done = {}
            for start in range(0, len(pairs), VALIDATION_CHUNK):
                try:
                    got = adapter.validate_python(dict(pairs[start : start + VALIDATION_CHUNK]))
                except ValidationError as exc:
                    if col is None:
                        raise
                    part_failed = True
                    _pydantic_diagnostics(col, exc, path)
                    continue
                if not part_failed:
                    done.update(got)
        else:
            done = list(source)
            for start in range(0, len(pending), VALIDATION_CHUNK):
                indexes = pending[start : start + VALIDATION_CHUNK]
                try:
                    got = adapter.validate_python([source[i] for i in indexes])
                except ValidationError as exc:
                    if col is None:
                        raise
                    part_failed = True
                    _pydantic_diagnostics(col, exc, path, indexes)
                    continue
                if not part_failed:
                    for i, m in zip(indexes, got, strict=True):
                        done[i] = m
        if part_failed:
            done = {} if kind == "dict" else []
        whole = _replace_at(whole, path, done)
        failed = failed or part_failed
    try:
        validated = model.model_validate(whole)
    except ValidationError as exc:
        if col is None:
            raise
        _pydantic_diagnostics(col, exc)
        return None
    return None if failed else validated


def read_document(
    path: str | Path,
    *,
    positions: bool = False,
    depth: int | None = None,
    prefetched: Prefetched | None = None,
) -> Document:
    """Read a file, turning read and syntax problems into :class:`InputError`."""
    try:
        return load_document(path, positions=positions, depth=depth, prefetched=prefetched)
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


def _no_service(col: Collector, svc: str, loc: Loc, what: str, host: Host) -> None:
    col.add(loc, f"{what} names service {svc}, which host {host.id!r} does not offer")


def _check_host_lists(col: Collector, h: Host, i: int, offered: set[str], creds: set[str]) -> None:
    """A host's services, vulnerabilities, stored credentials and logins (host ``i``)."""
    services = h.services
    if len(offered) != len(services):
        once: set[str] = set()
        for j, s in enumerate(services):
            if s.service in once:
                col.add(("hosts", i, "services", j, "service"), f"service {s.service} listed twice")
            once.add(s.service)
    if h.vulnerabilities:
        vuln_ids: set[str] = set()
        for j, v in enumerate(h.vulnerabilities):
            if v.id in vuln_ids:
                col.add(
                    ("hosts", i, "vulnerabilities", j, "id"), f"vulnerability {v.id!r} listed twice"
                )
            vuln_ids.add(v.id)
            if v.service is not None and v.service not in offered:
                loc: Loc = ("hosts", i, "vulnerabilities", j, "service")
                _no_service(col, v.service, loc, "vulnerability", h)
    for j, cs in enumerate(h.credentials):
        if cs.credential not in creds:
            _unknown_credential(col, cs.credential, ("hosts", i, "credentials", j, "credential"))
    for j, lg in enumerate(h.logins):
        if lg.credential not in creds:
            _unknown_credential(col, lg.credential, ("hosts", i, "logins", j, "credential"))
        if lg.service not in offered:
            _no_service(col, lg.service, ("hosts", i, "logins", j, "service"), "login", h)


def _unknown_credential(col: Collector, cid: str, loc: Loc) -> None:
    col.add(loc, f"unknown credential {cid!r} (declare it under `credentials`)")


def _check_topology(col: Collector, topo: Topology, known: PlainKeys | None = None) -> HostTables:
    """Uniqueness, references and service offers (spec §1, §2).

    Returns the host tables, filled in the same pass over the hosts as their
    checks (:class:`LoadedTopology` takes them over).  That pass runs once per
    host, so the usual case (nothing wrong) is kept lean: few attribute reads
    (each costs on a pydantic model), and a location is only built, and looked
    up, for a problem actually reported.  ``known``: the lists keys
    :func:`~ztsim.perf.dedupe.shared_host_parts` found, host by host, each used for
    the very host it names.
    """
    zones = {z.id: z for z in topo.zones}
    internal = {zid for zid, z in zones.items() if not z.external}
    creds = {c.id for c in topo.credentials}
    hosts: dict[str, Host] = {}
    data: dict[str, tuple[Host, DataItem]] = {}
    n_data = 0
    add = col.add

    # Hosts that list the very same lists (shared, see ztsim.perf.dedupe) pass the same
    # checks of them: these run once per combination of lists found clean.
    clean: set[tuple[int, int, int, int]] = set()
    keys: list[tuple[int, int, int, int]] = []
    if known is None or len(known) != len(topo.hosts):
        known = [None] * len(topo.hosts)
    for i, (h, pre) in enumerate(zip(topo.hosts, known, strict=True)):
        hosts[h.id] = h
        if h.zone not in internal:
            if h.zone in zones:
                add(
                    ("hosts", i, "zone"),
                    f"host {h.id!r} is in external zone {h.zone!r}; external zones hold no hosts",
                )
            else:
                add(("hosts", i, "zone"), f"unknown zone {h.zone!r}")
        shape = pre[1] if pre is not None and pre[0] is h else lists_key(h)
        keys.append(shape)
        if shape in clean and not h.data:
            continue
        offered = {s.service for s in h.services}
        if shape not in clean:
            found = col.count
            _check_host_lists(col, h, i, offered, creds)
            if col.count == found:
                clean.add(shape)
        if h.data:
            for j, d in enumerate(h.data):
                data[d.id] = (h, d)
                n_data += 1
                if d.service is not None and d.service not in offered:
                    _no_service(col, d.service, ("hosts", i, "data", j, "service"), "data item", h)

    # Ids are unique across every list (spec §1).  The tables above hold the host
    # and data ids already: no other walk over the hosts unless an id repeats
    # (then _report_duplicate_ids walks the lists again to place each repeat).
    declared = set(zones)
    declared.update([c.id for c in topo.credentials])
    declared.update(hosts)
    declared.update(data)
    declared.update([e.id for e in topo.external])
    declared.update([ep.id for ep in topo.entry_points])
    n_declared = len(topo.zones) + len(topo.credentials) + len(topo.hosts) + n_data
    if len(declared) != n_declared + len(topo.external) + len(topo.entry_points):
        _report_duplicate_ids(col, topo)

    dests = {e.id: e for e in topo.external}

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
            svc = dst_host.offer(t.service)
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
        if t.credential is not None and t.credential not in creds:
            _unknown_credential(col, t.credential, (*base, "credential"))

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
            if cred_id not in creds:
                _unknown_credential(col, cred_id, (*base, "credentials", j))

    if not topo.entry_points and not any(z.external for z in topo.zones):
        col.add((), "no entry point: declare `entry_points` or an external zone")
    return HostTables(hosts, data, keys)


def _topology_from(doc: Document) -> LoadedTopology:
    with paused_gc():
        built: list[HostTables] = []  # the check's tables, handed to LoadedTopology
        known: PlainKeys = []  # filled by shared_host_parts, if it runs

        def check(col: Collector, topo: Topology) -> None:
            built.append(_check_topology(col, topo, known))

        prepare = partial(shared_host_parts, found=known)
        topo, warnings = validate_document(doc, "topology", Topology, check, prepare)
        return LoadedTopology(topo, doc.path, doc, warnings=warnings, tables=built[0])


def topology_from_document(doc: Document) -> LoadedTopology:
    """Validate an already parsed topology document (``ztsim validate`` reads each once).

    Raises :class:`~ztsim.model.diagnostics.InputError` as :func:`load_topology` does.
    """
    return _topology_from(doc)


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
    pol, _warnings = validate_document(doc, "policy", Policy, _check_policy, shared_rule_parts)
    return LoadedPolicy(pol, doc.path, doc)


#: Steps from a policy's root to one of its rules: ``("segmentation", "rules", 3)``.
RULE_DEPTH = 3


def policy_from_document(doc: Document) -> LoadedPolicy:
    """Validate an already parsed policy document (e.g. one patched after an edit).

    Raises :class:`~ztsim.model.diagnostics.InputError` as :func:`load_policy` does.
    """
    return _policy_from(doc)


def load_policy(path: str | Path, *, prefetched: Prefetched | None = None) -> LoadedPolicy:
    """Load and check a policy file (see :func:`load_topology`).

    ``prefetched``: parses started by :func:`prefetch_policies`, used when there.
    """
    # A policy's rule lines are always shown: record positions while parsing, down
    # to the rules (section, "rules", index); an error inside one indexes the rest.
    doc = read_document(path, positions=True, depth=RULE_DEPTH, prefetched=prefetched)
    return _policy_from(doc)


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
    zones, named, labels = sel.zone, sel.host, sel.labels
    # Any, or a zone list with an external zone (it holds no host, so only a
    # selector with no host and no labels matches it).
    if not named and not labels and (zones is None or any(z in topo.external_zones for z in zones)):
        return True
    if named:
        # A selector names a few hosts: test each rather than index them all.
        hosts = topo.hosts
        for hid in named:
            h = hosts.get(hid)
            if (
                h is not None
                and (zones is None or h.zone in zones)
                and (not labels or labels.items() <= h.labels.items())
            ):
                return True
        return False
    if zones is None:
        return topo.host_groups.any_match(None, labels or {})
    return any(topo.host_groups.any_match(z, labels or {}) for z in zones)


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
    # Rules repeat their selectors (a 10,000-rule policy has a few thousand distinct
    # ones): whether one matches something is looked up once per distinct value.
    matches: dict[tuple[object, ...], bool] = {}

    def matches_any(sel: Selector) -> bool:
        key = (
            tuple(sel.zone) if sel.zone else None,
            tuple(sel.host) if sel.host else None,
            tuple(sel.labels.items()) if sel.labels else None,
        )
        found = matches.get(key)
        if found is None:
            found = matches[key] = _selector_matches_any(sel, topo)
        return found

    def judge(sel: Selector) -> list[tuple[Loc, str]]:
        """What to warn of a selector: (place within it, message) pairs."""
        found: list[tuple[Loc, str]] = []
        zone, named = sel.zone, sel.host
        for j, z in enumerate(zone or ()):
            # ("zone", j) of a single zone (a scalar) locates the scalar itself.
            if z not in zones:
                found.append((("zone", j), f"zone {z!r} is not in topology {topo.name!r}"))
        if named:
            for j, h in enumerate(named):
                if h not in hosts:
                    at: Loc = ("host", j) if len(named) > 1 else ("host",)
                    found.append((at, f"host {h!r} is not in topology {topo.name!r}"))
        if not found and not matches_any(sel):
            found.append(((), f"selector `{sel}` matches nothing in topology {topo.name!r}"))
        return found

    # Selectors validated once per parsed object (ztsim.perf.dedupe) are one object for
    # many rules: each is judged once, and its warnings repeated at each rule.
    judged = PerObject(judge)

    def check_selector(sel: Selector, loc: Loc) -> None:
        for at, message in judged(sel):
            col.add((*loc, *at), message, "warning")

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
    return col.diagnostics()


#: What a folder of policies holds: files with these suffixes (any case), read as
#: YAML (``.json``: JSON).  The spec says ``*.yaml``; ``*.yml`` and ``*.json`` are
#: read too, so that no policy file in the folder is silently left out.
POLICY_SUFFIXES = (".yaml", ".yml", ".json")


def expand_policy_paths(
    paths: Iterable[str | Path], *, strict: bool = True, what: str = "policy"
) -> list[Path]:
    """Expand folders into their policy files (:data:`POLICY_SUFFIXES`), sorted by name.

    A folder never shrinks silently: with ``strict`` (the default), an entry
    named like a policy that cannot be read as one (a dangling symbolic link, a
    FIFO, socket or device, a folder, an unreadable file), a folder that cannot be
    listed or holds no policy file, and an empty path (``-p ''``, which ``Path``
    would read as the current folder) are errors, all raised at once as an
    :class:`InputError` (``what`` names the files sought in its messages).
    Without ``strict``, every entry named like a policy is listed as it stands
    (for watching files change).
    """
    found, problems = _expand(paths, what)
    if strict and problems:
        raise InputError(problems)
    return found


def _expand(paths: Iterable[str | Path], what: str) -> tuple[list[Path], list[Diagnostic]]:
    """:func:`expand_policy_paths`: the files, and the problems found (strict mode's errors)."""
    out: list[Path] = []
    problems: list[Diagnostic] = []

    def problem(where: Path | str, message: str) -> None:
        problems.append(Diagnostic(str(where), 1, 1, "error", message))

    for p in paths:
        if isinstance(p, str) and not p:
            problem("''", "an empty path names no file (for the current folder, write `.`)")
            continue
        path = Path(p)
        if not path.is_dir():
            out.append(path)  # a file: read (and its problems reported) by its loader
            continue
        try:
            entries = sorted(q for q in path.iterdir() if q.suffix.lower() in POLICY_SUFFIXES)
        except OSError as exc:
            problem(path, f"cannot list folder: {exc.strerror or exc}")
            continue
        if not entries:
            problem(path, f"no {what} file found in this folder (no *.yaml, *.yml or *.json)")
        for q in entries:
            out.append(q)
            why = _not_a_policy_file(q)
            if why is not None:
                problem(q, why)
    return out, problems


def _not_a_policy_file(path: Path) -> str | None:
    """Why ``path``, named like a policy in a folder, cannot be read as one (None: it can)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return f"dangling symbolic link (to {os.readlink(path)}): no policy file here"
        return "vanished while the folder was read"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return "a folder named like a policy file: rename it, or move it out"
    if not stat.S_ISREG(mode):
        return "not a regular file (a FIFO, socket or device): no policy file here"
    if not os.access(path, os.R_OK):
        return "cannot read: permission denied"
    return None


def prefetch_policies(paths: Sequence[str | Path]) -> AbstractContextManager[Prefetched | None]:
    """Start parsing the policy files of ``paths`` in a child process (large ones only).

    For the block that loads the topology meanwhile; pass what it yields to
    :func:`load_policies`.  See :mod:`ztsim.perf.prefetch`.

    >>> with prefetch_policies(["policies/"]) as ahead:  # doctest: +SKIP
    ...     topology = load_topology("topologies/pajemploi.yaml")
    ...     policies = load_policies(["policies/"], prefetched=ahead)
    """
    found, problems = _expand(paths, "policy")
    if problems:  # never read a FIFO ahead: the loader reports what is wrong
        return nullcontext()
    return prefetch_documents([(p, True, RULE_DEPTH) for p in found], prefetch_entries)


def read_policies(
    paths: Sequence[str | Path], *, prefetched: Prefetched | None = None
) -> list[LoadedPolicy]:
    """:func:`load_policies`, each policy validated when first used (:class:`PendingPolicy`).

    The files are read and parsed now: a file that cannot be read or parsed
    makes this load every policy as :func:`load_policies` does, which reports
    all the errors.  Whoever holds pending policies calls :func:`check_policies`
    when one of them raises, so that every error is reported, in file order.
    """
    docs: list[Document] = []
    found, problems = _expand(paths, "policy")
    if problems:
        return load_policies(paths, prefetched=prefetched)
    for p in found:
        try:
            docs.append(read_document(p, positions=True, depth=RULE_DEPTH, prefetched=prefetched))
        except InputError:
            return load_policies(paths, prefetched=prefetched)
    return [PendingPolicy(doc) for doc in docs]


def check_policies(policies: Iterable[LoadedPolicy]) -> None:
    """Validate every pending policy of ``policies``; raise every error found, in order.

    The errors are those :func:`load_policies` reports for the same files.
    """
    diagnostics: list[Diagnostic] = []
    for p in policies:
        try:
            _ = p.model
        except InputError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise InputError(diagnostics)


def load_policies(
    paths: Sequence[str | Path], *, prefetched: Prefetched | None = None
) -> list[LoadedPolicy]:
    """Load several policy files (folders expanded), collecting every error."""
    found, diagnostics = _expand(paths, "policy")
    bad = {d.path for d in diagnostics}
    loaded: list[LoadedPolicy] = []
    for p in found:
        if str(p) in bad:
            continue  # reported already (reading a FIFO would block)
        try:
            loaded.append(load_policy(p, prefetched=prefetched))
        except InputError as exc:
            diagnostics.extend(exc.diagnostics)
    if diagnostics:
        raise InputError(diagnostics)
    return loaded
