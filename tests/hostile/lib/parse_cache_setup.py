"""Setup of the hostile parse-cache cases: a topology over 256 KiB, a bad cache entry for it.

``make(mode)`` says what is found at topo.yaml's entry in cache/ (ZTSIM_CACHE_DIR,
see each case.toml).  The check must give the verdict of a parse (2/2 goals
reachable, exit 1) and may only write that entry (stored again after the parse).
Each case's ``gen.py`` calls it with its mode; the runner puts this folder on
``PYTHONPATH`` for setup scripts.
"""

import os
import random
import tomllib
from pathlib import Path


def make(mode: str) -> None:
    """Write topo.yaml (and other.yaml) in the current folder and spoil its cache entry."""
    os.environ.update(ZTSIM_CACHE_DIR="cache", ZTSIM_CACHE="on")
    from ztsim.inputs.documents import flavour_of, load_document
    from ztsim.perf import parsecache

    base = Path("base.yaml").read_text(encoding="utf-8")
    filler = "".join(
        f"  - {{id: filler-{i:05d}, zone: backoffice, labels: {{tier: filler}}}}\n"
        for i in range(4500)
    )
    topo = base.replace("\nhosts:\n", "\nhosts:\n" + filler, 1)
    Path("topo.yaml").write_text(topo, encoding="utf-8")
    # The same estate without its data: nothing to reach (0/0 goals, exit 0) if believed.
    data = (
        "    data:\n      - {id: payroll-records, classification: pii, records: 1200000,\n"
        "         requires: service, service: 5432/tcp, integrity: true}\n"
    )
    assert data in topo
    Path("other.yaml").write_text(topo.replace(data, ""), encoding="utf-8")

    raw = Path("topo.yaml").read_bytes()
    assert len(raw) >= parsecache.MIN_BYTES
    entry = parsecache.entry_path(raw, flavour_of("topo.yaml", False, None))
    case = tomllib.loads(Path("case.toml").read_text(encoding="utf-8"))
    assert str(entry) in case["writes"], f"case.toml: writes must list {entry}"
    entry.parent.mkdir(exist_ok=True)
    if mode == "random-bytes":
        entry.write_bytes(random.Random(23).randbytes(len(raw)))
    elif mode == "truncated":  # an interrupted copy of a sound entry
        load_document("topo.yaml")
        blob = entry.read_bytes()
        entry.write_bytes(blob[: len(blob) // 2])
    elif mode == "another-files-entry":  # a sound entry, of other.yaml
        load_document("other.yaml")
        parsecache.entry_path(Path("other.yaml").read_bytes(), "yaml").replace(entry)
    else:  # made by the runner after this script (fifos, symlinks)
        assert str(entry) in case.get("fifos", []) + list(case.get("symlinks", {}))
