"""Live updates: committed changes fanned out to the readers of each thread.

The storage hands every committed change to `EventHub.publish` (SQLite: from this process's
writer; PostgreSQL: from LISTEN, so changes made through any instance arrive). Each reader has a
small queue of its own. Publishing never waits: a reader whose queue is full is dropped (its
stream ends and the browser reconnects), so a slow reader stalls neither the others nor the
writer. When changes may have gone by unheard (PostgreSQL's LISTEN connection was down), the
storage calls `EventHub.missed`, and every reader is told to reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import defaultdict

from widget.errors import ClientError
from widget.records import ThreadEvent

__all__ = ["MISSED", "EventHub", "Listener", "Missed", "TooManyListeners"]

QUEUE_SIZE = 64  # events a reader may fall behind by before it is dropped
RETRY_READERS_AFTER_S = 30  # a reader turned away may try again (streams end every 5 minutes)


class TooManyListeners(ClientError):
    status = 503


class Missed:
    """In a reader's queue: changes may have gone by unheard before this point."""


MISSED = Missed()


@dataclasses.dataclass(eq=False)
class Listener:
    site_id: str
    page_id: str
    network: str = ""  # the reader's rate-limit key (IPv4 address or IPv6 /64)
    queue: asyncio.Queue[ThreadEvent | Missed | None] = dataclasses.field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    # Set when events were lost (the reader fell behind, or the server is stopping): the
    # reader must reload what it shows instead of trusting it.
    ended: bool = False
    _getter: asyncio.Future[ThreadEvent | Missed | None] | None = None

    async def next(self, timeout_s: float) -> ThreadEvent | Missed | None:
        """The next event, or None after `timeout_s` without one (time for a heartbeat).

        A pending get survives the timeout for the next call: cancelling it (as wait_for does)
        could lose an event it had just taken."""
        if self._getter is None:
            self._getter = asyncio.ensure_future(self.queue.get())
        done, _ = await asyncio.wait({self._getter}, timeout=timeout_s)
        if not done:
            return None
        getter, self._getter = self._getter, None
        return getter.result()

    def stop_waiting(self) -> None:
        if self._getter is not None:
            self._getter.cancel()
            self._getter = None


class EventHub:
    """Readers by thread, bounded per thread, in all, and per network: without the last, one
    client opening streams (a few hundred take a second) held every place of a thread, or of
    the server, and nobody else got live updates."""

    def __init__(self, per_thread: int, total: int, per_network: int | None = None) -> None:
        self.per_thread = per_thread
        self.total = total
        self.per_network = per_network if per_network is not None else total
        self._threads: dict[tuple[str, str], set[Listener]] = defaultdict(set)
        self._networks: dict[str, int] = defaultdict(int)
        self._count = 0

    @property
    def listeners(self) -> int:
        return self._count

    def subscribe(self, site_id: str, page_id: str, network: str = "") -> Listener:
        """A new reader of a thread, from `network` (a rate-limit key); raises
        TooManyListeners when a bound is reached."""
        readers = self._threads[(site_id, page_id)]
        if self._networks.get(network, 0) >= self.per_network:
            raise TooManyListeners(
                "Too many pages on your network are following live updates at once; the page"
                " still works, reload it to see new comments, or close some of the others.",
                retry_after_s=RETRY_READERS_AFTER_S,
            )
        if len(readers) >= self.per_thread or self._count >= self.total:
            raise TooManyListeners(
                "Too many readers are following live updates right now; the page still works,"
                " reload it to see new comments.",
                retry_after_s=RETRY_READERS_AFTER_S,
            )
        listener = Listener(site_id, page_id, network)
        readers.add(listener)
        self._networks[network] += 1
        self._count += 1
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        key = (listener.site_id, listener.page_id)
        readers = self._threads.get(key)
        if readers is not None and listener in readers:
            readers.discard(listener)
            self._count -= 1
            if not readers:
                del self._threads[key]
            self._networks[listener.network] -= 1
            if not self._networks[listener.network]:
                del self._networks[listener.network]

    def publish(self, event: ThreadEvent) -> None:
        for listener in list(self._threads.get((event.site_id, event.page_id), ())):
            try:
                listener.queue.put_nowait(event)
            except asyncio.QueueFull:
                self._end(listener)

    def missed(self) -> None:
        """Changes may have gone by unheard: every reader must reload what it shows."""
        for readers in list(self._threads.values()):
            for listener in list(readers):
                try:
                    listener.queue.put_nowait(MISSED)
                except asyncio.QueueFull:
                    self._end(listener)

    def drop(self, listener: Listener) -> None:
        """End one stream now (its reader has gone away)."""
        self._end(listener)

    def close(self) -> None:
        """End every stream (the server is stopping)."""
        for readers in list(self._threads.values()):
            for listener in list(readers):
                self._end(listener)

    def _end(self, listener: Listener) -> None:
        listener.ended = True
        self.unsubscribe(listener)
        # Wake the reader if it waits; a full queue is read to its end first, then stops.
        with contextlib.suppress(asyncio.QueueFull):
            listener.queue.put_nowait(None)
