from pathlib import Path

t = Path("topo.yaml.in").read_text()
bad = "    services: [" + ", ".join(["{}"] * 750000) + "]\n"
Path("topo.yaml").write_text(
    t.replace("    services:\n      - {service: 443/tcp, name: https, public: true}\n", bad, 1)
)
