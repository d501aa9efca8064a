"""A content-addressed cache of parsed documents, so re-checks skip parsing.

Parsing is the floor of a large check (a 100,000-host YAML topology takes seconds
to read).  When a file has not changed since it was last read, its parsed data is
loaded from ``$ZTSIM_CACHE_DIR`` (default ``$XDG_CACHE_HOME/ztsim`` or
``~/.cache/ztsim``) instead, keyed by a BLAKE2b hash of its bytes and the ztsim
version, as mypy and pytest do.  Only files of :data:`MIN_BYTES` or more are
cached (smaller ones parse faster than the cache answers).  Set
``ZTSIM_CACHE=off`` to turn it off.  Any problem with the cache (unwritable folder,
damaged entry, a value marshal cannot store) falls back to parsing: the cache can
only make a run faster, never change its result.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["MIN_BYTES", "cache_dir", "enabled", "load", "store"]

#: Files smaller than this are not cached.
MIN_BYTES = 256 * 1024
_FORMAT = 2  # 2: equal leaves shared (ztsim.yamlio._fast_build)


def enabled() -> bool:
    """Whether the cache is on (``ZTSIM_CACHE=off`` turns it off)."""
    return os.environ.get("ZTSIM_CACHE", "on").lower() not in ("off", "0", "no", "false")


def cache_dir() -> Path:
    """Where cached documents live."""
    explicit = os.environ.get("ZTSIM_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ztsim"


def _key(raw: bytes, flavour: str) -> str:
    from ztsim import __version__

    h = hashlib.blake2b(raw, digest_size=32)  # half the time of SHA-256 here
    h.update(f"|{flavour}|{__version__}|{_FORMAT}".encode())
    return h.hexdigest()


def load(raw: bytes, flavour: str) -> Any | None:
    """The cached parse of ``raw`` (``None`` when absent, off, or unreadable)."""
    if not enabled() or len(raw) < MIN_BYTES:
        return None
    try:
        return marshal.loads((cache_dir() / _key(raw, flavour)).read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None


def store(raw: bytes, flavour: str, value: Any) -> None:
    """Remember the parse of ``raw`` (silently skipped when impossible)."""
    if not enabled() or len(raw) < MIN_BYTES:
        return
    try:
        blob = marshal.dumps(value)
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, folder / _key(raw, flavour))  # atomic: readers never see half
    except (OSError, ValueError, TypeError):
        return
