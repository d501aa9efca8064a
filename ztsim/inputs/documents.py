"""Safe YAML (and JSON) reading with guards and source positions.

Documents are read with ``yaml.safe_load`` semantics only, through the libyaml C
loader when it is installed.  Three guards keep hostile or broken input from
hurting: a cap on the file size, a cap on the size of the document once aliases
are expanded (the "billion laughs" attack), and duplicate mapping keys, which
plain YAML silently collapses and which would let a typo change a result.

Positions are not recorded while loading (that would double the cost of reading
a 100,000-host topology).  They are found on demand: :func:`locate` composes the
node tree of the file once, caches it, and walks it along a location path such as
``("hosts", 3, "services", 0)``.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from ztsim.model.diagnostics import env_int
from ztsim.perf import parsecache
from ztsim.perf.heap import paused_gc
from ztsim.perf.prefetch import Entry, Prefetched, digest
from ztsim.perf.profiling import phase
from ztsim.perf.splitparse import split_build

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_EXPANSION",
    "MAX_NODES",
    "Document",
    "Mark",
    "YamlInputError",
    "document_from_bytes",
    "expansion_limit",
    "flavour_of",
    "load_document",
    "locate",
    "prefetch_entries",
    "read_bytes",
    "read_bytes_bounded",
]

#: Largest file accepted, in bytes (override with ``ZTSIM_MAX_BYTES``).
MAX_BYTES = env_int("ZTSIM_MAX_BYTES", 512 * 1024 * 1024)
#: Largest document accepted once aliases are expanded, in nodes.
MAX_NODES = env_int("ZTSIM_MAX_NODES", 50_000_000)
#: Nodes aliases may add beyond two per character of the text (see :func:`expansion_limit`).
MAX_EXPANSION = env_int("ZTSIM_MAX_EXPANSION", 200_000, minimum=0)
#: Deepest nesting accepted once aliases are expanded (libyaml's own limit on the text).
MAX_DEPTH = 1000

try:  # pragma: no cover - depends on how PyYAML was built
    _BaseLoader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # pragma: no cover
    _BaseLoader = yaml.SafeLoader


class Mark(NamedTuple):
    """A 1-based line and column in a source file.

    A named tuple rather than a dataclass: a policy parse records one per node
    (about 200,000 for 10,000 rules), and tuples are built several times faster.
    """

    line: int
    column: int


class YamlInputError(Exception):
    """A file that cannot be read as a document: syntax, size, aliases, keys."""

    def __init__(self, path: str, mark: Mark | None, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.mark = mark
        self.message = message


class _StrictLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader that refuses duplicate keys in a mapping, the tags of
    :data:`_REFUSED_TAGS`, and says where a scalar its tag cannot build stands."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        if node.tag in _REFUSED_TAGS:
            raise yaml.constructor.ConstructorError(
                None, None, _refused_tag(node.tag), node.start_mark
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
                None, None, _bad_scalar(node.tag, node.value, exc), node.start_mark
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


@dataclass
class Document:
    """One loaded file: its data and, on demand, where each node stands."""

    path: str
    data: Any
    text: str
    is_json: bool = False
    _positions: Positions | None = field(default=None, repr=False)
    #: Every node's position, indexed from the text when recorded ones are shallow.
    _indexed: Positions | None = field(default=None, repr=False, compare=False)
    #: Positions as the parse cache stores them, turned into :class:`Positions` on
    #: first use (most runs never look one up: only a problem or a shown rule does).
    _stored_marks: Any = field(default=None, repr=False, compare=False)
    #: The stored node marks as a dict of (line, column) pairs (see :meth:`node_mark`).
    _stored_nodes: dict[NodePath, tuple[int, int]] | None = field(
        default=None, repr=False, compare=False
    )

    def positions(self) -> Positions:
        """Where every node stands (indexed once from the parser's events, then cached)."""
        recorded = self.recorded_positions()
        if recorded is not None and recorded.depth is None:
            return recorded
        if self._indexed is None:
            self._indexed = _index_positions(self._text_to_index())
            if recorded is None:
                self._positions = self._indexed
        return self._indexed

    def _text_to_index(self) -> str:
        text = self.text
        if self.is_json and "\\u" in text:
            # YAML refuses surrogate escapes, which JSON writes characters past
            # U+FFFF with (a pair): index a copy where each is an escape of the
            # same length YAML accepts (positions only; the data is read already).
            text = _SURROGATE.sub(lambda m: m.group(1) + "u0058", text)
        if self.is_json and ("\u2028" in text or "\u0085" in text or "\u2029" in text):
            # NEL, LS and PS break lines for YAML, not in JSON (where they can only
            # stand inside strings): every line after one was reported one too far.
            # (`in` first: far cheaper than the substitution on the common text.)
            text = _JSON_NOT_BREAKS.sub("X", text)
        return text

    def locate_many(self, requests: Sequence[tuple[NodePath, bool]]) -> list[Mark]:
        """:func:`locate` of each ``(loc, key)`` of ``requests``.

        When nothing is indexed yet, the text is indexed only as far as the last
        node asked for (the first errors of a flood are near the top of a large
        file): exactly what the full index would give for each of them.
        """
        if (
            self._indexed is None
            and self._positions is None
            and self._stored_marks is None
            and requests
        ):
            wanted = {loc for loc, _ in requests}
            partial = _index_positions(self._text_to_index(), wanted)
            if wanted:  # not all found: it ran to the end, it is the full index
                self._indexed = self._positions = partial
            return [_locate_in(partial, loc, key) for loc, key in requests]
        return [locate(self, loc, key=key) for loc, key in requests]

    def node_mark(self, path: NodePath) -> Mark | None:
        """Where the node at ``path`` starts, if it is indexed (see :meth:`node_marks`)."""
        return self.node_marks((path,))[0]

    def node_marks(self, paths: Sequence[NodePath]) -> list[Mark | None]:
        """Where the node at each of ``paths`` starts (``None`` where none is indexed).

        The same answers as ``positions().nodes.get(path)``, but when the parse
        cache kept the positions, without turning every stored pair into a
        :class:`Mark` (200,000 of them for a 10,000-rule policy, when a run asks
        for the lines of its rules only): one look-up per path.
        """
        stored = self._stored_marks
        if self._positions is None and stored is not None:
            limit = _stored_depth(stored)
            if limit is None or all(len(p) <= limit for p in paths):
                raw = self._stored_nodes
                if raw is None:
                    raw = self._stored_nodes = dict(stored[0])
                get, make = raw.get, Mark._make
                return [None if (pair := get(p)) is None else make(pair) for p in paths]
        recorded = self.recorded_positions()
        return [
            recorded.nodes.get(p)
            if recorded is not None and recorded.covers(p)
            else self.positions().nodes.get(p)
            for p in paths
        ]

    def stored_marks(self) -> Any:
        """The recorded positions as the parse cache stores them (``None`` if none were).

        What a cached or prefetched parse hands back beside the data.
        """
        if self._positions is None:
            return self._stored_marks
        return _marks_form(self._positions)

    def recorded_positions(self) -> Positions | None:
        """The positions recorded while parsing (or kept by the parse cache), if any.

        Unlike :meth:`positions`, never indexes the text: ``None`` when the file
        was read without ``positions=True`` and nothing has indexed it since.
        """
        stored = self._stored_marks
        if self._positions is None and stored is not None:
            # marshal gives tuples back as tuples: the paths need no conversion.
            make = Mark._make
            nodes = self._stored_nodes if self._stored_nodes is not None else stored[0]
            items = nodes.items() if isinstance(nodes, dict) else nodes
            self._positions = Positions(
                {k: make(v) for k, v in items},
                {k: make(v) for k, v in stored[1]},
                _stored_depth(stored),
            )
            self._stored_marks = self._stored_nodes = None
        return self._positions


def _stored_depth(stored: Any) -> int | None:
    """The depth of positions as the parse cache keeps them: (nodes, keys[, depth])."""
    return stored[2] if len(stored) > 2 else None


def _mark_of(problem: yaml.YAMLError) -> Mark | None:
    mark = getattr(problem, "problem_mark", None) or getattr(problem, "context_mark", None)
    if mark is None:
        return None
    return Mark(mark.line + 1, mark.column + 1)


def expansion_limit(text_length: int) -> int:
    """How many nodes a document of ``text_length`` characters may hold once its
    aliases are expanded: :data:`MAX_EXPANSION` plus two per character, and never
    more than :data:`MAX_NODES`.

    Without aliases a document holds about a node per character or fewer; the
    allowance leaves room for aliases used to share parts (a service list named
    by thousands of hosts) and refuses a "billion laughs" (a few lines whose
    aliases of aliases stand for millions of nodes) before anything walks it:
    validation and every later pass would expand it, and an invalid one would
    report an error per expanded node.
    """
    return min(MAX_NODES, MAX_EXPANSION + 2 * text_length)


def _expanded_size(data: Any, path: str, text: str) -> int:
    """Count the nodes of ``data`` as if every alias were expanded; refuse it past
    :func:`expansion_limit` nodes, :data:`MAX_DEPTH` levels, or containing itself.

    Shared sub-structures (what aliases produce) are counted once per use but
    measured once, so the count is linear in the distinct nodes; the walk keeps
    its own stack (the nesting that aliases of aliases build is not bounded by
    the text's).  The error names the alias that crosses the limit, found by
    :func:`_expansion_problem` from the text.
    """
    limit = expansion_limit(len(text))
    measured: dict[int, tuple[int, int]] = {}  # id -> (nodes, depth)
    open_: set[int] = set()  # containers whose children are being measured
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:
        obj, children_done = stack.pop()
        if type(obj) is not dict and type(obj) is not list:
            continue
        key = id(obj)
        values = obj.values() if type(obj) is dict else obj
        if children_done:
            total = 1 + (len(obj) if type(obj) is dict else 0)
            deepest = 0
            for child in values:
                if type(child) is dict or type(child) is list:
                    nodes, depth = measured[id(child)]
                    total += nodes
                    deepest = max(deepest, depth)
                else:
                    total += 1
            open_.discard(key)
            measured[key] = (total, deepest + 1)
            if total > limit or deepest + 1 > MAX_DEPTH:
                raise _expansion_problem(text, path, limit)
            continue
        if key in measured:
            continue
        if key in open_:
            raise _expansion_problem(text, path, limit)
        open_.add(key)
        stack.append((obj, True))
        stack.extend(
            (child, False)
            for child in values
            if (type(child) is dict or type(child) is list) and id(child) not in measured
        )
    return measured[id(data)][0] if id(data) in measured else 1


def _expansion_problem(text: str, path: str, limit: int) -> YamlInputError:
    """The error for a document refused by :func:`_expanded_size`, at the alias that
    makes it too large, too deep or recursive.

    A pass over the parser's events (the error path only) counts the nodes as
    they would stand with every alias expanded, in document order, measuring each
    anchored node once; the first alias that takes the count past ``limit`` (or
    the nesting past :data:`MAX_DEPTH`), or that names a node it stands in, is
    the one reported.
    """
    measured: dict[str, tuple[int, int]] = {}  # anchor -> (nodes, depth)
    # Per open container: [anchor, count when it opened, deepest child depth].
    stack: list[list[Any]] = []
    count = 0
    open_anchors: set[str] = set()
    fallback = Mark(1, 1)

    def close(depth: int) -> None:
        if stack:
            stack[-1][2] = max(stack[-1][2], depth)

    ev: Any
    try:
        for ev in yaml.parse(text, Loader=_BaseLoader):
            kind = type(ev)
            if kind is yaml.ScalarEvent:
                count += 1
                if ev.anchor is not None:
                    measured[ev.anchor] = (1, 0)
                close(0)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                count += 1
                stack.append([ev.anchor, count, 0])
                if ev.anchor is not None:
                    open_anchors.add(ev.anchor)
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                anchor, opened, deepest = stack.pop()
                nodes = count - opened + 1
                if anchor is not None:
                    measured[anchor] = (nodes, deepest + 1)
                    open_anchors.discard(anchor)
                close(deepest + 1)
            elif kind is yaml.AliasEvent:
                at = Mark(ev.start_mark.line + 1, ev.start_mark.column + 1)
                name = ev.anchor
                if name in open_anchors:
                    return YamlInputError(
                        path, at, f"recursive alias *{name}: it stands inside the node it names"
                    )
                nodes, depth = measured.get(name, (1, 0))
                count += nodes
                if count > limit:
                    return YamlInputError(
                        path,
                        at,
                        f"alias *{name} stands for {nodes:,} nodes: the document would hold "
                        f"more than {limit:,} once aliases are expanded (limit: "
                        f"{MAX_EXPANSION:,} + 2 per character of the file; ZTSIM_MAX_EXPANSION)",
                    )
                if len(stack) + depth > MAX_DEPTH:
                    return YamlInputError(
                        path,
                        at,
                        f"alias *{name} nests the document more than {MAX_DEPTH:,} levels deep "
                        "once aliases are expanded",
                    )
                close(depth)
                if fallback == Mark(1, 1):
                    fallback = at
    except yaml.YAMLError:
        pass
    # Not found by counting events (merge keys copy differently): name the first alias.
    return YamlInputError(
        path,
        fallback,
        f"document too large, too deep or recursive once aliases are expanded "
        f"(more than {limit:,} nodes or {MAX_DEPTH:,} levels; ZTSIM_MAX_EXPANSION)",
    )


class _Fallback(Exception):
    """A construct the fast builder leaves to the standard loader (merge keys, tags...)."""


_STR = "tag:yaml.org,2002:str"
_IMPLICIT = yaml.resolver.Resolver.yaml_implicit_resolvers
_WILDCARD = _IMPLICIT.get(None, [])
_SCALARS = yaml.constructor.SafeConstructor.yaml_constructors
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


def _plain_tag(value: str) -> str:
    """The tag ``safe_load`` resolves a plain scalar to (same table, same order)."""
    resolvers = _IMPLICIT.get(value[0] if value else "", [])
    for tag, regexp in (*resolvers, *_WILDCARD):
        if regexp.match(value):
            return str(tag)
    return _STR


def _scalar(event: yaml.ScalarEvent) -> Any:
    mark: Any = event.start_mark
    tag = event.tag
    if tag is None or tag == "!":
        tag = _plain_tag(event.value) if event.implicit[0] else _STR
    if tag == _STR:
        return event.value
    if tag == "tag:yaml.org,2002:merge":
        raise _Fallback
    if tag in _REFUSED_TAGS:
        raise yaml.constructor.ConstructorError(None, None, _refused_tag(tag), mark)
    build = _SCALARS.get(tag)
    if build is None:
        raise _Fallback
    try:
        return build(_CONSTRUCTOR, yaml.ScalarNode(tag, event.value))
    except Exception as exc:  # each constructor fails its own way (ValueError, KeyError...)
        raise yaml.constructor.ConstructorError(
            None, None, _bad_scalar(tag, event.value, exc), mark
        ) from None


#: YAML 1.1 tags safe_load knows that build what a ztsim file never holds: bytes,
#: sets (in no stable order), ordered pairs (tuples).  Refused wherever they appear
#: (pydantic would quietly read bytes as text and a set as a list).
_REFUSED_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("binary", "set", "omap", "pairs")
)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


