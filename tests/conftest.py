"""Shared helpers for the core tests: build scenarios from Python dicts or YAML text.

Tests describe a minimal topology or policy as a dict (or YAML text) and get the
loaded object back through the same loader the CLI uses, so every test also runs
the schema and reference checks::

    t = make_topology({"zones": [...], "hosts": [...]})   # header added for you
    p = make_policy({"segmentation": {"default": "deny"}})
    sol = solve_under(t, p)

``ROOT`` is the repository root (shipped scenarios live under it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ztsim.engine.attack import AttackModel
from ztsim.engine.compiled import CompiledPolicy
from ztsim.engine.fixpoint import Solution, solve
from ztsim.inputs.loaded import LoadedPolicy, LoadedTopology, reference_policy
from ztsim.inputs.loader import policy_from_text, topology_from_text
from ztsim.perf.forking import Tickets

ROOT = Path(__file__).resolve().parent.parent

# Piped text output is laid out at COLUMNS when it is set (ztsim.output.tables.
# output_width): goldens and README samples are the 120-column layout, whatever
# the terminal the tests were started from.
os.environ.pop("COLUMNS", None)


def _text(spec: dict[str, Any] | str, kind: str) -> str:
    """YAML text for ``spec``; a dict gets the ``ztsim``/``kind``/``name`` header if missing."""
    if isinstance(spec, str):
        return spec
    doc = {"ztsim": 1, "kind": kind, "name": f"test-{kind}", **spec}
    return yaml.safe_dump(doc, sort_keys=False)


def make_topology(spec: dict[str, Any] | str) -> LoadedTopology:
    """Load a topology from a dict (header optional) or full YAML text."""
    return topology_from_text(_text(spec, "topology"))


def make_policy(spec: dict[str, Any] | str | None = None) -> LoadedPolicy:
    """Load a policy from a dict (header optional) or YAML text; None is the reference."""
    if spec is None:
        return reference_policy()
    return policy_from_text(_text(spec, "policy"))


def compile_under(topo: LoadedTopology, policy: LoadedPolicy | None = None) -> CompiledPolicy:
    """Compile ``policy`` (the reference when None) against ``topo``'s attack targets."""
    return AttackModel(topo).compile(policy or reference_policy())


def solve_under(
    topo: LoadedTopology, policy: LoadedPolicy | None = None, **kwargs: Any
) -> Solution:
    """Run the fixpoint of ``topo`` under ``policy`` (the reference when None)."""
    model = AttackModel(topo)
    return solve(model, model.compile(policy or reference_policy()), **kwargs)


def steps_of(sol: Solution, kind: str) -> list[Any]:
    """The fired steps of ``sol`` of one kind, in key order."""
    return [s for k, s in sorted(sol.fired.items()) if s.kind == kind]


@pytest.fixture(scope="session")
def h600(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A heterogeneous estate of 600 hosts (``benchmarks/hfamily.py``: 120 rules per
    policy, seed 3) and its three policies, generated once per session: read it, and
    copy it to edit it."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import hfamily  # (benchmarks/ is not a package)

    path = tmp_path_factory.mktemp("hfamily-600")
    hfamily.write(600, 120, 3, path)
    return path


@pytest.fixture
def root() -> Path:
    """The repository root."""
    return ROOT


#: The test process, and the ticket taking :func:`parent_takes_at_most` wraps.
PARENT = os.getpid()
TAKE = Tickets.take


def parent_takes_at_most(monkeypatch: pytest.MonkeyPatch, most: int) -> None:
    """In work shared with a forked child: this process takes at most ``most`` tickets
    (:class:`ztsim.perf.forking.Tickets`); the child, all it finds."""
    taken: list[int] = []

    def take(self: Tickets) -> int | None:
        if os.getpid() != PARENT:
            return TAKE(self)
        if len(taken) >= most:
            return None
        got = TAKE(self)
        if got is not None:
            taken.append(got)
        return got

    monkeypatch.setattr(Tickets, "take", take)


#: Modules whose tests run the CLI in subprocesses, fuzz, or search many random
#: scenarios: the full suite (CI) runs them; `pytest -m "not slow"` leaves them out
#: for a quick loop while editing.
SLOW_MODULES = frozenset(
    {
        "test_compression",
        "test_cost_consistency",
        "test_determinism",
        "test_exit_status",
        "test_for_plans",
        "test_forking",
        "test_fuzz",
        "test_hostile",
        "test_parsecache",
        "test_property",
        "test_readme",
        "test_recheck_property",
        "test_splitparse",
        "test_stderr_best_effort",
        "test_textsafe",
        "test_tui_diff",
        "test_tui_snapshots",
        "test_verdict_redteam",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of :data:`SLOW_MODULES` ``slow``."""
    for item in items:
        module = getattr(item, "module", None)
        if module is not None and module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
