"""The one way this server sends requests to other servers (docs/architecture.md, "Rules that hold
everywhere"): Mastodon servers, webhooks, sites' feeds, Akismet and sign-in providers.

Some of those targets are named by someone other than the operator: a visitor types a Mastodon
server, a site admin sets a webhook. Unguarded, a name that resolves to 127.0.0.1, 10.0.0.5 or
169.254.169.254 makes this server talk to itself, its network or the cloud's metadata service.
So every request made through `Outbound`:

- resolves the host name once, checks every address it has, and connects only to an address it
  checked (TLS still verifies the name): a name that shows a public address to the check and a
  private one to the connection (DNS rebinding) gets nowhere;
- reaches public addresses only, judging IPv6 forms that embed an IPv4 address by the IPv4
  address (::ffff:127.0.0.1, NAT64 64:ff9b::/96, 6to4 2002::/16). The operator may open chosen
  private networks (the `outbound_private_networks` setting) to webhooks, feeds, Akismet and
  sign-in providers; never to a Mastodon server a visitor names;
- follows no redirect itself (a caller that does sends each hop through here again), ignores
  proxies set in the environment (they would connect unchecked), and gets a bounded answer
  (1 MiB uncompressed unless the caller says otherwise: a feed may be 2 MiB) within a bounded
  time for the whole exchange.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

__all__ = [
    "MAX_ANSWER_BYTES",
    "AddressRefused",
    "AnswerRefused",
    "Outbound",
    "Resolver",
    "is_public",
    "system_resolver",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
# (host, port) -> the host's addresses as text; tests pass their own to stand in for DNS.
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]

MAX_ANSWER_BYTES = 1024 * 1024  # every answer we read is a small JSON document or a word
CHECK_TIMEOUT_S = 5.0  # a settings check waits this long for DNS, then leaves it to send time
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: a local network's translator
_SETTING_HINT = (
    "; the server's operator can allow its network with WIDGET_OUTBOUND_PRIVATE_NETWORKS"
)


class AddressRefused(httpx.ConnectError):
    """The host is, or resolves to, an address this request may not reach."""

    def __init__(self, host: str, address: str, *, hint: str = "") -> None:
        where = address if host == address else f"{host} resolves to {address}, which"
        super().__init__(f"{where} is not a public address{hint}")
        self.host = host
        self.address = address


class AnswerRefused(httpx.TransportError):
    """The other server answered more than we read, or compressed although asked not to."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def is_public(address: IPAddress) -> bool:
    """Whether anyone on the internet could have this address: not loopback, private,
    link-local, shared (100.64/10), unique-local, multicast, broadcast, reserved or
    unspecified, nor an IPv6 form of such an IPv4 address."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public(embedded)
    if address in _LOCAL_NAT64:
        return False
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


class _AddressPolicy:
    """Public addresses, and the private networks the operator opened to this kind of request."""

    def __init__(self, private_networks: Iterable[Network], resolver: Resolver, hint: str):
        self.private_networks = tuple(private_networks)
        self.resolver = resolver
        self.hint = hint  # what a refusal adds for the person who can change it

    def allows(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:10.0.0.5 is 10.0.0.5, for the networks too
        return is_public(address) or any(address in net for net in self.private_networks)

    async def addresses(self, host: str, port: int) -> list[str]:
        """The host's addresses, every one of them allowed; raises AddressRefused for the first
        that is not, or httpcore.ConnectError when the name cannot be resolved."""
        try:
            literal = _ip_literal(host)
            answers = [str(literal)] if literal else list(await self.resolver(host, port))
        except OSError as exc:
            raise httpcore.ConnectError(f"{host} could not be resolved ({exc})") from exc
        if not answers:
            raise httpcore.ConnectError(f"{host} has no address")
        for answer in answers:
            address = _ip_literal(answer)
            if address is None or not self.allows(address):
                raise AddressRefused(host, answer, hint=self.hint)
        return answers


def _ip_literal(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


class _CheckedNetwork(httpcore.AsyncNetworkBackend):
    """httpcore's network, connecting only to addresses the policy has just checked."""

    def __init__(self, policy: _AddressPolicy) -> None:
        self.policy = policy
        self.network = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        failure: Exception | None = None
        # The addresses themselves are connected to, so nothing resolves the name a second
        # time; TLS is started by httpcore afterwards with the name, which it verifies.
        for address in await self.policy.addresses(host, port):
            try:
                return await self.network.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("requests to other servers never use local sockets")

    async def sleep(self, seconds: float) -> None:
        await self.network.sleep(seconds)


# httpcore's failures as httpx's, most specific first (what httpx's own transport does).
_FAILURES: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.RemoteProtocolError),
)
_HTTPCORE_FAILURES = tuple(source for source, _ in _FAILURES)


