"""Validating the parts a large document repeats once each, by parsed object.

The YAML reader builds equal leaves once (hash-consing, see
:func:`ztsim.perf.fastbuild.fast_build`): on a large estate thousands of hosts list the
very same service, login and stored-credential objects (and the same lists of
them), and thousands of rules the very same selectors.  The functions here
validate each such object once and give every host or rule that lists it the
same immutable model.  The result is the one pydantic builds from the data as
read, since a part's validation depends on the part alone; what changes is that
pydantic, handed models, skips them.

Objects are told apart by identity, never by equality (``1``, ``1.0`` and
``true`` are equal in Python, not in the schema), and per model: one object
listed both as a service and as a login is validated as each.

Each function returns the data to validate instead, or ``None`` when the data
shares too little for this to pay (JSON input, small files) or is not shaped as
expected; it raises pydantic's ``ValidationError`` when a part is invalid.  Either
way :func:`ztsim.inputs.validate.validate_document` then validates the data as read, so
errors are reported, all of them and each at its place, exactly as without this.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter

from ztsim.model.fields import HostLabels, Labels, SharedList, key_of_lists
from ztsim.model.schema import CredentialStore, Host, HostService, Login, Vulnerability
from ztsim.model.selectors import Selector

__all__ = ["MIN_ITEMS", "PerObject", "PlainKeys", "shared_host_parts", "shared_rule_parts"]

K = TypeVar("K")
V = TypeVar("V")
M = TypeVar("M", bound=BaseModel)


class PerObject(Generic[K, V]):
    """``fn(x)``, computed once per object ``x`` (by identity).

    For the models this module shares: thousands of rules hold a few hundred
    selector objects, and what is derived from a selector is derived once.  Each
    entry keeps its object, so no id is reused while the memo lives.
    """

    def __init__(self, fn: Callable[[K], V]) -> None:
        self._fn = fn
        self._memo: dict[int, tuple[K, V]] = {}

    def __call__(self, x: K) -> V:
        hit = self._memo.get(id(x))
        if hit is None:
            hit = self._memo[id(x)] = (x, self._fn(x))
        return hit[1]


#: Documents with fewer hosts (rules) than this are validated as they are.
MIN_ITEMS = 256

#: Host fields whose items are validated once per parsed object.
_HOST_PARTS: tuple[tuple[str, type[BaseModel]], ...] = (
    ("services", HostService),
    ("logins", Login),
    ("credentials", CredentialStore),
    ("vulnerabilities", Vulnerability),
)


#: The keys of a host that :func:`shared_host_parts` shares.
_PARTS = frozenset(("labels", *(name for name, _ in _HOST_PARTS)))

#: What a host's labels are validated as (``Host.labels``).
_LABELS: TypeAdapter[dict[str, str]] = TypeAdapter(HostLabels)
#: Its validator's own entry point (see :func:`_validator`).
_validate_labels: Callable[[object], dict[str, str]] = _LABELS.validator.validate_python


def _validator(model: type[M]) -> Callable[[object], M]:
    """``model.model_validate`` without its Python wrapper: the model's schema validator
    itself, which ``model_validate`` calls with the same (default) options.  The
    functions here call it once per distinct part (most parts of a heterogeneous
    estate), where the wrapper's Python frame is a large share of a small model's
    validation."""
    validate: Callable[[object], M] = model.__pydantic_validator__.validate_python
    return validate


def _shares(values: list[Any]) -> bool:
    """Whether ``values`` hold each object twice on average or more (a pass of ids,
    against a validation that costs far more)."""
    return len({id(x) for x in values}) * 2 <= len(values)


#: The keys a host may have to be built here rather than by pydantic (see
#: :func:`_plain_host`): no data items, the lists shared.
_PLAIN_KEYS = frozenset(
    ("id", "zone", "labels", "services", "vulnerabilities", "credentials", "logins", "description")
)

#: Ids :data:`~ztsim.model.fields.ID_PATTERN` surely accepts as they are (no newline).
_PLAIN_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:@/+-]*").fullmatch

_new_host = Host.__new__
_set = object.__setattr__


def _plain_host(
    host: dict[str, Any], labels: Labels | None, lists: list[Any], given: set[str]
) -> Host | None:
    """The :class:`~ztsim.model.schema.Host` pydantic would build from ``host``, built here;
    ``None`` unless ``host`` is plainly valid as far as its own fields go.

    ``labels`` and ``lists`` are its labels and lists (in :data:`_HOST_PARTS`
    order), validated already (``None`` where absent); ``given`` is the set of
    its keys (shared by hosts with the same keys: models are frozen, so pydantic
    never adds to it).  Only what pydantic surely accepts is built: ids of
    :data:`_PLAIN_ID` form, zones of 1 to 200 characters, a string description.
    A host with data items, or anything else, is left to pydantic (five wrap
    validators per host), and sharing ``given`` spares a fields set per host.
    Hand-written, not ``Host.model_construct``: measured faster on L's hosts
    (benchmarks/README.md).
    """
    hid, zone = host.get("id"), host.get("zone")
    if (
        type(hid) is not str
        or type(zone) is not str
        or not 0 < len(zone) <= 200
        or len(hid) > 200
        or _PLAIN_ID(hid) is None
    ):
        return None
    description = host.get("description")
    if description is not None and type(description) is not str:
        return None
    services, logins, stores, vulns = lists  # _HOST_PARTS order
    h = _new_host(Host)
    # Field order, defaults and private slots as pydantic leaves them.
    _set(
        h,
        "__dict__",
        {
            "id": hid,
            "zone": zone,
            "labels": {} if labels is None else labels,
            "services": [] if services is None else services,
            "vulnerabilities": [] if vulns is None else vulns,
            "credentials": [] if stores is None else stores,
            "logins": [] if logins is None else logins,
            "data": [],
            "description": description,
        },
    )
    _set(h, "__pydantic_fields_set__", given)
    _set(h, "__pydantic_extra__", None)
    _set(h, "__pydantic_private__", None)
    return h


#: What :func:`shared_host_parts` tells of each host it built (:func:`_plain_host`):
#: the model and its :func:`~ztsim.model.schema.lists_key`; ``None`` for a host left to
#: pydantic.
PlainKeys = list[tuple[Host, tuple[int, int, int, int]] | None]


def shared_host_parts(data: object, found: PlainKeys | None = None) -> object | None:
    """Topology data whose hosts' labels (as :class:`~ztsim.model.fields.Labels`),
    services, logins, stored credentials and vulnerabilities are validated, each
    once per parsed object (and each list of them once per parsed list, as a
    :class:`~ztsim.model.fields.SharedList`); hosts plainly valid besides are models
    already (:func:`_plain_host`).

    ``found``, if given, is filled host by host (see :data:`PlainKeys`): the lists
    are at hand here, where :func:`~ztsim.model.schema.lists_key` read back from the
    models would cost a pass of its own.  A caller checks each entry's model is the
    host it validated before it trusts the key."""
    hosts = _estate_hosts(data)
    if hosts is None:
        return None
    assert type(data) is dict  # as _estate_hosts found it
    tables: list[
        tuple[
            str,
            Callable[[object], BaseModel],
            dict[int, SharedList[BaseModel]],
            dict[int, BaseModel],
        ]
    ]
    tables = [(name, _validator(model), {}, {}) for name, model in _HOST_PARTS]
    labels_of: dict[int, Labels] = {}
    # Per tuple of keys: the set of them if a host with those keys may be plain.
    plain_keys: dict[tuple[str, ...], set[str] | None] = {}
    out: list[object] = []
    for h in hosts:  # inlined loops: this runs for every host
        if type(h) is not dict:
            return None
        keys = tuple(h)
        if keys in plain_keys:
            given = plain_keys[keys]
        else:
            given = plain_keys[keys] = set(keys) if _PLAIN_KEYS.issuperset(keys) else None
        labels: Labels | None = None
        parsed_labels = h.get("labels")
        if type(parsed_labels) is dict:
            labels = labels_of.get(id(parsed_labels))
            if labels is None:
                labels = labels_of[id(parsed_labels)] = Labels(_validate_labels(parsed_labels))
        elif parsed_labels is not None or "labels" in h:
            given = None  # an error pydantic reports
        lists: list[Any] = []
        for name, validate, shared, items in tables:
            parsed = h.get(name)
            if type(parsed) is not list:
                if parsed is not None or name in h:
                    given = None  # an error pydantic reports
                lists.append(None)
                continue
            got = shared.get(id(parsed))
            if got is None:
                got = shared[id(parsed)] = _shared_list(parsed, validate, items)
            lists.append(got)
        if given is not None:
            plain = _plain_host(h, labels, lists, given)
            if plain is not None:
                out.append(plain)
                if found is not None:
                    services, logins, stores, vulns = lists  # _HOST_PARTS order
                    found.append((plain, key_of_lists(services, vulns, stores, logins)))
                continue
        if found is not None:
            found.append(None)
        out.append(_with_parts(h, labels, lists))
    return {**data, "hosts": out}


def _estate_hosts(data: object) -> list[Any] | None:
    """The hosts of topology ``data`` if they are many and share their parts, else ``None``."""
    if type(data) is not dict:
        return None
    hosts = data.get("hosts")
    if type(hosts) is not list or len(hosts) < MIN_ITEMS:
        return None
    # Hosts with no part to share share nothing (a list of a million ``{}`` would be
    # walked here for nothing before pydantic reports them); on an estate, the first
    # host answers.
    if not any(type(h) is dict and not _PARTS.isdisjoint(h) for h in hosts):
        return None
    if not _shares([h.get("services") for h in hosts if type(h) is dict]):
        return None
    return hosts


def _shared_list(
    parsed: list[Any], validate: Callable[[object], BaseModel], items: dict[int, BaseModel]
) -> SharedList[BaseModel]:
    """The models of a parsed list's items, each validated once per object (``items``
    holds those validated already, by id)."""
    got: SharedList[BaseModel] = SharedList()
    for x in parsed:
        v = items.get(id(x))
        if v is None:
            v = items[id(x)] = validate(x)
        got.append(v)
    return got


def _with_parts(host: dict[str, Any], labels: Labels | None, lists: list[Any]) -> dict[str, Any]:
    """A host left to pydantic, with the parts validated already (in :data:`_HOST_PARTS`
    order, ``None`` where absent) as models: pydantic takes them as they are."""
    new = dict(host)
    if labels is not None:
        new["labels"] = labels
    for (name, _), got in zip(_HOST_PARTS, lists, strict=True):
        if got is not None:
            new[name] = got
    return new


def shared_rule_parts(data: object) -> object | None:
    """Policy data whose rules' ``from`` and ``to`` selectors are models, each
    validated once per parsed object (an egress rule's ``to`` is a list of
    patterns, left as it is)."""
    if type(data) is not dict:
        return None
    selector = PerObject(_validator(Selector))

    out = dict(data)
    changed = False
    for section, fields in (("segmentation", ("from", "to")), ("egress", ("from",))):
        sec = data.get(section)
        if type(sec) is not dict:
            continue
        rules = sec.get("rules")
        if type(rules) is not list or len(rules) < MIN_ITEMS:
            continue
        if not _shares([r.get(f) for r in rules if type(r) is dict for f in fields]):
            continue
        new_rules: list[object] = []
        for r in rules:
            if type(r) is not dict:
                return None
            new = dict(r)
            for f in fields:
                if f in r:
                    new[f] = selector(r[f])
            new_rules.append(new)
        out[section] = {**sec, "rules": new_rules}
        changed = True
    return out if changed else None
