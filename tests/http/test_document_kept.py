"""The iframe document sent by KeptAnswers, before the middleware and routing: the same answer
as the route's, and only while the route would send that answer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Scope

from tests.helpers import (
    BLOG,
    EMBED,
    PUBLIC_URL,
    kept_answers_of,
    make_settings,
    posted,
    running_app,
    sent_early_alike,
)
from widget.config import Settings
from widget.views.html import DOCUMENT_TOKEN_PERIOD_S
from widget.views.kept_answers import KeptReply

DOCUMENT = "/embed/blog/thread"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """A server's default brotli: kept documents carry what is compressed again later."""
    return make_settings(tmp_path / "data", database_url=database_url, document_brotli_quality=11)


def _kept_reply(app: Starlette) -> KeptReply:
    reply = kept_answers_of(app).reply_for(DOCUMENT)
    assert reply is not None
    return reply


def _scope(params: dict[str, Any], headers: dict[str, str]) -> Scope:
    """What the ASGI server makes of `client.get(DOCUMENT, params=…, headers=…)`, as far as
    a kept reply reads it."""
    return {
        "path": DOCUMENT,
        "query_string": str(httpx.QueryParams(params)).encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }


async def _kept_after_asking(
    client: httpx.AsyncClient, app: Starlette, params: dict[str, Any], encodings: list[str]
) -> None:
    """Ask until the document is kept for `params` in each of `encodings` (the first answer
    fills the storage's caches, which moves their stamp on), its brotli at its best."""
    reply = _kept_reply(app)
    for encoding in encodings:
        headers = {"Accept-Encoding": encoding}
        for _ in range(3):
            if reply(_scope(params, headers)) is not None:
                break
            assert (await client.get(DOCUMENT, params=params, headers=headers)).status_code == 200
        else:
            raise AssertionError(f"the document was never kept for {headers}")
    # Brotli's best is made in the background: wait, so both ways send the same bytes.
    improver = app.state.widget.html._improver
    if improver is not None:
        await improver


async def test_a_kept_document_sent_early_is_the_document_the_route_sends(
    client: httpx.AsyncClient, app: Starlette, caplog: pytest.LogCaptureFixture
) -> None:
    """Header for header (request id, ETag, policies, security headers), byte for byte, and in
    the log, the document KeptAnswers sends is what the whole way through the app sends, in
    each encoding and revalidated; a cookie (read by no part of the document) changes nothing."""
    await posted(client)
    await _kept_after_asking(client, app, EMBED, ["br", "gzip", "identity"])
    etag = (await client.get(DOCUMENT, params=EMBED)).headers["etag"]
    asked = [
        {"Accept-Encoding": "gzip, deflate, br"},
        {"Accept-Encoding": "gzip"},
        {"Accept-Encoding": "identity"},
        {"Accept-Encoding": "br", "If-None-Match": etag},
        {"Accept-Encoding": "br", "If-None-Match": '"another"'},
        {"Accept-Encoding": "br", "Referer": f"{BLOG}/hello/"},
        {"Accept-Encoding": "br", "Cookie": "__Host-widget_session=someone"},
    ]
    answers = await sent_early_alike(
        client, app, DOCUMENT, EMBED, asked,
        lambda headers: _kept_reply(app)(_scope(EMBED, headers)) is not None, caplog,
    )  # fmt: skip
    assert [answer.status_code for answer in answers] == [200, 200, 200, 304, 200, 200, 200]
    encodings = [answer.headers.get("content-encoding", "") for answer in answers]
    assert encodings == ["br", "gzip", "", "", "br", "br", "br"]
    assert "frame-ancestors" in answers[-1].headers["content-security-policy"]


async def test_a_kept_document_is_sent_early_only_while_the_route_would_send_it(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    await posted(client, body="The first word.")
    await _kept_after_asking(client, app, EMBED, ["br"])
    reply = _kept_reply(app)
    brotli = {"Accept-Encoding": "br"}
    before = await client.get(DOCUMENT, params=EMBED, headers=brotli)

    # Another site's page framing the document is refused, in words, by the route.
    foreign = {**brotli, "Referer": "https://elsewhere.example/post"}
    assert reply(_scope(EMBED, foreign)) is None
    refused = await client.get(DOCUMENT, params=EMBED, headers=foreign)
    assert refused.status_code == 403
    assert "elsewhere.example" in refused.text

    # Another theme or language is another document, not sent early until it was made.
    for other in ({**EMBED, "theme": "dark"}, {**EMBED, "lang": "fr"}):
        assert reply(_scope(other, brotli)) is None
        await _kept_after_asking(client, app, other, ["br"])
        made = await client.get(DOCUMENT, params=other, headers=brotli)
        assert made.status_code == 200 and made.content != before.content
    assert 'lang="fr"' in made.text

    # A form under a comment, a notice above it: made for one reader, never sent early.
    noticed = {**EMBED, "held": "1"}
    assert (await client.get(DOCUMENT, params=noticed, headers=brotli)).status_code == 200
    assert reply(_scope(noticed, brotli)) is None

    # A new comment: the kept document is stale, the route sends the new one and keeps it.
    await posted(client, body="A second word.")
    assert reply(_scope(EMBED, brotli)) is None
    stale = {**brotli, "If-None-Match": before.headers["etag"]}
    assert reply(_scope(EMBED, stale)) is None
    after = await client.get(DOCUMENT, params=EMBED, headers=stale)
    assert after.status_code == 200
    assert "A second word." in after.text
    await _kept_after_asking(client, app, EMBED, ["br"])
    again = await client.get(DOCUMENT, params=EMBED, headers=stale)
    assert again.status_code == 200 and again.headers["etag"] == after.headers["etag"]

    # Six hours on, the document carries a new shared form token, and so a new ETag.
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now + DOCUMENT_TOKEN_PERIOD_S)
    renewed = {**brotli, "If-None-Match": again.headers["etag"]}
    assert reply(_scope(EMBED, renewed)) is None
    later = await client.get(DOCUMENT, params=EMBED, headers=renewed)
    assert later.status_code == 200 and later.headers["etag"] != again.headers["etag"]


async def test_nothing_is_answered_from_memory_once_the_database_file_is_gone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SQLite: once the storage has seen its file deleted, every read and write is refused;
    the document, counts and fragment kept in memory went on answering 200 from a database
    that was no more (a reader would see comments that a restart may not have)."""
    data_dir = tmp_path / "data"
    counts = {"site": "blog", "page": ["/hello/"]}
    async with running_app(make_settings(data_dir)) as app:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            await posted(client)
            await _kept_after_asking(client, app, EMBED, ["br"])
            for _ in range(2):  # the first answer fills the caches, the second is kept
                assert (await client.get("/api/v1/counts", params=counts)).status_code == 200
            fragment = await client.get(f"{DOCUMENT}/fragment", params=EMBED)
            assert fragment.status_code == 200

            (data_dir / "widget.db").unlink()
            for _ in range(50):  # the storage looks at its files every second
                if "while widget had it open" in caplog.text:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the storage never noticed its file was gone")
            for path, params in ((DOCUMENT, EMBED), ("/api/v1/counts", counts),
                                 (f"{DOCUMENT}/fragment", EMBED), ("/readyz", {})):  # fmt: skip
                refused = await client.get(path, params=params, headers={"Accept-Encoding": "br"})
                assert refused.status_code == 503, (path, refused.status_code)
                assert refused.headers["retry-after"]
