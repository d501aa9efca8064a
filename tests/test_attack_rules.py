"""The attacker's steps, one block per row of spec §5, each with what must NOT be possible."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import make_policy, make_topology, solve_under, steps_of

from ztsim.engine.fixpoint import Solution
from ztsim.engine.plans import extract_plan
from ztsim.inputs.loaded import LoadedTopology

C2 = {"id": "c2", "fqdn": "c2.evil.example", "role": "c2"}
FILES = {"id": "files", "fqdn": "*.files.example", "role": "web-service"}
BANK = {"id": "bank", "fqdn": "api.bank.example"}  # role: partner


def topo(
    hosts: list[dict[str, Any]],
    *,
    zones: list[str] = ("dmz", "lan"),  # type: ignore[assignment]
    credentials: list[str] = (),  # type: ignore[assignment]
    external: list[dict[str, Any]] = (),  # type: ignore[assignment]
    traffic: list[dict[str, Any]] = (),  # type: ignore[assignment]
    entry: list[dict[str, Any]] | None = None,
) -> LoadedTopology:
    """A topology with an ``internet`` external zone plus ``zones``."""
    spec: dict[str, Any] = {
        "zones": [{"id": "internet", "external": True}] + [{"id": z} for z in zones],
        "credentials": [{"id": c} for c in credentials],
        "hosts": hosts,
        "external": list(external),
        "traffic": list(traffic),
    }
    if entry is not None:
        spec["entry_points"] = entry
    return make_topology(spec)


def host(hid: str, zone: str = "lan", **fields: Any) -> dict[str, Any]:
    """A host dict; ``services`` may be given as plain strings."""
    services = fields.pop("services", [])
    fields["services"] = [{"service": s} if isinstance(s, str) else s for s in services]
    return {"id": hid, "zone": zone, **fields}


def plan_cost(sol: Solution, fact: tuple[str, ...]) -> int:
    """Steps of the plan extracted for ``fact`` (the entry counts as a step)."""
    plan = extract_plan(sol, fact)
    assert plan is not None, fact
    return plan.cost


def solve(t: LoadedTopology, policy: dict[str, Any] | None = None) -> Solution:
    """Solve ``t`` under a policy dict (the reference when None)."""
    return solve_under(t, make_policy(policy) if policy is not None else None)


DENY_EGRESS = {"egress": {"default": "deny"}}
PUBLIC_WEB = {"service": "443/tcp", "public": True}
FOOTHOLD = [{"id": "phish", "host": "laptop"}]


def laptop(**fields: Any) -> dict[str, Any]:
    """The phished workstation of the ``FOOTHOLD`` entry point."""
    return host("laptop", "lan", **fields)


# --------------------------------------------------------------------------- 1 enter


def test_enter_defaults_to_one_entry_per_external_zone():
    """No entry points: one per external zone, no credentials, no technique."""
    t = make_topology(
        {
            "zones": [
                {"id": "internet", "external": True},
                {"id": "partners", "external": True},
                {"id": "lan"},
            ],
            "hosts": [host("h")],
        }
    )
    assert [(e.id, e.zone, list(e.credentials)) for e in t.entry_points] == [
        ("from-internet", "internet", []),
        ("from-partners", "partners", []),
    ]
    sol = solve(t)
    assert sol.reachable(("zone", "internet")) and sol.reachable(("zone", "partners"))
    assert plan_cost(sol, ("zone", "internet")) == 1  # entering is a step
    assert sol.best[("zone", "internet")].technique is None
    assert not sol.reachable(("priv", "h", "user"))  # standing outside is no foothold


def test_enter_host_gives_user_by_default_with_t1566():
    """A host entry point gives ``user`` (not root) and uses Phishing unless told."""
    t = topo([laptop()], entry=FOOTHOLD)
    sol = solve(t)
    step = sol.best[("priv", "laptop", "user")]
    assert (step.kind, step.technique) == ("enter", "T1566")
    assert not sol.reachable(("priv", "laptop", "root"))
    assert not sol.reachable(("zone", "internet"))  # explicit entry points replace defaults


def test_enter_host_root_own_technique_and_credentials():
    """``gives: root``, an entry's own technique, and its leaked credentials."""
    t = topo(
        [laptop()],
        credentials=["k"],
        entry=[
            {"id": "insider", "host": "laptop", "gives": "root", "technique": "T1078"},
            {"id": "leak", "zone": "internet", "credentials": ["k"]},
        ],
    )
    sol = solve(t)
    assert sol.reachable(("priv", "laptop", "root")) and sol.reachable(("priv", "laptop", "user"))
    assert sol.best[("priv", "laptop", "root")].technique == "T1078"
    assert sol.reachable(("cred", "k")) and sol.best[("cred", "k")].kind == "enter"


