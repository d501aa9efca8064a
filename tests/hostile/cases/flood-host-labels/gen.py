from pathlib import Path

t = Path("topo.yaml.in").read_text()
bad = "labels: {" + ", ".join(f"k{i}: [x]" for i in range(300000)) + "}"
Path("topo.yaml").write_text(t.replace("labels: {tier: web}", bad, 1))
