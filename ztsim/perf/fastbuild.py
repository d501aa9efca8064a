"""The fast YAML builder: a document's data built straight from libyaml's events.

Exists only for speed.  ``safe_load`` composes a tree of nodes, then builds the
data from it; :func:`fast_build` builds the data from the parser's events in one
pass, several times faster on a large file, and records positions in the same
pass when asked.  Its slow twin is the strict loader of
:mod:`ztsim.inputs.documents`: whatever this module does not handle raises
:class:`Fallback` (merge keys and other tags, an undefined alias, several
documents, a collection as a key) and the strict loader reads the text again,
which also gives the exact message of a syntax error.  Tests hold the two to the
same data (``tests/test_yamlio.py``, ``tests/test_strict_input.py``).

What a scalar reads as, the tags refused and their messages come from
:mod:`ztsim.inputs.positions`, shared with the strict loader.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from ztsim.inputs.positions import (
    REFUSED_TAGS,
    BaseSafeLoader,
    Mark,
    NodePath,
    Positions,
    bad_scalar,
    plain_tag,
    refused_tag,
)

__all__ = ["Fallback", "build_plain", "fast_build"]

_STR = "tag:yaml.org,2002:str"
_SCALARS = yaml.constructor.SafeConstructor.yaml_constructors
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
#: The tags a mapping or sequence may carry here (none, or the one it has anyway).
_COLLECTION_TAGS = (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")
#: A mapping's frame waits for a key (a plain object: no value a parse gives is it).
_NO_KEY: Any = object()


class Fallback(Exception):
    """A construct the fast builder leaves to the standard loader (merge keys, tags...)."""


def _scalar(event: yaml.ScalarEvent) -> Any:
    """The value of a tagged scalar, or of a plain one seen for the first time."""
    mark: Any = event.start_mark
    tag = event.tag
    if tag is None or tag == "!":
        tag = plain_tag(event.value) if event.implicit[0] else _STR
    if tag == _STR:
        return event.value
    if tag == "tag:yaml.org,2002:merge":
        raise Fallback
    if tag in REFUSED_TAGS:
        raise yaml.constructor.ConstructorError(None, None, refused_tag(tag), mark)
    build = _SCALARS.get(tag)
    if build is None:
        raise Fallback
    try:
        return build(_CONSTRUCTOR, yaml.ScalarNode(tag, event.value))
    except Exception as exc:  # each constructor fails its own way (ValueError, KeyError...)
        raise yaml.constructor.ConstructorError(
            None, None, bad_scalar(tag, event.value, exc), mark
        ) from None


def _recorder(positions: Positions, stack: list[list[Any]]) -> Callable[[Any], NodePath | None]:
    """The function that records where the node (or key) an event starts stands.

    It returns the path a collection's frame keeps for its children: the node's
    own, or ``None`` for a key, a node not recorded, or a node at the depth limit
    (none of its children is recorded).  The builder calls it only under a frame
    that keeps a path (or for the root), so the events inside a shallow policy's
    rules (most of its events) cost no call.  The path is read from ``stack``, the
    builder's open collections as they are when it is called.
    """
    nodes, keys = positions.nodes, positions.keys
    # Shallow positions: nodes below ``limit`` steps get no path, so neither do theirs.
    limit = positions.depth if positions.depth is not None else -1

    def here(event: Any) -> NodePath | None:
        """Record the mark of the node (or key) ``event`` starts; return its path."""
        sm = event.start_mark
        mark = Mark(sm.line + 1, sm.column + 1) if sm is not None else Mark(1, 1)
        if not stack:
            nodes[()] = mark
            return () if limit != 0 else None
        frame = stack[-1]
        parent = frame[5]
        if parent is None:
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
        return path if len(path) != limit else None

    return here


def _duplicate_key(frame: list[Any], key: Any) -> yaml.constructor.ConstructorError:
    """The error for ``key`` given twice in the mapping of ``frame``."""
    first = frame[4][key]
    return yaml.constructor.ConstructorError(
        None,
        None,
        f"duplicate key {key!r} (first at line {first.start_mark.line + 1})",
        frame[3].start_mark,
    )


def _plain_key(key: Any) -> None:
    """Fall back on a collection as a mapping key (the standard loader refuses it)."""
    if type(key) is dict or type(key) is list:
        raise Fallback


class _Builder:
    """One build: the open collections, the anchors and the shared values so far.

    Each open collection has a frame: ``[container, anchor, pending key (or
    _NO_KEY), the key's event, the key events so far, path, whether every child
    so far may be part of a shared leaf]``.
    """

    __slots__ = ("aliased", "anchors", "building", "here", "leaves", "plain", "quoted", "stack")

    def __init__(self, positions: Positions | None) -> None:
        self.stack: list[list[Any]] = []
        self.here = _recorder(positions, self.stack) if positions is not None else None
        self.anchors: dict[str, Any] = {}
        self.building: set[str] = set()  # anchors of the collections still open
        # Plain scalars repeat (services, levels, zone ids): resolve each text once.
        # Every value a plain scalar resolves to is immutable, so sharing it is safe.
        self.plain: dict[str, Any] = {}
        self.quoted: dict[str, str] = {}
        # Leaves built so far, by the identities of their children (see
        # :func:`fast_build`).  Every identity in a key belongs to an object the
        # kept leaf holds, so none is reused.
        self.leaves: dict[tuple[Any, ...], Any] = {}
        self.aliased = False

    def document(self, get_event: Callable[[], Any]) -> Any:
        """The root of the one document of the stream ``get_event`` reads."""
        root = self.root(get_event)
        while True:  # after the root: the document's end, then the stream's
            event = get_event()
            kind = type(event)
            if kind is yaml.DocumentStartEvent:
                raise Fallback  # several documents
            if event is None or kind is yaml.StreamEndEvent:
                return root

    def root(self, get_event: Callable[[], Any]) -> Any:
        """Build nodes from the events of ``get_event`` until the root is complete.

        This loop runs once per event, so the common case of each is written out
        here (a method call per collection cost a few per cent of a parse); the
        rare ones (tagged or anchored collections, aliases) are methods.
        """
        stack = self.stack
        push, pop = stack.append, stack.pop
        here, plain, quoted, anchors = self.here, self.plain, self.quoted, self.anchors
        open_, other = self.open, self.other
        scalar_t = yaml.ScalarEvent
        starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
        ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
        map_start, map_end = yaml.MappingStartEvent, yaml.MappingEndEvent
        leaves, building = self.leaves, self.building
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_t:
                if here is not None and (not stack or stack[-1][5] is not None):
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
                elif tag in (None, "!"):
                    v = event.value  # quoted: a string, shared like plain ones
                    value = quoted.setdefault(v, v)
                    leaf = value is not v
                else:
                    value = _scalar(event)
                    leaf = False
                if event.anchor is not None:
                    anchors[event.anchor] = value
            elif kind in starts:
                if event.tag is None and event.anchor is None:
                    path = None if here is None or (stack and stack[-1][5] is None) else here(event)
                    push([{} if kind is map_start else [], None, _NO_KEY, None, {}, path, True])
                else:
                    push(open_(event, kind is map_start))
                continue
            elif kind in ends:
                frame = pop()
                value = frame[0]
                if frame[6] and frame[1] is None:
                    ids: tuple[Any, ...] = (
                        (*map(id, value), *map(id, value.values()))
                        if kind is map_end
                        else (None, *map(id, value))
                    )
                    value = leaves.setdefault(ids, value)
                    leaf = True
                else:
                    leaf = False
                    if frame[1] is not None:
                        building.discard(frame[1])
            else:  # an alias, or the stream's or the document's start, or no document
                value = other(event, kind)
                if value is _NO_KEY:
                    continue
                leaf = False
            # Attach ``value`` to its parent (inlined: this runs once per node).
            if not stack:
                return value
            frame = stack[-1]
            if not leaf:
                frame[6] = False
            container = frame[0]
            if type(container) is list:
                container.append(value)
            elif frame[2] is _NO_KEY:
                if kind is not scalar_t:
                    _plain_key(value)
                frame[2] = value
                frame[3] = event
            else:
                key = frame[2]
                if key in container:
                    raise _duplicate_key(frame, key)
                container[key] = value
                frame[4][key] = frame[3]
                frame[2] = _NO_KEY

    def open(self, event: Any, is_map: bool) -> list[Any]:
        """The frame of the mapping or sequence ``event`` starts, tagged or anchored
        (:meth:`root` opens the others itself)."""
        if event.tag not in _COLLECTION_TAGS:
            raise Fallback
        container: Any = {} if is_map else []
        if event.anchor is not None:
            self.anchors[event.anchor] = container
            self.building.add(event.anchor)
        path = self.here(event) if self.here is not None else None
        return [container, event.anchor, _NO_KEY, None, {}, path, True]

    def other(self, event: Any, kind: type) -> Any:
        """The value the anchor of alias ``event`` names; ``_NO_KEY`` for an event that
        gives no node (the stream's and the document's start).  Raises :class:`Fallback`
        when the stream ends with no document.  (:meth:`root` handles the frequent
        events itself.)"""
        if kind is not yaml.AliasEvent:
            if event is None or kind is yaml.StreamEndEvent:
                raise Fallback  # no document
            return _NO_KEY
        if self.here is not None:
            self.here(event)
        if event.anchor in self.building:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"recursive alias *{event.anchor}: it stands inside the node it names",
                event.start_mark,
            )
        if event.anchor not in self.anchors:
            raise Fallback  # undefined: the standard loader reports it
        self.aliased = True
        return self.anchors[event.anchor]


def fast_build(text: str, positions: Positions | None = None) -> tuple[Any, bool]:
    """Build the single document of ``text`` from libyaml events, as ``safe_load`` would.

    Equivalent to the strict loader (:mod:`ztsim.inputs.documents`) for plain data
    (mappings, sequences, scalars, anchors and aliases), several times faster on
    large files because it skips the node tree.  Raises :class:`Fallback` for
    anything else.  Returns the data and whether any alias was used (without
    aliases the size of the data is bounded by the size of the text, so the
    expansion check can be skipped).  With ``positions``, also records where every
    node and key stands (one pass instead of two, for files whose positions are
    always needed), down to ``positions.depth`` steps from the root when it is set.

    Equal leaves are built once (hash-consing): a mapping or sequence whose
    children are all scalars or shared leaves themselves is replaced by an earlier
    one made of the very same child objects, in the same order.  A large topology
    repeats the same few services, logins and label sets on thousands of hosts;
    sharing them makes the data smaller, quicker to store and load from the parse
    cache (which keeps the sharing), and lets validation check each once
    (:mod:`ztsim.perf.dedupe`).  Children are compared by identity (plain scalars
    are resolved once per text, and equal quoted ones are one string), never by
    equality, so ``1``, ``1.0`` and ``true`` stay apart.  A leaf holding a scalar
    seen for the first time (a host's id) cannot equal an earlier one and is left
    alone, so the first of equal leaves stays apart from the others, which share
    one object.  The data is read, never modified, by the rest of ztsim (aliases
    share objects in ``safe_load`` data already).

    Examples
    --------
    >>> fast_build("hosts: [{id: a}, {id: b}]\\n")
    ({'hosts': [{'id': 'a'}, {'id': 'b'}]}, False)
    """
    loader = BaseSafeLoader(text)
    try:
        build = _Builder(positions)
        root = build.document(loader.get_event)
    finally:
        loader.dispose()
    return root, build.aliased


def build_plain(text: str) -> tuple[Any, bool]:
    """:func:`fast_build` without positions (what each part of a split parse runs)."""
    return fast_build(text, None)
