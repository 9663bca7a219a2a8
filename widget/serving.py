"""How `widget serve` runs uvicorn: what one connection may send, and how many may be open.

uvicorn's fastest parser (httptools) puts no bound on a request's head: a 64 MB header was read
into memory (190 MB) while every other request waited. Nor on time: a client could trickle its
headers or body forever and keep its connection. And with the common limit of 1,024 open files,
about a thousand idle connections made the process fail to accept new ones, with nothing in the
log. So the protocol here is uvicorn's httptools protocol with, per connection:

- the head (request line and headers) capped in bytes, counted as they arrive (not once the
  head is whole), and in fields: 431, and the connection closed;
- a time for the head, from the connection's start or the end of the previous request: 408
  (a connection that sent nothing is just closed);
- a time for the body once the head is in: 408. A response may take as long as it likes,
  so live-update streams are never cut off;

and, for the process, a count of open connections kept under the open-file limit (the rest is
left for the database, the render workers and files). Past `connections`, a new connection
closes the longest-idle one to make room, and a request that finds no room is answered 503 with
Retry-After; past `connections_max`, a new connection is closed at once. Each is logged.

Connections are also counted per address (an IPv6 /64 as one; trusted proxies not at all):
past `AddressLimit.connections`, a new one from that address is answered 503 at once and
closed, before it takes any room. Without this, one client holding request bodies open (0.15 s
for 1,700 of them) took every connection, and everyone else got 503s for as long as it kept on.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
import resource
import sys
import time
from typing import Any, ClassVar

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

__all__ = [
    "MALLOC_SETTINGS",
    "AddressLimit",
    "FileBudget",
    "HeadLimits",
    "file_budget",
    "http_protocol",
    "raise_open_file_limit",
    "tune_malloc",
]

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5  # when a request found no room: connections free up within seconds
LOG_EVERY_S = 10.0  # one line per kind of refusal at most this often, with the count since
SWEEP_EVERY_S = 1.0  # how often deadlines are looked at: a timeout may run a second over
# How glibc's malloc serves `widget serve` (environment variables it reads only at start):
MALLOC_SETTINGS = {
    # Each thread that allocates gets an arena of its own (up to 8 a core), and memory freed in
    # one is not reused by another: the writer's and readers' threads, the render pool's. Two
    # arenas cut the peak under bench/memory.py's load by ~1.7 MB (55.6 -> 53.9 MB) at no
    # measurable cost in speed: the event loop does nearly all the allocating.
    "MALLOC_ARENA_MAX": "2",
    # Blocks from 128 KiB up get pages of their own, given back when freed. Left to itself,
    # glibc raises this bar to the largest block freed so far (up to 32 MiB): after the first
    # brotli compression at its best quality (some 5 MB of working memory), such blocks stay in
    # the heap, which does not shrink, ~7 MB more resident after the first page view.
    "MALLOC_MMAP_THRESHOLD_": "131072",
}


@dataclasses.dataclass(frozen=True, slots=True)
class FileBudget:
    """What the open-file limit leaves for clients."""

    open_files: int
    connections: int  # past this, room is made or requests get 503
    connections_max: int  # past this, a new connection is closed at once
    live_readers: int  # live-update streams: fewer, so that pages still load when all are open


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft limit of open files to its hard limit, as far as the system
    allows. Returns (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for target in (hard, 1 << 20):  # an unlimited hard limit: the usual ceiling (nr_open)
        if target == resource.RLIM_INFINITY or target <= soft:
            continue
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            continue
        return soft, target
    return soft, soft


def tune_malloc() -> None:
    """Run this command again, in this same process (exec: the pid and open files stay), with
    MALLOC_SETTINGS in its environment, since glibc reads them only at start. A variable set
    already is kept (the operator's value stands); nothing is done when all are, or off Linux."""
    missing = {name: value for name, value in MALLOC_SETTINGS.items() if name not in os.environ}
    if not missing or not sys.platform.startswith("linux"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    environment = {**os.environ, **missing}
    os.execve(sys.executable, sys.orig_argv, environment)  # noqa: S606  # our own command again


def file_budget(open_files: int | None = None) -> FileBudget:
    """The budget under `open_files` (default: this process's soft limit). A tenth, and at
    least 100 (a quarter of a small limit), is kept for everything but clients: the database
    (its files, or a pool of connections), the render workers' pipes, outgoing requests."""
    if open_files is None:
        open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if open_files == resource.RLIM_INFINITY:
        open_files = 1 << 20
    kept = min(max(100, open_files // 10), open_files // 4)
    connections_max = open_files - kept
    connections = connections_max - max(16, connections_max // 10)
    live_readers = connections - max(16, connections // 4)
    return FileBudget(open_files, connections, connections_max, max(live_readers, 1))


@dataclasses.dataclass(frozen=True, slots=True)
class HeadLimits:
    max_header_bytes: int
    max_header_count: int
    header_timeout_s: float
    body_timeout_s: float


@dataclasses.dataclass(frozen=True, slots=True)
class AddressLimit:
    """Connections open at once from one address; `unbounded` (trusted proxies, which carry
    everyone's) are not counted."""

    connections: int
    unbounded: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def key(self, peer: str) -> str | None:
        """What a peer's connections are counted under, or None when they are not."""
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return None
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.unbounded):
            return None
        # As rate limits count (widget/views/addresses.py, which this layer does not import):
        # an IPv6 /64 is one subscriber's.
        if isinstance(address, ipaddress.IPv6Address):
            return str(ipaddress.IPv6Network((address, 64), strict=False))
        return str(address)


class _Refusal(Exception):
    def __init__(self, status: int, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s


class _ThrottledLog:
    """At most one line per kind every LOG_EVERY_S, saying how many happened since."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._count: dict[str, int] = {}

    def note(self, kind: str, message: str) -> None:
        self._count[kind] = self._count.get(kind, 0) + 1
        now = time.monotonic()
        if now - self._last.get(kind, -LOG_EVERY_S) >= LOG_EVERY_S:
            count, self._count[kind] = self._count[kind], 0
            self._last[kind] = now
            log.warning("%s (%d time(s) in the last %g s)", message, count, LOG_EVERY_S)


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, within `limits` and `budget` (set by `http_protocol`).

    Its deadlines are times to compare, not timers: one sweep a second per server looks for
    those that passed, so that a request costs no timer to set and cancel."""

    limits: ClassVar[HeadLimits]
    budget: ClassVar[FileBudget]
    per_address: ClassVar[AddressLimit]
    # Open connections by address key (AddressLimit.key); an address with none is not here.
    by_address: ClassVar[dict[str, int]]
    # Connections waiting for a request (new, or kept alive between requests), oldest first:
    # the first to close when room is needed.
    idle: ClassVar[dict[LimitedHttpToolsProtocol, None]]
    refusals: ClassVar[_ThrottledLog]
    sweeping: ClassVar[bool]

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._in_head = True  # what arrives is the head of a request, or the gap before one
        self._in_body = False
        self._heads = 0  # heads completed on this connection
        self._head_bytes = 0  # of the head going on, in chunks that held nothing else
        self._chunk_bytes = 0  # of the chunk being parsed
        self._request_begun = False
        self._deadline: float | None = None
        self._address: str | None = None  # counted in by_address under this key
        if not self._admit_address() or not self._make_room():
            return
        self._wait_for_head()
        if not self.sweeping:
            type(self).sweeping = True
            self.loop.call_later(SWEEP_EVERY_S, self._sweep)

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline = None
        self.idle.pop(self, None)
        if self._address is not None:
            left = self.by_address[self._address] - 1
            if left:
                self.by_address[self._address] = left
            else:
                del self.by_address[self._address]
            self._address = None
        super().connection_lost(exc)

    def _admit_address(self) -> bool:
        """False when this connection's address has its share open already: it is answered
        503 and closed at once, so that it takes no room from anyone else."""
        peer = self.transport.get_extra_info("peername")
        key = self.per_address.key(peer[0]) if isinstance(peer, tuple) and peer else None
        if key is None:
            return True
        open_now = self.by_address.get(key, 0)
        if open_now < self.per_address.connections:
            self.by_address[key] = open_now + 1
            self._address = key
            return True
        self.refusals.note(
            "address", f"Answered 503: {open_now:,} connections open from one address (at most"
            f" {self.per_address.connections:,}, connections_per_address)",
        )  # fmt: skip
        self.connections.discard(self)  # now, not when the loop gets to its close
        self._refuse(
            _Refusal(
                503, "Too many connections are open from your address; close some, then try"
                " again in a few seconds.", RETRY_AFTER_S,
            )
        )  # fmt: skip
        return False

    def _make_room(self) -> bool:
        """False when this connection had to be closed: no room, and none could be made."""
        open_now = len(self.connections)
        if open_now <= self.budget.connections:
            return True
        oldest = next(iter(self.idle), None)
        if oldest is not None:
            self.idle.pop(oldest)
            oldest.transport.close()
            self.connections.discard(oldest)  # now, not when the loop gets to its close
            self.refusals.note(
                "drained", f"{open_now:,} connections open (room for"
                f" {self.budget.connections:,} under {self.budget.open_files:,} open files):"
                " closed the longest idle one",
            )  # fmt: skip
            return True
        if open_now <= self.budget.connections_max:
            return True  # its request will be answered 503
        self.refusals.note(
            "closed", f"{open_now:,} connections open, all busy: closed a new one at once"
            f" (at most {self.budget.connections_max:,} under {self.budget.open_files:,}"
            " open files)",
        )  # fmt: skip
        self.transport.close()
        return False

    # -- deadlines ---------------------------------------------------------------------------

    def _wait_for_head(self) -> None:
        self.idle[self] = None
        self._deadline = self.loop.time() + self.limits.header_timeout_s

    def _sweep(self) -> None:
        now = self.loop.time()
        for connection in list(self.connections):
            if isinstance(connection, LimitedHttpToolsProtocol):
                deadline = connection._deadline
                if deadline is not None and deadline <= now:
                    connection._deadline = None
                    connection._too_slow()
        self.loop.call_later(SWEEP_EVERY_S, self._sweep)

    def _too_slow(self) -> None:
        if self._in_body:
            self.refusals.note("408 body", "Closed a connection whose request body came too slowly")
            self._refuse(_Refusal(408, "The request's body took too long to arrive."))
        elif self._request_begun:
            self.refusals.note("408 head", "Closed a connection whose request head came too slowly")
            self._refuse(_Refusal(408, "The request's headers took too long to arrive."))
        else:  # sent nothing (more): nobody to answer
            self.transport.close()

    # -- parsing -----------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        in_head, heads = self._in_head, self._heads
        self._chunk_bytes = len(data)
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Refusal):
                self._refuse(exc.__context__)
            else:
                self._invalid()
            return
        except httptools.HttpParserError:
            self._invalid()
            return
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        if in_head and self._in_head and heads == self._heads:
            # All of this chunk was head: count it now, since httptools holds a header in
            # memory until it is whole.
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse(self._head_too_large())
        elif self._in_body and self._deadline is None:
            # A body to wait for (a request without one is complete already).
            self._deadline = self.loop.time() + self.limits.body_timeout_s

    def _invalid(self) -> None:
        msg = "Invalid HTTP request received."
        self.logger.warning(msg)
        self.send_400_response(msg)

    def _head_too_large(self) -> _Refusal:
        self.refusals.note("431", "Refused a request whose head was too large")
        return _Refusal(
            431,
            f"The request's headers are too large: at most {self.limits.max_header_count}"
            f" fields and {self.limits.max_header_bytes:,} bytes in all.",
        )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.idle.pop(self, None)
        self._request_begun = True
        if self._deadline is None:  # kept alive with no wait armed: the head's time starts now
            self._deadline = self.loop.time() + self.limits.header_timeout_s

    def on_headers_complete(self) -> None:
        self._deadline = None
        self._in_head = False
        self._heads += 1
        # Counted here, not as each arrives: the bytes are capped as they come, and so is
        # the number of fields in memory meanwhile.
        if len(self.headers) > self.limits.max_header_count:
            raise self._head_too_large()
        # Whole heads are measured when they could be over: when this chunk alone could hold
        # more than the limit (most heads come in one small chunk).
        if self._head_bytes + self._chunk_bytes > self.limits.max_header_bytes:
            head_bytes = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers)
            if head_bytes > self.limits.max_header_bytes:
                raise self._head_too_large()
        if len(self.connections) > self.budget.connections:
            self.refusals.note(
                "503", f"Answered 503: {len(self.connections):,} connections open, room for"
                f" {self.budget.connections:,} under {self.budget.open_files:,} open files",
            )  # fmt: skip
            raise _Refusal(
                503, "This server has too many open connections right now; try again in a few"
                " seconds.", RETRY_AFTER_S,
            )  # fmt: skip
        super().on_headers_complete()
        self._in_body = True

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._deadline = None
        self._in_head = True
        self._in_body = False
        self._request_begun = False
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._in_head and not self._request_begun:
            self._wait_for_head()

    def _refuse(self, refusal: _Refusal) -> None:
        """Answer with `refusal` unless this request has its answer begun already, then close."""
        self._deadline = None
        # Until its head is in, a request has no cycle (self.cycle is the previous request's).
        cycle = self.cycle if self._in_body else None
        if cycle is not None and not cycle.response_complete:
            # The application, if it still reads or writes, sees the client gone.
            cycle.disconnected = True
            cycle.message_event.set()
        answered = cycle is not None and cycle.response_started
        if not answered and not self.transport.is_closing():
            body = refusal.message.encode()
            head = [STATUS_LINE[refusal.status]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head += [b"content-type: text/plain; charset=utf-8\r\n",
                     b"content-length: %d\r\n" % len(body), b"connection: close\r\n"]  # fmt: skip
            if refusal.retry_after_s is not None:
                head.append(b"retry-after: %d\r\n" % refusal.retry_after_s)
            self.transport.write(b"".join([*head, b"\r\n", body]))
        self.transport.close()


def http_protocol(
    limits: HeadLimits, budget: FileBudget, per_address: AddressLimit
) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for one server (uvicorn's `http=`), with its own limits and state."""
    return type(
        "WidgetHttpProtocol",
        (LimitedHttpToolsProtocol,),
        {
            "limits": limits,
            "budget": budget,
            "per_address": per_address,
            "by_address": {},
            "idle": {},
            "refusals": _ThrottledLog(),
            "sweeping": False,
        },
    )
