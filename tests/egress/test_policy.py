"""The egress policy: every spelling of a non-public address is refused unless the operator allows it."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

from llmcert.egress import EgressDenied, EgressPolicy, PolicyResolver, literal_address

DENIED = [
    "127.0.0.1",
    "127.1",  # short form
    "0x7f000001",  # hex
    "2130706433",  # decimal
    "0177.0.0.1",  # octal
    "0x7f.0.0.1",
    "::1",
    "[::1]",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:7f00:1",
    "::7f00:1",  # IPv4-compatible (deprecated, reserved)
    "64:ff9b::7f00:1",  # NAT64 of loopback
    "2002:7f00:1::1",  # 6to4 of loopback
    "169.254.169.254",  # cloud metadata
    "fd00:ec2::254",  # cloud metadata over IPv6
    "fe80::1",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",  # shared address space
    "224.0.0.1",
    "ff02::1",
    "0.0.0.0",
    "0",
    "::",
    "240.0.0.1",
    "255.255.255.255",
]
PUBLIC = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]


@pytest.mark.parametrize("host", DENIED)
def test_every_spelling_of_a_non_public_address_is_denied_by_default(host: str) -> None:
    assert literal_address(host) is not None, host
    with pytest.raises(EgressDenied):
        EgressPolicy().check_host(host)


@pytest.mark.parametrize("host", PUBLIC)
def test_public_addresses_are_permitted(host: str) -> None:
    EgressPolicy().check_host(host)


def test_names_are_not_literal_addresses() -> None:
    assert literal_address("api.example.com") is None
    assert literal_address("1.example") is None
    EgressPolicy().check_host("api.example.com")  # checked when resolved, not here


def test_the_operator_allows_networks_explicitly_and_nothing_else() -> None:
    policy = EgressPolicy.allowing(["127.0.0.0/8"])
    for host in ("127.0.0.1", "0x7f000001", "::ffff:127.0.0.1"):
        policy.check_host(host)
    for host in ("10.0.0.1", "169.254.169.254", "::1"):
        with pytest.raises(EgressDenied):
            policy.check_host(host)
    with pytest.raises(ValueError, match="not a network"):
        EgressPolicy.allowing(["localhost"])


class _Answers:
    """A resolver standing in for DNS: answers what it is told, counts the questions."""

    def __init__(self, *answers: list[str]) -> None:
        self._answers = list(answers)
        self.asked = 0

    async def resolve(self, host: str, port: int = 0, family: Any = socket.AF_INET) -> list[Any]:
        addresses = self._answers[min(self.asked, len(self._answers) - 1)]
        self.asked += 1
        return [
            {
                "hostname": host,
                "host": a,
                "port": port,
                "family": socket.AF_INET6 if ":" in a else socket.AF_INET,
                "proto": 0,
                "flags": 0,
            }
            for a in addresses
        ]

    async def close(self) -> None:
        pass


async def test_the_resolver_returns_only_vetted_addresses() -> None:
    resolver = PolicyResolver(EgressPolicy(), _Answers(["127.0.0.1", "93.184.216.34", "10.1.1.1"]))
    answers = await resolver.resolve("mixed.example", 443)
    assert [a["host"] for a in answers] == ["93.184.216.34"]


async def test_a_name_resolving_only_to_denied_addresses_is_refused() -> None:
    resolver = PolicyResolver(EgressPolicy(), _Answers(["169.254.169.254"]))
    with pytest.raises(EgressDenied):
        await resolver.resolve("metadata.example", 80)


async def test_every_resolution_is_checked_so_a_rebound_name_is_refused() -> None:
    inner = _Answers(["93.184.216.34"], ["127.0.0.1"])
    resolver = PolicyResolver(EgressPolicy(), inner)
    assert [a["host"] for a in await resolver.resolve("rebind.example", 80)] == ["93.184.216.34"]
    with pytest.raises(EgressDenied):
        await resolver.resolve("rebind.example", 80)


async def test_localhost_resolves_to_loopback_and_is_refused() -> None:
    resolver = PolicyResolver(EgressPolicy())
    try:
        with pytest.raises(EgressDenied):
            await resolver.resolve("localhost", 80)
    finally:
        await resolver.close()


def test_literal_addresses_are_normalised() -> None:
    assert literal_address("0x7f000001") == ipaddress.ip_address("127.0.0.1")
    assert literal_address("[fd00:ec2::254]") == ipaddress.ip_address("fd00:ec2::254")
