"""Validation: pydantic's errors turned into diagnostics, each at FILE:LINE:COL.

:func:`validate_document` checks a document's header (``ztsim: 1``, ``kind``),
validates it against its model and runs the caller's own checks
(:mod:`ztsim.inputs.checks`), gathering every problem in a
:class:`~ztsim.inputs.collector.Collector`.  Long lists and mappings are validated
a chunk at a time (:func:`_validate_in_parts`), so that a flood of errors is
counted and let go rather than held by pydantic until it ends.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any, TypeVar, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from ztsim.inputs.collector import Collector, Loc
from ztsim.inputs.hints import did_you_mean, keys_at, port_hint
from ztsim.inputs.positions import Document
from ztsim.inputs.salvage import add_salvaged_errors
from ztsim.model.diagnostics import Diagnostic, InputError
from ztsim.model.fields import ID_PATTERN, invalid_id_message
from ztsim.perf.heap import paused_gc
from ztsim.perf.profiling import phase

__all__ = ["BIG_ITEM_BYTES", "KINDS", "VALIDATION_CHUNK", "validate_document"]


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
        _report(col, _place(tuple(err["loc"]), prefix, indexes), err["type"], _message(err))


def _place(loc: Loc, prefix: Loc, indexes: Sequence[int]) -> Loc:
    """Where an error at ``loc`` within a part stands in the document (see
    :func:`_pydantic_diagnostics`)."""
    if not prefix:
        return loc
    first = loc[0] if loc else None
    if indexes and type(first) is int:
        return (*prefix, indexes[first], *loc[1:])
    return (*prefix, *loc)


def _message(err: ErrorDetails) -> str:
    """pydantic's message for ``err``, reworded where it would puzzle a reader."""
    kind = err["type"]
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
        quoted = _NOT_A_SERVICE.match(msg)
        return msg + port_hint(ast.literal_eval(quoted.group(1))) if quoted else msg
    if kind == "string_pattern_mismatch" and (err.get("ctx") or {}).get("pattern") == ID_PATTERN:
        return invalid_id_message(err["input"])
    value = err.get("input")
    if kind == "model_type" and type(value) in (str, int) and _names_a_service(err["loc"]):
        # `services: [443/tcp]` on a host, which lists mappings (`public`, `encrypted`...).
        written = f"{value}/tcp" if port_hint(value) else value
        return f"{msg}: a host lists each service as a mapping, write {{service: {written}}}"
    if kind == "string_type" and isinstance(value, bool | int | float):
        if type(value) is int and port_hint(value) and _names_a_service(tuple(err["loc"])):
            # The very words a quoted "5432" gets (services.py), and the same hint.
            forms = _RULE_FORMS if err["loc"][0] in _RANGED else _HOST_FORMS
            return f"service {value} is not {forms}{port_hint(value)}"
        return msg + _yaml_scalar_hint(value)
    return msg


#: A service's value error (ztsim.model.services), the text quoted as Python writes it.
_NOT_A_SERVICE = re.compile(r"service ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") is not PORT/PROTO")
#: What a service may be written as: on a host (or a flow), and in a rule's services.
_HOST_FORMS = "PORT/PROTO (e.g. 443/tcp, 53/udp)"
_RULE_FORMS = "PORT/PROTO, LOW-HIGH/PROTO or any (e.g. 8000-8999/tcp)"
#: Sections whose services are port ranges (policy rules, assertions).
_RANGED = frozenset({"segmentation", "egress", "assertions"})


def _names_a_service(loc: Loc) -> bool:
    """Whether ``loc`` is a ``service`` or an item of ``services`` (perhaps under a
    union tag)."""
    return any(step in ("service", "services") for step in loc[-3:])


def _dotted(loc: Loc) -> str:
    """``hosts.3.zone``: a place as the messages name it."""
    return ".".join(str(p) for p in loc if isinstance(p, str | int))


