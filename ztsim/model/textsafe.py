"""User text made safe to show: no terminal escapes, no bidi tricks, valid XML (issue #23).

Names, ids, labels, descriptions and file names come from user files.  Shown raw,
an ESC can clear the screen, a CR can rewrite a ``FAIL`` line, a right-to-left
override can reorder what a reviewer reads, and an XML-invalid character makes a
JUnit report unreadable.  :func:`safe` is the one escaper: every character that
is not printable in Python's sense (``str.isprintable``: Unicode categories Cc,
Cf, Cs, Co, Cn, Zl, Zp and every space separator but the ASCII space) is written
as a Python-style escape (``\\x1b``, ``\\u202e``, ``\\U000e0001``).  That covers
C0 (LF, CR, TAB and ESC included), DEL, C1 (CSI ``\\x9b``), the bidirectional
embeddings, overrides and isolates, LRM/RLM/ALM, the zero-width characters and
the BOM, line and paragraph separators, lone surrogates (file names decoded with
``surrogateescape``) and every character XML 1.0 forbids.  A printable string,
the common case, is returned as it is after one C-level scan.

The escape is for display: it is not reversible (a backslash is kept as it is,
so a name spelt ``\\x1b`` looks like an escaped ESC).  JSON outputs are not
escaped here: JSON encoders already escape control characters, and JSON keeps the
exact names.

Format-specific escapers build on it: :func:`safe_lines` (multi-line text whose
newlines are the output's own) and :func:`json_safe` here, Markdown's and GitHub's
in :mod:`ztsim.output.escape`; the TUI's widgets use :class:`ztsim.tui.safetext.Text`.
"""

from __future__ import annotations

__all__ = ["json_safe", "safe", "safe_lines"]


_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(c: str) -> str:
    named = _NAMED.get(c)
    if named is not None:
        return named
    n = ord(c)
    if n < 0x100:
        return f"\\x{n:02x}"
    if n < 0x10000:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def safe(text: str) -> str:
    """``text`` with every non-printable character escaped (newlines and tabs included).

    >>> safe("web")
    'web'
    >>> print(safe("pwn\\x1b[2J\\rPASS\\u202e"))
    pwn\\x1b[2J\\rPASS\\u202e
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else _escape(c) for c in text)


#: LF and the printable characters of Latin-1, as bytes.
_LATIN1_SHOWN = bytes(c for c in range(0x100) if c == 0x0A or chr(c).isprintable())


def _printable_lines(text: str) -> bool:
    """Whether every character of ``text`` but LF is printable, quickly for long texts.

    A text of Latin-1 characters (ASCII above all), the usual output, is checked as
    bytes in C (deleting the printable ones leaves nothing), which beats
    ``isprintable`` line by line; any other text line by line.
    """
    try:
        latin = text.encode("latin-1")
    except UnicodeEncodeError:
        return all(line.isprintable() for line in text.split("\n"))
    return not latin.translate(None, _LATIN1_SHOWN)


def safe_lines(text: str) -> str:
    """``text`` escaped as by :func:`safe`, its newlines kept (they are the output's).

    For a whole block of text output: the names inside should have been passed
    through :func:`safe` already (a newline in a name would otherwise start a
    line); this is the net that catches any other control character.

    >>> print(safe_lines("a\\tb\\nc\\x07"))
    a\\tb
    c\\x07
    """
    if _printable_lines(text):
        return text
    return "\n".join([safe(line) for line in text.split("\n")])


def _json_escape(c: str) -> str:
    n = ord(c)
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000  # a UTF-16 surrogate pair, as JSON spells characters beyond the BMP
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"


def json_safe(text: str) -> str:
    """A JSON document with its non-printable characters written as ``\\uXXXX``.

    JSON encoders escape C0 but write DEL, C1, bidi and zero-width characters (and,
    from Python, lone surrogates) raw with ``ensure_ascii=False``.  Outside strings a
    JSON text holds only spaces and newlines, so every other raw non-printable
    character is inside a string, where ``\\uXXXX`` means the same character: the
    document decodes to the same data, and no terminal it is printed on sees the
    character.

    >>> json_safe('{"name": "a\\u202eb\\x9b"}')
    '{"name": "a\\\\u202eb\\\\u009b"}'
    """
    if text.isascii():  # the common case: only DEL can be raw
        return text.replace("\x7f", "\\u007f") if "\x7f" in text else text
    if _printable_lines(text):
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.isprintable():
            lines[i] = "".join([c if c.isprintable() else _json_escape(c) for c in line])
    return "\n".join(lines)
