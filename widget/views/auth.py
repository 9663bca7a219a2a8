"""Sign-in: the popup's two pages (start, callback) on our origin, and the iframe's session
calls under /api/v1/auth. See widget/auth/signin.py for the whole flow."""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from widget.auth.signin import SESSION_COOKIE, SignInError
from widget.config import Settings
from widget.errors import BadRequest, ClientError, Forbidden
from widget.records import User

from .addresses import rate_limit_key
from .context import AppContext, app_context
from .errors import error_language
from .i18n import Translator, choose_language
from .inputs import read_form, read_json_object, remote_address, require_own_origin

SIGNED_IN_COOKIE = "__Host-widget_signed_in"
_LANGUAGE_KEY = "widget_language"  # the frame's, in the popup's state cookie (flow or passkey)

__all__ = [
    "current_user", "keep_popup_language", "popup_language", "popup_page", "popup_state",
    "refuse_start", "routes", "session_token", "user_json",
]  # fmt: skip

POPUP_HEADERS = {
    # Our own top-level pages: never framed, never cached, and the code never leaks onward.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self';"
    " img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def session_token(request: Request) -> str | None:
    """The session token: the bearer token the iframe keeps, else the Partitioned cookie."""
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return request.cookies.get(SESSION_COOKIE)


async def current_user(context: AppContext, request: Request) -> User | None:
    return await context.sign_in.user_for(session_token(request))


def user_json(context: AppContext, user: User) -> dict[str, str]:
    provider = context.sign_in.providers.get(user.provider)
    return {
        "name": user.name,
        "avatar": user.avatar_url,
        "profile": user.profile_url,
        "provider": user.provider,
        "provider_name": provider.display_name if provider else user.provider.capitalize(),
    }


def _session_cookie(settings: Settings, value: str, max_age_s: int) -> str:
    # Written by hand: Starlette's `partitioned=True` needs Python 3.14. Secure is required for
    # SameSite=None and for Partitioned (browsers count http://*.localhost as secure).
    return (
        f"{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; Secure;"
        " SameSite=None; Partitioned"
    )


def _signed_in_cookie(max_age_s: int) -> str:
    """A note beside the session cookie, readable by the frame's script (it holds nothing):
    the document is the same for everyone, so the script asks who is reading only when it
    knows there is someone to ask about, even where the browser keeps it no other storage."""
    value = "1" if max_age_s else ""
    return (
        f"{SIGNED_IN_COOKIE}={value}; Path=/; Max-Age={max_age_s}; Secure; SameSite=None;"
        " Partitioned"
    )


def popup_page(
    request: Request, context: AppContext, title: str, message: str, *, code: str = "",
    error: str = "", next_url: str = "", status_code: int = 200, closable: bool = True,
) -> Response:  # fmt: skip
    """A page of the popup, in the frame's language (`popup_language`): `title` and `message`
    already said in it. `error` goes to the comment form as it is, so it says nothing of
    this window; the page itself adds that it can be closed (`closable`)."""
    t = Translator(popup_language(request))
    return context.html.templates.TemplateResponse(
        request,
        "auth/popup.html",
        {
            "title": title,
            "message": message,
            "code": code,
            "error": error,
            "next": next_url,
            "closable": closable and bool(error),
            "t": t,
            "lang": t.language,
            "dir": t.direction,
        },
        status_code=status_code,
        headers=POPUP_HEADERS,
    )


def popup_language(request: Request) -> str:
    """The frame's language in its popup: posted with the start (and kept with the flow's
    state for the provider's callback), else what the request asks (?lang, Accept-Language)."""
    if isinstance(getattr(request.state, "language", None), str):
        return str(request.state.language)
    if "session" in request.scope and isinstance(request.session.get(_LANGUAGE_KEY), str):
        return choose_language(request.session[_LANGUAGE_KEY])
    return error_language(request)


def keep_popup_language(request: Request, requested: str | None) -> None:
    """The frame's language, posted with a popup's first page: this request's, and kept in the
    popup's session for the pages after it."""
    language = choose_language(requested)
    request.state.language = language
    request.session[_LANGUAGE_KEY] = language


def _failed(request: Request, context: AppContext, message: str, status: int) -> Response:
    t = Translator(popup_language(request))
    said = t.say(message)
    return popup_page(request, context, t("popup_sign_in_failed"), said, error=said,
                      status_code=status)  # fmt: skip


async def refuse_start(request: Request) -> Response:
    """A start reached by a link, a typed address, or a page or form of another site: refused,
    since only our own frame, holding the verifier, may start a sign-in (widget/auth/signin.py)."""
    context = app_context(request)
    t = Translator(popup_language(request))
    message = t("popup_refused")
    return popup_page(request, context, t("popup_sign_in_stopped"), message, error=message,
                      status_code=403, closable=False)  # fmt: skip


async def start(request: Request) -> Response:
    """The popup's first page, a form our frame submits into it: off to the provider."""
    context = app_context(request)
    settings = context.settings
    try:
        require_own_origin(request, settings)
    except Forbidden:
        return await refuse_start(request)
    try:
        form = await read_form(request, settings.max_request_bytes)
        request.state.language = choose_language(form.get("lang"))
        name = request.path_params["provider"]
        provider_url = await context.sign_in.start(
            request, name, form.get("challenge", ""), form.get("instance", ""),
            rate_limit_key(remote_address(request, settings)),
        )  # fmt: skip
    except ClientError as exc:
        return _failed(request, context, exc.message, exc.status)
    except SignInError as exc:
        return _failed(request, context, exc.message, exc.status)
    request.session[_LANGUAGE_KEY] = request.state.language  # for the callback's pages
    # A page, not a redirect: the frame's Content-Security-Policy (form-action 'self') covers
    # the redirects that follow its form, and the provider is another origin.
    provider = context.sign_in.providers[name].display_name
    t = Translator(request.state.language)
    return popup_page(
        request, context, t("popup_signing_in_with", provider=provider),
        t("popup_taking_you_there"), next_url=provider_url,
    )  # fmt: skip


async def callback(request: Request) -> Response:
    """The provider sends the popup back here; the popup hands the login code to the iframe."""
    context = app_context(request)
    request.state.language = popup_language(request)
    request.session.pop(_LANGUAGE_KEY, None)  # the flow ends here, as its state does
    t = Translator(request.state.language)
    try:
        code = await context.sign_in.finish(request, request.path_params["provider"])
    except ClientError as exc:
        return _failed(request, context, exc.message, exc.status)
    except SignInError as exc:
        if not exc.cancelled:
            return _failed(request, context, exc.message, exc.status)
        said = t.say(exc.message)
        return popup_page(request, context, t("popup_sign_in_cancelled"), said,
                          error=said, status_code=exc.status)  # fmt: skip
    return popup_page(
        request, context, t("popup_signed_in"), t("popup_close_and_go_back"), code=code
    )


async def open_session(request: Request) -> Response:
    """`{"verifier", "code"}`: the code the popup passed on. `{"verifier"}` alone polls: 202
    until the popup has finished, then the session."""
    context = app_context(request)
    require_own_origin(request, context.settings)
    data = await read_json_object(request, context.settings.max_request_bytes)
    verifier, code = data.get("verifier"), data.get("code")
    if not isinstance(verifier, str) or (code is not None and not isinstance(code, str)):
        raise BadRequest("Send the sign-in 'verifier' (and the 'code', when there is one).")
    session = await context.sign_in.exchange(verifier, code)
    if session is None:
        return JSONResponse(
            {"pending": True}, status_code=202, headers={"Cache-Control": "no-store"}
        )
    response = JSONResponse(
        {"token": session.token, "user": user_json(context, session.user)},
        headers={"Cache-Control": "no-store"},
    )
    response.headers.append(
        "Set-Cookie", _session_cookie(context.settings, session.token, session.max_age_s)
    )
    response.headers.append("Set-Cookie", _signed_in_cookie(session.max_age_s))
    return response


async def close_session(request: Request) -> Response:
    """Log Out: the session ends in the database, whichever way the browser held it."""
    context = app_context(request)
    require_own_origin(request, context.settings)
    await context.sign_in.sign_out(session_token(request))
    response = JSONResponse({"signed_in": False}, headers={"Cache-Control": "no-store"})
    response.headers.append("Set-Cookie", _session_cookie(context.settings, "", 0))
    response.headers.append("Set-Cookie", _signed_in_cookie(0))
    return response


def popup_state(settings: Settings, cookie: str, path: str) -> Middleware:
    """A signed session cookie for the popup's pages under `path` only (first-party there: the
    popup is a top-level window on our origin), for ten minutes."""
    return Middleware(
        SessionMiddleware,
        secret_key=settings.secret_key,
        session_cookie=cookie,
        max_age=600,
        path=path,
        same_site="lax",
        https_only=settings.public_url.startswith("https://"),
    )


def routes(settings: Settings) -> list[BaseRoute]:
    # The provider flow's state, nonce and PKCE verifier.
    flow_state = popup_state(settings, "widget_sign_in_flow", "/auth")
    return [
        Mount(
            "/auth",
            routes=[
                Route("/{provider}/start", start, methods=["POST"]),
                Route("/{provider}/start", refuse_start, methods=["GET"]),
                Route("/{provider}/callback", callback, methods=["GET"]),
            ],
            middleware=[flow_state],
        ),
        Route("/api/v1/auth/session", open_session, methods=["POST"]),
        Route("/api/v1/auth/session", close_session, methods=["DELETE"]),
    ]
