"""Red-team of ``check``'s verdicts (issue #23, "no false pass"): hand-made corner cases
of spec §4-§6 and of the assertions, run through the command line, each compared with
the spec's expected answer (written out here) and with :mod:`reference_model`.

The random property tests (tests/test_property.py) draw 2-7 hosts; these scenarios add
what they do not reach: the same estate padded with alike hosts past the large-estate
thresholds (over 300 hosts: compression and pruned solves; 2,000 and more with several
policies: a forked child judges some of them), one "needle" host among hundreds that
a rule names, a JSON copy of the estate, the parse cache off, and assertions
(min-attack-cost must fail when a cheaper attack exists).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

# tests/ is not a package: pytest puts this folder on sys.path (rootdir-based "prepend").
import reference_model as ref
import yaml

from ztsim.analysis.judged import PARALLEL_HOSTS
from ztsim.cli.main import main
from ztsim.engine.plans import EXHAUSTIVE_HOSTS
from ztsim.inputs.loader import policy_from_text, topology_from_text

Doc = dict[str, Any]
#: goal -> reachable, per policy name.
Verdicts = dict[str, dict[str, bool]]


def topo(**kw: Any) -> Doc:
    """A topology document with its header."""
    return {"ztsim": 1, "kind": "topology", "name": "t", **kw}


def pol(name: str, **kw: Any) -> Doc:
    """A policy document with its header."""
    return {"ztsim": 1, "kind": "policy", "name": name, **kw}


def pad(doc: Doc, n: int) -> Doc:
    """``doc`` with copies of its hosts (without their data: ids are unique) up to ``n``
    hosts, alike hosts the engine compresses.  The copies add attacker options, never
    remove one, so the verdicts checked here (those of the unpadded estate, recomputed
    by the reference on the padded one where it is small enough) must not change."""
    out = copy.deepcopy(doc)
    base = list(out["hosts"])
    k = 0
    while len(out["hosts"]) < n:
        for h in base:
            clone = {key: v for key, v in copy.deepcopy(h).items() if key != "data"}
            clone["id"] = f"{h['id']}-pad{k}"
            out["hosts"].append(clone)
            if len(out["hosts"]) >= n:
                break
        k += 1
    return out


def check(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    t: Doc,
    policies: list[Doc],
    *extra: str,
    fmt: str = "yaml",
) -> tuple[int, Doc]:
    """``ztsim check --format json`` in-process on these documents: (status, report)."""
    write = json.dumps if fmt == "json" else yaml.safe_dump
    tp = tmp_path / f"topo.{fmt}"
    tp.write_text(write(t))
    argv = ["check", str(tp), "--format", "json", *extra]
    for i, p in enumerate(policies):
        pp = tmp_path / f"pol{i}.{fmt}"
        pp.write_text(write(p))
        argv += ["-p", str(pp)]
    code = main(argv)
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    assert "Traceback" not in out.err
    report: Doc = json.loads(out.out)
    return code, report


def verdicts(report: Doc) -> Verdicts:
    """Per policy, each goal's verdict (``exfil:d``, ``tamper:d``)."""
    out: Verdicts = {}
    for r in report["results"]:
        row = {f"exfil:{x['data']}": x["reachable"] for x in r["exfiltration"]}
        row.update({f"tamper:{x['data']}": x["reachable"] for x in r["tampering"]})
        out[r["policy"]] = row
    return out


def reference(t: Doc, policies: list[Doc]) -> Verdicts:
    """The same verdicts from the naive reference model (spec §5 fixpoint)."""
    tm = topology_from_text(yaml.safe_dump(t)).model
    out: Verdicts = {}
    for p in policies:
        facts = ref.fixpoint(ref.steps(tm, policy_from_text(yaml.safe_dump(p)).model))
        out[p["name"]] = {f"{g[0]}:{g[1]}": g in facts for g in ref.goals(tm)}
    return out


