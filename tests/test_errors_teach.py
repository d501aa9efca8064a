"""Errors that teach (issue 27 point 8): each says what to write instead, at FILE:LINE:COL.

An unquoted port gets the quoted one's words; unknown keys and references get the
closest known name; YAML syntax errors get a plain sentence; schema and reference
errors come in one pass; a policy naming what the topology lacks is loud in the
summary; a topology with no data item says nothing can be exfiltrated.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ztsim.cli.main import main
from ztsim.inputs import hints, salvage
from ztsim.inputs.checks import NO_DATA_MESSAGE, policy_warnings
from ztsim.inputs.hints import Suggester, did_you_mean, keys_at, port_hint, yaml_syntax_hint
from ztsim.inputs.loader import document_from_text, policy_from_text, topology_from_text
from ztsim.model.diagnostics import InputError
from ztsim.model.schema import Policy, Topology

HEAD = "ztsim: 1\nkind: topology\nname: t\n"
ZONES = "zones:\n  - {id: internet, external: true}\n  - {id: lan}\n"  # lines 4-6
POLICY = "ztsim: 1\nkind: policy\nname: p\n"


def errors(text: str, *, policy: bool = False) -> list[str]:
    """The diagnostics ``text`` raises, as ``LINE:COL: level: message``."""
    with pytest.raises(InputError) as info:
        (policy_from_text if policy else topology_from_text)(text, "f.yaml")
    return [str(d).removeprefix("f.yaml:") for d in info.value.diagnostics]


def at(text: str, needle: str) -> str:
    """``LINE:COL`` of the ``^`` in ``needle`` (which occurs once in ``text``)."""
    bare = needle.replace("^", "")
    assert text.count(bare) == 1
    offset = text.index(bare) + needle.index("^")
    return f"{text.count(chr(10), 0, offset) + 1}:{offset - text.rfind(chr(10), 0, offset)}"


# --------------------------------------------------------------------------- ports


@pytest.mark.parametrize(
    ("field", "host"),
    [
        ("services", "services: [{{service: {s}}}]"),
        ("logins", "services: [{{service: 22/tcp}}], logins: [{{credential: k, service: {s}}}]"),
        (
            "vulnerabilities",
            "services: [{{service: 22/tcp}}], vulnerabilities: [{{id: v, service: {s}}}]",
        ),
    ],
)
def test_an_unquoted_port_gets_the_words_and_hint_of_a_quoted_one(field: str, host: str) -> None:
    def message(service: str) -> str:
        text = HEAD + ZONES + "credentials: [{id: k}]\nhosts:\n  - {id: h, zone: lan, "
        text += host.format(s=service) + "}\n"
        (found,) = errors(text)
        return found.split(": error: ", 1)[1]

    bare, quoted = message("5432"), message('"5432"')
    assert bare.endswith(
        "service 5432 is not PORT/PROTO (e.g. 443/tcp, 53/udp): write 5432/tcp (or 5432/udp)"
    )
    assert quoted == bare.replace("service 5432", "service '5432'")


def test_a_rule_port_gets_the_rule_forms() -> None:
    """A rule's services are ranges too: its words name them, for a number as for text."""
    rule = "segmentation:\n  rules:\n    - {id: r, action: allow, services: [%s]}\n"
    (bare,) = errors(POLICY + rule % "22/tcp, 5432", policy=True)
    (quoted,) = errors(POLICY + rule % '"5432"', policy=True)
    words = "is not PORT/PROTO, LOW-HIGH/PROTO or any (e.g. 8000-8999/tcp)"
    words += ": write 5432/tcp (or 5432/udp)"
    assert bare.endswith(f"service 5432 {words}") and quoted.endswith(f"service '5432' {words}")


def test_a_traffic_port_and_a_destination_port() -> None:
    text = HEAD + ZONES + "external:\n  - {id: c2, fqdn: c2.example, services: [443]}\n"
    (found,) = errors(text)
    words = "service 443 is not PORT/PROTO (e.g. 443/tcp, 53/udp): write 443/tcp (or 443/udp)"
    assert found == f"{at(text, '[^443]')}: error: external.0.services.0: {words}"


def test_a_host_service_written_bare_says_to_write_a_mapping() -> None:
    text = HEAD + ZONES + "hosts:\n  - {id: h, zone: lan, services: [443/tcp, 22]}\n"
    found = errors(text)
    assert [f.split(", write ")[1] for f in found] == ["{service: 443/tcp}", "{service: 22/tcp}"]
    assert found[0].startswith(f"{at(text, '[^443/tcp')}: error: hosts.0.services.0: ")


