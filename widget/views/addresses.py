"""Who is asking: the client's IP address behind trusted proxies, and its rate-limit key."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Sequence

__all__ = ["client_address", "network_digest", "rate_limit_key"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address of the client that sent the request.

    `X-Forwarded-For` is believed only when the peer is a trusted proxy, and then only up to
    the first hop (from the right) that is not itself trusted: anything left of that was
    written by the client and proves nothing.
    """
    address = _parse(peer or "")
    if address is None:
        return peer or "unknown"
    if not forwarded_for or not any(address in net for net in trusted):
        return str(address)
    for hop in reversed(forwarded_for.split(",")):
        hop_address = _parse(hop)
        if hop_address is None:
            break  # a garbled hop: stop at the last address a trusted proxy vouched for
        address = hop_address
        if not any(address in net for net in trusted):
            break
    return str(address)


def rate_limit_key(address: str) -> str:
    """IPv4 addresses count one by one; IPv6 by /64, the block one subscriber usually gets."""
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed) if parsed is not None else address


def network_digest(secret_key: str, address_key: str) -> str:
    """16 hex digits standing for a network (a `rate_limit_key`) on this server only: enough to
    count what came from it, without keeping where it is."""
    digest = hmac.new(secret_key.encode(), b"network:" + address_key.encode(), hashlib.sha256)
    return digest.hexdigest()[:16]
