from pathlib import Path

t = Path("topo.yaml.in").read_text()
n = 900
extra = "x-a: &a " + "[" * n + "1" + "]" * n + "\n"
extra += "x-b: &b " + "[" * n + "*a" + "]" * n + "\n"
Path("topo.yaml").write_text(t + extra)
