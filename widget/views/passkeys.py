"""Passkeys: the popup's pages, to sign in with one and to add or remove one, and the frame's
call that lets the popup act for a signed-in commenter (widget/auth/passkeys.py says how
they are built).

Every form here posts to our own origin from a top-level page of ours, which sends same-origin
referrers, so browsers send our Origin with it; the server checks that they did. The popup's
session (a signed cookie of its own, first-party in a top-level window) holds the owner token
and the ceremony under way, and the frame's language, posted with the popup's first page
(`keep_popup_language`): every page here, error or not, is in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from widget.auth.passkeys import Passkeys
from widget.config import Settings
from widget.errors import ClientError, Forbidden, Invalid, NotFound
from widget.messages import said
from widget.records import User

from .addresses import rate_limit_key
from .auth import (
    keep_popup_language,
    popup_language,
    popup_page,
    popup_state,
    refuse_start,
    session_token,
)
from .context import AppContext, app_context
from .i18n import Translator
from .inputs import read_form, read_json_object, remote_address, require_own_origin

__all__ = ["routes"]

_OWNER = "owner"
_PASSKEY_ID = re.compile(r"[0-9]{1,18}")  # fits a 64-bit integer
_CEREMONY = "ceremony"
PAGE_HEADERS = {
    # As the other popup pages, but its forms post (to us only), so referrers are same-origin:
    # with none at all, browsers would send "Origin: null", which the server refuses.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self';"
    " img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}


def _passkeys(context: AppContext) -> Passkeys:
    passkeys = context.passkeys
    if not passkeys.enabled:
        raise NotFound(said("error_passkeys_off"))
    return passkeys


def _page(request: Request, title_key: str, step: str, status_code: int = 200,
          **values: Any) -> Response:  # fmt: skip
    """The page of `step`, in the popup's language: `error` and `notice` are said in it here."""
    t = Translator(popup_language(request))
    for name, default in (("options", ""), ("error", ""), ("errors", {}), ("notice", ""),
                          ("passkeys", []), ("name", "")):  # fmt: skip
        values.setdefault(name, default)
    values["error"], values["notice"] = t.say(values["error"]), t.say(values["notice"])
    return app_context(request).html.templates.TemplateResponse(
        request, "auth/passkeys.html",
        {"title": t(title_key), "step": step, "t": t, "lang": t.language, "dir": t.direction,
         **values},
        status_code=status_code, headers=PAGE_HEADERS,
    )  # fmt: skip


def _manage_failed(request: Request, exc: ClientError) -> Response:
    """The passkeys window's own page, saying what went wrong, and staying open. (The sign-in
    popup's page of `_failed` hands its problem to the frame and closes; the frame is not
    signing in while this window is open, so the person saw the window vanish, unexplained.)"""
    return _page(request, "passkey_title_manage", "refused", exc.status, error=exc.message)


def _failed(request: Request, exc: ClientError) -> Response:
    context = app_context(request)
    t = Translator(popup_language(request))
    message = t.say(exc.message)
    return popup_page(request, context, t("sign_in_passkey"), message, error=message,
                      status_code=exc.status, closable=False)  # fmt: skip


# -- the frame: leave the popup to act for the signed-in commenter -----------------------------


async def owner_token(request: Request) -> Response:
    context = app_context(request)
    require_own_origin(request, context.settings)
    await read_json_object(request, context.settings.max_request_bytes)
    passkeys = _passkeys(context)
    session = session_token(request)
    user = await context.sign_in.user_for(session)
    if user is None or session is None:
        raise Forbidden(said("error_passkey_sign_in_first"))
    return JSONResponse(
        {"owner": passkeys.owner_token(session)}, headers={"Cache-Control": "no-store"}
    )


# -- signing in -----------------------------------------------------------------------------------


async def start(request: Request) -> Response:
    """The popup's first page, posted by our frame with its challenge: ask for a passkey."""
    context = app_context(request)
    settings = context.settings
    try:
        require_own_origin(request, settings)
    except Forbidden:
        return await refuse_start(request)  # the same refusal as every provider's start
    try:
        form = await read_form(request, settings.max_request_bytes)
        keep_popup_language(request, form.get("lang"))
        passkeys = _passkeys(context)
        await context.sign_in.count_start(rate_limit_key(remote_address(request, settings)))
        ceremony = passkeys.sign_in_ceremony(form.get("challenge", ""))
    except ClientError as exc:
        return _failed(request, exc)
    request.session[_CEREMONY] = ceremony.token
    return _page(request, "passkey_title_sign_in", "sign-in", options=ceremony.options_json)


