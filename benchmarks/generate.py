"""Seeded synthetic topology and policy generator for the ztsim benchmarks.

The generator writes one topology and three policies (``flat``, ``segmented`` and
``zero-trust``) in the ztsim file format version 1 (``shared/spec/model-v1.md``)::

    python benchmarks/generate.py --workload M --seed 1 --out /tmp/m
    python benchmarks/generate.py --hosts 10000 --zones 50 --rules 2000 --out /tmp/m

writes ``OUT/topology.yaml`` and ``OUT/policies/{flat,segmented,zero-trust}.yaml``
(``.json`` instead with ``--json``).

The model is meant to look like a real estate and to exercise every part of the
engine: external zones (``internet``, ``partners``), a DMZ with public services,
workstation, application, data, management and development zones, hosts with
labels, services, remote and local vulnerabilities, stored credentials and
logins using them, data items, external destinations (a C2 server with an exact
name, web services and partners with wildcard names), legitimate traffic flows
(some carrying credentials over unencrypted services) and several entry points.

Output is a pure function of the parameters and the seed: the same arguments give
byte-identical files.  Nothing iterates over a ``set`` and all randomness comes
from one ``random.Random(seed)``.

YAML is written by a small purpose-built emitter (block style for documents,
flow style for short leaf mappings such as services and rules), which is several
times faster than PyYAML's representer and quotes every scalar that a YAML 1.1
resolver could read as anything but a string.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

#: Bumped whenever the generated output changes for the same parameters; the
#: benchmark runner uses it (with the parameters) to decide whether a cached
#: workload directory is still valid.
GENERATOR_VERSION = 2

Doc = dict[str, Any]
"""A YAML/JSON document or mapping inside one."""


@dataclass(frozen=True)
class Workload:
    """A named benchmark size."""

    name: str
    hosts: int
    zones: int
    rules: int


WORKLOADS: dict[str, Workload] = {
    "S": Workload("S", 1_000, 10, 200),
    "M": Workload("M", 10_000, 50, 2_000),
    "L": Workload("L", 50_000, 200, 10_000),
    "XL": Workload("XL", 100_000, 400, 20_000),
}

POLICY_NAMES: tuple[str, ...] = ("flat", "segmented", "zero-trust")

# --------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------

#: service -> (name, encrypted)
SERVICE_INFO: dict[str, tuple[str, bool]] = {
    "22/tcp": ("ssh", True),
    "25/tcp": ("smtp", False),
    "53/tcp": ("dns-tcp", False),
    "53/udp": ("dns", False),
    "80/tcp": ("http", False),
    "389/tcp": ("ldap", False),
    "443/tcp": ("https", True),
    "445/tcp": ("smb", False),
    "636/tcp": ("ldaps", True),
    "873/tcp": ("rsync", False),
    "3306/tcp": ("mysql", False),
    "3389/tcp": ("rdp", True),
    "5432/tcp": ("postgres", False),
    "6379/tcp": ("redis", False),
    "8080/tcp": ("http-alt", False),
    "8443/tcp": ("https-alt", True),
    "9090/tcp": ("metrics", False),
    "9200/tcp": ("elasticsearch", False),
}

#: Business applications, with the classification of the data they keep.
APPS: dict[str, str] = {
    "billing": "pci",
    "payroll": "pii",
    "crm": "pii",
    "orders": "pci",
    "inventory": "internal",
    "search": "internal",
    "auth": "secret",
    "reporting": "confidential",
    "catalog": "public",
    "notifications": "internal",
    "hr": "pii",
    "analytics": "confidential",
    "claims": "phi",
    "ledger": "pci",
}
APP_NAMES: tuple[str, ...] = tuple(APPS)

#: Database engines of data zones -> the service they listen on.
DB_ENGINES: dict[str, str] = {
    "postgres": "5432/tcp",
    "mysql": "3306/tcp",
    "redis": "6379/tcp",
    "elastic": "9200/tcp",
}

DMZ_APPS: tuple[str, ...] = ("portal", "shop", "api-gw", "vpn", "mail-relay")
MGMT_APPS: tuple[str, ...] = (
    "jump",
    "ci",
    "monitoring",
    "config-mgmt",
    "ldap",
    "dns",
    "backup-ctl",
)
OWNERS: tuple[str, ...] = (
    "platform",
    "payments",
    "people",
    "growth",
    "security",
    "data-eng",
    "it",
)
DATA_NOUNS: tuple[str, ...] = ("records", "ledger", "export", "archive", "table")
PARTNER_NAMES: tuple[str, ...] = (
    "bank",
    "payments",
    "payroll-bureau",
    "insurer",
    "logistics",
    "tax",
    "audit",
    "telco",
    "shipping",
    "benefits",
    "credit",
    "travel",
)
TECHNIQUES: tuple[str, ...] = (
    "T1003",
    "T1005",
    "T1021",
    "T1041",
    "T1068",
    "T1078",
    "T1190",
    "T1210",
    "T1213",
    "T1552",
    "T1557",
    "T1565",
    "T1565.001",
    "T1566",
    "T1567",
)
PROBABILITIES: tuple[float, ...] = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)

#: Zone kinds after the fixed first ones, with their weight.
ZONE_KIND_WEIGHTS: dict[str, float] = {
    "corp": 0.25,
    "app": 0.35,
    "data": 0.2,
    "mgmt": 0.05,
    "dev": 0.15,
}
#: Relative share of hosts per zone kind.
HOST_KIND_WEIGHTS: dict[str, float] = {
    "corp": 3.0,
    "app": 2.0,
    "data": 1.0,
    "mgmt": 0.25,
    "dev": 1.0,
}


# --------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------


@dataclass(slots=True)
class Host:
    """A generated host, kept as objects until it is written."""

    id: str
    zone: str
    kind: str
    app: str
    tier: str
    env: str
    os: str
    owner: str
    services: list[Doc]
    vulnerabilities: list[Doc] = field(default_factory=list)
    credentials: list[Doc] = field(default_factory=list)
    logins: list[Doc] = field(default_factory=list)
    data: list[Doc] = field(default_factory=list)
    engine: str = ""

    def offers(self, service: str) -> bool:
        """Whether the host listens on ``service``."""
        return any(s["service"] == service for s in self.services)

    def ports(self) -> list[str]:
        """The services the host offers, in declaration order."""
        return [s["service"] for s in self.services]

    def public_services(self) -> list[str]:
        """The services published to external zones."""
        return [s["service"] for s in self.services if s.get("public")]

    def add_login(self, credential: str, service: str, gives: str) -> bool:
        """Add a login unless the same (credential, service) is already there."""
        for login in self.logins:
            if login["credential"] == credential and login["service"] == service:
                return False
        self.logins.append({"credential": credential, "service": service, "gives": gives})
        return True

    def store_credential(self, credential: str, requires: str) -> bool:
        """Store ``credential`` on the host unless it is already stored here."""
        for stored in self.credentials:
            if stored["credential"] == credential:
                return False
        self.credentials.append({"credential": credential, "requires": requires})
        return True

    def to_doc(self) -> Doc:
        """The host as a topology document entry."""
        doc: Doc = {
            "id": self.id,
            "zone": self.zone,
            "labels": {
                "app": self.app,
                "tier": self.tier,
                "env": self.env,
                "os": self.os,
                "owner": self.owner,
            },
            "services": self.services,
        }
        if self.vulnerabilities:
            doc["vulnerabilities"] = self.vulnerabilities
        if self.credentials:
            doc["credentials"] = self.credentials
        if self.logins:
            doc["logins"] = self.logins
        if self.data:
            doc["data"] = self.data
        return doc


@dataclass(slots=True)
class Zone:
    """A generated zone."""

    id: str
    kind: str
    env: str
    external: bool = False
    hosts: list[Host] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    #: app -> database engine of that app's cluster in this zone
    engines: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class External:
    """An external destination."""

    id: str
    fqdn: str
    role: str = "partner"
    services: list[str] = field(default_factory=lambda: ["443/tcp"])

    def to_doc(self) -> Doc:
        """The destination as a topology document entry."""
        doc: Doc = {"id": self.id, "fqdn": self.fqdn}
        if self.role != "partner":
            doc["role"] = self.role
        if self.services != ["443/tcp"]:
            doc["services"] = self.services
        return doc


@dataclass(slots=True)
class Flow:
    """A legitimate traffic flow, between hosts or to/from the outside."""

    src: Host | None
    src_zone: str
    dst: Host | None
    ext: External | None
    service: str
    credential: str | None = None

    def to_doc(self) -> Doc:
        """The flow as a topology ``traffic`` entry."""
        doc: Doc = {
            "from": self.src.id if self.src is not None else self.src_zone,
            "to": self.dst.id if self.dst is not None else _ext(self).id,
            "service": self.service,
        }
        if self.credential is not None:
            doc["credential"] = self.credential
        return doc


def _ext(flow: Flow) -> External:
    """The external destination of an egress flow."""
    assert flow.ext is not None
    return flow.ext


@dataclass(frozen=True)
class Params:
    """Generation parameters."""

    hosts: int
    zones: int
    rules: int
    seed: int
    name: str = "custom"

    def as_dict(self) -> dict[str, Any]:
        """The parameters (and generator version) as a JSON-able mapping."""
        return {
            "generator": GENERATOR_VERSION,
            "hosts": self.hosts,
            "zones": self.zones,
            "rules": self.rules,
            "seed": self.seed,
            "name": self.name,
        }


@dataclass
class Generated:
    """The generated documents, keyed by file stem."""

    topology: Doc
    policies: dict[str, Doc]
    counts: dict[str, int]


# --------------------------------------------------------------------------------
# Topology
# --------------------------------------------------------------------------------


class _TopologyBuilder:
    """Builds a topology; every method draws from the one shared ``Random``."""

    def __init__(self, params: Params, rng: Random) -> None:
        self.p = params
        self.rng = rng
        self.ids: dict[str, str] = {}
        self.zones: list[Zone] = []
        self.hosts: list[Host] = []
        self.credentials: list[str] = []
        self.external: list[External] = []
        self.flows: list[Flow] = []
        self.entries: list[Doc] = []
        self.ssh_credentials: list[str] = []
        self.data_count = 0
        self.cve_counter = 1000
        self.remote_cves: dict[str, list[tuple[str, str]]] = {}
        self.local_cves: list[str] = []

    # -- helpers ---------------------------------------------------------------

    def claim(self, ident: str, what: str) -> str:
        """Register a topology-wide id; ids are unique across every list."""
        if ident in self.ids:
            raise AssertionError(f"duplicate id {ident!r} ({what}, {self.ids[ident]})")
        self.ids[ident] = what
        return ident

    def new_credential(self, ident: str) -> str:
        """Declare a credential."""
        self.credentials.append(self.claim(ident, "credential"))
        return ident

    def zones_of(self, kind: str) -> list[Zone]:
        """Internal zones of ``kind`` that hold at least one host."""
        return [z for z in self.zones if z.kind == kind and z.hosts]

    def hosts_where(self, pred: Callable[[Host], bool]) -> list[Host]:
        """Hosts matching ``pred``, in declaration order."""
        return [h for h in self.hosts if pred(h)]

    def _service(self, service: str, public: bool = False) -> Doc:
        name, encrypted = SERVICE_INFO[service]
        doc: Doc = {"service": service, "name": name}
        if public:
            doc["public"] = True
        if encrypted:
            doc["encrypted"] = True
        return doc

    # -- zones -----------------------------------------------------------------

    def build_zones(self) -> None:
        """External zones, the DMZ and ``zones - 1`` other internal zones."""
        rng = self.rng
        for ext in ("internet", "partners"):
            self.zones.append(Zone(self.claim(ext, "zone"), "external", "", external=True))
        self.zones.append(Zone(self.claim("dmz", "zone"), "dmz", "prod"))
        fixed = ["corp", "app", "data", "mgmt", "app", "data"]
        kinds = list(ZONE_KIND_WEIGHTS)
        weights = list(ZONE_KIND_WEIGHTS.values())
        for i in range(1, self.p.zones):
            kind = fixed[i - 1] if i <= len(fixed) else rng.choices(kinds, weights)[0]
            if kind in ("app", "data"):
                env = "prod" if rng.random() < 0.6 else "staging"
                ident = f"{kind}-{env}-{i:03d}"
            elif kind == "corp":
                env, ident = "corp", f"corp-{i:03d}"
            elif kind == "dev":
                env, ident = "dev", f"dev-{i:03d}"
            else:
                env, ident = "prod", f"mgmt-{i:03d}"
            zone = Zone(self.claim(ident, "zone"), kind, env)
            if kind in ("app", "dev"):
                zone.apps = rng.sample(APP_NAMES, rng.randint(2, 5))
            elif kind == "data":
                zone.apps = rng.sample(APP_NAMES, rng.randint(1, 3))
            zone.engines = {app: rng.choice(tuple(DB_ENGINES)) for app in zone.apps}
            self.zones.append(zone)

    # -- hosts -----------------------------------------------------------------

    def build_hosts(self) -> None:
        """Spread the hosts over the internal zones and give them a profile."""
        rng = self.rng
        internal = [z for z in self.zones if not z.external]
        dmz = internal[0]
        others = internal[1:]
        n_dmz = max(4, min(40, self.p.hosts // 200))
        rest = self.p.hosts - n_dmz
        counts = [2] * len(others)
        weights = [HOST_KIND_WEIGHTS[z.kind] * rng.uniform(0.3, 1.7) for z in others]
        total = sum(weights)
        spare = rest - 2 * len(others)
        if spare < 0:
            raise ValueError("too few hosts for the number of zones")
        shares = [spare * w / total for w in weights]
        for i, share in enumerate(shares):
            counts[i] += int(share)
        leftover = rest - sum(counts)
        order = sorted(range(len(others)), key=lambda i: int(shares[i]) - shares[i])
        for i in order[:leftover]:
            counts[i] += 1
        number = 0
        for zone, count in [(dmz, n_dmz), *zip(others, counts, strict=True)]:
            for k in range(count):
                number += 1
                host = self._make_host(zone, k, number)
                zone.hosts.append(host)
                self.hosts.append(host)

    def _make_host(self, zone: Zone, k: int, number: int) -> Host:
        rng = self.rng
        kind = zone.kind
        env = zone.env
        owner = rng.choice(OWNERS)
        os_ = "linux"
        engine = ""
        svc: list[Doc]
        if kind == "dmz":
            app = DMZ_APPS[k] if k < len(DMZ_APPS) else rng.choice(DMZ_APPS)
            tier = "web"
            if app == "mail-relay":
                svc = [self._service("25/tcp", public=True), self._service("22/tcp")]
            elif app == "vpn":
                svc = [self._service("443/tcp", public=True)]
            else:
                svc = [self._service("443/tcp", public=True)]
                if app in ("portal", "shop") and rng.random() < 0.4:
                    svc.append(self._service("80/tcp", public=True))
                if rng.random() < 0.7:
                    svc.append(self._service("22/tcp"))
        elif kind == "corp":
            app, tier = "workstation", "endpoint"
            r = rng.random()
            if r < 0.75:
                os_ = "windows"
                svc = [self._service("3389/tcp")]
                if rng.random() < 0.5:
                    svc.append(self._service("445/tcp"))
            else:
                os_ = "macos" if r < 0.85 else "linux"
                svc = [self._service("22/tcp")]
        elif kind == "mgmt":
            app = MGMT_APPS[k] if k < len(MGMT_APPS) else rng.choice(MGMT_APPS)
            tier = "mgmt"
            svc = [
                self._service(s)
                for s in {
                    "jump": ["22/tcp", "3389/tcp"],
                    "ci": ["22/tcp", "8080/tcp"],
                    "monitoring": ["443/tcp", "9090/tcp", "22/tcp"],
                    "config-mgmt": ["22/tcp", "8443/tcp"],
                    "ldap": ["389/tcp", "636/tcp"],
                    "dns": ["53/udp", "53/tcp"],
                    "backup-ctl": ["22/tcp", "873/tcp"],
                }[app]
            ]
            if app == "jump":
                os_ = "windows" if rng.random() < 0.3 else "linux"
                if os_ == "linux":
                    svc = svc[:1]
        else:
            is_data = kind == "data" or (kind == "dev" and rng.random() < 0.3)
            app = rng.choice(zone.apps)
            if is_data:
                tier = "data"
                r = rng.random()
                if r < 0.8:
                    engine = zone.engines[app]
                    svc = [self._service(DB_ENGINES[engine])]
                    if rng.random() < 0.8:
                        svc.append(self._service("22/tcp"))
                elif r < 0.9:
                    engine, os_ = "fileshare", "windows"
                    svc = [self._service("445/tcp"), self._service("3389/tcp")]
                else:
                    engine = "backup"
                    svc = [self._service("22/tcp"), self._service("873/tcp")]
            else:
                tier = "app"
                if rng.random() < 0.85:
                    svc = [self._service("8080/tcp")]
                    for extra, p in (("22/tcp", 0.8), ("8443/tcp", 0.3), ("9090/tcp", 0.2)):
                        if len(svc) < 3 and rng.random() < p:
                            svc.append(self._service(extra))
                else:
                    os_ = "windows"
                    svc = [self._service("8443/tcp"), self._service("3389/tcp")]
                    if rng.random() < 0.3:
                        svc.append(self._service("445/tcp"))
        if kind != "dev" and rng.random() < 0.03:
            env = rng.choice(("prod", "staging", "dev"))  # a mislabelled host
        prefix = "ws" if app == "workstation" else app
        ident = self.claim(f"{prefix}-{number:06d}", "host")
        return Host(ident, zone.id, kind, app, tier, env, os_, owner, svc, engine=engine)

    # -- vulnerabilities ---------------------------------------------------------

    def _remote_cve(self, service: str) -> tuple[str, str]:
        pool = self.remote_cves.setdefault(service, [])
        size = max(2, self.p.hosts // 2500)
        if len(pool) < size and (not pool or self.rng.random() < 0.5):
            self.cve_counter += 1
            gives = self.rng.choices(("user", "root", "service"), (0.5, 0.25, 0.25))[0]
            pool.append((f"CVE-2025-{self.cve_counter:05d}", gives))
        return self.rng.choice(pool)

    def build_vulnerabilities(self) -> None:
        """Remote vulnerabilities on a few percent of hosts, local ones on more."""
        rng = self.rng
        n_local = max(3, self.p.hosts // 5000)
        for i in range(n_local):
            self.local_cves.append(f"CVE-2024-{40000 + i:05d}")
        for host in self.hosts:
            chance = 0.4 if host.kind == "dmz" else 0.04
            if rng.random() < chance:
                ports = host.public_services() if host.kind == "dmz" else host.ports()
                service = rng.choice(ports or host.ports())
                cve, gives = self._remote_cve(service)
                host.vulnerabilities.append({"id": cve, "service": service, "gives": gives})
            if rng.random() < (0.15 if host.tier == "endpoint" else 0.08):
                host.vulnerabilities.append(
                    {"id": rng.choice(self.local_cves), "local": True, "gives": "root"}
                )

    # -- credentials -----------------------------------------------------------

    def build_credentials(self) -> None:
        """Credentials, where they are stored and where they log in."""
        rng = self.rng
        workstations = self.hosts_where(lambda h: h.app == "workstation")
        jumps = self.hosts_where(lambda h: h.app == "jump") or self.hosts_where(
            lambda h: h.tier == "mgmt"
        )
        app_hosts = self.hosts_where(lambda h: h.tier == "app")
        by_app: dict[str, list[Host]] = {}
        for h in app_hosts:
            by_app.setdefault(h.app, []).append(h)

        # Per-cluster SSH keys: zone x app, logins on every host with 22/tcp.
        for zone in self.zones:
            if zone.external or zone.kind == "corp":
                continue
            clusters: dict[str, list[Host]] = {}
            for h in zone.hosts:
                if h.offers("22/tcp"):
                    clusters.setdefault(h.app, []).append(h)
            for app, members in clusters.items():
                cred = self.new_credential(f"ssh-{zone.id}-{app}")
                self.ssh_credentials.append(cred)
                gives = "root" if rng.random() < 0.4 else "user"
                for h in members:
                    h.add_login(cred, "22/tcp", gives)
                for jump in rng.sample(jumps, min(len(jumps), rng.randint(1, 2))):
                    jump.store_credential(cred, "user")
                if workstations and rng.random() < 0.3:
                    rng.choice(workstations).store_credential(cred, "user")
                if rng.random() < 0.3:
                    rng.choice(members).store_credential(cred, "root")

        # Team domain accounts: RDP logins on that team's Windows hosts.
        windows = self.hosts_where(lambda h: h.offers("3389/tcp"))
        for team in OWNERS:
            cred = self.new_credential(f"ad-{team}")
            members = [h for h in windows if h.owner == team]
            for h in members:
                h.add_login(cred, "3389/tcp", "user")
            team_ws = [h for h in members if h.app == "workstation"]
            for h in team_ws:  # cached domain logons, dumped with admin rights
                if rng.random() < 0.2:
                    h.store_credential(cred, "root")
            if team_ws:
                rng.choice(team_ws).store_credential(cred, "root")
        admin = self.new_credential("ad-domain-admin")
        for h in windows:
            if h.tier != "endpoint":
                h.add_login(admin, "3389/tcp", "root")
        for jump in rng.sample(jumps, min(len(jumps), 3)):
            jump.store_credential(admin, "root")

        # Database passwords: one per data cluster (zone x app x engine).
        for zone in self.zones:
            if zone.external:
                continue
            clusters2: dict[tuple[str, str], list[Host]] = {}
            for h in zone.hosts:
                if h.engine in DB_ENGINES:
                    clusters2.setdefault((h.app, h.engine), []).append(h)
            for (app, engine), members in clusters2.items():
                cred = self.new_credential(f"db-{app}-{engine}-{zone.id}")
                for h in members:
                    h.add_login(cred, DB_ENGINES[engine], "service")
                holders = by_app.get(app) or app_hosts
                for h in rng.sample(holders, min(len(holders), rng.randint(1, 3))):
                    h.store_credential(cred, "user")

        # LDAP bind password: sniffable on 389/tcp.
        ldap = self.hosts_where(lambda h: h.offers("389/tcp"))
        if ldap:
            cred = self.new_credential("ldap-bind")
            for h in ldap:
                h.add_login(cred, "389/tcp", "service")
            for h in rng.sample(app_hosts, min(len(app_hosts), 5)):
                h.store_credential(cred, "user")

        # VPN password (leaked in an entry point) and a partner API key.
        vpn = self.new_credential("vpn-password")
        for h in self.hosts_where(lambda h: h.app == "vpn"):
            h.add_login(vpn, "443/tcp", "user")
        for h in rng.sample(workstations, min(len(workstations), 3)):
            h.store_credential(vpn, "user")
        api = self.new_credential("partner-api-key")
        for h in self.hosts_where(lambda h: h.app == "api-gw"):
            h.add_login(api, "443/tcp", "service")
        for h in rng.sample(app_hosts, min(len(app_hosts), 2)):
            h.store_credential(api, "user")

        # Backup root key: high value, accepted on a few percent of Linux hosts.
        backup = self.new_credential("backup-root-key")
        for h in self.hosts:
            if h.offers("22/tcp") and h.os == "linux" and rng.random() < 0.02:
                h.add_login(backup, "22/tcp", "root")
        for h in self.hosts_where(lambda h: h.app == "backup-ctl" or h.engine == "backup"):
            h.store_credential(backup, "root")

        # A CI deploy key: stored on CI hosts, root on a sample of app hosts.
        ci = self.hosts_where(lambda h: h.app == "ci")
        if ci:
            deploy = self.new_credential("ci-deploy-key")
            for h in ci:
                h.store_credential(deploy, "user")
            for h in app_hosts:
                if h.offers("22/tcp") and rng.random() < 0.05:
                    h.add_login(deploy, "22/tcp", "root")

    # -- data ------------------------------------------------------------------

    def _data_item(
        self, host: Host, requires: str, service: str | None, classification: str
    ) -> None:
        rng = self.rng
        self.data_count += 1
        noun = rng.choice(DATA_NOUNS)
        ident = self.claim(f"{host.app}-{noun}-{self.data_count:05d}", "data")
        doc: Doc = {"id": ident, "classification": classification}
        if rng.random() < 0.85:
            doc["records"] = int(10 ** rng.uniform(2.0, 6.8))
        if requires != "user" or rng.random() < 0.5:
            doc["requires"] = requires
        if service is not None:
            doc["service"] = service
        if rng.random() < 0.3:
            doc["integrity"] = True
        host.data.append(doc)

    def build_data(self) -> None:
        """About one data item per 50 hosts, mostly in databases."""
        rng = self.rng
        n = max(10, self.p.hosts // 50)
        data_hosts = self.hosts_where(lambda h: h.tier == "data")
        app_hosts = self.hosts_where(lambda h: h.tier == "app")
        workstations = self.hosts_where(lambda h: h.app == "workstation")
        gateways = self.hosts_where(lambda h: h.app == "api-gw")
        for gw in gateways[:1]:
            self._data_item(gw, "service", "443/tcp", "pii")
        for _ in range(n - min(1, len(gateways))):
            r = rng.random()
            if r < 0.65 and data_hosts:
                h = rng.choice(data_hosts)
                cls = APPS.get(h.app, "internal")
                if h.engine in DB_ENGINES:
                    self._data_item(h, "service", DB_ENGINES[h.engine], cls)
                else:
                    self._data_item(h, rng.choice(("user", "root")), None, cls)
            elif r < 0.9 and app_hosts:
                h = rng.choice(app_hosts)
                self._data_item(
                    h, rng.choice(("user", "user", "root")), None, APPS.get(h.app, "internal")
                )
            elif workstations:
                h = rng.choice(workstations)
                self._data_item(h, "user", None, rng.choice(("pii", "internal")))

    # -- external destinations ---------------------------------------------------

    def build_external(self) -> None:
        """C2 servers, web services the attacker can use, and partners."""
        rng = self.rng
        fixed = [
            External("c2", "c2.attacker.example", "c2"),
            External("cloud-storage", "*.storage.example", "web-service"),
            External("paste-site", "*.paste.example", "web-service"),
            External("code-hosting", "code.hosting.example", "web-service"),
            External("saas-crm", "*.crm-saas.example", "web-service"),
        ]
        n_partners = max(3, min(len(PARTNER_NAMES) * 3, self.p.hosts // 2000))
        for i in range(n_partners):
            name = PARTNER_NAMES[i % len(PARTNER_NAMES)]
            if i >= len(PARTNER_NAMES):
                name = f"{name}{i // len(PARTNER_NAMES) + 1}"
            if i % 7 == 1:
                ext = External(f"partner-{name}", f"*.{name}.example")
            else:
                ext = External(f"partner-{name}", f"api.{name}.example")
            if rng.random() < 0.2:
                ext.services = ["443/tcp", "22/tcp"]
            fixed.append(ext)
        for ext in fixed:
            self.claim(ext.id, "external")
            self.external.append(ext)

    # -- traffic ---------------------------------------------------------------

    def build_traffic(self) -> None:
        """A few hundred legitimate flows, drawn round-robin from flow kinds."""
        rng = self.rng
        target = min(600, max(100, self.p.hosts // 20))
        seen: set[tuple[str, str, str]] = set()
        flows: list[Flow] = []

        def add(flow: Flow) -> None:
            if flow.src is not None and flow.src is flow.dst:
                return
            key = (
                flow.src.id if flow.src else flow.src_zone,
                flow.dst.id if flow.dst else _ext(flow).id,
                flow.service,
            )
            if key not in seen:
                seen.add(key)
                flows.append(flow)

        dmz = [h for h in self.hosts if h.kind == "dmz"]
        for h in dmz:
            for s in h.public_services():
                add(Flow(None, "internet", h, None, s))
        for h in dmz:
            if h.app == "api-gw":
                add(Flow(None, "partners", h, None, "443/tcp"))

        app_hosts = self.hosts_where(lambda h: h.tier == "app")
        web8080 = [h for h in app_hosts if h.offers("8080/tcp")]
        web8443 = [h for h in app_hosts if h.offers("8443/tcp")]
        # (holder, credential) for application credentials used over the network
        db_logins: list[tuple[Host, str]] = []
        for h in self.hosts:
            for stored in h.credentials:
                cred = stored["credential"]
                if cred.startswith("db-") or cred == "ldap-bind":
                    db_logins.append((h, cred))
        login_index: dict[str, list[tuple[Host, str]]] = {}
        for h in self.hosts:
            for login in h.logins:
                login_index.setdefault(login["credential"], []).append((h, login["service"]))
        workstations = self.hosts_where(lambda h: h.app == "workstation")
        jumps = self.hosts_where(lambda h: h.app == "jump")
        monitors = self.hosts_where(lambda h: h.app == "monitoring")
        backups = self.hosts_where(lambda h: h.app == "backup-ctl" or h.engine == "backup")
        partners = [e for e in self.external if e.role == "partner"]
        storage = next(e for e in self.external if e.id == "cloud-storage")
        saas = next(e for e in self.external if e.id == "saas-crm")

        fronts = [h for h in dmz if h.app in ("portal", "shop", "api-gw")] or dmz
        dmz443 = [h for h in dmz if h.offers("443/tcp")]
        scraped = [h for h in app_hosts if h.offers("9090/tcp")]

        def gen_web() -> None:
            if web8080:
                add(Flow(rng.choice(fronts), "", rng.choice(web8080), None, "8080/tcp"))

        def gen_db() -> None:
            if db_logins:
                holder, cred = rng.choice(db_logins)
                dst, service = rng.choice(login_index[cred])
                add(Flow(holder, holder.zone, dst, None, service, cred))

        def gen_partner() -> None:
            if app_hosts and partners:
                ext = rng.choice(partners)
                add(Flow(rng.choice(app_hosts), "", None, ext, rng.choice(ext.services)))

        def gen_backup() -> None:
            if backups:
                add(Flow(rng.choice(backups), "", None, storage, "443/tcp"))

        def gen_ssh() -> None:
            if jumps and self.ssh_credentials:
                cred = rng.choice(self.ssh_credentials)
                dst, service = rng.choice(login_index[cred])
                add(Flow(rng.choice(jumps), "", dst, None, service, cred))

        def gen_workstation() -> None:
            if workstations:
                src = rng.choice(workstations)
                r = rng.random()
                if r < 0.4 and web8443:
                    add(Flow(src, "", rng.choice(web8443), None, "8443/tcp"))
                elif r < 0.7:
                    add(Flow(src, "", rng.choice(dmz443), None, "443/tcp"))
                else:
                    add(Flow(src, "", None, saas, "443/tcp"))

        def gen_monitoring() -> None:
            if monitors and scraped:
                add(Flow(rng.choice(monitors), "", rng.choice(scraped), None, "9090/tcp"))

        kinds = [
            gen_web,
            gen_db,
            gen_db,
            gen_partner,
            gen_backup,
            gen_ssh,
            gen_workstation,
            gen_monitoring,
            gen_db,
            gen_web,
        ]
        attempts = 0
        while len(flows) < target and attempts < target * 20:
            kinds[attempts % len(kinds)]()
            attempts += 1
        for flow in flows:
            if flow.src is not None:
                flow.src_zone = flow.src.zone
        self.flows = flows

    # -- entry points ----------------------------------------------------------

    def build_entries(self) -> None:
        """Internet attacker, leaked credentials and a phished workstation."""
        rng = self.rng
        self.entries.append(
            {"id": self.claim("internet-attacker", "entry"), "zone": "internet", "credentials": []}
        )
        self.entries.append(
            {
                "id": self.claim("leaked-vpn-password", "entry"),
                "zone": "internet",
                "credentials": ["vpn-password"],
            }
        )
        self.entries.append(
            {
                "id": self.claim("leaked-partner-key", "entry"),
                "zone": "partners",
                "credentials": ["partner-api-key"],
            }
        )
        workstations = self.hosts_where(lambda h: h.app == "workstation" and h.os == "windows")
        if workstations:
            ws = rng.choice(workstations)
            self.entries.append(
                {"id": self.claim(f"phished-{ws.id}", "entry"), "host": ws.id, "gives": "user"}
            )

    # -- assembly --------------------------------------------------------------

    def build(self) -> Doc:
        """Build everything and return the topology document."""
        self.build_zones()
        self.build_hosts()
        self.build_vulnerabilities()
        self.build_credentials()
        self.build_data()
        self.build_external()
        self.build_traffic()
        self.build_entries()
        zones: list[Doc] = []
        for z in self.zones:
            zones.append({"id": z.id, "external": True} if z.external else {"id": z.id})
        return {
            "ztsim": 1,
            "kind": "topology",
            "name": f"synthetic-{self.p.name.lower()}-seed{self.p.seed}",
            "description": (
                f"Synthetic benchmark topology: {self.p.hosts} hosts, "
                f"{self.p.zones} internal zones, seed {self.p.seed} "
                f"(benchmarks/generate.py v{GENERATOR_VERSION})."
            ),
            "zones": zones,
            "credentials": [{"id": c} for c in self.credentials],
            "hosts": [h.to_doc() for h in self.hosts],
            "external": [e.to_doc() for e in self.external],
            "traffic": [f.to_doc() for f in self.flows],
            "entry_points": self.entries,
        }


# --------------------------------------------------------------------------------
# Policies
# --------------------------------------------------------------------------------

_RANGES: tuple[tuple[int, int], ...] = (
    (8000, 8999),
    (9000, 9999),
    (3300, 3399),
    (5400, 5499),
    (6300, 6399),
)


def _service_spec(rng: Random, service: str, allow_range: bool) -> str:
    """``service`` itself or, sometimes, a port range covering it."""
    port_s, proto = service.split("/")
    port = int(port_s)
    if allow_range and rng.random() < 0.5:
        for low, high in _RANGES:
            if low <= port <= high:
                return f"{low}-{high}/{proto}"
    return service


class _PolicyBuilder:
    """Builds the segmented and zero-trust policies from a built topology."""

    def __init__(self, topo: _TopologyBuilder, rng: Random, strict: bool) -> None:
        self.t = topo
        self.rng = rng
        self.strict = strict
        self.rule_ids: dict[str, None] = {}
        self.keys: dict[str, None] = {}
        self.internal = [z for z in topo.zones if not z.external and z.hosts]
        self.by_kind: dict[str, list[Zone]] = {}
        self.pools: dict[tuple[str, ...], list[Zone]] = {}
        for z in self.internal:
            self.by_kind.setdefault(z.kind, []).append(z)
        self.jumps = [h for h in topo.hosts if h.app == "jump"]
        self.app_hosts = [h for h in topo.hosts if h.tier == "app"] or topo.hosts
        self.present_apps = {h.app: None for h in topo.hosts}

    # -- helpers ---------------------------------------------------------------

    def rule_id(self, stem: str) -> str:
        """A rule id unique within the policy."""
        ident = f"{stem}-{len(self.rule_ids) + 1:05d}"
        self.rule_ids[ident] = None
        return ident

    def fresh(self, rule: Doc) -> bool:
        """Whether no equivalent rule (same action, selectors, services) exists."""
        key = repr([(k, v) for k, v in rule.items() if k != "id"])
        if key in self.keys:
            return False
        self.keys[key] = None
        return True

    def zone(self, *kinds: str) -> Zone:
        """A random internal zone of one of ``kinds`` (any zone if none exists)."""
        pool = self.pools.get(kinds)
        if pool is None:
            pool = [z for k in kinds for z in self.by_kind.get(k, [])] or self.internal
            self.pools[kinds] = pool
        return self.rng.choice(pool)

    def host_selector(self, h: Host, modes: Sequence[str]) -> Doc:
        """A selector matching ``h``, built the way ``mode`` says."""
        mode = self.rng.choice(modes)
        if mode == "host":
            return {"host": h.id}
        if mode == "zone":
            return {"zone": h.zone}
        if mode == "app":
            return {"labels": {"app": h.app}}
        if mode == "app-env":
            return {"labels": {"app": h.app, "env": h.env}}
        if mode == "tier-zone":
            return {"zone": h.zone, "labels": {"tier": h.tier}}
        raise ValueError(mode)

    # -- segmentation ----------------------------------------------------------

    def traffic_rules(self, limit: int) -> list[Doc]:
        """Allow rules for the legitimate flows between hosts and from outside."""
        rng = self.rng
        rules: list[Doc] = []
        src_modes = ("app-env", "host", "tier-zone") if self.strict else ("zone", "app-env", "app")
        dst_modes = ("host", "app-env") if self.strict else ("zone", "app", "tier-zone")
        for flow in self.t.flows:
            if len(rules) >= limit:
                break
            if flow.dst is None or rng.random() < 0.05:  # egress, or left broken
                continue
            if flow.src is None:
                src: Doc = {"zone": flow.src_zone}
            else:
                src = self.host_selector(flow.src, src_modes)
            rule: Doc = {
                "id": "",
                "action": "allow",
                "from": src,
                "to": self.host_selector(flow.dst, dst_modes),
                "services": [_service_spec(rng, flow.service, not self.strict)],
            }
            if self.fresh(rule):
                rule["id"] = self.rule_id("allow-flow")
                rules.append(rule)
        return rules

    def deny_rule(self) -> Doc:
        """A random deny rule, typically shadowing part of a later allow."""
        rng = self.rng
        r = rng.randrange(6)
        rule: Doc
        if r == 0:
            rule = {"from": {"labels": {"env": "dev"}}, "to": {"zone": self.zone("app", "data").id}}
        elif r == 1:
            rule = {"from": {"zone": self.zone("corp").id}, "to": {"zone": self.zone("data").id}}
        elif r == 2:
            rule = {
                "from": {"zone": self.zone("app", "dev", "corp").id},
                "to": {"labels": {"tier": "data"}},
                "services": rng.sample(["22/tcp", "3389/tcp", "445/tcp"], 2),
            }
        elif r == 3:
            z = self.zone("app", "data", "dev")
            hosts = rng.sample(z.hosts, min(3, len(z.hosts)))
            rule = {
                "from": {"zone": self.zone("corp", "app", "dev").id},
                "to": {"host": [h.id for h in hosts]},
                "services": ["445/tcp", "3389/tcp"],
            }
        elif r == 4:
            rule = {
                "from": {"labels": {"tier": "endpoint"}},
                "to": {"zone": self.zone("mgmt").id},
                "services": ["any"],
            }
        else:
            z = self.zone("data")
            rule = {
                "from": "any",
                "to": {"zone": z.id, "labels": {"env": rng.choice(z.hosts).env}},
                "services": ["1-1023/tcp"],
            }
        return {"id": "", "action": "deny", **rule}

    def allow_rule(self) -> Doc:
        """A random broad allow rule."""
        rng = self.rng
        r = rng.randrange(9)
        rule: Doc
        if r == 0:
            if self.strict and self.jumps:
                src: Doc = {"host": [h.id for h in rng.sample(self.jumps, min(3, len(self.jumps)))]}
            else:
                src = {"zone": self.zone("mgmt").id}
            rule = {
                "from": src,
                "to": {"zone": self.zone("app", "data", "dev").id},
                "services": ["22/tcp", "3389/tcp"],
            }
        elif r == 1:
            rule = {
                "from": {"zone": self.zone("app").id},
                "to": {"zone": self.zone("data").id},
                "services": ["5432/tcp", "3306/tcp", "6379/tcp", "9200/tcp"],
            }
        elif r == 2:
            s, d = rng.choice(self.app_hosts), rng.choice(self.app_hosts)
            rule = {
                "from": {"labels": {"tier": s.tier, "env": s.env}},
                "to": {"labels": {"app": d.app, "env": d.env}},
                "services": ["8443/tcp"] if self.strict else ["8000-8999/tcp"],
            }
        elif r == 3:
            rule = {
                "from": {"zone": self.zone("corp").id},
                "to": {"zone": "dmz"},
                "services": ["443/tcp", "80/tcp"],
            }
        elif r == 4 and not self.strict:
            z1, z2 = self.zone("app", "dev"), self.zone("app", "data", "dev")
            rule = {"from": {"zone": z1.id}, "to": {"zone": z2.id}, "services": ["1024-65535/tcp"]}
        elif r == 5 and ("dns" in self.present_apps or "ldap" in self.present_apps):
            target = rng.choice([a for a in ("dns", "ldap") if a in self.present_apps])
            rule = {
                "from": "any" if not self.strict else {"zone": self.zone().id},
                "to": {"labels": {"app": target}},
                "services": (["53/udp", "53/tcp"] if target == "dns" else ["389/tcp", "636/tcp"]),
            }
        elif r == 6 and "monitoring" in self.present_apps:
            rule = {
                "from": {"labels": {"app": "monitoring"}},
                "to": {"zone": self.zone().id},
                "services": ["9090/tcp", "9100-9199/tcp"],
            }
        elif r == 7:
            d = rng.choice(self.app_hosts)
            rule = {
                "from": {"zone": self.zone("corp").id},
                "to": {"labels": {"app": d.app, "tier": d.tier}},
                "services": ["8443/tcp", "443/tcp"],
            }
        else:
            z = self.zone("data")
            d = rng.choice(z.hosts)
            rule = {
                "from": {"labels": {"app": d.app}},
                "to": {"zone": z.id, "labels": {"tier": d.tier}},
            }
        return {"id": "", "action": "allow", **rule}

    def segmentation(self, n: int) -> list[Doc]:
        """``n`` segmentation rules: top denies, external, flows, then a mix."""
        rng = self.rng
        rules: list[Doc] = []
        quarantine = rng.sample(self.t.hosts, min(4, len(self.t.hosts)))
        head: list[Doc] = [
            {"id": "", "action": "deny", "from": {"host": [h.id for h in quarantine]}},
            {
                "id": "",
                "action": "deny",
                "from": {"labels": {"env": "dev"}},
                "to": {"labels": {"env": "prod", "tier": "data"}},
            },
            {
                "id": "",
                "action": "allow",
                "from": {"zone": "internet"},
                "to": {"zone": "dmz"},
                "services": ["443/tcp", "80/tcp", "25/tcp"],
            },
            {
                "id": "",
                "action": "allow",
                "from": {"zone": "partners"},
                "to": {"labels": {"app": "api-gw"}},
                "services": ["443/tcp"],
            },
        ]
        for rule in head:
            if len(rules) < n and self.fresh(rule):
                rule["id"] = self.rule_id(f"{rule['action']}-base")
                rules.append(rule)
        rules.extend(self.traffic_rules(max(0, min(n - len(rules), int(n * 0.45)))))
        tail: list[Doc] = []
        attempts = 0
        while len(rules) + len(tail) < n and attempts < n * 50:
            attempts += 1
            rule = self.deny_rule() if rng.random() < 0.3 else self.allow_rule()
            if self.fresh(rule):
                rule["id"] = self.rule_id(f"{rule['action']}-seg")
                tail.append(rule)
        rng.shuffle(tail)
        rules.extend(tail)
        return rules

    # -- egress ----------------------------------------------------------------

    def egress(self, n: int) -> list[Doc]:
        """``n`` egress rules: an allowlist (strict) or a blocklist."""
        rng = self.rng
        rules: list[Doc] = []
        partners = [e for e in self.t.external if e.role == "partner"]

        def push(rule: Doc, stem: str) -> None:
            if len(rules) < n and self.fresh(rule):
                rule["id"] = self.rule_id(stem)
                rules.append(rule)

        if self.strict:
            push({"id": "", "action": "deny", "to": ["*.paste.example"]}, "deny-egress")
        else:
            push({"id": "", "action": "deny", "to": ["c2.attacker.example"]}, "deny-egress")
        for flow in self.t.flows:
            if flow.ext is None or flow.src is None or len(rules) >= n // 2:
                continue
            src = self.host_selector(flow.src, ("app-env", "host", "zone"))
            push(
                {
                    "id": "",
                    "action": "allow",
                    "from": src,
                    "to": [flow.ext.fqdn],
                    "services": [flow.service],
                },
                "allow-egress",
            )
        attempts = 0
        while len(rules) < n and attempts < n * 50:
            attempts += 1
            r = rng.randrange(5)
            if r == 0:
                push(
                    {
                        "id": "",
                        "action": "allow",
                        "from": {"zone": self.zone("mgmt").id},
                        "to": ["*"],
                        "services": ["443/tcp"],
                    },
                    "allow-egress",
                )
            elif r == 1:
                push(
                    {
                        "id": "",
                        "action": "allow",
                        "from": {"labels": {"app": rng.choice(self.app_hosts).app}},
                        "to": ["*.storage.example"],
                    },
                    "allow-egress",
                )
            elif r == 2:
                push(
                    {
                        "id": "",
                        "action": "allow",
                        "from": {"zone": self.zone("corp").id},
                        "to": ["*.crm-saas.example", "code.hosting.example"],
                        "services": ["443/tcp"],
                    },
                    "allow-egress",
                )
            elif r == 3:
                z = self.zone("data", "app")
                push(
                    {
                        "id": "",
                        "action": "deny",
                        "from": {"zone": z.id},
                        "to": ["*"],
                        "services": ["22/tcp"],
                    },
                    "deny-egress",
                )
            else:
                targets = rng.sample(partners, min(len(partners), rng.randint(1, 3)))
                s = rng.choice(self.app_hosts)
                push(
                    {
                        "id": "",
                        "action": "allow",
                        "from": {"labels": {"app": s.app, "env": s.env}},
                        "to": [e.fqdn for e in targets],
                        "services": ["443/tcp"],
                    },
                    "allow-egress",
                )
        return rules

    # -- controls --------------------------------------------------------------

    def detection(self, n: int) -> list[Doc]:
        """``n`` detection entries with varied ``where`` selectors."""
        rng = self.rng
        out: list[Doc] = []
        for i in range(n):
            r = rng.randrange(4)
            where: Any
            if r == 0:
                where = {"zone": self.zone().id}
            elif r == 1:
                where = {"labels": {"tier": rng.choice(("data", "mgmt", "app"))}}
            elif r == 2:
                where = "any"
            else:
                where = {}
            out.append(
                {
                    "id": f"detect-{i + 1:04d}",
                    "techniques": sorted(rng.sample(TECHNIQUES, rng.randint(1, 3))),
                    "where": where,
                    "probability": rng.choice(PROBABILITIES),
                }
            )
        return out


def _policy_header(name: str, description: str) -> Doc:
    return {"ztsim": 1, "kind": "policy", "name": name, "description": description}


def generate(params: Params) -> Generated:
    """Generate the topology and the three policies for ``params``."""
    if params.zones < 5 or params.hosts < 50 or params.rules < 20:
        raise ValueError("need --zones >= 5, --hosts >= 50 and --rules >= 20")
    if params.hosts < 40 + 2 * params.zones:
        raise ValueError("need --hosts >= 40 + 2 * --zones")
    rng = Random(params.seed)
    topo = _TopologyBuilder(params, rng)
    topology = topo.build()

    n_egress = max(2, params.rules // 10)
    n_seg = params.rules - n_egress

    flat = _policy_header(
        "flat", "Flat network: everything may talk to everything, egress unrestricted."
    )
    flat["segmentation"] = {"default": "allow", "rules": []}

    seg_builder = _PolicyBuilder(topo, Random(params.seed * 1_000_003 + 1), False)
    segmented = _policy_header(
        "segmented",
        "Zone segmentation: default deny between zones, flat inside zones, egress blocklist.",
    )
    segmented["segmentation"] = {
        "default": "deny",
        "intra_zone": "allow",
        "rules": seg_builder.segmentation(n_seg),
    }
    segmented["egress"] = {"default": "allow", "rules": seg_builder.egress(n_egress)}
    segmented["controls"] = {"encrypt_in_transit": False, "detection": seg_builder.detection(2)}

    zt_builder = _PolicyBuilder(topo, Random(params.seed * 1_000_003 + 2), True)
    zt_rng = zt_builder.rng
    zero_trust = _policy_header(
        "zero-trust",
        "Zero trust: default deny everywhere (inside zones too), "
        "egress allowlist, MFA on admin credentials, encryption in transit.",
    )
    zero_trust["segmentation"] = {
        "default": "deny",
        "intra_zone": "rules",
        "rules": zt_builder.segmentation(n_seg),
    }
    zero_trust["egress"] = {"default": "deny", "rules": zt_builder.egress(n_egress)}
    mfa = ["vpn-password", "ad-domain-admin"]
    mfa += [c for c in topo.ssh_credentials if zt_rng.random() < 0.2]
    zero_trust["controls"] = {
        "mfa": mfa,
        "encrypt_in_transit": True,
        "detection": zt_builder.detection(max(4, params.rules // 250)),
    }
    counts = {
        "hosts": len(topo.hosts),
        "zones": len(topo.zones),
        "credentials": len(topo.credentials),
        "data": topo.data_count,
        "traffic": len(topo.flows),
        "segmentation_rules": n_seg,
        "egress_rules": n_egress,
    }
    policies = {"flat": flat, "segmented": segmented, "zero-trust": zero_trust}
    return Generated(topology, policies, counts)


# --------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------

_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*(/[A-Za-z]+)?|[0-9]+(-[0-9]+)?/[a-z]+")
_RESERVED = frozenset(["y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"])
_FLOW_WIDTH = 160


def _scalar(value: Any) -> str:
    """A YAML scalar that every YAML 1.1/1.2 loader reads back as ``value``."""
    if type(value) is str:
        text = _SCALARS.get(value)
        if text is None:
            if _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
                text = value
            else:
                text = json.dumps(value)
            _SCALARS[value] = text
        return text
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise TypeError(f"cannot write {type(value).__name__}")


_SCALARS: dict[str, str] = {}


def _flow(node: Any) -> str | None:
    """``node`` in YAML flow style, or None if it should be written as a block.

    Scalars, lists of scalars and mappings of such values are written in flow
    style; a list of mappings never is, so lists of hosts, services, rules or
    flows stay block lists with one entry per line, as in the spec's examples.
    """
    kind = type(node)
    if kind is dict:
        parts = []
        for key, value in node.items():
            text = _flow(value)
            if text is None:
                return None
            parts.append(f"{key}: {text}")
        return "{" + ", ".join(parts) + "}"
    if kind is list:
        items = []
        for value in node:
            if type(value) is dict or type(value) is list:
                return None
            items.append(_scalar(value))
        return "[" + ", ".join(items) + "]"
    return _scalar(node)


def _inline(node: Any) -> str | None:
    """The flow form of ``node`` if it is a scalar or short and flowable."""
    if not node and type(node) in (dict, list):
        return "{}" if type(node) is dict else "[]"
    text = _flow(node)
    return text if text is not None and len(text) <= _FLOW_WIDTH else None


def _emit_mapping(node: Doc, indent: int, out: list[str]) -> None:
    pad = " " * indent
    for key, value in node.items():
        text = _inline(value)
        if text is not None:
            out.append(f"{pad}{key}: {text}")
        elif isinstance(value, dict):
            out.append(f"{pad}{key}:")
            _emit_mapping(value, indent + 2, out)
        else:
            out.append(f"{pad}{key}:")
            _emit_sequence(value, indent + 2, out)


def _emit_sequence(node: list[Any], indent: int, out: list[str]) -> None:
    pad = " " * indent
    for item in node:
        text = _inline(item)
        if text is not None:
            out.append(f"{pad}- {text}")
        elif isinstance(item, dict):
            start = len(out)
            _emit_mapping(item, indent + 2, out)
            out[start] = f"{pad}- {out[start][indent + 2 :]}"
        else:
            out.append(f"{pad}-")
            _emit_sequence(item, indent + 2, out)


def to_yaml(doc: Doc) -> str:
    """Serialise a document as block-style YAML with flow-style leaves."""
    out: list[str] = []
    _emit_mapping(doc, 0, out)
    out.append("")
    return "\n".join(out)


def to_json(doc: Doc) -> str:
    """Serialise a document as JSON, one list item per line."""
    lines = ["{"]
    items = list(doc.items())
    for i, (key, value) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        if isinstance(value, list) and value:
            lines.append(f"  {json.dumps(key)}: [")
            for j, item in enumerate(value):
                sep = "," if j < len(value) - 1 else ""
                lines.append(f"    {json.dumps(item, separators=(', ', ': '))}{sep}")
            lines.append(f"  ]{comma}")
        else:
            lines.append(
                f"  {json.dumps(key)}: {json.dumps(value, separators=(', ', ': '))}{comma}"
            )
    lines.append("}")
    lines.append("")
    return "\n".join(lines)


def write(generated: Generated, out: Path, as_json: bool = False) -> list[Path]:
    """Write the topology and policies under ``out``; return the paths written."""
    ext = "json" if as_json else "yaml"
    dump = to_json if as_json else to_yaml
    (out / "policies").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    targets = [(out / f"topology.{ext}", generated.topology)]
    for name in POLICY_NAMES:
        targets.append((out / "policies" / f"{name}.{ext}", generated.policies[name]))
    for path, doc in targets:
        path.write_text(dump(doc), encoding="utf-8")
        written.append(path)
    return written


# --------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------


def params_from_args(args: argparse.Namespace) -> Params:
    """Resolve ``--workload`` and explicit sizes into :class:`Params`."""
    base = WORKLOADS[args.workload] if args.workload else WORKLOADS["S"]
    name = args.workload or "custom"
    hosts = args.hosts if args.hosts is not None else base.hosts
    zones = args.zones if args.zones is not None else base.zones
    rules = args.rules if args.rules is not None else base.rules
    if args.workload and (hosts, zones, rules) != (base.hosts, base.zones, base.rules):
        name = "custom"
    return Params(hosts=hosts, zones=zones, rules=rules, seed=args.seed, name=name)


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser."""
    parser = argparse.ArgumentParser(
        description="Generate a synthetic ztsim topology and three policies."
    )
    parser.add_argument(
        "--workload",
        choices=list(WORKLOADS),
        help="named size (S, M, L, XL); explicit sizes override it",
    )
    parser.add_argument("--hosts", type=int, help="number of hosts")
    parser.add_argument(
        "--zones",
        type=int,
        help="number of internal zones, DMZ included "
        "(plus the external zones internet and partners)",
    )
    parser.add_argument(
        "--rules",
        type=int,
        help="rules per segmented/zero-trust policy (about 90%% segmentation, 10%% egress)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--json", action="store_true", help="write .json documents instead of .yaml"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: generate and write, report sizes and times on stderr."""
    parser = build_parser()
    args = parser.parse_args(argv)
    params = params_from_args(args)
    start = time.perf_counter()
    try:
        generated = generate(params)
    except ValueError as exc:
        parser.error(str(exc))
    built = time.perf_counter()
    write(generated, args.out, as_json=args.json)
    done = time.perf_counter()
    counts = " ".join(f"{k}={v}" for k, v in generated.counts.items())
    print(
        f"generated {params.name} seed={params.seed} into {args.out}: {counts}; "
        f"build {built - start:.2f}s, write {done - built:.2f}s, "
        f"total {done - start:.2f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