def test_port_hint_forms() -> None:
    assert port_hint("tcp/443") == ": write 443/tcp"
    assert port_hint(" 53 : UDP ") == ": write 53/udp"
    assert port_hint(99999) == port_hint(True) == port_hint("https") == port_hint(4.5) == ""


def test_a_number_that_is_not_a_port_keeps_the_yaml_hint() -> None:
    """A host id YAML read as a number: no service words, the quoting hint as before."""
    (found,) = errors(HEAD + ZONES + "hosts:\n  - {id: 017, zone: lan}\n")
    assert "YAML read this value as a number, 15: quote it" in found


# --------------------------------------------------------------------------- did you mean


def test_unknown_keys_suggest_the_closest_key_of_their_mapping() -> None:
    text = (
        HEAD
        + ZONES
        + "hosts:\n  - {id: h, zone: lan, servces: []}\n"
        + "  - {id: i, zone: lan, services: [{service: 1/tcp, publc: 1}]}\n"
        + "entry_point:\n  - {id: e, zone: internet}\n"
    )
    found = errors(text)
    for key, near in (
        ("servces", "services"),
        ("publc", "public"),
        ("entry_point", "entry_points"),
    ):
        assert (
            f"{at(text, '^' + key)}: error: unknown key {key!r} (did you mean {near!r}?)" in found
        )


def test_unknown_keys_in_policies_selectors_and_layers() -> None:
    text = POLICY + (
        "segmentaton:\n  default: deny\n"
        "egress:\n  layers:\n    - id: l\n      tiers:\n        - id: t\n          rules:\n"
        "            - {id: r, action: allow, form: {zoen: lan}}\n"
    )
    found = errors(text, policy=True)
    assert "1:1" not in " ".join(found)
    for key, near in (("segmentaton", "segmentation"), ("form", "from")):
        assert (
            f"{at(text, '^' + key)}: error: unknown key {key!r} (did you mean {near!r}?)" in found
        )


def test_a_key_already_there_or_far_from_any_is_not_suggested() -> None:
    """``nme`` beside ``name``: nothing to suggest (``name`` is there); ``bogus``: nothing close."""
    text = HEAD + "nme: x\nbogus: 1\n" + ZONES
    found = errors(text)
    assert f"{at(text, '^nme')}: error: unknown key 'nme'" in found
    assert f"{at(text, '^bogus')}: error: unknown key 'bogus'" in found


def test_unknown_references_suggest_the_closest_declared_id() -> None:
    text = (
        HEAD
        + ZONES
        + "credentials: [{id: db-password}]\n"
        + "hosts:\n  - id: web\n    zone: lna\n    services: [{service: 22/tcp}]\n"
        + "    logins: [{credential: db-pasword, service: 22/tcp}]\n"
        + "    data: [{id: d}]\n"
        + "traffic:\n  - {from: interne, to: wbe, service: 22/tcp}\n"
        + "entry_points:\n  - {id: e, zone: internt}\n  - {id: f, host: webb}\n"
    )
    found = errors(text)
    for needle, message in (
        ("zone: ^lna", "unknown zone 'lna' (did you mean 'lan'?)"),
        (
            "credential: ^db-pasword",
            "unknown credential 'db-pasword' (did you mean 'db-password'?)",
        ),
        ("from: ^interne", "unknown source 'interne' (did you mean 'internet'?)"),
        ("to: ^wbe", "unknown destination 'wbe' (did you mean 'web'?)"),
        ("zone: ^internt", "unknown zone 'internt' (did you mean 'internet'?)"),
        ("host: ^webb", "unknown host 'webb' (did you mean 'web'?)"),
    ):
        assert f"{at(text, needle)}: error: {message}" in found


def test_an_unknown_reference_with_nothing_close_keeps_its_explanation() -> None:
    found = errors(
        HEAD
        + ZONES
        + "hosts:\n  - {id: h, zone: lan, logins: [{credential: zz, service: 1/tcp}]}\n"
    )
    assert any("unknown credential 'zz' (declare it under `credentials`)" in f for f in found)


def test_policy_warnings_suggest_the_topology_names() -> None:
    topo = topology_from_text(
        HEAD
        + ZONES
        + "credentials: [{id: vpn}]\nhosts:\n  - {id: web, zone: lan, data: [{id: d}]}\n"
    )
    text = POLICY + (
        "segmentation:\n  rules:\n"
        "    - {id: r, action: allow, from: {zone: [internt]}, to: {host: wbe}}\n"
        "controls: {mfa: [vpm]}\n"
    )
    found = [
        str(w).removeprefix("p.yaml:")
        for w in policy_warnings(policy_from_text(text, "p.yaml"), topo)
    ]
    assert found == [
        f"{at(text, needle)}: warning: {what} {name!r} is not in topology 't'"
        f" (did you mean {near!r}?)"
        for needle, what, name, near in (
            ("[^internt]", "zone", "internt", "internet"),
            ("host: ^wbe", "host", "wbe", "web"),
            ("[^vpm]", "credential", "vpm", "vpn"),
        )
    ]


