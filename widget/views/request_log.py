"""The request log: one line per request (method, path, status, milliseconds, request id) and
the id in an `X-Request-Id` header, so a person can quote it and an operator find the line
(but on a script or style sheet that arrived: nobody sees it there, and a page view fetches two).

It replaces uvicorn's access log, which writes each path with its query: the links in our
emails carry signed tokens there (`/data?token=…` opens a guest's data for a day). Here a query
keeps only the values of parameters known to say nothing about anyone (which site, page,
language); every other value, a path segment with an @ in it included, is written `[redacted]`.
The hot routes go through this on every request, so it does little: no parsing beyond splitting
the query (remembered for the requests seen most), one line written.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import logging
import re
import secrets
import time
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from widget.logs import REQUEST_ID, REQUEST_LOGGER, RequestLine, log_request

from .security import SCRIPT_AND_STYLE_TYPES

__all__ = ["RequestLines", "RequestLog", "loggable_target"]

log = logging.getLogger(REQUEST_LOGGER)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Query parameters whose values are kept in the log: what is asked for, never who asks.
KEPT_PARAMETERS = frozenset(
    {b"site", b"page", b"lang", b"theme", b"before", b"after", b"replytocom", b"held",
     b"data_link", b"done", b"status", b"format", b"thread", b"n"}
)  # fmt: skip
REDACTED = b"[redacted]"
MAX_CACHED_TARGET_BYTES = 512  # so the cache of targets holds at most about half a megabyte
# Whatever a client sent that is not printable ASCII, so a line can never be split or forged.
_UNPRINTABLE = re.compile(rb"[^\x21-\x7e]")
_PROXY_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")


def loggable_target(path: bytes, query: bytes) -> str:
    """The request's path and query as the log shows them (both as sent, percent-encoded)."""
    if len(path) + len(query) <= MAX_CACHED_TARGET_BYTES:
        return _cached_target(path, query)  # hot routes ask for the same few, again and again
    return _target(path, query)


@functools.lru_cache(maxsize=1024)
def _cached_target(path: bytes, query: bytes) -> str:
    return _target(path, query)


def _target(path: bytes, query: bytes) -> str:
    if b"@" in path or b"%40" in path.lower():
        path = b"/".join(REDACTED if _has_at(part) else part for part in path.split(b"/"))
    if query:
        path += b"?" + b"&".join(_loggable_pair(pair) for pair in query.split(b"&"))
    if _UNPRINTABLE.search(path):
        path = _UNPRINTABLE.sub(lambda m: b"%%%02X" % m[0][0], path)
    return path.decode("ascii")


def _has_at(value: bytes) -> bool:
    return b"@" in value or b"%40" in value.lower()


def _loggable_pair(pair: bytes) -> bytes:
    name, sep, value = pair.partition(b"=")
    if not value or (name in KEPT_PARAMETERS and not _has_at(value) and not _smuggles(value)):
        return pair
    return name + sep + REDACTED


def _smuggles(value: bytes) -> bool:
    """A kept parameter's value that carries another parameter (`site=x;token=…`)."""
    return b"=" in value or b";" in value


class RequestLines:
    """Each request's id and its log line: what RequestLog gives every request, and what a
    layer that answers before it (KeptAnswers) gives those it answers.

    A request id sent by a trusted proxy (`X-Request-Id`, in `trusted_proxies`) is kept, so
    the proxy's log and ours name a request alike; otherwise each request gets a new one."""

    def __init__(self, trusted_proxies: Sequence[Network] = ()) -> None:
        self.trusted_proxies = tuple(trusted_proxies)
        # Ids need to be unique, not secret: a random prefix per process and a count, without
        # a call for randomness on every request.
        self._id_prefix = secrets.token_hex(4)
        self._count = itertools.count()

    def request_id(self, scope: Scope) -> str:
        return self._proxy_request_id(scope) or f"{self._id_prefix}{next(self._count):08x}"

    def _proxy_request_id(self, scope: Scope) -> str | None:
        if not self.trusted_proxies or not scope.get("client"):
            return None
        try:
            peer = ipaddress.ip_address(scope["client"][0])
        except ValueError:
            return None
        if not any(peer in network for network in self.trusted_proxies):
            return None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                text = value.decode("latin-1")
                return text if _PROXY_REQUEST_ID.match(text) else None
        return None

    def log(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        """The request's line, if request lines are logged; `started` is its perf_counter()."""
        if not log.isEnabledFor(logging.INFO):
            return
        duration_ms = (time.perf_counter() - started) * 1000
        path = scope.get("raw_path") or scope["path"].encode()
        target = loggable_target(path, scope["query_string"])
        log_request(
            RequestLine(time.time(), scope["method"], target, status, duration_ms, request_id)
        )


class RequestLog:
    """ASGI middleware: the request id, its header, and the request's log line (RequestLines,
    made here from `trusted_proxies` unless given)."""

    def __init__(
        self,
        app: ASGIApp,
        trusted_proxies: Sequence[Network] = (),
        lines: RequestLines | None = None,
    ) -> None:
        self.app = app
        self.lines = lines or RequestLines(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = self.lines.request_id(scope)
        id_header = (b"x-request-id", request_id.encode("ascii"))
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                if status >= 400 or not _script_or_style(headers):
                    message = {**message, "headers": [*headers, id_header]}
            await send(message)

        context_token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # The server logs the error right after this; the id stays set for its line. With
            # nothing sent yet, the person gets the id to quote (Starlette's own 500 has none).
            if status == 0:
                await _internal_error(send_with_id, request_id)
            raise
        else:
            REQUEST_ID.reset(context_token)
        finally:
            self.lines.log(scope, status, started, request_id)


def _script_or_style(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    return any(
        name.lower() == b"content-type" and value.startswith(SCRIPT_AND_STYLE_TYPES)
        for name, value in headers
    )


async def _internal_error(send: Send, request_id: str) -> None:
    body = (
        "Something went wrong on the comment server. Try again in a moment; if it keeps"
        f" happening, tell the site's owner this request id: {request_id}\n"
    ).encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
