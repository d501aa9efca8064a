"""Standard error that cannot be written (closed, full disk) never changes the verdict.

Diagnostics are best effort: the exit status is what CI reads.  With descriptor 2
closed, warnings must not land in standard output (a JSON report must stay JSON);
with standard error on a full device, an input error stays 2 and a pass stays 0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOPOLOGY = """\
ztsim: 1
kind: topology
name: t
zones:
  - {id: internet, external: true}
  - {id: dmz}
hosts:
  - id: web
    zone: dmz
    services: [{service: 443/tcp, public: true}]
    data: [{id: rec}]
"""

# A passing policy with one warning (a host the topology lacks).
WARNED = """\
ztsim: 1
kind: policy
name: pw
segmentation:
  default: deny
  rules:
    - {id: x, action: deny, from: {host: nohost}, to: any}
"""

BROKEN = "ztsim: 1\nkind: policy\nname: bad\nsegmentation: {default: maybe}\n"


def _run(
    tmp_path: Path, policy: str, stderr: object, *extra: str
) -> subprocess.CompletedProcess[bytes]:
    (tmp_path / "topo.yaml").write_text(TOPOLOGY, "utf-8")
    (tmp_path / "pol.yaml").write_text(policy, "utf-8")
    return subprocess.run(
        [sys.executable, "-m", "ztsim", "check", "topo.yaml", "-p", "pol.yaml", *extra],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=stderr,  # type: ignore[arg-type]
        timeout=60,
        check=False,
    )


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize(("policy", "status"), [(WARNED, 0), (BROKEN, 2)], ids=["pass", "bad"])
def test_stderr_on_full_device_keeps_the_status(tmp_path: Path, policy: str, status: int) -> None:
    with open("/dev/full", "w") as full:
        done = _run(tmp_path, policy, full)
    assert done.returncode == status


@pytest.mark.parametrize(("policy", "status"), [(WARNED, 0), (BROKEN, 2)], ids=["pass", "bad"])
def test_stderr_closed_keeps_stdout_clean(tmp_path: Path, policy: str, status: int) -> None:
    # close_fds plus no descriptor 2: the child starts with standard error closed.
    (tmp_path / "topo.yaml").write_text(TOPOLOGY, "utf-8")
    (tmp_path / "pol.yaml").write_text(policy, "utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sys; os.close(2); os.execv(sys.argv[1], sys.argv[1:])",
            sys.executable,
            "-m",
            "ztsim",
            "check",
            "topo.yaml",
            "-p",
            "pol.yaml",
            "--format",
            "json",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        timeout=60,
        check=False,
    )
    assert done.returncode == status
    if status == 0:
        assert json.loads(done.stdout)["topology"] == "t"  # no warning line before it
    else:
        assert done.stdout == b""
