"""Typed reading of manifest fields, each problem kept with its place.

A :class:`Fields` reads the objects of one document: every accessor checks the
type of what it returns and, when it is wrong or missing where required, adds an
error at that node (FILE:LINE:COL, located in one pass by
:class:`~ztsim.inputs.collector.Collector`) and returns ``None``, so one pass
reports every problem of a file rather than the first.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal, TypeVar, cast

from ztsim.inputs.collector import Collector, Loc
from ztsim.inputs.k8s.objects import Labels, LabelSelector, Protocol, Requirement, Source
from ztsim.inputs.positions import Document

__all__ = ["DNS_SUBDOMAIN", "PROTOCOLS", "Fields", "label_key_problem", "label_value_problem"]

PROTOCOLS: tuple[Protocol, ...] = ("TCP", "UDP", "SCTP")
_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
_T = TypeVar("_T")

#: A label's name, and a value when not empty (Kubernetes' IsQualifiedName, IsValidLabelValue).
_LABEL_NAME = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?")
#: A DNS-1123 subdomain: a label key's optional prefix, an object's name.
DNS_SUBDOMAIN = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*")
_NAME_RULE = (
    "at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
)

#: What each accessor expects, as messages name it.
_TYPE_NAMES = {dict: "a mapping", list: "a list", str: "a string", int: "an integer"}


class Fields:
    """Typed access to the fields of one document's objects."""

    def __init__(self, doc: Document, collector: Collector, offset: int = 0) -> None:
        self.doc = doc
        self.col = collector
        #: Lines of the file above the document (a part of a stream, parsed alone).
        self.offset = offset

    # -- problems and places ---------------------------------------------------

    def error(self, loc: Loc, message: str, *, key: bool = False) -> None:
        """An error at ``loc``."""
        self.col.add(loc, message, key=key)

    def warn(self, loc: Loc, message: str, *, key: bool = False) -> None:
        """A warning (a note) at ``loc``."""
        self.col.add(loc, message, "warning", key=key)

    def source(self, loc: Loc) -> Source:
        """Where the node at ``loc`` starts (its nearest indexed ancestor's place)."""
        if self.doc.recorded_positions() is None:
            # Read without positions (stream.SHALLOW_KINDS): index the document
            # only as far as this node, usually its first (the object itself).
            (found,) = self.doc.locate_many([(loc, False)])
            return Source(self.doc.path, found.line + self.offset, found.column)
        path = loc
        while True:
            mark = self.doc.node_mark(path)
            if mark is not None or not path:
                break
            path = path[:-1]
        line, column = (mark.line, mark.column) if mark is not None else (1, 1)
        return Source(self.doc.path, line + self.offset, column)

    # -- typed accessors ---------------------------------------------------------

    def get(
        self, obj: dict[str, Any], key: str, loc: Loc, kind: type[_T], *, required: bool = False
    ) -> _T | None:
        """``obj[key]`` if it is a ``kind`` (``None`` when absent or null)."""
        value = obj.get(key)
        if value is None:
            if required:
                self.error(loc, f"missing required field {key!r}")
            return None
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            self.error((*loc, key), f"{key!r} must be an integer, not {_shown(value)}")
            return None
        if not isinstance(value, kind):
            self.error((*loc, key), f"{key!r} must be {_TYPE_NAMES[kind]}, not {_shown(value)}")
            return None
        return value

    def mapping(self, obj: dict[str, Any], key: str, loc: Loc, *, required: bool = False) -> Any:
        """``obj[key]`` as a mapping (``{}`` when absent and not required)."""
        value = self.get(obj, key, loc, dict, required=required)
        return {} if value is None else value

    def items(self, obj: dict[str, Any], key: str, loc: Loc) -> list[tuple[Loc, dict[str, Any]]]:
        """The mappings of list ``obj[key]`` with their places (others are errors)."""
        out = []
        for i, item in enumerate(self.get(obj, key, loc, list) or []):
            if isinstance(item, dict):
                out.append(((*loc, key, i), item))
            else:
                self.error((*loc, key, i), f"an entry of {key!r} must be a mapping")
        return out

    def string(self, obj: dict[str, Any], key: str, loc: Loc, *, required: bool = False) -> Any:
        """``obj[key]`` as a non-empty string, or ``None``."""
        value = self.get(obj, key, loc, str, required=required)
        if value == "":
            if required:
                self.error((*loc, key), f"{key!r} must not be empty")
            return None
        return value

    def strings(self, obj: dict[str, Any], key: str, loc: Loc) -> tuple[str, ...]:
        """List ``obj[key]`` of strings."""
        out = []
        for i, item in enumerate(self.get(obj, key, loc, list) or []):
            if isinstance(item, str):
                out.append(item)
            else:
                self.error((*loc, key, i), f"an entry of {key!r} must be a string")
        return tuple(out)

    def port(
        self, obj: dict[str, Any], key: str, loc: Loc, *, required: bool = False, named: bool = True
    ) -> int | str | None:
        """``obj[key]`` as a port number (1-65535) or, with ``named``, a port name."""
        value = obj.get(key)
        if value is None:
            if required:
                self.error(loc, f"missing required field {key!r}")
            return None
        if isinstance(value, str) and named:
            if value.isdigit():
                return self._in_range(int(value), key, loc)
            if value:
                return value
        if isinstance(value, int) and not isinstance(value, bool):
            return self._in_range(value, key, loc)
        what = "a port number or name" if named else "a port number"
        self.error((*loc, key), f"{key!r} must be {what}, not {_shown(value)}")
        return None

    def _in_range(self, value: int, key: str, loc: Loc) -> int | None:
        if 1 <= value <= 65535:
            return value
        self.error((*loc, key), f"{key!r} must be between 1 and 65535, not {value}")
        return None

    def choice(
        self, obj: dict[str, Any], key: str, loc: Loc, choices: tuple[_T, ...], default: _T | None
    ) -> _T | None:
        """``obj[key]``, one of ``choices`` (``default`` when absent)."""
        value = obj.get(key)
        if value is None:
            if default is None:
                self.error(loc, f"missing required field {key!r}")
            return default
        if value not in choices:
            listed = ", ".join(map(str, choices))
            self.error((*loc, key), f"{key!r} must be one of {listed}, not {_shown(value)}")
            return None
        return cast(_T, value)

    def protocol(self, obj: dict[str, Any], loc: Loc) -> Protocol | None:
        """``obj["protocol"]`` (TCP when absent)."""
        return self.choice(obj, "protocol", loc, PROTOCOLS, "TCP")

    def labels(self, obj: dict[str, Any], key: str, loc: Loc, *, syntax: bool = True) -> Labels:
        """Map ``obj[key]`` of strings to strings, as sorted pairs; with ``syntax``,
        each key and value a Kubernetes label's (the API server refuses others: an
        error at the key or the value, and the pair is left out)."""
        out = []
        for k, v in (self.get(obj, key, loc, dict) or {}).items():
            if not isinstance(k, str) or not isinstance(v, str):
                self.error((*loc, key, k), f"{key!r} must map strings to strings: {k!r}: {v!r}")
                continue
            if syntax and not self._label_ok(k, v, (*loc, key, k)):
                continue
            out.append((k, v))
        return tuple(sorted(out))

    def _label_ok(self, k: str, v: str, loc: Loc) -> bool:
        """Whether label ``k: v`` is Kubernetes syntax (each problem an error at ``loc``)."""
        problem = label_key_problem(k)
        if problem is not None:
            self.error(loc, problem, key=True)
        wrong = label_value_problem(v)
        if wrong is not None:
            self.error(loc, wrong)
        return problem is None and wrong is None

    def selector(
        self,
        obj: dict[str, Any],
        key: str,
        loc: Loc,
        *,
        required: bool = False,
        syntax: bool = True,
    ) -> LabelSelector | None:
        """Label selector ``obj[key]`` (``None`` when absent); with ``syntax``, its
        keys and values are checked as Kubernetes' (not Cilium's, whose keys may
        carry a source, ``k8s:app``)."""
        sel = self.get(obj, key, loc, dict, required=required)
        if sel is None:
            return None
        here = (*loc, key)
        requirements = []
        for rloc, expr in self.items(sel, "matchExpressions", here):
            req = self._requirement(expr, rloc, syntax)
            if req is not None:
                requirements.append(req)
        labels = self.labels(sel, "matchLabels", here, syntax=syntax)
        return LabelSelector(labels, tuple(requirements))

    def _requirement(self, expr: dict[str, Any], loc: Loc, syntax: bool) -> Requirement | None:
        key = self.string(expr, "key", loc, required=True)
        op = self.choice(expr, "operator", loc, _OPERATORS, None)
        values = self.strings(expr, "values", loc)
        if syntax:
            wrong = label_key_problem(key) if key is not None else None
            if wrong is not None:
                self.error((*loc, "key"), wrong)
                key = None
            for i, value in enumerate(values):
                wrong = label_value_problem(value)
                if wrong is not None:
                    self.error((*loc, "values", i), wrong)
                    key = None
        if op in ("In", "NotIn") and not values:
            self.error(loc, f"operator {op} needs a non-empty 'values'")
            return None
        if op in ("Exists", "DoesNotExist") and values:
            self.error((*loc, "values"), f"operator {op} takes no 'values'")
            return None
        if key is None or op is None:
            return None
        operator = cast(Literal["In", "NotIn", "Exists", "DoesNotExist"], op)
        return Requirement(key, operator, values)


