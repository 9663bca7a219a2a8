"""Sign-in with an email link: the popup's pages and the page the link opens
(widget/auth/email_link.py says how it is built and why the code is asked for).

Every form here posts to our own origin from a top-level page of ours, and the server checks
that it did (`require_own_origin`): the pages send same-origin referrers, so browsers send our
Origin with them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from widget.auth.email_link import EmailSignIn
from widget.auth.signin import SignInError
from widget.errors import ClientError, Forbidden, Invalid, NotFound
from widget.messages import said

from .addresses import rate_limit_key
from .auth import popup_language, popup_page, refuse_start
from .context import AppContext, app_context
from .i18n import Translator, choose_language
from .inputs import read_form, remote_address, require_own_origin
from .security import admin_headers

__all__ = ["routes"]


def _page(
    request: Request, title: str, step: str, status_code: int = 200, **values: Any
) -> Response:
    """A page of the email sign-in, in the popup's language (`lang`, else what the request
    asks): `title` is a message key; the error and field messages are said in that language."""
    context = app_context(request)
    for name, default in (("values", {}), ("errors", {}), ("error", ""), ("challenge", ""),
                          ("email", ""), ("code", ""), ("token", ""), ("lang", "")):  # fmt: skip
        values.setdefault(name, default)
    t = Translator(values["lang"] or popup_language(request))
    values["error"] = t.say(values["error"])
    values["errors"] = {name: t.say(text) for name, text in values["errors"].items()}
    values["lang"] = t.language
    return context.html.templates.TemplateResponse(
        request, "auth/email.html",
        {"title": t(title), "step": step, "t": t, "dir": t.direction, **values},
        status_code=status_code, headers=admin_headers(),
    )  # fmt: skip


def _failed(request: Request, message: str, status_code: int, lang: str = "") -> Response:
    return _page(request, "popup_sign_in_failed", "failed", status_code, error=message, lang=lang)


def _email_sign_in(context: AppContext) -> EmailSignIn:
    email_sign_in = context.email_sign_in
    if not email_sign_in.enabled:
        raise NotFound(said("error_email_sign_in_off"))
    return email_sign_in


async def _own_form(request: Request, context: AppContext) -> tuple[EmailSignIn, dict[str, str]]:
    """A form of one of these pages, posted from our own origin to a server that signs in
    by email."""
    require_own_origin(request, context.settings)
    email_sign_in = _email_sign_in(context)
    return email_sign_in, await read_form(request, context.settings.max_request_bytes)


async def start(request: Request) -> Response:
    """The popup's first page, posted by our frame with its challenge: ask for the address."""
    context = app_context(request)
    try:
        require_own_origin(request, context.settings)
    except Forbidden:
        return await refuse_start(request)  # the same refusal as every provider's start
    try:
        _email_sign_in(context)
        form = await read_form(request, context.settings.max_request_bytes)
    except ClientError as exc:
        return _failed(request, exc.message, exc.status)
    # The frame's language goes on with the address, for the email.
    lang = choose_language(form.get("lang"))
    return _page(request, "email_title_ask", "ask", challenge=form.get("challenge", ""),
                 lang=lang)  # fmt: skip


async def send(request: Request) -> Response:
    context = app_context(request)
    try:
        email_sign_in, form = await _own_form(request, context)
    except ClientError as exc:
        return _failed(request, exc.message, exc.status)
    challenge = form.get("challenge", "")
    address = rate_limit_key(remote_address(request, context.settings))
    try:
        sent = await email_sign_in.send(
            challenge, form.get("email", ""), form.get("name", ""), address,
            choose_language(form.get("lang")),
        )  # fmt: skip
    except Invalid as exc:  # shown beside the fields, with what was typed
        values = {"email": form.get("email", ""), "name": form.get("name", "")}
        return _page(
            request, "email_title_ask", "ask", exc.status, challenge=challenge,
            values=values, errors=exc.fields, error=exc.message,
            lang=choose_language(form.get("lang")),
        )  # fmt: skip
    except ClientError as exc:
        return _failed(request, exc.message, exc.status, choose_language(form.get("lang")))
    context.outbox.wake()
    return _page(request, "email_title_sent", "sent", email=sent.email, code=sent.code,
                 lang=choose_language(form.get("lang")))  # fmt: skip


async def link(request: Request) -> Response:
    """The page the email's link opens: a GET changes nothing (mail scanners open links)."""
    context = app_context(request)
    token = request.query_params.get("token", "")
    lang = context.email_sign_in.language_of(token)
    try:
        email = _email_sign_in(context).email_of(token)
    except ClientError as exc:
        return _failed(request, exc.message, exc.status, lang)
    except SignInError as exc:
        return _failed(request, str(exc), 400, lang)
    return _page(request, "mail_sign_in_button", "link", email=email, token=token, lang=lang)


async def confirm(request: Request) -> Response:
    context = app_context(request)
    try:
        email_sign_in, form = await _own_form(request, context)
    except ClientError as exc:
        return _failed(request, exc.message, exc.status)
    token = form.get("token", "")
    lang = email_sign_in.language_of(token)
    try:
        login_code = await email_sign_in.confirm(token, form.get("code", ""))
    except Invalid as exc:
        return _page(
            request, "mail_sign_in_button", "link", exc.status, token=token,
            email=email_sign_in.email_of(token), errors=exc.fields, lang=lang,
        )  # fmt: skip
    except ClientError as exc:
        return _failed(request, exc.message, exc.status, lang)
    except SignInError as exc:
        return _failed(request, str(exc), 400, lang)
    # The popup's last page: opened in the popup itself, it hands the code to the frame.
    t = Translator(lang or popup_language(request))
    return popup_page(
        request, context, t("popup_signed_in"), t("popup_close_and_go_back"), code=login_code
    )


routes = [
    Mount(
        "/auth/email",
        routes=[
            Route("/start", start, methods=["POST"]),
            Route("/start", refuse_start, methods=["GET"]),  # as any provider's start
            Route("/send", send, methods=["POST"]),
            Route("/link", link, methods=["GET"]),
            Route("/link", confirm, methods=["POST"]),
        ],
    )
]
