"""The public path of :class:`~ztsim.analysis.workspace.Workspace`, kept from before the
package had one folder per layer (``from ztsim.workspace import Workspace``)."""

from __future__ import annotations

from ztsim.analysis.workspace import Workspace

__all__ = ["Workspace"]
