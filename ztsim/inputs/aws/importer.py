"""An AWS estate in, a loaded topology and policy out (issue 28, points 1 and 5).

The Kubernetes import's bridge serves unchanged (:mod:`ztsim.inputs.k8s.importer`):
the drafts are merged, validated and loaded so that every rule's place is the
security group rule, ACL entry or route it compiles.  :func:`import_estate`
takes an :class:`~ztsim.inputs.aws.objects.Estate` from any reader (the
``describe-*`` reader or the Terraform one); :func:`import_aws` reads
``describe-*`` files first.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ztsim.inputs.aws.compile import policy_document, publish_exposed, topology_document
from ztsim.inputs.aws.compile_index import EstateIndex
from ztsim.inputs.aws.objects import Estate
from ztsim.inputs.k8s.importer import Imported, imported_from_drafts
from ztsim.inputs.k8s.objects import Manifests
from ztsim.model.diagnostics import Diagnostic, InputError

__all__ = ["import_aws", "import_estate"]


def _as_manifests(estate: Estate) -> Manifests:
    """The estate's files and notes where the bridge keeps a reading's (it reads
    only ``notes`` of it)."""
    return Manifests(estate.files, (), (), (), (), (), (), (), (), estate.notes)


def import_estate(
    estate: Estate,
    label: str,
    overlay_path: str | Path | None = None,
    name: str = "aws",
) -> Imported:
    """Compile ``estate``, apply the overlay (``overlay_path``, a ztsim ``kind:
    overlay`` file: its ``select`` takes tags as labels) and load both drafts.

    Raises
    ------
    InputError
        With every problem found in the overlay or the drafts, each at its place.
    """
    from ztsim.inputs.k8s.overlay import apply_overlay_file

    index = EstateIndex(estate)
    topology = topology_document(estate, name, index)
    if overlay_path is not None:  # every problem of the file at once (schema and merge)
        topology = apply_overlay_file(topology, overlay_path)
    topology = publish_exposed(topology)
    policy = policy_document(estate, topology, name, index)
    return imported_from_drafts(_as_manifests(estate), topology, policy, label)


def import_aws(
    paths: Sequence[str | Path],
    overlay_path: str | Path | None = None,
    name: str | None = None,
) -> Imported:
    """Read ``describe-*`` JSON (files and folders), compile and load it.

    Raises
    ------
    InputError
        With every problem found, each at its FILE:LINE:COL; nothing else is done.
    """
    from ztsim.inputs.aws.describe import read_describe

    if not paths:
        raise InputError([Diagnostic("ztsim", 0, 0, "error", "no AWS path given")])
    estate = read_describe(paths)
    label = str(paths[0])
    imported = import_estate(estate, label, overlay_path, name or _default_name(paths))
    words = [w for path in paths for w in ("--aws", str(path))]
    if overlay_path is not None:
        words += ["--overlay", str(overlay_path)]
    imported.topology.command_words = tuple(words)
    return imported


def _default_name(paths: Sequence[str | Path]) -> str:
    name = Path(str(paths[0])).name if len(paths) == 1 else ""
    return name if name and name not in (".", "..") else "aws"