def _report(col: Collector, loc: Loc, kind: str, msg: str) -> None:
    """Add one error of pydantic's ``kind`` at ``loc``, worded for a YAML reader."""
    if col.listing():
        col.schema_errors.append((loc, kind))
    if kind == "extra_forbidden":
        col.add(loc, f"unknown key {loc[-1]!r}{_key_hint(col, loc)}", key=True)
    elif kind == "invalid_key" or loc[-1:] == ("[key]",):
        # A key that is not a string (``~``, ``12``, a date): point at the key.
        at = loc[:-1] if loc[-1:] == ("[key]",) else loc
        where = _dotted(at[:-1])
        text = f"key {at[-1]} is not a string (write it in quotes): {msg}" if at else msg
        col.add(at, f"{where}: {text}" if where else text, key=True)
    elif kind == "missing":
        col.add(loc[:-1], f"missing required key {loc[-1]!r}")
    else:
        where = _dotted(loc)
        col.add(loc, f"{where}: {msg}" if where else msg)


def _key_hint(col: Collector, loc: Loc) -> str:
    """ "Did you mean" for unknown key ``loc[-1]``: the closest key the schema accepts
    there that the mapping lacks (only for an error that is listed)."""
    if col.model is None or not col.listing():
        return ""
    mapping: Any = col.doc.data
    for step in loc[:-1]:
        try:
            mapping = mapping[step]
        except (KeyError, IndexError, TypeError):
            continue  # a union tag: not a step in the data
    present = mapping.keys() if isinstance(mapping, dict) else ()
    return did_you_mean(loc[-1], [k for k in keys_at(col.model, loc[:-1]) if k not in present])


def _yaml_scalar_hint(value: bool | int | float) -> str:
    """Why YAML gave a number or a boolean where text was expected, and the fix.

    YAML 1.1 reads ``no``, ``on`` or ``yes`` as booleans and ``017`` or ``1:30``
    as numbers: a host id ``no`` is a typo-class surprise, not a type confusion.
    """
    what = "a boolean" if isinstance(value, bool) else "a number"
    return f" (YAML read this value as {what}, {value!r}: quote it to make it text)"


KINDS = ("topology", "policy", "assertions", "overlay", "compliance", "attack")


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
T = TypeVar("T")


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
        col.model = model
        _header(doc, col, kind)
        if col.errors:
            raise InputError(col.diagnostics())
        validated = _validate(col, model, doc.data, prepare, len(doc.text))
        if validated is None:
            # The checks' errors too, on what the schema did not refuse: all in one pass.
            if check is not None:
                add_salvaged_errors(col, model, check, prepare)
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
    todo = _parts_to_validate(model, data, text_size) if type(data) is dict else []
    if not todo:
        return _validated(model.model_validate, data, col)
    assert type(data) is dict
    whole: dict[str, object] = data
    failed = False
    for kind, path, annotation, pending in todo:
        if kind == "keys":
            whole, part_failed = _drop_unknown_keys(whole, path, annotation, col)
        else:
            whole, part_failed = _validate_part(whole, kind, path, annotation, pending, col)
        failed = failed or part_failed
    validated = _validated(model.model_validate, whole, col)
    return None if failed else validated


#: A part :func:`_validate_in_parts` validates on its own: a :data:`Part`, and the
#: indexes of a list's items still to validate (all but those that are models).
_Todo = tuple[str, Loc, object, list[int]]


def _parts_to_validate(
    model: type[BaseModel], data: dict[str, object], text_size: int
) -> list[_Todo]:
    """The parts of ``data`` to validate on their own (see :func:`_validate_in_parts`)."""
    # The items still to validate of each long list: those not models already (a large
    # estate's plain hosts are, see ztsim.perf.dedupe; pydantic takes them as they are).
    todo: list[_Todo] = []
    for kind, path, annotation in _long_lists(model, data, text_size):
        pending: list[int] = []
        if kind == "list":
            (item_type,) = get_args(annotation)
            items = _at_path(data, path)
            pending = [i for i, x in enumerate(items) if type(x) is not item_type]
            if len(pending) <= VALIDATION_CHUNK:
                continue
        todo.append((kind, path, annotation, pending))
    return todo


