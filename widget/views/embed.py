"""The iframe's side: the thread document, the bare fragment, the no-JavaScript form post, and
avatars. Each handler parses, makes one domain call and responds."""

from __future__ import annotations

import dataclasses
import functools
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from widget import comments
from widget.errors import ClientError, Forbidden, Invalid, NotFound, RateLimited
from widget.moderation import screening
from widget.records import Comment, Site, ThreadHead
from widget.sites import get_site, settings_of
from widget.urls import origin_of, split_url

from . import own_data
from .addresses import rate_limit_key
from .assets import Encoding, InlineStyle, coded_etag, preferred_encoding
from .avatars import AVATAR_KEY, identicon_svg
from .context import AppContext, app_context
from .errors import retry_after
from .html import DocumentVariant, EmbedQuery, Fragment
from .i18n import Translator
from .inputs import read_form, read_query, remote_address, require_own_origin
from .kept_answers import KeptReply, Reply, first_values
from .security import DOCUMENT_REFERRER_POLICY, document_headers, document_policy

__all__ = ["document_route", "kept_documents", "routes"]

FORM_FIELDS = ("body", "name", "email", "website", "notify", "notify_posts")


async def _embed_site(context: AppContext, request: Request) -> Site:
    site = await get_site(context.storage, request.path_params["site"])
    _check_referrer(request, site, context.settings.public_url)
    return site


async def _embed_query(context: AppContext, request: Request) -> EmbedQuery:
    """The embed named by the request's query string, checked."""
    site = await _embed_site(context, request)
    return context.html.embed_query(site, request.scope.get("query_string", b""))


def _check_referrer(request: Request, site: Site, public_url: str) -> None:
    """The frame's own page (the host page's origin, as browsers send it) must be the site's."""
    origin = _foreign_origin(request.headers.get("referer"), site, public_url)
    if origin is not None:
        raise Forbidden(
            f"This comment section belongs to {', '.join(site.origins)}, and this page is on"
            f" {origin}. The site owner can allow it with:"
            f" widget site add-origin {site.id} {origin}"
        )


def _foreign_origin(referrer: str | None, site: Site, public_url: str) -> str | None:
    """The referring page's origin when it is neither the site's nor ours, else None."""
    if not referrer:
        return None  # a referrer policy may withhold it: the frame-ancestors policy still holds
    parts = split_url(referrer)
    if parts is None or parts.scheme not in {"http", "https"}:
        return None
    origin = origin_of(parts)
    return None if origin == public_url or origin in site.origins else origin


async def thread_document(request: Request) -> Response:
    """The iframe: thread, reply form and script, the same bytes for every reader of a thread
    version (per-reader state comes from the script's calls), so cached, sent compressed and
    revalidated by ETag. `replytocom` puts the form under a comment for browsers without
    JavaScript; `held` and `data_link` show a notice above it."""
    context = app_context(request)
    stamp = context.storage.cache_stamp()  # before any read: a change meanwhile moves it on
    period = context.html.document_period()  # before the ETag, which names it
    query = await _embed_query(context, request)
    head = await context.storage.get_thread_head(query.site.id, query.page.page_id)
    reply_to, held, data_link_sent = None, False, False
    raw_query = request.scope.get("query_string", b"")
    if b"replytocom=" in raw_query or b"held=" in raw_query or b"data_link=" in raw_query:
        params = read_query(request)
        reply_to = await _reply_target(context, head, params.get("replytocom", ""))
        held, data_link_sent = params.get("held") == "1", params.get("data_link") == "1"
    variant = (reply_to.id if reply_to else 0, held, data_link_sent)
    html = context.html
    etag = html.document_etag(query, head, variant)
    style = _inline_style(context, query)
    origins = tuple(query.site.origins)
    if stamp is not None and variant == _PLAIN_DOCUMENT:  # for kept_documents, a 304 too
        etags = {coding: coded_etag(etag, coding) for coding in _ENCODINGS}
        kept = KeptDocument(
            stamp, period, query.site, html.document_key(query, head, variant), etag, etags,
            {coding: _thread_headers(etags[coding], origins, style.hash, True)
             for coding in _ENCODINGS},
        )  # fmt: skip
        context.document_answers.put((request.scope["path"], raw_query), kept)
    encoding = preferred_encoding(request.headers.get("accept-encoding", ""))
    coded = coded_etag(etag, encoding)
    if coded in request.headers.get("if-none-match", ""):
        return PreparedResponse(304, b"", _revalidated_headers(coded))
    headers = list(_thread_headers(coded, origins, style.hash, True))

    def render(fragment: Fragment) -> str:
        values = _document_context(
            context, query, head, fragment, reply_to=reply_to, held=held,
            data_link_sent=data_link_sent,
            # Shared by every reader of these bytes; the script swaps in the reader's own.
            form_token=screening.new_form_token(context.signer, query.page, shared=True),
        )  # fmt: skip
        return html.env.get_template("embed/thread.html").render(values)

    document = await html.thread_document(query, head, variant, etag, render)
    body = html.document_bytes(query, head, variant, document, encoding)
    return _prepared(body, encoding, headers)