# --------------------------------------------------------------------------- 2 exploit

EXPLOITABLE_WEB = host(
    "web",
    "dmz",
    services=[PUBLIC_WEB, "22/tcp"],
    vulnerabilities=[{"id": "CVE-W", "service": "443/tcp", "gives": "user"}],
)
INNER_APP = host(
    "app",
    "lan",
    services=["8080/tcp"],
    vulnerabilities=[{"id": "CVE-A", "service": "8080/tcp", "gives": "root"}],
)


def test_exploit_from_outside_is_t1190_and_costs_two_steps():
    """A public vulnerable service exploited from outside gives its level (T1190)."""
    sol = solve(topo([EXPLOITABLE_WEB]))
    step = sol.best[("priv", "web", "user")]
    assert (step.kind, step.technique, step.source) == ("exploit", "T1190", "internet")
    assert step.flow == ("internet", "web", "443/tcp")
    assert plan_cost(sol, ("priv", "web", "user")) == 2  # enter + exploit


def test_exploit_from_inside_is_t1210_and_gives_root():
    """An exploit launched from a host is T1210; ``gives: root`` gives root and user."""
    sol = solve(topo([EXPLOITABLE_WEB, INNER_APP]))
    step = sol.best[("priv", "app", "root")]
    assert (step.technique, step.source) == ("T1210", "web")
    assert sol.reachable(("priv", "app", "user"))
    assert plan_cost(sol, ("priv", "app", "root")) == 3


def test_exploit_needs_the_flow():
    """A deny rule in front of the vulnerable service blocks the exploit."""
    pol = {
        "segmentation": {
            "rules": [{"id": "no-app", "action": "deny", "to": {"host": "app"}}],
        }
    }
    sol = solve(topo([EXPLOITABLE_WEB, INNER_APP]), pol)
    assert sol.reachable(("priv", "web", "user"))
    assert not sol.reachable(("priv", "app", "user"))
    assert [s.target for s in steps_of(sol, "exploit")] == ["web", "web"]  # web, and web itself


def test_exploit_of_non_public_service_from_outside_is_impossible():
    """Even the reference policy cannot publish a non-public service."""
    t = topo(
        [
            host(
                "web",
                "dmz",
                services=["443/tcp"],
                vulnerabilities=[{"id": "CVE-W", "service": "443/tcp"}],
            )
        ]
    )
    sol = solve(t)
    assert not sol.reachable(("priv", "web", "user"))
    assert steps_of(sol, "exploit") == []


def test_exploit_giving_service_is_a_session_not_a_pivot():
    """``gives: service``: a session to that service only, no code execution, no pivot."""
    t = topo(
        [
            host(
                "db",
                "dmz",
                services=[{"service": "5432/tcp", "public": True}],
                vulnerabilities=[{"id": "SQLI", "service": "5432/tcp", "gives": "service"}],
            ),
            host(
                "inner",
                "lan",
                services=["8080/tcp"],
                vulnerabilities=[{"id": "CVE-I", "service": "8080/tcp"}],
            ),
        ],
        external=[C2],
    )
    # inner is reachable from db only
    pol = {
        "segmentation": {
            "default": "deny",
            "rules": [
                {"id": "in", "action": "allow", "from": {"zone": "internet"}},
                {"id": "db-inner", "action": "allow", "from": {"host": "db"}},
            ],
        }
    }
    sol = solve(t, pol)
    assert sol.reachable(("session", "db", "5432/tcp", "internet"))
    assert sol.best[("session", "db", "5432/tcp", "internet")].technique == "T1190"
    assert not sol.reachable(("priv", "db", "user"))
    assert not sol.reachable(("priv", "inner", "user"))


