"""Read ``terraform show -json`` output, a plan or a state, into AWS estates (issue 28, point 4).

:func:`read_terraform` gives two :class:`~ztsim.inputs.aws.objects.Estate`: the
**base** (what runs now: a plan's ``prior_state``, read from each resource
change's ``before``) and the **proposed** one (each change's ``after``, with
``after_unknown``); a state file gives the same estate twice.  So ``ztsim diff
--terraform plan.json`` says what the change opens or closes, and ``check``
judges what the plan would build.

The resource types read are listed in :data:`READ_TYPES`
(:mod:`ztsim.inputs.aws.terraform_resources` builds them).  A value Terraform
knows only after apply is read conservatively (the attacker may do more): a
reference to a resource the plan creates is followed through the plan's
``configuration`` (a new security group's id becomes ``<ADDRESS.id>``, the
same on both ends); what cannot be followed widens an allow (every address,
every port, every group of the VPC) or drops a deny, each with a warning naming
the resource address and the attribute.

Places: a resource is placed where the ``.tf`` files next to the plan declare it
(``main.tf:12``), when they do; else at its change in the plan (``terraform show
-json`` writes one line, so the column says where).  Problems of shape (a field
of the wrong type) are errors at the plan's FILE:LINE:COL, all reported at once.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ztsim.inputs.aws.describe_fields import AwsFields
from ztsim.inputs.aws.objects import Estate, PrefixList, Source
from ztsim.inputs.aws.terraform_config import Configuration
from ztsim.inputs.aws.terraform_lb import LB_READ_TYPES
from ztsim.inputs.collector import Collector, Loc
from ztsim.inputs.k8s.stream import located, read_stream
from ztsim.inputs.positions import Document, YamlInputError
from ztsim.model.diagnostics import Diagnostic, InputError

__all__ = ["READ_TYPES", "TerraformEstates", "TfResource", "read_terraform"]

#: The resource types read (others are left out; those that change reachability
#: and are not modelled get one note each, see :data:`UNMODELLED_TYPES`).
READ_TYPES = frozenset(
    {
        "aws_vpc",
        "aws_subnet",
        "aws_instance",
        "aws_network_interface",
        "aws_eip",
        "aws_db_instance",
        "aws_db_subnet_group",
        "aws_security_group",
        "aws_default_security_group",
        "aws_security_group_rule",
        "aws_vpc_security_group_ingress_rule",
        "aws_vpc_security_group_egress_rule",
        "aws_network_acl",
        "aws_default_network_acl",
        "aws_network_acl_rule",
        "aws_network_acl_association",
        "aws_internet_gateway",
        "aws_internet_gateway_attachment",
        "aws_route_table",
        "aws_default_route_table",
        "aws_route",
        "aws_route_table_association",
        "aws_main_route_table_association",
        *LB_READ_TYPES,
    }
)
#: Types that shape reachability and that ztsim does not read: noted once each.
UNMODELLED_TYPES = frozenset(
    {
        "aws_elb",
        "aws_network_interface_sg_attachment",
        "aws_network_interface_attachment",
        "aws_eip_association",
        "aws_vpc_peering_connection",
        "aws_ec2_transit_gateway_vpc_attachment",
        "aws_vpn_gateway",
        "aws_lambda_function",
        "aws_ecs_service",
        "aws_rds_cluster_instance",
    }
)

Side = Literal["base", "proposed"]


@dataclass(frozen=True)
class TfResource:
    """One resource instance of one side: its values, which of them are unknown
    until apply (``after_unknown``, mirrored: ``True`` where unknown), where its
    values stand in the document, and where a verdict places it."""

    address: str
    type: str
    values: dict[str, Any]
    unknown: Any
    loc: Loc
    source: Source
    #: Where it stands in the plan (notes about its values go there).
    plan_source: Source


@dataclass(frozen=True)
class TerraformEstates:
    """What :func:`read_terraform` read: both estates and what the plan changes.

    ``kind``: ``plan`` or ``state``; ``changes``: (address, actions) of every AWS
    resource the plan does not leave as it is, in the plan's order.
    ``notes``: the reader's warnings about the file (types not modelled); those
    about one side's values (unknown until apply) are its estate's ``notes``.
    """

    path: str
    kind: Literal["plan", "state"]
    base: Estate
    proposed: Estate
    changes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    notes: tuple[Diagnostic, ...] = field(default=())


class _Places:
    """FILE:LINE:COL of each resource of one section, from the text.

    Indexing the whole text's nodes (:meth:`Document.positions`) costs seconds
    on a plan of thousands of resources; a resource is found instead by its
    ``"address": "..."`` key, the first of its value inside the section (the
    section's span found from the top-level keys, in the data's order).
    """

    _KEY = re.compile(r'"address"\s*:\s*"((?:[^"\\]|\\.)*)"')

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.text = doc.text
        self._lines: list[int] | None = None
        self._spans: dict[str, tuple[int, int]] | None = None
        self._found: dict[str, dict[str, int]] = {}

    def spans(self) -> dict[str, tuple[int, int]]:
        if self._spans is None:
            keys = list(self.doc.data) if isinstance(self.doc.data, dict) else []
            starts: list[tuple[str, int]] = []
            at = 0
            for key in keys:
                m = re.compile(r'"' + re.escape(json.dumps(key)[1:-1]) + r'"\s*:').search(
                    self.text, at
                )
                if m is None:
                    break
                starts.append((key, m.end()))
                at = m.end()
            ends = [s for _, s in starts[1:]] + [len(self.text)]
            self._spans = {k: (s, e) for (k, s), e in zip(starts, ends, strict=True)}
        return self._spans

    def mark(self, section: str, address: str) -> tuple[int, int]:
        found = self._found.get(section)
        if found is None:
            found = {}
            start, end = self.spans().get(section, (0, 0))
            for m in self._KEY.finditer(self.text, start, end):
                raw = m.group(1)
                value = json.loads(f'"{raw}"') if "\\" in raw else raw
                found.setdefault(value, m.start())
            self._found[section] = found
        offset = found.get(address)
        if offset is None:
            return 1, 1
        if self._lines is None:
            self._lines = [m.end() for m in re.finditer("\n", self.text)]
        line = bisect.bisect_right(self._lines, offset)
        column = offset - (self._lines[line - 1] if line else 0) + 1
        return line + 1, column


def _module_resources(module: Any, loc: Loc) -> Iterator[tuple[Loc, dict[str, Any]]]:
    """The resources of a ``root_module`` and of its child modules, recursively."""
    if not isinstance(module, dict):
        return
    for i, res in enumerate(module.get("resources") or ()):
        if isinstance(res, dict):
            yield (*loc, "resources", i), res
    for j, child in enumerate(module.get("child_modules") or ()):
        yield from _module_resources(child, (*loc, "child_modules", j))


class _Reader:
    """One plan or state document read into both sides' resources."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.col = Collector(doc)
        self.fields = AwsFields(doc, self.col)
        self.places = _Places(doc)
        folder = None if doc.path == "-" else Path(doc.path).parent
        data = doc.data if isinstance(doc.data, dict) else {}
        self.config = Configuration(data.get("configuration"), folder)
        self.sides: dict[Side, list[TfResource]] = {"base": [], "proposed": []}
        self.changes: list[tuple[str, tuple[str, ...]]] = []
        self.skipped: dict[str, TfResource] = {}

    def resource(
        self, section: str, res: dict[str, Any], loc: Loc, values: Any, unknown: Any, where: Loc
    ) -> TfResource | None:
        address, kind = res.get("address"), res.get("type")
        if not isinstance(address, str) or not isinstance(kind, str):
            self.fields.error(loc, "a resource needs its 'address' and 'type' (strings)")
            return None
        if res.get("mode", "managed") != "managed" or not kind.startswith("aws_"):
            return None
        line, column = self.places.mark(section, address)
        plan_source = Source(self.doc.path, line, column)
        if not isinstance(values, dict):
            self.fields.error(where, f"{address}: its values must be a mapping")
            return None
        source = self.config.declared(address) or plan_source
        made = TfResource(
            address,
            kind,
            values,
            unknown if unknown is not None else {},
            where,
            source,
            plan_source,
        )
        if kind not in READ_TYPES:
            if kind in UNMODELLED_TYPES:
                self.skipped.setdefault(kind, made)
            return None
        return made

    def read_changes(self, changes: list[Any]) -> None:
        for i, rc in enumerate(changes):
            loc: Loc = ("resource_changes", i)
            if not isinstance(rc, dict):
                self.fields.error(loc, "a resource change must be a mapping")
                continue
            change = self.fields.mapping(rc, "change", loc, required=True)
            if not isinstance(change, dict):
                continue
            actions = tuple(a for a in change.get("actions") or () if isinstance(a, str))
            here = (*loc, "change")
            before, after = change.get("before"), change.get("after")
            if before is not None:
                made = self.resource("resource_changes", rc, loc, before, {}, (*here, "before"))
                if made is not None:
                    self.sides["base"].append(made)
            if after is not None:
                unknown = change.get("after_unknown")
                made = self.resource("resource_changes", rc, loc, after, unknown, (*here, "after"))
                if made is not None:
                    self.sides["proposed"].append(made)
            if actions and actions != ("no-op",) and actions != ("read",):
                address = rc.get("address")
                if isinstance(address, str) and rc.get("type", "").startswith("aws_"):
                    self.changes.append((address, actions))

    def read_module(self, side: Side, section: str, module: Any, loc: Loc) -> None:
        for rloc, res in _module_resources(module, loc):
            made = self.resource(section, res, rloc, res.get("values"), {}, (*rloc, "values"))
            if made is not None:
                self.sides[side].append(made)


