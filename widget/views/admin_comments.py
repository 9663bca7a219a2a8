"""The moderation queue of a site, and one comment's page: edit, pin, ban, close its thread."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from widget.errors import Invalid, NotFound
from widget.moderation import actions as moderating
from widget.records import CommentStatus, QueueItem, QueueQuery
from widget.sites import badges_of, get_site, settings_of

from .admin import AdminCall, admin_page, number_param, parse_number

__all__ = ["routes"]

PAGE_SIZE = 50
STATUS_FILTERS: dict[str, CommentStatus | None] = {
    "pending": "pending",
    "approved": "approved",
    "spam": "spam",
    "deleted": "deleted",
    "all": None,
}
MAX_SEARCH_CHARS = 200


async def _site_id(call: AdminCall) -> str:
    site_id = call.request.path_params["site"]
    if not call.admin.may_manage(site_id):
        raise NotFound("There is no such site among those you manage.")
    return (await get_site(call.context.storage, site_id)).id


@admin_page
async def queue(call: AdminCall) -> Response:
    site_id = await _site_id(call)
    params = call.request.query_params
    status_name = params.get("status", "pending")
    if status_name not in STATUS_FILTERS:
        raise Invalid(f"Filter by one of: {', '.join(STATUS_FILTERS)}.")
    search = {key: params.get(key, "").strip() for key in ("q", "author", "page")}
    if any(len(value) > MAX_SEARCH_CHARS for value in search.values()):
        raise Invalid(f"Search for at most {MAX_SEARCH_CHARS} characters.")
    before = params.get("before", "")
    query = QueueQuery(
        site_ids=(site_id,),
        status=STATUS_FILTERS[status_name],
        text=search["q"],
        author=search["author"],
        page=search["page"],
        before_id=parse_number(before, "page of comments") if before else None,
        limit=PAGE_SIZE + 1,
    )
    items = await moderating.list_comments(call.context.storage, query)
    counts = await call.context.storage.count_by_status([site_id])

    def link(**changes: object) -> str:
        """This list's address with some parameters changed (and no page cursor unless set)."""
        params = {"status": status_name, **search, **changes}
        return "?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})

    return call.render(
        "admin/queue.html",
        {
            "title": f"Comments on {site_id}",
            "site_id": site_id,
            "sites": await call.sites(),
            "status": status_name,
            "statuses": list(STATUS_FILTERS),
            "counts": counts[site_id],
            "search": search,
            "link": link,
            "items": items[:PAGE_SIZE],
            "older": items[PAGE_SIZE - 1].comment.id if len(items) > PAGE_SIZE else None,
            "here": call.request.url.path
            + (f"?{call.request.url.query}" if call.request.url.query else ""),
            "undo": params.get("undo", ""),
        },
    )


@admin_page
async def act(call: AdminCall) -> Response:
    """One action on the checked comments, or (a row's own button, `one=action:id`) on one."""
    site_id = await _site_id(call)
    one = call.field("one")
    if one:
        action, _, raw_id = one.partition(":")
        ids = [parse_number(raw_id, "comment")]
    else:
        action = call.field("action")
        ids = [parse_number(raw, "comment") for raw in call.fields("id")]
    changed, undo = await moderating.set_status_undoably(
        call.context.storage, call.admin, site_id, ids, action
    )
    call.context.outbox.wake()  # approved ones are news for subscribers
    done = {"done": action, "n": len(changed), **({"undo": undo} if undo else {})}
    return call.back(f"/admin/sites/{site_id}/comments", **done)


@admin_page
async def empty_spam(call: AdminCall) -> Response:
    site_id = await _site_id(call)
    purged = await moderating.empty_spam(call.context.storage, call.admin, site_id)
    return call.back(f"/admin/sites/{site_id}/comments?status=spam", done="emptied", n=purged)


@admin_page
async def undo(call: AdminCall) -> Response:
    """The Undo beside the notice of the action just taken."""
    site_id = await _site_id(call)
    changed = await moderating.undo(call.context.storage, call.admin, site_id, call.field("undo"))
    call.context.outbox.wake()
    return call.back(f"/admin/sites/{site_id}/comments", done="undone", n=len(changed))