def assert_verdicts(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    t: Doc,
    policies: list[Doc],
    want: Verdicts,
) -> None:
    """The CLI's verdicts and exit status equal ``want`` (the spec's answer, written out
    by hand) and the reference model's, for the estate as given, as JSON, with the parse
    cache off, and padded past the large-estate thresholds."""
    assert reference(t, policies) == want
    status = 1 if any(any(row.values()) for row in want.values()) else 0
    code, report = check(capsys, tmp_path, t, policies)
    assert (code, verdicts(report)) == (status, want)
    code, report = check(capsys, tmp_path, t, policies, fmt="json")
    assert (code, verdicts(report)) == (status, want)
    for n in (EXHAUSTIVE_HOSTS + 20, PARALLEL_HOSTS + 50):
        code, report = check(capsys, tmp_path, pad(t, n), policies)
        assert (code, verdicts(report)) == (status, want), n


# --------------------------------------------------------------------------- egress (§4)

C2_HOST = {
    "id": "pc",
    "zone": "corp",
    "labels": {"a": "1", "b": "2"},
    "services": [{"service": "22/tcp"}],
    "data": [{"id": "d"}],
}


def egress_estate(fqdn: str, role: str = "c2") -> Doc:
    """A phished laptop holding data, one external destination."""
    return topo(
        zones=[{"id": "internet", "external": True}, {"id": "corp"}],
        hosts=[copy.deepcopy(C2_HOST)],
        external=[{"id": "dest", "fqdn": fqdn, "role": role, "services": ["443/tcp", "8443/tcp"]}],
        entry_points=[{"id": "ph", "host": "pc", "gives": "user"}],
    )


@pytest.mark.parametrize(
    ("pattern", "fqdn", "covered"),
    [
        ("c2.evil.example", "*.evil.example", False),  # exact never covers a wildcard
        ("C2.EVIL.EXAMPLE", "c2.Evil.example", True),  # names compare case-insensitively
        ("*.evil.example", "*.evil.example", True),
        ("*.EVIL.example", "*.x.evil.example", True),
        ("*.x.evil.example", "*.evil.example", False),  # the attacker picks y.evil.example
        ("*.evil.example", "evil.example", False),  # `*.b` never covers `b`
        ("*.le", "c2.evil.example", False),  # labels, not characters
        ("*", "*.evil.example", True),
    ],
)
def test_egress_deny_pattern_covers_as_the_spec_says(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pattern: str, fqdn: str, covered: bool
) -> None:
    """A deny rule stops exfiltration to a c2 destination only when one of its `to`
    patterns covers the destination's name (§4); an allow rule under `default: deny`
    opens it in the same cases.  Both services of the destination must be covered: the
    deny names `443/tcp` and `8443/tcp` through `any`."""
    deny = pol(
        "deny",
        egress={
            "default": "allow",
            "rules": [{"id": "r", "action": "deny", "to": ["other.example", pattern]}],
        },
    )
    allow = pol(
        "allow",
        egress={"default": "deny", "rules": [{"id": "r", "action": "allow", "to": [pattern]}]},
    )
    want = {"deny": {"exfil:d": not covered}, "allow": {"exfil:d": covered}}
    t = egress_estate(fqdn)
    assert reference(t, [deny, allow]) == want
    _, report = check(capsys, tmp_path, t, [deny, allow])
    assert verdicts(report) == want


