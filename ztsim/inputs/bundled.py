"""The example scenario that ships inside the package (for ``ztsim tui`` with no argument)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["SCENARIOS", "pajemploi", "scenario_files"]

#: The bundled scenarios (``ztsim init --scenario``), the first the default.
SCENARIOS = ("pajemploi", "corporate", "k8s-shop")


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


def _root() -> Path:
    """The folder holding ``topologies/``, ``policies/`` and ``assertions/``: the
    source checkout, or the installed package's ``scenarios``."""
    repo = Path(__file__).resolve().parents[2]
    if (repo / "topologies" / "pajemploi.yaml").is_file() and (repo / "assertions").is_dir():
        return repo
    return Path(str(resources.files("ztsim") / "scenarios"))


def scenario_files(name: str) -> list[tuple[str, Path]]:
    """A bundled scenario's files: (path relative to a project folder, source file).

    Its topology ``topologies/NAME.yaml``, its policies (``policies/NAME/*.yaml``, or
    ``policies/*.yaml`` for Pajemploi, whose policies are the top-level ones) and its
    assertions ``assertions/NAME.yaml``, sorted.  ``name`` must be one of
    :data:`SCENARIOS`.
    """
    if name not in SCENARIOS:
        raise ValueError(f"no bundled scenario {name!r}")
    root = _root()
    folder = root / "policies" / name
    policies = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not policies:
        policies = sorted((root / "policies").glob("*.yaml"))
    files = [root / "topologies" / f"{name}.yaml", *policies, root / "assertions" / f"{name}.yaml"]
    return [(f.relative_to(root).as_posix(), f) for f in files if f.is_file()]
