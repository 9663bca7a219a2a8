"""Answers kept whole, sent before the middleware stack and the routing: the counts of index
pages, asked for on every view of an index page, while no count changes.

The layers below cost such a request more than its answer does (a kept counts answer is a
dictionary lookup; the middleware, routing and Request and Response objects about 6 µs of
the ~43 µs of CPU a request takes under bench/run.py). Sent from here, an answer gets what the
layers it skips would give it: its request id and log line (RequestLog) and the security
headers (SecurityHeaders). What else they do cannot apply to it: a kept answer is never a 503
(RetryAfterUnavailable) nor an error. Requests are counted by route only through the full
stack, so with metrics on (RequestMetrics) this layer is not installed.
tests/http/test_counts.py checks that the answer sent from here is, header for header, the
one the route sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from .request_log import RequestLines
from .security import guarded_headers

__all__ = ["KeptAnswers", "KeptReply", "Reply"]

# A whole answer: status, body, headers (a list the caller may add to).
Reply = tuple[int, bytes, list[tuple[bytes, bytes]]]
# The answer to a GET request when one is kept and still current, else None. It must be the
# answer the route would send, and it may not wait for anything.
KeptReply = Callable[[Scope], Reply | None]


class KeptAnswers:
    """ASGI middleware, outermost: GET requests to a path of `kept` are answered here when it
    has their answer; any other request goes on to `app`."""

    def __init__(self, app: ASGIApp, kept: Mapping[str, KeptReply], lines: RequestLines) -> None:
        self.app = app
        self.kept = dict(kept)
        self.lines = lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            find = self.kept.get(scope["path"])
            if find is not None:
                started = time.perf_counter()
                reply = find(scope)
                if reply is not None:
                    await self._send(scope, send, started, reply)
                    return
        await self.app(scope, receive, send)

    async def _send(self, scope: Scope, send: Send, started: float, reply: Reply) -> None:
        status, body, headers = reply
        request_id = self.lines.request_id(scope)
        # In the order the layers add them: RequestLog's id, then SecurityHeaders'.
        headers.append((b"x-request-id", request_id.encode("ascii")))
        try:
            await send({
                "type": "http.response.start", "status": status,
                "headers": guarded_headers(headers, status),
            })  # fmt: skip
            await send({"type": "http.response.body", "body": body})
        finally:
            self.lines.log(scope, status, started, request_id)
