"""Whether a new comment is published at once, held for a moderator, or taken for spam.

Nothing a visitor posts is thrown away once it is acknowledged: doubtful comments are held
("pending") and likely spam is kept as "spam", both out of sight until a moderator looks. Only
three things refuse a comment outright, with a message, before anything is stored: a form that
is not ours (or too old), a form posted faster than a person reads and writes, and a form that
has already posted a comment.

A form's token posts one comment. A token a script fetched once cannot be replayed, in a loop
or from many machines at once: each comment needs a token of its own, from a page opened at
least the minimum time before, or from the answer to the comment before it (which is how a
reader's frame posts again without a reload; without JavaScript the answer is a fresh page).
A short life for tokens would add little: a script fetches a fresh page as easily as an old
one, while a person who leaves a page open overnight would lose their comment.

The iframe document is the same bytes for all its readers (it is cached and revalidated), so
the token in its form is shared: it posts one comment per reader's network (the rate-limit
key), and its minimum time counts from when the document was made. The frame's script swaps
it at once for a token of this reader's own (from the live stream's hello or `/api/v1/me`),
which keeps the rules above; the shared one serves readers without JavaScript.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from widget.auth.tokens import BadToken, Purpose, TokenSigner
from widget.errors import BadRequest, Forbidden, Invalid
from widget.moderation.akismet import Akismet, AkismetQuestion
from widget.records import Ban, CommentStatus, PageRef, SingleUse, User
from widget.sites import SiteSettings, badges_of
from widget.storage import Storage

__all__ = [
    "CheckedForm",
    "Verdict",
    "assess",
    "check_form_token",
    "fingerprint",
    "new_form_token",
]

DUPLICATE_WINDOW = timedelta(hours=24)
_LINK = re.compile(r"<a\s", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class Verdict:
    status: CommentStatus
    reasons: tuple[str, ...] = ()

    @property
    def because(self) -> str:
        return "; ".join(self.reasons)


@dataclasses.dataclass(frozen=True, slots=True)
class CheckedForm:
    """A reply form's token that passed the checks."""

    use: SingleUse  # spent by the comment the form posts
    opened_at: datetime  # when the reader opened the page the form is on


def new_form_token(
    signer: TokenSigner, page: PageRef, opened_at: datetime | None = None, *, shared: bool = False
) -> str:
    """The token of a reply form on `page`, good for one comment (its id is the "n"); a
    `shared` one (in a cached document) for one comment per reader's network.

    The token an answer brings for the next comment keeps `opened_at`, when the page was
    opened: a reader writing again on the same page has been there since, so the minimum time
    counts from then, as it would on a page opened at that moment.
    """
    value: dict[str, str | int] = {
        "s": page.site_id,
        "p": page.page_id,
        "n": secrets.token_urlsafe(16),
    }
    if opened_at is not None:
        value["o"] = int(opened_at.timestamp())
    if shared:
        value["d"] = 1
    return signer.sign(Purpose.FORM, value)


def check_form_token(
    signer: TokenSigner,
    token: str,
    page: PageRef,
    min_seconds: int,
    now: datetime | None = None,
    *,
    reader: str = "",
) -> CheckedForm:
    """The form must be one this server handed out for this page, and not just now: people
    read and type for more than `min_seconds`; scripts do not. Its single use is for the
    comment to spend as it is stored; a shared token's is per `reader` (a rate-limit key)."""
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
    if not isinstance(value, dict) or not isinstance(value.get("n"), str):
        raise Forbidden("This form is not valid; reload the page and try again.")
    if (value.get("s"), value.get("p")) != (page.site_id, page.page_id):
        raise Forbidden("This form belongs to another page; reload the page and try again.")
    opened_at = (
        datetime.fromtimestamp(value["o"], UTC) if isinstance(value.get("o"), int) else issued
    )
    if ((now or datetime.now(UTC)) - opened_at).total_seconds() < min_seconds:
        raise Invalid(
            "That was quick! Read your comment over and post it again in a few seconds.",
            {"body": "Posted too quickly after the page opened; post it again in a moment."},
        )
    token_id = value["n"]
    if value.get("d") == 1:
        token_id = f"{token_id}:{reader}"
    use = SingleUse(
        token_id=token_id,
        expires_at=issued + timedelta(seconds=Purpose.FORM.max_age_s),
        used="This form has already posted a comment. Reload the page to write another.",
    )
    return CheckedForm(use, opened_at)


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
    if user is not None and user.id in badges_of(settings):
        return Verdict("approved")  # the site's own authors and moderators answer at once
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
