"""Answers kept whole, sent before the middleware stack and the routing: the counts of index
pages, asked for on every view of an index page, while no count changes; the iframe document,
asked for on every page view, while its thread and site stay as they are.

The layers below cost such a request more than its answer does (a kept counts answer is a
dictionary lookup; the middleware, routing and Request and Response objects about 6 µs of
the ~43 µs of CPU a request takes under bench/run.py). Sent from here, an answer gets what the
layers it skips would give it: its request id and log line (RequestLog) and the security
headers (SecurityHeaders). What else they do cannot apply to it: a kept answer is never a 503
(RetryAfterUnavailable) nor an error. (A storage that cannot be trusted, SQLite's file lost
under the server say, has no cache stamp: no answer is current, and the route says 503.)
Requests are counted by route only through the full stack, so with metrics on
(RequestMetrics) this layer is not installed.
tests/http/test_counts.py and tests/http/test_document_kept.py check that the answer sent
from here is, header for header, the one the route sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from starlette.types import ASGIApp, Receive, Scope, Send

from .request_log import RequestLines
from .security import guarded_headers

__all__ = ["KeptAnswers", "KeptReply", "Reply", "first_values"]

# A whole answer: status, body, headers (a list the caller may add to).
Reply = tuple[int, bytes, list[tuple[bytes, bytes]]]
# The answer to a GET request when one is kept and still current, else None. It must be the
# answer the route would send, and it may not wait for anything.
KeptReply = Callable[[Scope], Reply | None]


class KeptAnswers:
    """ASGI middleware, outermost: GET requests to a path of `kept` are answered here when it
    has their answer; any other request goes on to `app`. A path is written as its route's
    (`/embed/{site}/thread`), with at most one parameter, which stands for one path segment."""

    def __init__(self, app: ASGIApp, kept: Mapping[str, KeptReply], lines: RequestLines) -> None:
        self.app = app
        self.exact = {path: reply for path, reply in kept.items() if "{" not in path}
        # (before the parameter, after it, the reply): matched by prefix and suffix, which
        # costs every request less than a regular expression would.
        self.patterned = [(*_around_parameter(path), reply) for path, reply in kept.items()
                          if "{" in path]  # fmt: skip
        self.lines = lines

    def reply_for(self, path: str) -> KeptReply | None:
        """The kept replies of `path`'s route, if it has any."""
        found = self.exact.get(path)
        if found is None:
            for before, after, reply in self.patterned:
                if path.startswith(before) and path.endswith(after):
                    segment = path[len(before) : len(path) - len(after)]
                    if segment and "/" not in segment:
                        return reply
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            find = self.reply_for(scope["path"])
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


def _around_parameter(path: str) -> tuple[str, str]:
    before, _, rest = path.partition("{")
    _, _, after = rest.partition("}")
    if "{" in after:
        raise ValueError(f"a kept path has at most one parameter: {path}")
    return before, after


def first_values(
    request_headers: Iterable[tuple[bytes, bytes]], names: frozenset[bytes]
) -> dict[bytes, bytes]:
    """The first value of each of `names` among a request's headers, as the ASGI scope has
    them (names in lower case), as Starlette's `request.headers.get` would read it."""
    asked: dict[bytes, bytes] = {}
    for name, value in request_headers:
        if name in names and name not in asked:
            asked[name] = value
    return asked
