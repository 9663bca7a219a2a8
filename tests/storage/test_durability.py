"""An acknowledged comment is never lost, even when the server process is killed mid-load."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from tests.servers import widget_cli, widget_server

pytestmark = pytest.mark.slow


async def test_acknowledged_comments_survive_kill_9(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    widget_cli(
        data_dir, "site", "add", "blog", "--origin", "https://blog.example",
        "--set", "min_seconds_to_post=0",
    )  # fmt: skip
    acknowledged: dict[int, str] = {}
    with widget_server(data_dir) as server:
        headers = {"Origin": server.public_url}

        async def writer(client: httpx.AsyncClient, worker: int) -> None:
            for n in range(100_000):
                body = f"worker {worker} comment {n}"
                try:
                    response = await client.post(
                        "/api/v1/comments",
                        json={"site": "blog", "page": "/p/", "body": body, "name": "Ann",
                              "email": "ann@example.com",
                              "form_token": server.form_token("blog", "/p/")},
                        headers=headers,
                    )  # fmt: skip
                except httpx.TransportError:
                    return  # the server is gone
                if response.status_code == 201:
                    acknowledged[response.json()["comment"]["id"]] = body

        async with httpx.AsyncClient(base_url=server.local_url, timeout=10) as client:
            tasks = [asyncio.create_task(writer(client, w)) for w in range(10)]
            started = time.monotonic()
            while len(acknowledged) < 200 and time.monotonic() - started < 30:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            server.kill()  # SIGKILL: no shutdown, no flush, no goodbye
            await asyncio.gather(*tasks)

    assert len(acknowledged) >= 200
    conn = sqlite3.connect(data_dir / "widget.db")
    stored = dict(conn.execute("SELECT id, body_source FROM comments").fetchall())
    conn.close()
    missing = {cid: body for cid, body in acknowledged.items() if stored.get(cid) != body}
    assert not missing, f"{len(missing)} acknowledged comments were lost"