def test_suggester_ties_case_and_budget() -> None:
    assert Suggester(["api-01", "api-02"]).closest("api") is None  # a tie: no guess
    assert Suggester(["Web"]).hint("web") == " (did you mean 'Web'?)"  # ids are case-sensitive
    assert did_you_mean("db", ["dmz", "data"]) == ""  # not close enough
    s = Suggester([f"h{i}" for i in range(10)], budget=25)
    assert [s.closest(n) is not None for n in ("h1x", "h2x", "h3x")] == [True, True, False]
    assert s.closest("h1x") == "h1"  # cached: the same answer, no budget spent


def test_keys_at_walks_lists_unions_and_aliases() -> None:
    assert "from" in keys_at(Policy, ("segmentation", "rules", 0))
    assert keys_at(Policy, ("egress", "rules", 0, "to", 0, "CidrPattern")) == ["cidr", "except"]
    assert keys_at(Topology, ("hosts", 0, "labels")) == []


# --------------------------------------------------------------------------- YAML syntax


@pytest.mark.parametrize(
    ("text", "where", "words", "parser"),
    [
        (
            "a:\n  - x: 1\n   - y: 2\n",
            "3:4",
            "not lined up with the list items",
            "expected '-' indicator",
        ),
        (
            "a:\n  b: 1\n c: 2\n",
            "3:2",
            "not lined up with the keys above it",
            "did not find expected key",
        ),
        (
            "a:\n  b: 1\n    c: 2\n",
            "3:6",
            "indented deeper than the key above it",
            "mapping values",
        ),
        (
            "a:\n\tb: 1\n",
            "2:1",
            "YAML does not accept tabs for indentation",
            "cannot start any token",
        ),
        ("a: 'abc\nb: 2\n", "3:1", "a quote is not closed", "end of stream"),
        ("a: [1, 2\nb: 3\n", "2:2", "list written on one line is not closed", "',' or ']'"),
    ],
)
def test_yaml_syntax_errors_get_a_plain_sentence(
    text: str, where: str, words: str, parser: str
) -> None:
    with pytest.raises(InputError) as info:
        document_from_text(text, "f.yaml")
    (d,) = info.value.diagnostics
    message = str(d)
    assert message.startswith(f"f.yaml:{where}: error: invalid YAML: ")
    assert words in message.split("(the parser says:")[0]
    assert parser in message.split("(the parser says:")[1]


def test_a_yaml_problem_without_a_sentence_keeps_the_parser_words() -> None:
    assert yaml_syntax_hint("found character that cannot start any token", "a: @x") is None
    with pytest.raises(InputError) as info:
        document_from_text("a: @x\n", "f.yaml")
    assert "the parser says" not in str(info.value)


# --------------------------------------------------------------------------- one pass


def test_schema_and_reference_errors_come_in_one_pass() -> None:
    text = (
        HEAD
        + ZONES
        + "hosts:\n  - {id: a, zone: lan, bogus: 1}\n  - {id: b, zone: lann}\n"
        + "entry_points:\n  - {id: e, zone: nowhere}\n"
    )
    assert errors(text) == [
        f"{at(text, '^bogus')}: error: unknown key 'bogus'",
        f"{at(text, 'zone: ^lann')}: error: unknown zone 'lann' (did you mean 'lan'?)",
        f"{at(text, 'zone: ^nowhere')}: error: unknown zone 'nowhere'",
    ]


def test_what_names_a_refused_item_is_not_reported() -> None:
    """A host refused by the schema may be declared well enough: a flow naming it, an
    entry on it, a zone refused and its hosts: no error of their own."""
    text = (
        HEAD
        + "zones:\n  - {id: internet, external: true}\n  - {id: lan, external: maybe}\n"
        + "  - {id: dmz}\nhosts:\n  - {id: a, zone: dmz, services: [{service: 80}]}\n"
        + "  - {id: b, zone: lan, data: [{id: d}]}\n"
        + "  - {id: c, zone: dmz, services: [{service: 22/tcp}]}\n"
        + "traffic:\n  - {from: c, to: a, service: 80/tcp}\n"
        + "  - {from: c, to: zz, service: 22/tcp}\n"
        + "entry_points:\n  - {id: e, host: a}\n"
    )
    found = errors(text)
    assert [f.split(": ", 1)[1] for f in found] == [
        "error: zones.1.external: Input should be a valid boolean",
        "error: hosts.0.services.0.service: service 80 is not PORT/PROTO (e.g. 443/tcp, 53/udp)"
        ": write 80/tcp (or 80/udp)",
        "error: unknown destination 'zz' (a host or an external destination)",
    ]