async def finish(request: Request) -> Response:
    """The assertion, posted by the page above: the popup's last page hands the frame a code."""
    context = app_context(request)
    try:
        require_own_origin(request, context.settings)
        passkeys = _passkeys(context)
        form = await read_form(request, context.settings.max_request_bytes)
        code = await passkeys.sign_in(
            request.session.pop(_CEREMONY, ""), form.get("credential", "")
        )
    except ClientError as exc:
        t = Translator(popup_language(request))
        message = t.say(exc.message)
        return popup_page(request, context, t("popup_sign_in_failed"), message, error=message,
                          status_code=exc.status)  # fmt: skip
    t = Translator(popup_language(request))
    return popup_page(
        request, context, t("popup_signed_in"), t("popup_close_and_go_back"), code=code
    )


# -- the owner's passkeys: add one, remove one ----------------------------------------------------


async def _manage_page(
    request: Request, passkeys: Passkeys, owner: str, status_code: int = 200, **values: Any
) -> Response:
    user = await passkeys.owner(owner)
    mine = await passkeys.of_user(user)
    ceremony = await passkeys.registration(user, mine)
    request.session[_OWNER] = owner
    request.session[_CEREMONY] = ceremony.token
    values.setdefault("name", "")
    return _page(
        request, "passkey_title_manage", "manage", status_code, options=ceremony.options_json,
        passkeys=mine, user=user, **values,
    )  # fmt: skip


async def manage(request: Request) -> Response:
    """The frame posts its owner token into the popup: the account's passkeys, and a button
    that adds one."""
    context = app_context(request)
    try:
        require_own_origin(request, context.settings)
        form = await read_form(request, context.settings.max_request_bytes)
        keep_popup_language(request, form.get("lang"))
        passkeys = _passkeys(context)
        return await _manage_page(request, passkeys, form.get("owner", ""))
    except ClientError as exc:
        return _manage_failed(request, exc)


async def _owner_request(request: Request) -> tuple[Passkeys, Mapping[str, str], str, User]:
    """A form posted in the popup on behalf of the account whose owner token it keeps."""
    context = app_context(request)
    require_own_origin(request, context.settings)
    passkeys = _passkeys(context)
    form = await read_form(request, context.settings.max_request_bytes)
    owner = request.session.get(_OWNER, "")
    return passkeys, form, owner, await passkeys.owner(owner)


async def add(request: Request) -> Response:
    try:
        passkeys, form, owner, user = await _owner_request(request)
    except ClientError as exc:
        return _manage_failed(request, exc)
    try:
        added = await passkeys.register(
            user, request.session.pop(_CEREMONY, ""), form.get("credential", ""),
            form.get("name", ""),
        )  # fmt: skip
    except Invalid as exc:
        return await _manage_page(request, passkeys, owner, exc.status, error=exc.message,
                                  errors=exc.fields, name=form.get("name", ""))  # fmt: skip
    except ClientError as exc:
        return await _manage_page(request, passkeys, owner, exc.status, error=exc.message)
    notice = Translator(popup_language(request))("passkey_added", name=added.name)
    return await _manage_page(request, passkeys, owner, notice=notice)


async def remove(request: Request) -> Response:
    try:
        passkeys, form, owner, user = await _owner_request(request)
    except ClientError as exc:
        return _manage_failed(request, exc)
    t = Translator(popup_language(request))
    chosen = form.get("passkey", "")
    if not _PASSKEY_ID.fullmatch(chosen):
        return await _manage_page(request, passkeys, owner, 400, error=t("passkey_choose"))
    try:
        await passkeys.remove(user, int(chosen))
    except ClientError as exc:
        return await _manage_page(request, passkeys, owner, exc.status, error=exc.message)
    return await _manage_page(request, passkeys, owner, notice=t("passkey_removed"))


def routes(settings: Settings) -> list[BaseRoute]:
    return [
        Mount(
            "/auth/passkey",
            routes=[
                Route("/start", start, methods=["POST"]),
                Route("/start", refuse_start, methods=["GET"]),  # as any provider's start
                Route("/finish", finish, methods=["POST"]),
                Route("/manage", manage, methods=["POST"]),
                Route("/add", add, methods=["POST"]),
                Route("/remove", remove, methods=["POST"]),
            ],
            middleware=[popup_state(settings, "widget_passkey", "/auth/passkey")],
        ),
        Route("/api/v1/auth/passkey-owner", owner_token, methods=["POST"]),
    ]
