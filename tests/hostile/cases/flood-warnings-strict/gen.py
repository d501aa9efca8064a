from pathlib import Path

rules = "".join(
    f"    - {{id: r{i}, action: allow, from: {{host: ghost{i}}}}}\n" for i in range(5000)
)
Path("pol.yaml").write_text("ztsim: 1\nkind: policy\nname: p\nsegmentation:\n  rules:\n" + rules)
