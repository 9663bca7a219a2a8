"""What moderators do: look through comments, change their status, edit, ban, pin and close.

Every action is limited to the sites the admin manages; a comment of another site is as absent
as one that does not exist.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal

from widget import comments
from widget.email_address import email_field
from widget.errors import Invalid, NotFound
from widget.moderation import screening
from widget.records import (
    Admin,
    Ban,
    Comment,
    CommentStatus,
    NewComment,
    PageRef,
    QueueItem,
    QueueQuery,
    ThreadHead,
)
from widget.refusals import worded
from widget.render_workers import RenderWorkers
from widget.sites import change_site_settings, get_site, settings_of
from widget.storage import Storage

__all__ = [
    "ACTIONS",
    "EMAILED_ACTIONS",
    "act_from_email",
    "add_ban",
    "ban_for",
    "check_ban",
    "comment_for",
    "edit",
    "empty_spam",
    "list_comments",
    "remove_ban",
    "reply",
    "set_badge",
    "set_closed",
    "set_pinned",
    "set_status",
    "set_status_undoably",
    "undo",
]

# A moderator's action on comments, and the status it leaves them in.
ACTIONS: dict[str, CommentStatus] = {
    "approve": "approved",
    "unapprove": "pending",  # back to the queue, off the page
    "spam": "spam",
    "delete": "deleted",
    "restore": "approved",
}
# The action that puts a comment back in each status (for Undo).
BACK_TO: dict[CommentStatus, str] = {
    "pending": "unapprove", "approved": "approve", "spam": "spam", "deleted": "delete",
}  # fmt: skip
MAX_UNDO = 100  # comments one Undo can put back (its list travels in the page's address)
# What a moderator's email offers, with the signed link itself as the authority.
EMAILED_ACTIONS: dict[str, CommentStatus] = {"approve": "approved", "delete": "deleted"}
# Who wrote a moderator's reply, as comments record it (in place of a sign-in provider).
MODERATOR = "moderator"
STATUSES: tuple[CommentStatus, ...] = ("pending", "approved", "spam", "deleted")
MAX_BULK = 500  # comments in one bulk action: a page of the queue is at most 200
IPV4_BAN_PREFIX = 32
IPV6_BAN_PREFIX = 64  # one IPv6 subscriber usually holds a whole /64


async def list_comments(storage: Storage, query: QueueQuery) -> list[QueueItem]:
    if not query.site_ids:
        return []
    return await storage.list_queue(query)


async def set_status(
    storage: Storage, admin: Admin, site_id: str, ids: Sequence[int], action: str
) -> list[Comment]:
    if action not in ACTIONS:
        raise Invalid(f"There is no action {action!r}; use one of {', '.join(ACTIONS)}.")
    if not ids:
        raise Invalid("Select at least one comment first.")
    if len(ids) > MAX_BULK:
        raise Invalid(f"Select at most {MAX_BULK} comments at once.")
    _check_site(admin, site_id)
    return await storage.set_status(ids, ACTIONS[action], [site_id])


async def set_status_undoably(
    storage: Storage, admin: Admin, site_id: str, ids: Sequence[int], action: str
) -> tuple[list[Comment], str]:
    """`set_status`, and what puts the changed comments back: "ID:status,…" ("" when too
    many changed for one Undo)."""
    before: dict[int, CommentStatus] = {}
    if len(ids) <= MAX_UNDO:
        for comment_id in ids:
            comment = await storage.get_comment(comment_id)
            if comment is not None:
                before[comment.id] = comment.status
    changed = await set_status(storage, admin, site_id, ids, action)
    undo = ",".join(f"{c.id}:{before[c.id]}" for c in changed if c.id in before)
    return changed, undo if len(before) == len(ids) else ""


async def undo(storage: Storage, admin: Admin, site_id: str, raw: str) -> list[Comment]:
    """Put comments back in the statuses `raw` ("ID:status,…", from set_status_undoably)."""
    groups: dict[CommentStatus, list[int]] = {}
    for pair in raw.split(","):
        raw_id, _, status = pair.partition(":")
        if not (raw_id.isascii() and raw_id.isdigit()) or len(raw_id) > 18 or status not in BACK_TO:
            raise Invalid("There is nothing to undo here.")
        groups.setdefault(status, []).append(int(raw_id))
    if sum(len(ids) for ids in groups.values()) > MAX_UNDO:
        raise Invalid(f"Undo puts back at most {MAX_UNDO} comments.")
    changed: list[Comment] = []
    for status, ids in groups.items():
        changed += await set_status(storage, admin, site_id, ids, BACK_TO[status])
    return changed


async def comment_for(storage: Storage, admin: Admin, comment_id: int) -> QueueItem:
    """A comment an admin may act on, with its page; NotFound for any other."""
    comment = await storage.get_comment(comment_id)
    head = await storage.get_thread(comment.thread_id) if comment else None
    if comment is None or head is None or not admin.may_manage(head.site_id):
        raise NotFound("There is no such comment on the sites you manage.")
    return QueueItem(comment, head.site_id, head.page_id, head.url, head.title, head.closed)


async def edit(
    storage: Storage,
    admin: Admin,
    comment_id: int,
    raw: dict[str, str],
    max_body_chars: int,
    renderer: RenderWorkers,
) -> Comment:
    """A moderator's edit: the text is rendered and sanitised like the author's own, within
    the same time limit."""
    item = await comment_for(storage, admin, comment_id)
    fields: dict[str, str] = {key: raw[key] for key in ("body", "name", "website") if key in raw}
    if item.comment.user_id is not None:  # a signed-in author's name is their account's
        fields.pop("name", None)
        fields.pop("website", None)
    form = comments.check_edit_form(fields, max_body_chars)
    body_html = await comments.render_body(renderer, form.body)
    with worded():
        return await storage.moderate_edit(
            comment_id,
            form.body,
            body_html,
            form.name if form.name is not None else item.comment.author_name,
            form.website if form.website is not None else item.comment.author_url,
            datetime.now(UTC),
        )


async def reply(
    storage: Storage,
    admin: Admin,
    comment_id: int,
    raw: dict[str, str],
    max_body_chars: int,
    renderer: RenderWorkers,
) -> Comment:
    """A moderator's answer to a comment: published at once, under the moderator's name, with
    the Moderator badge (author_provider MODERATOR, which no sign-in provider may be called)."""
    item = await comment_for(storage, admin, comment_id)
    if item.comment.status != "approved":
        raise Invalid("Approve this comment first: readers would see a reply to nothing.")
    form = comments.check_edit_form(
        {"body": raw.get("body", ""), "name": raw.get("name", "")}, max_body_chars
    )
    site = await storage.get_site(item.site_id)
    if site is None:
        raise NotFound("There is no such comment on the sites you manage.")
    page = PageRef(item.site_id, item.page_id, item.url, item.title)
    parent_id = await comments.reply_target(storage, page, comment_id, settings_of(site).max_depth)
    new = NewComment(
        page=page, parent_id=parent_id, author_name=form.name or MODERATOR,
        author_email=admin.email, author_url="", body_source=form.body,
        body_html=await comments.render_body(renderer, form.body), notify=False,
        remote_ip="", created_at=datetime.now(UTC), author_provider=MODERATOR,
        fingerprint=screening.fingerprint(form.body),
    )  # fmt: skip
    with worded():
        comment, _ = await storage.add_comment(new, None)
    return comment


async def act_from_email(
    storage: Storage, comment: Comment, head: ThreadHead, action: str
) -> CommentStatus:
    """Approve or delete a comment from the buttons of a moderator's email."""
    status = EMAILED_ACTIONS[action]
    await storage.set_status([comment.id], status, [head.site_id])
    return status


