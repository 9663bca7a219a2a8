"""`widget copy-data`: everything moves to another database (SQLite to PostgreSQL, say), ids kept."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import BACKENDS, POSTGRES_URL
from tests.helpers import (
    OWN_ORIGIN,
    PAGE,
    PUBLIC_URL,
    Widget,
    make_settings,
    posted,
    postgres_schema,
)
from widget.app import create_app
from widget.records import Profile
from widget.sites import add_site, change_site_setting
from widget.storage import LARGEST_IDS, Outcome, Refused, RowBatch, Storage, storage_for_url


@pytest.fixture(params=BACKENDS)
async def target_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'target' / 'widget.db'}"
        return
    async with postgres_schema(POSTGRES_URL) as url:
        yield url


async def everything(storage: Storage) -> list[RowBatch]:
    return [batch async for batch in storage.dump()]


@contextlib.asynccontextmanager
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app started on the copy at `database_url`."""
    copy = create_app(make_settings(tmp_path / "copy", database_url=database_url))
    async with copy.router.lifespan_context(copy):
        transport = httpx.ASGITransport(app=copy)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield client


async def seed(client: httpx.AsyncClient, app: Starlette) -> None:
    storage = app.state.widget.storage
    await add_site(storage, "other", ["https://other.example"], "Other", {"order": "newest"})
    await change_site_setting(storage, "blog", "max_depth", 3)
    first = await posted(client, body="first *comment*", website="https://ann.example", notify=True)
    reply = await posted(client, body="a reply", parent=first["comment"]["id"])
    await posted(client, body="nested", parent=reply["comment"]["id"])
    gone = await posted(client, body="soon deleted")
    await client.request(
        "DELETE", f"/api/v1/comments/{gone['comment']['id']}",
        json={"token": gone["edit_token"]}, headers=OWN_ORIGIN,
    )  # fmt: skip
    await client.patch(
        f"/api/v1/comments/{first['comment']['id']}",
        json={"token": first["edit_token"], "body": "first comment, edited"}, headers=OWN_ORIGIN,
    )  # fmt: skip
    for liked in (first["comment"]["id"], None):
        await client.post(
            "/api/v1/likes", json={**PAGE, "comment": liked, "liked": True}, headers=OWN_ORIGIN
        )
    second = await posted(client, page="/second/", body="on another page")
    # What a server that sends mail queues with each comment, to tell people of it (this one
    # sends none, so it queues only a look at each new thread's page): the outbox is copied too.
    commented = [first, reply, gone, second]
    jobs = [("comment", {"comment": c["comment"]["id"], "event": "created"}) for c in commented]
    await storage.add_jobs(jobs, datetime.now(UTC))
    # A commenter's account and passkey: its key is bytes, kept as they are.
    ann = await storage.upsert_user(Profile("github", "ann", "Ann"), datetime.now(UTC))
    await storage.add_passkey(
        ann.id, "credential", b"\xa5\x01\x02", 3, ["internal"], "Phone", datetime.now(UTC)
    )
    # A reader of the blog's new posts, and the posts already seen (so a copy mails none again).
    now = datetime.now(UTC)
    reader = await storage.subscribe_to_posts("blog", "reader@example.com", now)
    await storage.confirm_post_subscription(reader.id, now)
    await storage.claim_feed_poll("blog", now, 300)
    await storage.record_feed_poll("blog", "https://blog.example/feed/", ('"e"', ""),
                                   [("seen-post", [])], now, now)  # fmt: skip


async def test_a_copy_is_the_same_database(
    client: httpx.AsyncClient, app: Starlette, target_url: str, tmp_path: Path
) -> None:
    await app.state.widget.outbox.stop()  # its queued work is copied too: keep it still
    await seed(client, app)
    source: Storage = app.state.widget.storage
    target = storage_for_url(target_url)
    await target.open()
    try:
        counts = await target.restore(source.dump())
        assert counts == {
            "sites": 2, "site_origins": 2, "users": 1, "threads": 2, "comments": 5, "likes": 2,
            "sessions": 0, "bans": 0, "admins": 0, "subscriptions": 0,
            "outbox": 6,  # queued by seed(), and a look at each new thread's page title
            "passkeys": 1, "post_subscriptions": 1, "feed_entries": 1,
        }  # fmt: skip
        assert await everything(target) == await everything(source)
        with pytest.raises(Refused, match=Outcome.NOT_EMPTY.value):
            await target.restore(source.dump())
    finally:
        await target.close()

    # The copy serves the same thread, and new comments continue after the copied ids.
    async with served(target_url, tmp_path) as other:
        for path in ("/api/v1/threads", "/embed/blog/thread/fragment"):
            copied = await other.get(path, params=PAGE)
            assert copied.text == (await client.get(path, params=PAGE)).text
        newest = await posted(other, body="after the move")
        assert newest["comment"]["id"] == 6


def test_the_command_line_copies_and_says_what_next(tmp_path: Path, widget: Widget) -> None:
    assert widget("site", "add", "blog", "--origin", "https://blog.example").code == 0
    target = f"sqlite:///{tmp_path / 'moved.db'}"
    result = widget("copy-data", "--to", target)
    assert result.code == 0, result.err
    assert (
        "Copied 1 sites, 1 site origins, 0 users, 0 threads, 0 comments, 0 likes, 0 sessions,"
        " 0 bans" in result.out
    )
    assert f"WIDGET_DATABASE_URL={target}" in result.out
    again = widget("copy-data", "--to", target)
    assert again.code == 1
    assert "already holds sites" in again.err
    # A URL no backend opens was a ValueError's traceback.
    mistyped = widget("copy-data", "--to", "postgres:/db.internal/widget")
    assert mistyped.code == 1
    assert mistyped.err.startswith("widget: --to: expected sqlite:///PATH")
    assert "got 'postgres:/db.internal/widget'" in mistyped.err


async def test_a_copy_gives_none_of_the_numbers_its_source_gave(
    client: httpx.AsyncClient, app: Starlette, target_url: str, tmp_path: Path
) -> None:
    """Not even those of the source's newest rows, deleted before the copy: their numbers may
    be in links and tokens sent out (an edit token, a moderation link)."""
    source: Storage = app.state.widget.storage
    await posted(client, body="Kept")
    spam = (await posted(client, body="Spam"))["comment"]["id"]
    await source.set_status([spam], "spam", ["blog"])
    assert await source.purge_spam(["blog"]) == 1
    target = storage_for_url(target_url)
    await target.open()
    try:
        await target.restore(source.dump())
        # The copy hands on what it was given: its dump ends as its source's does.
        (*_, largest) = await everything(target)
        assert largest.table == LARGEST_IDS
        assert dict(largest.rows)["comments"] == spam
        # (PostgreSQL's upsert of a thread takes a number even when the thread exists.)
        assert largest == (await everything(source))[-1]
    finally:
        await target.close()

    async with served(target_url, tmp_path) as other:
        newest = await posted(other, body="after the move")
    assert newest["comment"]["id"] == spam + 1  # was the spam's own number


async def test_a_dump_of_some_tables_holds_those_alone(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await posted(client, body="Kept")
    storage: Storage = app.state.widget.storage
    tables = [batch.table async for batch in storage.dump(only=["threads", "comments"])]
    assert tables == ["threads", "comments"]
    with pytest.raises(ValueError, match="a dump holds no table provider_apps"):
        await anext(aiter(storage.dump(only=["comments", "provider_apps"])))