def test_inside_session_carries_no_exfiltration():
    """Data read through a session opened from inside still needs a shell with egress."""
    t = topo(
        [
            laptop(),
            host(
                "db",
                "lan",
                services=["5432/tcp"],
                vulnerabilities=[{"id": "SQLI", "service": "5432/tcp", "gives": "service"}],
                data=[{"id": "rows", "requires": "service", "service": "5432/tcp"}],
            ),
        ],
        external=[C2],
        entry=FOOTHOLD,
    )
    # db may send out, the laptop may not: the session on db is no place to send from
    pol = {
        "egress": {
            "default": "deny",
            "rules": [{"id": "db-out", "action": "allow", "from": {"host": "db"}}],
        }
    }
    sol = solve(t, pol)
    assert sol.reachable(("session", "db", "5432/tcp", "*"))
    assert sol.reachable(("data", "rows"))
    assert not sol.reachable(("exfil", "rows"))
    assert steps_of(sol, "exfiltrate-direct") == []
    # with egress from the laptop, the same data goes out through it (relay assumption)
    sol = solve(t)
    step = sol.best[("exfil", "rows")]
    assert (step.kind, step.source) == ("exfiltrate", "laptop")


# --------------------------------------------------------------------------- 3 log in

VPN = host(
    "vpn",
    "dmz",
    services=[PUBLIC_WEB],
    logins=[{"credential": "vpn-pw", "service": "443/tcp", "gives": "user"}],
)


def _leak(*creds: str) -> list[dict[str, Any]]:
    return [{"id": "leak", "zone": "internet", "credentials": list(creds)}]


def test_login_from_outside_is_t1078():
    """A leaked credential used from outside: Valid Accounts, two steps."""
    sol = solve(topo([VPN], credentials=["vpn-pw"], entry=_leak("vpn-pw")))
    step = sol.best[("priv", "vpn", "user")]
    assert (step.kind, step.technique, step.credential) == ("login", "T1078", "vpn-pw")
    assert plan_cost(sol, ("priv", "vpn", "user")) == 2


def test_login_needs_the_credential():
    """No credential held, no login."""
    sol = solve(topo([VPN], credentials=["vpn-pw"]))
    assert not sol.reachable(("priv", "vpn", "user"))


def test_login_blocked_by_mfa_for_a_leaked_entry_credential():
    """A leaked credential under MFA opens nothing."""
    t = topo([VPN], credentials=["vpn-pw"], entry=_leak("vpn-pw"))
    sol = solve(t, {"controls": {"mfa": ["vpn-pw"]}})
    assert sol.reachable(("cred", "vpn-pw"))  # held...
    assert not sol.reachable(("priv", "vpn", "user"))  # ...but useless
    assert steps_of(sol, "login") == []


def test_login_needs_the_flow():
    """A deny rule on the login's service blocks it."""
    t = topo([VPN], credentials=["vpn-pw"], entry=_leak("vpn-pw"))
    pol = {"segmentation": {"default": "deny"}}
    assert not solve(t, pol).reachable(("priv", "vpn", "user"))


INSIDE_CRED_HOSTS = [
    laptop(credentials=[{"credential": "ssh-key"}, {"credential": "db-pw"}]),
    host("srv", services=["22/tcp"], logins=[{"credential": "ssh-key", "service": "22/tcp"}]),
    host(
        "db",
        services=["5432/tcp"],
        logins=[{"credential": "db-pw", "service": "5432/tcp", "gives": "service"}],
    ),
]


def test_login_inside_is_t1021_but_t1078_for_service():
    """From a host: T1021 for code execution, T1078 for a service session."""
    t = topo(INSIDE_CRED_HOSTS, credentials=["ssh-key", "db-pw"], entry=FOOTHOLD)
    sol = solve(t)
    assert sol.best[("priv", "srv", "user")].technique == "T1021"
    db = sol.best[("session", "db", "5432/tcp", "*")]
    assert (db.kind, db.technique) == ("login", "T1078")
    # enter, steal, login
    assert plan_cost(sol, ("priv", "srv", "user")) == 3


def test_login_with_stolen_credential_blocked_by_mfa():
    """MFA also defeats a credential stolen on a host."""
    t = topo(INSIDE_CRED_HOSTS, credentials=["ssh-key", "db-pw"], entry=FOOTHOLD)
    sol = solve(t, {"controls": {"mfa": ["ssh-key"]}})
    assert sol.reachable(("cred", "ssh-key"))
    assert not sol.reachable(("priv", "srv", "user"))
    assert sol.reachable(("session", "db", "5432/tcp", "*"))  # the other one still works


