"""`/api/v1/events`: a thread's live updates as Server-Sent Events.

Each stream says hello with the thread's version, forwards its events, sends a heartbeat
comment when quiet (so proxies keep it open and dead readers are noticed), and ends after a
while: browsers' EventSource reconnects on its own, and load balancers can move readers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from widget.comments import page_ref
from widget.live import Listener, Missed
from widget.moderation.screening import new_form_token
from widget.records import ThreadEvent
from widget.sites import get_site

from .addresses import rate_limit_key
from .context import app_context
from .inputs import read_query, remote_address

__all__ = ["routes"]

HEARTBEAT_S = 15.0
STREAM_LIFETIME_S = 300.0
RETRY_MS = 3000


def _message(kind: str, data: object) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _event_data(event: ThreadEvent) -> dict[str, int | None]:
    return {
        "comment": event.comment_id or None,  # None: the post itself
        "version": event.version,
        "count": event.count,
    }


async def thread_events(request: Request) -> Response:
    context = app_context(request)
    params = read_query(request)
    site = await get_site(context.storage, params.get("site", ""))
    page = page_ref(site, params.get("page", ""))
    network = rate_limit_key(remote_address(request, context.settings))
    listener = context.events.subscribe(site.id, page.page_id, network)
    try:  # subscribed first, so that nothing committed after this read goes unheard
        head = await context.storage.get_thread_head(site.id, page.page_id)
    except BaseException:  # the database is down, say: the place is not taken for nothing
        context.events.unsubscribe(listener)
        raise

    token = new_form_token(context.signer, page)

    async def watch_disconnect() -> None:
        # Notice at once when the reader goes (not only at the next heartbeat's write), so
        # that its place counts against the limits no longer than it has to.
        while (await request.receive())["type"] != "http.disconnect":
            pass
        context.events.drop(listener)

    async def stream() -> AsyncIterator[str]:
        watcher = asyncio.create_task(watch_disconnect())
        try:
            yield f"retry: {RETRY_MS}\n\n"
            # With a form token of this reader's own: the document's is shared (it is cached).
            yield _message("hello", {"version": head.version if head else 0, "form_token": token})
            async for message in _forward(listener):
                yield message
        finally:
            watcher.cancel()
            listener.stop_waiting()
            context.events.unsubscribe(listener)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _forward(listener: Listener) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_LIFETIME_S
    while loop.time() < deadline:
        event = await listener.next(HEARTBEAT_S)
        if listener.ended:
            # Events were dropped (this reader fell behind) or the server is stopping:
            # the reader should reload the thread rather than trust what it shows.
            yield _message("reset", {})
            return
        if event is None:
            yield ": heartbeat\n\n"
            continue
        if isinstance(event, Missed):
            # Changes may have gone by unheard: reload, then go on following this stream.
            yield _message("reset", {})
            continue
        yield _message(event.kind, _event_data(event))


routes = [Route("/api/v1/events", thread_events, methods=["GET"])]