#: Data sources whose values are a managed prefix list's entries.
_PREFIX_LIST_SOURCES = ("aws_prefix_list", "aws_ec2_managed_prefix_list")


def _prefix_lists(reader: _Reader, module: Any, loc: Loc) -> list[PrefixList]:
    """The prefix lists the state's data sources read (``data.aws_prefix_list``):
    a security group rule naming one then allows its entries, not every address."""
    out: list[PrefixList] = []
    for _rloc, res in _module_resources(module, loc):
        values = res.get("values")
        if res.get("mode") != "data" or res.get("type") not in _PREFIX_LIST_SOURCES:
            continue
        if not isinstance(values, dict) or not isinstance(values.get("id"), str):
            continue
        cidrs = values.get("cidr_blocks")
        if cidrs is None:
            cidrs = [e.get("cidr") for e in values.get("entry") or () if isinstance(e, dict)]
        blocks = tuple(c for c in cidrs or () if isinstance(c, str))
        family = "IPv6" if values.get("address_family") == "IPv6" else "IPv4"
        line, column = reader.places.mark(str(loc[0]) if loc else "", str(res.get("address")))
        name = values.get("name") if isinstance(values.get("name"), str) else values["id"]
        where = Source(reader.doc.path, line, column)
        out.append(PrefixList(values["id"], name, family, blocks or None, where))  # type: ignore[arg-type]
    return out


