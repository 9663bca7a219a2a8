"""The one way this server sends requests to other servers (docs/architecture.md, "Rules that hold
everywhere"): Mastodon servers, webhooks, sites' feeds and pages (their titles), Akismet and
sign-in providers.

Some of those targets are named by someone other than the operator: a visitor types a Mastodon
server, a site admin sets a webhook. Unguarded, a name that resolves to 127.0.0.1, 10.0.0.5 or
169.254.169.254 makes this server talk to itself, its network or the cloud's metadata service.
So every request made through `Outbound`:

- resolves the host name once, checks every address it has, and connects only to an address it
  checked (TLS still verifies the name): a name that shows a public address to the check and a
  private one to the connection (DNS rebinding) gets nowhere;
- reaches public addresses only, judging IPv6 forms that embed an IPv4 address by the IPv4
  address (::ffff:127.0.0.1, NAT64 64:ff9b::/96, 6to4 2002::/16). The operator may open chosen
  private networks (the `outbound_private_networks` setting) to webhooks, feeds, pages, Akismet
  and sign-in providers; never to a Mastodon server a visitor names;
- follows no redirect itself (a caller that does sends each hop through here again), ignores
  proxies set in the environment (they would connect unchecked), and gets a bounded answer
  (1 MiB uncompressed unless the caller says otherwise: a feed may be 2 MiB; of a page, the
  first 256 KB are read and the rest left unread) within a bounded time for the whole exchange.

The httpx side of all this is widget/guarded_transport.py, imported with the first request: a
server that never talks to another one does without httpx (some 2.7 MB of its memory).
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx

    from widget.guarded_transport import AddressPolicy

__all__ = [
    "MAX_ANSWER_BYTES",
    "Outbound",
    "Resolver",
    "is_public",
    "request_error",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the host's addresses as text; tests pass their own to stand in for DNS.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

MAX_ANSWER_BYTES = 1024 * 1024  # every answer we read is a small JSON document or a word
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: a local network's translator
_SETTING_HINT = (
    "; the server's operator can allow its network with WIDGET_OUTBOUND_PRIVATE_NETWORKS"
)


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def request_error() -> type[Exception]:
    """What a request through a guarded client raises when it fails (httpx.HTTPError), for an
    `except` clause: httpx is imported with the first client, not with this module."""
    import httpx

    return httpx.HTTPError


def is_public(address: IPAddress) -> bool:
    """Whether anyone on the internet could have this address: not loopback, private,
    link-local, shared (100.64/10), unique-local, multicast, broadcast, reserved or
    unspecified, nor an IPv6 form of such an IPv4 address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public(embedded)
    if address in _LOCAL_NAT64:
        return False
    # is_global alone rules out most of these on this Python; its table has changed between
    # releases (3.12.4, 3.13), and a check that an upgrade can loosen must not stand alone.
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


class Outbound:
    """Makes the guarded clients. `allow_private_networks` says whether a request may reach
    the private networks the operator opened: yes for targets the operator or a site admin
    chose (providers, Akismet, webhooks), no for a Mastodon server a visitor names."""

    def __init__(
        self, private_networks: Iterable[Network] = (), resolver: Resolver = system_resolver
    ) -> None:
        self._private_networks = tuple(private_networks)
        self._resolver = resolver
        self._ssl: ssl.SSLContext | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        # Made when a request first needs it, and shared by the process while the operator's
        # CA settings are the same: reading the CA bundle takes some 30 ms of CPU.
        if self._ssl is None:
            from widget.guarded_transport import ssl_context_for

            self._ssl = ssl_context_for(
                os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
            )
        return self._ssl

    def _policy(self, allow_private_networks: bool) -> AddressPolicy:
        from widget.guarded_transport import AddressPolicy

        if allow_private_networks:
            return AddressPolicy(self._private_networks, self._resolver, hint=_SETTING_HINT)
        return AddressPolicy((), self._resolver, hint="")

    def client_options(
        self,
        timeout_s: float,
        *,
        allow_private_networks: bool,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        prefix_only: bool = False,
    ) -> dict[str, Any]:
        """Keyword arguments for an httpx.AsyncClient (authlib's clients take them too)."""
        from widget.guarded_transport import GuardedTransport

        policy = self._policy(allow_private_networks)
        transport = GuardedTransport(
            policy, self._ssl_context, timeout_s, max_answer_bytes, prefix_only=prefix_only
        )
        return {
            "transport": transport,
            "timeout": timeout_s,
            "follow_redirects": False,  # a redirect could lead anywhere; none is needed
            "trust_env": False,  # a proxy from the environment would connect unchecked
        }

    def client(
        self,
        timeout_s: float,
        *,
        allow_private_networks: bool,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        prefix_only: bool = False,
    ) -> httpx.AsyncClient:
        """`max_answer_bytes` bounds what is read of an answer (default 1 MiB): a site's feed
        may be larger than the small documents every other answer is. With `prefix_only`, a
        longer answer is cut there rather than refused (a page's title is near its top)."""
        import httpx

        return httpx.AsyncClient(
            **self.client_options(
                timeout_s,
                allow_private_networks=allow_private_networks,
                max_answer_bytes=max_answer_bytes,
                prefix_only=prefix_only,
            )
        )

    async def refusal(self, url: str, *, allow_private_networks: bool) -> str | None:
        """Why a request may not reach `url` (its host is, or now resolves to, an address it
        may not reach), or None. A name that does not resolve now passes: each request checks
        again."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return await self._policy(allow_private_networks).refusal(parts.hostname or "", port)
