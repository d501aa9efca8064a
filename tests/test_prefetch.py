"""Policies parsed ahead in a forked child load exactly as parsed in place."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from ztsim.inputs.loader import load_policies, load_topology, prefetch_policies
from ztsim.model.diagnostics import InputError
from ztsim.perf import prefetch
from ztsim.perf.prefetch import Prefetched

ROOT = Path(__file__).resolve().parents[1]
POLICIES = ROOT / "policies"


@pytest.fixture(autouse=True)
def _always(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prefetch the small shipped files too, with no parse cache to hide behind."""
    monkeypatch.setattr(prefetch, "MIN_BYTES", 0)
    monkeypatch.setenv("ZTSIM_CACHE", "off")
    monkeypatch.delenv("ZTSIM_PARALLEL", raising=False)


def _used(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the files whose prefetched parse was taken."""
    used: list[str] = []
    take = Prefetched.take

    def spy(self: Prefetched, name: str, flavour: str, raw: bytes) -> object:
        got = take(self, name, flavour, raw)
        if got is not None:
            used.append(name)
        return got

    monkeypatch.setattr(Prefetched, "take", spy)
    return used


def test_prefetched_policies_equal_those_parsed_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    used = _used(monkeypatch)
    plain = load_policies([POLICIES])
    with prefetch_policies([POLICIES]) as ahead:
        assert ahead is not None
        load_topology(ROOT / "topologies" / "pajemploi.yaml")
        fetched = load_policies([POLICIES], prefetched=ahead)
    assert sorted(used) == sorted(str(p.path) for p in plain) and used
    assert [p.model for p in fetched] == [p.model for p in plain]
    for a, b in zip(plain, fetched, strict=True):
        for r in a.model.segmentation.rules:
            assert a.rule_mark("segmentation", r.id) == b.rule_mark("segmentation", r.id)
        assert b.doc is not None and a.doc is not None
        assert b.doc.positions() == a.doc.positions()


def test_a_file_changed_after_the_prefetch_is_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    used = _used(monkeypatch)
    path = tmp_path / "p.yaml"
    shutil.copy(POLICIES / "segmented.yaml", path)
    with prefetch_policies([path]) as ahead:
        assert ahead is not None
        ahead._collect()  # the child has read the first version
        text = path.read_text(encoding="utf-8").replace("name: segmented", "name: edited")
        path.write_text(text, encoding="utf-8")
        (loaded,) = load_policies([path], prefetched=ahead)
    assert loaded.name == "edited" and not used


def test_errors_are_those_of_a_parse_in_place(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("ztsim: 1\nkind: policy\nname: a\nsegmentation: [\n")
    (tmp_path / "b.yaml").write_text("ztsim: 1\nkind: policy\nname: b\nbogus: 1\n")
    with pytest.raises(InputError) as plain:
        load_policies([tmp_path])
    with prefetch_policies([tmp_path]) as ahead, pytest.raises(InputError) as fetched:
        load_policies([tmp_path], prefetched=ahead)
    assert [str(d) for d in fetched.value.diagnostics] == [str(d) for d in plain.value.diagnostics]
    assert len(plain.value.diagnostics) == 2


def test_the_child_is_reaped_even_when_nothing_is_taken() -> None:
    with prefetch_policies([POLICIES]) as ahead:
        assert ahead is not None
        pid = ahead._child._pid
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, 0)  # already reaped: no zombie left behind


def test_no_prefetch_when_parallel_work_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZTSIM_PARALLEL", "off")
    with prefetch_policies([POLICIES]) as ahead:
        assert ahead is None
