"""Problems found in input files, each with a file, a line and a column."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from ztsim.model.textsafe import safe

__all__ = ["MAX_LISTED", "Diagnostic", "InputError", "env_int", "omitted_summary"]


def env_int(name: str, default: int, minimum: int = 1) -> int:
    """The integer setting ``name`` of the environment; ``default`` when unset or not
    a whole number (a typo in a setting must not crash every run), at least ``minimum``."""
    try:
        return max(minimum, int(os.environ.get(name, "").replace("_", "") or default))
    except ValueError:
        return default


#: Most problems of one level listed per file (``ZTSIM_MAX_ERRORS``); the rest are
#: counted in one closing line (see :func:`omitted_summary`).  A small file can hold
#: millions of errors (a list of a million ``{}``): printing, locating, even keeping
#: them all would take minutes and gigabytes for nothing a person reads.
MAX_LISTED = env_int("ZTSIM_MAX_ERRORS", 100)


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem in one file, at one place (or, with line 0, in a command's arguments).

    ``str()`` gives the ``FILE:LINE:COL: level: message`` form that editors and CI
    annotations understand.  ``omitted``: for the closing line of a file whose
    problems were too many to list, how many it stands for (0 for a problem).

    >>> print(Diagnostic("topo.yaml", 3, 7, "error", "unknown zone 'dmz'"))
    topo.yaml:3:7: error: unknown zone 'dmz'

    Line 0 means no place in a file (an error in how a command was called), said as
    argparse says usage errors:

    >>> print(Diagnostic("ztsim paths", 0, 0, "error", "--max-paths must be >= 1"))
    ztsim paths: error: --max-paths must be >= 1
    """

    path: str
    line: int
    column: int
    level: Literal["error", "warning"]
    message: str
    omitted: int = field(default=0, compare=False)

    def __str__(self) -> str:
        # The file name and the message may quote user text: escaped, on one line.
        path, msg = safe(self.path), safe(self.message)
        if self.line <= 0:  # not about a place in a file (a usage error): no fake 1:1
            return f"{path}: {self.level}: {msg}"
        return f"{path}:{self.line}:{self.column}: {self.level}: {msg}"


def omitted_summary(
    path: str, line: int, column: int, level: Literal["error", "warning"], count: int
) -> Diagnostic:
    """The line that stands for ``count`` problems not listed, placed at the first of
    them (``line``, ``column``).

    >>> omitted_summary("big.yaml", 9, 1, "warning", 1500).omitted
    1500
    """
    noun = "error(s)" if level == "error" else "warning(s)"
    return Diagnostic(
        path,
        line,
        column,
        level,
        f"... and {count:,} more {noun} in this file, not listed (the first {MAX_LISTED:,} "
        f"are; ZTSIM_MAX_ERRORS)",
        omitted=count,
    )


class InputError(Exception):
    """Invalid input: one or more diagnostics, at least one of level error.

    >>> err = InputError([omitted_summary("a.yaml", 5, 1, "error", 40),
    ...                   Diagnostic("a.yaml", 2, 3, "error", "bad id")])
    >>> [d.line for d in err.diagnostics], err.error_count
    ([2, 5], 41)
    """

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        # In file order; a file's closing "... and N more" lines after its problems.
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.path, d.omitted > 0, d))
        super().__init__("\n".join(str(d) for d in self.diagnostics))

    @property
    def error_count(self) -> int:
        """How many errors in all, those a closing line stands for included."""
        return sum(d.omitted or 1 for d in self.diagnostics if d.level == "error")
