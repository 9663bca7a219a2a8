"""The admin pages: sign-in and the dashboard, and what every admin page shares.

Admin pages live on our own origin and are never framed. The session is a `SameSite=Strict`
cookie limited to /admin, and every form posts a CSRF token bound to that session besides our
own `Origin`. Pages are server-rendered; a little plain JavaScript (static/admin.js) only adds
conveniences such as "select all".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from widget.auth.admins import ADMIN_DEVICE_COOKIE, admin_cookie
from widget.auth.tokens import Purpose
from widget.errors import ClientError, Forbidden, NotFound, RateLimited
from widget.moderation import actions as moderating
from widget.records import Admin, QueueQuery, Site

from .addresses import rate_limit_key
from .context import AppContext, app_context
from .inputs import read_form_pairs, remote_address, require_own_origin
from .security import admin_headers

__all__ = ["AdminCall", "admin_page", "number_param", "parse_number", "routes"]

LOGIN_PATH = "/admin/login"
RECENT_COMMENTS = 20
# What a finished action says on the page it returns to: fixed texts, so a crafted link
# cannot make an admin page say anything else.
DONE = {
    "approve": "Approved {n}.",
    "spam": "Marked {n} as spam.",
    "delete": "Deleted {n}.",
    "restore": "Restored {n}.",
    "unapprove": "Sent {n} back to the queue.",
    "replied": "Your reply is published.",
    "emptied": "Deleted {n} for good.",
    "undone": "Undone: {n} back as before.",
    "saved": "Saved.",
    "pinned": "Pinned to the top of its page.",
    "unpinned": "No longer pinned.",
    "closed": "The thread is closed to new comments.",
    "opened": "The thread is open to new comments again.",
    "banned": "Banned. Their new comments go to spam.",
    "unbanned": "The ban is lifted.",
    "badge_author": "The account wears the Author badge; its comments are published at once.",
    "badge_moderator": "The account wears the Moderator badge; its comments go out at once.",
    "badge_none": "This account wears no badge on the site.",
    "site": "The site is added.",
}


@dataclasses.dataclass(frozen=True, slots=True)
class AdminCall:
    """An admin request that passed the checks: signed in, and for a POST, our own origin
    and a valid CSRF token."""

    request: Request
    context: AppContext
    admin: Admin
    session: str
    form: list[tuple[str, str]]

    def field(self, name: str, default: str = "") -> str:
        values = [value for key, value in self.form if key == name]
        return values[-1] if values else default

    def fields(self, name: str) -> list[str]:
        return [value for key, value in self.form if key == name]

    async def sites(self) -> list[Site]:
        """The sites this admin manages, by id."""
        return [s for s in await self.context.storage.list_sites() if self.admin.may_manage(s.id)]

    def render(self, template: str, values: dict[str, Any], status_code: int = 200) -> Response:
        done = self.request.query_params.get("done", "")
        count = self.request.query_params.get("n", "")
        notice = DONE.get(done, "").format(n=_how_many(count))
        return self.context.html.templates.TemplateResponse(
            self.request,
            template,
            {
                "admin": self.admin,
                "csrf": self.context.admin.form_token(self.session),
                "notice": notice,
                **values,
            },
            status_code=status_code,
            headers=admin_headers(),
        )

    def back(self, fallback: str, **done: Any) -> Response:
        """303 to the page the form came from (its `back` field, when it is an admin page)."""
        target = self.field("back")
        if not target.startswith("/admin/") or target.startswith("//") or "\\" in target:
            target = fallback
        target = _without(target, "done", "n", "undo")
        if done:
            target += ("&" if "?" in target else "?") + urlencode(done)
        return RedirectResponse(target, status_code=303, headers=admin_headers())


def parse_number(raw: str, what: str) -> int:
    """An id from a URL or a form; anything else names nothing: 404."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound(f"There is no such {what}.")
    return int(raw)


def number_param(call: AdminCall, name: str, what: str) -> int:
    return parse_number(call.request.path_params[name], what)


def _how_many(raw: str) -> str:
    n = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 7 else 0
    return "one comment" if n == 1 else f"{n:,} comments"


def _without(path: str, *names: str) -> str:
    base, _, query = path.partition("?")
    kept = [p for p in query.split("&") if p and p.split("=", 1)[0] not in names]
    return base + ("?" + "&".join(kept) if kept else "")


AdminHandler = Callable[[AdminCall], Awaitable[Response]]


