from pathlib import Path
t = Path("pol.yaml.in").read_text()
Path("pol.yaml").write_text(t + "".join("    - {id: r%d, action: maybe}\n" % i for i in range(20000)))