# The document every page view asks for: the form at the end, no notice above it.
_PLAIN_DOCUMENT: DocumentVariant = (0, False, False)
_DOCUMENT_REQUEST_HEADERS = frozenset({b"referer", b"if-none-match", b"accept-encoding"})
_ENCODINGS: tuple[Encoding, ...] = ("br", "gzip", "")


@dataclasses.dataclass(frozen=True, slots=True)
class KeptDocument:
    """What `thread_document` answered a path and query string with, built from the storage's
    caches at `stamp` in the form token's `period`: where its bytes are kept (`key`, with
    their ETag) and, for each encoding, the ETag and headers they go with. The site is kept
    for its origins."""

    stamp: tuple[int, int]
    period: int
    site: Site
    key: tuple[Any, ...]
    etag: str
    etags: Mapping[Encoding, str]
    headers: Mapping[Encoding, tuple[tuple[bytes, bytes], ...]]


def kept_documents(context: AppContext) -> KeptReply:
    """The iframe document as `thread_document` would answer it, while it is current: the
    storage's caches and the token's period as they were, the referrer one the route lets
    through, and the bytes in the encoding asked for made already. Every request that any
    of that does not hold for goes the whole way (which keeps its answer for the next)."""
    html, storage, public_url = context.html, context.storage, context.settings.public_url

    def kept_reply(scope: Scope) -> Reply | None:
        kept: KeptDocument | None = context.document_answers.get(
            (scope["path"], scope["query_string"])
        )
        if kept is None or kept.stamp != storage.cache_stamp():
            return None
        if kept.period != html.document_period():
            return None
        asked = first_values(scope["headers"], _DOCUMENT_REQUEST_HEADERS)
        referrer = asked.get(b"referer")
        if referrer and _foreign_origin(referrer.decode("latin-1"), kept.site, public_url):
            return None  # refused by the route, in words
        encoding = preferred_encoding(asked.get(b"accept-encoding", b"").decode("latin-1"))
        etag = kept.etags[encoding]
        if etag in asked.get(b"if-none-match", b"").decode("latin-1"):
            return 304, b"", _revalidated_headers(etag)
        document = html.fragments.get(kept.key, kept.etag)
        body = document.made(encoding) if document else None
        if body is None:
            return None
        return 200, body, _with_body_headers(body, encoding, list(kept.headers[encoding]))

    return kept_reply


def _prepared(body: bytes, encoding: Encoding, headers: list[tuple[bytes, bytes]]) -> Response:
    return PreparedResponse(200, body, _with_body_headers(body, encoding, headers))