def _check_version(fields: AwsFields, data: dict[str, Any]) -> None:
    version = data.get("format_version")
    if version is None:
        return
    if not isinstance(version, str) or version.split(".")[0] not in ("0", "1"):
        fields.error(
            ("format_version",),
            f"format_version {version!r}: ztsim reads the JSON format 0.x and 1.x of "
            "`terraform show -json`",
        )


def read_terraform(path: str | Path) -> TerraformEstates:
    """Read the JSON that ``terraform show -json`` prints (a plan or a state).

    Raises
    ------
    InputError
        Malformed JSON, or not a plan or state of that format, or fields of the
        wrong type: every problem found, each at its FILE:LINE:COL.
    """
    from ztsim.inputs.aws.terraform_network import build_estate

    name = str(path)
    try:
        parts = read_stream(name)
    except YamlInputError as exc:
        raise InputError([located(exc)]) from None
    if len(parts) != 1 or not isinstance(parts[0].doc.data, dict):
        msg = "not the output of `terraform show -json` (one JSON object)"
        raise InputError([Diagnostic(name, 1, 1, "error", msg)])
    doc = parts[0].doc
    data: dict[str, Any] = doc.data
    reader = _Reader(doc)
    _check_version(reader.fields, data)
    kind: Literal["plan", "state"]
    if any(k in data for k in ("resource_changes", "planned_values", "prior_state")):
        kind = "plan"
        changes = reader.fields.get(data, "resource_changes", (), list)
        if changes is not None:
            reader.read_changes(changes)
        else:  # a plan without changes listed: its planned values and prior state
            planned = reader.fields.mapping(data, "planned_values", ())
            reader.read_module(
                "proposed",
                "planned_values",
                planned.get("root_module"),
                ("planned_values", "root_module"),
            )
            prior = reader.fields.mapping(data, "prior_state", ())
            values = reader.fields.mapping(prior, "values", ("prior_state",))
            reader.read_module(
                "base",
                "prior_state",
                values.get("root_module"),
                ("prior_state", "values", "root_module"),
            )
    elif "values" in data:
        kind = "state"
        values = reader.fields.mapping(data, "values", ())
        reader.read_module(
            "proposed", "values", values.get("root_module"), ("values", "root_module")
        )
        reader.sides["base"] = list(reader.sides["proposed"])
    else:
        msg = (
            "not the output of `terraform show -json`: a plan has 'resource_changes' "
            "or 'planned_values', a state 'values'"
        )
        raise InputError([Diagnostic(name, 1, 1, "error", msg)])
    errors = [d for d in reader.col.items if d.level == "error"]
    if errors:
        raise InputError(errors)
    state_loc: Loc = (
        ("values", "root_module") if kind == "state" else ("prior_state", "values", "root_module")
    )
    state_module: Any = data
    for step in state_loc:
        state_module = state_module.get(step) if isinstance(state_module, dict) else None
    lists = tuple(_prefix_lists(reader, state_module, state_loc))
    notes: list[Diagnostic] = []
    built: dict[Side, Estate] = {}
    sides: tuple[Side, ...] = ("base", "proposed")
    for side in sides:
        estate, _side_notes, problems = build_estate(
            name, reader.sides[side], reader.config, reader.fields
        )
        built[side] = replace(estate, prefix_lists=lists)  # its notes: unknown values
        errors.extend(p for p in problems if p not in errors)
    errors.extend(d for d in reader.col.items if d.level == "error" and d not in errors)
    if errors:
        raise InputError(errors)
    for kind_name, res in sorted(reader.skipped.items()):
        msg = (
            f"{kind_name} ({res.address} and any other): not read, ztsim does not model "
            "what it changes in reachability"
        )
        notes.append(Diagnostic(name, res.plan_source.line, res.plan_source.column, "warning", msg))
    notes.extend(d for d in reader.col.items if d.level == "warning")
    return TerraformEstates(
        name, kind, built["base"], built["proposed"], tuple(reader.changes), tuple(notes)
    )
