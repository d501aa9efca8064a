"""2,100 alike hosts (above the 2,000 of a check on two cores), data on one: `needle`."""

lines = [
    "ztsim: 1",
    "kind: topology",
    "name: needle",
    "zones: [{id: internet, external: true}, {id: corp}, {id: srv}]",
    "credentials: [{id: k}]",
    "external: [{id: c2, fqdn: c2.evil.example, role: c2}]",
    "entry_points: [{id: phished, host: w0, gives: user, credentials: [k]}]",
    "hosts:",
]
for i in range(2100):
    name = "needle" if i == 1050 else f"w{i}"
    zone = "corp" if i < 1800 else "srv"
    data = ", data: [{id: rows, integrity: true}]" if name == "needle" else ""
    lines.append(
        f"  - {{id: {name}, zone: {zone}, services: [{{service: 22/tcp}}], "
        f"logins: [{{credential: k, service: 22/tcp, gives: user}}]{data}}}"
    )
with open("topo.yaml", "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