def admin_page(handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap an admin view: sign-in required (GETs are sent to sign in first), and POSTs must
    come from our own pages with this session's CSRF token."""

    async def endpoint(request: Request) -> Response:
        context = app_context(request)
        session = _session_of(request, context)
        admin = await context.admin.admin_for_session(session)
        if admin is None:
            if request.method == "GET":
                here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(
                    f"{LOGIN_PATH}?next={quote(here, safe='')}", 303, headers=admin_headers()
                )
            raise Forbidden("Your admin session has ended; sign in again and repeat this.")
        form: list[tuple[str, str]] = []
        if request.method == "POST":
            require_own_origin(request, context.settings)
            form = await read_form_pairs(request, context.settings.max_request_bytes)
            csrf = [value for key, value in form if key == "csrf"]
            context.admin.check_form_token(session, csrf[-1] if csrf else "")
        return await handler(AdminCall(request, context, admin, session, form))

    return endpoint


def _session_of(request: Request, context: AppContext) -> str:
    name, _ = admin_cookie(context.settings.public_url)
    return request.cookies.get(name, "")


def _session_cookie(context: AppContext, value: str, max_age_s: int) -> str:
    name, attributes = admin_cookie(context.settings.public_url)
    return f"{name}={value}; Max-Age={max_age_s}; {attributes}"


def _device_cookie(context: AppContext, email: str) -> str:
    """The browser's device token (AdminAuth.device_token), sent back to the sign-in only."""
    secure = "; Secure" if context.settings.public_url.startswith("https://") else ""
    return (
        f"{ADMIN_DEVICE_COOKIE}={context.admin.device_token(email)}; Path={LOGIN_PATH};"
        f" Max-Age={Purpose.ADMIN_DEVICE.max_age_s}; HttpOnly; SameSite=Strict{secure}"
    )


def _next_page(raw: str) -> str:
    return raw if raw.startswith("/admin/") and not raw.startswith("//") else "/admin/"


def _login_page(
    request: Request, context: AppContext, *, email: str = "", error: str = "", status: int = 200
) -> Response:
    return context.html.templates.TemplateResponse(
        request,
        "admin/login.html",
        {
            "admin": None,
            "email": email,
            "error": error,
            "next": _next_page(request.query_params.get("next", "")),
            "login_token": context.admin.login_form_token(),
        },
        status_code=status,
        headers=admin_headers(),
    )


async def login_form(request: Request) -> Response:
    context = app_context(request)
    if await context.admin.admin_for_session(_session_of(request, context)):
        return RedirectResponse("/admin/", 303, headers=admin_headers())
    return _login_page(request, context)


async def log_in(request: Request) -> Response:
    context = app_context(request)
    require_own_origin(request, context.settings)
    form = dict(await read_form_pairs(request, context.settings.max_request_bytes))
    email = form.get("email", "")
    try:
        context.admin.check_login_form_token(form.get("login_token", ""))
        address = rate_limit_key(remote_address(request, context.settings))
        device = request.cookies.get(ADMIN_DEVICE_COOKIE, "")
        token = await context.admin.log_in(email, form.get("password", ""), address, device)
    except ClientError as exc:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(int(exc.retry_after_s) + 1)
        response = _login_page(request, context, email=email, error=exc.message, status=exc.status)
        response.headers.update(headers)
        return response
    response = RedirectResponse(_next_page(form.get("next", "")), 303, headers=admin_headers())
    lifetime = int(context.admin.session_lifetime.total_seconds())
    response.headers.append("Set-Cookie", _session_cookie(context, token, lifetime))
    response.headers.append("Set-Cookie", _device_cookie(context, email))
    return response


@admin_page
async def log_out(call: AdminCall) -> Response:
    await call.context.admin.log_out(call.session)
    response = RedirectResponse(LOGIN_PATH, 303, headers=admin_headers())
    response.headers.append("Set-Cookie", _session_cookie(call.context, "", 0))
    return response


@admin_page
async def dashboard(call: AdminCall) -> Response:
    sites = await call.sites()
    site_ids = tuple(site.id for site in sites)
    counts = await call.context.storage.count_by_status(site_ids)
    recent = await moderating.list_comments(
        call.context.storage, QueueQuery(site_ids, limit=RECENT_COMMENTS)
    )
    outbox = await call.context.storage.outbox_counts() if call.admin.sites is None else None
    return call.render(
        "admin/dashboard.html",
        {
            "outbox": outbox,
            "mail_enabled": call.context.settings.mail_enabled,
            "sites": sites,
            "counts": counts,
            "pending": sum(by_status.get("pending", 0) for by_status in counts.values()),
            "recent": recent,
            "now": datetime.now(UTC),
            "title": "Dashboard",
        },
    )


def routes() -> list[BaseRoute]:
    from . import admin_comments, admin_embed, admin_export, admin_sites

    return [
        Route("/admin/", dashboard, methods=["GET"]),
        Route(LOGIN_PATH, login_form, methods=["GET"]),
        Route(LOGIN_PATH, log_in, methods=["POST"]),
        Route("/admin/logout", log_out, methods=["POST"]),
        *admin_comments.routes,
        *admin_sites.routes,
        *admin_embed.routes,
        *admin_export.routes,
    ]
