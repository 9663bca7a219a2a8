"""A site's webhook: a JSON POST for each new comment, signed with HMAC-SHA256.

The receiver checks `X-Widget-Signature: sha256=HEX`, the HMAC of `TIMESTAMP.BODY` (with the
`X-Widget-Timestamp` header's value) under the site's webhook key, which the admin's site page
shows and which is derived from the server's secret, so nothing more needs keeping.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from widget.outbound import Outbound, request_error
from widget.records import Comment, ThreadHead

from .mail import plain_text

__all__ = ["WebhookError", "Webhooks", "signature", "webhook_body", "webhook_key"]

TIMEOUT_S = 10.0


class WebhookError(Exception):
    pass


def webhook_key(secret_key: str, site_id: str) -> str:
    return hmac.new(secret_key.encode(), f"webhook:{site_id}".encode(), hashlib.sha256).hexdigest()


def signature(key: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def webhook_body(event: str, site_id: str, head: ThreadHead, comment: Comment) -> dict[str, Any]:
    """What the receiver learns: never the author's email or IP address."""
    return {
        "event": event,
        "site": site_id,
        "page": {"id": head.page_id, "url": head.url, "title": head.title},
        "comment": {
            "id": comment.id,
            "parent": comment.parent_id,
            "status": comment.status,
            "author": comment.author_name,
            "html": comment.body_html,
            "text": plain_text(comment.body_html),
            "created_at": comment.created_at.isoformat(),
        },
    }


class Webhooks:
    def __init__(self, secret_key: str, outbound: Outbound) -> None:
        self.secret_key = secret_key
        self.outbound = outbound

    async def call(self, job_id: int, payload: Mapping[str, Any]) -> None:
        """Raises WebhookError unless the receiver answers 2xx."""
        body = json.dumps(payload["body"], separators=(",", ":")).encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "widget-webhook",
            "X-Widget-Event": str(payload["body"]["event"]),
            "X-Widget-Delivery": str(job_id),
            "X-Widget-Timestamp": timestamp,
            "X-Widget-Signature": signature(
                webhook_key(self.secret_key, str(payload["site"])), timestamp, body
            ),
        }
        try:
            # Checked again at every call, not only when the URL was set: DNS answers change.
            async with self.outbound.client(TIMEOUT_S, allow_private_networks=True) as http:
                response = await http.post(str(payload["url"]), content=body, headers=headers)
        except request_error() as exc:
            raise WebhookError(f"{type(exc).__name__}: {exc}") from exc
        if response.is_redirect:
            raise WebhookError(
                f"answered {response.status_code}; redirects are not followed, so set the"
                " webhook URL to where it leads"
            )
        if not response.is_success:
            raise WebhookError(f"answered {response.status_code}")