def _refused_tag(tag: str) -> str:
    return (
        f"tag {_short_tag(tag)} is not accepted: a ztsim file holds mappings, lists, "
        "strings, numbers, booleans and null"
    )


def _bad_scalar(tag: str, value: str, exc: Exception) -> str:
    """The message for scalar ``value`` that tag ``tag`` cannot build."""
    shown = value if len(value) <= 40 else value[:37] + "..."
    if isinstance(exc, ValueError) and "digits" in str(exc) and tag.endswith(":int"):
        digits = sum(c.isdigit() for c in value)
        return (
            f"integer of {digits:,} digits: more than the {_INT_DIGITS:,} this reader accepts "
            "(quote it if it is text)"
        )
    reason = exc.problem if isinstance(exc, yaml.YAMLError) else None  # type: ignore[attr-defined]
    reason = reason or (str(exc) if not isinstance(exc, KeyError) else "not a valid value")
    return f"cannot read {shown!r} as {_short_tag(tag)}: {reason}"


#: Python's limit on the digits of an integer read from text (``int_max_str_digits``).
_INT_DIGITS = sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 4300


def _fast_build(text: str, positions: Positions | None = None) -> tuple[Any, bool]:
    """Build the single document of ``text`` from libyaml events, as ``safe_load`` would.

    Equivalent to :class:`_StrictLoader` for plain data (mappings, sequences,
    scalars, anchors and aliases), several times faster on large files because it
    skips the node tree.  Raises :class:`_Fallback` for anything else.  Returns
    the data and whether any alias was used (without aliases the size of the data
    is bounded by the size of the text, so the expansion check can be skipped).
    With ``positions``, also records where every node and key stands (one pass
    instead of two, for files whose positions are always needed), down to
    ``positions.depth`` steps from the root when it is set.

    Equal leaves are built once (hash-consing): a mapping or sequence whose
    children are all scalars or shared leaves themselves is replaced by an earlier
    one made of the very same child objects, in the same order.  A large topology
    repeats the same few services, logins and label sets on thousands of hosts;
    sharing them makes the data smaller, quicker to store and load from the parse
    cache (marshal keeps the sharing), and lets validation check each once
    (:func:`ztsim.inputs.loader.validate_document`).  Children are compared by identity
    (plain scalars are resolved once per text, see ``plain``, and equal quoted
    ones are one string), never by equality, so ``1``, ``1.0`` and ``true`` stay
    apart.  A leaf holding a scalar seen for the first time (a host's id) cannot
    equal an earlier one and is left alone, so the first of equal leaves stays
    apart from the others, which share one object.  The data is read, never modified,
    by the rest of ztsim (aliases share objects in ``safe_load`` data already).
    """
    anchors: dict[str, Any] = {}
    building: set[str] = set()
    # Each frame: [container, anchor, pending_key, key_event, seen_keys, path]
    stack: list[list[Any]] = []
    nodes = positions.nodes if positions is not None else None
    keys = positions.keys if positions is not None else None
    # Shallow positions: nodes below ``limit`` steps get no path, so neither do theirs.
    limit = positions.depth if positions is not None and positions.depth is not None else -1
    # Plain scalars repeat (services, levels, zone ids): resolve each text once.
    # Every value a plain scalar resolves to is immutable, so sharing it is safe.
    plain: dict[str, Any] = {}
    quoted: dict[str, str] = {}
    # Leaves built so far, by the identities of their children (see above).  Every
    # identity in a key belongs to an object the kept leaf holds, so none is reused.
    leaves: dict[tuple[Any, ...], Any] = {}
    leaf = True  # whether ``value`` may be a child of a shared leaf
    root: Any = _NO_KEY
    documents = 0
    aliased = False

    def here(event: Any) -> NodePath | None:
        """Record the mark of the node (or key) ``event`` starts; return its path."""
        assert nodes is not None and keys is not None
        sm = event.start_mark
        mark = Mark(sm.line + 1, sm.column + 1) if sm is not None else Mark(1, 1)
        if not stack:
            nodes[()] = mark
            return ()
        frame = stack[-1]
        parent = frame[5]
        if parent is None or len(stack) == limit + 1:
            return None
        if type(frame[0]) is list:
            path: NodePath = (*parent, len(frame[0]))
        elif frame[2] is _NO_KEY:
            if type(event) is yaml.ScalarEvent:
                keys[(*parent, event.value)] = mark
            return None  # a key, not a node
        else:
            key = frame[2]
            if not isinstance(key, str | int):
                return None
            path = (*parent, key)
        nodes[path] = mark
        return path

    scalar_t, alias_t = yaml.ScalarEvent, yaml.AliasEvent
    map_start, seq_start = yaml.MappingStartEvent, yaml.SequenceStartEvent
    map_end, seq_end = yaml.MappingEndEvent, yaml.SequenceEndEvent
    loader = _BaseLoader(text)
    get_event: Callable[[], Any] = loader.get_event
    try:
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_t:
                if nodes is not None:
                    here(event)
                tag = event.tag
                # ``leaf``: whether a leaf holding this scalar may equal an earlier
                # one.  Not when the scalar is seen for the first time (a host's id):
                # such leaves are not looked up, nor kept, for nothing.
                if tag is None and event.implicit[0]:
                    v = event.value
                    value = plain.get(v, _NO_KEY)
                    if value is _NO_KEY:
                        value = plain[v] = _scalar(event)
                        leaf = False
                    else:
                        leaf = True
                elif tag is None or tag == "!":
                    v = event.value  # quoted: a string, shared like plain ones
                    value = quoted.setdefault(v, v)
                    leaf = value is not v
                else:
                    value = _scalar(event)
                    leaf = False
                if event.anchor is not None:
                    anchors[event.anchor] = value
            elif kind is map_start or kind is seq_start:
                if event.tag not in (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"):
                    raise _Fallback
                container: Any = {} if kind is map_start else []
                if event.anchor is not None:
                    anchors[event.anchor] = container
                    building.add(event.anchor)
                path = here(event) if nodes is not None else None
                stack.append([container, event.anchor, _NO_KEY, None, {}, path, True])
                continue
            elif kind is map_end or kind is seq_end:
                frame = stack.pop()
                value = frame[0]
                if frame[1] is not None:
                    building.discard(frame[1])
                    leaf = False  # aliases name this very object
                elif frame[6]:
                    ids: tuple[Any, ...]
                    if kind is map_end:
                        ids = (*map(id, value), *map(id, value.values()))
                    else:
                        ids = (None, *map(id, value))
                    value = leaves.setdefault(ids, value)
                    leaf = True
                else:
                    leaf = False
            elif kind is alias_t:
                if nodes is not None:
                    here(event)
                if event.anchor in building:
                    sm = event.start_mark
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"recursive alias *{event.anchor}: it stands inside the node it names",
                        sm,
                    )
                if event.anchor not in anchors:
                    raise _Fallback  # undefined: the standard loader reports it
                aliased = True
                value = anchors[event.anchor]
                leaf = False
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Fallback
                continue
            elif event is None or kind is yaml.StreamEndEvent:
                break
            else:
                continue
            # Attach ``value`` to its parent (inlined: this runs once per node).
            if not stack:
                root = value
                continue
            frame = stack[-1]
            if not leaf:
                frame[6] = False
            container = frame[0]
            if type(container) is list:
                container.append(value)
            elif frame[2] is _NO_KEY:
                if type(value) is dict or type(value) is list:
                    raise _Fallback  # a collection as a key
                frame[2] = value
                frame[3] = event
            else:
                key = frame[2]
                if key in container:
                    first = frame[4][key]
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first at line {first.start_mark.line + 1})",
                        frame[3].start_mark,
                    )
                container[key] = value
                frame[4][key] = frame[3]
                frame[2] = _NO_KEY
    finally:
        loader.dispose()
    if documents != 1 or root is _NO_KEY:
        raise _Fallback
    return root, aliased