class _GuardedTransport(httpx.AsyncBaseTransport):
    """One request per connection, through `_CheckedNetwork`, read whole within `total_s`."""

    def __init__(
        self,
        policy: _AddressPolicy,
        ssl_context: Callable[[], ssl.SSLContext],
        total_s: float,
        max_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.policy = policy
        self.ssl_context = ssl_context
        self.total_s = total_s
        self.max_bytes = max_bytes

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"accept-encoding"]
        # A compressed answer of 1 MiB could unpack to gigabytes: ask for none.
        headers.append((b"Accept-Encoding", b"identity"))
        core_request = httpcore.Request(
            request.method,
            httpcore.URL(
                scheme=request.url.raw_scheme, host=request.url.raw_host,
                port=request.url.port, target=request.url.raw_path,
            ),
            headers=headers, content=request.stream, extensions=request.extensions,
        )  # fmt: skip
        try:
            # Timeouts per read or write still let a trickling server hold us for ever.
            async with asyncio.timeout(self.total_s):
                status, answer_headers, body = await self._exchange(core_request)
        except TimeoutError:
            raise httpx.TimeoutException(
                f"{request.url.host} gave no whole answer within {self.total_s:g} s",
                request=request,
            ) from None
        except (AddressRefused, AnswerRefused) as exc:
            exc.request = request
            raise
        except _HTTPCORE_FAILURES as exc:
            kind = next(to for source, to in _FAILURES if isinstance(exc, source))
            raise kind(str(exc) or type(exc).__name__, request=request) from exc
        return httpx.Response(status, headers=answer_headers, content=body)

    async def _exchange(
        self, request: httpcore.Request
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        async with httpcore.AsyncConnectionPool(
            ssl_context=self.ssl_context(), network_backend=_CheckedNetwork(self.policy)
        ) as pool:
            response = await pool.handle_async_request(request)
            try:
                encoding = _header(response.headers, b"content-encoding")
                if encoding not in {b"", b"identity"}:
                    raise AnswerRefused(f"answered in {encoding.decode('latin-1')!r} encoding")
                length = _header(response.headers, b"content-length")
                if length.isdigit() and int(length) > self.max_bytes:
                    raise AnswerRefused(
                        f"answered {length.decode()} bytes; we read at most {self.max_bytes}"
                    )
                body = bytearray()
                async for chunk in response.aiter_stream():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise AnswerRefused(
                            f"answered more than the {self.max_bytes} bytes we read"
                        )
            finally:
                await response.aclose()
        return response.status, response.headers, bytes(body)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    return next((v.strip().lower() for k, v in headers if k.lower() == name), b"")


@functools.lru_cache(maxsize=4)
def _ssl_context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's context (certifi's bundle, or the operator's SSL_CERT_FILE / SSL_CERT_DIR, which
    it reads itself): the arguments only say which one this is."""
    return httpx.create_ssl_context()


class Outbound:
    """Makes the guarded clients. `allow_private_networks` says whether a request may reach
    the private networks the operator opened: yes for targets the operator or a site admin
    chose (providers, Akismet, webhooks), no for a Mastodon server a visitor names."""

    def __init__(
        self, private_networks: Iterable[Network] = (), resolver: Resolver = system_resolver
    ) -> None:
        self._public_only = _AddressPolicy((), resolver, hint="")
        self._with_private = _AddressPolicy(private_networks, resolver, hint=_SETTING_HINT)
        self._ssl: ssl.SSLContext | None = None

    def _ssl_context(self) -> ssl.SSLContext:
        # Made when a request first needs it, and shared by the process while the operator's
        # CA settings are the same: reading the CA bundle takes some 30 ms of CPU.
        if self._ssl is None:
            self._ssl = _ssl_context_for(
                os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
            )
        return self._ssl

    def _policy(self, allow_private_networks: bool) -> _AddressPolicy:
        return self._with_private if allow_private_networks else self._public_only

    def client_options(
        self,
        timeout_s: float,
        *,
        allow_private_networks: bool,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> dict[str, Any]:
        """Keyword arguments for an httpx.AsyncClient (authlib's clients take them too)."""
        policy = self._policy(allow_private_networks)
        return {
            "transport": _GuardedTransport(policy, self._ssl_context, timeout_s, max_answer_bytes),
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
    ) -> httpx.AsyncClient:
        """`max_answer_bytes` bounds what is read of an answer (default 1 MiB): a site's feed
        may be larger than the small documents every other answer is."""
        return httpx.AsyncClient(
            **self.client_options(
                timeout_s,
                allow_private_networks=allow_private_networks,
                max_answer_bytes=max_answer_bytes,
            )
        )

    async def check_url(self, url: str, *, allow_private_networks: bool) -> None:
        """Raise AddressRefused when `url`'s host is, or now resolves to, an address a request
        may not reach. A name that does not resolve now passes: each request checks again."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await self._policy(allow_private_networks).addresses(host, port)
        except (httpcore.ConnectError, TimeoutError):
            pass
