"""Reference errors in a document that has schema errors: everything reported in one pass.

A document the schema refuses has no model, so the checks the schema cannot make
(:mod:`ztsim.inputs.checks`: references, uniqueness, services offered) could not
run: a file with a typo in one key *and* an unknown zone needed two runs to show
both.  :func:`salvaged_errors` takes out what the schema refused (unknown keys, and
each list item holding an error), validates the rest, runs the checks on it, and
keeps the errors that cannot come from what was taken out:

- an error quoting a name declared only in an item taken out (a host, a zone, a
  credential, a data item...) is dropped: the name may be declared well enough;
- an error about a service is dropped when its host (or destination) lost one of
  its service listings;
- an error about the whole document (no entry point) is dropped when anything
  was taken out;
- warnings are dropped (the errors come first).

Each kept error is placed where it stands in the file as written (list items
taken out shift the indexes of those after them; the places are translated back).
When the document cannot be salvaged (an error outside any list item, such as
``name: 5``, or a remainder still invalid after a few rounds), only the schema
errors are reported, as before.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from ztsim.inputs.collector import Collector, Level, Loc
from ztsim.inputs.positions import Document, Mark, NodePath, Positions

__all__ = ["ROUNDS", "add_salvaged_errors"]

ModelT = TypeVar("ModelT", bound=BaseModel)

#: Validations of the remainder tried at most (each may find an item that only
#: fails once another was taken out, e.g. a list left empty).
ROUNDS = 3


def add_salvaged_errors(
    col: Collector,
    model: type[ModelT],
    check: Callable[[Collector, ModelT], None],
    prepare: Callable[[object], object | None] | None = None,
) -> None:
    """Add to ``col`` the errors ``check`` finds in what survives of its document once
    its schema errors (``col.schema_errors``) are taken out (nothing when it cannot be
    salvaged), each at its place in the document, so that ``col`` locates them with
    the schema errors in one pass over the text.  See the module's docstring for
    what is kept.  ``prepare``: as for
    :func:`~ztsim.inputs.validate.validate_document` (an estate's hosts share what
    is validated once)."""
    if not col.schema_errors or col.counting_only("error"):
        return
    cut = _Cut(col.doc.data)
    if not all(cut.plan(loc, kind) for loc, kind in col.schema_errors):
        return
    validated: ModelT | None = None
    for _ in range(ROUNDS):
        data = cut.apply()
        ready = _prepared(data, prepare)
        try:
            if ready is not data:
                validated = _adapter(model).validate_python(ready)
                break
        except ValidationError:
            pass  # the data as it is names the errors at their places
        try:
            validated = _adapter(model).validate_python(data)
            break
        except ValidationError as exc:
            more = [
                (cut.original(_resolve(data, tuple(e["loc"]))), e["type"]) for e in exc.errors()
            ]
            if not all(cut.plan(loc, kind) for loc, kind in more):
                return
    if validated is None:
        return
    doc = col.doc if not cut.items else _Shifted(col.doc, cut)
    check(_Kept(doc, cut, data, col), validated)


_ADAPTERS: dict[type[BaseModel], TypeAdapter[Any]] = {}


def _adapter(model: type[ModelT]) -> TypeAdapter[ModelT]:
    """A validator of ``model`` apart from its ``model_validate`` (which the
    document's own validation uses, and tests watch)."""
    found = _ADAPTERS.get(model)
    if found is None:
        found = _ADAPTERS[model] = TypeAdapter(model)
    return found


def _prepared(data: object, prepare: Callable[[object], object | None] | None) -> object:
    """``data`` through ``prepare`` when it takes it, else as it is (whose validation
    then names every error at its place)."""
    if prepare is not None:
        try:
            ready = prepare(data)
            if ready is not None:
                return ready
        except ValidationError:
            pass
    return data


def _resolve(data: Any, loc: Loc) -> NodePath:
    """``loc`` as a path in ``data``: the steps that name a child (pydantic's union
    tags, which name none, are passed over)."""
    path: list[str | int] = []
    node = data
    for step in loc:
        in_dict = isinstance(node, dict) and step in node
        if not in_dict and not (
            isinstance(node, list) and type(step) is int and 0 <= step < len(node)
        ):
            continue
        node = node[step]
        path.append(step)
    return tuple(path)


def _at(data: Any, path: NodePath) -> Any:
    node = data
    for step in path:
        node = node[step]
    return node


def _ids_in(node: Any, out: set[str]) -> None:
    """Every declared id in ``node`` (a list item taken out): a bare string item
    (``- web`` for ``- {id: web}``) or any ``id`` value, however deep."""
    if isinstance(node, str):
        out.add(node)
    elif isinstance(node, dict):
        for k, v in node.items():
            if k == "id" and isinstance(v, str):
                out.add(v)
            elif isinstance(v, dict | list):
                _ids_in(v, out)
    elif isinstance(node, list):
        for v in node:
            if isinstance(v, dict | list):
                _ids_in(v, out)


@dataclass
class _Cut:
    """What is taken out of a document: keys (the schema does not know them) and
    list items (holding an error), all in the document's own places."""

    data: Any
    #: (mapping's path, key) of each key taken out.
    keys: set[tuple[NodePath, object]] = field(default_factory=set)
    #: Per list (its path), the sorted indexes of its items taken out.
    items: dict[NodePath, list[int]] = field(default_factory=dict)
    #: Ids declared in the items taken out.
    ids: set[str] = field(default_factory=set)
    #: Ids of the hosts and destinations that lost a service listing (or another
    #: item of one of their lists).
    trimmed: set[str] = field(default_factory=set)

    def plan(self, loc: Loc, kind: str) -> bool:
        """Take out what the error ``kind`` at ``loc`` (original places) is about;
        ``False`` when nothing can be (the document cannot be salvaged)."""
        path = _resolve(self.data, loc)
        if kind == "extra_forbidden" and len(path) == len(loc) and path:
            self.keys.add((path[:-1], path[-1]))
            return True
        ints = [i for i, step in enumerate(path) if type(step) is int]
        if not ints:
            return False
        item = path[: ints[-1] + 1]
        removed = self.items.setdefault(item[:-1], [])
        index = item[-1]
        assert type(index) is int
        if index not in removed:
            removed.insert(bisect_left(removed, index), index)
            _ids_in(_at(self.data, item), self.ids)
            if len(item) > 2 and type(item[1]) is int:
                owner = _at(self.data, item[:2])
                if isinstance(owner, dict) and isinstance(owner.get("id"), str):
                    self.trimmed.add(owner["id"])
        return True

    def apply(self) -> Any:
        """The document without what is taken out (containers copied along the way)."""
        touched: set[NodePath] = set()
        for path in [*self.items, *(p for p, _ in self.keys)]:
            touched.update(path[:n] for n in range(len(path) + 1))
        return self._rebuild(self.data, (), touched)

    def _rebuild(self, node: Any, path: NodePath, touched: set[NodePath]) -> Any:
        if path not in touched:
            return node
        if isinstance(node, dict):
            return {
                k: self._rebuild(v, (*path, k), touched)
                for k, v in node.items()
                if (path, k) not in self.keys
            }
        if isinstance(node, list):
            gone = set(self.items.get(path, ()))
            return [
                self._rebuild(v, (*path, i), touched) for i, v in enumerate(node) if i not in gone
            ]
        return node

    def original(self, path: NodePath) -> NodePath:
        """Path ``path`` of the remainder as a place in the document."""
        out: list[str | int] = []
        for step in path:
            removed = self.items.get(tuple(out))
            if removed and type(step) is int:
                for r in removed:  # the step-th item kept is after each removed before it
                    if r <= step:
                        step += 1
                    else:
                        break
            out.append(step)
        return tuple(out)

    def remainder(self, path: NodePath) -> NodePath | None:
        """Place ``path`` of the document in the remainder (``None``: taken out)."""
        out: list[str | int] = []
        for n, step in enumerate(path):
            prefix = path[:n]
            if (prefix, step) in self.keys:
                return None
            removed = self.items.get(prefix)
            if removed and type(step) is int:
                at = bisect_left(removed, step)
                if at < len(removed) and removed[at] == step:
                    return None
                step -= at
            out.append(step)
        return tuple(out)


class _Shifted(Document):
    """The document as the remainder's places see it: each place of the remainder
    finds the mark of the node it came from."""

    def __init__(self, doc: Document, cut: _Cut) -> None:
        super().__init__(doc.path, doc.data, doc.text, doc.is_json)
        self._source = doc
        self._cut = cut

    def locate_many(self, requests: Sequence[tuple[NodePath, bool]]) -> list[Mark]:
        """Each request's place translated back, located in the source document (as far
        as the text needs indexing: the last place asked for)."""
        return self._source.locate_many([(self._cut.original(p), key) for p, key in requests])

    def positions(self) -> Positions:
        """The source's positions, each path translated to the remainder's places (for
        :func:`~ztsim.inputs.positions.locate`, which a check calls to name the line of
        a first declaration: indexes the whole text, so only then)."""
        if self._indexed is None:
            pos = self._source.positions()
            self._indexed = Positions(self._moved(pos.nodes), self._moved(pos.keys))
        return self._indexed

    def _moved(self, marks: dict[NodePath, Mark]) -> dict[NodePath, Mark]:
        out: dict[NodePath, Mark] = {}
        for path, mark in marks.items():
            moved = self._cut.remainder(path)
            if moved is not None:
                out[moved] = mark
        return out


class _Kept(Collector):
    """A collector that hands ``target`` the errors found in the remainder that cannot
    come from what was taken out (see the module's docstring), each at its place in
    the document."""

    def __init__(self, doc: Document, cut: _Cut, data: Any, target: Collector) -> None:
        super().__init__(doc)
        self._cut = cut
        self._data = data  # the remainder, as the checks' places name it
        self._target = target

    def listing(self, level: Level = "error") -> bool:
        """Whether ``target`` lists the next problem (hints cost only then)."""
        return self._target.listing(level)

    def add(
        self,
        loc: Loc,
        message: str,
        level: Level = "error",
        *,
        key: bool = False,
    ) -> None:
        """Add the problem, unless it is a warning or may come from what was taken out."""
        if level == "error" and not self._may_be_artefact(loc):
            self.count += 1  # (the checks tell by the count whether they found anything)
            self._target.add(self._cut.original(loc), message, level, key=key)

    def _may_be_artefact(self, loc: Loc) -> bool:
        cut = self._cut
        if not loc:
            return True  # about the whole document (no entry point): anything may count
        path = _resolve(self._data, loc)
        value = _at(self._data, path) if len(path) == len(loc) else None
        if isinstance(value, str) and value in cut.ids:
            return True
        if loc[-1] == "service" and len(path) >= 2 and cut.trimmed:
            owner = _at(self._data, path[:2])
            name = (
                owner.get("to" if path[0] == "traffic" else "id")
                if isinstance(owner, dict)
                else None
            )
            return name in cut.trimmed
        return False
