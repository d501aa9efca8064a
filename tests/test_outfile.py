"""No file is ever lost (issue #23, point 12), and graph takes one policy (point 18).

``ztsim.output.outfile.write_output`` writes every output file atomically and never
over an input of the run; the commands that write files use it and check the
target before they run.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from pathlib import Path

import pytest
from conftest import ROOT

from ztsim.cli.main import main
from ztsim.model.diagnostics import InputError
from ztsim.output.outfile import OutputError, check_target, write_output

PAJEMPLOI = ROOT / "topologies" / "pajemploi.yaml"
FLAT = ROOT / "policies" / "flat.yaml"
ZT = ROOT / "policies" / "zero-trust.yaml"


@pytest.fixture()
def scene(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the Pajemploi scenario (topology, two policies in a folder) as cwd."""
    shutil.copy(PAJEMPLOI, tmp_path / "topo.yaml")
    (tmp_path / "pols").mkdir()
    shutil.copy(FLAT, tmp_path / "pols" / "flat.yaml")
    shutil.copy(ZT, tmp_path / "pols" / "zero-trust.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _refused(exc: pytest.ExceptionInfo[InputError], path: str, words: str) -> None:
    (d,) = exc.value.diagnostics
    assert (d.path, d.line, d.column, d.level) == (path, 1, 1, "error")
    assert words in d.message


# ----------------------------------------------------------------------------- the helper


def test_writes_a_new_file_with_the_usual_mode(scene: Path) -> None:
    """A new file: the text, and 0o666 less the umask (not mkstemp's 0o600)."""
    old = os.umask(0o027)
    try:
        write_output("out.txt", "héllo\n")
    finally:
        os.umask(old)
    assert (scene / "out.txt").read_text("utf-8") == "héllo\n"
    assert stat.S_IMODE((scene / "out.txt").stat().st_mode) == 0o640
    assert [p.name for p in scene.iterdir() if p.name.startswith(".")] == []


def test_replacing_keeps_the_mode(scene: Path) -> None:
    """An existing target keeps its permission bits."""
    out = scene / "out.txt"
    out.write_text("old")
    out.chmod(0o600)
    write_output("out.txt", "new")
    assert out.read_text() == "new" and stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("topo.yaml", "topo.yaml"),
        ("./pols/../topo.yaml", "topo.yaml"),
        ("pols/flat.yaml", "pols/flat.yaml"),  # a file of a policy folder
        ("link.yaml", "topo.yaml"),  # a symlink to the topology
        ("hard.yaml", "topo.yaml"),  # a hard link to it
    ],
)
def test_never_over_an_input(scene: Path, target: str, shown: str) -> None:
    """Whatever the spelling, an input of the run is refused, and left untouched."""
    (scene / "link.yaml").symlink_to("topo.yaml")
    os.link(scene / "topo.yaml", scene / "hard.yaml")
    before = _snapshot(scene)
    with pytest.raises(InputError) as exc:
        write_output(target, "x", ["topo.yaml", "pols"])
    _refused(exc, target, f"--output would overwrite {shown}, an input of this run")
    assert _snapshot(scene) == before


def test_absolute_and_relative_spellings_meet(scene: Path) -> None:
    """An input named absolutely, the target relatively (and the reverse)."""
    with pytest.raises(InputError):
        write_output("topo.yaml", "x", [str(scene / "topo.yaml")])
    with pytest.raises(InputError):
        write_output(str(scene / "pols" / "flat.yaml"), "x", ["pols/flat.yaml"])


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("missing/out.json", "no such folder: missing"),
        ("topo.yaml/out.json", "not a folder: topo.yaml"),
        ("pols", "pols is a folder, not a file"),
        ("", "the empty path is a folder"),
    ],
)
def test_where_no_file_can_be_written(scene: Path, target: str, words: str) -> None:
    """A missing folder, a file as folder, a folder as target: refused, nothing made."""
    before = _snapshot(scene)
    with pytest.raises(InputError) as exc:
        check_target(target, option="--output")
    _refused(exc, target, words)
    assert _snapshot(scene) == before


