"""ztsim's version, apart from the package root so that modules need not import it."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