# --------------------------------------------------------------------------- 4 escalate


def test_escalate_with_local_vulnerability_t1068():
    """``user`` plus a local vulnerability gives root."""
    t = topo(
        [laptop(vulnerabilities=[{"id": "LPE", "local": True, "gives": "root"}])], entry=FOOTHOLD
    )
    sol = solve(t)
    step = sol.best[("priv", "laptop", "root")]
    assert (step.kind, step.technique) == ("escalate", "T1068")
    assert plan_cost(sol, ("priv", "laptop", "root")) == 2


def test_escalate_needs_user():
    """A service session is not enough to use a local vulnerability."""
    t = topo(
        [
            host(
                "db",
                "dmz",
                services=[{"service": "5432/tcp", "public": True}],
                vulnerabilities=[
                    {"id": "SQLI", "service": "5432/tcp", "gives": "service"},
                    {"id": "LPE", "local": True, "gives": "root"},
                ],
            )
        ]
    )
    sol = solve(t)
    assert sol.reachable(("session", "db", "5432/tcp", "internet"))
    assert not sol.reachable(("priv", "db", "root"))
    assert steps_of(sol, "escalate") == []


def test_no_escalation_without_local_vulnerability():
    """User stays user without a local vulnerability."""
    sol = solve(topo([laptop()], entry=FOOTHOLD))
    assert not sol.reachable(("priv", "laptop", "root"))


# --------------------------------------------------------------------------- 5 steal


def test_steal_user_store_t1552():
    """A credential readable by ``user`` is stolen with T1552."""
    t = topo([laptop(credentials=[{"credential": "k"}])], credentials=["k"], entry=FOOTHOLD)
    step = solve(t).best[("cred", "k")]
    assert (step.kind, step.technique, step.source) == ("steal", "T1552", "laptop")


def test_steal_root_store_needs_root_t1003():
    """A root-only store is not readable at user; after escalation it is (T1003)."""
    stores = [{"credential": "k", "requires": "root"}]
    t = topo([laptop(credentials=stores)], credentials=["k"], entry=FOOTHOLD)
    assert not solve(t).reachable(("cred", "k"))
    t = topo(
        [
            laptop(
                credentials=stores, vulnerabilities=[{"id": "LPE", "local": True, "gives": "root"}]
            )
        ],
        credentials=["k"],
        entry=FOOTHOLD,
    )
    sol = solve(t)
    assert sol.best[("cred", "k")].technique == "T1003"
    assert plan_cost(sol, ("cred", "k")) == 3  # enter, escalate, steal


def test_steal_needs_code_execution_not_a_session():
    """A service session on a host does not read the host's files."""
    t = topo(
        [
            host(
                "db",
                "dmz",
                services=[{"service": "5432/tcp", "public": True}],
                vulnerabilities=[{"id": "SQLI", "service": "5432/tcp", "gives": "service"}],
                credentials=[{"credential": "k"}],
            )
        ],
        credentials=["k"],
    )
    assert not solve(t).reachable(("cred", "k"))


# --------------------------------------------------------------------------- 6 sniff


def sniff_topo(
    *,
    tap_zone: str = "lan",
    tap_gives: str = "root",
    client_zone: str = "lan",
    server_zone: str = "lan",
    encrypted: bool = False,
    credential: str | None = "db-pw",
    attacker_on: str = "tap",
) -> LoadedTopology:
    """client -> server:5432 carries ``db-pw``; the attacker holds ``attacker_on``."""
    flow: dict[str, Any] = {"from": "client", "to": "server", "service": "5432/tcp"}
    if credential:
        flow["credential"] = credential
    return topo(
        [
            host("tap", tap_zone),
            host("client", client_zone),
            host(
                "server",
                server_zone,
                services=[{"service": "5432/tcp", "encrypted": encrypted}],
                logins=[{"credential": "db-pw", "service": "5432/tcp"}],
            ),
        ],
        zones=sorted({"lan", tap_zone, client_zone, server_zone}),
        credentials=["db-pw"],
        traffic=[flow],
        entry=[{"id": "in", "host": attacker_on, "gives": tap_gives}],
    )


