from pathlib import Path

t = Path("pol.yaml.in").read_text()
Path("pol.yaml").write_text(t.replace("name: tight", "name: ti\x07ght", 1))
