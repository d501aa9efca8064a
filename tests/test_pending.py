"""Policies validated when first used (``check``): same results, same errors.

:func:`ztsim.inputs.loader.read_policies` parses policy files and leaves each one's
validation to when it is judged (:func:`ztsim.analysis.analyze.analyze`).
Whichever policy is found invalid, the error report is the one loading every
policy up front gives: all errors, in file order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ztsim.analysis.analyze import Needs, analyze
from ztsim.inputs.loader import (
    PendingPolicy,
    check_policies,
    load_policies,
    load_topology,
    read_policies,
)
from ztsim.model.diagnostics import InputError
from ztsim.output.checkjson import check_json_text

ROOT = Path(__file__).resolve().parents[1]
TOPOLOGY = ROOT / "topologies" / "pajemploi.yaml"

BAD = """ztsim: 1
kind: policy
name: bad
segmentation:
  rules:
    - {id: r1, action: maybe, from: any, to: any}
"""

WORSE = """ztsim: 1
kind: policy
name: worse
controls:
  mfa: 7
"""


@pytest.fixture(autouse=True)
def _parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZTSIM_PARALLEL", raising=False)


def test_a_pending_policy_is_validated_when_its_model_is_read() -> None:
    (pending,) = read_policies([ROOT / "policies" / "zero-trust.yaml"])
    (loaded,) = load_policies([ROOT / "policies" / "zero-trust.yaml"])
    assert isinstance(pending, PendingPolicy) and not pending.validated
    assert (pending.name, pending.path) == (loaded.name, loaded.path)
    assert not pending.validated  # the name is read from the document
    assert pending.model == loaded.model
    assert pending.validated
    assert pending.rule_mark("segmentation", loaded.model.segmentation.rules[0].id) == (
        loaded.rule_mark("segmentation", loaded.model.segmentation.rules[0].id)
    )


def test_pending_policies_give_the_results_loaded_ones_give() -> None:
    topo = load_topology(TOPOLOGY)
    expected = analyze(topo, load_policies([ROOT / "policies"]), Needs(warnings=True))
    pending = read_policies([ROOT / "policies"])
    got = analyze(topo, pending, Needs(warnings=True))
    assert check_json_text(got) == check_json_text(expected)
    assert got.warnings == expected.warnings
    assert [r.policy.name for r in got.results] == [r.policy.name for r in expected.results]


def _bad_policies(tmp_path: Path, where: int) -> list[Path]:
    """The shipped policies with BAD (and WORSE, last) written among them."""
    folder = tmp_path / "policies"
    folder.mkdir()
    names = sorted(p.name for p in (ROOT / "policies").glob("*.yaml"))
    for name in names:
        (folder / name).write_text((ROOT / "policies" / name).read_text())
    (folder / f"{names[where][:-5]}-bad.yaml").write_text(BAD)
    (folder / "zz-worse.yaml").write_text(WORSE)
    return [folder]


@pytest.mark.parametrize("where", [0, 1, 2])
def test_invalid_pending_policies_report_what_loading_them_reports(
    tmp_path: Path, where: int
) -> None:
    paths = _bad_policies(tmp_path, where)
    with pytest.raises(InputError) as loading:
        load_policies(paths)
    assert len(loading.value.diagnostics) == 2
    topo = load_topology(TOPOLOGY)
    pending = read_policies(paths)
    assert all(isinstance(p, PendingPolicy) for p in pending)
    with pytest.raises(InputError) as judging:
        analyze(topo, pending, Needs(warnings=True))
    assert judging.value.diagnostics == loading.value.diagnostics


def test_check_policies_raises_every_error_in_order(tmp_path: Path) -> None:
    paths = _bad_policies(tmp_path, 1)
    pending = read_policies(paths)
    with pytest.raises(InputError) as got:
        check_policies(pending)
    with pytest.raises(InputError) as want:
        load_policies(paths)
    assert got.value.diagnostics == want.value.diagnostics
    check_policies(read_policies([ROOT / "policies"]))  # nothing to report


def test_a_file_that_does_not_parse_is_reported_with_the_others(tmp_path: Path) -> None:
    paths = _bad_policies(tmp_path, 0)
    (paths[0] / "broken.yaml").write_text("ztsim: 1\nkind: [policy\n")
    with pytest.raises(InputError) as want:
        load_policies(paths)
    with pytest.raises(InputError) as got:
        read_policies(paths)
    assert got.value.diagnostics == want.value.diagnostics
    assert len(got.value.diagnostics) == 3


def test_check_prints_the_errors_it_printed_before(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ztsim.cli.main import main

    args = ["check", str(TOPOLOGY), "--policy", str(_bad_policies(tmp_path, 1)[0])]
    monkeypatch.setenv("ZTSIM_PARALLEL", "off")
    expected = main(args), capsys.readouterr()
    monkeypatch.delenv("ZTSIM_PARALLEL")
    got = main(args), capsys.readouterr()
    assert got == expected
    assert expected[0] == 2 and expected[1].out == ""
    assert expected[1].err.count(": error: ") == 2
