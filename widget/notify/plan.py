"""Who is told of a comment, and how: the emails and webhook calls one "comment" job leads to.

A new comment that is published (or a held one once approved) goes to the thread's confirmed
subscribers (all of them, or those it replies to), and its author, when they asked to be told
of follow-ups or of the site's new posts, gets a confirmation email first (double opt-in; new
posts themselves are mailed by widget/notify/new_posts.py). The site's moderators hear of
every new comment, published or held; the site's webhook gets a JSON call. Spam tells nobody.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from widget.auth.tokens import Purpose, TokenSigner, row_mark
from widget.config import Settings
from widget.errors import RateLimited
from widget.records import Comment, NewJob, RateLimit, Site, Subscription, ThreadHead
from widget.sites import SiteSettings, settings_of
from widget.storage import Storage

from .mail import MailTemplates, header_text, plain_text
from .webhooks import webhook_body

__all__ = ["NotificationPlanner"]

# Confirmation emails one address gets, whatever the threads and sites (follow-ups and new posts
# together): each comment that ticked a box under an unconfirmed address asked again, so an
# address typed by someone else got one per comment, five a minute. Past this, a subscription
# stays unconfirmed and unmailed until a later comment asks again.
CONFIRMATIONS_PER_ADDRESS = 5
CONFIRMATIONS_PERIOD_S = 24 * 3600.0


class NotificationPlanner:
    def __init__(
        self, settings: Settings, storage: Storage, signer: TokenSigner, templates: MailTemplates
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.signer = signer
        self.templates = templates
        self._host = urlsplit(settings.public_url).hostname or "localhost"

    def link(self, path: str, purpose: Purpose | None = None, value: Any = None) -> str:
        url = self.settings.public_url + path
        if purpose is not None:
            url += "?token=" + self.signer.sign(purpose, value)
        return url

    def own_data_mail(self, email: str, lang: str = "en") -> NewJob:
        """The link that lets the owner of `email` download or erase what they wrote, in the
        language they asked in."""
        subject = self.templates.words(lang)("own_data")
        # The link's page speaks the language too.
        link = self.link("/data", Purpose.OWN_DATA, {"e": email, "l": lang})
        values = {"email": email, "link": link, "title": subject}
        mail = self.templates.mail("own_data", email, subject, values, lang=lang)
        return ("email", mail.to_payload())

    def sign_in_mail(self, email: str, token: str, lang: str = "en") -> NewJob:
        """The link that signs `email` in to comment (widget/auth/email_link.py), in the
        language they asked in."""
        subject = self.templates.words(lang)("mail_sign_in_button")
        values = {"email": email, "link": self.link("/auth/email/link") + "?token=" + token,
                  "server": self._host, "title": subject}  # fmt: skip
        mail = self.templates.mail("sign_in", email, subject, values, lang=lang)
        return ("email", mail.to_payload())

    async def plan(self, payload: Mapping[str, Any]) -> list[NewJob]:
        comment = await self.storage.get_comment(int(payload["comment"]))
        head = await self.storage.get_thread(comment.thread_id) if comment else None
        site = await self.storage.get_site(head.site_id) if head else None
        if comment is None or head is None or site is None or comment.status == "spam":
            return []  # gone, or taken for spam since: nobody is told
        site_settings = settings_of(site)
        event: Literal["created", "approved"] = payload["event"]
        jobs: list[NewJob] = []
        if event == "created" and self.settings.mail_enabled:
            jobs += self._moderator_mails(comment, head, site, site_settings)
        if site_settings.webhook_url:
            body = webhook_body(f"comment.{event}", site.id, head, comment)
            webhook = {"site": site.id, "url": site_settings.webhook_url, "body": body}
            jobs.append(("webhook", webhook))
        if comment.status == "approved" and self.settings.mail_enabled:
            jobs += await self._subscriber_mails(comment, head, site)
            jobs += await self._confirmation(comment, head, site)
            if site_settings.feed_url:
                jobs += await self._new_posts_confirmation(comment, head, site)
        return jobs

    def _values(self, comment: Comment, head: ThreadHead) -> dict[str, Any]:
        return {
            "title": header_text(head.title or head.page_id),
            "author": header_text(comment.author_name, 80),
            "text": plain_text(comment.body_html),
            "comment_link": self.link(f"/c/{comment.id}"),
        }

    def _moderator_mails(
        self, comment: Comment, head: ThreadHead, site: Site, site_settings: SiteSettings
    ) -> list[NewJob]:
        addresses = [a.strip() for a in site_settings.notify_emails.split(",") if a.strip()]
        if not addresses:
            return []
        held = comment.status != "approved"
        values = self._values(comment, head) | {
            "held": held,
            "why": comment.held_because,
            "email": comment.author_email,
            "address": comment.remote_ip,
            "approve_link": self.link(
                "/notify/moderate",
                Purpose.MODERATE,
                {"c": comment.id, "a": "approve", "r": row_mark(comment.created_at)},
            ),
            "delete_link": self.link(
                "/notify/moderate",
                Purpose.MODERATE,
                {"c": comment.id, "a": "delete", "r": row_mark(comment.created_at)},
            ),
            "admin_link": self.link(f"/admin/comments/{comment.id}"),
        }
        what = "A comment awaits moderation" if held else "New comment"
        subject = f"[{head.site_id}] {what} on “{values['title']}”"
        return [
            (
                "email",
                self.templates.mail(
                    "moderator", to, subject, values, sender_name=_name(site)
                ).to_payload(),
            )
            for to in addresses
        ]

    async def _subscriber_mails(
        self, comment: Comment, head: ThreadHead, site: Site
    ) -> list[NewJob]:
        subscriptions = await self.storage.subscribers(Subscription, head.id)
        if not subscriptions:
            return []
        parent = await self.storage.get_comment(comment.parent_id) if comment.parent_id else None
        replied_to = parent.author_email.lower() if parent and parent.author_email else None
        author = comment.author_email.lower()
        jobs: list[NewJob] = []
        for subscription in subscriptions:
            if subscription.email == author:
                continue  # nobody is told of their own comment
            is_reply = subscription.email == replied_to
            if subscription.scope == "replies" and not is_reply:
                continue
            unsubscribe = self.link(
                "/notify/unsubscribe",
                Purpose.UNSUBSCRIBE,
                {"s": subscription.id, "r": row_mark(subscription.email)},
            )
            values = self._values(comment, head) | {
                "is_reply": is_reply,
                "unsubscribe_link": unsubscribe,
            }
            # In the language the subscriber asked in ('' before it was kept: English).
            lang = subscription.lang or "en"
            what = "mail_reply_subject" if is_reply else "mail_comment_subject"
            subject = self.templates.words(lang)(what, title=values["title"])
            headers = {
                # RFC 8058: one click in the mail client unsubscribes, by a POST to this URL.
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                # RFC 2919: one list per site, so mail clients can sort and filter it.
                "List-Id": f"{_name(site)} comments <{site.id}.{self._host}>",
            }
            mail = self.templates.mail(
                "follow_up", subscription.email, subject, values, headers, _name(site), lang
            )
            jobs.append(("email", mail.to_payload()))
        return jobs

    async def _confirmation(self, comment: Comment, head: ThreadHead, site: Site) -> list[NewJob]:
        """The author asked to be told of follow-ups: make sure the address is theirs."""
        if not comment.notify or not comment.author_email:
            return []
        subscription = await self.storage.subscribe(
            head.id, comment.author_email, comment.created_at, comment.lang
        )
        if subscription.confirmed or not await self._may_ask(subscription.email):
            return []
        values = self._values(comment, head) | {
            "confirm_link": self.link(
                "/notify/confirm",
                Purpose.SUBSCRIBE,
                {"s": subscription.id, "r": row_mark(subscription.email)},
            ),
        }
        lang = subscription.lang or "en"
        subject = self.templates.words(lang)("mail_confirm_subject", title=values["title"])
        mail = self.templates.mail(
            "confirm", subscription.email, subject, values, sender_name=_name(site), lang=lang
        )
        return [("email", mail.to_payload())]

    async def _may_ask(self, email: str) -> bool:
        """Whether `email` may get one more confirmation email now (counted if so)."""
        limit = RateLimit(
            f"confirm-mail:{email.lower()}", CONFIRMATIONS_PER_ADDRESS, CONFIRMATIONS_PERIOD_S
        )
        try:
            await self.storage.take_rate_limits([limit], datetime.now(UTC))
        except RateLimited:
            return False
        return True

    async def _new_posts_confirmation(
        self, comment: Comment, head: ThreadHead, site: Site
    ) -> list[NewJob]:
        """The author asked to be told of the site's new posts: make sure the address is
        theirs. A signed-in author is asked too: providers do not all vouch for the address,
        and whoever can sign in is not always whoever reads that mailbox."""
        if not comment.notify_posts or not comment.author_email:
            return []
        subscription = await self.storage.subscribe_to_posts(
            site.id, comment.author_email, comment.created_at
        )
        if subscription.confirmed or not await self._may_ask(subscription.email):
            return []
        values = self._values(comment, head) | {
            "site": _name(site),
            "confirm_link": self.link(
                "/notify/posts/confirm",
                Purpose.POSTS_SUBSCRIBE,
                {"p": subscription.id, "r": row_mark(subscription.email)},
            ),
        }
        subject = f"Confirm: new posts of {values['site']} by email"
        mail = self.templates.mail(
            "confirm_posts", subscription.email, subject, values, sender_name=_name(site)
        )
        return [("email", mail.to_payload())]


def _name(site: Site) -> str:
    return header_text(site.name or site.id, 80)
