"""Whether a new comment is published at once, held for a moderator, or taken for spam.

Nothing a visitor posts is thrown away once it is acknowledged: doubtful comments are held
("pending") and likely spam is kept as "spam", both out of sight until a moderator looks. Only
two things refuse a comment outright, with a message, before anything is stored: a form that is
not ours (or too old), and a form posted faster than a person reads and writes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from widget.akismet import Akismet, AkismetQuestion
from widget.auth.tokens import BadToken, Purpose, TokenSigner
from widget.errors import BadRequest, Forbidden, Invalid
from widget.sites import SiteSettings
from widget.storage import Ban, CommentStatus, PageRef, Storage, User

__all__ = ["Verdict", "assess", "check_form_token", "fingerprint"]

DUPLICATE_WINDOW = timedelta(hours=24)
_LINK = re.compile(r"<a\s", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    status: CommentStatus
    reasons: tuple[str, ...] = ()

    @property
    def because(self) -> str:
        return "; ".join(self.reasons)


def check_form_token(
    signer: TokenSigner, token: str, page: PageRef, min_seconds: int, now: datetime | None = None
) -> None:
    """The form must be one this server handed out for this page, and not just now: people
    read and type for more than `min_seconds`; scripts do not."""
    if not token:
        raise BadRequest("This comment did not come from the comment form; reload the page.")
    try:
        value, issued = signer.verify_timed(Purpose.FORM, token)
    except BadToken as exc:
        if exc.expired:
            raise Forbidden(
                "This form was open for too long. Your comment is still here: post it again."
            ) from exc
        raise Forbidden("This form is not valid; reload the page and try again.") from exc
    if value != {"s": page.site_id, "p": page.page_id}:
        raise Forbidden("This form belongs to another page; reload the page and try again.")
    age = ((now or datetime.now(UTC)) - issued).total_seconds()
    if age < min_seconds:
        raise Invalid(
            "That was quick! Read your comment over and post it again in a few seconds.",
            {"body": "Posted too quickly after the page opened; post it again in a moment."},
        )


def fingerprint(body: str) -> str:
    """The same words, whatever the case and spacing: for spotting a repeated comment."""
    normal = " ".join(body.lower().split())
    return hashlib.sha256(normal.encode()).hexdigest()[:32]


def _banned(bans: list[Ban], user: User | None, email: str, remote_ip: str) -> Ban | None:
    try:
        address = ipaddress.ip_address(remote_ip)
    except ValueError:
        address = None
    for ban in bans:
        if ban.kind == "user" and user is not None and ban.value == str(user.id):
            return ban
        if ban.kind == "email" and email and ban.value == email.lower():
            return ban
        if ban.kind == "network" and address is not None:
            try:
                if address in ipaddress.ip_network(ban.value, strict=False):
                    return ban
            except ValueError:
                continue
    return None


def _blocked_words(settings: SiteSettings, *texts: str) -> list[str]:
    words = [w.strip().lower() for w in settings.blocked_words.split(",") if w.strip()]
    haystack = " ".join(texts).lower()
    return [word for word in words if word in haystack]


async def assess(
    storage: Storage,
    settings: SiteSettings,
    page: PageRef,
    *,
    body: str,
    body_html: str,
    author_name: str,
    author_email: str,
    author_url: str,
    user: User | None,
    remote_ip: str,
    honeypot: str,
    akismet: Akismet | None,
    context: dict[str, Any],
    now: datetime,
) -> Verdict:
    """The status a new comment starts with, and why (shown to moderators)."""
    bans = await storage.list_bans(page.site_id)
    ban = _banned(bans, user, author_email, remote_ip)
    if ban is not None:
        return Verdict("spam", (f"banned {ban.kind} {ban.value}",))
    if honeypot.strip():
        return Verdict("spam", ("filled in the field people cannot see",))
    reasons: list[str] = []
    if akismet is not None:
        answer = await akismet.check(
            AkismetQuestion(
                user_ip=remote_ip, user_agent=context.get("user_agent", ""),
                referrer=context.get("referrer", ""), permalink=page.url,
                comment_type="reply" if context.get("reply") else "comment", author=author_name,
                author_email=author_email, author_url=author_url, content=body,
                lang=context.get("lang", ""),
            )
        )  # fmt: skip
        if answer == "spam":
            return Verdict("spam", ("Akismet says spam",))
        if answer == "unknown":
            reasons.append("Akismet could not be asked")
    links = len(_LINK.findall(body_html))
    if links > settings.max_links:
        reasons.append(
            f"{links} links (more than {settings.max_links})"
            if links > 1
            else f"a link (more than {settings.max_links})"
        )
    words = _blocked_words(settings, body, author_name, author_email, author_url)
    if words:
        reasons.append("blocked words: " + ", ".join(words))
    history = await storage.author_history(
        page.site_id, author_email, user.id if user else None, fingerprint(body),
        now - DUPLICATE_WINDOW,
    )  # fmt: skip
    if history.recent_duplicate:
        reasons.append("the same text was posted in the last 24 hours")
    if settings.moderation == "all":
        reasons.append("every comment is moderated on this site")
    elif settings.moderation == "first" and not history.has_approved_comment:
        reasons.append("first comment of this commenter")
    return Verdict("pending", tuple(reasons)) if reasons else Verdict("approved")
