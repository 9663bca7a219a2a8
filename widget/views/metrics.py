"""`/metrics` for Prometheus, behind a bearer token (off without one), and the middleware that
counts every request by its route's pattern (`/embed/{site}/thread`), never its address: label
values stay few whatever clients send."""

from __future__ import annotations

import hmac
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Host, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from widget.errors import NotFound
from widget.metrics import Metrics

from .context import app_context

__all__ = ["RequestMetrics", "routes"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"})


def route_of(scope: Scope) -> str:
    """The pattern of the route that answered, with the prefix of the Mount it sits in."""
    route = scope.get("route")
    if isinstance(route, Route):
        return str(scope.get("root_path", "")) + route.path
    if isinstance(route, Host):
        return "demo"
    return "unmatched"


class RequestMetrics:
    """Counts each request by route, method and status, and times it."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app says otherwise before it fails

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            route = route_of(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self.metrics.request_answered(route, method, status, time.perf_counter() - started)


async def metrics(request: Request) -> Response:
    context = app_context(request)
    token = context.settings.metrics_token
    if not token:
        raise NotFound("Metrics are off on this server: set WIDGET_METRICS_TOKEN to turn them on.")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        return Response(
            "Send the metrics token: Authorization: Bearer TOKEN\n", status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
        )  # fmt: skip
    body = context.metrics.exposition(
        context.events.listeners, await context.storage.outbox_counts(), context.storage.gauges()
    )
    return Response(
        body, media_type="text/plain; version=0.0.4; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )  # fmt: skip


def routes() -> list[BaseRoute]:
    return [Route("/metrics", metrics, methods=["GET"])]
