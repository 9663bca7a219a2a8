"""The JSON API under /api/v1: counts for index pages, the thread as data, the per-viewer
state, and the writes the iframe's script makes (post, edit, delete, like)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable
from typing import Any

import brotli
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Scope

from widget import comments
from widget.errors import BadRequest, NotFound
from widget.messages import said
from widget.moderation import screening
from widget.records import POST_LIKE, Comment, Site, ThreadHead
from widget.sites import SiteSettings, get_site, settings_of
from widget.threads import CommentNode, load_thread

from .addresses import rate_limit_key
from .assets import coded_etag, preferred_encoding
from .auth import current_user, user_json
from .context import AppContext, app_context
from .embed import PreparedResponse
from .html import EmbedQuery
from .i18n import Translator, choose_language, words_digest
from .inputs import (
    parse_query_pairs,
    read_json_object,
    read_query,
    remote_address,
    require_own_origin,
)
from .kept_answers import KeptReply, Reply, first_values

__all__ = ["counts_route", "kept_counts", "routes"]

MAX_COUNT_PAGES = 100


def _text(data: dict[str, Any], key: str, default: str = "") -> str:
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadRequest(f"'{key}' must be a string.")
    return value


def _ticked(data: dict[str, Any], key: str) -> str:
    """A box ticked or not, as check_comment_form reads a form's: anything but a boolean
    (a "yes", a 1) is refused, not taken as "no" (a reader asking to be told of replies would
    never hear of them, and nobody would know why)."""
    value = data.get(key)
    if value is not None and not isinstance(value, bool):
        raise BadRequest(f"'{key}' must be true or false.")
    return "1" if value else ""


def count_text(settings: SiteSettings, translator: Translator, n: int) -> str:
    """The site's own wording of a comment count when it has one, else the language's."""
    if n == 0:
        custom = settings.count_zero
    else:
        custom = settings.count_one if n == 1 else settings.count_many
    if not custom:
        return translator("count", n=n)
    return custom.replace("{n}", translator.number(n))  # the site's words, the frame's digits


def _comment_json(
    context: AppContext, comment: Comment, depth: int, *, removed: bool = False
) -> dict[str, Any]:
    """A comment for the JSON API; a `removed` one (a placeholder that keeps its replies in
    place) says nothing of its author or text."""
    deleted = removed or comment.status == "deleted"
    return {
        "id": comment.id,
        "parent": comment.parent_id,
        "depth": depth,
        "deleted": deleted,
        "author": None if deleted else {
            "name": comment.author_name,
            "url": comment.author_url or None,
            "avatar": comment.author_avatar
            or context.settings.public_url + context.html.identicon_path(comment),
            "provider": comment.author_provider or None,
        },
        "html": "" if deleted else comment.body_html,
        "created_at": comment.created_at.isoformat(),
        "edited_at": comment.edited_at.isoformat() if comment.edited_at else None,
        "likes": comment.like_count,
    }  # fmt: skip


def _title(data: dict[str, Any]) -> str:
    return comments.page_title(_text(data, "title"))


def _responses_to(head: ThreadHead, lang: str, page_title: str) -> str:
    """The thread's heading, "2 Responses to “Title”", after a change to its count; the title
    the host page sent first, as the document shows it (threads.load_thread)."""
    title = page_title or head.title or head.page_id
    return Translator(choose_language(lang))("responses_to", n=head.comment_count, title=title)


def _cors_headers(request: Request, site: Site) -> dict[str, str]:
    origin = request.headers.get("origin", "")
    headers = {"Vary": "Origin"}
    if origin.lower() in site.origins:
        headers["Access-Control-Allow-Origin"] = origin
    return headers


@dataclasses.dataclass(frozen=True, slots=True)
class CountQuery:
    """A checked counts request: each page as asked for, the page id it names, and the words."""

    site_stamp: tuple[str, float, int]
    pages: tuple[tuple[str, str], ...]  # (as asked for, page id)
    page_ids: tuple[str, ...]
    settings: SiteSettings
    translator: Translator


def _count_query(site: Site, pairs: list[tuple[str, str]]) -> CountQuery:
    raw_pages = [value for name, value in pairs if name == "page"]
    if not raw_pages:
        raise BadRequest("Name at least one page: ?site=SITE&page=/a-post/&page=/another/")
    if len(raw_pages) > MAX_COUNT_PAGES:
        raise BadRequest(f"Ask for at most {MAX_COUNT_PAGES} pages at once.")
    pages = tuple((raw, comments.page_ref(site, raw).page_id) for raw in raw_pages)
    lang = choose_language(dict(pairs).get("lang"))
    page_ids = tuple(sorted({page_id for _, page_id in pages}))
    return CountQuery(site.stamp, pages, page_ids, settings_of(site), Translator(lang))


async def counts(request: Request) -> Response:
    """`?site=S&page=A&page=B…`: the comment count of each page, as number and as text. Read
    by embed.js on the host page, so it answers the site's origins with CORS.

    Index pages ask the same question on every view, so each query string's answer (its bytes,
    compressed, and its headers) is kept with the storage's cache stamp: while no thread head
    or site changes, the answer is sent as it is, with no lookup of the site or of any head
    (and, by `kept_counts`, before the middleware and routing)."""
    context = app_context(request)
    raw_query = request.scope.get("query_string", b"")
    stamp = context.storage.cache_stamp()  # before any read: a change meanwhile moves it on
    kept: KeptCount | None = context.count_answers.get(raw_query)
    if kept is None or stamp is None or kept.stamp != stamp:
        kept = await _count_now(context, raw_query, stamp)
        if stamp is not None:
            context.count_answers.put(raw_query, kept)
    return PreparedResponse(*_count_reply(kept, request.scope["headers"]))


def kept_counts(context: AppContext) -> KeptReply:
    """The counts route's answers as kept by `counts`, while they are current."""

    def kept_reply(scope: Scope) -> Reply | None:
        kept: KeptCount | None = context.count_answers.get(scope["query_string"])
        if kept is None or kept.stamp is None or kept.stamp != context.storage.cache_stamp():
            return None
        return _count_reply(kept, scope["headers"])

    return kept_reply


