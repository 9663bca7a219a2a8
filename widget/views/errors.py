"""Client errors become a page a person can read (in the iframe) or a JSON body (in the API);
every 503 says when to come back."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from widget.errors import ClientError
from widget.refusals import explain
from widget.storage import Refused

from .context import app_context
from .i18n import Translator, choose_language, language_asked
from .security import admin_headers, error_page_headers

__all__ = [
    "RETRY_AFTER_S",
    "RetryAfterUnavailable",
    "error_language",
    "exception_handlers",
    "retry_after",
]

RETRY_AFTER_S = 5  # what a 503 asks clients (and proxies) to wait before trying again

log = logging.getLogger(__name__)

# Each status's title, a key of the frame's messages (widget/views/i18n.py).
_TITLES = {
    400: "error_title_400", 403: "error_title_403", 404: "error_title_404",
    405: "error_title_405", 409: "error_title_409", 413: "error_title_413",
    415: "error_title_415", 422: "error_title_422", 429: "error_title_429",
    503: "error_title_503",
}  # fmt: skip


def error_language(request: Request) -> str:
    """The language to answer an error in: the frame's, as the view learnt it (a form's `lang`)
    or as the request says it (`?lang=`, or Accept-Language, which the frame's script sets
    to the frame's language); English for the admin pages."""
    if request.url.path.startswith("/admin/"):
        return "en"
    known = getattr(request.state, "language", None)
    if isinstance(known, str):
        return known
    if "lang" in request.query_params:
        return choose_language(request.query_params["lang"])
    return language_asked(request.headers.get("accept-language", ""))


def _respond(
    request: Request,
    status: int,
    message: str,
    extra: dict[str, str],
    fields: Mapping[str, str] | None = None,
) -> Response:
    t = Translator(error_language(request))
    if request.url.path.startswith("/api/"):
        body: dict[str, Any] = {"error": t.say(message)}
        if fields:
            body["fields"] = {name: t.say(text) for name, text in fields.items()}
        return JSONResponse(body, status_code=status, headers=extra)
    title = t(_TITLES.get(status, "problem"))
    html = app_context(request).html
    if request.url.path.startswith("/admin/"):
        return html.templates.TemplateResponse(
            request, "admin/error.html", {"title": title, "message": message, "admin": None},
            status_code=status, headers={**admin_headers(), **extra},
        )  # fmt: skip
    return html.templates.TemplateResponse(
        request,
        "errors/error.html",
        {"title": title, "message": t.say(message), "lang": t.language, "dir": t.direction},
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
    return _respond(request, exc.status, exc.message, extra, exc.fields)


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
