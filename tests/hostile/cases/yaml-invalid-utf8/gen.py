from pathlib import Path

t = Path("topo.yaml.in").read_text()
Path("topo.yaml").write_bytes(
    t.replace("name: hostile\n", "name: hostile\ndescription: caf\xe9\n", 1).encode("latin-1")
)
