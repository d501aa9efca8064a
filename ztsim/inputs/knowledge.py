"""The knowledge files of the incident analysis: ATT&CK and the compliance mapping.

Two kinds of YAML file, read and checked like every ztsim input (``ztsim: 1``, a
``kind``, pydantic models with ``extra="forbid"``, every problem at FILE:LINE:COL):

``kind: attack``
    the MITRE ATT&CK subset ztsim names (``ztsim/data/attack.yaml``, shipped with
    its version and licence; never downloaded): tactics in the matrix's order,
    mitigations, and each technique's name, tactics and mitigations.
``kind: compliance``
    which framework controls a reached goal puts at stake, and why in one line
    (``ztsim/data/compliance.yaml`` by default; ``--compliance FILE`` for one's own,
    described in ``docs/analysis/README.md``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, StrictStr

from ztsim.inputs.collector import Collector
from ztsim.inputs.loader import document_from_text, read_document
from ztsim.inputs.positions import Document
from ztsim.inputs.validate import validate_document

__all__ = [
    "FINDINGS",
    "GOAL_KINDS",
    "PLACEHOLDERS",
    "AttackData",
    "AttackMitigation",
    "AttackTactic",
    "AttackTechnique",
    "ComplianceControl",
    "ComplianceFramework",
    "ComplianceMapping",
    "LoadedCompliance",
    "attack_data",
    "attack_version",
    "compliance_from_text",
    "default_compliance",
    "load_compliance",
]

#: What the open plans of a goal can show, for a compliance control's ``when``.
FINDINGS = (
    "public-exploit",
    "remote-exploit",
    "privilege-escalation",
    "lateral-movement",
    "no-mfa",
    "stored-credentials",
    "cleartext-traffic",
    "open-egress",
    "undetected",
)
#: The goal kinds a ``when`` names.
GOAL_KINDS = ("exfiltrate", "tamper")
#: The placeholders a compliance ``reason`` may use.
PLACEHOLDERS = ("data", "classification", "records", "goal", "action", "policy", "cost", "findings")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- ATT&CK


class AttackTactic(_Model):
    """A tactic: ``TA0001``, ``initial-access``, ``Initial Access``."""

    id: StrictStr = Field(pattern=r"^TA[0-9]{4}$")
    shortname: StrictStr = Field(pattern=r"^[a-z-]+$")
    name: StrictStr


class AttackMitigation(_Model):
    """A mitigation (course of action): ``M1032``, ``Multi-factor Authentication``."""

    id: StrictStr = Field(pattern=r"^M[0-9]{4}$")
    name: StrictStr

    @property
    def url(self) -> str:
        """The mitigation's page on attack.mitre.org."""
        return f"https://attack.mitre.org/mitigations/{self.id}/"


class AttackTechnique(_Model):
    """A technique: its name, the tactics it serves, the mitigations that apply."""

    id: StrictStr = Field(pattern=r"^T[0-9]{4}(\.[0-9]{3})?$")
    name: StrictStr
    tactics: list[StrictStr] = Field(min_length=1)
    mitigations: list[StrictStr] = Field(default_factory=list)


class AttackData(_Model):
    """An ATT&CK knowledge file (``kind: attack``)."""

    ztsim: Literal[1]
    kind: Literal["attack"]
    name: StrictStr
    version: StrictStr
    source: StrictStr
    licence: StrictStr
    attribution: StrictStr
    tactics: list[AttackTactic] = Field(min_length=1)
    mitigations: list[AttackMitigation] = Field(default_factory=list)
    techniques: list[AttackTechnique] = Field(min_length=1)

    _techniques: dict[str, AttackTechnique] = PrivateAttr(default_factory=dict)
    _tactics: dict[str, AttackTactic] = PrivateAttr(default_factory=dict)
    _mitigations: dict[str, AttackMitigation] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: object, /) -> None:
        """Index the lists by id (the model is frozen: built once)."""
        self._techniques = {t.id: t for t in self.techniques}
        self._tactics = {t.shortname: t for t in self.tactics}
        self._mitigations = {m.id: m for m in self.mitigations}

    def technique(self, tid: str) -> AttackTechnique | None:
        """The technique ``tid``, or ``None`` when the subset lacks it."""
        return self._techniques.get(tid)

    def tactic(self, shortname: str) -> AttackTactic | None:
        """The tactic named ``shortname`` (``initial-access``)."""
        return self._tactics.get(shortname)

    def mitigation(self, mid: str) -> AttackMitigation | None:
        """The mitigation ``mid``."""
        return self._mitigations.get(mid)

    def tactic_rank(self, shortname: str) -> int:
        """The tactic's place in the matrix (unknown ones last)."""
        order = [t.shortname for t in self.tactics]
        return order.index(shortname) if shortname in order else len(order)


def _unique(col: Collector, items: list[str], where: str) -> None:
    first: dict[str, int] = {}
    for i, ident in enumerate(items):
        if ident in first:
            col.add((where, i, "id"), f"duplicate id {ident!r} (first is item {first[ident] + 1})")
        first.setdefault(ident, i)


