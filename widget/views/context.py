"""What every view reaches through `request.app.state`: the parts `create_app` built."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request

from widget.auth.admins import AdminAuth
from widget.auth.email_link import EmailSignIn
from widget.auth.passkeys import Passkeys
from widget.auth.signin import SignIn
from widget.auth.tokens import TokenSigner
from widget.comments import Client, Posting
from widget.config import Settings
from widget.live import EventHub
from widget.lru import LruCache
from widget.messages import said
from widget.metrics import Metrics
from widget.moderation.akismet import Akismet
from widget.notify.new_posts import FeedPoller
from widget.notify.outbox import Outbox
from widget.outbound import Outbound
from widget.records import GuestLikeLimit, RateLimit, Site
from widget.render_workers import RenderWorkers
from widget.sites import settings_of
from widget.storage import Storage

from .addresses import network_digest, rate_limit_key
from .assets import Assets
from .html import HtmlRenderer
from .inputs import remote_address

__all__ = ["AppContext", "app_context"]

LIKE_RATE_PER_MINUTE = 60


CACHE_ENTRIES = 4096


@dataclasses.dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    storage: Storage
    signer: TokenSigner
    assets: Assets
    html: HtmlRenderer
    events: EventHub
    sign_in: SignIn
    akismet: Akismet | None
    admin: AdminAuth
    outbox: Outbox
    feed_poller: FeedPoller  # reads sites' feeds, to email their new posts
    outbound: Outbound  # every request to another server goes through it
    render_workers: RenderWorkers
    metrics: Metrics
    # The counts API's checked questions and its answers' bytes (see views.api.counts).
    count_queries: LruCache[bytes, Any] = dataclasses.field(
        default_factory=lambda: LruCache(CACHE_ENTRIES)
    )
    count_bodies: LruCache[tuple[Any, ...], Any] = dataclasses.field(
        default_factory=lambda: LruCache(CACHE_ENTRIES)
    )
    # Each query string's last answer, with the storage's cache stamp it was built at.
    count_answers: LruCache[bytes, Any] = dataclasses.field(
        default_factory=lambda: LruCache(CACHE_ENTRIES)
    )
    # Each iframe document's (path, query string) last answer (views.embed.kept_documents).
    document_answers: LruCache[tuple[str, bytes], Any] = dataclasses.field(
        default_factory=lambda: LruCache(CACHE_ENTRIES)
    )

    @property
    def email_sign_in(self) -> EmailSignIn:
        return EmailSignIn(self.settings, self.storage, self.signer, self.outbox.planner)

    @property
    def passkeys(self) -> Passkeys:
        return Passkeys(self.settings, self.storage, self.signer)

    @property
    def posting(self) -> Posting:
        return Posting(
            self.storage, self.signer, self.render_workers, self.akismet,
            self.settings.max_body_chars, self.settings.post_rate_per_minute,
            self.settings.mail_enabled,
        )  # fmt: skip

    def client(self, request: Request, lang: str) -> Client:
        """The sender of `request`, as the posting rules see them."""
        address = remote_address(request, self.settings)
        return Client(
            address,
            rate_limit_key(address),
            user_agent=request.headers.get("user-agent", ""),
            referrer=request.headers.get("referer", ""),
            lang=lang,
        )

    def edit_rate_limit(self, address_key: str) -> RateLimit:
        """Each edit is rendered again: edits count apart from posts, at the same rate."""
        rate = self.settings.post_rate_per_minute
        return RateLimit(f"edit:{address_key}", rate, 60.0, too_fast=said("error_editing_too_fast"))

    def like_rate_limit(self, address_key: str) -> RateLimit:
        return RateLimit(f"like:{address_key}", LIKE_RATE_PER_MINUTE, 60.0)

    def guest_like_limit(self, site: Site, address_key: str) -> GuestLikeLimit:
        """How many guest likes of one comment the network of `address_key` can give."""
        limit = settings_of(site).guest_likes_per_network
        key = "error_guest_likes_sign_in" if self.sign_in.providers else "error_guest_likes"
        return GuestLikeLimit(
            network_digest(self.settings.secret_key, address_key),
            limit,
            said(key, limit=limit),
        )


def app_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.widget
    return context
