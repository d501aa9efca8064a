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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import yaml

from ztsim import parsecache
from ztsim.profiling import phase
from ztsim.runtime import paused_gc
from ztsim.splitparse import split_build

if TYPE_CHECKING:
    from ztsim.prefetch import Prefetched

__all__ = [
    "MAX_BYTES",
    "MAX_NODES",
    "Document",
    "Mark",
    "YamlInputError",
    "document_from_bytes",
    "flavour_of",
    "load_document",
    "locate",
    "read_bytes",
]

#: Largest file accepted, in bytes (override with ``ZTSIM_MAX_BYTES``).
MAX_BYTES = int(os.environ.get("ZTSIM_MAX_BYTES", str(512 * 1024 * 1024)))
#: Largest document accepted once aliases are expanded, in nodes.
MAX_NODES = int(os.environ.get("ZTSIM_MAX_NODES", str(50_000_000)))

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
    """Safe loader that refuses duplicate keys in a mapping."""

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
            self._indexed = _index_positions(self.text)
            if recorded is None:
                self._positions = self._indexed
        return self._indexed

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


def _expanded_size(data: Any, path: str) -> int:
    """Count the nodes of ``data`` as if every alias were expanded.

    Shared sub-structures (what aliases produce) are counted once per use but
    measured once, so the count is linear in the distinct nodes.  A structure
    that contains itself (a recursive alias) is refused.
    """
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(obj: Any) -> int:
        if not isinstance(obj, dict | list):
            return 1
        key = id(obj)
        known = sizes.get(key)
        if known is not None:
            return known
        if key in in_progress:
            raise YamlInputError(path, None, "recursive alias: a node contains itself")
        in_progress.add(key)
        children = obj.values() if isinstance(obj, dict) else obj
        total = 1 + sum(size(child) for child in children)
        if isinstance(obj, dict):
            total += len(obj)
        in_progress.discard(key)
        sizes[key] = total
        if total > MAX_NODES:
            raise YamlInputError(
                path,
                None,
                f"document too large once aliases are expanded (more than {MAX_NODES:,} nodes)",
            )
        return total

    return size(data)


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
    tag = event.tag
    if tag is None or tag == "!":
        tag = _plain_tag(event.value) if event.implicit[0] else _STR
    if tag == _STR:
        return event.value
    if tag == "tag:yaml.org,2002:merge":
        raise _Fallback
    build = _SCALARS.get(tag)
    if build is None:
        raise _Fallback
    return build(_CONSTRUCTOR, yaml.ScalarNode(tag, event.value))


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
    (:func:`ztsim.loader.validate_document`).  Children are compared by identity
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
                if event.anchor not in anchors or event.anchor in building:
                    raise _Fallback  # undefined or recursive: the standard loader reports it
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
        Parses done ahead by :func:`ztsim.prefetch.prefetch_documents`; the file's
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
    """The content of file ``name``, refused when missing, a folder or too large."""
    p = Path(name)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise YamlInputError(name, None, f"cannot read file: {exc.strerror or exc}") from None
    if p.is_dir():
        raise YamlInputError(name, None, "is a directory, not a file")
    if size > MAX_BYTES:
        raise YamlInputError(
            name, None, f"file too large: {size:,} bytes (limit {MAX_BYTES:,}; ZTSIM_MAX_BYTES)"
        )
    try:
        return p.read_bytes()
    except OSError as exc:
        raise YamlInputError(name, None, f"cannot read file: {exc.strerror or exc}") from None


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
        raise YamlInputError(name, None, f"not UTF-8 text: {exc.reason}") from None
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
            _expanded_size(data, name)
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
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlInputError(name, _mark_of(exc), f"invalid YAML: {problem}") from None
    _expanded_size(data, name)
    return Document(name, data, text)


class _DuplicateKey(Exception):
    """A JSON object named a key twice (found by :func:`_unique_pairs`)."""


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json``'s ``object_pairs_hook``: the object, or :class:`_DuplicateKey`.

    Plain ``json.loads`` keeps the last of duplicate keys (``"action": "deny",
    "action": "allow"`` would read as allow); they are errors here, as in YAML.
    Costs about half as much again as a plain parse (L's topology as JSON, 18 MB:
    1.9 -> 2.9 s on a busy 2-core machine), on JSON input only.
    """
    d = dict(pairs)
    if len(d) != len(pairs):
        raise _DuplicateKey
    return d


def _parse_json(text: str, name: str) -> Any:
    """The JSON document ``text``: syntax errors, duplicate keys and nesting refused,
    each at its line and column."""
    try:
        return json.loads(text, object_pairs_hook=_unique_pairs)
    except json.JSONDecodeError as exc:
        mark = Mark(exc.lineno, exc.colno)
        raise YamlInputError(name, mark, f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise YamlInputError(name, Mark(1, 1), "invalid JSON: nested too deeply") from None
    except _DuplicateKey:
        pass
    key, first, again = _json_duplicate(text)
    line = text.count("\n", 0, first) + 1
    message = f"invalid JSON: duplicate key {key!r} (first at line {line})"
    raise YamlInputError(name, _offset_mark(text, again), message)


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


def _index_positions(text: str) -> Positions:
    """Index node positions by walking libyaml events (no node tree, no resolver)."""
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
            if isinstance(ev, yaml.MappingStartEvent):
                stack.append([True, path, None, True])
            elif isinstance(ev, yaml.SequenceStartEvent):
                stack.append([False, path, 0, False])
    except yaml.YAMLError:
        pass  # what was indexed before the error stays usable
    return Positions(nodes, keys)


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
    pos = doc.positions()
    path: NodePath = ()
    resolved_last = False
    for step in loc:
        resolved_last = False
        for cand in ((*path, step), (*path, str(step))):
            if cand in pos.nodes:
                path = cand
                resolved_last = True
                break
    if key and resolved_last and path in pos.keys:
        return pos.keys[path]
    return pos.nodes.get(path, Mark(1, 1))
