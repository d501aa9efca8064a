"""Writing output files so that no file is ever lost (issue #23, point 12).

Every file ztsim writes (``check --output``, ``graph -o``, ``harden --write``, the
TUI's exports) goes through :func:`write_output`:

* the target is checked before anything is written, and best before the run
  (:func:`check_target`): it must not be an input of the same run (the topology,
  a policy file or a file of a policy folder, an assertions file, a baseline),
  whatever the spelling (``./x``, ``../d/x``, a symlink, a hard link: files are
  compared by device and inode, :func:`os.path.samefile`); its folder must exist
  and it must not be a folder.  Each problem is an :class:`InputError`
  (``FILE:1:1: error: ...``, exit 2);
* the text is written to a temporary file in the target's folder, flushed to
  disk (``fsync``) and renamed over the target (:func:`os.replace`, atomic on
  POSIX): a failed write (full disk, quota, I/O error) leaves the old file
  intact and raises :class:`OutputError` (exit 4, ``ExitCode.OUTPUT``);
* an existing target keeps its permission bits; a new one gets the usual
  ``0o666 & ~umask``.  A symlink target is written through (its destination is
  replaced, the link stays).  A target that exists and is not a regular file
  (``/dev/null``, a named pipe, a terminal) is written in place: renaming over
  a device would replace the device, not feed it.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TextIO, cast

from ztsim.model.diagnostics import Diagnostic, InputError

__all__ = ["OutputError", "check_target", "guarded_stdout", "input_files", "write_output"]


class OutputError(Exception):
    """Output could not be written (standard output or a file): exit ``ExitCode.OUTPUT``.

    ``str()`` is the one line printed after ``ztsim: cannot write output: ``.
    """

    def __init__(self, reason: str, path: str | None = None) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def input_files(paths: Iterable[str | Path | None]) -> list[Path]:
    """The files a run reads: ``paths`` with each folder expanded to every file in it.

    Wider than the loader's expansion (``*.yaml`` and ``*.json`` only): a report
    written over any file of a policy folder is refused too, to be safe.
    """
    out: list[Path] = []
    for p in paths:
        if p is None:
            continue
        path = Path(p)
        if path.is_dir():
            try:
                out.extend(sorted(q for q in path.iterdir() if q.is_file()))
            except OSError:
                continue  # unreadable folder: the loader reports it
        else:
            out.append(path)
    return out


def _same(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # b missing or unreadable: the loader says so; a missing: not b
        return False


def check_target(
    path: str, inputs: Sequence[str | Path | None] = (), *, option: str = "--output"
) -> None:
    """Raise :class:`InputError` if ``path`` cannot take output, before anything is written.

    ``inputs`` are the files and folders the run reads (see :func:`input_files`);
    ``option`` names the option in messages (``--output``, ``--write``).
    """

    def refuse(message: str) -> InputError:
        return InputError([Diagnostic(path, 1, 1, "error", message)])

    target = Path(path)
    if path == "" or target.is_dir():
        raise refuse(f"cannot write {option}: {path or 'the empty path'} is a folder, not a file")
    if path.endswith(("/", os.sep)):
        # Path() drops the slash: `-o reports/` would write a file named `reports`.
        raise refuse(f"cannot write {option}: {path} names a folder (it ends in /), not a file")
    # Through a symlink, the file replaced is its destination, in its own folder.
    real = Path(os.path.realpath(target)) if target.is_symlink() else target
    folder = real.parent
    if not folder.is_dir():
        what = "not a folder" if folder.exists() else "no such folder"
        raise refuse(f"cannot write {option}: {what}: {folder}")
    if target.exists():
        for f in input_files(inputs):
            if _same(target, f):
                raise refuse(f"{option} would overwrite {f}, an input of this run; write elsewhere")
        if not stat.S_ISREG(os.stat(target).st_mode):
            return  # a device or a pipe, written in place (see write_output)
        if not os.access(target, os.W_OK):
            # A rename would replace it anyway; a read-only file is one kept on purpose.
            raise refuse(f"cannot write {option}: {path} is read-only")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise refuse(f"cannot write {option}: no permission to write in {folder}")


def _mode_for_new_file() -> int:
    # os.umask has no read-only query; set and restore it at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_output(
    path: str,
    text: str,
    inputs: Sequence[str | Path | None] = (),
    *,
    option: str = "--output",
) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically, never over an input of the run.

    Raises :class:`InputError` (exit 2) when ``path`` is refused by
    :func:`check_target`, :class:`OutputError` (exit 4) when writing fails; then
    the previous content of ``path``, if any, is intact.
    """
    check_target(path, inputs, option=option)
    data = text.encode("utf-8")
    target = Path(path)
    try:
        st: os.stat_result | None = os.stat(target)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_in_place(path, data)
        return
    # Through a symlink: replace its destination, keep the link.
    real = Path(os.path.realpath(target)) if target.is_symlink() else target
    mode = stat.S_IMODE(st.st_mode) if st is not None else _mode_for_new_file()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{real.name}.", suffix=".tmp", dir=real.parent)
    except OSError as exc:
        raise OutputError(_reason(exc), path) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, real)
    except BaseException as exc:  # Ctrl-C too: no temporary file left behind
        with suppress(OSError):  # already renamed: nothing to remove
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise OutputError(_reason(exc), path) from None
        raise


