"""Email subscriptions as their owners change them, from the links in the emails.

A subscription starts unconfirmed (double opt-in): the first email asks to confirm it, and
nothing else is sent until then. Every later email carries a one-click unsubscribe link.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from widget.records import PostSubscription, Subscription
from widget.storage import Storage

__all__ = ["Scope", "confirm", "confirm_new_posts", "unsubscribe", "unsubscribe_new_posts"]

Scope = Literal["thread", "replies"]  # every new comment of the thread, or replies only


async def confirm(storage: Storage, subscription_id: int, scope: Scope) -> None:
    """Confirming again (a second click) only sets the scope chosen last."""
    await storage.confirm_subscription(subscription_id, scope, datetime.now(UTC))


async def unsubscribe(storage: Storage, subscription_id: int) -> None:
    """A link pressed twice, or after the subscription went, is done already: no error."""
    await storage.unsubscribe(Subscription, subscription_id)


async def confirm_new_posts(storage: Storage, subscription_id: int) -> bool:
    """Start a subscription to a site's new posts; False when it is gone. Confirming again
    changes nothing."""
    return await storage.confirm_post_subscription(subscription_id, datetime.now(UTC)) is not None


async def unsubscribe_new_posts(storage: Storage, subscription_id: int) -> None:
    """A link pressed twice, or after the subscription went, is done already: no error."""
    await storage.unsubscribe(PostSubscription, subscription_id)