def test_egress_rule_services_leave_another_service_of_the_destination_open(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Denying 443/tcp to a destination that also listens on 8443/tcp leaves 8443 open;
    a rule whose labels do not all match the host does not apply; a partner is never an
    exfiltration channel, whatever the egress policy."""
    pols = [
        pol("no443", egress={"rules": [{"id": "s", "action": "deny", "services": ["443/tcp"]}]}),
        pol("range", egress={"rules": [{"id": "s", "action": "deny", "services": ["1-9000/tcp"]}]}),
        pol(
            "labels",
            egress={
                "rules": [{"id": "s", "action": "deny", "from": {"labels": {"a": "1", "b": "3"}}}]
            },
        ),
    ]
    want = {"no443": {"exfil:d": True}, "range": {"exfil:d": False}, "labels": {"exfil:d": True}}
    assert_verdicts(capsys, tmp_path, egress_estate("*.cloud.example", "web-service"), pols, want)
    partner = {name: {"exfil:d": False} for name in want}
    assert_verdicts(capsys, tmp_path, egress_estate("api.bank.example", "partner"), pols, partner)


# --------------------------------------------------------------------------- §5 rows 6 and 9


def sniff_estate(encrypted: bool = False, sniffer_zone: str = "corp", egress: bool = False) -> Doc:
    """Root on `sn`; a credential `k` crosses the wire from `b` (zone corp) to `c` (zone
    app), or to a partner; `k` logs in to the data host."""
    traffic = [{"from": "b", "to": "c", "service": "5432/tcp", "credential": "k"}]
    if egress:
        traffic = [{"from": "b", "to": "part", "service": "443/tcp", "credential": "k"}]
    return topo(
        zones=[{"id": "internet", "external": True}]
        + [{"id": z} for z in ("corp", "app", "data", "other")],
        credentials=[{"id": "k"}],
        hosts=[
            {"id": "sn", "zone": sniffer_zone, "services": [{"service": "22/tcp"}]},
            {"id": "b", "zone": "corp", "services": [{"service": "22/tcp"}]},
            {
                "id": "c",
                "zone": "app",
                "services": [{"service": "5432/tcp", "encrypted": encrypted}],
            },
            {
                "id": "db",
                "zone": "data",
                "services": [{"service": "22/tcp"}],
                "logins": [{"credential": "k", "service": "22/tcp", "gives": "user"}],
                "data": [{"id": "d", "integrity": True}],
            },
        ],
        external=[
            {"id": "c2", "fqdn": "c2.evil.example", "role": "c2"},
            {"id": "part", "fqdn": "api.partner.example"},
        ],
        traffic=traffic,
        entry_points=[{"id": "foot", "host": "sn", "gives": "root"}],
    )


SNIFF_POLICIES = [
    pol("allow"),
    pol("eit", controls={"encrypt_in_transit": True}),
    pol(
        "deny-bc",
        segmentation={
            "rules": [{"id": "no-bc", "action": "deny", "from": {"host": "b"}, "to": {"host": "c"}}]
        },
    ),
    pol(
        "egress-c2-only",
        egress={
            "default": "deny",
            "rules": [{"id": "c2ok", "action": "allow", "to": ["c2.evil.example"]}],
        },
    ),
    pol("mfa", controls={"mfa": ["k"]}),
]


@pytest.mark.parametrize(
    ("kw", "open_under"),
    [
        ({}, {"allow", "egress-c2-only"}),
        ({"sniffer_zone": "app"}, {"allow", "egress-c2-only"}),  # beside the destination
        ({"sniffer_zone": "other"}, set()),  # shares no zone with an endpoint
        ({"encrypted": True}, set()),
        # Egress traffic is always sniffable, even to an encrypted-looking service;
        # only encrypt_in_transit or a policy denying that egress stops it.
        ({"egress": True}, {"allow", "deny-bc"}),
        ({"egress": True, "encrypted": True}, {"allow", "deny-bc"}),
    ],
)
def test_sniffing_rule_6(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kw: dict[str, Any], open_under: set[str]
) -> None:
    """Rule 6: root on a host that is not an endpoint and shares a zone with an endpoint
    host; the traffic allowed by the policy; not to an encrypted service (egress always
    sniffable); encrypt_in_transit off; a sniffed credential under MFA is useless."""
    want = {
        p["name"]: {"exfil:d": p["name"] in open_under, "tamper:d": p["name"] in open_under}
        for p in SNIFF_POLICIES
    }
    assert_verdicts(capsys, tmp_path, sniff_estate(**kw), SNIFF_POLICIES, want)


def direct_estate(how: str = "login", inside: bool = False, c2: bool = False) -> Doc:
    """A public database whose 5432 serves data at `requires: service`; the attacker holds
    its credential, from the internet or from a foothold inside."""
    db: Doc = {
        "id": "db",
        "zone": "data",
        "services": [{"service": "5432/tcp", "public": True}, {"service": "22/tcp"}],
        "data": [{"id": "d", "requires": "service", "service": "5432/tcp", "integrity": True}],
    }
    if how == "login":
        db["logins"] = [{"credential": "k", "service": "5432/tcp", "gives": "service"}]
    else:
        db["vulnerabilities"] = [{"id": "CVE-1", "service": "5432/tcp", "gives": "service"}]
    entry: Doc = {"id": "out", "zone": "internet", "credentials": ["k"]}
    if inside:
        entry = {"id": "in", "host": "web", "gives": "user", "credentials": ["k"]}
    return topo(
        zones=[{"id": "internet", "external": True}, {"id": "dmz"}, {"id": "data"}],
        credentials=[{"id": "k"}],
        hosts=[db, {"id": "web", "zone": "dmz", "services": [{"service": "443/tcp"}]}],
        external=[{"id": "c2", "fqdn": "c2.evil.example", "role": "c2"}] if c2 else [],
        entry_points=[entry],
    )


DIRECT_POLICIES = [
    pol("open"),
    pol("no-egress", egress={"default": "deny"}),
    pol(
        "no-inet-db",
        segmentation={
            "rules": [
                {"id": "x", "action": "deny", "from": {"zone": "internet"}, "to": {"zone": "data"}}
            ]
        },
    ),
    pol("mfa", controls={"mfa": ["k"]}, egress={"default": "deny"}),
]


@pytest.mark.parametrize(
    ("kw", "want"),
    [
        # A session opened from outside carries data out directly: egress does not matter.
        ({}, {"open": "RR", "no-egress": "RR", "no-inet-db": "..", "mfa": ".."}),
        # An exploit giving `service` is a session too, MFA does not stop it.
        ({"how": "vuln"}, {"open": "RR", "no-egress": "RR", "no-inet-db": "..", "mfa": "RR"}),
        # From inside, a session reads the data (tamper) but carries nothing out.
        ({"inside": True}, {"open": ".R", "no-egress": ".R", "no-inet-db": ".R", "mfa": ".."}),
        (
            {"inside": True, "c2": True},
            {"open": "RR", "no-egress": ".R", "no-inet-db": "RR", "mfa": ".."},
        ),
    ],
)
def test_sessions_and_direct_exfiltration(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kw: dict[str, Any], want: dict[str, str]
) -> None:
    """Rows 7 and 9: collect through a `service` session; exfiltrate directly only from
    a session opened from an external zone."""
    expected = {p: {"exfil:d": v[0] == "R", "tamper:d": v[1] == "R"} for p, v in want.items()}
    assert_verdicts(capsys, tmp_path, direct_estate(**kw), DIRECT_POLICIES, expected)


# --------------------------------------------------------------------------- a needle at scale


def needle_estate(n: int = EXHAUSTIVE_HOSTS + 100) -> Doc:
    """``n`` alike hosts that all accept credential `k` on 22/tcp, in two zones; the
    data sits on one of them, `needle`, in the middle, and a phished w0 holds `k`."""
    hosts: list[Doc] = []
    for i in range(n):
        h: Doc = {
            "id": "needle" if i == n // 2 else f"w{i}",
            "zone": "corp" if i < n - n // 8 else "srv",
            "services": [{"service": "22/tcp"}, {"service": "443/tcp"}],
            "logins": [{"credential": "k", "service": "22/tcp", "gives": "user"}],
        }
        if i == n // 2:
            h["data"] = [{"id": "d", "integrity": True}]
        hosts.append(h)
    return topo(
        zones=[{"id": "internet", "external": True}, {"id": "corp"}, {"id": "srv"}],
        credentials=[{"id": "k"}],
        hosts=hosts,
        external=[{"id": "c2", "fqdn": "c2.evil.example", "role": "c2"}],
        entry_points=[{"id": "f", "host": "w0", "gives": "user", "credentials": ["k"]}],
    )


def test_one_host_named_among_hundreds_of_alike_hosts(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Rules naming one host of a compressed class (to it, from it, egress from it)
    decide exactly as on that host alone (the estate is above the exhaustive limit)."""

    def allow(rule_id: str, **kw: Any) -> Doc:
        return {"id": rule_id, "action": "allow", **kw}

    pols = [
        pol(
            "to-needle",
            segmentation={"default": "deny", "rules": [allow("a", to={"host": "needle"})]},
        ),
        pol("to-w1", segmentation={"default": "deny", "rules": [allow("a", to={"host": "w1"})]}),
        pol(
            "egress-needle",
            egress={"default": "deny", "rules": [allow("e", **{"from": {"host": "needle"}})]},
        ),
        pol(
            "egress-w1",
            egress={"default": "deny", "rules": [allow("e", **{"from": {"host": ["w1", "w2"]}})]},
        ),
        pol(
            "deny-needle",
            segmentation={"rules": [{"id": "a", "action": "deny", "to": {"host": "needle"}}]},
        ),
        pol(
            "via-w9",
            segmentation={
                "rules": [
                    allow("a", **{"from": {"host": "w0"}}, to={"host": "w9"}),
                    {"id": "b", "action": "deny", "from": {"host": "w0"}},
                ]
            },
            egress={"default": "deny", "rules": [allow("e", **{"from": {"host": "w9"}})]},
        ),
    ]
    want = {
        "to-needle": {"exfil:d": True, "tamper:d": True},
        "to-w1": {"exfil:d": False, "tamper:d": False},
        # needle reached from w0, sends the data out itself.
        "egress-needle": {"exfil:d": True, "tamper:d": True},
        # the data is relayed to w1, which may send it out.
        "egress-w1": {"exfil:d": True, "tamper:d": True},
        "deny-needle": {"exfil:d": False, "tamper:d": False},
        # w0 -> w9 only, then w9 -> needle (default allow), out through w9.
        "via-w9": {"exfil:d": True, "tamper:d": True},
    }
    assert reference(needle_estate(24), pols) == want  # the reference is slow on many
    for n in (EXHAUSTIVE_HOSTS + 100, PARALLEL_HOSTS + 50):
        code, report = check(capsys, tmp_path, needle_estate(n), pols)
        assert (code, verdicts(report)) == (1, want), n


# --------------------------------------------------------------------------- assertions


def test_min_attack_cost_fails_when_a_cheaper_attack_exists(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The direct estate's cheapest attack is 4 steps (enter, log in from outside,
    collect through the session, exfiltrate directly or tamper).  A floor of 5 must fail
    on the small estate and on the padded ones (bounded costs above 300 hosts, a forked
    child above 2,000), a floor of 4 must hold, and MFA makes every floor hold."""
    t = direct_estate()
    tm = topology_from_text(yaml.safe_dump(t)).model
    steps = ref.steps(tm, policy_from_text(yaml.safe_dump(DIRECT_POLICIES[0])).model)
    assert ref.min_cost(steps, ("exfil", "d")) == 4
    assertions = {
        "ztsim": 1,
        "kind": "assertions",
        "name": "a",
        "assertions": [
            {"id": "floor4", "type": "min-attack-cost", "steps": 4},
            {"id": "floor5", "type": "min-attack-cost", "steps": 5},
            {"id": "floor5-tamper", "type": "min-attack-cost", "steps": 5, "goal": "tampering"},
        ],
    }
    ap = tmp_path / "a.yaml"
    ap.write_text(yaml.safe_dump(assertions))
    pols = [DIRECT_POLICIES[0], DIRECT_POLICIES[3]]  # open, mfa
    for n in (0, EXHAUSTIVE_HOSTS + 20, PARALLEL_HOSTS + 50):
        code, report = check(capsys, tmp_path, pad(t, n), pols, "--assert", str(ap))
        got = {
            (a["id"], r["policy"]): r["status"] for a in report["assertions"] for r in a["results"]
        }
        assert code == 1, n
        assert got == {
            ("floor4", "open"): "pass",
            ("floor4", "mfa"): "pass",
            ("floor5", "open"): "fail",
            ("floor5", "mfa"): "pass",
            ("floor5-tamper", "open"): "fail",
            ("floor5-tamper", "mfa"): "pass",
        }, n
