"""The parse cache only ever makes a run faster: same data, same positions, safe fallbacks.

Whatever is found in the cache folder (random bytes, a truncated write, another
file's entry, an entry of another version or of another user's key, a payload of
the wrong shape, a FIFO, a link to /dev/zero) the real CLI gives the very output
it gives with the cache off (issue #23).
"""

from __future__ import annotations

import marshal
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest

from ztsim.inputs.documents import document_from_bytes, flavour_of
from ztsim.inputs.loader import load_policy, load_topology
from ztsim.perf import parsecache

ROOT = Path(__file__).resolve().parents[1]
#: An estate whose topology and two policies are each over MIN_BYTES (~340 KB).
GEN_ARGS = ["--hosts", "1000", "--zones", "10", "--rules", "2200", "--out"]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("ZTSIM_CACHE_DIR", str(folder))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("ZTSIM_CACHE", "on")
    monkeypatch.setattr(parsecache, "MIN_BYTES", 0)
    return folder


def _entries(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith("."))


def test_second_load_comes_from_the_cache_and_is_identical(cache: Path) -> None:
    path = ROOT / "topologies" / "pajemploi.yaml"
    first = load_topology(path)
    assert len(_entries(cache)) == 1
    assert parsecache.load(path.read_bytes(), "yaml") is not None
    second = load_topology(path)
    assert first.model == second.model


def test_policy_positions_survive_the_cache(cache: Path) -> None:
    path = ROOT / "policies" / "zero-trust.yaml"
    first = load_policy(path)
    second = load_policy(path)  # from the cache
    rules = [r.id for r in first.model.segmentation.rules]
    assert [first.rule_mark("segmentation", r) for r in rules] == [
        second.rule_mark("segmentation", r) for r in rules
    ]


def test_a_damaged_entry_falls_back_to_parsing(cache: Path) -> None:
    path = ROOT / "topologies" / "pajemploi.yaml"
    good = load_topology(path)
    for entry in _entries(cache):
        entry.write_bytes(b"not an entry")
    assert load_topology(path).model == good.model
    assert parsecache.load(path.read_bytes(), "yaml") is not None  # stored again


