"""The command-line face: ``ztsim`` and its commands (:mod:`ztsim.cli.commands`)."""

from __future__ import annotations

from ztsim.cli.main import build_parser, entry, main

__all__ = ["build_parser", "entry", "main"]
