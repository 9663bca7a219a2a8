"""The only producer of comment HTML: Markdown source in, sanitised HTML out.

markdown-it-py with raw HTML off renders the source; nh3 then keeps only an allowlist of tags
and attributes, so whatever the Markdown renderer lets through, the stored HTML holds no
script, no event handler, no style and no link other than http, https or mailto.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

from widget.urls import split_url

__all__ = [
    "ALLOWED_TAGS",
    "LINK_REL",
    "LINK_SCHEMES",
    "clean_html",
    "render_markdown",
    "render_markdown_with_html",
]

LINK_REL = "nofollow ugc noopener"
LINK_SCHEMES = frozenset({"http", "https", "mailto"})
ALLOWED_TAGS = frozenset(
    {
        "p", "br", "a", "em", "strong", "del", "s", "code", "pre", "blockquote",
        "ul", "ol", "li", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
    }
)  # fmt: skip

# js-default: CommonMark with raw HTML off. Images are off too: a comment must not make every
# reader's browser fetch a third-party URL. Linkify turns bare URLs into links.
_markdown = MarkdownIt("js-default", {"linkify": True}).enable("linkify").disable("image")
# Other systems' Markdown that let inline HTML through and sanitised it on display (Isso): the
# HTML passes the Markdown step and meets the same allowlist below. Never for new comments.
_markdown_with_html = (
    MarkdownIt("js-default", {"linkify": True, "html": True}).enable("linkify").disable("image")
)


def _keep_absolute_links(tag: str, attribute: str, value: str) -> str | None:
    if tag == "a" and attribute == "href":
        # Relative links would point into the comment server; only absolute links survive.
        parts = split_url(value)
        if parts is None or parts.scheme.lower() not in LINK_SCHEMES:
            return None
    if tag == "ol" and attribute == "start" and not (value.isascii() and value.isdigit()):
        return None
    return value


_cleaner = nh3.Cleaner(
    tags=set(ALLOWED_TAGS),
    attributes={"a": {"href", "title"}, "ol": {"start"}},
    url_schemes=set(LINK_SCHEMES),
    link_rel=LINK_REL,
    attribute_filter=_keep_absolute_links,
    strip_comments=True,
)


def render_markdown(source: str) -> str:
    """Sanitised HTML for a comment's Markdown source."""
    return _cleaner.clean(_markdown.render(source)).strip()


def render_markdown_with_html(source: str) -> str:
    """Sanitised HTML for Markdown whose inline HTML is markup, not text (imports only)."""
    return _cleaner.clean(_markdown_with_html.render(source)).strip()


def clean_html(markup: str) -> str:
    """Sanitised HTML for a body that arrives as HTML (imports): the same allowlist."""
    return _cleaner.clean(markup).strip()