def test_off_writes_nothing(cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZTSIM_CACHE", "off")
    load_topology(ROOT / "topologies" / "pajemploi.yaml")
    assert not cache.exists()
    assert not (tmp_path / "state").exists()


def test_an_edit_is_a_new_key(cache: Path, tmp_path: Path) -> None:
    src = tmp_path / "t.yaml"
    text = (ROOT / "topologies" / "pajemploi.yaml").read_text(encoding="utf-8")
    src.write_text(text, encoding="utf-8")
    load_topology(src)
    src.write_text(text.replace("records: 1200000", "records: 7"), encoding="utf-8")
    edited = load_topology(src)
    assert edited.data["payroll-records"][1].records == 7
    assert len(_entries(cache)) == 2


def test_node_marks_from_the_cache_equal_the_parsed_ones(cache: Path) -> None:
    """``Document.node_mark`` answers from the stored pairs exactly as the full index."""
    from ztsim.inputs.documents import load_document

    path = ROOT / "policies" / "zero-trust.yaml"
    parsed = load_document(path, positions=True)
    cached = load_document(path, positions=True)  # from the cache, positions not built
    assert cached._stored_marks is not None
    nodes = parsed.positions().nodes
    for p, mark in nodes.items():
        assert cached.node_mark(p) == mark
        assert parsed.node_mark(p) == mark
    assert cached.node_mark(("no", "such", 0)) is None
    # Many at once, from the stored pairs or not, as one at a time.
    paths = [*nodes, ("no", "such", 0)]
    assert cached.node_marks(paths) == [*nodes.values(), None]
    assert parsed.node_marks(paths) == [*nodes.values(), None]
    shallow = load_document(path, positions=True, depth=3)  # deeper paths: indexed
    assert shallow.node_marks(paths) == [*nodes.values(), None]
    # Building the whole index afterwards still gives every mark, as Marks.
    assert cached.positions().nodes == nodes
    assert all(type(m).__name__ == "Mark" for m in cached.positions().nodes.values())


# -- the payload: exact, or not stored ------------------------------------------------


def test_values_round_trip_exactly_and_keep_their_sharing() -> None:
    leaf = {"service": "443/tcp", "encrypted": True}
    inner = [leaf, leaf]
    data = {
        "a": [inner, inner, {"x": leaf}],
        1: float("inf"),
        "neg": -0.0,
        None: "a null key",
        2.5: True,
        "b": b"\x00\xff",
        "big": 2**63 - 1,
        "nested": {"k": [1, 1.0, "1", True]},
    }
    marks = ([((), (1, 1)), (("a", 0), (2, 3))], [(("a",), (2, 1))], 3)
    back, back_marks = parsecache._decode(parsecache._encode((data, marks)))
    assert back == data and list(back) == list(data)
    assert [type(v) for v in back["nested"]["k"]] == [int, float, str, bool]
    assert str(back["neg"]) == "-0.0" and type(back[1]) is float
    assert back["a"][0] is back["a"][1]  # shared list: one object
    assert back["a"][0][0] is back["a"][2]["x"]  # shared mapping inside it too
    assert back_marks == ((((), (1, 1)), (("a", 0), (2, 3))), ((("a",), (2, 1)),), 3)
    nan = parsecache._decode(parsecache._encode(({"n": float("nan")}, None)))[0]["n"]
    assert nan != nan


@pytest.mark.parametrize(
    "value",
    [
        {"when": __import__("datetime").date(2024, 1, 1)},  # a YAML timestamp
        {"s": {1, 2}},
        {"t": (1, 2)},
        {"huge": 2**80},
        {"lone": "\ud800"},
    ],
    ids=["date", "set", "tuple", "huge-int", "lone-surrogate"],
)
def test_a_value_msgpack_cannot_keep_exactly_is_not_stored(cache: Path, value: Any) -> None:
    parsecache.store(b"source", "yaml", (value, None))
    assert not cache.exists() or not _entries(cache)


def test_a_deeply_nested_value_is_not_stored_and_does_not_crash(cache: Path) -> None:
    deep: Any = "leaf"
    for _ in range(5000):
        deep = [deep]
    parsecache.store(b"source", "yaml", (deep, None))
    assert not cache.exists() or not _entries(cache)


# -- the key: outside the folder, private -----------------------------------------


def test_the_key_is_private_and_outside_the_cache_folder(cache: Path, tmp_path: Path) -> None:
    load_topology(ROOT / "topologies" / "pajemploi.yaml")
    key = parsecache.key_path()
    assert key == tmp_path / "state" / "ztsim" / "cache-key"
    assert cache not in key.parents
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) == 32
    assert [p.name for p in key.parent.iterdir()] == ["cache-key"]  # no temp file left


def test_a_key_others_may_write_is_not_trusted_but_replaced(cache: Path) -> None:
    path = ROOT / "topologies" / "pajemploi.yaml"
    load_topology(path)
    raw = path.read_bytes()
    assert parsecache.load(raw, "yaml") is not None
    key = parsecache.key_path()
    old = key.read_bytes()
    key.chmod(0o622)
    assert parsecache.load(raw, "yaml") is None  # anyone might have forged with it
    load_topology(path)  # parses, replaces the key, stores again
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.read_bytes() != old
    assert parsecache.load(raw, "yaml") is not None


def test_a_key_cut_short_by_a_crash_is_replaced(cache: Path) -> None:
    path = ROOT / "topologies" / "pajemploi.yaml"
    load_topology(path)
    key = parsecache.key_path()
    key.write_bytes(b"")
    raw = path.read_bytes()
    assert parsecache.load(raw, "yaml") is None
    load_topology(path)
    assert len(key.read_bytes()) == 32
    assert parsecache.load(raw, "yaml") is not None
    assert [p.name for p in key.parent.iterdir()] == ["cache-key"]  # no temp file left


def test_a_missing_key_is_a_miss_and_a_new_key_orphans_old_entries(cache: Path) -> None:
    path = ROOT / "topologies" / "pajemploi.yaml"
    load_topology(path)
    raw = path.read_bytes()
    parsecache.key_path().unlink()
    assert parsecache.load(raw, "yaml") is None  # a load never makes a key
    assert not parsecache.key_path().exists()
    load_topology(path)  # parses, makes a new key, stores again
    assert parsecache.load(raw, "yaml") is not None


