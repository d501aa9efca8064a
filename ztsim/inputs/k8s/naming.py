"""How the Kubernetes import names what it maps: host ids, services, objects.

Shared by the topology mapping, the annotations and the overlay
(:mod:`ztsim.inputs.k8s.topology`, :mod:`~ztsim.inputs.k8s.annotations`,
:mod:`~ztsim.inputs.k8s.overlay`).
"""

from __future__ import annotations

import hashlib
from typing import Any

from ztsim.inputs.k8s.objects import Workload

__all__ = ["HOST_KEYS", "MAX_HOST_ID", "host_id", "service_text", "tidy_host", "workload_name"]

#: The longest id the model accepts (:data:`ztsim.model.fields.Id`).
MAX_HOST_ID = 200


def workload_name(w: Workload) -> str:
    """How a person names a workload: kind first.

    >>> from ztsim.inputs.k8s.objects import Source
    >>> workload_name(Workload("shop", "web", "Deployment", (), (), (), (Source("a", 1, 1),)))
    'Deployment shop/web'
    """
    return f"{w.kind} {w.id}"


def host_id(w: Workload) -> str:
    """The host id of a workload: ``NAMESPACE/NAME``.

    The model allows ``/`` in ids.  Kubernetes names can be longer than the model's
    ids (a namespace has up to 63 characters, a name up to 253): an id over
    :data:`MAX_HOST_ID` keeps its first characters and ends with ``+`` and a digest
    of the whole, so it stays unique and the same from run to run.

    >>> from ztsim.inputs.k8s.objects import Source
    >>> host_id(Workload("shop", "web", "Deployment", (), (), (), (Source("a", 1, 1),)))
    'shop/web'
    """
    full = w.id
    if len(full) <= MAX_HOST_ID:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()[:12]
    return f"{full[: MAX_HOST_ID - 13]}+{digest}"


def service_text(number: int, protocol: str) -> str:
    """A port as ztsim writes a service.

    >>> service_text(53, "UDP")
    '53/udp'
    """
    return f"{number}/{protocol.lower()}"


#: The order of a host's keys in a document (the topology schema's).
HOST_KEYS = (
    "id",
    "zone",
    "labels",
    "services",
    "vulnerabilities",
    "credentials",
    "logins",
    "data",
    "description",
)


def tidy_host(host: dict[str, Any]) -> dict[str, Any]:
    """``host`` with its keys in :data:`HOST_KEYS` order (others after) and its
    services sorted by port then protocol: what is written reads like a hand-written
    topology, and the same whatever order things were added in.

    >>> tidy_host({"services": [{"service": "8080/tcp"}, {"service": "53/udp"}], "id": "a"})
    {'id': 'a', 'services': [{'service': '53/udp'}, {'service': '8080/tcp'}]}
    """
    out = {k: host[k] for k in HOST_KEYS if k in host}
    out.update((k, v) for k, v in host.items() if k not in out)
    if "services" in out:
        out["services"] = sorted(out["services"], key=_service_key)
    return out


def _service_key(entry: dict[str, Any]) -> tuple[int, str]:
    number, _, proto = str(entry["service"]).partition("/")
    return (int(number) if number.isdigit() else 0), proto
