"""What every answer tells the browser about itself: its type is not to be guessed (nosniff),
and who may frame it (Content-Security-Policy frame-ancestors), unless it is a script or a
style sheet (inert text in a frame, with nosniff)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, MutableMapping
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.routing import BaseRoute, Host, Mount, Route

from tests.admins import make_admin, signed_in
from tests.helpers import BLOG, EMBED, OWN_ORIGIN, posted
from widget.sites import add_site

# Streams do not end by themselves, and ASGITransport waits for the end of a body.
STREAMS = {"/api/v1/events"}


def framing_rule(headers: Headers | httpx.Headers) -> str:
    """The frame-ancestors directive the browser enforces, '' when there is none."""
    name = "content-security-policy"
    policies = (
        headers.get_list(name) if isinstance(headers, httpx.Headers) else headers.getlist(name)
    )
    for policy in policies:
        found = re.search(r"frame-ancestors[^;]*", policy)
        if found:
            return found.group(0)
    return ""


SCRIPT_OR_STYLE = re.compile(r"(text|application)/javascript|text/css")


def unguarded(response: httpx.Response | tuple[int, Headers], what: str) -> list[str]:
    """What the answer lacks: nosniff, and (unless it is a redirect, never shown itself, or a
    script or style sheet) a framing rule."""
    status, headers = (
        (response.status_code, Headers(raw=list(response.headers.raw)))
        if isinstance(response, httpx.Response)
        else response
    )
    missing = []
    if headers.get("x-content-type-options") != "nosniff":
        missing.append(f"{what}: {status} without nosniff")
    shown = not SCRIPT_OR_STYLE.match(headers.get("content-type", ""))
    if status not in {301, 302, 303, 307, 308} and shown and not framing_rule(headers):
        missing.append(f"{what}: {status} without frame-ancestors")
    return missing


def every_route(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    for route in routes:
        if isinstance(route, Route):
            yield prefix + route.path, set(route.methods or ())
        elif isinstance(route, Mount | Host):
            yield from every_route(list(route.routes), prefix + getattr(route, "path", ""))


async def stream_head(app: Starlette, path: str, query: str) -> tuple[int, Headers]:
    """The status and headers of a streamed answer, read straight from the app; then the
    reader goes away (so the stream ends)."""
    started: asyncio.Future[MutableMapping[str, Any]] = asyncio.get_running_loop().create_future()
    gone = asyncio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start" and not started.done():
            started.set_result(message)
            gone.set()

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": query.encode(), "headers": [(b"host", b"comments.localhost:8000")],
        "client": ("203.0.113.7", 40000), "server": ("comments.localhost", 8000),
    }  # fmt: skip
    task = asyncio.create_task(app(scope, receive, send))
    message = await asyncio.wait_for(started, 10)
    await asyncio.wait_for(task, 10)
    return message["status"], Headers(raw=message["headers"])


async def test_every_route_says_nosniff_and_who_may_frame_it(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    comment = (await posted(client, body="Walked past"))["comment"]["id"]
    await make_admin(app, "boss@example.com")
    boss = await signed_in(client, "boss@example.com")
    static = app.state.widget.assets.url("thread.js").removeprefix("/static/")
    values = {"site": "blog", "comment_id": str(comment), "ban_id": "1", "provider": "github",
              "key": "0123456789abcdef", "name": static}  # fmt: skip
    query = httpx.QueryParams({"site": "blog", **EMBED})
    headers = {**OWN_ORIGIN, "Cookie": boss.cookie}
    walked = set()
    problems: list[str] = []
    for template, methods in every_route(list(app.routes)):
        path = re.sub(r"{(\w+)(:\w+)?}", lambda m: values[m.group(1)], template)
        for method in sorted(methods):
            what = f"{method} {template}"
            if path in STREAMS:
                problems += unguarded(await stream_head(app, path, str(query)), what)
                # and its refusal, from the same route
                refused = await client.get(path, params={"site": "nosuch", "page": "/p/"})
                problems += unguarded(refused, what + " (refused)")
            elif method in {"GET", "HEAD"}:
                answer = await client.request(method, path, params=query, headers=headers)
                problems += unguarded(answer, what)
                # Without its parameters or with a wrong one: an error answer of that route.
                bare = await client.request(method, path, params={"site": "nosuch"})
                problems += unguarded(bare, what + " (bare)")
            else:
                # Signed in and from our own pages, but with nothing the route wants.
                response = await client.request(method, path, json={}, headers=headers)
                problems += unguarded(response, what)
                form = await client.request(method, path, data={"x": "1"}, headers=headers)
                problems += unguarded(form, what + " (form)")
            walked.add(what)
    # The walk reached every audience's routes, mounted ones included.
    assert {"GET /admin/", "GET /auth/{provider}/start", "POST /api/v1/likes",
            "GET /static/{name:path}", "GET /embed/{site}/thread/fragment"} <= walked  # fmt: skip

    for what, response in {
        "admin page": await boss.get("/admin/sites/blog"),
        "unknown address": await client.get("/no/such/page"),
        "unknown API address": await client.get("/api/v1/nothing"),
        "wrong method": await client.put("/api/v1/comments"),
        "health": await client.get("/healthz"),
    }.items():
        problems += unguarded(response, what)
    assert not problems, "\n".join(problems)


async def test_the_fragment_is_framed_only_by_its_sites_origins(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await add_site(
        app.state.widget.storage, "docs", ["https://docs.example", "https://www.docs.example"],
        "Docs", {},
    )  # fmt: skip
    await posted(client, body="Read on its own")
    fragment = await client.get("/embed/blog/thread/fragment", params=EMBED)
    assert fragment.status_code == 200 and "Read on its own" in fragment.text
    assert framing_rule(fragment.headers) == f"frame-ancestors {BLOG}"
    assert fragment.headers["x-content-type-options"] == "nosniff"
    # Still one answer for every reader, that proxies may keep and revalidate.
    assert fragment.headers["cache-control"] == "public, no-cache"
    again = await client.get(
        "/embed/blog/thread/fragment", params=EMBED,
        headers={"If-None-Match": fragment.headers["etag"]},
    )  # fmt: skip
    assert again.status_code == 304
    # Browsers merge a 304's headers into the answer they kept, which keeps its policy: a
    # policy here (frame-ancestors 'none' above all) would replace it.
    assert "content-security-policy" not in again.headers

    # The policy is the site's: another page of it says the same, another site its own.
    other_page = await client.get("/embed/blog/thread/fragment", params={"page": "/other/"})
    assert framing_rule(other_page.headers) == f"frame-ancestors {BLOG}"
    docs = await client.get("/embed/docs/thread/fragment", params={"page": "/guide/"})
    assert framing_rule(docs.headers) == (
        "frame-ancestors https://docs.example https://www.docs.example"
    )


async def test_json_answers_say_nosniff_errors_included(client: httpx.AsyncClient) -> None:
    answers = {
        "counts": await client.get("/api/v1/counts", params={"site": "blog", "page": "/a/"}),
        "a post": await client.post(
            "/api/v1/comments", json={"site": "blog", **EMBED, "body": "x"}, headers=OWN_ORIGIN
        ),
        "a bad like": await client.post("/api/v1/likes", json=[], headers=OWN_ORIGIN),
        "no such thread": await client.get("/api/v1/threads", params={"site": "blog", **EMBED}),
    }
    for what, response in answers.items():
        assert response.headers["content-type"].startswith("application/json"), what
        assert response.headers.get("x-content-type-options") == "nosniff", what
    assert [r.status_code for r in answers.values()] == [200, 400, 400, 404]


async def test_scripts_and_style_sheets_carry_no_page_rules(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """A page view fetches embed.js and thread.js: a policy says nothing on them (opened in a
    frame they are text), so they carry none, and only embed.js, which host pages load and
    may check with `integrity`, allows other origins to read it."""
    assets = app.state.widget.assets
    embed = await client.get("/embed.js")
    thread_js = await client.get(assets.url("thread.js"))
    css = await client.get(assets.url("widget.css"))
    for answer in (embed, thread_js, css):
        assert answer.status_code == 200
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in answer.headers
    assert embed.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in thread_js.headers
    # A missing file is a page (a message), so it keeps the rule.
    missing = await client.get("/static/nothing.0123456789ab.js")
    assert missing.status_code == 404
    assert framing_rule(missing.headers) == "frame-ancestors 'none'"