def _with_body_headers(
    body: bytes, encoding: Encoding, headers: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """`headers` (changed in place) with those that describe an HTML `body` in `encoding`."""
    if encoding:
        headers.append((b"content-encoding", encoding.encode("latin-1")))
    headers.append((b"content-type", b"text/html; charset=utf-8"))
    headers.append((b"content-length", str(len(body)).encode("latin-1")))
    return headers


async def _reply_target(
    context: AppContext, head: ThreadHead | None, raw_id: str
) -> Comment | None:
    if not (raw_id.isascii() and raw_id.isdigit()) or head is None or len(raw_id) > 18:
        return None
    comment = await context.storage.get_comment(int(raw_id))
    if comment is None or comment.thread_id != head.id or comment.status != "approved":
        return None
    return comment


def _inline_style(context: AppContext, query: EmbedQuery) -> InlineStyle:
    """The frame's <style>: its theme's colours, and the sign-in choices where they show."""
    sign_in = bool(context.sign_in.providers) or context.email_sign_in.enabled
    return context.assets.inline_style(dark=query.theme == "dark", sign_in=sign_in)


def _document_context(
    context: AppContext,
    query: EmbedQuery,
    head: ThreadHead | None,
    fragment: Fragment,
    *,
    form_token: str,
    reply_to: Comment | None = None,
    values: Mapping[str, str] | None = None,
    error: ClientError | None = None,
    held: bool = False,
    data_link_sent: bool = False,
    own_data_error: ClientError | None = None,
) -> dict[str, Any]:
    html = context.html
    config = {
        "site": query.site.id,
        "params": query.params(),
        "strings": html.script_strings(query.lang),
        "plurals": html.script_plurals(query.lang),
        "lang": query.lang,
        "order": settings_of(query.site).order,
        "signInRequired": settings_of(query.site).sign_in == "required",
        "writer": html.writer_url(query.lang),  # loaded at the reader's first touch
    }
    providers = list(context.sign_in.providers.values())
    if context.settings.passkeys and (providers or context.email_sign_in.enabled):
        # Passkeys sign in to accounts made another way: offered beside those ways only, and
        # drawn by writer.js (where the browser has WebAuthn), not sent to every reader.
        config["passkeys"] = True
    title = query.page.title or (head.title if head else "") or query.page.page_id  # load_thread
    t = Translator(query.lang)
    return {
        "query": query,
        "title": title,
        "t": t,
        # Rendered from our own templates and sanitised comment HTML, cached as bytes.
        "fragment": Markup(fragment.body.decode("utf-8")),  # noqa: S704
        "reply_to": reply_to,
        "values": defaultdict(str, values or {}),
        "errors": defaultdict(
            str, {name: t.say(text) for name, text in (error.fields if error else {}).items()}
        ),
        "form_error": t.say(error.message) if error else "",
        "form_token": form_token,
        "config": config,
        "held": held,
        "closed": bool(head and head.closed),
        "email_required": settings_of(query.site).guest_email == "required",
        "mail_enabled": context.settings.mail_enabled,
        # The second box: only where there are posts to tell of.
        "new_posts_offered": bool(
            context.settings.mail_enabled and settings_of(query.site).feed_url
        ),
        "data_link_sent": data_link_sent,
        "own_data_error": (
            t.say(own_data_error.fields.get("email", own_data_error.message))
            if own_data_error
            else ""
        ),
        "inline_style": _inline_style(context, query),
        "providers": providers,
        "email_sign_in": context.email_sign_in.enabled,
        "sign_in_required": config["signInRequired"],
    }


async def _render_form_again(
    request: Request,
    context: AppContext,
    query: EmbedQuery,
    head: ThreadHead | None,
    error: ClientError,
    *,
    values: Mapping[str, str],
    reply_to: Comment | None = None,
    own_data_error: ClientError | None = None,
) -> Response:
    """The document for one reader, not cached: their text back, the messages beside the
    fields, and a token of their own for the form."""
    fragment = await context.html.thread_fragment(query, head)
    values_in_page = _document_context(
        context, query, head, fragment, reply_to=reply_to, values=values,
        error=None if own_data_error else error, own_data_error=own_data_error,
        form_token=screening.new_form_token(context.signer, query.page),
    )  # fmt: skip
    return context.html.templates.TemplateResponse(
        request,
        "embed/thread.html",
        values_in_page,
        status_code=error.status,
        headers={
            **document_headers(query.site.origins, values_in_page["inline_style"].hash),
            **retry_after(error),
        },
    )


class PreparedResponse(Response):
    """A response whose headers arrive already encoded, for the hottest answers."""

    def __init__(self, status_code: int, body: bytes, raw_headers: list[tuple[bytes, bytes]]):
        self.status_code = status_code
        self.body = body
        self.background = None
        self.raw_headers = raw_headers


@functools.lru_cache(maxsize=4096)
def _thread_headers(
    etag: str, origins: tuple[str, ...], inline_style: str, document: bool
) -> tuple[tuple[bytes, bytes], ...]:
    # The policy depends on the site alone, so one answer still serves every reader.
    headers = [
        *_revalidated_headers(etag),
        (b"x-content-type-options", b"nosniff"),
        (
            b"content-security-policy",
            document_policy(origins, inline_style, own_pages=document).encode("latin-1"),
        ),
    ]
    if document:
        headers.append((b"referrer-policy", DOCUMENT_REFERRER_POLICY.encode("latin-1")))
    return tuple(headers)


def _revalidated_headers(etag: str) -> list[tuple[bytes, bytes]]:
    """What a 304 says: the validator and how to cache (RFC 9110, 15.4.5). Browsers merge it
    into the answer they kept, whose other headers (the framing policy) stay as they were; a
    warm page view is this and little else."""
    return [
        (b"etag", etag.encode("latin-1")),
        (b"cache-control", b"public, no-cache"),
        (b"vary", b"Accept-Encoding"),
    ]


async def thread_fragment(request: Request) -> Response:
    """The thread alone, identical for every viewer: cacheable by ETag here, in proxies and CDNs."""
    context = app_context(request)
    query = await _embed_query(context, request)
    head = await context.storage.get_thread_head(query.site.id, query.page.page_id)
    encoding = preferred_encoding(request.headers.get("accept-encoding", ""))
    etag = coded_etag(context.html.etag(query, head), encoding)
    if etag in request.headers.get("if-none-match", ""):
        return PreparedResponse(304, b"", _revalidated_headers(etag))
    headers = list(_thread_headers(etag, tuple(query.site.origins), "", False))
    fragment = await context.html.thread_fragment(query, head)
    body = context.html.fragment_bytes(query, head, fragment, encoding)
    return _prepared(body, encoding, headers)


async def post_from_form(request: Request) -> Response:
    """The reply form posted without JavaScript: 303 to the new comment, or the form again
    with the visitor's text and a message beside each field that needs fixing."""
    context = app_context(request)
    require_own_origin(request, context.settings)
    form = await read_form(request, context.settings.max_request_bytes)
    query = EmbedQuery.parse(await _embed_site(context, request), form)
    request.state.language = query.lang  # for an error page, in the form's language
    values = {name: form.get(name, "") for name in FORM_FIELDS}
    storage = context.storage
    submission = comments.Submission(
        query.page,
        form,
        form_token=form.get("form_token", ""),
        honeypot=form.get("homepage", ""),
        client=context.client(request, query.lang),
    )
    try:
        with context.metrics.posting() as attempt:
            posted = await comments.submit(context.posting, settings_of(query.site), submission)
            attempt.outcome = posted.comment.status
    except ClientError as error:
        head = await storage.get_thread_head(query.site.id, query.page.page_id)
        reply_to = await _reply_target(context, head, form.get("parent", ""))
        return await _render_form_again(
            request, context, query, head, error, values=values, reply_to=reply_to
        )
    context.outbox.wake()
    comment = posted.comment
    if posted.held:  # not on any page yet: say so above the form
        return RedirectResponse(f"{query.document_path(held=1)}#respond", status_code=303)
    # The page that ends with this comment's thread: it is on it, whatever the order.
    location = query.document_path(before=comment.root_id + 1, after=None)
    return RedirectResponse(f"{location}#comment-{comment.id}", status_code=303)


async def data_request(request: Request) -> Response:
    """A guest asks, in the frame, for a link to what they wrote under an email address."""
    context = app_context(request)
    require_own_origin(request, context.settings)
    form = await read_form(request, context.settings.max_request_bytes)
    query = EmbedQuery.parse(await _embed_site(context, request), form)
    address = rate_limit_key(remote_address(request, context.settings))
    try:
        await own_data.request_link(context, form.get("email", ""), address, query.lang)
    except (Invalid, RateLimited) as error:  # shown beside the address, with what was typed
        head = await context.storage.get_thread_head(query.site.id, query.page.page_id)
        return await _render_form_again(
            request, context, query, head, error, own_data_error=error,
            values={"own_data_email": form.get("email", "")},
        )  # fmt: skip
    return RedirectResponse(f"{query.document_path(data_link=1)}#wg-own-data", status_code=303)


async def avatar(request: Request) -> Response:
    key = request.path_params["key"]
    if not AVATAR_KEY.match(key):
        raise NotFound("There is no such avatar.")
    return Response(
        identicon_svg(key),
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
        },
    )


document_route = Route("/embed/{site}/thread", thread_document, methods=["GET", "HEAD"])
routes = [
    # The fragment first: it is the hottest route, and routes are matched in order.
    Route("/embed/{site}/thread/fragment", thread_fragment, methods=["GET", "HEAD"]),
    document_route,
    Route("/embed/{site}/thread/comments", post_from_form, methods=["POST"]),
    Route("/embed/{site}/data-request", data_request, methods=["POST"]),
    Route("/avatars/{key}.svg", avatar, methods=["GET", "HEAD"]),
]