def test_sniff_credential_in_clear_t1557():
    """Root on a host sharing a zone with an endpoint reads the credential (T1557)."""
    sol = solve(sniff_topo())
    step = sol.best[("cred", "db-pw")]
    assert (step.kind, step.technique, step.source, step.traffic) == ("sniff", "T1557", "tap", 0)
    assert sol.best[("priv", "server", "user")].technique == "T1021"
    assert plan_cost(sol, ("priv", "server", "user")) == 3  # enter, sniff, login


def test_sniff_needs_root():
    """``user`` cannot capture traffic."""
    assert not solve(sniff_topo(tap_gives="user")).reachable(("cred", "db-pw"))


def test_sniff_needs_a_credential_in_the_traffic():
    """A flow without a credential gives nothing."""
    sol = solve(sniff_topo(credential=None))
    assert not sol.reachable(("cred", "db-pw"))
    assert steps_of(sol, "sniff") == []


def test_sniff_needs_the_traffic_allowed_by_the_policy():
    """A flow the policy denies never happens, so it cannot be sniffed."""
    pol = {
        "segmentation": {
            "rules": [{"id": "cut", "action": "deny", "from": {"host": "client"}}],
        }
    }
    assert not solve(sniff_topo(), pol).reachable(("cred", "db-pw"))


def test_sniff_needs_an_unencrypted_service():
    """An ``encrypted`` service's traffic cannot be read."""
    assert not solve(sniff_topo(encrypted=True)).reachable(("cred", "db-pw"))


def test_sniff_blocked_by_encrypt_in_transit():
    """``encrypt_in_transit`` stops every capture."""
    pol = {"controls": {"encrypt_in_transit": True}}
    assert not solve(sniff_topo(), pol).reachable(("cred", "db-pw"))


def test_sniff_not_from_an_endpoint():
    """The attacker on an endpoint of the flow does not sniff it (rule 6)."""
    sol = solve(sniff_topo(attacker_on="client"))
    assert not sol.reachable(("cred", "db-pw"))
    assert steps_of(sol, "sniff") == []


def test_sniff_needs_a_zone_shared_with_an_endpoint():
    """A host in another zone sees none of the flow; one in either endpoint's zone does."""
    assert not solve(sniff_topo(tap_zone="dmz")).reachable(("cred", "db-pw"))
    sol = solve(sniff_topo(tap_zone="dmz", server_zone="dmz"))
    assert sol.best[("cred", "db-pw")].kind == "sniff"
    sol = solve(sniff_topo(tap_zone="dmz", client_zone="dmz", server_zone="lan"))
    assert sol.best[("cred", "db-pw")].kind == "sniff"


def _egress_sniff_topo() -> LoadedTopology:
    return topo(
        [host("tap"), host("batch")],
        credentials=["bank-key"],
        external=[BANK],
        traffic=[{"from": "batch", "to": "bank", "service": "443/tcp", "credential": "bank-key"}],
        entry=[{"id": "in", "host": "tap", "gives": "root"}],
    )


def test_sniff_egress_traffic_always_readable():
    """Traffic to an external destination is sniffable (no ``encrypted`` flag outside)."""
    sol = solve(_egress_sniff_topo())
    assert sol.best[("cred", "bank-key")].kind == "sniff"


def test_sniff_egress_traffic_denied_by_egress_policy():
    """Denied egress traffic never flows, so it cannot be sniffed."""
    sol = solve(_egress_sniff_topo(), DENY_EGRESS)
    assert not sol.reachable(("cred", "bank-key"))


def test_sniff_traffic_from_an_external_zone():
    """Customers' or staff's flows from outside are sniffable next to their host endpoint."""
    t = topo(
        [
            host("tap", "dmz"),
            host(
                "vpn",
                "dmz",
                services=[{"service": "443/tcp", "public": True}],
                logins=[{"credential": "vpn-pw", "service": "443/tcp"}],
            ),
        ],
        credentials=["vpn-pw"],
        traffic=[{"from": "internet", "to": "vpn", "service": "443/tcp", "credential": "vpn-pw"}],
        entry=[{"id": "in", "host": "tap", "gives": "root"}],
    )
    assert solve(t).best[("cred", "vpn-pw")].kind == "sniff"


# --------------------------------------------------------------------------- 7 collect


def test_collect_with_code_execution_t1005():
    """Data at ``requires: user`` is collected by a user shell (T1005)."""
    t = topo([laptop(data=[{"id": "docs"}])], entry=FOOTHOLD)
    step = solve(t).best[("data", "docs")]
    assert (step.kind, step.technique, step.service) == ("collect", "T1005", None)


