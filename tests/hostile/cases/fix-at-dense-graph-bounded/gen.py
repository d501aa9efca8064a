"""A flat estate whose exhaustive attack graph is dense: every host exploits every other.

harden's exact search on it takes minutes; check's "fix at" must not run it.
"""

N = 90
lines = [
    "ztsim: 1",
    "kind: topology",
    "name: dense",
    "zones:",
    "  - {id: internet, external: true}",
    "  - {id: lan}",
    "credentials:",
    *[f"  - {{id: cred-{i}}}" for i in range(N)],
    "hosts:",
]
for i in range(N):
    lines += [
        f"  - id: h{i}",
        "    zone: lan",
        "    services:",
        f"      - {{service: 22/tcp, public: {'true' if i == 0 else 'false'}}}",
        "      - {service: 5432/tcp}",
        "    vulnerabilities:",
        "      - {id: CVE-SSH, service: 22/tcp, gives: user}",
        "    credentials:",
        f"      - {{credential: cred-{(i + 1) % N}, requires: user}}",
        "    logins:",
        f"      - {{credential: cred-{i}, service: 5432/tcp, gives: user}}",
        "    data:",
        f"      - {{id: d{i}, records: {i + 1}, integrity: true}}",
    ]
lines += [
    "external:",
    "  - {id: c2, fqdn: c2.evil.example, role: c2}",
]
with open("topo.yaml", "w", encoding="utf-8") as f:
    f.write("\n".join(lines) + "\n")