async def empty_spam(storage: Storage, admin: Admin, site_id: str) -> int:
    """Delete a site's spam for good (WordPress's "Empty Spam"): how many comments went."""
    _check_site(admin, site_id)
    return await storage.purge_spam([site_id])


async def set_pinned(storage: Storage, admin: Admin, comment_id: int, pinned: bool) -> Comment:
    """A pinned comment leads its thread, whatever the order."""
    await comment_for(storage, admin, comment_id)
    return await storage.set_pinned(comment_id, pinned)


async def set_closed(storage: Storage, admin: Admin, comment_id: int, closed: bool) -> ThreadHead:
    """Close (or reopen) the thread `comment_id` is in: closed threads take no new comments."""
    item = await comment_for(storage, admin, comment_id)
    return await storage.set_closed(item.comment.thread_id, closed)


async def set_badge(
    storage: Storage, admin: Admin, comment_id: int, badge: str
) -> Literal["author", "moderator", ""]:
    """Give the account that wrote `comment_id` the site's Author or Moderator badge (or take
    it away: ''). The badge shows on all of the account's comments on the site, and its new
    comments are published at once (site settings author_accounts, moderator_accounts)."""
    if badge not in {"author", "moderator", ""}:
        raise Invalid("Choose Author, Moderator or no badge.", {"badge": "Choose a badge."})
    item = await comment_for(storage, admin, comment_id)
    user_id = item.comment.user_id
    if user_id is None:
        raise Invalid(
            "Badges go to signed-in accounts; a guest's name is anyone's to type.",
            {"badge": "This comment was written by a guest."},
        )
    site = await get_site(storage, item.site_id)
    settings = settings_of(site)
    changed = {}
    for name, wanted in (("author_accounts", "author"), ("moderator_accounts", "moderator")):
        ids = [int(part) for part in getattr(settings, name).split(",") if part.strip()]
        ids = [other for other in ids if other != user_id]
        if badge == wanted:
            ids.append(user_id)
        changed[name] = ", ".join(map(str, ids))
    await change_site_settings(storage, item.site_id, changed)
    return badge  # type: ignore[return-value]