def test_collect_root_data_needs_root():
    """``requires: root`` data is out of a user's reach."""
    t = topo([laptop(data=[{"id": "shadow", "requires": "root"}])], entry=FOOTHOLD)
    assert not solve(t).reachable(("data", "shadow"))


def test_collect_service_data_with_code_execution_on_its_host():
    """Data served by a service is also readable by a shell on its host (T1005)."""
    t = topo(
        [
            laptop(
                services=["5432/tcp"],
                data=[{"id": "rows", "requires": "service", "service": "5432/tcp"}],
            )
        ],
        entry=FOOTHOLD,
    )
    assert solve(t).best[("data", "rows")].technique == "T1005"


def _session_topo(login_service: str) -> LoadedTopology:
    return topo(
        [
            laptop(credentials=[{"credential": "db-pw"}]),
            host(
                "db",
                services=["5432/tcp", "8080/tcp"],
                logins=[{"credential": "db-pw", "service": login_service, "gives": "service"}],
                data=[{"id": "rows", "requires": "service", "service": "5432/tcp"}],
            ),
        ],
        credentials=["db-pw"],
        entry=FOOTHOLD,
    )


def test_collect_through_a_session_t1213():
    """A session to the serving service reads the data (T1213)."""
    step = solve(_session_topo("5432/tcp")).best[("data", "rows")]
    assert (step.kind, step.technique, step.service) == ("collect", "T1213", "5432/tcp")


def test_session_to_another_service_does_not_collect():
    """A session to 8080 does not read what 5432 serves."""
    sol = solve(_session_topo("8080/tcp"))
    assert sol.reachable(("session", "db", "8080/tcp", "*"))
    assert not sol.reachable(("data", "rows"))


# --------------------------------------------------------------------------- 8 exfiltrate


def _exfil_topo(*external: dict[str, Any], level: str = "user") -> LoadedTopology:
    return topo(
        [laptop(data=[{"id": "docs"}])],
        external=list(external),
        entry=[{"id": "phish", "host": "laptop", "gives": level}],
    )


def test_exfiltrate_to_c2_t1041_cost_counts_every_step():
    """Data plus a shell with egress to the C2: T1041; enter, collect, exfiltrate."""
    sol = solve(_exfil_topo(C2))
    step = sol.best[("exfil", "docs")]
    assert (step.kind, step.technique, step.target, step.egress) == (
        "exfiltrate",
        "T1041",
        "c2",
        ("laptop", "c2", "443/tcp"),
    )
    plan = extract_plan(sol, ("exfil", "docs"))
    assert plan is not None
    assert [s.kind for s in plan.steps] == ["enter", "collect", "exfiltrate"]
    assert plan.cost == 3


def test_exfiltrate_to_web_service_t1567():
    """A web service the attacker can use also carries data out (T1567)."""
    assert solve(_exfil_topo(FILES)).best[("exfil", "docs")].technique == "T1567"


def test_exfiltrate_never_to_a_partner():
    """Only the organisation uses a partner: no exfiltration there, even with open egress."""
    sol = solve(_exfil_topo(BANK))
    assert sol.reachable(("data", "docs"))
    assert not sol.reachable(("exfil", "docs"))


def test_exfiltrate_needs_egress_allowed():
    """Egress denied to every destination: the data stays in."""
    assert not solve(_exfil_topo(C2, FILES), DENY_EGRESS).reachable(("exfil", "docs"))


@pytest.mark.parametrize(
    ("allowlist", "reachable"),
    [
        (["upload.files.example"], False),  # exact name does not cover *.files.example
        (["*.files.example"], True),
        (["*.example"], True),
        (["c2.evil.example.org"], False),
    ],
)
def test_exfiltrate_wildcard_destination_vs_allowlist(allowlist: list[str], reachable: bool):
    """A wildcard destination is covered only by a wildcard at or above it."""
    pol = {
        "egress": {
            "default": "deny",
            "rules": [{"id": "allow", "action": "allow", "to": allowlist}],
        }
    }
    sol = solve(_exfil_topo(FILES), pol)
    assert sol.reachable(("exfil", "docs")) is reachable


