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
fire is :mod:`ztsim.engine.fixpoint`'s business.
"""

from __future__ import annotations

from typing import Literal, NamedTuple, TypeAlias

from ztsim.model.schema import (
    DataItem,
    EntryPoint,
    ExternalDestination,
    Login,
    Traffic,
    Vulnerability,
)

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
    "login_step",
    "sniff_step",
    "steal_step",
    "tamper_step",
]

#: The origin of a session opened from a host inside the organisation.
INSIDE = "*"

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
    return Step(
        key=("exploit", source, host, service, v.id),
        kind="exploit",
        technique="T1190" if origin != INSIDE else "T1210",
        source=source,
        target=host,
        service=service,
        reason=f"vulnerability {v.id} on {host}:{service} gives {v.gives}",
        pre=(stand,),
        post=_gives(host, service, v.gives, origin),
        host=host,
        flow=(source, host, service),
    )


def login_step(source: str, stand: Standing, host: str, lg: Login, origin: str) -> Step:
    """Row 3, log in: from ``source``, a flow to ``host`` and login ``lg`` there, with
    its credential held (the caller checks MFA), give ``lg.gives`` on ``host``;
    ``T1078`` from outside or for a session, ``T1021`` otherwise."""
    return Step(
        key=("login", source, host, lg.service, lg.credential, lg.gives),
        kind="login",
        technique="T1078" if origin != INSIDE or lg.gives == "service" else "T1021",
        source=source,
        target=host,
        service=lg.service,
        reason=f"credential {lg.credential} accepted by {host}:{lg.service} as {lg.gives}",
        pre=(stand, ("cred", lg.credential)),
        post=_gives(host, lg.service, lg.gives, origin),
        host=host,
        flow=(source, host, lg.service),
        credential=lg.credential,
    )


def escalate_step(host: str, v: Vulnerability) -> Step:
    """Row 4, escalate: ``user`` on ``host`` and local vulnerability ``v`` there give
    ``root``; ``T1068``."""
    return Step(
        key=("escalate", host, v.id),
        kind="escalate",
        technique="T1068",
        source=host,
        target=host,
        service=None,
        reason=f"local vulnerability {v.id} on {host} gives root",
        pre=(("priv", host, "user"),),
        post=(("priv", host, "root"),),
        host=host,
    )


def steal_step(host: str, cred: str, requires: str) -> Step:
    """Row 5, steal credential: ``requires`` (user or root) on ``host``, where
    ``cred`` is stored, gives it; ``T1552`` when readable as user, ``T1003`` as root."""
    return Step(
        key=("steal", host, cred),
        kind="steal",
        technique="T1552" if requires == "user" else "T1003",
        source=host,
        target=cred,
        service=None,
        reason=f"{cred} is stored on {host} (readable as {requires})",
        pre=(("priv", host, requires),),
        post=(("cred", cred),),
        host=host,
        credential=cred,
    )


def sniff_step(host: str, index: int, t: Traffic, cred: str) -> Step:
    """Row 6, sniff: ``root`` on ``host``, placed to see traffic flow ``t`` (number
    ``index``) that carries ``cred`` in clear (the solver checks the policy, the
    encryption and the zones), gives the credential; ``T1557``."""
    return Step(
        key=("sniff", host, str(index)),
        kind="sniff",
        technique="T1557",
        source=host,
        target=cred,
        service=t.service,
        reason=f"traffic {t.source} -> {t.to} {t.service} carries {cred} in clear",
        pre=(("priv", host, "root"),),
        post=(("cred", cred),),
        host=host,
        credential=cred,
        traffic=index,
    )


def collect_on_host_step(d: DataItem, host: str, level: str) -> Step:
    """Row 7, collect by code execution: ``level`` (what ``d`` requires, user for a
    served item) on ``host``, where ``d`` is stored, gives it; ``T1005``."""
    return Step(
        key=("collect", d.id, "exec"),
        kind="collect",
        technique="T1005",
        source=host,
        target=d.id,
        service=None,
        reason=f"{d.id} is stored on {host} (requires {d.requires})",
        pre=(("priv", host, level),),
        post=(("data", d.id),),
        host=host,
    )


def collect_through_session_step(d: DataItem, session: Fact) -> Step:
    """Row 7, collect through a session: a ``service`` session to the service that
    serves ``d`` gives it; ``T1213``."""
    _, host, _, origin = session
    return Step(
        key=("collect", d.id, "session", origin),
        kind="collect",
        technique="T1213",
        source=host,
        target=d.id,
        service=d.service,
        reason=f"{d.id} is served by {host}:{d.service}",
        pre=(session,),
        post=(("data", d.id),),
        host=host,
    )


def exfiltrate_step(data_id: str, host: str, dest: ExternalDestination, service: str) -> Step:
    """Row 8, exfiltrate: the data and ``user`` on ``host``, with egress from it to
    ``dest`` on ``service`` allowed (the solver checks), send the data out;
    ``T1041`` to a ``c2``, ``T1567`` to a ``web-service``."""
    role = dest.role
    return Step(
        key=("exfiltrate", data_id, host, dest.id, service),
        kind="exfiltrate",
        technique="T1041" if role == "c2" else "T1567",
        source=host,
        target=dest.id,
        service=service,
        reason=f"egress {host} -> {dest.address} ({role}) on {service}",
        pre=(("data", data_id), ("priv", host, "user")),
        post=(("exfil", data_id),),
        host=host,
        egress=(host, dest.id, service),
    )


def exfiltrate_directly_step(d: DataItem, session: Fact) -> Step:
    """Row 9, exfiltrate directly: ``d``, read through a ``service`` session opened
    from an external zone, leaves through it to that zone; ``T1041``."""
    _, host, service, zone = session
    return Step(
        key=("exfiltrate-direct", d.id, zone),
        kind="exfiltrate-direct",
        technique="T1041",
        source=host,
        target=zone,
        service=service,
        reason=f"session to {host}:{service} opened from {zone} carries {d.id} out",
        pre=(session, ("data", d.id)),
        post=(("exfil", d.id),),
        host=host,
    )


def tamper_step(data_id: str, host: str) -> Step:
    """Row 10, tamper: a data item with ``integrity: true`` (the caller checks), once
    collected, is tampered with on ``host``, where it is stored; ``T1565.001``."""
    return Step(
        key=("tamper", data_id),
        kind="tamper",
        technique="T1565.001",
        source=host,
        target=data_id,
        service=None,
        reason=f"{data_id} has integrity: true and the attacker can reach it",
        pre=(("data", data_id),),
        post=(("tamper", data_id),),
        host=host,
    )