async def _comment_page(
    call: AdminCall, item: QueueItem, values: dict[str, str], errors: dict[str, str],
    status_code: int = 200, reply: dict[str, str] | None = None,
    reply_errors: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    return call.render(
        "admin/comment.html",
        {
            "title": f"Comment {item.comment.id}",
            "item": item,
            "site_id": item.site_id,
            "sites": await call.sites(),
            "errors": errors,
            "values": values,
            # A moderator's reply is signed with a name the readers see: the part of the
            # admin's address before the @ unless they type another.
            "reply": reply or {"name": call.admin.email.split("@")[0], "body": ""},
            "reply_errors": reply_errors or {},
            "here": call.request.url.path,
            "badge": await _badge(call, item),
        },
        status_code=status_code,
    )


async def _badge(call: AdminCall, item: QueueItem) -> str:
    """The badge the comment's account wears on its site: 'author', 'moderator' or ''."""
    if item.comment.user_id is None:
        return ""
    site = await get_site(call.context.storage, item.site_id)
    return badges_of(settings_of(site)).get(item.comment.user_id, "")


@admin_page
async def comment_page(call: AdminCall) -> Response:
    comment_id = number_param(call, "comment_id", "comment")
    item = await moderating.comment_for(call.context.storage, call.admin, comment_id)
    c = item.comment
    return await _comment_page(
        call, item, {"body": c.body_source, "name": c.author_name, "website": c.author_url}, {}
    )


@admin_page
async def edit(call: AdminCall) -> Response:
    comment_id = number_param(call, "comment_id", "comment")
    try:
        await moderating.edit(
            call.context.storage, call.admin, comment_id, dict(call.form),
            call.context.settings.max_body_chars, call.context.render_workers,
        )  # fmt: skip
    except Invalid as error:
        item = await moderating.comment_for(call.context.storage, call.admin, comment_id)
        values = {key: call.field(key) for key in ("body", "name", "website")}
        errors = error.fields or {"body": error.message}
        return await _comment_page(call, item, values, errors, error.status)
    return call.back(f"/admin/comments/{comment_id}", done="saved")


@admin_page
async def reply(call: AdminCall) -> Response:
    """Answer a comment as a moderator, from its page in the admin."""
    comment_id = number_param(call, "comment_id", "comment")
    try:
        posted = await moderating.reply(
            call.context.storage, call.admin, comment_id, dict(call.form),
            call.context.settings.max_body_chars, call.context.render_workers,
        )  # fmt: skip
    except Invalid as error:
        item = await moderating.comment_for(call.context.storage, call.admin, comment_id)
        c = item.comment
        values = {"body": c.body_source, "name": c.author_name, "website": c.author_url}
        reply = {key: call.field(key) for key in ("body", "name")}
        return await _comment_page(
            call, item, values, {}, error.status, reply, error.fields or {"body": error.message}
        )
    call.context.outbox.wake()  # subscribers of the thread hear of the answer
    return call.back(f"/admin/comments/{posted.id}", done="replied")


@admin_page
async def pin(call: AdminCall) -> Response:
    comment_id = number_param(call, "comment_id", "comment")
    pinned = call.field("pinned") == "1"
    await moderating.set_pinned(call.context.storage, call.admin, comment_id, pinned)
    return call.back(f"/admin/comments/{comment_id}", done="pinned" if pinned else "unpinned")


@admin_page
async def badge(call: AdminCall) -> Response:
    """The Author or Moderator badge for the account that wrote a comment, on its site."""
    comment_id = number_param(call, "comment_id", "comment")
    given = await moderating.set_badge(
        call.context.storage, call.admin, comment_id, call.field("badge")
    )
    return call.back(f"/admin/comments/{comment_id}", done=f"badge_{given or 'none'}")


@admin_page
async def close_thread(call: AdminCall) -> Response:
    comment_id = number_param(call, "comment_id", "comment")
    closed = call.field("closed") == "1"
    await moderating.set_closed(call.context.storage, call.admin, comment_id, closed)
    return call.back(f"/admin/comments/{comment_id}", done="closed" if closed else "opened")


@admin_page
async def ban_author(call: AdminCall) -> Response:
    """Ban what identifies this comment's author (account, email or network) on its site, and
    take the comment for spam."""
    comment_id = number_param(call, "comment_id", "comment")
    item = await moderating.comment_for(call.context.storage, call.admin, comment_id)
    kind = call.field("kind")
    if kind not in ("user", "email", "network"):
        raise Invalid("Ban by user, email or network.")
    value = moderating.ban_for(item.comment, kind)  # type: ignore[arg-type]
    note = f"from comment {comment_id}"
    await moderating.add_ban(call.context.storage, call.admin, item.site_id, kind, value, note)
    await moderating.set_status(
        call.context.storage, call.admin, item.site_id, [comment_id], "spam"
    )
    return call.back(f"/admin/comments/{comment_id}", done="banned")


routes = [
    Route("/admin/sites/{site}/comments", queue, methods=["GET"]),
    Route("/admin/sites/{site}/comments", act, methods=["POST"]),
    Route("/admin/sites/{site}/comments/undo", undo, methods=["POST"]),
    Route("/admin/sites/{site}/comments/empty-spam", empty_spam, methods=["POST"]),
    Route("/admin/comments/{comment_id}", comment_page, methods=["GET"]),
    Route("/admin/comments/{comment_id}", edit, methods=["POST"]),
    Route("/admin/comments/{comment_id}/badge", badge, methods=["POST"]),
    Route("/admin/comments/{comment_id}/pin", pin, methods=["POST"]),
    Route("/admin/comments/{comment_id}/reply", reply, methods=["POST"]),
    Route("/admin/comments/{comment_id}/thread", close_thread, methods=["POST"]),
    Route("/admin/comments/{comment_id}/ban", ban_author, methods=["POST"]),
]
