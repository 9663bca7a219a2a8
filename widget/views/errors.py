"""Client errors become a page a person can read (in the iframe) or a JSON body (in the API);
every 503 says when to come back."""

from __future__ import annotations

import logging
import math

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from widget.errors import ClientError
from widget.refusals import explain
from widget.storage import Refused

from .context import app_context
from .security import admin_headers, error_page_headers

__all__ = ["RETRY_AFTER_S", "RetryAfterUnavailable", "exception_handlers", "retry_after"]

RETRY_AFTER_S = 5  # what a 503 asks clients (and proxies) to wait before trying again

log = logging.getLogger(__name__)

_TITLES = {
    400: "This request cannot be understood",
    403: "Not allowed here",
    404: "Not found",
    405: "Method not allowed",
    409: "Already exists",
    413: "Too large",
    415: "Wrong content type",
    422: "Please check what you entered",
    429: "Too many requests",
    503: "Try again in a moment",
}


def _respond(request: Request, status: int, message: str, extra: dict[str, str]) -> Response:
    if request.url.path.startswith("/api/"):
        body = {"error": message}
        return JSONResponse(body, status_code=status, headers=extra)
    title = _TITLES.get(status, "Something went wrong")
    html = app_context(request).html
    if request.url.path.startswith("/admin/"):
        return html.templates.TemplateResponse(
            request, "admin/error.html", {"title": title, "message": message, "admin": None},
            status_code=status, headers={**admin_headers(), **extra},
        )  # fmt: skip
    return html.templates.TemplateResponse(
        request,
        "errors/error.html",
        {"title": title, "message": message},
        status_code=status,
        headers={**error_page_headers(), **extra},
    )


def retry_after(error: ClientError) -> dict[str, str]:
    """The Retry-After header of an error that says when to ask again (whole seconds, up)."""
    if error.retry_after_s is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil(error.retry_after_s)))}


async def client_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ClientError)
    extra = retry_after(exc)
    if request.url.path.startswith("/api/") and exc.fields:
        return JSONResponse(
            {"error": exc.message, "fields": exc.fields}, status_code=exc.status, headers=extra
        )
    return _respond(request, exc.status, exc.message, extra)


async def refused(request: Request, exc: Exception) -> Response:
    """What storage refused outside a domain call (a view that writes directly), worded."""
    assert isinstance(exc, Refused)
    return await client_error(request, explain(exc))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {
        404: "There is nothing at this address.",
        405: f"This address does not accept {request.method} requests.",
    }
    message = messages.get(exc.status_code, str(exc.detail))
    return _respond(request, exc.status_code, message, dict(exc.headers or {}))


exception_handlers = {ClientError: client_error, Refused: refused, HTTPException: http_error}


class RetryAfterUnavailable:
    """Adds `Retry-After` to every 503 that has none, whoever made it: an error page or JSON
    error (database locked, full, unreachable; too many live readers), a readiness check, a
    page that shows its own error. One place, so that no new 503 can forget it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"retry-after" for name, _ in headers):
                    headers.append((b"retry-after", str(RETRY_AFTER_S).encode()))
                    message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_retry_after)
