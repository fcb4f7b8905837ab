"""The addresses a client-chosen URL may reach, and resolving its host (off the event loop, bounded).

Public unicast addresses are always fine. Loopback, private, link-local, unique-local and other non-public
addresses are reached only through an allowlist entry that names the host exactly (an operator who lists
`ws://asr.internal:8124/` or `http://127.0.0.1:8299/v1` means it); never through a `*.example.com` entry.
Cloud-metadata, multicast and unspecified addresses are reached only when that entry names the address itself
(`http://169.254.169.254/`): a host *name* leading there is refused even when the name is listed. IPv4 inside
IPv6 (`::ffff:127.0.0.1`, 6to4, NAT64) is judged as the IPv4 address. Every address a name resolves to must
pass, or none is used."""

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

RESOLVE_TIMEOUT_S = 5.0

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# Instance-metadata and host-agent endpoints: the machine's cloud credentials live behind them.
METADATA = frozenset(
    ipaddress.ip_address(address)
    for address in (
        "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata and credentials
        "169.254.170.23",  # AWS EKS Pod Identity agent
        "100.100.100.200",  # Alibaba Cloud
        "168.63.129.16",  # Azure WireServer (a public address)
        "fd00:ec2::254",  # AWS over IPv6
        "fd00:ec2::23",  # AWS EKS Pod Identity over IPv6
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
NEVER_BY_NAME = frozenset({"cloud metadata", "multicast", "unspecified"})


class OutboundRefused(Exception):
    """A client's URL may not be connected to (its host does not resolve, or resolves to a refused address)."""


@dataclass(frozen=True)
class Target:
    """Where a client's URL connects: host (lower-case ASCII or an IP literal) and port; `named`: an allowlist
    entry names this host exactly."""

    host: str
    port: int
    named: bool


def category(address: Address) -> str | None:
    """What kind of non-public address this is; None for a public unicast one."""
    address = embedded_ipv4(address) or address
    checks = [
        ("cloud metadata", address in METADATA),
        ("unspecified", address.is_unspecified),
        ("multicast", address.is_multicast),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("unique-local", address.version == 6 and address in UNIQUE_LOCAL),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("reserved", not address.is_global),  # shared (CGNAT), benchmarking, IETF protocol ranges
    ]
    return next((name for name, hit in checks if hit), None)


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    if address.version == 4:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: Address, target: Target) -> str | None:
    """Why `target` may not connect to `address`; None when it may."""
    if target.named and _literal(target.host) == address:
        return None  # the operator listed this very address
    kind = category(address)
    if kind is None or (target.named and kind not in NEVER_BY_NAME):
        return None
    if target.named:
        return f"{target.host} resolves to {address} ({kind}); only an allowlist entry naming that address admits it"
    return f"{target.host} resolves to {address} ({kind}); only an allowlist entry naming the host admits it"


async def resolve(target: Target) -> str:
    """The address to connect to: every address the host resolves to passes `refusal` (a mixed answer is how
    DNS rebinding starts), and the first is returned. OutboundRefused otherwise."""
    literal = _literal(target.host)
    addresses = [literal] if literal is not None else await _lookup(target)
    for address in addresses:
        if (reason := refusal(address, target)) is not None:
            raise OutboundRefused(reason)
    return str(addresses[0])


async def _lookup(target: Target) -> list[Address]:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(RESOLVE_TIMEOUT_S):  # getaddrinfo runs in the loop's thread pool
            infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except TimeoutError:
        raise OutboundRefused(f"resolving {target.host} took longer than {RESOLVE_TIMEOUT_S:g} s") from None
    except socket.gaierror as exc:
        raise OutboundRefused(f"cannot resolve {target.host}: {exc.strerror}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    if not addresses:
        raise OutboundRefused(f"{target.host} has no address")
    return addresses


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None
