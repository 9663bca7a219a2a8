"""The httpx side of widget/outbound.py: the address policy at connect time, the transport that
reads a bounded answer within a bounded time, and the errors they raise. `Outbound` imports
this module when it first makes a client or checks a URL, so a server that never talks to
another one does without httpx and httpcore (some 2.7 MB of its memory).
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import ssl
from collections.abc import Callable, Iterable
from typing import Any

import httpcore
import httpx

from widget.outbound import MAX_ANSWER_BYTES, IPAddress, Network, Resolver, is_public

__all__ = [
    "AddressPolicy",
    "AddressRefused",
    "AnswerRefused",
    "GuardedTransport",
    "ssl_context_for",
]

CHECK_TIMEOUT_S = 5.0  # a settings check waits this long for DNS, then leaves it to send time


class AddressRefused(httpx.ConnectError):
    """The host is, or resolves to, an address this request may not reach."""

    def __init__(self, host: str, address: str, *, hint: str = "") -> None:
        where = address if host == address else f"{host} resolves to {address}, which"
        super().__init__(f"{where} is not a public address{hint}")
        self.host = host
        self.address = address


class AnswerRefused(httpx.TransportError):
    """The other server answered more than we read, or compressed although asked not to."""


class AddressPolicy:
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

    async def refusal(self, host: str, port: int) -> str | None:
        """Why a request may not reach `host`, or None. A name that does not resolve (within
        CHECK_TIMEOUT_S) passes: each request checks again as it connects."""
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await self.addresses(host, port)
        except AddressRefused as exc:
            return str(exc)
        except (httpcore.ConnectError, TimeoutError):
            pass
        return None


def _ip_literal(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


class _CheckedNetwork(httpcore.AsyncNetworkBackend):
    """httpcore's network, connecting only to addresses the policy has just checked."""

    def __init__(self, policy: AddressPolicy) -> None:
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


class GuardedTransport(httpx.AsyncBaseTransport):
    """One request per connection, through `_CheckedNetwork`, read whole within `total_s`."""

    def __init__(
        self,
        policy: AddressPolicy,
        ssl_context: Callable[[], ssl.SSLContext],
        total_s: float,
        max_bytes: int = MAX_ANSWER_BYTES,
        *,
        prefix_only: bool = False,
    ) -> None:
        self.policy = policy
        self.ssl_context = ssl_context
        self.total_s = total_s
        self.max_bytes = max_bytes
        self.prefix_only = prefix_only  # a longer answer is cut at max_bytes, not refused

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
                if length.isdigit() and int(length) > self.max_bytes and not self.prefix_only:
                    raise AnswerRefused(
                        f"answered {length.decode()} bytes; we read at most {self.max_bytes}"
                    )
                body = bytearray()
                async for chunk in response.aiter_stream():
                    body += chunk
                    if len(body) >= self.max_bytes and self.prefix_only:
                        del body[self.max_bytes :]
                        break  # the connection is closed with the rest unread
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
def ssl_context_for(cert_file: str | None, cert_dir: str | None) -> ssl.SSLContext:
    """httpx's context (certifi's bundle, or the operator's SSL_CERT_FILE / SSL_CERT_DIR, which
    it reads itself): the arguments only say which one this is."""
    return httpx.create_ssl_context()
