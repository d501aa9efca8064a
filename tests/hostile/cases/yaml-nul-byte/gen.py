from pathlib import Path

t = Path("topo.yaml.in").read_text()
Path("topo.yaml").write_bytes(t.replace("id: web", "id: w\0eb", 1).encode())
