"""The example scenario that ships inside the package (for ``ztsim tui`` with no argument)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["pajemploi"]


def pajemploi() -> tuple[Path, Path]:
    """Return the bundled Pajemploi topology file and its policies folder.

    From a source checkout these are ``topologies/pajemploi.yaml`` and ``policies/``;
    from an installed wheel, the same files shipped as package data.
    """
    repo = Path(__file__).resolve().parents[2]
    topo = repo / "topologies" / "pajemploi.yaml"
    pols = repo / "policies"
    if topo.is_file() and pols.is_dir():
        return topo, pols
    base = resources.files("ztsim") / "scenarios"
    return (
        Path(str(base / "topologies" / "pajemploi.yaml")),
        Path(str(base / "policies")),
    )
