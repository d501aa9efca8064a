"""What the attacker can do next: the facts of spec §5 and one constructor per step.

Facts are plain tuples (hashed millions of times by a solve and written out as
JSON arrays, so no tuple subclass), their first item the :data:`FactKind`:

``("zone", z)``
    the attacker stands in external zone ``z``;
``("priv", h, "user" | "root")``
    code execution on host ``h`` at least at that level;
``("session", h, s, origin)``
    a ``service`` session to service ``s`` of ``h``, opened from external zone
    ``origin`` or from inside (``origin == INSIDE``);
``("cred", c)``, ``("data", d)``
    a credential held, a data item collected;
``("exfil", d)``, ``("tamper", d)``
    the goals.

Each row of the step table of spec §5 is one function below that builds the
:class:`Step` for one instance of it: what it needs (``pre``), what it gives
(``post``), its ATT&CK technique and the reason it was possible.  When a step may
fire is :mod:`ztsim.engine.fixpoint`'s business; what a solve derived is kept in a
:class:`Solution`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple, TypeAlias

from ztsim.inputs.loaded import LoadedTopology
from ztsim.model.schema import (
    DataItem,
    EntryPoint,
    ExternalDestination,
    Login,
    Traffic,
    Vulnerability,
)

if TYPE_CHECKING:  # (a solution's fields only: no import cycle with the engine)
    from ztsim.engine.attack import AttackModel
    from ztsim.engine.compiled import CompiledPolicy

__all__ = [
    "INSIDE",
    "CredFact",
    "DataFact",
    "Fact",
    "FactKind",
    "GoalFact",
    "PrivFact",
    "Privilege",
    "SessionFact",
    "Solution",
    "Standing",
    "Step",
    "StepKey",
    "StepKind",
    "ZoneFact",
    "collect_on_host_step",
    "collect_through_session_step",
    "enter_step",
    "escalate_step",
    "exfiltrate_directly_step",
    "exfiltrate_step",
    "exploit_step",
    "goal_facts",
    "login_step",
    "sniff_step",
    "steal_step",
    "tamper_step",
]

#: The origin of a session opened from a host inside the organisation.
INSIDE = "*"
#: Builds a :class:`Step` from all its fields, in order (the comments name them),
#: without the named tuple's Python-level ``__new__`` and its keywords, several
#: times slower: a solve builds a step for each offer.
_new = tuple.__new__

FactKind: TypeAlias = Literal["zone", "priv", "session", "cred", "data", "exfil", "tamper"]
#: The levels of code execution a ``priv`` fact states.
Privilege: TypeAlias = Literal["user", "root"]

#: Any fact (what the solver, plans and renderers handle without looking inside).
Fact: TypeAlias = tuple[str, ...]
ZoneFact: TypeAlias = tuple[Literal["zone"], str]
PrivFact: TypeAlias = tuple[Literal["priv"], str, Privilege]
#: ``("session", host, service, origin)``.
SessionFact: TypeAlias = tuple[Literal["session"], str, str, str]
CredFact: TypeAlias = tuple[Literal["cred"], str]
DataFact: TypeAlias = tuple[Literal["data"], str]
GoalFact: TypeAlias = tuple[Literal["exfil", "tamper"], str]
#: Where a step is launched from: an external zone, or code execution on a host.
Standing: TypeAlias = ZoneFact | PrivFact

StepKind: TypeAlias = Literal[
    "enter",
    "exploit",
    "login",
    "escalate",
    "steal",
    "sniff",
    "collect",
    "exfiltrate",
    "exfiltrate-direct",
    "tamper",
]
#: A step's identity: its kind, then the ids that tell its instances apart.
StepKey: TypeAlias = tuple[str, ...]


class Step(NamedTuple):
    """One attacker action: what it needs, what it gives, and why it was possible.

    A named tuple, immutable and compared by value: a solve on a large estate
    builds hundreds of thousands, and a frozen dataclass is much slower
    to build (each field set through ``object.__setattr__``).

    Attributes
    ----------
    key
        Identity of the step (used to ban it when searching further plans).
    kind
        The row of spec §5 (:data:`StepKind`).
    technique
        The ATT&CK technique id (``None`` for an entry with none of its own).
    source, target
        Where the step is launched from and what it acts on (host, zone,
        credential, data item or external destination ids).
    service
        The service used, when there is one.
    reason
        The fact of the topology that enabled it (a vulnerability, a login, a
        stored credential, a traffic flow...), in words.
    host
        Where the step happens, for detection ``where`` selectors.
    flow
        ``(source, host, service)`` of the network flow it needs, if any.
    egress
        ``(host, destination, service)`` of the egress it needs, if any.
    credential
        The credential a login uses (MFA blocks it).
    traffic
        Index of the sniffed ``traffic`` flow.
    """

    key: StepKey
    kind: StepKind
    technique: str | None
    source: str | None
    target: str | None
    service: str | None
    reason: str
    pre: tuple[Fact, ...]
    post: tuple[Fact, ...]
    host: str | None = None
    flow: tuple[str, str, str] | None = None
    egress: tuple[str, str, str] | None = None
    credential: str | None = None
    traffic: int | None = None


def goal_facts(topology: LoadedTopology) -> list[Fact]:
    """Every goal of spec §6: exfiltration of each data item, tampering of integrity items."""
    goals: list[Fact] = []
    # The data table lists the items in file order: no walk over every host.
    for _, d in topology.data.values():
        goals.append(("exfil", d.id))
        if d.integrity:
            goals.append(("tamper", d.id))
    return goals


def _gives(host: str, service: str, level: str, origin: str) -> tuple[Fact, ...]:
    """The facts ``level`` (a :data:`~ztsim.model.schema.Level`) on ``host`` stands for:
    a session to ``service`` opened from ``origin``, or code execution (root implies user)."""
    if level == "service":
        return (("session", host, service, origin),)
    if level == "root":
        return (("priv", host, "root"), ("priv", host, "user"))
    return (("priv", host, "user"),)


def enter_step(ep: EntryPoint) -> Step:
    """Row 1, enter: an entry point gives its zone or its host at its level, and its
    credentials (its own technique; ``T1566`` for a host with none)."""
    post: list[Fact] = []
    if ep.zone is not None:
        post.append(("zone", ep.zone))
        technique, host, where = ep.technique, None, f"zone {ep.zone}"
    else:
        assert ep.host is not None
        post.extend(_gives(ep.host, "", ep.level, INSIDE))
        technique, host, where = ep.technique or "T1566", ep.host, f"{ep.level} on {ep.host}"
    post.extend(("cred", c) for c in ep.credentials)
    creds = f" holding {', '.join(ep.credentials)}" if ep.credentials else ""
    return Step(
        key=("enter", ep.id),
        kind="enter",
        technique=technique,
        source=None,
        target=ep.host or ep.zone,
        service=None,
        reason=f"entry point {ep.id}: {where}{creds}",
        pre=(),
        post=tuple(post),
        host=host or ep.zone,
    )


def exploit_step(
    source: str, stand: Standing, host: str, service: str, v: Vulnerability, origin: str
) -> Step:
    """Row 2, exploit: standing on ``source`` (the fact ``stand``), a flow to
    ``host:service`` and remote vulnerability ``v`` there give ``v.gives`` on
    ``host`` (a session when ``service``); ``T1190`` from outside, else ``T1210``."""
    return _new(
        Step,
        (
            ("exploit", source, host, service, v.id),  # key
            "exploit",  # kind
            "T1190" if origin != INSIDE else "T1210",  # technique
            source,  # source
            host,  # target
            service,  # service
            f"vulnerability {v.id} on {host}:{service} gives {v.gives}",  # reason
            (stand,),  # pre
            _gives(host, service, v.gives, origin),  # post
            host,  # host
            (source, host, service),  # flow
            None,  # egress
            None,  # credential
            None,  # traffic
        ),
    )


def login_step(source: str, stand: Standing, host: str, lg: Login, origin: str) -> Step:
    """Row 3, log in: from ``source``, a flow to ``host`` and login ``lg`` there, with
    its credential held (the caller checks MFA), give ``lg.gives`` on ``host``;
    ``T1078`` from outside or for a session, ``T1021`` otherwise."""
    return _new(
        Step,
        (
            ("login", source, host, lg.service, lg.credential, lg.gives),  # key
            "login",  # kind
            "T1078" if origin != INSIDE or lg.gives == "service" else "T1021",  # technique
            source,  # source
            host,  # target
            lg.service,  # service
            f"credential {lg.credential} accepted by {host}:{lg.service} as {lg.gives}",  # reason
            (stand, ("cred", lg.credential)),  # pre
            _gives(host, lg.service, lg.gives, origin),  # post
            host,  # host
            (source, host, lg.service),  # flow
            None,  # egress
            lg.credential,  # credential
            None,  # traffic
        ),
    )


def escalate_step(host: str, v: Vulnerability) -> Step:
    """Row 4, escalate: ``user`` on ``host`` and local vulnerability ``v`` there give
    ``root``; ``T1068``."""
    return _new(
        Step,
        (
            ("escalate", host, v.id),  # key
            "escalate",  # kind
            "T1068",  # technique
            host,  # source
            host,  # target
            None,  # service
            f"local vulnerability {v.id} on {host} gives root",  # reason
            (("priv", host, "user"),),  # pre
            (("priv", host, "root"),),  # post
            host,  # host
            None,  # flow
            None,  # egress
            None,  # credential
            None,  # traffic
        ),
    )


def steal_step(host: str, cred: str, requires: str) -> Step:
    """Row 5, steal credential: ``requires`` (user or root) on ``host``, where
    ``cred`` is stored, gives it; ``T1552`` when readable as user, ``T1003`` as root."""
    return _new(
        Step,
        (
            ("steal", host, cred),  # key
            "steal",  # kind
            "T1552" if requires == "user" else "T1003",  # technique
            host,  # source
            cred,  # target
            None,  # service
            f"{cred} is stored on {host} (readable as {requires})",  # reason
            (("priv", host, requires),),  # pre
            (("cred", cred),),  # post
            host,  # host
            None,  # flow
            None,  # egress
            cred,  # credential
            None,  # traffic
        ),
    )


def sniff_step(host: str, index: int, t: Traffic, cred: str) -> Step:
    """Row 6, sniff: ``root`` on ``host``, placed to see traffic flow ``t`` (number
    ``index``) that carries ``cred`` in clear (the solver checks the policy, the
    encryption and the zones), gives the credential; ``T1557``."""
    return _new(
        Step,
        (
            ("sniff", host, str(index)),  # key
            "sniff",  # kind
            "T1557",  # technique
            host,  # source
            cred,  # target
            t.service,  # service
            f"traffic {t.source} -> {t.to} {t.service} carries {cred} in clear",  # reason
            (("priv", host, "root"),),  # pre
            (("cred", cred),),  # post
            host,  # host
            None,  # flow
            None,  # egress
            cred,  # credential
            index,  # traffic
        ),
    )


def collect_on_host_step(d: DataItem, host: str, level: str) -> Step:
    """Row 7, collect by code execution: ``level`` (what ``d`` requires, user for a
    served item) on ``host``, where ``d`` is stored, gives it; ``T1005``."""
    return _new(
        Step,
        (
            ("collect", d.id, "exec"),  # key
            "collect",  # kind
            "T1005",  # technique
            host,  # source
            d.id,  # target
            None,  # service
            f"{d.id} is stored on {host} (requires {d.requires})",  # reason
            (("priv", host, level),),  # pre
            (("data", d.id),),  # post
            host,  # host
            None,  # flow
            None,  # egress
            None,  # credential
            None,  # traffic
        ),
    )


def collect_through_session_step(d: DataItem, session: Fact) -> Step:
    """Row 7, collect through a session: a ``service`` session to the service that
    serves ``d`` gives it; ``T1213``."""
    _, host, _, origin = session
    return _new(
        Step,
        (
            ("collect", d.id, "session", origin),  # key
            "collect",  # kind
            "T1213",  # technique
            host,  # source
            d.id,  # target
            d.service,  # service
            f"{d.id} is served by {host}:{d.service}",  # reason
            (session,),  # pre
            (("data", d.id),),  # post
            host,  # host
            None,  # flow
            None,  # egress
            None,  # credential
            None,  # traffic
        ),
    )


def exfiltrate_step(data_id: str, host: str, dest: ExternalDestination, service: str) -> Step:
    """Row 8, exfiltrate: the data and ``user`` on ``host``, with egress from it to
    ``dest`` on ``service`` allowed (the solver checks), send the data out;
    ``T1041`` to a ``c2``, ``T1567`` to a ``web-service``."""
    role = dest.role
    return _new(
        Step,
        (
            ("exfiltrate", data_id, host, dest.id, service),  # key
            "exfiltrate",  # kind
            "T1041" if role == "c2" else "T1567",  # technique
            host,  # source
            dest.id,  # target
            service,  # service
            f"egress {host} -> {dest.address} ({role}) on {service}",  # reason
            (("data", data_id), ("priv", host, "user")),  # pre
            (("exfil", data_id),),  # post
            host,  # host
            None,  # flow
            (host, dest.id, service),  # egress
            None,  # credential
            None,  # traffic
        ),
    )


def exfiltrate_directly_step(d: DataItem, session: Fact) -> Step:
    """Row 9, exfiltrate directly: ``d``, read through a ``service`` session opened
    from an external zone, leaves through it to that zone; ``T1041``."""
    _, host, service, zone = session
    return _new(
        Step,
        (
            ("exfiltrate-direct", d.id, zone),  # key
            "exfiltrate-direct",  # kind
            "T1041",  # technique
            host,  # source
            zone,  # target
            service,  # service
            f"session to {host}:{service} opened from {zone} carries {d.id} out",  # reason
            (session, ("data", d.id)),  # pre
            (("exfil", d.id),),  # post
            host,  # host
            None,  # flow
            None,  # egress
            None,  # credential
            None,  # traffic
        ),
    )


def tamper_step(data_id: str, host: str) -> Step:
    """Row 10, tamper: a data item with ``integrity: true`` (the caller checks), once
    collected, is tampered with on ``host``, where it is stored; ``T1565.001``."""
    return _new(
        Step,
        (
            ("tamper", data_id),  # key
            "tamper",  # kind
            "T1565.001",  # technique
            host,  # source
            data_id,  # target
            None,  # service
            f"{data_id} has integrity: true and the attacker can reach it",  # reason
            (("data", data_id),),  # pre
            (("tamper", data_id),),  # post
            host,  # host
            None,  # flow
            None,  # egress
            None,  # credential
            None,  # traffic
        ),
    )


@dataclass
class Solution:
    """The fixpoint under one policy: every derived fact, its cost and its best step."""

    model: AttackModel
    policy: CompiledPolicy
    cost: dict[Fact, int] = field(default_factory=dict)
    order: dict[Fact, int] = field(default_factory=dict)
    best: dict[Fact, Step] = field(default_factory=dict)
    fired: dict[StepKey, Step] = field(default_factory=dict)
    complete: bool = True
    #: What plan extraction remembers about this solve, shared by every goal
    #: (:mod:`ztsim.engine.extraction` makes it on first use; a solve never changes).
    memo: object = field(default=None, repr=False, compare=False)

    def derivations(self) -> dict[Fact, list[Step]]:
        """Every fired step that derives each fact, cheapest first (ties by key).

        A step counts for a fact only when all its preconditions were derived.
        """
        cost = self.cost
        out: dict[Fact, list[tuple[int, StepKey, Step]]] = defaultdict(list)
        for key, st in self.fired.items():
            if all(p in cost for p in st.pre):
                c = 1 + sum(cost[p] for p in st.pre)
                for f in st.post:
                    if f in cost:
                        out[f].append((c, key, st))
        return {f: [st for _, _, st in sorted(lst)] for f, lst in out.items()}

    def reachable(self, fact: Fact) -> bool:
        """Whether ``fact`` was derived."""
        return fact in self.cost

    @property
    def facts(self) -> int:
        """How many facts were derived."""
        return len(self.cost)