_NO_KEY = object()


def _build_plain(text: str) -> tuple[Any, bool]:
    """:func:`_fast_build` without positions (what each part of a split parse runs)."""
    return _fast_build(text, None)


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
        keys, several documents, or expands past :data:`MAX_NODES`.

    Examples
    --------
    >>> doc = load_document("topologies/pajemploi.yaml")  # doctest: +SKIP
    >>> doc.data["kind"]  # doctest: +SKIP
    'topology'
    """
    name = str(path)
    raw = read_bytes(name)
    return document_from_bytes(name, raw, positions=positions, depth=depth, prefetched=prefetched)


def read_bytes(name: str) -> bytes:
    """The content of file ``name`` (:func:`read_bytes_bounded` of a regular file)."""
    return read_bytes_bounded(name)


#: What a file that is not a regular one is, for the message that refuses it.
_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)

#: How much of a stream is read at a time (see :func:`read_bytes_bounded`).
_READ_CHUNK = 1024 * 1024


def _kind_of_file(mode: int) -> str:
    """``a FIFO (named pipe)``, ``a directory``...: what a non-regular file is."""
    for test, kind in _FILE_KINDS:
        if test(mode):
            return kind
    return "not a regular file"


def read_bytes_bounded(name: str, *, allow_stream: bool = False, limit: int | None = None) -> bytes:
    """The content of file ``name``, read with a hard bound of ``limit`` bytes.

    Only regular files are read, unless ``allow_stream`` (for a command that
    explicitly accepts ``-`` or ``/dev/stdin``): a FIFO, a device such as
    ``/dev/zero`` or ``/dev/urandom``, a socket or a folder is refused before a
    byte is read (opening a FIFO with no writer would wait forever; a device
    never ends).  ``-`` means standard input and needs ``allow_stream``.  The
    bound (default :data:`MAX_BYTES`) is checked from ``fstat`` before reading
    and enforced while reading, so a file that grows meanwhile, or a stream,
    never holds more than ``limit`` bytes in memory.

    Raises :class:`YamlInputError` (position 1:1: it is about the whole file).
    """
    bound = MAX_BYTES if limit is None else limit
    too_large = f"file too large: more than {bound:,} bytes (limit {bound:,}; ZTSIM_MAX_BYTES)"
    if name == "-":
        if not allow_stream:
            raise YamlInputError(name, None, "standard input ('-') is not accepted here")
        return _read_stream(name, sys.stdin.buffer.fileno(), bound, too_large)
    try:
        st = os.stat(name)  # never blocks, whatever the file is
    except OSError as exc:
        raise YamlInputError(name, None, f"cannot read file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise YamlInputError(name, None, "is a directory, not a file")
    if not stat.S_ISREG(st.st_mode) and not allow_stream:
        raise YamlInputError(
            name,
            None,
            f"not a regular file: {_kind_of_file(st.st_mode)} (ztsim reads regular files only)",
        )
    if st.st_size > bound:
        raise YamlInputError(
            name, None, f"file too large: {st.st_size:,} bytes (limit {bound:,}; ZTSIM_MAX_BYTES)"
        )
    try:
        # O_NONBLOCK: a FIFO put in the file's place since the stat must not block
        # the open; fstat then tells what was opened.
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise YamlInputError(name, None, f"cannot read file: {exc.strerror or exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode):
            os.set_blocking(fd, True)
            with os.fdopen(fd, "rb", closefd=False) as fh:
                raw = fh.read(bound + 1)
            if len(raw) > bound:
                raise YamlInputError(name, None, too_large)
            return raw
        if not allow_stream or stat.S_ISDIR(mode):
            raise YamlInputError(
                name,
                None,
                f"not a regular file: {_kind_of_file(mode)} (ztsim reads regular files only)",
            )
        os.set_blocking(fd, True)
        return _read_stream(name, fd, bound, too_large)
    except OSError as exc:
        raise YamlInputError(name, None, f"cannot read file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _read_stream(name: str, fd: int, bound: int, too_large: str) -> bytes:
    """Everything ``fd`` gives until its end, refused past ``bound`` bytes."""
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = os.read(fd, _READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > bound:
            raise YamlInputError(name, None, too_large)
        chunks.append(chunk)


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


def _marks_form(pos: Positions) -> tuple[Any, ...]:
    """Positions as the parse cache stores them: plain tuples, which marshal carries."""
    return (
        [(k, (m.line, m.column)) for k, m in pos.nodes.items()],
        [(k, (m.line, m.column)) for k, m in pos.keys.items()],
        pos.depth,
    )


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
        split = split_build(text, _build_plain)
        if split is not None:
            return Document(name, split, text)
    try:
        data, aliased = _fast_build(text, index)
    except (_Fallback, yaml.YAMLError) as exc:
        if isinstance(exc, yaml.constructor.ConstructorError):
            raise YamlInputError(name, _mark_of(exc), f"invalid YAML: {exc.problem}") from None
    else:
        if aliased:
            _expanded_size(data, name, text)
        return Document(name, data, text, _positions=index)
    # Rare constructs, syntax errors and exact messages: the standard safe loader.
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
        raise YamlInputError(name, _offset_mark(text, exc.position), message) from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlInputError(name, _mark_of(exc), f"invalid YAML: {problem}") from None
    _expanded_size(data, name, text)
    return Document(name, data, text)


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
            f"invalid JSON: integer of {digits:,} digits: more than the {_INT_DIGITS:,} "
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
                raise YamlInputError(name, _offset_mark(text, lone), message)
        return data
    key, first, again = _json_duplicate(text)
    line = text.count("\n", 0, first) + 1
    message = f"invalid JSON: duplicate key {key!r} (first at line {line})"
    raise YamlInputError(name, _offset_mark(text, again), message)


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
                return _offset_mark(text, m.start())
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
        if token[0] != '"' and len(token.lstrip("-")) > _INT_DIGITS:
            return _offset_mark(text, m.start()), len(token.lstrip("-"))
    return Mark(1, 1), 0


#: Characters YAML reads as line breaks that JSON does not (NEL, LINE and PARAGRAPH
#: SEPARATOR).
_JSON_NOT_BREAKS = re.compile("[\u0085\u2028\u2029]")

#: A ``\\uXXXX`` escape of a UTF-16 surrogate (D800-DFFF), with the backslashes before it.
_SURROGATE = re.compile(r"(\\+)u[dD]([89abAB]|[c-fC-F])[0-9a-fA-F]{2}")


def _lone_surrogate(text: str) -> int | None:
    """The offset of the first escape in JSON ``text`` that stands for half of a
    UTF-16 surrogate pair with no other half (``json`` reads it as a lone
    surrogate, which no UTF-8 output can hold), or ``None``."""
    pending: int | None = None  # a high half waiting for its low half
    for m in _SURROGATE.finditer(text):
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


def _offset_mark(text: str, offset: int) -> Mark:
    """The 1-based line and column of character ``offset`` of ``text``."""
    line_start = text.rfind("\n", 0, offset) + 1
    return Mark(text.count("\n", 0, offset) + 1, offset - line_start + 1)


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


NodePath = tuple[str | int, ...]


@dataclass(frozen=True)
class Positions:
    """Marks of every node (by path) and of every mapping key (by the path it opens).

    ``depth``: ``None`` when every node is indexed; else only the paths of at most
    ``depth`` steps are (shallow positions, see :func:`load_document`).
    """

    nodes: dict[NodePath, Mark]
    keys: dict[NodePath, Mark]
    depth: int | None = None

    def covers(self, path: NodePath) -> bool:
        """Whether ``path`` is within the indexed depth (indexed, if it exists)."""
        return self.depth is None or len(path) <= self.depth


def _index_positions(text: str, wanted: set[NodePath] | None = None) -> Positions:
    """Index node positions by walking libyaml events (no node tree, no resolver).

    With ``wanted``, stop as soon as every one of those node paths is indexed
    (the set is emptied as they are found): a node's ancestors start before it,
    so locating any of them in the partial index gives what the full one would.
    """
    nodes: dict[NodePath, Mark] = {}
    keys: dict[NodePath, Mark] = {}
    # Frame: [is_mapping, path, next_index_or_key, expecting_key]
    stack: list[list[Any]] = []
    try:
        for ev in yaml.parse(text, Loader=_BaseLoader):
            if isinstance(ev, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                stack.pop()
                if stack and stack[-1][0] and stack[-1][3] is None:
                    stack[-1][3] = True  # a complex key ended: its value comes next
                continue
            if not isinstance(
                ev,
                yaml.ScalarEvent
                | yaml.MappingStartEvent
                | yaml.SequenceStartEvent
                | yaml.AliasEvent,
            ):
                continue
            sm = ev.start_mark
            mark = Mark(sm.line + 1, sm.column + 1) if sm is not None else Mark(1, 1)
            path: NodePath | None
            if not stack:
                path = ()
            else:
                top = stack[-1]
                if not top[0]:
                    path = None if top[1] is None else (*top[1], top[2])
                    top[2] += 1
                elif top[3]:
                    # This node is a key.
                    if isinstance(ev, yaml.ScalarEvent):
                        top[2] = ev.value
                        if top[1] is not None:
                            keys[(*top[1], ev.value)] = mark
                        top[3] = False
                        continue
                    top[2] = None
                    top[3] = None  # complex key: ignore its inside
                    path = None
                else:
                    path = None if top[1] is None or top[2] is None else (*top[1], top[2])
                    top[3] = True
            if path is not None:
                nodes[path] = mark
                if wanted is not None and path in wanted:
                    wanted.discard(path)
                    if not wanted:
                        break
            if isinstance(ev, yaml.MappingStartEvent):
                stack.append([True, path, None, True])
            elif isinstance(ev, yaml.SequenceStartEvent):
                stack.append([False, path, 0, False])
    except yaml.YAMLError:
        pass  # what was indexed before the error stays usable
    return Positions(nodes, keys)


#: The typed-key tables of :func:`_typed_keys`, by the identity of their positions.
_TYPED_KEYS: dict[int, tuple[Positions, dict[tuple[NodePath, str], NodePath]]] = {}


def _typed_keys(pos: Positions) -> dict[tuple[NodePath, str], NodePath]:
    """The keys of ``pos`` whose text a plain scalar resolves to something other
    than a string, by (parent path, ``repr`` of the value): the names pydantic's
    locations give them.  Built on the error path only, once per positions."""
    hit = _TYPED_KEYS.get(id(pos))
    if hit is not None and hit[0] is pos:
        return hit[1]
    table: dict[tuple[NodePath, str], NodePath] = {}
    for path in pos.keys:
        text = path[-1]
        if not isinstance(text, str) or _plain_tag(text) == _STR:
            continue
        try:
            value = _scalar_value(text)
        except Exception:  # a key the reader refused: it has no name to give
            continue
        table.setdefault((path[:-1], repr(value)), path)
        table.setdefault((path[:-1], str(value)), path)
    if len(_TYPED_KEYS) > 8:
        _TYPED_KEYS.clear()
    _TYPED_KEYS[id(pos)] = (pos, table)
    return table


def _scalar_value(text: str) -> Any:
    """What plain scalar ``text`` reads as (``~`` is ``None``, ``12`` is 12...)."""
    tag = _plain_tag(text)
    return _SCALARS[tag](_CONSTRUCTOR, yaml.ScalarNode(tag, text))


def locate(doc: Document, loc: tuple[str | int, ...], *, key: bool = False) -> Mark:
    """Find where ``loc`` stands in ``doc``.

    Walks the composed node tree along ``loc`` as far as it goes and returns the
    mark of the deepest node reached (the key itself with ``key=True``, useful for
    an unknown key).  Steps that do not name a node, such as pydantic's union tags,
    are skipped.

    Examples
    --------
    >>> doc = parse_text("a:\\n  - {b: 1}\\n")
    >>> locate(doc, ("a", 0, "b"))
    Mark(line=2, column=9)
    """
    return _locate_in(doc.positions(), loc, key)


def _locate_in(pos: Positions, loc: tuple[str | int, ...], key: bool) -> Mark:
    """:func:`locate` in the positions ``pos``."""
    path: NodePath = ()
    resolved_last = False
    typed: dict[tuple[NodePath, str], NodePath] | None = None
    for step in loc:
        resolved_last = False
        for cand in ((*path, step), (*path, str(step))):
            if cand in pos.nodes:
                path = cand
                resolved_last = True
                break
        else:
            # A key that is no string (``~:``, ``12:``, a date) is named by the
            # repr of its value (pydantic's loc); the index knows it by its text.
            if typed is None:
                typed = _typed_keys(pos)
            found = typed.get((path, str(step)))
            if found is not None:
                path = found
                resolved_last = True
    if key and resolved_last and path in pos.keys:
        return pos.keys[path]
    return pos.nodes.get(path, Mark(1, 1))
