from pathlib import Path

Path("topo.json").write_text("[" * 100000 + "]" * 100000)
