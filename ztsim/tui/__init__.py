"""ztsim's terminal UI (Textual): the face of ztsim for architects and students.

``ztsim tui [TOPOLOGY [POLICY|DIR]...] [--watch]`` opens it; with no topology it
opens the bundled Pajemploi scenario and its policies.  The UI has no logic of
its own: it shows what :mod:`ztsim.analysis.analyze` computes, in a worker thread.

This is the only package of ztsim that imports Textual.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ztsim.tui.scenario import Scenario

if TYPE_CHECKING:
    from ztsim.tui.app import ZtsimApp

__all__ = ["Scenario", "ZtsimApp", "default_scenario", "run"]


def default_scenario() -> Scenario:
    """The bundled Pajemploi topology with its policies folder."""
    from ztsim.inputs.bundled import pajemploi

    topo, policies = pajemploi()
    return Scenario.from_args(topo, [str(policies)])


def run(
    topology: str | None,
    policies: Sequence[str] = (),
    watch: bool = False,
    *,
    k8s: Sequence[str] = (),
    overlay: str | None = None,
    aws: Sequence[str] = (),
    aws_kind: str = "aws",
) -> int:
    """Open the TUI on ``topology`` and ``policies`` (the bundled scenario when None),
    or on Kubernetes manifests ``k8s``, or an AWS estate ``aws`` (``describe-*``
    paths, or with ``aws_kind`` ``terraform`` a plan), with an ``overlay``.

    Returns the exit status: 0, or 2 when a file named on the command line does
    not exist (reported as ``FILE:1:1: error: ...``).  Errors inside the files are
    shown in the app, which keeps running so they can be fixed and reloaded.
    """
    imported = [*k8s, *aws]
    if topology is None and not imported:
        scenario = default_scenario()
    else:
        given = [*imported, *([overlay] if overlay else [])] if imported else [topology, *policies]
        missing = [p for p in given if p is not None and not Path(p).exists()]
        if missing:
            for p in missing:
                print(f"{p}:1:1: error: no such file or folder", file=sys.stderr)
            return 2
        if k8s:
            scenario = Scenario.from_k8s(list(k8s), overlay)
        elif aws:
            scenario = Scenario.from_aws(list(aws), aws_kind, overlay)
        else:
            assert topology is not None
            scenario = Scenario.from_args(topology, list(policies))
    from ztsim.tui.app import ZtsimApp

    ZtsimApp(scenario, watch=watch).run()
    return 0


def __getattr__(name: str) -> object:
    """Import :class:`ZtsimApp` lazily (importing it loads Textual)."""
    if name == "ZtsimApp":
        from ztsim.tui.app import ZtsimApp

        return ZtsimApp
    raise AttributeError(name)