_COUNT_REQUEST_HEADERS = frozenset({b"origin", b"if-none-match", b"accept-encoding"})


def _count_reply(kept: KeptCount, request_headers: Iterable[tuple[bytes, bytes]]) -> Reply:
    """The answer to a counts request with these headers (as the ASGI scope has them: names
    in lower case; the first of a name counts)."""
    asked = first_values(request_headers, _COUNT_REQUEST_HEADERS)
    answer = kept.answer
    origin = asked.get(b"origin", b"")
    cors = [(b"access-control-allow-origin", origin)] if (
        origin and origin.decode("latin-1").lower() in kept.origins
    ) else []  # fmt: skip
    brotli = preferred_encoding(asked.get(b"accept-encoding", b"").decode("latin-1")) == "br"
    # Revalidated on every view (a visitor who just commented must see the new count on
    # reload), which costs a 304 while the counts stay as they are.
    etag, not_modified = (
        (answer.brotli_etag, answer.brotli_not_modified)
        if brotli
        else (answer.etag, answer.headers)
    )
    if etag in asked.get(b"if-none-match", b"").decode("latin-1"):
        return 304, b"", [*not_modified, *cors]
    if brotli:
        return 200, answer.brotli, [*answer.brotli_headers, *cors]
    return 200, answer.body, [*answer.plain_headers, *cors]


@dataclasses.dataclass(frozen=True, slots=True)
class KeptCount:
    """A query string's answer, as built at the storage's cache stamp `stamp`."""

    stamp: tuple[int, int] | None
    origins: frozenset[str]  # the site's, for CORS
    answer: CountAnswer


async def _count_now(
    context: AppContext, raw_query: bytes, stamp: tuple[int, int] | None
) -> KeptCount:
    """The answer to a counts query from the site and the heads as they are now. The checked
    question is kept per query string (and site version), and the answer's bytes per
    question and counts."""
    query = context.count_queries.get(raw_query)
    site = await get_site(context.storage, query.site_stamp[0]) if query else None
    if query is None or site is None or site.stamp != query.site_stamp:
        pairs = parse_query_pairs(raw_query)
        site = await get_site(context.storage, dict(pairs).get("site", ""))
        query = _count_query(site, pairs)
        context.count_queries.put(raw_query, query)
    key = (raw_query, site.stamp)
    heads = await context.storage.get_thread_heads(site.id, query.page_ids)
    numbers = tuple(heads[p].comment_count if p in heads else 0 for p in query.page_ids)
    answer: CountAnswer | None = context.count_bodies.get((key, numbers))
    if answer is None:
        answer = _count_answer(query, numbers, key)
        context.count_bodies.put((key, numbers), answer)
    return KeptCount(stamp, frozenset(site.origins), answer)


@dataclasses.dataclass(frozen=True, slots=True)
class CountAnswer:
    """One counts question's answer at given counts: its bytes (plain and brotli: a few
    hundred bytes, so gzip adds nothing brotli lacks) and their ETag."""

    etag: str  # of the body sent as is; the compressed one's is brotli_etag (coded_etag)
    body: bytes
    brotli: bytes
    headers: tuple[tuple[bytes, bytes], ...]  # of every answer with the body as is (a 304's)
    plain_headers: tuple[tuple[bytes, bytes], ...]  # of the body sent as is
    brotli_etag: str
    brotli_not_modified: tuple[tuple[bytes, bytes], ...]  # a 304's, for the compressed body
    brotli_headers: tuple[tuple[bytes, bytes], ...]  # of the body sent compressed


