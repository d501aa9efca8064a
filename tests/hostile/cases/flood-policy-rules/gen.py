from pathlib import Path

t = Path("pol.yaml.in").read_text()
Path("pol.yaml").write_text(
    t + "".join(f"    - {{id: r{i}, action: maybe}}\n" for i in range(20000))
)
