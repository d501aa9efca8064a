"""Kubernetes manifests in: the reader of issue 25 (layer ``inputs``).

:func:`read_manifests` reads files and directories of manifests (YAML streams,
JSON, ``*List`` kinds) into the frozen objects of :mod:`ztsim.inputs.k8s.objects`,
each with its FILE:LINE:COL.  The mapping to ztsim's model comes later.
"""

from __future__ import annotations

from ztsim.inputs.k8s.objects import Manifests, Workload
from ztsim.inputs.k8s.reader import read_manifests

__all__ = ["Manifests", "Workload", "read_manifests"]
