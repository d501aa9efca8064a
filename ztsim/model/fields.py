"""The field types the schema's models share: ids, label text, shared lists, the base model.

Several are checked in pydantic-core with no Python call per value, and the
shared ones (:class:`Labels`, :class:`SharedList`) let a large topology's hosts
share what :mod:`ztsim.perf.dedupe` validated once.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictStr,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

__all__ = [
    "BLANK_MESSAGE",
    "ID_PATTERN",
    "LABEL_TEXT_MESSAGE",
    "DeclaredId",
    "FrozenModel",
    "HostLabels",
    "HostList",
    "Id",
    "LabelText",
    "Labels",
    "SharedList",
    "invalid_id_message",
    "key_of_lists",
]

#: What a declared id may be.  Checked by pydantic-core's (Rust) regex engine, whose
#: ``$`` only matches at the very end: the ``\n?`` keeps the meaning Python's ``$``
#: gave the check before it moved there (a single trailing newline is accepted).
ID_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.:@/+-]*\n?$"


def invalid_id_message(value: object) -> str:
    """The error for a declared id that does not match :data:`ID_PATTERN`.

    >>> invalid_id_message("a b")
    "invalid id 'a b': use letters, digits and _ . : @ / + -"
    """
    return f"invalid id {value!r}: use letters, digits and _ . : @ / + -"


#: An id that refers to something (checked against the declarations by the loader).
Id = Annotated[StrictStr, Field(min_length=1, max_length=200)]
#: An id that declares something: also restricted to :data:`ID_PATTERN` (validated
#: in pydantic-core; the loader words its ``string_pattern_mismatch`` error with
#: :func:`invalid_id_message`).
DeclaredId = Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=ID_PATTERN)]


#: What a blank value (``~``, ``null`` or nothing after the colon) gets told.
BLANK_MESSAGE = "blank value: write `any` (or `{}`) to match everything, or omit the key"


#: The error for a label value that is not a string (YAML read it as something else).
LABEL_TEXT_MESSAGE = (
    "a label value must be text, and YAML reads on/off/yes/no/true/false as booleans "
    'and 1, 1.10, 017 or 1:30 as numbers: quote it (e.g. tier: "on", version: "1.10")'
)


class _LabelText:
    """Annotation marker for a label value: a string, and nothing YAML read otherwise.

    YAML 1.1 reads ``on``, ``yes`` or ``off`` as booleans, ``1:30`` as 90, ``017``
    as 15 and ``1.10`` as 1.1: turned back into text, such a value would no longer
    equal what was written, and a selector would silently stop matching (a typo
    class of bug).  So anything but a string is an error saying to quote it
    (:data:`LABEL_TEXT_MESSAGE`).  Checked in pydantic-core with no Python call (a
    large topology has a quarter of a million label values).
    """

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.custom_error_schema(
            core_schema.str_schema(strict=True),
            custom_error_type="label_text",
            custom_error_message=LABEL_TEXT_MESSAGE,
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(core_schema.str_schema())  # as a string field


#: A label value (see :class:`_LabelText`).
LabelText = Annotated[str, _LabelText]


class Labels(dict[str, str]):
    """A host's labels as validated once for all the hosts that list them.

    A plain dict to every reader.  :mod:`ztsim.perf.dedupe` builds one per distinct
    parsed label mapping of a large topology, and :class:`~ztsim.model.schema.Host`
    keeps it as it is (thousands of hosts then share it, and the label groups of
    :class:`ztsim.inputs.loaded.LoadedTopology` are found by its identity).
    """

    __slots__ = ()


def _kept_as(cls: type) -> WrapValidator:
    """A validator that keeps a value of exactly ``cls`` (validated already, once for
    every host that lists it: :mod:`ztsim.perf.dedupe`) and validates anything else."""

    def keep(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if type(value) is cls:
            return value
        return handler(value)

    return WrapValidator(keep)


#: A host's labels (see :class:`Labels`).
HostLabels = Annotated[dict[StrictStr, LabelText], _kept_as(Labels)]

T = TypeVar("T")


class SharedList(list[T]):
    """A host's list of services (logins, ...) as validated once for every host listing it.

    A plain list to every reader.  :mod:`ztsim.perf.dedupe` builds one per distinct
    parsed list of a large topology, its items models already, and
    :class:`~ztsim.model.schema.Host` keeps it as it is: thousands of hosts then
    share it, and what is derived from a host's lists (its checks, its signature)
    is derived once per distinct combination of them, found by identity.  Never
    mutated.
    """

    __slots__ = ()


def key_of_lists(
    services: list[Any] | None,
    vulns: list[Any] | None,
    stores: list[Any] | None,
    logins: list[Any] | None,
) -> tuple[int, int, int, int]:
    """:func:`~ztsim.model.schema.lists_key` of a host with these lists (``None`` or
    empty: none, ``0``).

    >>> shared = SharedList(["22/tcp"])
    >>> key_of_lists(shared, [], None, shared) == (id(shared), 0, 0, id(shared))
    True
    """
    return (
        id(services) if services else 0,
        id(vulns) if vulns else 0,
        id(stores) if stores else 0,
        id(logins) if logins else 0,
    )


#: A list field of :class:`~ztsim.model.schema.Host` (see :class:`SharedList`).
HostList = Annotated[list[T], _kept_as(SharedList)]


class FrozenModel(BaseModel):
    """The base of every schema model: unknown keys are errors, and a loaded model is frozen.

    (No docstring is inherited: each model's own is its description in ``ztsim schema``.)
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
