"""Exports for admins: the download from a site's page, the API with a token from
`widget admin token`, and both kept to the sites the admin manages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.admins import make_admin, signed_in
from tests.helpers import EMBED, OWN_ORIGIN, PAGE, Widget, posted
from tests.porting.files import many_comments_file
from tests.servers import widget_cli, widget_server
from widget.auth.admins import ADMIN_COOKIE
from widget.auth.signin import SESSION_COOKIE
from widget.config import Settings
from widget.sites import add_site


async def test_a_site_downloads_from_its_admin_page(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await posted(client, body="Exported from the page")
    await make_admin(app, "boss@example.com")
    boss = await signed_in(client, "boss@example.com")
    page = await boss.get("/admin/sites/blog")
    assert 'action="/admin/sites/blog/export"' in page.text
    download = await boss.get("/admin/sites/blog/export", format="jsonl")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/x-ndjson")
    assert download.headers["content-disposition"].startswith('attachment; filename="widget-blog-')
    lines = [json.loads(line) for line in download.text.splitlines()]
    assert [c["text"] for c in lines if c.get("type") == "comment"] == ["Exported from the page"]

    thread = await boss.get("/admin/sites/blog/export", format="csv", thread=PAGE["url"])
    assert thread.status_code == 200 and "Exported from the page" in thread.text
    unknown = await boss.get("/admin/sites/blog/export", format="pdf")
    assert unknown.status_code == 400 and "jsonl" in unknown.text
    missing = await boss.get("/admin/sites/blog/export", thread="/nowhere/")
    assert missing.status_code == 404


async def test_an_admin_exports_only_the_sites_they_manage(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await add_site(app.state.widget.storage, "other", ["https://other.example"], "Other", {})
    await make_admin(app, "helper@example.com", ["other"])
    helper = await signed_in(client, "helper@example.com")
    assert (await helper.get("/admin/sites/blog/export")).status_code == 404
    assert (await helper.get("/admin/sites/other/export")).status_code == 200
    client.cookies.clear()
    assert (await client.get("/admin/sites/other/export")).status_code == 303  # sign in first


@pytest.fixture
async def api_token(app: Starlette, settings: Settings, widget: Widget) -> str:
    """An admin of "blog" only, and the token `widget admin token` prints for them."""
    await make_admin(app, "boss@example.com", ["blog"])
    # The command runs its own event loop: in a thread, so that this one (the app's) goes on.
    missing = await asyncio.to_thread(widget, "admin", "token", "nobody@example.com",
                                      database_url=settings.database_url)  # fmt: skip
    assert missing.code == 1 and "There is no admin nobody@example.com" in missing.err
    made = await asyncio.to_thread(widget, "admin", "token", "boss@example.com", "--days", "30")
    assert made.code == 0, made.err
    assert "acting as boss@example.com for 30 days" in made.err
    token = made.out.strip()
    assert token.startswith("wga_")
    return token


async def test_the_export_api(client: httpx.AsyncClient, app: Starlette, api_token: str) -> None:
    await posted(client, body="Backed up by cron")
    url = "/api/v1/admin/export"
    assert (await client.get(url, params={"site": "blog"})).status_code == 403
    wrong = await client.get(url, params={"site": "blog"}, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 403 and "widget admin token" in wrong.json()["error"]
    auth = {"Authorization": f"Bearer {api_token}"}
    response = await client.get(url, params={"site": "blog", "format": "wxr"}, headers=auth)
    assert response.status_code == 200
    assert "<wp:comment_content><![CDATA[<p>Backed up by cron</p>]]></wp:comment_content>" in (
        response.text
    )
    assert (await client.get(url, headers=auth)).status_code == 400  # which site?
    await add_site(app.state.widget.storage, "other", ["https://other.example"], "Other", {})
    outside = await client.get(url, params={"site": "other"}, headers=auth)
    assert outside.status_code == 404


async def test_an_api_token_opens_the_export_api_and_nothing_else(
    client: httpx.AsyncClient, api_token: str
) -> None:
    as_cookie = {"Cookie": f"{ADMIN_COOKIE}={api_token}"}
    for path in ("/admin/", "/admin/sites/blog", "/admin/sites/blog/export"):
        response = await client.get(path, headers=as_cookie)
        assert response.status_code == 303, path  # to the sign-in page: no session
        assert response.headers["location"].startswith("/admin/login"), path
    login = await client.get("/admin/login", headers=as_cookie)
    assert login.status_code == 200 and "Sign in" in login.text
    logout = await client.post("/admin/logout", headers={**OWN_ORIGIN, **as_cookie})
    assert logout.status_code == 403 and "sign in again" in logout.text

    # Nor is it anyone's session in the comment frame's API.
    bearer = {**OWN_ORIGIN, "Authorization": f"Bearer {api_token}"}
    me = await client.post("/api/v1/me", json={"site": "blog", **EMBED}, headers=bearer)
    assert me.status_code == 200 and me.json()["user"] is None
    mine = await client.post("/api/v1/me/export", json={}, headers=bearer)
    assert mine.status_code == 403
    as_visitor = {**OWN_ORIGIN, "Cookie": f"{SESSION_COOKIE}={api_token}"}
    me = await client.post("/api/v1/me", json={"site": "blog", **EMBED}, headers=as_visitor)
    assert me.status_code == 200 and me.json()["user"] is None

    export = await client.get(
        "/api/v1/admin/export", params={"site": "blog"},
        headers={"Authorization": f"Bearer {api_token}"},
    )  # fmt: skip
    assert export.status_code == 200


async def test_an_admin_session_is_not_an_api_token(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_admin(app, "boss@example.com")
    boss = await signed_in(client, "boss@example.com")
    session = boss.cookie.partition("=")[2]
    assert (await boss.get("/admin/")).status_code == 200
    export = await client.get(
        "/api/v1/admin/export", params={"site": "blog"},
        headers={"Authorization": f"Bearer {session}"},
    )  # fmt: skip
    assert export.status_code == 403
    assert "widget admin token" in export.json()["error"]


@pytest.mark.slow  # a server of its own, and clients that stop reading
def test_downloads_that_stall_keep_nobody_else_waiting(tmp_path: Path) -> None:
    """Three export downloads whose clients stop reading (a stalled network, a cron job hung
    on a full disk): the rest of the server still answers at once, and each download says
    how long it is. Streamed from the database as the client read, each held one of
    SQLite's two readers until the client read on: the third download's answer, every read
    and every post waited, for ever."""
    data_dir = tmp_path / "data"
    # Some 12 MB exported: more than the kernel buffers between server and client hold.
    source = many_comments_file(tmp_path / "source.jsonl", 12_000)
    widget_cli(data_dir, "site", "add", "blog", "--origin", "https://blog.example",
               "--set", "min_seconds_to_post=0")  # fmt: skip
    widget_cli(data_dir, "import", str(source), "--site", "blog")
    widget_cli(data_dir, "admin", "add", "boss@example.com", "--password-stdin",
               stdin="a long enough password\n")  # fmt: skip
    token = widget_cli(data_dir, "admin", "token", "boss@example.com").split()[-1]
    with widget_server(data_dir) as server, contextlib.ExitStack() as stalled:
        heads = []
        for _ in range(3):
            sock = stalled.enter_context(socket.socket())
            # A small window, as a client that reads nothing soon has: else the kernel's
            # buffers on both sides take in megabytes before the server has to wait.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(10)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(
                "GET /api/v1/admin/export?site=blog HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Authorization: Bearer {token}\r\n\r\n".encode()
            )
            heads.append(sock.recv(4096).decode(errors="replace"))  # then reads no more
        for path in ("/readyz", "/api/v1/threads?site=blog&page=/p/"):
            assert httpx.get(f"{server.local_url}{path}", timeout=10).status_code == 200
        assert server.post_comment("/p/", "while downloads stall").status_code == 201
        assert all(re.search(r"(?i)\r\ncontent-length: \d{8,}\r\n", head) for head in heads)