def _write_in_place(path: str, data: bytes) -> None:
    try:
        # Non-blocking open: a named pipe that no process reads fails at once
        # (ENXIO) instead of blocking the run forever; the writes then block as usual.
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OutputError("no process reads this named pipe", path) from None
        raise OutputError(_reason(exc), path) from None
    try:
        os.set_blocking(fd, True)
        with open(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
    except OSError as exc:
        raise OutputError(_reason(exc), path) from None


class _GuardedStream:
    """A text stream whose failed writes and flushes raise :class:`OutputError`.

    Tells a failure to deliver output (closed pipe, full disk) apart from any other
    ``OSError`` of a run, and keeps rich from turning a closed pipe into
    ``SystemExit(1)`` (its ``on_broken_pipe`` only catches ``BrokenPipeError``).
    Everything else is the wrapped stream's.
    """

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream
        # Unbuffered (python -u, PYTHONUNBUFFERED=1, common in containers): the text
        # layer writes straight to the file and ignores a short write (a pipe whose
        # reader left mid-write), losing the rest without an error.  Write the bytes
        # here instead, until all are written or the write fails.
        buffer = getattr(stream, "buffer", None)
        self._raw = buffer if isinstance(buffer, io.FileIO) else None

    def _open(self) -> TextIO:
        # Python sets sys.stdout to None when started with descriptor 1 closed
        # (`ztsim check ... >&-`); print() would then drop every line silently.
        if self._stream is None:
            raise OutputError("standard output is closed")
        return self._stream

    def write(self, text: str) -> int:
        stream = self._open()
        try:
            if self._raw is None:
                return stream.write(text)
            stream.flush()  # what the text layer may hold, in order
            view = memoryview(text.encode(stream.encoding, stream.errors or "strict"))
            while view:
                n = self._raw.write(view)
                if not n:  # None: would block; 0: nothing taken
                    raise OSError(errno.EIO, "short write to standard output")
                view = view[n:]
            return len(text)
        except OSError as exc:
            raise OutputError(_reason(exc)) from None

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._stream is None:
            return  # nothing was written, or write() said so already
        try:
            self._stream.flush()
        except OSError as exc:
            raise OutputError(_reason(exc)) from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._open(), name)


@contextmanager
def guarded_stdout() -> Iterator[None]:
    """Run the block with ``sys.stdout`` raising :class:`OutputError` when it cannot write.

    The stream is flushed at the end of the block, inside the guard, so a
    buffered write that only fails at the flush is caught as well.
    """
    original: TextIO | None = sys.stdout
    sys.stdout = cast(TextIO, _GuardedStream(original))
    try:
        yield
        sys.stdout.flush()
    finally:
        sys.stdout = cast(TextIO, original)
