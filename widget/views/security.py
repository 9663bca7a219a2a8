"""Response headers that keep the iframe and the API to what they are for."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "DOCUMENT_REFERRER_POLICY",
    "SCRIPT_AND_STYLE_TYPES",
    "SecurityHeaders",
    "admin_headers",
    "document_headers",
    "document_policy",
    "error_page_headers",
    "guarded_headers",
]

# Pictures may come from sign-in providers (a signed-in author's avatar); nothing else does.
_BASE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https:;"
    " connect-src 'self'; form-action 'self'; base-uri 'none'"
)


# The frame's own requests (its script, its API calls) and the links in comments carry only
# our origin, not the document's long address: fewer bytes on each, and less said to others.
DOCUMENT_REFERRER_POLICY = "strict-origin"


def document_policy(
    frame_origins: Sequence[str], inline_style: str = "", own_pages: bool = False
) -> str:
    """The policy of a thread's HTML (the iframe document, the fragment opened on its own):
    only the site's own origins may frame it; with `own_pages`, our own too (the
    configurator's preview of the iframe document). `inline_style` is the hash ('sha256-…')
    of the one style element the document may hold."""
    ancestors = " ".join(["'self'"] * own_pages + [*frame_origins]) or "'none'"
    policy = _BASE_POLICY
    if inline_style:
        policy = policy.replace("style-src 'self'", f"style-src 'self' {inline_style}")
    return f"{policy}; frame-ancestors {ancestors}"


def document_headers(frame_origins: Sequence[str], inline_style: str = "") -> dict[str, str]:
    """For iframe documents: only the site's own origins may frame them."""
    return {
        "Content-Security-Policy": document_policy(frame_origins, inline_style, own_pages=True),
        "Cache-Control": "private, no-cache",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": DOCUMENT_REFERRER_POLICY,
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


_NOSNIFF = (b"x-content-type-options", b"nosniff")
_NEVER_FRAMED = (b"content-security-policy", b"frame-ancestors 'none'")
_REDIRECTS = {301, 302, 303, 307, 308}
# Types that, with nosniff, a browser runs or applies only where a page of ours asks for them:
# opened in a frame they are inert text, so a framing rule on them says nothing, and each page
# view fetches two of them (embed.js, thread.js).
SCRIPT_AND_STYLE_TYPES = (b"text/javascript", b"application/javascript", b"text/css")


class SecurityHeaders:
    """Every answer, whichever part of the app wrote it (errors, JSON, assets, redirects):
    `nosniff`, so no browser runs JSON or text as a script or page; and, unless the answer
    states who may frame it or is a script or style sheet, framed by nobody. Answers that
    state their own keep them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = guarded_headers(
                    list(message.get("headers", ())), message["status"]
                )
            await send(message)

        await self.app(scope, receive, send_guarded)


def guarded_headers(headers: list[tuple[bytes, bytes]], status: int) -> list[tuple[bytes, bytes]]:
    """`headers` (changed in place) with what SecurityHeaders adds to an answer of `status`."""
    # One pass, on every answer: this runs for the hottest routes too.
    sniff_stated = framed = False
    for name, value in headers:
        name = name.lower()
        if name == _NOSNIFF[0]:
            sniff_stated = True
        elif name == b"content-security-policy" and b"frame-ancestors" in value:
            framed = True
        elif name == b"content-type" and value.startswith(SCRIPT_AND_STYLE_TYPES):
            framed = True  # needs no rule (above)
    if not sniff_stated:
        headers.append(_NOSNIFF)
    # A redirect is never shown, so it needs no rule: the page it leads to brings its own.
    # A 304 is never shown either, and browsers merge its headers into the answer they kept:
    # a policy here would replace the kept one (which lets the site's pages frame a document).
    if not framed and status not in _REDIRECTS and status != 304:
        headers.append(_NEVER_FRAMED)
    return headers
