"""Policies validated when first used (``check``): same results, same errors.

:func:`ztsim.inputs.loader.read_policies` parses policy files and leaves each one's
validation to the process that judges it (:func:`ztsim.analysis.analyze.analyze`).
Whatever process finds a policy invalid, the error report is the one loading
every policy up front gives: all errors, in file order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import parent_takes_at_most

import ztsim.analysis.judged
from ztsim.analysis.analyze import Needs, analyze
from ztsim.inputs.loader import (
    PendingPolicy,
    check_policies,
    load_policies,
    load_topology,
    read_policies,
)
from ztsim.model.diagnostics import InputError
from ztsim.output.checkjson import check_json_text, result_text

ROOT = Path(__file__).resolve().parents[1]
#: What check --format json asks of the analysis.
CHECK_JSON = Needs(warnings=True, result_text=result_text)
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


def _two_cores(monkeypatch: pytest.MonkeyPatch, most: int) -> None:
    """Analyse on two cores however small the topology; this process takes at most
    ``most`` tickets, the child all it finds."""
    monkeypatch.setattr(ztsim.analysis.judged, "PARALLEL_HOSTS", 0)
    parent_takes_at_most(monkeypatch, most)


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


@pytest.mark.parametrize("parent_takes", [None, 0, 1, 99])
def test_pending_policies_give_the_results_loaded_ones_give(
    monkeypatch: pytest.MonkeyPatch, parent_takes: int | None
) -> None:
    topo = load_topology(TOPOLOGY)
    expected = analyze(topo, load_policies([ROOT / "policies"]), CHECK_JSON)
    if parent_takes is not None:
        _two_cores(monkeypatch, parent_takes)
    pending = read_policies([ROOT / "policies"])
    got = analyze(topo, pending, CHECK_JSON)
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


@pytest.mark.parametrize("parent_takes", [None, 0, 1, 99])
@pytest.mark.parametrize("where", [0, 1, 2])
def test_invalid_pending_policies_report_what_loading_them_reports(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, parent_takes: int | None, where: int
) -> None:
    paths = _bad_policies(tmp_path, where)
    with pytest.raises(InputError) as loading:
        load_policies(paths)
    assert len(loading.value.diagnostics) == 2
    topo = load_topology(TOPOLOGY)
    if parent_takes is not None:
        _two_cores(monkeypatch, parent_takes)
    pending = read_policies(paths)
    assert all(isinstance(p, PendingPolicy) for p in pending)
    with pytest.raises(InputError) as judging:
        analyze(topo, pending, CHECK_JSON)
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


@pytest.mark.parametrize("parent_takes", [0, 1])
def test_check_prints_the_errors_it_printed_before(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    parent_takes: int,
) -> None:
    from ztsim.cli.main import main

    args = ["check", str(TOPOLOGY), "--policy", str(_bad_policies(tmp_path, 1)[0])]
    monkeypatch.setenv("ZTSIM_PARALLEL", "off")
    expected = main(args), capsys.readouterr()
    monkeypatch.delenv("ZTSIM_PARALLEL")
    _two_cores(monkeypatch, parent_takes)
    got = main(args), capsys.readouterr()
    assert got == expected
    assert expected[0] == 2 and expected[1].out == ""
    assert expected[1].err.count(": error: ") == 2
