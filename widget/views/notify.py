"""Pages behind the links in emails: confirm a subscription (to a thread's follow-ups or to a
site's new posts), unsubscribe, moderate, and the short link to a comment.

A link in an email may be opened by a mail scanner, so a GET only shows a page; what it does
happens on the page's button, a POST. The one exception the standard asks for: the one-click
unsubscribe of RFC 8058, a POST that mail clients send themselves.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from widget.auth.tokens import BadToken, Purpose
from widget.errors import NotFound
from widget.messages import said
from widget.moderation import actions as moderating
from widget.notify import subscriptions
from widget.notify.mail import plain_text
from widget.records import PostSubscription, Subscription
from widget.urls import origin_of, split_url

from .context import AppContext, app_context
from .errors import error_language
from .i18n import Translator
from .inputs import read_form, require_own_origin
from .security import admin_headers

__all__ = ["routes"]

SCOPES = (("replies", "notify_scope_replies"), ("thread", "notify_scope_thread"))  # message keys


def _page(
    request: Request, title: str, message: str, *, status_code: int = 200,
    form: dict[str, Any] | None = None, quote: str = "", t: Translator | None = None,
) -> Response:  # fmt: skip
    """A page behind an email's link; a subscriber's in their language (`t`), a moderator's
    in English."""
    context = app_context(request)
    t = t or Translator("en")
    return context.html.templates.TemplateResponse(
        request, "notify/page.html",
        {"title": title, "message": message, "form": form, "quote": quote,
         "lang": t.language, "dir": t.direction},
        status_code=status_code, headers=admin_headers(),
    )  # fmt: skip


def _token_value(context: AppContext, purpose: Purpose, token: str, key: str) -> int | None:
    try:
        value = context.signer.verify(purpose, token)
    except BadToken:
        return None
    number = value.get(key) if isinstance(value, dict) else None
    return number if isinstance(number, int) else None


def _expired(request: Request) -> Response:
    t = Translator(error_language(request))  # nothing to go by but what the browser asks
    return _page(request, t("notify_expired_title"), t("notify_expired"), status_code=400, t=t)


async def _token_and_form(request: Request) -> tuple[str, dict[str, str]]:
    """The link's token (in the query, or in the page's form) and the form's fields."""
    form: dict[str, str] = {}
    if request.method == "POST" and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        form = await read_form(request, app_context(request).settings.max_request_bytes)
    return form.get("token") or request.query_params.get("token", ""), form


async def confirm(request: Request) -> Response:
    context = app_context(request)
    if request.method == "POST":
        require_own_origin(request, context.settings)
    token, form = await _token_and_form(request)
    subscription_id = _token_value(context, Purpose.SUBSCRIBE, token, "s")
    subscription = (
        await context.storage.get_subscription(Subscription, subscription_id)
        if subscription_id
        else None
    )
    if subscription is None:
        return _expired(request)
    t = Translator(subscription.lang or "en")  # the language they subscribed in
    if request.method == "GET":
        return _page(
            request, t("notify_follow_title"), t("notify_follow", email=subscription.email),
            form={"action": "/notify/confirm", "hidden": {"token": token},
                  "choices": [(v, t(key), v == subscription.scope) for v, key in SCOPES],
                  "button": t("mail_confirm")},
            t=t,
        )  # fmt: skip
    scope: subscriptions.Scope = "thread" if form.get("scope") == "thread" else "replies"
    await subscriptions.confirm(context.storage, subscription.id, scope)
    return _page(request, t("notify_confirmed_title"), t(f"notify_confirmed_{scope}"), t=t)


async def unsubscribe(request: Request) -> Response:
    context = app_context(request)
    token, _ = await _token_and_form(request)
    subscription_id = _token_value(context, Purpose.UNSUBSCRIBE, token, "s")
    if subscription_id is None:
        return _expired(request)
    subscription = await context.storage.get_subscription(Subscription, subscription_id)
    t = Translator(subscription.lang if subscription and subscription.lang else "en")
    if request.method == "GET":
        return _page(
            request, t("notify_stop_title"), t("notify_stop"),
            form={"action": "/notify/unsubscribe", "hidden": {"token": token}, "choices": [],
                  "button": t("notify_unsubscribe")},
            t=t,
        )  # fmt: skip
    await subscriptions.unsubscribe(context.storage, subscription_id)
    return _page(request, t("notify_unsubscribed_title"), t("notify_unsubscribed"), t=t)