def _check_attack(col: Collector, data: AttackData) -> None:
    """Unique ids; every tactic and mitigation a technique names is listed."""
    _unique(col, [t.id for t in data.tactics], "tactics")
    _unique(col, [m.id for m in data.mitigations], "mitigations")
    _unique(col, [t.id for t in data.techniques], "techniques")
    tactics = {t.shortname for t in data.tactics}
    mitigations = {m.id for m in data.mitigations}
    for i, t in enumerate(data.techniques):
        for j, name in enumerate(t.tactics):
            if name not in tactics:
                col.add(("techniques", i, "tactics", j), f"unknown tactic {name!r}")
        for j, mid in enumerate(t.mitigations):
            if mid not in mitigations:
                col.add(("techniques", i, "mitigations", j), f"unknown mitigation {mid!r}")


def _data_file(name: str) -> Path:
    return Path(str(resources.files("ztsim") / "data" / name))


@cache
def attack_data() -> AttackData:
    """The ATT&CK subset shipped with ztsim (``ztsim/data/attack.yaml``), read once."""
    doc = read_document(_data_file("attack.yaml"))
    model, _warnings = validate_document(doc, "attack", AttackData, _check_attack)
    return model


def attack_version() -> str:
    """``ATT&CK Enterprise v18.1``: what ``ztsim --version`` names."""
    return f"ATT&CK Enterprise v{attack_data().version}"


# --------------------------------------------------------------------------- compliance


class When(_Model):
    """When a control applies: every key given holds (any item of a list)."""

    classifications: list[StrictStr] | None = Field(default=None, min_length=1)
    goals: list[Literal["exfiltrate", "tamper"]] | None = Field(default=None, min_length=1)
    findings: (
        list[
            Literal[
                "public-exploit",
                "remote-exploit",
                "privilege-escalation",
                "lateral-movement",
                "no-mfa",
                "stored-credentials",
                "cleartext-traffic",
                "open-egress",
                "undetected",
            ]
        ]
        | None
    ) = Field(default=None, min_length=1)


class ComplianceControl(_Model):
    """A framework control: its id, title, when it is at stake and the reason why."""

    id: StrictStr = Field(min_length=1)
    title: StrictStr
    when: When = Field(default_factory=When)
    reason: StrictStr = Field(min_length=1)


class ComplianceFramework(_Model):
    """A framework (GDPR, NIS2...) and its controls."""

    id: StrictStr = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    name: StrictStr
    title: StrictStr
    scope: StrictStr
    controls: list[ComplianceControl] = Field(min_length=1)


class ComplianceMapping(_Model):
    """A compliance mapping file (``kind: compliance``)."""

    ztsim: Literal[1]
    kind: Literal["compliance"]
    name: StrictStr
    description: StrictStr | None = None
    frameworks: list[ComplianceFramework] = Field(min_length=1)


@dataclass(frozen=True)
class LoadedCompliance:
    """A validated compliance mapping and the file it came from."""

    model: ComplianceMapping
    path: str

    @property
    def name(self) -> str:
        """The mapping's name."""
        return self.model.name


def _check_compliance(col: Collector, data: ComplianceMapping) -> None:
    """Unique framework and control ids; reasons with known placeholders only."""
    _unique(col, [f.id for f in data.frameworks], "frameworks")
    known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
    for i, f in enumerate(data.frameworks):
        first: dict[str, int] = {}
        for j, c in enumerate(f.controls):
            if c.id in first:
                col.add(("frameworks", i, "controls", j, "id"), f"duplicate control {c.id!r}")
            first.setdefault(c.id, j)
            try:
                parsed = string.Formatter().parse(c.reason)
                names = [n for _, n, _spec, _conv in parsed if n is not None]
                bad = [n for n in names if n not in PLACEHOLDERS]
            except ValueError as exc:  # an unmatched brace
                col.add(("frameworks", i, "controls", j, "reason"), f"reason: {exc}")
                continue
            if bad:
                col.add(
                    ("frameworks", i, "controls", j, "reason"),
                    f"unknown placeholder {{{bad[0]}}} (known: {known})",
                )


def _compliance_from(doc: Document) -> LoadedCompliance:
    model, _warnings = validate_document(doc, "compliance", ComplianceMapping, _check_compliance)
    return LoadedCompliance(model, doc.path)


def load_compliance(path: str | Path) -> LoadedCompliance:
    """Load and check a compliance mapping file.

    Raises
    ------
    InputError
        With every problem found, each at its file, line and column.
    """
    return _compliance_from(read_document(path))


def compliance_from_text(text: str, name: str = "<string>") -> LoadedCompliance:
    """A compliance mapping from YAML text (tests, the Python API)."""
    return _compliance_from(document_from_text(text, name))


@cache
def default_compliance() -> LoadedCompliance:
    """The mapping shipped with ztsim (``ztsim/data/compliance.yaml``)."""
    loaded = load_compliance(_data_file("compliance.yaml"))
    return LoadedCompliance(loaded.model, "ztsim/data/compliance.yaml")
