"""Atom feeds of the latest comments (widget/feeds.py): cacheable by anyone, revalidated by
ETag, compressed for readers that ask."""

from __future__ import annotations

import gzip
import hashlib

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from widget import comments, feeds
from widget.errors import BadRequest
from widget.sites import get_site

from .assets import coded_etag
from .context import app_context

__all__ = ["routes"]

# Feed readers ask every so often; a minute keeps a popular feed cheap and still fresh.
MAX_AGE_S = 60


def _answer(request: Request, body: bytes) -> Response:
    zipped = "gzip" in request.headers.get("accept-encoding", "")
    etag = coded_etag('"' + hashlib.sha256(body).hexdigest()[:32] + '"', "gzip" if zipped else "")
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={MAX_AGE_S}",
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    if zipped:
        body = gzip.compress(body, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/atom+xml; charset=utf-8", headers=headers)


async def site_feed(request: Request) -> Response:
    context = app_context(request)
    site = await get_site(context.storage, request.path_params["site"])
    public_url = context.settings.public_url
    feed = await feeds.site_feed(context.storage, site, public_url)
    return _answer(request, feeds.atom(feed, public_url))


async def thread_feed(request: Request) -> Response:
    context = app_context(request)
    site = await get_site(context.storage, request.path_params["site"])
    page = request.query_params.get("page", "")
    if not page.strip():
        raise BadRequest("Name the page: /feeds/SITE/thread.atom?page=/path/of/the/post/")
    public_url = context.settings.public_url
    feed = await feeds.thread_feed(context.storage, site, comments.page_ref(site, page), public_url)
    return _answer(request, feeds.atom(feed, public_url))


routes = [
    Route("/feeds/{site}/comments.atom", site_feed, methods=["GET"]),
    Route("/feeds/{site}/thread.atom", thread_feed, methods=["GET"]),
]
