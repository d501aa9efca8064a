"""Strict input (issue #23, points 7, 11 and 14): nothing read silently as something else.

- Point 7: a folder of policies never shrinks silently (bad entries, empty folders,
  ``-p ''`` are errors naming them; ``*.yml`` is read too).
- Point 11: duplicate JSON keys, blank values, YAML booleans and numbers as label
  values, strings or booleans as numbers, non-ASCII digits: errors at their place.
- Point 14: ``validate`` reads each input once, standard input and pipes included,
  and takes the kind from the parsed document.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from ztsim.cli.main import main
from ztsim.inputs.assertions import assertions_from_text
from ztsim.inputs.documents import parse_text
from ztsim.inputs.loader import expand_policy_paths, policy_from_text, topology_from_text
from ztsim.inputs.positions import YamlInputError
from ztsim.model.diagnostics import InputError
from ztsim.model.fields import LABEL_TEXT_MESSAGE

PAJEMPLOI = str(ROOT / "topologies" / "pajemploi.yaml")
ZERO_TRUST = ROOT / "policies" / "zero-trust.yaml"
TOPO = (
    "ztsim: 1\nkind: topology\nname: t\nzones:\n  - {id: internet, external: true}\n  - {id: lan}\n"
)
POL = "ztsim: 1\nkind: policy\nname: p\n"


def _errors(exc: pytest.ExceptionInfo[InputError]) -> list[tuple[int, int, str]]:
    return [(d.line, d.column, d.message) for d in exc.value.diagnostics]


# --------------------------------------------------------------------------- point 7


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "pols"
    folder.mkdir()
    (folder / "a.yaml").write_bytes(ZERO_TRUST.read_bytes())
    return folder


@pytest.mark.parametrize("bad", ["dangling", "fifo", "folder"])
def test_a_bad_folder_entry_is_an_error_naming_it(tmp_path: Path, bad: str, capsys) -> None:
    folder = _folder(tmp_path)
    entry = folder / "b.yaml"
    if bad == "dangling":
        entry.symlink_to(folder / "nowhere.yaml")
    elif bad == "fifo":
        os.mkfifo(entry)
    else:
        entry.mkdir()
    with pytest.raises(InputError) as err:
        expand_policy_paths([folder])
    ((line, col, message),) = _errors(err)
    assert err.value.diagnostics[0].path == str(entry) and (line, col) == (1, 1)
    assert {"dangling": "dangling", "fifo": "FIFO", "folder": "a folder"}[bad] in message
    assert main(["check", PAJEMPLOI, "-p", str(folder)]) == 2
    assert f"{entry}:1:1: error:" in capsys.readouterr().err
    # Listed as they stand for watching, bad entries included.
    assert expand_policy_paths([folder], strict=False) == [folder / "a.yaml", entry]


def test_empty_path_is_not_the_current_folder(capsys) -> None:
    assert main(["check", PAJEMPLOI, "-p", ""]) == 2
    assert "'':1:1: error: an empty path names no file" in capsys.readouterr().err


def test_an_empty_folder_beside_a_policy_is_an_error(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    argv = ["check", PAJEMPLOI, "-p", str(ZERO_TRUST), "-p", str(tmp_path / "empty")]
    assert main(argv) == 2
    assert "empty:1:1: error: no policy file found in this folder" in capsys.readouterr().err


def test_yml_and_upper_case_suffixes_are_read(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "b.yml").write_text("x")
    (folder / "C.YAML").write_text("x")
    (folder / "notes.txt").write_text("x")
    names = [p.name for p in expand_policy_paths([folder])]
    assert names == ["C.YAML", "a.yaml", "b.yml"]


def test_validate_on_an_empty_folder_validates_nothing(tmp_path: Path, capsys) -> None:
    assert main(["validate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}:1:1: error: no topology, policy or assertions file found" in err
    assert "nothing validated" in err


# --------------------------------------------------------------------------- point 11


def test_duplicate_json_key_is_an_error_at_the_repeat() -> None:
    text = '{"ztsim": 1,\n "a": {"action": "deny",\n   "action": "allow"}}'
    with pytest.raises(YamlInputError) as err:
        parse_text(text, "p.json", is_json=True)
    assert err.value.mark is not None and tuple(err.value.mark) == (3, 4)
    assert err.value.message == "invalid JSON: duplicate key 'action' (first at line 2)"


def test_duplicate_json_key_in_a_policy_fails_check(tmp_path: Path, capsys) -> None:
    pol = tmp_path / "p.json"
    pol.write_text(
        '{"ztsim": 1, "kind": "policy", "name": "p", "segmentation": {"default": "deny",\n'
        '  "default": "allow"}}'
    )
    assert main(["check", PAJEMPLOI, "-p", str(pol)]) == 2
    assert f"{pol}:2:3: error: invalid JSON: duplicate key 'default'" in capsys.readouterr().err


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    with pytest.raises(YamlInputError, match="nested"):
        parse_text("[" * 100_000, "deep.json", is_json=True)


@pytest.mark.parametrize(
    "rule",
    [
        "{id: r, action: allow, from: ~, to: any}",
        "{id: r, action: allow, from: null, to: any}",
        "{id: r, action: allow, to: {host: ~}}",
        "{id: r, action: allow, to: {zone: ~}}",
        "{id: r, action: allow, to: {labels: ~}}",
        "{id: r, action: allow, services: ~}",
    ],
)
def test_a_blank_value_is_not_any(rule: str) -> None:
    text = POL + "segmentation:\n  default: deny\n  rules:\n    - " + rule + "\n"
    with pytest.raises(InputError) as err:
        policy_from_text(text)
    ((line, _col, message),) = _errors(err)
    assert line == 7 and "blank value" in message and "omit the key" in message


def test_omitted_and_any_selectors_still_match_everything() -> None:
    pol = policy_from_text(
        POL + "segmentation:\n  rules:\n    - {id: r, action: allow, from: any, to: {}}\n"
    )
    rule = pol.model.segmentation.rules[0]
    assert rule.source.is_any and rule.to.is_any and rule.services is None


@pytest.mark.parametrize("value", ["on", "yes", "no", "off", "true", "1", "1.10", "017", "1:30"])
def test_a_label_value_yaml_reads_as_a_scalar_is_an_error(value: str) -> None:
    line = f"  - {{id: h, zone: lan, labels: {{tier: {value}}}}}"
    with pytest.raises(InputError) as err:
        topology_from_text(TOPO + "hosts:\n" + line + "\n")
    assert _errors(err) == [
        (8, line.index(f"tier: {value}") + 7, f"hosts.0.labels.tier: {LABEL_TEXT_MESSAGE}")
    ]
    quoted_line = line.replace(f"tier: {value}", f'tier: "{value}"')
    quoted = topology_from_text(TOPO + "hosts:\n" + quoted_line + "\n")
    assert quoted.hosts["h"].labels == {"tier": value}


@pytest.mark.parametrize("value", ["yes", '"0.5"', "true", ".nan", ".inf", "-1", "2"])
def test_a_detection_probability_is_a_number_in_range(value: str) -> None:
    text = (
        POL + "controls:\n  detection:\n"
        f"    - {{id: d, techniques: [T1078], probability: {value}}}\n"
    )
    with pytest.raises(InputError) as err:
        policy_from_text(text)
    ((line, col, message),) = _errors(err)
    assert (line, col) == (6, text.splitlines()[5].index(value) + 1)
    assert message.startswith("controls.detection.0.probability:")


def test_an_integer_probability_is_a_number() -> None:
    text = POL + "controls:\n  detection:\n    - {id: d, techniques: [T1078], probability: 1}\n"
    assert policy_from_text(text).model.controls.detection[0].probability == 1.0


@pytest.mark.parametrize("service", ["４４３/tcp", "٤٤٣/tcp", "4\u0664\u0663/tcp"])
def test_non_ascii_digits_are_not_a_port(service: str) -> None:
    text = TOPO + f"hosts:\n  - {{id: h, zone: lan, services: [{{service: '{service}'}}]}}\n"
    with pytest.raises(InputError, match="is not PORT/PROTO"):
        topology_from_text(text)


ASSERT = "ztsim: 1\nkind: assertions\nname: a\nassertions:\n"


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ("{id: a, type: min-attack-cost, steps: '3'}", "steps"),
        ("{id: a, type: min-attack-cost, steps: 3.0}", "steps"),
        ("{id: a, type: min-attack-cost, steps: true}", "steps"),
        ("{id: a, type: min-attack-cost, steps: 3, plans: '5'}", "plans"),
        ("{id: a, type: max-undetected, probability: yes}", "probability"),
        ("{id: a, type: max-undetected, probability: '0.5'}", "probability"),
        ("{id: a, type: no-exfiltration, data: ~}", "data"),
        ("{id: a, type: no-flow, from: ~, to: any}", "from"),
        ("{id: a, type: no-flow, from: any, to: any, services: ~}", "services"),
        ("{id: a, type: traffic-allowed, from: ~}", "from"),
    ],
)
def test_assertions_are_strict(item: str, field: str) -> None:
    with pytest.raises(InputError) as err:
        assertions_from_text(ASSERT + "  - " + item + "\n")
    ((line, _col, message),) = _errors(err)
    assert line == 5 and field in message


# --------------------------------------------------------------------------- point 14


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_validate_reads_standard_input(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _stdin(monkeypatch, Path(PAJEMPLOI).read_bytes())
    assert main(["validate", "-"]) == 0
    assert capsys.readouterr().out.startswith("ok: 1 topology")


def test_validate_names_standard_input_in_errors(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _stdin(monkeypatch, (TOPO + "hosts:\n  - {id: h, zone: nowhere}\n").encode())
    assert main(["validate", "-"]) == 2
    assert "<stdin>:8:" in capsys.readouterr().err


def test_validate_refuses_binary_standard_input(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _stdin(monkeypatch, b"\0" * 10_000)
    assert main(["validate", "-"]) == 2
    assert "<stdin>:1:1: error: binary data" in capsys.readouterr().err


def test_validate_reads_a_pipe(tmp_path: Path, capsys) -> None:
    read, write = os.pipe()
    data = Path(PAJEMPLOI).read_bytes()
    assert len(data) < 60_000  # fits the pipe's buffer: no writer thread needed
    os.write(write, data)
    os.close(write)
    try:
        assert main(["validate", f"/dev/fd/{read}"]) == 0
    finally:
        os.close(read)
    assert capsys.readouterr().out.startswith("ok: 1 topology")


def test_validate_a_fifo_nobody_writes_is_empty(tmp_path: Path, capsys) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    assert main(["validate", str(fifo)]) == 2
    assert f"{fifo}:1:1: error: empty document" in capsys.readouterr().err


def test_validate_takes_the_kind_from_the_document(tmp_path: Path, capsys) -> None:
    topo = tmp_path / "t.yaml"
    # The description comes first: a regex over the text would find its `kind:` first.
    topo.write_text("description: |\n  kind: assertions\n" + TOPO)
    assert main(["validate", str(topo)]) == 0
    # (one warning: the topology holds no data item)
    assert capsys.readouterr().out.startswith("ok: 1 topology, 0 policies")


def test_validate_without_kind_says_which_kinds(tmp_path: Path, capsys) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("ztsim: 1\nname: x\n")
    assert main(["validate", str(f)]) == 2
    assert f"{f}:1:1: error: missing `kind` (topology, policy or assertions)" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(("value", "what"), [("no", "a boolean, False"), ("017", "a number, 15")])
def test_a_yaml_scalar_where_text_is_expected_says_to_quote_it(value: str, what: str) -> None:
    text = TOPO + f"hosts:\n  - {{id: {value}, zone: lan}}\n"
    with pytest.raises(InputError) as err:
        topology_from_text(text)
    ((line, col, message),) = _errors(err)
    assert (line, col) == (8, 10)
    assert message == (
        f"hosts.0.id: Input should be a valid string (YAML read this value as {what}: "
        "quote it to make it text)"
    )


@pytest.mark.parametrize("steps", ["017", "1:30", "0x1f", "1_0"])
def test_an_assertion_count_yaml_reads_otherwise_is_an_error(steps: str) -> None:
    item = f"  - {{id: a, type: min-attack-cost, steps: {steps}}}\n"
    with pytest.raises(InputError) as err:
        assertions_from_text(ASSERT + item)
    ((line, col, message),) = _errors(err)
    assert (line, col) == (5, item.index(steps) + 1)
    assert message.startswith("assertions.0.steps: write the count in plain decimal digits")
    assert assertions_from_text(ASSERT + item.replace(steps, "15")).model.assertions


def test_validate_with_standard_input_closed(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(sys, "stdin", None)  # what Python sets when started with `<&-`
    assert main(["validate", "-"]) == 2
    assert "<stdin>:1:1: error: cannot read: standard input is closed" in capsys.readouterr().err