# -- the real CLI on a topology and policies over MIN_BYTES ------------------------


class Estate:
    """A generated estate, its output with the cache off, and a warm cache of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.topology = root / "gen" / "topology.yaml"
        self.policy = root / "gen" / "policies" / "zero-trust.yaml"
        self.state = root / "state"
        self.warm = root / "warm"
        #: ``check``'s (exit status, stdout, stderr) with the cache off.
        self.baseline: tuple[int, str, str] = (0, "", "")

    def env(self, cache: Path, on: bool = True) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ZTSIM_")}
        env.update(
            ZTSIM_CACHE_DIR=str(cache),
            ZTSIM_CACHE="on" if on else "off",
            XDG_STATE_HOME=str(self.state),
        )
        return env

    def check(self, cache: Path, on: bool = True) -> tuple[int, str, str]:
        argv = [sys.executable, "-m", "ztsim", "check", str(self.topology), "-p"]
        argv += [str(self.policy), "--format", "json"]
        proc = subprocess.run(
            argv, env=self.env(cache, on), capture_output=True, text=True, timeout=120
        )
        return proc.returncode, proc.stdout, proc.stderr

    def files(self) -> list[tuple[Path, str]]:
        """The cached files, each with the flavour ``check`` reads it as."""
        return [(self.topology, "yaml"), (self.policy, flavour_of(str(self.policy), True, 3))]


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Estate]:
    root = tmp_path_factory.mktemp("estate")
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "generate.py"), *GEN_ARGS, str(root / "gen")],
        check=True,
        capture_output=True,
        timeout=120,
    )
    e = Estate(root)
    e.baseline = e.check(root / "unused", on=False)
    assert e.baseline[0] == 1 and '"reachable": true' in e.baseline[1]
    assert e.check(e.warm) == e.baseline  # cold: parses and stores
    assert all(p.stat().st_size >= parsecache.MIN_BYTES for p, _ in e.files())
    yield e


def _entry(estate: Estate, cache: Path, path: Path, flavour: str) -> Path:
    return cache / parsecache._name(parsecache._source_digest(path.read_bytes()), flavour)


def _secret(estate: Estate) -> bytes:
    return (estate.state / "ztsim" / "cache-key").read_bytes()


def _forge(
    estate: Estate, raw: bytes, flavour: str, payload: bytes, version: str | None = None
) -> bytes:
    """An entry for ``raw`` tagged with the user's own key (as only this user can)."""
    header = parsecache._header(parsecache._source_digest(raw), flavour)
    if version is not None:
        from ztsim import __version__

        old = __version__.encode()
        new = version.encode()
        header = header.replace(
            len(old).to_bytes(2, "big") + old, len(new).to_bytes(2, "big") + new
        )
    return header + parsecache._tag(_secret(estate), header, payload) + payload


def _doc_value(path: Path, flavour: str) -> Any:
    positions = "+positions" in flavour
    doc = document_from_bytes(str(path), path.read_bytes(), positions=positions, depth=3)
    return doc.data, doc.stored_marks()


#: What a tamper is handed: the estate, the entry, its source file and flavour, and
#: another cached file's (path, flavour, original entry bytes).
Other = tuple[Path, str, bytes]
Tamper = Callable[[Estate, Path, Path, str, Other], None]


