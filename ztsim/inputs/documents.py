"""Safe YAML (and JSON) reading: one file read as one document, or refused.

Documents are read with ``yaml.safe_load`` semantics only, through the libyaml C
loader when it is installed.  Besides the guards of :mod:`ztsim.inputs.guards`
(size, aliases), duplicate mapping keys are refused, which plain YAML silently
collapses and which would let a typo change a result, and so are the tags of
:data:`ztsim.inputs.positions.REFUSED_TAGS`.  JSON (a ``.json`` file) is read by
``json`` with the same refusals, each at its line and column.

Most YAML is built by the fast builder of :mod:`ztsim.perf.fastbuild` (large
files split over two cores, :mod:`ztsim.perf.splitparse`); what it leaves, and
every syntax error, goes to :class:`_StrictLoader`, the reference reader.  Parses
come from the parse cache or a prefetching child when they can
(:mod:`ztsim.perf.parsecache`, :mod:`ztsim.perf.prefetch`).  Positions are not
recorded unless asked: :class:`ztsim.inputs.positions.Document` finds them on
demand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from ztsim.inputs.guards import check_expansion, read_bytes
from ztsim.inputs.hints import yaml_syntax_hint
from ztsim.inputs.positions import (
    INT_DIGITS,
    REFUSED_TAGS,
    SURROGATE_ESCAPE,
    BaseSafeLoader,
    Document,
    Mark,
    Positions,
    YamlInputError,
    bad_scalar,
    offset_mark,
    refused_tag,
)
from ztsim.perf import parsecache
from ztsim.perf.fastbuild import Fallback, build_plain, fast_build
from ztsim.perf.heap import paused_gc
from ztsim.perf.prefetch import Entry, Prefetched, digest
from ztsim.perf.profiling import phase
from ztsim.perf.splitparse import split_build

__all__ = [
    "document_from_bytes",
    "flavour_of",
    "load_document",
    "parse_text",
    "prefetch_entries",
]


class _StrictLoader(BaseSafeLoader):  # type: ignore[valid-type,misc]
    """Safe loader that refuses duplicate keys in a mapping, the tags of
    :data:`~ztsim.inputs.positions.REFUSED_TAGS`, and says where a scalar its tag
    cannot build stands."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node.tag in REFUSED_TAGS:
            raise yaml.constructor.ConstructorError(
                None, None, refused_tag(node.tag), node.start_mark
            )
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, KeyError, TypeError, OverflowError) as exc:
            # safe_load's scalar constructors raise these with no position.
            if not isinstance(node, yaml.ScalarNode):
                raise
            raise yaml.constructor.ConstructorError(
                None, None, bad_scalar(node.tag, node.value, exc), node.start_mark
            ) from None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {seen[key].start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        result: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return result


def _mark_of(problem: yaml.YAMLError) -> Mark | None:
    mark = getattr(problem, "problem_mark", None) or getattr(problem, "context_mark", None)
    if mark is None:
        return None
    return Mark(mark.line + 1, mark.column + 1)


def load_document(
    path: str | Path,
    *,
    positions: bool = False,
    depth: int | None = None,
    prefetched: Prefetched | None = None,
) -> Document:
    """Read one YAML or JSON file safely.

    Parameters
    ----------
    path
        The file; a ``.json`` suffix reads it as JSON, anything else as YAML.
    positions
        Record where every node stands while parsing (for files whose positions
        are always needed, such as policies and their rule lines); otherwise they
        are indexed on first use.
    depth
        With ``positions``, record only the nodes and keys at most ``depth`` steps
        from the root (a policy's rules are 3 steps down): recording every node
        doubles the cost of a parse.  The rest is indexed from the text when a
        look-up needs it (an error inside a rule, say).
    prefetched
        Parses done ahead by :func:`ztsim.perf.prefetch.prefetch_documents`; the file's
        is used when it is there (for the same bytes and options), like a
        parse-cache entry.

    Raises
    ------
    YamlInputError
        When the file is missing, too big, not valid YAML/JSON, holds duplicate
        keys, several documents, or expands past :data:`~ztsim.inputs.guards.MAX_NODES`.

    Examples
    --------
    >>> doc = load_document("topologies/pajemploi.yaml")  # doctest: +SKIP
    >>> doc.data["kind"]  # doctest: +SKIP
    'topology'
    """
    name = str(path)
    raw = read_bytes(name)
    return document_from_bytes(name, raw, positions=positions, depth=depth, prefetched=prefetched)


def _not_utf8(name: str, raw: bytes, exc: UnicodeDecodeError) -> YamlInputError:
    """The error for ``raw`` that is not UTF-8, at the line and column of the bad byte.

    The column counts characters (the valid text before the byte), as every other
    position does.
    """
    start = exc.start
    line_start = raw.rfind(b"\n", 0, start) + 1
    column = len(raw[line_start:start].decode("utf-8", errors="replace")) + 1
    bad = raw[start : max(exc.end, start + 1)][:4].hex(" ")
    return YamlInputError(
        name,
        Mark(raw.count(b"\n", 0, start) + 1, column),
        f"not UTF-8 text: byte(s) {bad}: {exc.reason}",
    )


def flavour_of(name: str, positions: bool, depth: int | None) -> str:
    """How a file is read, as parse-cache keys and prefetched parses name it."""
    recorded = "" if not positions else "+positions" if depth is None else f"+positions{depth}"
    return f"{'json' if Path(name).suffix.lower() == '.json' else 'yaml'}{recorded}"


def document_from_bytes(
    name: str,
    raw: bytes,
    *,
    positions: bool = False,
    depth: int | None = None,
    prefetched: Prefetched | None = None,
) -> Document:
    """:func:`load_document` on content already read (``raw``, the bytes of ``name``)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _not_utf8(name, raw, exc) from None
    flavour = flavour_of(name, positions, depth)
    is_json = flavour.startswith("json")
    with phase("parse"), paused_gc():
        cached = parsecache.load(raw, flavour)
        if cached is None and prefetched is not None:
            cached = prefetched.take(name, flavour, raw)
    if cached is not None:
        data, marks = cached
        return Document(name, data, text, is_json=is_json, _stored_marks=marks)
    doc = parse_text(text, name, is_json=is_json, positions=positions, depth=depth)
    with phase("parse"):
        if "&" not in text:  # anchors may share structure that storing would expand
            parsecache.store(raw, flavour, (doc.data, doc.stored_marks()))
    return doc


def prefetch_entries(files: Sequence[tuple[str, bool, int | None]]) -> list[Entry | None]:
    """What a prefetch child does (:func:`ztsim.perf.prefetch.prefetch_documents`): each
    file as :func:`load_document` reads it, ``None`` for one it could not parse."""
    out: list[Entry | None] = []
    for name, positions, depth in files:
        try:
            raw = read_bytes(name)
            if b"&" in raw:  # anchors may share structure: parsed in place, as not cached
                out.append(None)
                continue
            doc = document_from_bytes(name, raw, positions=positions, depth=depth)
            flavour = flavour_of(name, positions, depth)
            out.append((name, flavour, digest(raw), doc.data, doc.stored_marks()))
        except Exception:  # the parent parses it again and reports the problem
            out.append(None)
    return out


def parse_text(
    text: str,
    name: str = "<string>",
    *,
    is_json: bool = False,
    positions: bool = False,
    depth: int | None = None,
) -> Document:
    """Parse ``text`` as one document (see :func:`load_document`)."""
    with phase("parse"), paused_gc():
        return _parse_text(text, name, is_json=is_json, positions=positions, depth=depth)


def _parse_text(
    text: str, name: str, *, is_json: bool, positions: bool, depth: int | None
) -> Document:
    if is_json:
        return Document(name, _parse_json(text, name), text, is_json=True)
    index = Positions({}, {}, depth) if positions else None
    if index is None:
        # Large documents are parsed in two processes when they can be cut safely.
        split = split_build(text, build_plain)
        if split is not None:
            return Document(name, split, text)
    try:
        data, aliased = fast_build(text, index)
    except (Fallback, yaml.YAMLError) as exc:
        if isinstance(exc, yaml.constructor.ConstructorError):
            raise YamlInputError(name, _mark_of(exc), f"invalid YAML: {exc.problem}") from None
    else:
        if aliased:
            check_expansion(data, name, text)
        return Document(name, data, text, _positions=index)
    # Rare constructs, syntax errors and exact messages: the standard safe loader.
    data = _strict_load(text, name)
    check_expansion(data, name, text)
    return Document(name, data, text)


def _strict_load(text: str, name: str) -> Any:
    """The single document of ``text`` read by :class:`_StrictLoader`, or the
    :class:`YamlInputError` that says why it cannot be read."""
    try:
        loader = _StrictLoader(text)
        try:
            if not loader.check_data():
                raise YamlInputError(name, Mark(1, 1), "empty document")
            data = loader.get_data()
            if loader.check_data():
                node = loader.get_node()
                where = Mark(node.start_mark.line + 1, node.start_mark.column + 1) if node else None
                raise YamlInputError(name, where, "several YAML documents in one file")
        finally:
            loader.dispose()
    except yaml.reader.ReaderError as exc:
        # A character YAML forbids (NUL, other control characters): libyaml gives
        # its offset in the text, not a mark.
        code = (
            exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or " ")
        )
        message = f"invalid YAML: character U+{code:04X} is not allowed ({exc.reason})"
        raise YamlInputError(name, offset_mark(text, exc.position), message) from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        mark = _mark_of(exc)
        raise YamlInputError(
            name, mark, f"invalid YAML: {_plainly(problem, exc, text, mark)}"
        ) from None
    return data


def _plainly(problem: str, exc: yaml.YAMLError, text: str, mark: Mark | None) -> str:
    """The parser's ``problem``, with one plain sentence on top when one fits
    (:func:`~ztsim.inputs.hints.yaml_syntax_hint`): libyaml speaks of tokens and
    indicators where the writer sees an indentation."""
    line = None
    if mark is not None:
        lines = text.split("\n", mark.line)
        line = lines[mark.line - 1] if mark.line <= len(lines) else None
    context = str(getattr(exc, "context", None) or "")
    sentence = yaml_syntax_hint(problem, line, context)
    return problem if sentence is None else f"{sentence} (the parser says: {problem})"


class _DuplicateKey(Exception):
    """A JSON object named a key twice (found by :func:`_unique_pairs`)."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json``'s ``object_pairs_hook``: the object, or :class:`_DuplicateKey`.

    Plain ``json.loads`` keeps the last of duplicate keys (``"action": "deny",
    "action": "allow"`` would read as allow); they are errors here, as in YAML.
    A Python call per object: JSON parsing costs more than a plain parse (figures
    in benchmarks/README.md), on JSON input only.
    """
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _DuplicateKey
    return d


def _parse_json(text: str, name: str) -> Any:
    """The JSON document ``text``: syntax errors, duplicate keys and nesting refused,
    each at its line and column."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as exc:
        mark = Mark(exc.lineno, exc.colno)
        raise YamlInputError(name, mark, f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        at = _json_too_deep(text)
        message = f"invalid JSON: nested more than {_JSON_DEPTH} levels deep"
        raise YamlInputError(name, at, message) from None
    except _DuplicateKey:
        pass
    except ValueError as exc:  # an integer past Python's digit limit
        at, digits = _json_long_integer(text)
        message = (
            f"invalid JSON: integer of {digits:,} digits: more than the {INT_DIGITS:,} "
            "this reader accepts"
        )
        raise YamlInputError(name, at, message if digits else f"invalid JSON: {exc}") from None
    else:
        if "\\u" in text:
            lone = _lone_surrogate(text)
            if lone is not None:
                message = (
                    "invalid JSON: lone surrogate escape (half of a UTF-16 pair): "
                    "not a character, cannot be printed or compared as text"
                )
                raise YamlInputError(name, offset_mark(text, lone), message)
        return data
    key, first, again = _json_duplicate(text)
    line = text.count("\n", 0, first) + 1
    message = f"invalid JSON: duplicate key {key!r} (first at line {line})"
    raise YamlInputError(name, offset_mark(text, again), message)


#: The nesting reported for JSON too deep for ``json``'s recursive decoder.
_JSON_DEPTH = 500


def _json_too_deep(text: str) -> Mark:
    """Where JSON ``text`` first opens an array or object :data:`_JSON_DEPTH` + 1 deep.

    The decoder ran out of stack: the nesting is deeper than that, somewhere.
    """
    depth = 0
    for m in _JSON_TOKEN.finditer(text):
        token = m.group()
        if token in "[{":
            depth += 1
            if depth > _JSON_DEPTH:
                return offset_mark(text, m.start())
        elif token in "]}":
            depth -= 1
    return Mark(1, 1)


#: A JSON string or number, in the order they appear.
_JSON_NUMBER = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+')


def _json_long_integer(text: str) -> tuple[Mark, int]:
    """Where JSON ``text`` holds its first integer past Python's digit limit, and its
    digits (0 when there is none: the error was another)."""
    for m in _JSON_NUMBER.finditer(text):
        token = m.group()
        if token[0] != '"' and len(token.lstrip("-")) > INT_DIGITS:
            return offset_mark(text, m.start()), len(token.lstrip("-"))
    return Mark(1, 1), 0


def _lone_surrogate(text: str) -> int | None:
    """The offset of the first escape in JSON ``text`` that stands for half of a
    UTF-16 surrogate pair with no other half (``json`` reads it as a lone
    surrogate, which no UTF-8 output can hold), or ``None``."""
    pending: int | None = None  # a high half waiting for its low half
    for m in SURROGATE_ESCAPE.finditer(text):
        slashes = len(m.group(1))
        if slashes % 2 == 0:
            continue  # an escaped backslash then "u...": text, not an escape
        at = m.start() + slashes - 1
        high = m.group(2) in "89abAB"
        if pending is not None:
            if not high and at == pending + 6:
                pending = None
                continue
            return pending
        if high:
            pending = at
        else:
            return at
    return pending


#: A JSON string, or one of the punctuation marks that give a JSON text its shape.
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[][{}:,]')


def _json_duplicate(text: str) -> tuple[str, int, int]:
    """The first duplicate key of JSON ``text`` (known to hold one), with the offsets
    of its first occurrence and of the repeat.

    A second pass, run only when :func:`_unique_pairs` found a duplicate: the
    text is valid JSON (the first parse said so), so its strings and punctuation
    tell every key and the object it belongs to, with no recursion however deep
    the nesting.
    """
    # One frame per open object (its keys so far, with their offsets) or array (None).
    stack: list[dict[str, int] | None] = []
    expect_key = False
    for m in _JSON_TOKEN.finditer(text):
        token = m.group()
        if token == "{":
            stack.append({})
            expect_key = True
        elif token == "[":
            stack.append(None)
        elif token in "]}":
            stack.pop()
        elif token == ",":
            expect_key = bool(stack) and stack[-1] is not None
        elif token != ":" and expect_key:
            seen = stack[-1]
            assert seen is not None
            key = json.loads(token)
            if key in seen:
                return key, seen[key], m.start()
            seen[key] = m.start()
            expect_key = False
    raise AssertionError("the first parse found a duplicate key")
