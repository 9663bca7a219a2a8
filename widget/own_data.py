"""A commenter's own data: everything they wrote, to download, and to erase.

Signed in, a person acts as their account (its comments, and the account itself). A guest
proves an email address by a link sent to it, and acts on every comment written under it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from widget.records import QueueItem, User
from widget.storage import Storage

__all__ = ["export", "export_filename"]

FORMAT = "widget-comments/1"


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
        }  # fmt: skip
    else:
        document["email"] = email
    return document


def export_filename() -> str:
    return f"my-comments-{datetime.now(UTC):%Y-%m-%d}.json"