@lru_cache(maxsize=4096)
def label_key_problem(key: str) -> str | None:
    """Why ``key`` is no Kubernetes label key (``[PREFIX/]NAME``: NAME
    :data:`_NAME_RULE`, PREFIX a DNS subdomain of at most 253 characters), or ``None``.

    >>> label_key_problem("app.kubernetes.io/name") is None
    True
    >>> print(label_key_problem("app name"))  # doctest: +ELLIPSIS
    label key 'app name' is not Kubernetes syntax: its name must be at most 63 letters, ...
    """
    prefix, slash, name = key.rpartition("/")
    why = None
    if slash and not (len(prefix) <= 253 and DNS_SUBDOMAIN.fullmatch(prefix)):
        why = (
            "its prefix (before '/') must be a DNS subdomain: at most 253 lower-case "
            "letters, digits, '-' and '.'"
        )
    elif len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        why = f"its name must be {_NAME_RULE}"
    return f"label key {_shown(key)} is not Kubernetes syntax: {why}" if why else None


@lru_cache(maxsize=4096)
def label_value_problem(value: str) -> str | None:
    """Why ``value`` is no Kubernetes label value (empty, or :data:`_NAME_RULE`), or ``None``.

    >>> label_value_problem("") is None and label_value_problem("v1.2_b") is None
    True
    """
    if value == "" or (len(value) <= 63 and _LABEL_NAME.fullmatch(value)):
        return None
    return f"label value {_shown(value)} is not Kubernetes syntax: empty, or {_NAME_RULE}"


def _shown(value: Any) -> str:
    """A value as a message quotes it (short)."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