def _random_bytes(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    entry.write_bytes(os.urandom(entry.stat().st_size))


def _truncated(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    entry.write_bytes(entry.read_bytes()[: entry.stat().st_size // 2])


def _one_byte_flipped(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    blob = bytearray(entry.read_bytes())
    blob[-100] ^= 0x01
    entry.write_bytes(bytes(blob))


def _wrong_shape(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    # A valid tag over payloads that are not (leaves, data, marks) as the writer makes them.
    raw = src.read_bytes()
    leaves = msgpack.packb([])
    ref = msgpack.ExtType(1, (99).to_bytes(4, "big"))  # a leaf the table does not hold
    bad_marks = msgpack.packb([[["a"], [1]]])  # a pair without its column
    payloads = {
        "yaml": msgpack.packb([leaves, msgpack.packb({"hosts": [ref]}), msgpack.packb(None)]),
    }
    payload = payloads.get(flavour) or msgpack.packb([leaves, msgpack.packb({}), bad_marks])
    entry.write_bytes(_forge(e, raw, flavour, payload))


def _not_a_triple(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    entry.write_bytes(_forge(e, src.read_bytes(), flavour, msgpack.packb({"x": 1})))


def _another_files_entry(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    # Another file's valid entry copied under this file's name: the topology's under a
    # policy's, a policy's under the topology's (the verdict flip of issue #23).
    entry.write_bytes(other[2])


def _another_version(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    payload = parsecache._encode(_doc_value(src, flavour))
    entry.write_bytes(_forge(e, src.read_bytes(), flavour, payload, version="0.0.1-other"))


def _edited(data: Any) -> Any:
    """``data`` with a change that flips the verdict if it is believed."""
    if "entry_points" in data:
        return {**data, "entry_points": []}  # the topology: nobody attacks
    return {**data, "segmentation": {"default": "deny", "rules": []}}  # a policy


def _forged_with_another_key(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    # Whoever writes the cache folder but lacks the user's key: header right, data edited.
    data, marks = _doc_value(src, flavour)
    payload = parsecache._encode((_edited(data), marks))
    header = parsecache._header(parsecache._source_digest(src.read_bytes()), flavour)
    entry.write_bytes(header + parsecache._tag(os.urandom(32), header, payload) + payload)


def _old_marshal_of_another_file(
    e: Estate, entry: Path, src: Path, flavour: str, other: Other
) -> None:
    # What issue #23 did: a format-2 (marshal) entry holding another file's parse.
    entry.write_bytes(marshal.dumps(_doc_value(other[0], other[1])))


def _link_to_dev_zero(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    entry.unlink()
    entry.symlink_to("/dev/zero")


def _fifo(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    entry.unlink()
    os.mkfifo(entry)


def _folder(e: Estate, entry: Path, src: Path, flavour: str, other: Other) -> None:
    entry.unlink()
    entry.mkdir()


TAMPERS: dict[str, Tamper] = {
    "random-bytes": _random_bytes,
    "truncated": _truncated,
    "one-byte-flipped": _one_byte_flipped,
    "wrong-shape-valid-tag": _wrong_shape,
    "not-a-triple-valid-tag": _not_a_triple,
    "another-files-entry": _another_files_entry,
    "another-version-valid-tag": _another_version,
    "forged-with-another-key": _forged_with_another_key,
    "old-marshal-of-another-file": _old_marshal_of_another_file,
    "link-to-dev-zero": _link_to_dev_zero,
    "fifo": _fifo,
    "folder": _folder,
}


@pytest.mark.parametrize("kind", sorted(TAMPERS))
def test_a_tampered_cache_never_changes_the_check(
    estate: Estate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    cache = tmp_path / "cache"
    shutil.copytree(estate.warm, cache)
    files = estate.files()
    entries = [_entry(estate, cache, path, flavour) for path, flavour in files]
    assert all(p.is_file() for p in entries)
    originals = {p: p.read_bytes() for p in entries}
    for i, ((path, flavour), entry) in enumerate(zip(files, entries, strict=True)):
        nxt = (i + 1) % len(files)
        other = (files[nxt][0], files[nxt][1], originals[entries[nxt]])
        TAMPERS[kind](estate, entry, path, flavour, other)
    assert all(originals[p] != (p.read_bytes() if p.is_file() else None) for p in entries)
    assert estate.check(cache) == estate.baseline
    assert not [p for p in cache.iterdir() if p.name.startswith(".tmp-")]
    if kind != "folder":  # parsed, then stored again, sound
        assert all(p.is_file() and not p.is_symlink() for p in entries)
        for name, value in estate.env(cache).items():
            monkeypatch.setenv(name, value)
        assert all(parsecache.load(p.read_bytes(), f) is not None for p, f in files)


def test_an_entry_tagged_with_the_users_key_is_what_the_check_reads(
    estate: Estate, tmp_path: Path
) -> None:
    """Control: the cache is really read, so the tests above exercise its checks.

    An entry forged with the user's own key is trusted: the key, kept outside the
    cache folder, is what stands between a writer of the folder and the verdict.
    """
    cache = tmp_path / "cache"
    shutil.copytree(estate.warm, cache)
    raw = estate.topology.read_bytes()
    data, marks = _doc_value(estate.topology, "yaml")
    forged = _edited(data)
    payload = parsecache._encode((forged, marks))
    _entry(estate, cache, estate.topology, "yaml").write_bytes(_forge(estate, raw, "yaml", payload))
    assert estate.check(cache) != estate.baseline


# -- the folder stays bounded ----------------------------------------------------


def _plant(folder: Path, name: str, size: int, age: float) -> Path:
    p = folder / name
    p.write_bytes(b"x" * size)
    t = time.time() - age
    os.utime(p, (t, t))
    return p


def test_prune_removes_the_least_recently_used_entries_first(tmp_path: Path) -> None:
    names = [f"{i:064x}" for i in range(5)]
    for i, name in enumerate(names):
        _plant(tmp_path, name, 100, age=1000 - i)  # names[0] is the oldest
    other = _plant(tmp_path, "notes.txt", 100, age=5000)
    (tmp_path / ("f" * 64)).mkdir()  # an entry-like folder: not ours to remove
    parsecache.prune(tmp_path, max_entries=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[2:], "notes.txt", "f" * 64])
    parsecache.prune(tmp_path, max_bytes=150)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([names[4], "notes.txt", "f" * 64])
    assert other.read_bytes() == b"x" * 100


def test_prune_removes_stale_temporary_files_only(tmp_path: Path) -> None:
    stale = _plant(tmp_path, ".tmp-abc", 10, age=parsecache.STALE_TMP_SECONDS + 60)
    fresh = _plant(tmp_path, ".tmp-def", 10, age=5)  # a write under way elsewhere
    hidden = _plant(tmp_path, ".keep", 10, age=10**6)
    parsecache.prune(tmp_path)
    assert not stale.exists() and fresh.exists() and hidden.exists()


def test_store_prunes_and_cleans_interrupted_writes(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache.mkdir()
    stale = _plant(cache, ".tmp-interrupted", 10, age=parsecache.STALE_TMP_SECONDS + 60)
    old = _plant(cache, "0" * 64, 10, age=100)
    monkeypatch.setattr(parsecache, "MAX_ENTRIES", 1)
    parsecache.store(b"source", "yaml", ({"a": 1}, None))
    assert not stale.exists() and not old.exists()
    assert parsecache.load(b"source", "yaml") == ({"a": 1}, None)
    assert len(_entries(cache)) == 1


def test_a_hit_makes_an_entry_the_most_recently_used(cache: Path) -> None:
    parsecache.store(b"first", "yaml", ({"a": 1}, None))
    parsecache.store(b"second", "yaml", ({"b": 2}, None))
    first = parsecache.entry_path(b"first", "yaml")
    second = parsecache.entry_path(b"second", "yaml")
    os.utime(first, (1, 1))
    os.utime(second, (2, 2))
    assert parsecache.load(b"first", "yaml") is not None  # refreshed: now the newest
    parsecache.prune(cache, max_entries=1)
    assert first.exists() and not second.exists()


def test_an_oversized_entry_is_refused_unread(cache: Path) -> None:
    parsecache.store(b"source", "yaml", ({"a": 1}, None))
    entry = parsecache.entry_path(b"source", "yaml")
    with entry.open("r+b") as fh:
        fh.truncate(1 << 40)  # sparse: a terabyte that takes no disk
    started = time.monotonic()
    assert parsecache.load(b"source", "yaml") is None
    assert time.monotonic() - started < 1.0


def test_no_home_means_no_cache_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("ZTSIM_CACHE_DIR", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZTSIM_CACHE", "on")
    monkeypatch.setattr(parsecache, "MIN_BYTES", 0)

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    parsecache.store(b"source", "yaml", ({"a": 1}, None))
    assert parsecache.load(b"source", "yaml") is None
    parsecache.prune()
