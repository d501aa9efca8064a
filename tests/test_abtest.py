"""benchmarks/abtest.py reads the figure phases.py prints."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import abtest  # noqa: E402

PHASES_OUTPUT = """\
workload L, 5 rounds on two cores, minimum (median) seconds
  (machine speed: the calibration loop of run.py took 0.50 s)
  after       2.155  (2.428)
  validate    0.593  (0.670)
  unphased    0.176  (0.199)
after parsing: median 2.43 s (best 2.16 s) against 2 s: NOT met
"""


def test_the_after_parsing_figure_is_found() -> None:
    found = abtest.AFTER.search(PHASES_OUTPUT)
    assert found is not None and float(found.group(1)) == 2.155


def test_a_tree_without_the_workload_gives_no_figure(tmp_path: Path) -> None:
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "phases.py").write_text("print('missing')\n")
    assert abtest.after_parsing(tmp_path, "L", 1) is None
