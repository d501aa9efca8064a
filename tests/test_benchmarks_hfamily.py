"""benchmarks/hfamily.py: the heterogeneous family H is deterministic, valid and sane."""

from __future__ import annotations

import sys
from pathlib import Path

from ztsim.cli import main as cli_main

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
import hfamily  # noqa: E402  (benchmarks/ is not a package)
import selfcheck  # noqa: E402


def _files(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.yaml"))}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    hfamily.write(400, 60, 7, tmp_path / "a")
    hfamily.write(400, 60, 7, tmp_path / "b")
    hfamily.write(400, 60, 8, tmp_path / "c")
    a, b, c = (_files(tmp_path / d) for d in "abc")
    assert len(a) == 1 + len(hfamily.POLICY_NAMES)
    assert a == b
    assert a != c


def test_h_s_validates_strictly_and_passes_selfcheck(tmp_path: Path) -> None:
    w = hfamily.WORKLOADS["H-S"]
    files = hfamily.write(w.hosts, w.rules, 1, tmp_path)
    assert cli_main(["validate", "--strict", *map(str, files)]) == 0
    assert not selfcheck.check_dir(tmp_path, None).errors