def ban_for(comment: Comment, kind: Literal["user", "email", "network"]) -> str:
    """What to ban to keep this comment's author out: their account, email or network."""
    if kind == "user":
        if comment.user_id is None:
            raise Invalid("This comment's author was not signed in; ban their email instead.")
        return str(comment.user_id)
    if kind == "email":
        if not comment.author_email:
            raise Invalid("This comment has no email address to ban.")
        return comment.author_email  # check_ban, which every ban goes through, lower-cases it
    try:
        address = ipaddress.ip_address(comment.remote_ip)
    except ValueError:
        raise Invalid("This comment has no IP address on record.") from None
    prefix = IPV4_BAN_PREFIX if address.version == 4 else IPV6_BAN_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def check_ban(kind: str, value: str) -> tuple[Literal["user", "email", "network"], str]:
    """A ban typed in by hand: an email address, an IP address or network, or a user id."""
    value = value.strip()
    if kind == "email":
        return "email", email_field(value, "value").lower()
    if kind == "network":
        try:
            return "network", str(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise Invalid(
                f"{value!r} is not an IP address or network (such as 203.0.113.0/24).",
                {"value": "An IP address or network."},
            ) from None
    if kind == "user":
        if not (value.isascii() and value.isdigit()) or len(value) > 18:
            raise Invalid(f"{value!r} is not a user number.", {"value": "A user number."})
        return "user", value
    raise Invalid(f"There is no kind of ban {kind!r}; use email, network or user.")


async def add_ban(
    storage: Storage, admin: Admin, site_id: str | None, kind: str, value: str, note: str
) -> Ban:
    """Ban on one site, or (for admins of every site) on every site with `site_id` None."""
    if site_id is None:
        if admin.sites is not None:
            raise Invalid("Only an admin of every site can ban on every site.")
    else:
        _check_site(admin, site_id)
    checked_kind, checked_value = check_ban(kind, value)
    if len(note) > 500:
        raise Invalid("Keep the note under 500 characters.", {"note": "At most 500 characters."})
    return await storage.add_ban(
        site_id, checked_kind, checked_value, note.strip(), datetime.now(UTC)
    )


async def remove_ban(storage: Storage, admin: Admin, site_id: str, ban_id: int) -> None:
    """Lift a ban of `site_id`; an admin of every site may lift bans on every site too."""
    _check_site(admin, site_id)
    scope = None if admin.sites is None else [site_id]
    if not await storage.remove_ban(ban_id, scope):
        raise NotFound(
            "There is no such ban (or it is for every site, which only an admin of"
            " every site can lift)."
        )


def _check_site(admin: Admin, site_id: str) -> None:
    if not admin.may_manage(site_id):
        raise NotFound("There is no such site among those you manage.")