def test_exfiltrate_over_any_service_of_the_destination():
    """Egress allowed on one of the destination's services is enough (here DNS)."""
    c2 = {**C2, "services": ["443/tcp", "53/udp"]}
    pol = {
        "egress": {
            "default": "deny",
            "rules": [{"id": "dns", "action": "allow", "services": ["53/udp"]}],
        }
    }
    step = solve(_exfil_topo(c2), pol).best[("exfil", "docs")]
    assert step.egress == ("laptop", "c2", "53/udp")


def test_exfiltrate_needs_user_on_the_sender():
    """The host sending must run attacker code: a session does not send (see row 2 too)."""
    t = topo(
        [
            host(
                "db",
                "dmz",
                services=[{"service": "5432/tcp", "public": True}],
                vulnerabilities=[{"id": "SQLI", "service": "5432/tcp", "gives": "service"}],
                data=[{"id": "secret", "requires": "root"}],
            )
        ],
        external=[C2],
    )
    sol = solve(t)
    assert not sol.reachable(("data", "secret")) and not sol.reachable(("exfil", "secret"))


# --------------------------------------------------------------------------- 9 exfiltrate directly

PUBLIC_DB = host(
    "db",
    "dmz",
    services=[{"service": "5432/tcp", "public": True}],
    logins=[{"credential": "db-pw", "service": "5432/tcp", "gives": "service"}],
    data=[{"id": "rows", "requires": "service", "service": "5432/tcp"}],
)


def test_exfiltrate_directly_from_an_outside_session():
    """A session opened from outside carries the data out, whatever egress says."""
    t = topo([PUBLIC_DB], credentials=["db-pw"], entry=_leak("db-pw"))
    sol = solve(t, DENY_EGRESS)
    step = sol.best[("exfil", "rows")]
    assert (step.kind, step.technique, step.target) == ("exfiltrate-direct", "T1041", "internet")
    plan = extract_plan(sol, ("exfil", "rows"))
    assert plan is not None
    assert [s.kind for s in plan.steps] == ["enter", "login", "collect", "exfiltrate-direct"]


def test_exfiltrate_directly_after_an_injection_from_outside():
    """An exploit giving a session (SQL injection) from outside also carries data out."""
    t = topo(
        [
            host(
                "db",
                "dmz",
                services=[{"service": "5432/tcp", "public": True}],
                vulnerabilities=[{"id": "SQLI", "service": "5432/tcp", "gives": "service"}],
                data=[{"id": "rows", "requires": "service", "service": "5432/tcp"}],
            )
        ]
    )
    sol = solve(t, DENY_EGRESS)
    assert sol.best[("exfil", "rows")].kind == "exfiltrate-direct"
    assert plan_cost(sol, ("exfil", "rows")) == 4  # enter, exploit, collect, exfiltrate


def test_no_direct_exfiltration_from_an_inside_session():
    """A session opened from a host has no channel out of its own."""
    t = topo(
        [laptop(), {**PUBLIC_DB, "zone": "lan"}],
        credentials=["db-pw"],
        entry=[{"id": "phish", "host": "laptop", "credentials": ["db-pw"]}],
    )
    sol = solve(t, DENY_EGRESS)
    assert sol.reachable(("data", "rows"))
    assert not sol.reachable(("exfil", "rows"))
    assert steps_of(sol, "exfiltrate-direct") == []


# --------------------------------------------------------------------------- 10 tamper


def test_tamper_only_integrity_data_t1565_001():
    """Tampering is a goal for ``integrity: true`` data only."""
    t = topo(
        [laptop(data=[{"id": "ledger", "integrity": True}, {"id": "docs"}])],
        entry=FOOTHOLD,
    )
    sol = solve(t, DENY_EGRESS)  # no way out: tampering does not need one
    step = sol.best[("tamper", "ledger")]
    assert (step.kind, step.technique) == ("tamper", "T1565.001")
    assert plan_cost(sol, ("tamper", "ledger")) == 3  # enter, collect, tamper
    assert not sol.reachable(("tamper", "docs"))
    assert not sol.reachable(("exfil", "ledger"))


def test_tamper_needs_the_data():
    """Integrity data the attacker cannot collect cannot be tampered with."""
    t = topo(
        [laptop(data=[{"id": "ledger", "integrity": True, "requires": "root"}])],
        entry=FOOTHOLD,
    )
    assert not solve(t).reachable(("tamper", "ledger"))
