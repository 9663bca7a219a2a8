"""Response headers that keep the iframe and the API to what they are for."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["admin_headers", "document_headers", "error_page_headers"]

# Pictures may come from sign-in providers (a signed-in author's avatar); nothing else does.
_BASE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:;"
    " connect-src 'self'; form-action 'self'; base-uri 'none'"
)


def document_headers(frame_origins: Sequence[str]) -> dict[str, str]:
    """For iframe documents: only the site's own origins may frame them."""
    ancestors = " ".join(frame_origins) or "'none'"
    return {
        "Content-Security-Policy": f"{_BASE_POLICY}; frame-ancestors {ancestors}",
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }


def error_page_headers() -> dict[str, str]:
    """Error pages may show in any frame: a refused frame would be blank, and the message is
    what tells a site owner what to fix. They hold nothing worth clickjacking."""
    return {
        "Content-Security-Policy": f"{_BASE_POLICY}; frame-ancestors *",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
    }


def admin_headers() -> dict[str, str]:
    """Admin pages are never framed (no clickjacking of moderation buttons), never cached, and
    never tell other sites which admin page linked to them."""
    return {
        "Content-Security-Policy": f"{_BASE_POLICY}; frame-ancestors 'none'",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
    }
