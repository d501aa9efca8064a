"""The MITRE ATT&CK techniques ztsim names, with their tactics (spec §5)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TECHNIQUES", "Technique", "technique", "technique_matches"]


@dataclass(frozen=True)
class Technique:
    """An ATT&CK technique: id, name and the tactic it serves in a kill chain."""

    id: str
    name: str
    tactic: str

    @property
    def url(self) -> str:
        """The technique's page on attack.mitre.org."""
        return "https://attack.mitre.org/techniques/" + self.id.replace(".", "/") + "/"


TECHNIQUES: dict[str, Technique] = {
    t.id: t
    for t in (
        Technique("T1566", "Phishing", "initial-access"),
        Technique("T1133", "External Remote Services", "initial-access"),
        Technique("T1190", "Exploit Public-Facing Application", "initial-access"),
        Technique("T1078", "Valid Accounts", "initial-access"),
        Technique("T1210", "Exploitation of Remote Services", "lateral-movement"),
        Technique("T1021", "Remote Services", "lateral-movement"),
        Technique("T1068", "Exploitation for Privilege Escalation", "privilege-escalation"),
        Technique("T1552", "Unsecured Credentials", "credential-access"),
        Technique("T1003", "OS Credential Dumping", "credential-access"),
        Technique("T1557", "Adversary-in-the-Middle", "credential-access"),
        Technique("T1005", "Data from Local System", "collection"),
        Technique("T1213", "Data from Information Repositories", "collection"),
        Technique("T1041", "Exfiltration Over C2 Channel", "exfiltration"),
        Technique("T1567", "Exfiltration Over Web Service", "exfiltration"),
        Technique("T1565", "Data Manipulation", "impact"),
        Technique("T1565.001", "Stored Data Manipulation", "impact"),
    )
}


def technique(tid: str | None) -> Technique | None:
    """Look a technique up by id; unknown ids (an entry's own) get a bare record."""
    if tid is None:
        return None
    return TECHNIQUES.get(tid) or Technique(tid, tid, "")


def technique_matches(listed: str, used: str) -> bool:
    """Whether a detection listing ``listed`` sees ``used`` (itself or a sub-technique).

    >>> technique_matches("T1565", "T1565.001"), technique_matches("T1565.001", "T1565")
    (True, False)
    """
    listed = listed.upper()
    used = used.upper()
    return used == listed or used.startswith(listed + ".")
