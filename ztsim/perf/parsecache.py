"""A content-addressed cache of parsed documents, so re-checks skip parsing.

Parsing is the floor of a large check (figures in ``benchmarks/README.md``).
When a file has not changed since it was last read, its parsed data is loaded
from ``$ZTSIM_CACHE_DIR`` (default ``$XDG_CACHE_HOME/ztsim`` or
``~/.cache/ztsim``) instead.  Only files of :data:`MIN_BYTES` or more are cached
(smaller ones parse faster than the cache answers).  Set ``ZTSIM_CACHE=off`` to
turn it off.

The cache must never change a result, whoever wrote the folder (a shared CI
cache, a disk that lost a block, an older ztsim).  So an entry is trusted only
when it proves itself, before anything in it is decoded:

* it names what it is the parse of: the BLAKE2b hash of the source bytes, the
  flavour (JSON or YAML, which positions were recorded), ztsim's version and
  this module's format, all compared with the file being read;
* it carries a keyed BLAKE2b tag of that header and of the payload.  The key is
  a per-user secret kept *outside* the cache folder (``$XDG_STATE_HOME/ztsim/
  cache-key``, default ``~/.local/state/ztsim/cache-key``, made on first use,
  mode 0600, made anew if others may write it), so an entry copied from another
  file, another machine or a shared cache fails the check, and so does a damaged
  or truncated one: whoever can write the cache folder but not that key cannot
  forge an entry;
* the payload is MessagePack, whose decoder cannot run code and raises, never
  crashes, on bad bytes (``marshal`` and ``pickle`` can do either);
* the decoded value is then checked for the shape the reader expects.

Any problem (no key, an unwritable folder, a failed check, a value MessagePack
cannot store exactly) falls back to parsing.

Equal leaves of a parsed document are one object (hash-consing in
:func:`ztsim.perf.fastbuild.fast_build`) and validation checks each once
(:mod:`ztsim.perf.dedupe`); the payload keeps that sharing: a leaf met twice is
stored once, in a table, and referred to by its index.

The folder is bounded: after each store, entries beyond :data:`MAX_ENTRIES` or
:data:`MAX_FOLDER_BYTES` in all are removed, least recently used first (a hit
refreshes an entry's mtime), and temporary files of interrupted writes older
than :data:`STALE_TMP_SECONDS` are removed.  Only this module's own files (64
hexadecimal digits, or ``.tmp-`` followed by anything) are ever removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

__all__ = [
    "MAX_ENTRIES",
    "MAX_FOLDER_BYTES",
    "MIN_BYTES",
    "STALE_TMP_SECONDS",
    "cache_dir",
    "enabled",
    "entry_path",
    "key_path",
    "load",
    "prune",
    "store",
]

#: Files smaller than this are not cached.
MIN_BYTES = 256 * 1024
#: At most this many entries are kept ...
MAX_ENTRIES = 256
#: ... and at most this many bytes of entries in all (least recently used go first).
MAX_FOLDER_BYTES = 256 * 1024 * 1024
#: A temporary file of an interrupted write older than this is removed.
STALE_TMP_SECONDS = 600.0

# 3: MessagePack with a leaf table, keyed tag (2 was marshal, not self-verifying).
_FORMAT = 3
_MAGIC = b"ztsim-parse-cache\n"
_TAG_BYTES = 32
_KEY_BYTES = 32
_TMP_PREFIX = ".tmp-"
_EXT_LEAF = 1  # MessagePack extension type: a reference into the leaf table


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


def key_path() -> Path:
    """Where the secret that tags entries lives (outside :func:`cache_dir`, on purpose)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ztsim" / "cache-key"


def _where(locate: Callable[[], Path]) -> Path | None:
    """``locate()``, or ``None`` when there is no home to put it in (no ``$HOME``)."""
    try:
        return locate()
    except (RuntimeError, KeyError, OSError):  # what Path.home() raises then
        return None


def _source_digest(raw: bytes) -> bytes:
    return hashlib.blake2b(raw, digest_size=32).digest()  # faster than SHA-256 here