def _count_answer(query: CountQuery, numbers: tuple[int, ...], key: tuple[Any, ...]) -> CountAnswer:
    by_page = dict(zip(query.page_ids, numbers, strict=True))
    result = {
        raw: {
            "count": by_page[page_id],
            "text": count_text(query.settings, query.translator, by_page[page_id]),
        }
        for raw, page_id in query.pages
    }
    body = json.dumps({"counts": result}, ensure_ascii=False, separators=(",", ":")).encode()
    # The words too: a release that writes a count anew must not be answered by a 304.
    named = repr((key, numbers, words_digest()))
    etag = f'"{hashlib.blake2b(named.encode(), digest_size=9).hexdigest()}"'
    brotli_etag = coded_etag(etag, "br")

    def not_modified(etag: str) -> tuple[tuple[bytes, bytes], ...]:
        return (
            (b"etag", etag.encode("latin-1")),
            (b"cache-control", b"no-cache"),
            (b"vary", b"Origin, Accept-Encoding"),
        )

    headers, brotli_not_modified = not_modified(etag), not_modified(brotli_etag)
    compressed = brotli.compress(body, mode=brotli.MODE_TEXT)
    json_type = (b"content-type", b"application/json")
    return CountAnswer(
        etag, body, compressed, headers,
        plain_headers=(*headers, json_type, (b"content-length", b"%d" % len(body))),
        brotli_etag=brotli_etag, brotli_not_modified=brotli_not_modified,
        brotli_headers=(*brotli_not_modified, (b"content-encoding", b"br"), json_type,
                        (b"content-length", b"%d" % len(compressed))),
    )  # fmt: skip


async def thread(request: Request) -> Response:
    """The page of a thread as data; 404 for a page nobody has commented on yet."""
    context = app_context(request)
    params = read_query(request)
    site = await get_site(context.storage, params.get("site", ""))
    query = EmbedQuery.parse(site, params)
    head = await context.storage.get_thread_head(site.id, query.page.page_id)
    if head is None:
        raise NotFound(f"Nobody has commented on {query.page.page_id!r} yet.")
    settings = settings_of(site)
    view = await load_thread(context.storage, query.page, settings, query.cursor, head)
    translator = Translator(query.lang)

    def tree(node: CommentNode) -> dict[str, Any]:
        item = _comment_json(context, node.comment, node.depth, removed=node.removed)
        item["replies"] = [tree(reply) for reply in node.replies]
        return item

    return JSONResponse(
        {
            "site": site.id,
            "page": query.page.page_id,
            "title": view.title,
            "count": view.comment_count,
            "count_text": count_text(settings, translator, view.comment_count),
            "likes": view.like_count,
            "version": view.version,
            "comments": [tree(node) for node in view.roots],
            "older": view.older_cursor,
            "newer": view.newer_cursor,
            "page_number": view.page_number,
            "page_count": view.page_count,
        },
        headers=_cors_headers(request, site),
    )


async def _body_and_query(request: Request) -> tuple[AppContext, dict[str, Any], EmbedQuery]:
    context = app_context(request)
    require_own_origin(request, context.settings)
    data = await read_json_object(request, context.settings.max_request_bytes)
    site = await get_site(context.storage, _text(data, "site"))
    params = {key: _text(data, key) for key in ("page", "url", "title", "theme", "lang")}
    return context, data, EmbedQuery.parse(site, params)


async def viewer(request: Request) -> Response:
    """This browser's state on a page: its likes and the comments it may still edit. POST,
    because the tokens it sends do not belong in URLs and logs; it changes nothing."""
    context, data, query = await _body_and_query(request)
    tokens = data.get("edit_tokens") or []
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise BadRequest("'edit_tokens' must be a list of strings.")
    user = await current_user(context, request)
    state = await comments.viewer_state(
        context.storage, context.signer, query.site, query.page, _text(data, "voter"), tokens,
        user=user,
    )  # fmt: skip
    max_depth = settings_of(query.site).max_depth
    return JSONResponse(
        {
            "held": [
                {
                    "id": comment.id,
                    "parent": comment.parent_id,
                    "html": context.html.comment_html(
                        query, comment, min(comment.depth, max_depth)
                    ),
                }
                for comment in state.held
            ],
            "user": user_json(context, user) if user else None,
            "liked": sorted(c for c in state.liked if c != POST_LIKE),
            "post_liked": POST_LIKE in state.liked,
            "editable": {
                str(comment_id): {"seconds_left": own.seconds_left, "body": own.body_source}
                for comment_id, own in state.editable.items()
            },
            # The document's form token is shared by its readers: this one is this reader's.
            "form_token": screening.new_form_token(context.signer, query.page),
        },
        headers={"Cache-Control": "no-store"},
    )