async def confirm_new_posts(request: Request) -> Response:
    context = app_context(request)
    if request.method == "POST":
        require_own_origin(request, context.settings)
    token, _ = await _token_and_form(request)
    subscription_id = _token_value(context, Purpose.POSTS_SUBSCRIBE, token, "p")
    subscription = (
        await context.storage.get_subscription(PostSubscription, subscription_id)
        if subscription_id
        else None
    )
    site = await context.storage.get_site(subscription.site_id) if subscription else None
    if subscription is None or site is None:
        return _expired(request)
    if request.method == "GET":
        return _page(
            request, f"Get new posts of {site.name} by email?",
            f"Emails go to {subscription.email}. Each one has a link to stop them.",
            form={"action": "/notify/posts/confirm", "hidden": {"token": token}, "choices": [],
                  "button": "Confirm"},
        )  # fmt: skip
    if not await subscriptions.confirm_new_posts(context.storage, subscription.id):
        return _expired(request)
    return _page(request, "Confirmed", f"You will get an email for each new post of {site.name}.")


async def unsubscribe_new_posts(request: Request) -> Response:
    context = app_context(request)
    token, _ = await _token_and_form(request)
    subscription_id = _token_value(context, Purpose.POSTS_UNSUBSCRIBE, token, "p")
    if subscription_id is None:
        return _expired(request)
    if request.method == "GET":
        return _page(
            request, "Stop these emails?", "No more emails about new posts.",
            form={"action": "/notify/posts/unsubscribe", "hidden": {"token": token},
                  "choices": [], "button": "Unsubscribe"},
        )  # fmt: skip
    await subscriptions.unsubscribe_new_posts(context.storage, subscription_id)
    return _page(request, "Unsubscribed", "You will get no more emails about new posts.")


async def moderate(request: Request) -> Response:
    context = app_context(request)
    if request.method == "POST":
        require_own_origin(request, context.settings)
    token, _ = await _token_and_form(request)
    try:
        value = context.signer.verify(Purpose.MODERATE, token)
    except BadToken:
        return _expired(request)
    action = value.get("a") if isinstance(value, dict) else None
    comment = await context.storage.get_comment(int(value.get("c", 0)))
    head = await context.storage.get_thread(comment.thread_id) if comment else None
    if comment is None or head is None or action not in moderating.EMAILED_ACTIONS:
        return _page(request, "Nothing to do", "This comment no longer exists.", status_code=404)
    verb = "Approve" if action == "approve" else "Delete"
    if request.method == "GET":
        return _page(
            request, f"{verb} this comment?",
            f"By {comment.author_name} on “{head.title or head.page_id}” ({comment.status} now).",
            quote=plain_text(comment.body_html),
            form={"action": "/notify/moderate", "hidden": {"token": token}, "choices": [],
                  "button": verb},
        )  # fmt: skip
    status = await moderating.act_from_email(context.storage, comment, head, action)
    context.outbox.wake()
    return _page(request, "Done", f"The comment is {status}.")


async def comment_link(request: Request) -> Response:
    """`/c/ID`: the page a published comment is on, at the comment. Emails link here, so that
    they hold no links but ours."""
    context = app_context(request)
    raw = request.path_params["comment_id"]
    comment = (
        await context.storage.get_comment(int(raw))
        if raw.isascii() and raw.isdigit() and len(raw) < 19
        else None
    )
    head = await context.storage.get_thread(comment.thread_id) if comment else None
    site = await context.storage.get_site(head.site_id) if head else None
    parts = split_url(head.url) if head and head.url else None
    if (
        comment is None or head is None or site is None or parts is None
        or comment.status != "approved"
    ):  # fmt: skip
        raise NotFound(said("error_comment_not_published"))
    if origin_of(parts) not in site.origins:  # only ever to the site's own pages
        raise NotFound(said("error_comment_page_gone"))
    fragment = f"#comment-{comment.id}"
    return RedirectResponse(urlsplit(head.url)._replace(fragment="").geturl() + fragment, 303)


routes = [
    Route("/c/{comment_id}", comment_link, methods=["GET"]),
    Route("/notify/confirm", confirm, methods=["GET", "POST"]),
    Route("/notify/unsubscribe", unsubscribe, methods=["GET", "POST"]),
    Route("/notify/posts/confirm", confirm_new_posts, methods=["GET", "POST"]),
    Route("/notify/posts/unsubscribe", unsubscribe_new_posts, methods=["GET", "POST"]),
    Route("/notify/moderate", moderate, methods=["GET", "POST"]),
]