def test_a_host_that_lost_a_service_is_not_said_to_lack_it() -> None:
    text = (
        HEAD
        + ZONES
        + "hosts:\n  - id: h\n    zone: lan\n    services: [{service: 22}, {service: 80/tcp}]\n"
        + "    logins: [{credential: k, service: 22/tcp}, {credential: k, service: 443/tcp}]\n"
        + "credentials: [{id: k}]\n"
    )
    found = errors(text)
    assert len(found) == 1 and "service 22 is not PORT/PROTO" in found[0]


def test_errors_after_a_refused_item_stay_at_their_lines() -> None:
    """Items taken out shift the indexes after them; each error is placed where it is written,
    and a duplicate names the line of the first declaration as written."""
    text = (
        HEAD
        + ZONES
        + "hosts:\n  - {id: a, zone: lan, services: [{service: 1}]}\n  - {id: b, zone: lan}\n"
        + "  - {id: c, zone: lam}\n  - {id: b, zone: lan}\n"
    )
    found = errors(text)
    line_b = text[: text.index("{id: b")].count("\n") + 1
    assert f"{at(text, 'zone: ^lam')}: error: unknown zone 'lam' (did you mean 'lan'?)" in found
    assert any(f"duplicate id 'b' (first declared at line {line_b})" in f for f in found)
    dup_line = text[: text.rindex("{id: b")].count("\n") + 1
    assert any(f.startswith(f"{dup_line}:") and "duplicate id 'b'" in f for f in found)


def test_a_document_that_cannot_be_salvaged_gives_its_schema_errors() -> None:
    """An error outside any list item (``name: 5``): the checks do not run, as before."""
    text = "ztsim: 1\nkind: topology\nname: 5\n" + ZONES + "hosts:\n  - {id: h, zone: nowhere}\n"
    (found,) = errors(text)
    assert "name: Input should be a valid string" in found


def test_policies_and_assertions_duplicates_in_one_pass() -> None:
    text = POLICY + (
        "segmentation:\n  rules:\n    - {id: r, action: allow}\n    - {id: x, action: alow}\n"
        "    - {id: r, action: deny}\n"
    )
    found = errors(text, policy=True)
    assert any("Input should be 'allow', 'deny' or 'pass'" in f for f in found)
    assert (
        f"{at(text, '{id: ^r, action: deny')}: error: duplicate rule id 'r' (first at line 6)"
        in found
    )