async def post_comment(request: Request) -> Response:
    context, data, query = await _body_and_query(request)
    with context.metrics.posting() as attempt:
        fields = {key: _text(data, key) for key in ("body", "name", "email", "website")}
        fields["notify"] = _ticked(data, "notify")
        fields["notify_posts"] = _ticked(data, "notify_posts")
        parent = data.get("parent")
        if parent is not None and (not isinstance(parent, int) or isinstance(parent, bool)):
            raise BadRequest("'parent' must be a comment id (a number) or null.")
        fields["parent"] = str(parent) if parent is not None else ""
        settings = settings_of(query.site)
        submission = comments.Submission(
            query.page,
            fields,
            form_token=_text(data, "form_token"),
            honeypot=_text(data, "homepage"),
            client=context.client(request, query.lang),
            user=await current_user(context, request),
        )
        posted = await comments.submit(context.posting, settings, submission)
        attempt.outcome = posted.comment.status
    context.outbox.wake()
    depth = min(posted.comment.depth, settings.max_depth)
    return JSONResponse(
        {
            "comment": _comment_json(context, posted.comment, depth),
            "html": context.html.comment_html(query, posted.comment, depth),
            "held": posted.held,
            "edit_token": posted.edit_token,
            "edit_window_s": settings.edit_window_s,
            "count": posted.head.comment_count,
            "title_text": _responses_to(posted.head, query.lang, query.page.title),
            # The token just spent posts nothing more: this one is for the next comment.
            "form_token": screening.new_form_token(
                context.signer, query.page, posted.form_opened_at
            ),
        },
        status_code=201,
    )


def _comment_id(request: Request) -> int:
    raw = request.path_params["comment_id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise NotFound(said("error_no_such_comment"))
    return int(raw)


async def edit_comment(request: Request) -> Response:
    context = app_context(request)
    require_own_origin(request, context.settings)
    data = await read_json_object(request, context.settings.max_request_bytes)
    fields: dict[str, str] = {
        key: _text(data, key) for key in ("body", "name", "website") if key in data
    }
    form = comments.check_edit_form(fields, context.settings.max_body_chars)
    address = rate_limit_key(remote_address(request, context.settings))
    comment, head = await comments.edit_comment(
        context.storage, context.signer, _comment_id(request), _text(data, "token"), form,
        rate_limit=context.edit_rate_limit(address), renderer=context.render_workers,
        user=await current_user(context, request),
    )  # fmt: skip
    return JSONResponse(
        {"comment": _comment_json(context, comment, comment.depth), "version": head.version}
    )


async def delete_comment(request: Request) -> Response:
    context = app_context(request)
    require_own_origin(request, context.settings)
    data = await read_json_object(request, context.settings.max_request_bytes)
    head = await comments.delete_comment(
        context.storage, context.signer, _comment_id(request), _text(data, "token"),
        user=await current_user(context, request),
    )  # fmt: skip
    return JSONResponse(
        {
            "deleted": True,
            "count": head.comment_count,
            "title_text": _responses_to(head, _text(data, "lang"), _title(data)),
        }
    )


async def like(request: Request) -> Response:
    """`{"comment": id or null for the post, "liked": true/false, "voter": token}`; setting
    the state (not toggling) makes double clicks and retries count once."""
    context, data, query = await _body_and_query(request)
    target = data.get("comment")
    if target is not None and (not isinstance(target, int) or isinstance(target, bool)):
        raise BadRequest("'comment' must be a comment id, or null for the post itself.")
    liked = data.get("liked")
    if not isinstance(liked, bool):
        raise BadRequest("'liked' must be true or false.")
    address = rate_limit_key(remote_address(request, context.settings))
    result = await comments.set_like(
        context.storage,
        context.signer,
        query.page,
        target,
        liked,
        _text(data, "voter"),
        context.like_rate_limit(address),
        user=await current_user(context, request),
        guest_limit=context.guest_like_limit(query.site, address),
    )
    translator = Translator(query.lang)
    key = "post_likes" if target is None else "likes"
    return JSONResponse(
        {
            "liked": result.liked,
            "count": result.count,
            "text": translator(key, n=result.count),
            "voter": result.voter_token,
            "version": result.head.version,
        }
    )


counts_route = Route("/api/v1/counts", counts, methods=["GET"])
routes = [
    Route("/api/v1/threads", thread, methods=["GET"]),
    Route("/api/v1/me", viewer, methods=["POST"]),
    Route("/api/v1/comments", post_comment, methods=["POST"]),
    Route("/api/v1/comments/{comment_id}", edit_comment, methods=["PATCH"]),
    Route("/api/v1/comments/{comment_id}", delete_comment, methods=["DELETE"]),
    Route("/api/v1/likes", like, methods=["POST"]),
]
