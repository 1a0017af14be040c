"""Which addresses the server may connect to on an applicant's behalf.

An applicant names the endpoint its model is served from, so every outbound
call the registry makes is a request an outsider chose. The policy denies every
address that is not globally routable (loopback, link-local and with it the
cloud metadata services at 169.254.169.254 and fd00:ec2::254, private,
shared, multicast, unspecified and reserved ranges), looking through the IPv6
forms that carry an IPv4 address (``::ffff:127.0.0.1``, 6to4, NAT64). The
operator may allow networks explicitly; nothing else widens it.

The check is made on the address that is connected to: :class:`PolicyResolver`
is the connector's resolver, so a name is resolved once, the answers are
filtered, and only vetted addresses reach ``connect``. A name that resolves to
a public address first and to loopback a second later (DNS rebinding) cannot
slip through, because there is no second resolution.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: Spellings ``inet_aton`` reads as IPv4 (``0x7f000001``, ``2130706433``, ``0177.1``).
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)


class EgressDenied(OSError):
    """The address is outside the operator's egress policy.

    An ``OSError`` so that aiohttp's connector wraps it like any failed
    resolution; the classifier finds it again in the cause chain.
    """


def literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself, in any spelling the resolver would accept."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.match(text):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, also for every IPv4 address the IPv6 form carries."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return is_public(address.ipv4_mapped)  # the IPv4 address is what is connected to
    inner = _embedded_ipv4(address)
    if inner is not None and not is_public(inner):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_loopback
        or address.is_link_local
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


@dataclass(frozen=True)
class EgressPolicy:
    """Public addresses only, plus the networks the operator lists in ``allow``."""

    allow: tuple[IPNetwork, ...] = ()

    @classmethod
    def allowing(cls, networks: Iterable[str]) -> EgressPolicy:
        """From the operator's CIDR texts (``10.0.0.0/8``, ``::1/128``)."""
        parsed = []
        for text in networks:
            try:
                parsed.append(ipaddress.ip_network(text.strip(), strict=False))
            except ValueError:
                raise ValueError(
                    f"not a network: {text!r} (expected CIDR, e.g. 10.0.0.0/8)"
                ) from None
        return cls(tuple(parsed))

    def permits(self, address: IPAddress) -> bool:
        if any(address in network for network in self.allow if network.version == address.version):
            return True
        inner = _embedded_ipv4(address)
        if inner is not None and any(inner in n for n in self.allow if n.version == 4):
            return True
        return is_public(address)

    def check_host(self, host: str) -> None:
        """Refuse a host that is itself a denied address (names are checked when resolved)."""
        address = literal_address(host)
        if address is not None and not self.permits(address):
            raise EgressDenied(f"{address} is not an address this registry connects to")


class PolicyResolver(AbstractResolver):
    """An aiohttp resolver that returns only the addresses the policy permits."""

    def __init__(self, policy: EgressPolicy, inner: Any | None = None) -> None:
        import aiohttp

        self._policy = policy
        self._inner = inner if inner is not None else aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        address = literal_address(host)
        if address is not None:
            self._policy.check_host(host)
            return [
                ResolveResult(
                    hostname=host,
                    host=str(address),
                    port=port,
                    family=socket.AF_INET if address.version == 4 else socket.AF_INET6,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            ]
        answers: list[ResolveResult] = await self._inner.resolve(host, port, family)
        vetted = [a for a in answers if self._permitted(a["host"])]
        if not vetted:
            raise EgressDenied(f"{host} resolves to no address this registry connects to")
        return vetted

    def _permitted(self, text: str) -> bool:
        address = literal_address(text)
        return address is not None and self._policy.permits(address)

    async def close(self) -> None:
        await self._inner.close()
