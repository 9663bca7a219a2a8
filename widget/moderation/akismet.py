"""Akismet's comment-check, optional: https://akismet.com/developers/detailed-docs/comment-check/

Only its "true" or "false" counts. A timeout, an error, or any other answer leaves the comment
to a moderator (held), never published unchecked and never lost.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Literal

from widget.outbound import Outbound, request_error

__all__ = ["Akismet", "AkismetQuestion"]

log = logging.getLogger(__name__)
TIMEOUT_S = 3.0


@dataclasses.dataclass(frozen=True, slots=True)
class AkismetQuestion:
    user_ip: str
    user_agent: str
    referrer: str
    permalink: str
    comment_type: str  # "comment" or "reply"
    author: str
    author_email: str
    author_url: str
    content: str
    lang: str


class Akismet:
    def __init__(
        self,
        key: str,
        blog_url: str,
        endpoint: str,
        outbound: Outbound,
    ) -> None:
        self.key = key
        self.blog_url = blog_url
        self.endpoint = endpoint.rstrip("/")
        self.outbound = outbound

    async def check(self, question: AkismetQuestion) -> Literal["spam", "ham", "unknown"]:
        form = {
            "api_key": self.key,
            "blog": self.blog_url,
            "user_ip": question.user_ip,
            "user_agent": question.user_agent,
            "referrer": question.referrer,
            "permalink": question.permalink,
            "comment_type": question.comment_type,
            "comment_author": question.author,
            "comment_author_email": question.author_email,
            "comment_author_url": question.author_url,
            "comment_content": question.content,
            "blog_lang": question.lang,
            "blog_charset": "UTF-8",
        }
        try:
            # The operator chose Akismet's URL, so the private networks they opened are allowed.
            async with self.outbound.client(TIMEOUT_S, allow_private_networks=True) as http:
                response = await http.post(f"{self.endpoint}/comment-check", data=form)
        except request_error() as exc:
            log.warning("Akismet did not answer (%s); holding the comment", exc)
            return "unknown"
        answer = response.text.strip()
        if response.status_code == 200 and answer in {"true", "false"}:
            return "spam" if answer == "true" else "ham"
        log.warning(
            "Akismet answered %s %r (%s); holding the comment", response.status_code, answer[:80],
            response.headers.get("x-akismet-debug-help", ""),
        )  # fmt: skip
        return "unknown"
