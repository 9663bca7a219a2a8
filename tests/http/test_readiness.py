"""`/healthz` says the process is alive; `/readyz` says the database can be read and written
right now (for load balancers). Every 503 says when to come back (`Retry-After`)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.admins import make_admin, signed_in
from tests.helpers import EMBED, OWN_ORIGIN, client_of, comment_body, make_settings, open_form
from tests.mounts import fill, small_disk
from widget.app import create_app


async def test_ready_while_the_database_reads_and_writes(client: httpx.AsyncClient) -> None:
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}
    assert ready.headers["cache-control"] == "no-store"
    assert (await client.head("/readyz")).status_code == 200
    alive = await client.get("/healthz")
    assert alive.json() == {"status": "ok"}
    assert alive.headers["cache-control"] == "no-store"  # no proxy answers for a dead process


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Starlette:
    """An app on a SQLite file at tmp_path/data/widget.db."""
    return create_app(make_settings(tmp_path / "data"))


@pytest.fixture
async def sqlite_client(sqlite_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(sqlite_app) as client:
        yield client


@pytest.mark.slow  # each refused write first waits out SQLite's busy timeout (5 s)
async def test_a_locked_database_is_not_ready_and_every_503_says_when_to_retry(
    sqlite_app: Starlette, sqlite_client: httpx.AsyncClient, tmp_path: Path
) -> None:
    await make_admin(sqlite_app, "boss@example.com")
    boss = await signed_in(sqlite_client, "boss@example.com")
    await boss.get("/admin/")
    typed = {
        **await open_form(sqlite_client),
        "body": "Typed while locked",
        "name": "Ann",
        "email": "a@example.com",
    }
    form_post = "/embed/blog/thread/comments"
    # Another program holds the write lock (a backup tool, a stuck script).
    holder = sqlite3.connect(tmp_path / "data" / "widget.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        ready, posted, form_posted, site_added, alive = await asyncio.gather(
            sqlite_client.get("/readyz"),
            sqlite_client.post("/api/v1/comments", json=comment_body(), headers=OWN_ORIGIN),
            sqlite_client.post(form_post, data=typed, headers=OWN_ORIGIN),
            boss.post("/admin/sites", site="news", origins="https://news.example", name="News"),
            sqlite_client.get("/healthz"),
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert alive.status_code == 200  # alive, though not ready
    for refused in (ready, posted, form_posted, site_added):
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) > 0
    assert ready.json() == {"status": "database unavailable"}
    assert "nothing was saved" in posted.json()["error"]
    assert "nothing was saved" in form_posted.text
    assert "Typed while locked</textarea>" in form_posted.text  # kept, to send again
    assert "nothing was saved" in site_added.text
    # The lock is gone: ready again, and the same comment goes through.
    assert (await sqlite_client.get("/readyz")).status_code == 200
    again = await sqlite_client.post(form_post, data=typed, headers=OWN_ORIGIN)
    assert again.status_code == 303


async def test_a_server_that_sends_no_email_says_when_to_retry(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/embed/blog/data-request", data={**EMBED, "email": "a@example.com"}, headers=OWN_ORIGIN
    )
    assert response.status_code == 503
    assert "sends no email" in response.text
    assert int(response.headers["retry-after"]) > 0


@pytest.mark.slow
async def test_a_full_disk_is_not_ready_and_refuses_with_503_losing_nothing(
    tmp_path: Path,
) -> None:
    disk = tmp_path / "disk"
    with small_disk(disk, size_kb=2048):
        settings = make_settings(disk / "data")
        acknowledged: set[int] = set()
        async with client_of(create_app(settings)) as client:
            assert (await client.get("/readyz")).status_code == 200
            fill(disk / "filler")
            for _ in range(200):  # until what was left of the -wal's room is used up
                response = await client.post(
                    "/api/v1/comments", json=comment_body(body="x" * 3000), headers=OWN_ORIGIN
                )
                if response.status_code != 201:
                    break
                acknowledged.add(response.json()["comment"]["id"])
            assert response.status_code == 503, response.text
            assert int(response.headers["retry-after"]) > 0
            assert "nothing was saved" in response.json()["error"]
            not_ready = await client.get("/readyz")
            assert not_ready.status_code == 503
            assert int(not_ready.headers["retry-after"]) > 0
            assert (await client.get("/healthz")).status_code == 200
            (disk / "filler").unlink()  # the operator frees some space
            assert (await client.get("/readyz")).status_code == 200
            response = await client.post(
                "/api/v1/comments", json=comment_body(), headers=OWN_ORIGIN
            )
            assert response.status_code == 201
            acknowledged.add(response.json()["comment"]["id"])
        conn = sqlite3.connect(disk / "data" / "widget.db")
        stored = {row[0] for row in conn.execute("SELECT id FROM comments")}
        conn.close()
    assert acknowledged <= stored