def _validated(
    validate: Callable[[Any], T],
    value: object,
    col: Collector | None,
    prefix: Loc = (),
    indexes: Sequence[int] = (),
) -> T | None:
    """``validate(value)``, or ``None`` with its errors handed to ``col`` (raised
    when ``col`` is ``None``); ``prefix`` and ``indexes`` as for
    :func:`_pydantic_diagnostics`."""
    try:
        return validate(value)
    except ValidationError as exc:
        if col is None:
            raise
        _pydantic_diagnostics(col, exc, prefix, indexes)
        return None


def _drop_unknown_keys(
    whole: dict[str, object], path: Loc, model: object, col: Collector | None
) -> tuple[dict[str, object], bool]:
    """``whole`` without the unknown keys of the model's mapping at ``path``, each
    reported (as pydantic would, "unknown key"); and whether there were any.

    For thousands of keys where a model has a few.
    """
    mapping = _at_path(whole, path)
    fields = _MODEL_KEYS.get(model)
    if fields is None:
        assert isinstance(model, type) and issubclass(model, BaseModel)
        fields = _MODEL_KEYS[model] = frozenset(
            k for n, i in model.model_fields.items() for k in (n, i.alias) if k
        )
    unknown = {k for k in mapping if type(k) is str and k not in fields}
    if not unknown:
        return whole, False
    if col is None:
        raise _PartInvalid
    for k in mapping:
        if k in unknown:
            hint = ""
            if col.listing():
                col.schema_errors.append(((*path, k), "extra_forbidden"))
                hint = did_you_mean(k, sorted(fields - set(mapping)))
            col.add((*path, k), f"unknown key {k!r}{hint}", key=True)
    kept = {k: v for k, v in mapping.items() if k not in unknown}
    return (_replace_at(whole, path, kept) if path else kept), True


def _chunks(kind: str, source: Any, pending: list[int]) -> Iterator[tuple[Any, Sequence[int]]]:
    """The chunks of a long mapping or list (its items ``pending``) to validate, each
    with the indexes of its items in the list (none for a mapping)."""
    if kind == "dict":
        pairs = list(source.items())
        for start in range(0, len(pairs), VALIDATION_CHUNK):
            yield dict(pairs[start : start + VALIDATION_CHUNK]), ()
    else:
        for start in range(0, len(pending), VALIDATION_CHUNK):
            indexes = pending[start : start + VALIDATION_CHUNK]
            yield [source[i] for i in indexes], indexes


def _validate_part(
    whole: dict[str, object],
    kind: str,
    path: Loc,
    annotation: object,
    pending: list[int],
    col: Collector | None,
) -> tuple[dict[str, object], bool]:
    """``whole`` with the long list or mapping at ``path`` validated a chunk at a time
    (emptied if a chunk failed, its errors in ``col``); and whether one failed."""
    adapter = _ADAPTERS.get(annotation)
    if adapter is None:
        adapter = _ADAPTERS[annotation] = TypeAdapter(annotation)  # type: ignore[arg-type]
    source = _at_path(whole, path)
    done: Any = {} if kind == "dict" else list(source)
    failed = False
    for chunk, indexes in _chunks(kind, source, pending):
        got = _validated(adapter.validate_python, chunk, col, path, indexes)
        if got is None:
            failed = True  # the part is emptied: later chunks are validated for their errors
        elif not failed and kind == "dict":
            done.update(got)
        elif not failed:
            for i, m in zip(indexes, got, strict=True):
                done[i] = m
    if failed:
        done = {} if kind == "dict" else []
    return _replace_at(whole, path, done), failed