def _name(source: bytes, flavour: str) -> str:
    # The version is in the header, not the name: a new ztsim replaces old entries.
    return hashlib.blake2b(source + flavour.encode(), digest_size=32).hexdigest()


def entry_path(raw: bytes, flavour: str) -> Path:
    """The file that holds (or would hold) the cached parse of ``raw`` read as ``flavour``."""
    return cache_dir() / _name(_source_digest(raw), flavour)


def _header(source: bytes, flavour: str) -> bytes:
    """What an entry for ``source`` (digest) and ``flavour`` must begin with."""
    from ztsim._version import __version__

    version, kind = __version__.encode(), flavour.encode()
    return b"".join(
        (
            _MAGIC,
            struct.pack(">HH", _FORMAT, len(version)),
            version,
            struct.pack(">H", len(kind)),
            kind,
            source,
        )
    )


def _tag(secret: bytes, header: bytes, payload: bytes | memoryview) -> bytes:
    h = hashlib.blake2b(header, digest_size=_TAG_BYTES, key=secret)
    h.update(payload)
    return h.digest()


def _is_private(st: os.stat_result) -> bool:
    """A regular file of ours that nobody else may write (else anyone could forge tags)."""
    return (
        stat.S_ISREG(st.st_mode)
        and st.st_uid == os.geteuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def _read_file(path: Path, limit: int, *, private: bool = False) -> bytes | None:
    """The bytes of the regular file at ``path`` (``None`` if larger than ``limit``).

    Never follows a link, never waits on a FIFO or device, never reads past
    ``limit``: a link to ``/dev/zero`` or a planted huge file costs nothing.  With
    ``private``, only a file of ours that nobody else may write is read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        if private and not _is_private(st):
            return None
        with open(fd, "rb", closefd=False) as fh:
            blob = fh.read(limit + 1)
        return blob if len(blob) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _read_key(path: Path) -> bytes | None:
    key = _read_file(path, _KEY_BYTES, private=True)
    return key if key is not None and len(key) == _KEY_BYTES else None


def _secret(create: bool) -> bytes | None:
    """The per-user key, made when ``create`` and unusable (``None``: no cache this run).

    A key that is missing, of the wrong length (a crash while it was written) or
    that others may write (so may have forged with) is replaced by a new one: the
    entries tagged with the old one are then simply misses.
    """
    path = _where(key_path)
    if path is None:
        return None
    key = _read_key(path)
    if key is not None or not create:
        return key
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TMP_PREFIX)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(_KEY_BYTES))
            try:
                os.link(tmp, path)  # atomic, and never replaces a sound key in use
            except FileExistsError:
                if _read_key(path) is None:  # still unusable (not another process's new key)
                    os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except OSError:
        return None
    return _read_key(path)


def _max_entry_bytes(raw: bytes) -> int:
    # The payload of a parse is about the size of its source (positions can double
    # it); a larger entry is refused unread, so a planted huge file costs nothing.
    return 8 * len(raw) + (1 << 20)


# -- the payload --------------------------------------------------------------------


def _shared_ids(data: Any) -> set[int]:
    """The ids of the lists and mappings met more than once in ``data``."""
    seen: set[int] = set()
    twice: set[int] = set()
    stack = [data]
    while stack:
        x = stack.pop()
        children = x.values() if type(x) is dict else x
        if id(x) in seen:
            twice.add(id(x))
            continue
        seen.add(id(x))
        stack.extend(c for c in children if type(c) is dict or type(c) is list)
    return twice if type(data) is dict or type(data) is list else set()


def _with_leaf_refs(data: Any) -> tuple[list[Any], Any]:
    """``data`` with each shared list or mapping replaced by a reference into a table.

    The table lists each shared object once, after the shared objects it holds
    (so a reader builds them in order); the rest of the tree is copied.
    """
    shared = _shared_ids(data)
    table: list[Any] = []
    index: dict[int, msgpack.ExtType] = {}

    def copy(x: Any) -> Any:
        if type(x) is dict:
            return {k: ref(v) if type(v) is dict or type(v) is list else v for k, v in x.items()}
        return [ref(v) if type(v) is dict or type(v) is list else v for v in x]

    def ref(x: Any) -> Any:
        if id(x) not in shared:
            return copy(x)
        got = index.get(id(x))
        if got is None:
            table.append(copy(x))
            got = index[id(x)] = msgpack.ExtType(_EXT_LEAF, struct.pack(">I", len(table) - 1))
        return got

    top = ref(data) if type(data) is dict or type(data) is list else data
    return table, top


def _encode(value: Any) -> bytes:
    """MessagePack of ``(data, marks)``; raises ``TypeError``/``ValueError`` when inexact."""
    data, marks = value
    table, top = _with_leaf_refs(data)
    # strict_types: a tuple, a set, a date or a subclass cannot pass for a list, str...
    packer = msgpack.Packer(use_bin_type=True, strict_types=True)
    leaves = packer.pack_array_header(len(table)) + b"".join(packer.pack(x) for x in table)
    body = packer.pack(top)
    # Positions are tuples of str/int paths and (line, column) pairs: arrays, read back
    # as tuples (use_list=False), which is how the reader keeps them.
    spots = msgpack.packb(marks, use_bin_type=True)
    blob: bytes = msgpack.packb([leaves, body, spots], use_bin_type=True)
    return blob


def _no_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"unexpected MessagePack extension {code}")


def _decode(payload: bytes | memoryview) -> tuple[Any, Any]:
    """The ``(data, marks)`` of a payload; raises on any bad byte or unexpected shape."""
    parts = msgpack.unpackb(payload, raw=False, use_list=True, ext_hook=_no_ext)
    if type(parts) is not list or len(parts) != 3 or any(type(p) is not bytes for p in parts):
        raise ValueError("not a (leaves, data, marks) triple")
    leaves, body, spots = parts
    table: list[Any] = []

    def leaf(code: int, ref: bytes) -> Any:
        if code != _EXT_LEAF or len(ref) != 4:
            raise ValueError(f"unexpected MessagePack extension {code}")
        return table[struct.unpack(">I", ref)[0]]  # only earlier leaves: no cycle

    # Data decodes to dict, list, str, bytes, int, float, bool, None (and datetime,
    # which the writer never stores): values a YAML or JSON parse gives too, which the
    # loader validates as it would parsed data.  So only positions need a shape check.
    options: dict[str, Any] = {"raw": False, "strict_map_key": False, "timestamp": 3}
    unpacker = msgpack.Unpacker(None, ext_hook=leaf, max_buffer_size=len(leaves), **options)
    unpacker.feed(leaves)
    for _ in range(unpacker.read_array_header()):
        table.append(unpacker.unpack())
    data = msgpack.unpackb(body, ext_hook=leaf, **options)
    marks = msgpack.unpackb(spots, raw=False, use_list=False, ext_hook=_no_ext)
    _check_marks(marks)
    return data, marks


def _check_marks(marks: Any) -> None:
    """Positions as :meth:`ztsim.inputs.positions.Document.stored_marks` gives them, or ``None``."""
    if marks is None:
        return
    if type(marks) is not tuple or len(marks) not in (2, 3):
        raise ValueError("positions: not (nodes, keys[, depth])")
    if len(marks) == 3 and not (marks[2] is None or type(marks[2]) is int):
        raise ValueError("positions: bad depth")
    for pairs in marks[:2]:
        if type(pairs) is not tuple:
            raise ValueError("positions: not a sequence of pairs")
        for pair in pairs:
            if (
                type(pair) is not tuple
                or len(pair) != 2
                or type(pair[0]) is not tuple
                or type(pair[1]) is not tuple
                or len(pair[1]) != 2
                or type(pair[1][0]) is not int
                or type(pair[1][1]) is not int
            ):
                raise ValueError("positions: bad (path, (line, column)) pair")
            for step in pair[0]:
                if type(step) is not str and type(step) is not int:
                    raise ValueError("positions: bad path step")


# -- load and store -----------------------------------------------------------------


def load(raw: bytes, flavour: str) -> Any | None:
    """The cached parse of ``raw`` (``None`` when absent, off, or not proven sound)."""
    if not enabled() or len(raw) < MIN_BYTES:
        return None
    source = _source_digest(raw)
    folder = _where(cache_dir)
    if folder is None:
        return None
    path = folder / _name(source, flavour)
    blob = _read_file(path, _max_entry_bytes(raw))
    if blob is None:
        return None
    header = _header(source, flavour)
    start = len(header) + _TAG_BYTES
    if len(blob) < start or not blob.startswith(header):
        return None  # another format, version, flavour or file: never decoded
    secret = _secret(create=False)
    if secret is None:
        return None
    payload = memoryview(blob)[start:]
    if not hmac.compare_digest(blob[len(header) : start], _tag(secret, header, payload)):
        return None  # damaged, truncated, or not written with this user's key
    try:
        value = _decode(payload)
    except Exception:  # any decoding problem (MessagePack raises several kinds): parse
        return None
    with contextlib.suppress(OSError):
        os.utime(path, follow_symlinks=False)  # recently used: pruned last
    return value


def store(raw: bytes, flavour: str, value: Any) -> None:
    """Remember the parse ``value`` of ``raw`` (silently skipped when impossible)."""
    if not enabled() or len(raw) < MIN_BYTES:
        return
    try:
        payload = _encode(value)
    except (TypeError, ValueError, OverflowError, RecursionError):
        return  # not storable exactly (a date, a huge integer...): parsed each time
    source = _source_digest(raw)
    header = _header(source, flavour)
    if len(header) + _TAG_BYTES + len(payload) > _max_entry_bytes(raw):
        return  # would be refused on reading
    secret = _secret(create=True)
    if secret is None:
        return
    folder = _where(cache_dir)
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=_TMP_PREFIX)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(header)
            fh.write(_tag(secret, header, payload))
            fh.write(payload)
        os.replace(tmp, folder / _name(source, flavour))  # atomic: readers never see half
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        return
    prune(folder)


def _is_entry_name(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def prune(
    folder: Path | None = None,
    *,
    max_entries: int | None = None,
    max_bytes: int | None = None,
    now: float | None = None,
) -> None:
    """Bound the cache folder: least recently used entries first, then stale temp files.

    Keeps at most ``max_entries`` entries (default :data:`MAX_ENTRIES`) of at most
    ``max_bytes`` in all (default :data:`MAX_FOLDER_BYTES`), and removes
    ``.tmp-*`` files older than :data:`STALE_TMP_SECONDS` (a write that was
    interrupted).  Files of other names are never touched.  Errors are ignored.
    """
    folder = _where(cache_dir) if folder is None else folder
    if folder is None:
        return
    max_entries = MAX_ENTRIES if max_entries is None else max_entries
    max_bytes = MAX_FOLDER_BYTES if max_bytes is None else max_bytes
    now = time.time() if now is None else now
    entries: list[tuple[float, str, int]] = []
    try:
        with os.scandir(folder) as it:
            for item in it:
                try:
                    st = item.stat(follow_symlinks=False)
                except OSError:
                    continue
                if not stat.S_ISREG(st.st_mode):
                    continue
                if item.name.startswith(_TMP_PREFIX):
                    if now - st.st_mtime > STALE_TMP_SECONDS:
                        with contextlib.suppress(OSError):
                            os.unlink(item.path)
                elif _is_entry_name(item.name):
                    entries.append((st.st_mtime, item.name, st.st_size))
    except OSError:
        return
    entries.sort()  # oldest first; equal times by name, so the order is the same each run
    total = sum(size for _, _, size in entries)
    count = len(entries)
    for _, name, size in entries:
        if count <= max_entries and total <= max_bytes:
            break
        with contextlib.suppress(OSError):
            os.unlink(folder / name)
        count -= 1
        total -= size
