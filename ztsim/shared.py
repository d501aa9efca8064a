"""Validating the parts a large document repeats once each, by parsed object.

The YAML reader builds equal leaves once (hash-consing, see
:func:`ztsim.yamlio._fast_build`): on a large estate thousands of hosts list the
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
way :func:`ztsim.loader.validate_document` then validates the data as read, so
errors are reported, all of them and each at its place, exactly as without this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, TypeAdapter

from ztsim.model import (
    CredentialStore,
    HostLabels,
    HostService,
    Labels,
    Login,
    Selector,
    SharedList,
    Vulnerability,
)

__all__ = ["MIN_ITEMS", "PerObject", "shared_host_parts", "shared_rule_parts"]

K = TypeVar("K")
V = TypeVar("V")


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


#: What a host's labels are validated as (``Host.labels``).
_LABELS: TypeAdapter[dict[str, str]] = TypeAdapter(HostLabels)


def _shares(values: list[Any]) -> bool:
    """Whether ``values`` hold each object twice on average or more (a pass of ids:
    milliseconds, against a validation that costs a hundred times as much)."""
    return len({id(x) for x in values}) * 2 <= len(values)


def shared_host_parts(data: object) -> object | None:
    """Topology data whose hosts' labels (as :class:`~ztsim.model.Labels`),
    services, logins, stored credentials and vulnerabilities are validated, each
    once per parsed object (and each list of them once per parsed list, as a
    :class:`~ztsim.model.SharedList`)."""
    if type(data) is not dict:
        return None
    hosts = data.get("hosts")
    if type(hosts) is not list or len(hosts) < MIN_ITEMS:
        return None
    if not _shares([h.get("services") for h in hosts if type(h) is dict]):
        return None
    tables: list[
        tuple[
            str,
            Callable[[object], BaseModel],
            dict[int, SharedList[BaseModel]],
            dict[int, BaseModel],
        ]
    ]
    tables = [(name, model.model_validate, {}, {}) for name, model in _HOST_PARTS]
    labels_of: dict[int, Labels] = {}
    out: list[object] = []
    for h in hosts:  # inlined loops: this runs for every host
        if type(h) is not dict:
            return None
        new: dict[str, object] | None = None
        parsed_labels = h.get("labels")
        if type(parsed_labels) is dict:
            labels = labels_of.get(id(parsed_labels))
            if labels is None:
                labels = labels_of[id(parsed_labels)] = Labels(
                    _LABELS.validate_python(parsed_labels)
                )
            new = dict(h)
            new["labels"] = labels
        for name, validate, lists, items in tables:
            parsed = h.get(name)
            if type(parsed) is not list:
                continue  # absent, or an error pydantic reports
            got = lists.get(id(parsed))
            if got is None:
                got = SharedList()
                for x in parsed:
                    v = items.get(id(x))
                    if v is None:
                        v = items[id(x)] = validate(x)
                    got.append(v)
                lists[id(parsed)] = got
            if new is None:
                new = dict(h)
            new[name] = got
        out.append(h if new is None else new)
    return {**data, "hosts": out}


def shared_rule_parts(data: object) -> object | None:
    """Policy data whose rules' ``from`` and ``to`` selectors are models, each
    validated once per parsed object (an egress rule's ``to`` is a list of
    patterns, left as it is)."""
    if type(data) is not dict:
        return None
    selector = PerObject(Selector.model_validate)

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