def test_a_flood_of_schema_errors_is_not_salvaged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past the listed errors the document is only counted: no salvage is tried."""
    monkeypatch.setattr("ztsim.inputs.collector.MAX_LISTED", 2)
    called: list[int] = []
    monkeypatch.setattr(salvage._Cut, "plan", lambda *a: called.append(1) or True)
    errors(HEAD + ZONES + "hosts:\n" + "  - {}\n" * 5)
    assert called == []


paths = st.lists(st.integers(0, 3), min_size=1, max_size=3).map(tuple)


@settings(max_examples=60, deadline=None)
@given(
    st.recursive(st.integers(), lambda kids: st.lists(kids, max_size=4), max_leaves=25),
    st.lists(paths, max_size=4),
)
def test_places_translate_back_and_forth(data: object, removals: list[tuple[int, ...]]) -> None:
    """Against a naive reference: the remainder built by hand, every surviving node's
    place in it translated back to where it was written, and forth."""
    cut = salvage._Cut(data)
    for path in removals:
        node = data
        for step in path[:-1]:
            node = node[step] if isinstance(node, list) and step < len(node) else None
        if isinstance(node, list) and path[-1] < len(node):
            cut.plan(path, "missing")

    def naive(node: object, where: tuple[int, ...]) -> object:
        if not isinstance(node, list):
            return ("leaf", where)
        gone = set(cut.items.get(where, ()))
        return [naive(v, (*where, i)) for i, v in enumerate(node) if i not in gone]

    tagged = naive(data, ())
    assert _shape(cut.apply()) == _shape(tagged)

    def walk(node: object, here: tuple[int, ...]) -> None:
        if isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*here, i))
            return
        assert isinstance(node, tuple)
        written = node[1]
        assert cut.original(here) == written
        assert cut.remainder(written) == here

    walk(tagged, ())


def _shape(node: object) -> object:
    return [_shape(v) for v in node] if isinstance(node, list) else None


# --------------------------------------------------------------------------- commands

TOPO = (
    HEAD
    + ZONES
    + (
        "hosts:\n  - id: web\n    zone: lan\n    services: [{service: 443/tcp, public: true}]\n"
        "    vulnerabilities: [{id: v, service: 443/tcp, gives: root}]\n    data: [{id: d}]\n"
        "external: [{id: c2, fqdn: c2.example, role: c2}]\n"
    )
)


def test_a_selector_naming_a_missing_host_is_loud_in_the_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A warning (spec §1: a policy may serve several topologies), on stderr and in the
    summary, with the closest host; --strict makes it an error (exit 2)."""
    (tmp_path / "t.yaml").write_text(TOPO)
    pol = POLICY + (
        "segmentation:\n  default: deny\n  rules:\n"
        "    - {id: r, action: allow, from: {zone: internet}, to: {host: wbe}}\n"
    )
    (tmp_path / "p.yaml").write_text(pol)
    args = ["check", str(tmp_path / "t.yaml"), "-p", str(tmp_path / "p.yaml")]
    assert main(args) == 0
    out, err = capsys.readouterr()
    where = f"{tmp_path / 'p.yaml'}:{at(pol, 'host: ^wbe')}"
    warning = "host 'wbe' is not in topology 't' (did you mean 'web'?)"
    assert f"{where}: warning: {warning}" in err
    flat = " ".join(out.split())  # the summary's lines wrap at the terminal's width
    assert "warning: 1 policy warning: names the topology lacks" in flat
    assert f"warning: {where}: {warning}" in flat
    assert main([*args, "--strict"]) == 2
    assert f"{where}: error: {warning} (--strict)" in capsys.readouterr().err


def test_without_warnings_the_summary_says_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "t.yaml").write_text(TOPO)
    assert main(["check", str(tmp_path / "t.yaml")]) == 1
    assert "warning:" not in capsys.readouterr().out


@pytest.mark.parametrize("command", ["check", "paths", "validate"])
def test_a_topology_without_data_says_nothing_can_be_exfiltrated(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = HEAD + ZONES + "hosts:\n  - {id: web, zone: lan}\n"
    (tmp_path / "t.yaml").write_text(text)
    assert main([command, str(tmp_path / "t.yaml")]) == 0
    out, err = capsys.readouterr()
    assert f"{tmp_path / 't.yaml'}:{at(text, '^hosts')}: warning: {NO_DATA_MESSAGE}" in err
    assert "nothing can be exfiltrated" in NO_DATA_MESSAGE
    if command == "check":
        flat = " ".join(out.split())
        assert "warning: the topology holds no data item: nothing can be exfiltrated" in flat
    assert main([command, str(tmp_path / "t.yaml"), "--strict"]) == 2


def test_the_hint_budget_is_per_look_up_set() -> None:
    """The same input gives the same hints however often it is read in one process."""
    assert hints.BUDGET > 0
    text = HEAD + ZONES + "hosts:\n  - {id: h, zone: lann}\n"
    assert errors(text) == errors(text)


def test_the_readme_sample_of_errors_is_what_validate_says(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README shows standard error, which its sample runner does not read: this does."""
    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text("utf-8")
    command = "$ ztsim validate examples/mistakes/topology.yaml\n"
    block = readme[readme.index(command) + len(command) :]
    shown = block[: block.index("```")].splitlines()
    monkeypatch.chdir(root)
    assert main(["validate", "examples/mistakes/topology.yaml"]) == 2
    assert capsys.readouterr().err.splitlines() == shown


def test_a_valid_topology_asks_no_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hints are looked up for unknown names only: one look-up reads every host's id
    (seconds on 100,000 hosts), so a flow from an external zone must not ask one."""

    def no_lookup(*args: object, **kwargs: object) -> list[str]:
        raise AssertionError("a hint was looked up for a valid topology")

    monkeypatch.setattr(hints.difflib, "get_close_matches", no_lookup)
    topo = topology_from_text(
        """\
ztsim: 1
kind: topology
name: t
zones: [{id: internet, external: true}, {id: dmz}]
hosts:
  - id: web
    zone: dmz
    services: [{service: 443/tcp, public: true}]
    data: [{id: d, classification: pii, records: 1}]
traffic:
  - {from: internet, to: web, service: 443/tcp}
""",
        "t.yaml",
    )
    assert topo.model.traffic[0].source == "internet"
