"""Same input, byte-identical output, whatever the interpreter's hash seed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str], seed: str) -> bytes:
    env = {**os.environ, "PYTHONHASHSEED": seed, "ZTSIM_CACHE": "off"}
    done = subprocess.run(
        [sys.executable, "-m", "ztsim", *args], cwd=ROOT, env=env, capture_output=True, check=False
    )
    assert done.returncode in (0, 1), done.stderr.decode()
    return done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["check", "topologies/pajemploi.yaml", "-p", "policies/", "--format", "json"],
        ["paths", "topologies/corporate.yaml", "-p", "policies/corporate/", "--format", "json"],
        ["paths", "topologies/k8s-shop.yaml", "-p", "policies/k8s-shop/"],
    ],
    ids=["check-json", "paths-json", "paths-text"],
)
def test_output_does_not_depend_on_the_hash_seed(args: list[str]) -> None:
    assert _run(args, "1") == _run(args, "4242")
