"""A commenter's own data: everything they wrote, to download, and to erase.

Signed in, a person acts as their account (its comments, and the account itself). A guest
proves an email address by a link sent to it, and acts on every comment written under it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from widget.email_address import email_field
from widget.errors import Invalid
from widget.messages import said
from widget.notify.plan import NotificationPlanner
from widget.records import Passkey, QueueItem, RateLimit, User
from widget.sites import forget_account
from widget.storage import Storage

__all__ = ["erase", "export", "export_filename", "send_link"]

FORMAT = "widget-comments/1"
LINKS_PER_ADDRESS_PER_HOUR = 3
LINKS_PER_NETWORK_PER_HOUR = 10
# And per day: three an hour, kept up from networks of one's own, mailed 72 links a day to
# someone who once commented.
LINKS_PER_ADDRESS_PER_DAY = 6


def _comment(item: QueueItem) -> dict[str, Any]:
    c = item.comment
    return {
        "id": c.id,
        "site": item.site_id,
        "page": {"id": item.page_id, "url": item.url, "title": item.title},
        "parent": c.parent_id,
        "status": c.status,
        "created_at": c.created_at.isoformat(),
        "edited_at": c.edited_at.isoformat() if c.edited_at else None,
        "name": c.author_name,
        "email": c.author_email,
        "website": c.author_url,
        "ip_address": c.remote_ip,
        "text": c.body_source,
        "html": c.body_html,
        "likes": c.like_count,
        "notify": c.notify,
    }


def _passkey(passkey: Passkey) -> dict[str, Any]:
    """What a person recognises a passkey by; its public key would tell them nothing."""
    used = passkey.last_used_at
    return {
        "name": passkey.name,
        "created_at": passkey.created_at.isoformat(timespec="seconds"),
        "last_used_at": used.isoformat(timespec="seconds") if used else None,
    }


async def export(
    storage: Storage, *, email: str | None = None, user: User | None = None
) -> dict[str, Any]:
    """Everything stored about what one person wrote, as one JSON document."""
    items = await storage.author_comments(email, user.id if user else None)
    document: dict[str, Any] = {
        "format": FORMAT,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "comments": [_comment(item) for item in items],
    }
    if user is not None:
        document["account"] = {
            "provider": user.provider, "name": user.name, "email": user.email,
            "avatar_url": user.avatar_url, "profile_url": user.profile_url,
            "passkeys": [_passkey(p) for p in await storage.list_passkeys(user.id)],
        }  # fmt: skip
    else:
        document["email"] = email
    return document


def export_filename() -> str:
    return f"my-comments-{datetime.now(UTC):%Y-%m-%d}.json"


async def erase(storage: Storage, *, email: str | None = None, user: User | None = None) -> int:
    """Erase what one person wrote (a guest's email address, or an account and its comments).
    Returns how many comments went; a comment with replies stays as a removed placeholder.
    An account's badges and bans go too."""
    erased = await storage.erase_author(email, user.id if user else None)
    if user is not None:
        await forget_account(storage, user.id)
    return erased


async def send_link(
    storage: Storage,
    planner: NotificationPlanner,
    email: str,
    address_key: str,
    lang: str = "en",
) -> bool:
    """Queue an email (in `lang`) with a link to what was written under `email`, if anything
    was; True if one was queued. Callers answer the same either way, so that nobody learns
    from the form whether an address commented here. Counted per network and per address
    before looking."""
    if not email.strip():
        message = said("error_data_email_empty")
        raise Invalid(message, {"email": message})
    email = email_field(email).lower()
    too_many = said("error_too_many_links")
    await storage.take_rate_limits(
        [
            RateLimit(f"data-link:{address_key}", LINKS_PER_NETWORK_PER_HOUR, 3600.0, too_many),
            RateLimit(f"data-link:{email}", LINKS_PER_ADDRESS_PER_HOUR, 3600.0, too_many),
            RateLimit(f"data-link-day:{email}", LINKS_PER_ADDRESS_PER_DAY, 24 * 3600.0, too_many),
        ],
        datetime.now(UTC),
    )
    if not await storage.author_comments(email, None):
        return False
    await storage.add_jobs([planner.own_data_mail(email, lang)], datetime.now(UTC))
    return True
