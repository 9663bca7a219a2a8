"""A commenter's own data: download it, erase it.

Signed in, from the widget (the JSON API, with the session). As a guest, through a link
emailed to the address they commented with (asked for in the widget): `/data?token=…` shows
what there is, with a download link and a button that erases it.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from widget import own_data
from widget.auth.tokens import BadToken, Purpose
from widget.errors import BadRequest, Forbidden, ServiceUnavailable
from widget.messages import said
from widget.records import User

from .auth import current_user
from .context import AppContext, app_context
from .errors import error_language
from .i18n import Translator
from .inputs import read_form, read_json_object, require_own_origin
from .security import admin_headers

__all__ = ["request_link", "routes"]


def _download(document: dict[str, object]) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2).encode()
    return Response(
        body,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{own_data.export_filename()}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- signed in: the JSON API --------------------------------------------------------------------


async def _signed_in_user(request: Request) -> tuple[AppContext, dict[str, Any], User]:
    context = app_context(request)
    require_own_origin(request, context.settings)
    data = await read_json_object(request, context.settings.max_request_bytes)
    user = await current_user(context, request)
    if user is None:
        raise Forbidden("Sign in first; a guest gets a link by email instead.")
    return context, data, user


async def export_mine(request: Request) -> Response:
    context, _, user = await _signed_in_user(request)
    return _download(await own_data.export(context.storage, user=user))


async def erase_mine(request: Request) -> Response:
    context, data, user = await _signed_in_user(request)
    if data.get("confirm") is not True:
        raise BadRequest('Erasing cannot be undone: send {"confirm": true} to go ahead.')
    erased = await own_data.erase(context.storage, user=user)
    return JSONResponse({"erased": erased})


# -- a guest: a link by email ---------------------------------------------------------------------


async def request_link(context: AppContext, email: str, address_key: str, lang: str = "en") -> None:
    """Email a link to `email`, in `lang`, if anything was written under it
    (own_data.send_link)."""
    if not context.settings.mail_enabled:
        raise ServiceUnavailable(said("error_no_email"))
    planner = context.outbox.planner
    if await own_data.send_link(context.storage, planner, email, address_key, lang):
        context.outbox.wake()


def _email_of(context: AppContext, token: str) -> str | None:
    try:
        value = context.signer.verify(Purpose.OWN_DATA, token)
    except BadToken:
        return None
    email = value.get("e") if isinstance(value, dict) else None
    return email if isinstance(email, str) else None


def _page(
    request: Request, values: dict[str, Any], status_code: int = 200, token: str = ""
) -> Response:
    """The page behind the link, in the language it was asked for in (else what the browser
    asks)."""
    context = app_context(request)
    t = Translator(context.signer.language_in(Purpose.OWN_DATA, token) or error_language(request))
    values = {**values, "t": t, "lang": t.language, "dir": t.direction}
    return context.html.templates.TemplateResponse(
        request, "notify/own_data.html", values, status_code=status_code, headers=admin_headers()
    )


def _expired(request: Request) -> Response:
    return _page(request, {"email": None, "items": [], "token": "", "erased": None}, 400)


async def data_page(request: Request) -> Response:
    context = app_context(request)
    token = request.query_params.get("token", "")
    email = _email_of(context, token)
    if email is None:
        return _expired(request)
    items = await context.storage.author_comments(email, None)
    values = {"email": email, "items": items, "token": token, "erased": None}
    return _page(request, values, token=token)


async def data_export(request: Request) -> Response:
    context = app_context(request)
    email = _email_of(context, request.query_params.get("token", ""))
    if email is None:
        return _expired(request)
    return _download(await own_data.export(context.storage, email=email))


async def data_erase(request: Request) -> Response:
    context = app_context(request)
    require_own_origin(request, context.settings)
    form = await read_form(request, context.settings.max_request_bytes)
    token = form.get("token", "")
    email = _email_of(context, token)
    if email is None:
        return _expired(request)
    if form.get("confirm") != "yes":
        items = await context.storage.author_comments(email, None)
        t = Translator(context.signer.language_in(Purpose.OWN_DATA, token) or "en")
        values = {"email": email, "items": items, "token": token,
                  "erased": None, "error": t("own_tick")}  # fmt: skip
        return _page(request, values, 422, token)
    erased = await own_data.erase(context.storage, email=email)
    return _page(request, {"email": email, "items": [], "token": "", "erased": erased}, 200, token)


routes = [
    Route("/api/v1/me/export", export_mine, methods=["POST"]),
    Route("/api/v1/me/erase", erase_mine, methods=["POST"]),
    Route("/data", data_page, methods=["GET"]),
    Route("/data/export", data_export, methods=["GET"]),
    Route("/data/erase", data_erase, methods=["POST"]),
]
