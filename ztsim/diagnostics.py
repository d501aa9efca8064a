"""Problems found in input files, each with a file, a line and a column."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ztsim.textsafe import safe

__all__ = ["Diagnostic", "InputError"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in one file, at one place.

    ``str()`` gives the ``FILE:LINE:COL: level: message`` form that editors and CI
    annotations understand.
    """

    path: str
    line: int
    column: int
    level: Literal["error", "warning"]
    message: str

    def __str__(self) -> str:
        # The file name and the message may quote user text: escaped, on one line.
        path, msg = safe(self.path), safe(self.message)
        return f"{path}:{self.line}:{self.column}: {self.level}: {msg}"


class InputError(Exception):
    """Invalid input: one or more diagnostics, at least one of level error."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = sorted(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))