@pytest.mark.parametrize("failing", ["fsync", "replace", "write"])
def test_a_failed_write_keeps_the_old_file(
    scene: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """Disk full at any stage: OutputError, the old content intact, no temporary left."""
    out = scene / "report.json"
    out.write_text("old report")

    def full(*_: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    if failing == "write":
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, fd: int, mode: str) -> None:
                self.fh = real_fdopen(fd, mode)

            def __enter__(self) -> Full:
                return self

            def __exit__(self, *_: object) -> None:
                self.fh.close()

            def write(self, data: bytes) -> int:
                raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(os, "fdopen", Full)
    else:
        monkeypatch.setattr(os, failing, full)
    with pytest.raises(OutputError) as exc:
        write_output("report.json", "new report")
    assert str(exc.value) == "report.json: No space left on device"
    monkeypatch.undo()
    assert out.read_text() == "old report"
    assert sorted(p.name for p in scene.iterdir()) == ["pols", "report.json", "topo.yaml"]


def test_a_symlink_target_is_written_through(scene: Path) -> None:
    """The link stays a link; its destination gets the text."""
    (scene / "real.txt").write_text("old")
    (scene / "link.txt").symlink_to("real.txt")
    write_output("link.txt", "new")
    assert (scene / "link.txt").is_symlink() and (scene / "real.txt").read_text() == "new"


def test_a_device_is_written_in_place(scene: Path) -> None:
    """``-o /dev/null`` feeds the device; it is not replaced by a file."""
    write_output(os.devnull, "discarded")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    if Path("/dev/full").exists():
        with pytest.raises(OutputError, match="No space left on device"):
            write_output("/dev/full", "x")


# ----------------------------------------------------------------------------- the commands


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_output_over_the_topology_is_refused(
    scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """check -o TOPOLOGY: exit 2, FILE:1:1, the topology intact (json and CI paths)."""
    before = _snapshot(scene)
    for fmt in ("json", "sarif"):
        code, out, err = _run(
            capsys, "check", "topo.yaml", "-p", "pols", "--format", fmt, "-o", "topo.yaml"
        )
        assert code == 2 and out == ""
        assert err.startswith("topo.yaml:1:1: error: --output would overwrite topo.yaml")
    code, _, err = _run(capsys, "check", "topo.yaml", "-p", "pols", "-o", "pols/zero-trust.yaml")
    assert code == 2 and "an input of this run" in err
    assert _snapshot(scene) == before


def test_check_output_over_assertions_or_baseline(
    scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The assertions file and the baseline are inputs too."""
    shutil.copy(ROOT / "assertions" / "pajemploi.yaml", scene / "asserts.yaml")
    before = _snapshot(scene)
    argv = ["check", "topo.yaml", "-p", "pols/zero-trust.yaml", "--format", "junit"]
    code, _, err = _run(capsys, *argv, "--assert", "asserts.yaml", "-o", "asserts.yaml")
    assert code == 2 and err.startswith("asserts.yaml:1:1: error: --output would overwrite")
    code, _, err = _run(capsys, *argv, "--baseline", "pols/flat.yaml", "-o", "./pols/flat.yaml")
    assert code == 2 and err.startswith("./pols/flat.yaml:1:1: error: --output would overwrite")
    assert _snapshot(scene) == before


def test_nothing_written_when_the_input_is_bad(
    scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An input error: exit 2 and no report file, not even an empty one."""
    (scene / "bad.yaml").write_text("ztsim: 1\nkind: policy\nname: [\n")
    code, _, _ = _run(capsys, "check", "topo.yaml", "-p", "bad.yaml", "-o", "out.json")
    assert code == 2 and not (scene / "out.json").exists()
    code, _, _ = _run(capsys, "graph", "topo.yaml", "-p", "bad.yaml", "--format", "dot", "-o", "g")
    assert code == 2 and not (scene / "g").exists()


def test_check_output_into_a_missing_folder_is_exit_2(
    scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not 3 (internal error): the user named a folder that is not there."""
    code, _, err = _run(capsys, "check", "topo.yaml", "-o", "no/out.json", "--format", "json")
    assert code == 2
    assert err.startswith("no/out.json:1:1: error: cannot write --output: no such folder: no")


def test_graph_output_through_a_symlink_to_its_policy(
    scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """graph -o LINK where LINK points at the policy: refused."""
    (scene / "g.dot").symlink_to("pols/flat.yaml")
    before = _snapshot(scene)
    code, _, err = _run(
        capsys, "graph", "topo.yaml", "-p", "pols/flat.yaml", "--format", "dot", "-o", "g.dot"
    )
    assert code == 2
    assert err.startswith("g.dot:1:1: error: --output would overwrite pols/flat.yaml")
    assert _snapshot(scene) == before


def test_harden_write_over_its_policy(scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """harden --write POLICY (the one hardened): refused before the search."""
    before = _snapshot(scene)
    code, out, err = _run(
        capsys, "harden", "topo.yaml", "-p", "pols/flat.yaml", "--write", "pols/flat.yaml"
    )
    assert code == 2 and out == ""
    assert err.startswith("pols/flat.yaml:1:1: error: --write would overwrite pols/flat.yaml")
    assert _snapshot(scene) == before


def test_outputs_that_are_allowed_still_work(
    scene: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Over an old report (not an input): replaced, exit status the verdict's."""
    (scene / "g.json").write_text("old")
    code, _, err = _run(
        capsys, "graph", "topo.yaml", "-p", "pols/flat.yaml", "--format", "json", "-o", "g.json"
    )
    assert code == 0 and err.startswith("wrote g.json:")
    assert (scene / "g.json").read_text().startswith("{")


# ----------------------------------------------------------------------------- graph, point 18


def test_graph_refuses_several_policies(scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """-p twice, or a folder of two: exit 2 with the reason, nothing printed or written."""
    code, out, err = _run(
        capsys,
        "graph",
        "topo.yaml",
        "-p",
        "pols/flat.yaml",
        "-p",
        "pols/zero-trust.yaml",
        "--format",
        "dot",
    )
    assert code == 2 and out == ""
    assert err.startswith(
        "ztsim graph: error: graph exports one policy's attack graph; --policy given 2 times"
    )
    code, out, err = _run(capsys, "graph", "topo.yaml", "-p", "pols", "--format", "dot", "-o", "g")
    assert code == 2 and out == "" and not (scene / "g").exists()
    assert err.startswith("pols:1:1: error: graph exports one policy's attack graph; pols holds 2")


def test_graph_takes_a_folder_of_one(scene: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder holding exactly one policy is that policy."""
    (scene / "pols" / "zero-trust.yaml").unlink()
    code, out, _ = _run(capsys, "graph", "topo.yaml", "-p", "pols", "--format", "dot")
    assert code == 0 and out.startswith('digraph "flat"')


def test_an_interrupted_write_leaves_no_temporary(
    scene: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the report is flushed: the old file whole, no stray temporary file."""
    (scene / "out.txt").write_text("old")

    def interrupted(_: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_output("out.txt", "new")
    monkeypatch.undo()
    assert (scene / "out.txt").read_text() == "old"
    assert sorted(p.name for p in scene.iterdir()) == ["out.txt", "pols", "topo.yaml"]


def test_a_read_only_target_or_folder_is_refused(
    scene: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read-only file (kept on purpose) or a folder we cannot write in: exit 2 up front.

    ``os.access`` is faked: these tests may run as root, for whom it is always true.
    """
    (scene / "kept.txt").write_text("keep me")
    real_access = os.access

    def access(path: object, mode: int) -> bool:
        return Path(str(path)).name not in ("kept.txt", "locked") and real_access(path, mode)

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(InputError) as exc:
        write_output("kept.txt", "x")
    _refused(exc, "kept.txt", "cannot write --output: kept.txt is read-only")
    (scene / "locked").mkdir()
    with pytest.raises(InputError) as exc:
        write_output("locked/out.txt", "x", option="--write")
    _refused(exc, "locked/out.txt", "cannot write --write: no permission to write in locked")
    monkeypatch.undo()
    assert (scene / "kept.txt").read_text() == "keep me"
    assert list((scene / "locked").iterdir()) == []


def test_a_dangling_symlink_into_a_missing_folder(scene: Path) -> None:
    """The folder that matters is the link's destination's."""
    (scene / "out.txt").symlink_to("gone/out.txt")
    with pytest.raises(InputError) as exc:
        write_output("out.txt", "x")
    _refused(exc, "out.txt", "no such folder")
    (scene / "gone").mkdir()
    write_output("out.txt", "x")
    assert (scene / "gone" / "out.txt").read_text() == "x"
