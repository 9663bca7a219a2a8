"""Comment counts for index pages: one batched request, the site's wording, CORS for its origins."""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Scope

from tests.helpers import (
    BLOG,
    PAGE,
    PUBLIC_URL,
    REPO,
    kept_answers_of,
    posted,
    sent_early_alike,
)
from widget.app import create_app
from widget.config import Settings
from widget.sites import change_site_setting
from widget.views.kept_answers import KeptReply

ROOT = REPO


async def test_counts_for_several_pages_in_one_request(client: httpx.AsyncClient) -> None:
    await posted(client, page="/a/")
    await posted(client, page="/b/")
    await posted(client, page="/b/")
    response = await client.get(
        "/api/v1/counts", params={"site": "blog", "page": ["/a/", "/b/", "/c/"]},
        headers={"Origin": BLOG},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["counts"] == {
        "/a/": {"count": 1, "text": "1 Response"},
        "/b/": {"count": 2, "text": "2 Responses"},
        "/c/": {"count": 0, "text": "No Responses"},
    }
    assert response.headers["access-control-allow-origin"] == BLOG
    assert "Origin" in response.headers["vary"]


async def test_counts_revalidate_until_a_count_changes(client: httpx.AsyncClient) -> None:
    await posted(client, page="/a/")
    params = {"site": "blog", "page": ["/a/", "/b/"]}
    first = await client.get("/api/v1/counts", params=params, headers={"Origin": BLOG})
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "no-cache"
    again = await client.get(
        "/api/v1/counts", params=params, headers={"Origin": BLOG, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.headers["access-control-allow-origin"] == BLOG
    compressed = await client.get(
        "/api/v1/counts", params=params, headers={"Accept-Encoding": "gzip, br"}
    )
    assert compressed.headers["content-encoding"] == "br"
    assert compressed.json() == first.json()  # httpx decompresses
    assert compressed.headers["etag"] == etag
    await posted(client, page="/b/")
    changed = await client.get("/api/v1/counts", params=params, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["counts"]["/b/"] == {"count": 1, "text": "1 Response"}
    assert changed.headers["etag"] != etag


async def test_counts_follow_comments_posted_through_another_instance(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """An answer is kept until a thread head changes, the changes of other processes (SQLite)
    or instances (PostgreSQL) included."""
    params = {"site": "blog", "page": ["/a/", "/b/"]}
    before = await client.get("/api/v1/counts", params=params)
    assert before.json()["counts"]["/a/"]["count"] == 0
    other = create_app(settings)
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as elsewhere:
            await posted(elsewhere, page="/a/")
    for _ in range(30):
        answer = await client.get("/api/v1/counts", params=params)
        if answer.json()["counts"]["/a/"]["count"] == 1:
            break
        await asyncio.sleep(0.1)
    else:
        pytest.fail("the counts never showed the comment posted through the other instance")
    assert answer.headers["etag"] != before.headers["etag"]


async def test_other_origins_get_no_cors_grant(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/api/v1/counts", params={"site": "blog", "page": "/a/"},
        headers={"Origin": "https://evil.example"},
    )  # fmt: skip
    assert "access-control-allow-origin" not in response.headers


async def test_a_threads_data_is_shared_with_its_sites_origins_only(
    client: httpx.AsyncClient,
) -> None:
    # The same rule as the counts', for the thread as JSON (its own code path).
    await posted(client)
    for origin, granted in ((BLOG, BLOG), ("https://evil.example", None)):
        response = await client.get("/api/v1/threads", params=PAGE, headers={"Origin": origin})
        assert response.status_code == 200
        assert response.headers.get("access-control-allow-origin") == granted
        assert "Origin" in response.headers["vary"]


async def test_the_wording_is_a_site_setting(client: httpx.AsyncClient, app: Starlette) -> None:
    storage = app.state.widget.storage
    await change_site_setting(storage, "blog", "count_zero", "Leave a comment")
    await change_site_setting(storage, "blog", "count_one", "One comment")
    await change_site_setting(storage, "blog", "count_many", "{n} comments")
    await posted(client, page="/one/")
    for _ in range(3):
        await posted(client, page="/three/")
    response = await client.get(
        "/api/v1/counts", params={"site": "blog", "page": ["/none/", "/one/", "/three/"]}
    )
    texts = {page: c["text"] for page, c in response.json()["counts"].items()}
    assert texts == {"/none/": "Leave a comment", "/one/": "One comment", "/three/": "3 comments"}


async def test_counts_follow_the_language(client: httpx.AsyncClient) -> None:
    for _ in range(3):
        await posted(client, page="/a/")
    response = await client.get(
        "/api/v1/counts", params={"site": "blog", "page": "/a/", "lang": "ru"}
    )
    assert response.json()["counts"]["/a/"]["text"] == "3 отклика"


async def test_bad_count_requests(client: httpx.AsyncClient) -> None:
    none = await client.get("/api/v1/counts", params={"site": "blog"})
    assert none.status_code == 400
    assert "at least one page" in none.json()["error"]
    too_many = await client.get(
        "/api/v1/counts", params={"site": "blog", "page": [f"/{i}/" for i in range(101)]}
    )
    assert too_many.status_code == 400
    assert "at most 100" in too_many.json()["error"]
    unknown = await client.get("/api/v1/counts", params={"site": "nope", "page": "/a/"})
    assert unknown.status_code == 404


async def test_a_kept_answer_sent_early_is_the_answer_the_route_sends(
    client: httpx.AsyncClient, app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    """KeptAnswers sends a current counts answer before the middleware and routing: header for
    header (request id, CORS, security headers), byte for byte, and in the log, it is what the
    whole way through the app sends for the same request."""
    await posted(client, page="/a/")
    params = {"site": "blog", "page": ["/a/", "/b/"]}
    kept_reply, scope = await _kept_after_asking(client, app, params)
    etag = (await client.get("/api/v1/counts", params=params)).headers["etag"]
    asked = [
        {},
        {"Accept-Encoding": "gzip, br"},
        {"Origin": BLOG, "Accept-Encoding": "br"},
        {"Origin": "https://evil.example"},
        {"Origin": BLOG, "If-None-Match": etag},
        {"If-None-Match": '"another"'},
    ]
    answers = await sent_early_alike(
        client, app, "/api/v1/counts", params, asked, lambda _: kept_reply(scope) is not None,
        caplog,
    )  # fmt: skip
    assert [answer.status_code for answer in answers] == [200, 200, 200, 200, 304, 200]


async def _kept_after_asking(
    client: httpx.AsyncClient, app: Starlette, params: dict[str, Any]
) -> tuple[KeptReply, Scope]:
    """The counts route's kept replies, and the scope of a counts request for `params` once
    its answer is kept (the first answer is not when it filled the storage's cache: a change
    of the cache stamp)."""
    scope: Scope = {"query_string": str(httpx.QueryParams(params)).encode(), "headers": []}
    for _ in range(3):
        await client.get("/api/v1/counts", params=params)
        kept_reply = kept_answers_of(app).reply_for("/api/v1/counts")
        assert kept_reply is not None
        if kept_reply(scope) is not None:
            return kept_reply, scope
    raise AssertionError("the counts answer was never kept")


async def test_a_kept_answer_is_sent_early_only_while_it_is_current(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    params = {"site": "blog", "page": ["/a/", "/b/"]}
    kept_reply, scope = await _kept_after_asking(client, app, params)
    await posted(client, page="/b/")
    assert kept_reply(scope) is None  # the route answers, and keeps the new answer
    answer = await client.get("/api/v1/counts", params=params)
    assert answer.json()["counts"]["/b/"]["count"] == 1
    await _kept_after_asking(client, app, params)


async def test_embed_js_stays_within_its_budget(client: httpx.AsyncClient) -> None:
    # What every host page downloads: the file as served (minified), gzipped. Its source, with
    # its comments, is some 500 bytes more.
    answer = await client.get("/embed.js", headers={"Accept-Encoding": "gzip"})
    assert answer.headers["content-encoding"] == "gzip"
    size = int(answer.headers["content-length"])
    assert size <= 1536, f"embed.js is {size} bytes gzipped; the budget is 1,536"
    assert size < len(gzip.compress((ROOT / "embed.js").read_bytes(), 9))  # minified indeed
