"""The CI instructions work when followed literally (issue 27, point 10).

Every ``ztsim ...`` command of the GitHub Actions example is parsed by ztsim's own
parser and run for real on the scenario its paths name (copied by ``ztsim init``);
its install step uses pip's direct-reference form at the tag of this version; the
README's excerpt is an excerpt of the file; the pre-commit snippet names hooks that
exist, at a ``rev`` that is this version's tag.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import ROOT
from ztsim._version import __version__
from ztsim.cli.main import build_parser, main

WORKFLOW = ROOT / "examples/ci/github-actions.yml"
TAG = f"v{__version__}"
_SHELL_OPS = {">>", ">", "|", "||", "&&", ";", "2>/dev/null"}


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _expand(text: str, env: dict[str, str]) -> str:
    """``$NAME``, ``${NAME}`` and ``${{ github.x }}`` as the runner would expand them."""
    text = re.sub(r"\$\{\{\s*github\.base_ref\s*\}\}", "main", text)
    return re.sub(r"\$\{?(\w+)\}?", lambda m: env.get(m.group(1), m.group(0)), text)


def ztsim_commands(script: str, env: dict[str, str]) -> list[list[str]]:
    """The argument lists of every ``ztsim`` command of a ``run:`` script (continuation
    lines joined, variables assigned on a line of their own expanded, cut at the
    first shell operator)."""
    joined = re.sub(r"\\\n\s*", " ", script)
    out: list[list[str]] = []
    env = dict(env)
    for line in joined.splitlines():
        assign = re.fullmatch(r"\s*(\w+)=(\S*)", line)
        if assign:  # base="$RUNNER_TEMP/baseline.yaml"
            env[assign.group(1)] = "".join(shlex.split(_expand(assign.group(2), env)))
            continue
        words = shlex.split(_expand(line, env), comments=True)
        for i, w in enumerate(words):
            if w == "ztsim" and (i == 0 or words[i - 1] in _SHELL_OPS | {"then", "else"}):
                argv: list[str] = []
                for x in words[i + 1 :]:
                    if x in _SHELL_OPS:
                        break
                    argv.append(x)
                out.append(argv)
    return out


def _steps() -> list[dict]:
    return [s for job in _workflow()["jobs"].values() for s in job["steps"]]


def test_the_workflow_runs_ztsim_and_installs_it_from_a_tag() -> None:
    env = _workflow()["env"]
    assert env["ZTSIM_VERSION"] == TAG
    install = next(s["run"] for s in _steps() if s.get("name") == "Install ztsim")
    words = shlex.split(_expand(install, env))
    assert words[:2] == ["pip", "install"]
    req = Requirement(words[2])  # PEP 508: pip reads it the same way
    assert req.name == "ztsim"
    assert req.url is not None and req.url.startswith("git+https://")
    assert req.url.endswith(f"@{TAG}")


def test_every_ztsim_command_of_the_workflow_parses_and_runs(tmp_path, monkeypatch, capsys):
    env = dict(_workflow()["env"])
    env.update(RUNNER_TEMP=str(tmp_path), GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))
    assert main(["init", str(tmp_path / "repo")]) == 0  # the files its paths name
    monkeypatch.chdir(tmp_path / "repo")
    shutil.copy(env["POLICIES"], tmp_path / "baseline.yaml")  # what `git show` would write
    commands = [c for s in _steps() if "run" in s for c in ztsim_commands(s["run"], env)]
    assert {c[0] for c in commands} == {"validate", "check"}
    assert len(commands) >= 5
    parser = build_parser()
    for argv in commands:
        parser.parse_args(argv)  # SystemExit (a usage error) fails the test
        assert main(argv) in (0, 1), argv
        assert ": error:" not in capsys.readouterr().err, argv


def test_the_readme_excerpt_is_part_of_the_workflow() -> None:
    body = WORKFLOW.read_text()
    for doc in (ROOT / "README.md", ROOT / "docs/ci.md"):
        text = doc.read_text()
        start = text.index("examples/ci/github-actions.yml")
        block = re.search(r"```yaml\n(.*?)```", text[start:], re.S)
        assert block is not None
        excerpt = block.group(1)
        assert "ztsim" in excerpt
        assert excerpt.strip() in body, f"{doc.name}: the excerpt differs from the workflow"


def _precommit_snippets() -> list[dict]:
    out = []
    for doc in (ROOT / "README.md", ROOT / "docs/ci.md"):
        for block in re.findall(
            r"```yaml\n(# \.pre-commit-config\.yaml\n.*?)```", doc.read_text(), re.S
        ):
            out.append(yaml.safe_load(block))
    return out


def test_the_precommit_snippet_names_hooks_that_exist_at_this_versions_tag() -> None:
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    snippets = _precommit_snippets()
    assert snippets
    parser = build_parser()
    for config in snippets:
        (repo,) = config["repos"]
        assert repo["rev"] == TAG
        for hook in repo["hooks"]:
            assert hook["id"] in hooks
            entry = shlex.split(hooks[hook["id"]]["entry"])
            assert entry[0] == "ztsim"
            files = [] if hooks[hook["id"]].get("pass_filenames") is False else ["x.yaml"]
            parser.parse_args([*entry[1:], *hook.get("args", []), *files])


@pytest.mark.skipif(
    not (ROOT / ".git").exists() or shutil.which("git") is None, reason="not a git checkout"
)
def test_this_versions_tag_exists() -> None:
    tags = subprocess.run(
        ["git", "tag", "--list", TAG], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    every = subprocess.run(
        ["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    if not every:
        # CI's clean clone carries the branch only (a shallow or single-branch clone
        # fetches no tags): nothing to check against there.
        pytest.skip("a clone without tags")
    assert tags == [TAG], f"the pre-commit snippet's rev {TAG} is not a tag of this repository"


def test_the_command_finder_reads_continuations_and_operators() -> None:
    script = 'set +e\nztsim check "$T" -p x \\\n  --format markdown >> "$S"\nrc=$?\n'
    assert ztsim_commands(script, {"T": "t.yaml", "S": "s"}) == [
        ["check", "t.yaml", "-p", "x", "--format", "markdown"]
    ]
    assert Path(WORKFLOW).is_file()
