"""Typed reading of AWS CLI fields: the Kubernetes reader's :class:`Fields` plus
addresses, blocks, tags, protocols and port ranges as AWS writes them."""

from __future__ import annotations

import ipaddress
from typing import Any

from ztsim.inputs.aws.jsonmarks import container_marks
from ztsim.inputs.aws.objects import Labels, PortRange, Source
from ztsim.inputs.collector import Loc
from ztsim.inputs.k8s.fields import Fields

__all__ = ["PROTOCOL_NAMES", "AwsFields", "protocol_name"]

#: IANA protocol numbers AWS also accepts by name.
PROTOCOL_NAMES = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def protocol_name(value: str) -> str:
    """AWS's protocol as ztsim keeps it: lower case, ``6`` as ``tcp`` and so on
    (``-1`` stays: every protocol).

    >>> protocol_name("6"), protocol_name("TCP"), protocol_name("-1"), protocol_name("50")
    ('tcp', 'tcp', '-1', '50')
    """
    text = value.strip().lower()
    if text in ("all", "-1"):
        return "-1"
    return PROTOCOL_NAMES.get(text, text)


def _is_icmp(protocol: str) -> bool:
    return protocol in ("icmp", "icmpv6")


class AwsFields(Fields):
    """Typed access to one AWS CLI output's objects, problems kept at their places."""

    _marks: dict[Loc, tuple[int, int]] | None = None

    def source(self, loc: Loc) -> Source:
        """Where the object or list at ``loc`` starts: from a JSON text's container
        marks (:func:`~ztsim.inputs.aws.jsonmarks.container_marks`, far faster than
        the generic index on a large dump); the generic index for anything else."""
        if self.doc.is_json and self.offset == 0:
            if self._marks is None:
                self._marks = container_marks(self.doc.text)
            mark = self._marks.get(loc)
            if mark is not None:
                return Source(self.doc.path, mark[0], mark[1])
        return super().source(loc)

    def flag(self, obj: dict[str, Any], key: str, loc: Loc) -> bool:
        """``obj[key]`` as a boolean (``False`` when absent)."""
        return bool(self.get(obj, key, loc, bool))

    def cidr(self, obj: dict[str, Any], key: str, loc: Loc, *, required: bool = False) -> Any:
        """``obj[key]`` as a canonical IPv4 or IPv6 block (host bits are dropped,
        with a warning), or ``None``."""
        text = self.string(obj, key, loc, required=required)
        if text is None:
            return None
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            self.error((*loc, key), f"{key!r} must be an address block, not {text!r}")
            return None
        if str(net) != text and str(net.network_address) != text.split("/")[0]:
            self.warn((*loc, key), f"{text!r} has host bits set: read as {net}")
        return str(net)

    def valid_cidr(self, text: str, loc: Loc) -> bool:
        """Whether ``text`` is a canonical block (an error at ``loc`` if not)."""
        try:
            ipaddress.ip_network(text)
        except ValueError:
            self.error(loc, f"{text!r} is not an address block")
            return False
        return True

    def address(self, obj: dict[str, Any], key: str, loc: Loc) -> Any:
        """``obj[key]`` as an IPv4 or IPv6 address, or ``None``."""
        text = self.string(obj, key, loc)
        if text is None:
            return None
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            self.error((*loc, key), f"{key!r} must be an IP address, not {text!r}")
            return None

    def tags(self, obj: dict[str, Any], loc: Loc, key: str = "Tags") -> Labels:
        """AWS tags (``[{Key, Value}]``) as sorted pairs."""
        out = {}
        for tloc, tag in self.items(obj, key, loc):
            k = self.get(tag, "Key", tloc, str, required=True)
            v = self.get(tag, "Value", tloc, str)
            if k is not None:
                out[k] = v or ""
        return tuple(sorted(out.items()))

    def protocol(self, obj: dict[str, Any], key: str, loc: Loc) -> str | None:  # type: ignore[override]
        """``obj[key]``: an AWS protocol (name or number, ``-1`` for all)."""
        value = obj.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            if value is None:
                self.error(loc, f"missing required field {key!r}")
            else:
                self.error((*loc, key), f"{key!r} must be a protocol name or number")
            return None
        name = protocol_name(value)
        if name.isdigit() and not 0 <= int(name) <= 255:
            self.error((*loc, key), f"{key!r} must be a protocol number 0-255, not {value!r}")
            return None
        if not name.isdigit() and name not in ("-1", "tcp", "udp", "icmp", "icmpv6"):
            self.error((*loc, key), f"{key!r}: unknown protocol {value!r}")
            return None
        return name

    def _bounds(
        self, obj: dict[str, Any], keys: tuple[str, str], loc: Loc, limit: int
    ) -> tuple[int, int] | None:
        low = self.get(obj, keys[0], loc, int)
        high = self.get(obj, keys[1], loc, int)
        if low is None and high is None:
            return None
        if low is None or high is None:
            missing = keys[0] if low is None else keys[1]
            self.error(loc, f"{keys[0]!r} and {keys[1]!r} go together: {missing!r} is missing")
            return None
        return low, high

    def ports(
        self, obj: dict[str, Any], protocol: str | None, loc: Loc
    ) -> tuple[PortRange | None, tuple[int, int] | None]:
        """A security group entry's ``FromPort``/``ToPort``: the port range (``None``:
        every port) and, for ICMP, the (type, code) they stand for."""
        bounds = self._bounds(obj, ("FromPort", "ToPort"), loc, 65535)
        return self._ranged(bounds, protocol, ("FromPort", "ToPort"), loc)

    def acl_ports(
        self, obj: dict[str, Any], protocol: str | None, loc: Loc
    ) -> tuple[PortRange | None, tuple[int, int] | None]:
        """A network ACL entry's ``PortRange`` and ``IcmpTypeCode``."""
        if protocol is not None and _is_icmp(protocol):
            code = self.mapping(obj, "IcmpTypeCode", loc)
            pair = self._bounds(code, ("Type", "Code"), (*loc, "IcmpTypeCode"), 255)
            return None, pair or (-1, -1)
        where = (*loc, "PortRange")
        bounds = self._bounds(self.mapping(obj, "PortRange", loc), ("From", "To"), where, 65535)
        return self._ranged(bounds, protocol, ("From", "To"), where)

    def _ranged(
        self,
        bounds: tuple[int, int] | None,
        protocol: str | None,
        keys: tuple[str, str],
        loc: Loc,
    ) -> tuple[PortRange | None, tuple[int, int] | None]:
        if protocol is not None and _is_icmp(protocol):
            return None, bounds or (-1, -1)
        if bounds is None or protocol not in ("tcp", "udp"):
            return None, None  # every port (and protocols without ports)
        low, high = bounds
        if (low, high) == (-1, -1):
            return None, None
        if not (0 <= low <= high <= 65535):
            self.error(loc, f"ports {keys[0]} {low} to {keys[1]} {high}: not a range of 0-65535")
            return None, None
        return (low, high), None
