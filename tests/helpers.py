"""Constants and small helpers the tests share."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import html
import html.parser
import ipaddress
import itertools
import json
import logging
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from widget.app import create_app
from widget.auth.tokens import TokenSigner
from widget.config import Settings, load_settings
from widget.moderation.screening import new_form_token
from widget.notify.outbox import Outbox
from widget.records import PageRef
from widget.sites import add_site
from widget.storage.migrations import migrations
from widget.views.kept_answers import KeptAnswers

# Where things are, whichever folder a test module sits in.
REPO = Path(__file__).resolve().parent.parent
IMPORT_FIXTURES = REPO / "tests" / "fixtures" / "import"
PUBLIC_URL = "http://comments.localhost:8000"
SECRET = "test-secret-key"
QUICK = {"min_seconds_to_post": 0}  # site settings for tests that post at once
OWN_ORIGIN = {"Origin": PUBLIC_URL}
BLOG = "https://blog.example"
PAGE = {"site": "blog", "page": "/hello/", "url": f"{BLOG}/hello/", "title": "Hello world"}
# The iframe's query for PAGE (the site is in the path).
EMBED = {key: value for key, value in PAGE.items() if key != "site"}
# The tests' OpenID provider, Akismet and webhook receivers listen on loopback, as an operator's
# own would on a private network, so the tests' server may reach it; the tests of that guard
# (tests/http/test_outbound.py) choose their own networks.
LOOPBACK = "127.0.0.0/8,::1"
# argon2 at the least it takes (32 KiB, one pass) instead of 64 MiB and three: the tests of
# admin accounts check passwords by the hundred, and the cost itself is a setting like any other.
CHEAP_PASSWORDS = {"admin_password_memory_kib": 32, "admin_password_time_cost": 1}


@functools.cache
def loopback_http() -> httpx.Client:
    """The client for requests a test makes itself, in plain HTTP, to a server it runs on
    loopback (the OpenID provider, a widget under uvicorn): one per process, because each new
    httpx client reads the CA bundle for TLS these requests never use (some 30 ms of CPU).
    It keeps no connection between requests, as `httpx.get` would not."""
    return httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "secret_key": SECRET,
        "public_url": PUBLIC_URL,
        "demo": False,
        "post_rate_per_minute": 10_000,  # tests of the limit itself ask for the default
        **CHEAP_PASSWORDS,
        # Documents keep their first, quick brotli: compressing each new one again at 11 in
        # the background cost ~0.6 s of the fast tests' CPU. Its tests ask for 11.
        "document_brotli_quality": 5,
        "outbound_private_networks": tuple(
            ipaddress.ip_network(net) for net in LOOPBACK.split(",")
        ),
    }
    values.update(overrides)
    return load_settings(environ={}, **values)


@dataclasses.dataclass(frozen=True)
class Ran:
    """What a `widget` command did: its exit status and what it printed."""

    code: int
    out: str
    err: str


# widget("site", "list", database_url=...): see the `widget` fixture in tests/conftest.py.
Widget = Callable[..., Ran]


def form_token(site: str, page: str, secret: str = SECRET) -> str:
    """The token the comment form carries, as the server would hand it out for this page (a
    new one at each call: each posts one comment)."""
    parts = urlsplit(page.strip())
    if parts.scheme in {"http", "https"} and parts.netloc:
        page = parts.path or "/"
    return new_form_token(TokenSigner(secret), PageRef(site, page.strip(), "", ""))


def with_form_token(body: dict[str, Any]) -> dict[str, Any]:
    """A JSON comment with the form token of its page (unless the test gives its own)."""
    if "form_token" not in body and isinstance(body.get("page"), str):
        body = {**body, "form_token": form_token(str(body.get("site")), body["page"])}
    return body


_numbers = itertools.count(1)


def comment_body(**fields: Any) -> dict[str, Any]:
    """A guest comment; each has its own text, since repeating one holds it as a duplicate."""
    body: dict[str, Any] = {
        **PAGE,
        "body": f"A comment, number {next(_numbers)}",
        "name": "Ann",
        "email": "ann@example.com",
        "website": "",
    }
    body.update(fields)
    return with_form_token(body)


async def post_comment(client: httpx.AsyncClient, **fields: Any) -> httpx.Response:
    return await client.post("/api/v1/comments", json=comment_body(**fields), headers=OWN_ORIGIN)


async def posted(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await post_comment(client, **fields)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def hidden_inputs(document: str) -> dict[str, str]:
    """The hidden fields of a page's forms, as a browser would send them back."""

    fields: dict[str, str] = {}

    class Collector(html.parser.HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            if tag == "input" and found.get("type") == "hidden" and found.get("name"):
                fields[found["name"] or ""] = found.get("value") or ""

    Collector().feed(document)
    return fields


async def start_sign_in(
    client: httpx.AsyncClient, provider: str, challenge: str, **fields: str
) -> httpx.Response:
    """What the frame does to start a sign-in: post its challenge into the popup, a form sent
    from our own origin."""
    return await client.post(
        f"/auth/{provider}/start", data={"challenge": challenge, **fields}, headers=OWN_ORIGIN
    )


def provider_url(popup_page: httpx.Response) -> str:
    """Where the popup's page after the start sends the browser: the provider's own page."""
    assert popup_page.status_code == 200, popup_page.text
    match = re.search(r'data-next="([^"]+)"', popup_page.text)
    assert match, popup_page.text
    return html.unescape(match.group(1))


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Starlette]:
    """An app with its lifespan entered and the test blog added (posting at once allowed)."""
    from widget.sites import add_site

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await add_site(app.state.widget.storage, "blog", [BLOG], "The blog", QUICK)
        yield app


def stored_comments(database: Path) -> dict[int, str]:
    """Every comment in a SQLite file (with its -wal, if any): id -> markdown source."""
    conn = sqlite3.connect(database)
    try:
        return dict(conn.execute("SELECT id, body_source FROM comments").fetchall())
    finally:
        conn.close()


async def open_form(client: httpx.AsyncClient, **params: str) -> dict[str, str]:
    """What a browser without JavaScript would send back from the document's form."""
    response = await client.get("/embed/blog/thread", params={**EMBED, **params})
    assert response.status_code == 200
    return hidden_inputs(response.text)


async def settle(app: Starlette) -> None:
    """Let the outbox finish what is queued (the tests' stand-in for "a moment later")."""
    outbox: Outbox = app.state.widget.outbox
    for _ in range(100):
        if (await app.state.widget.storage.outbox_counts())["queued"] == 0:
            return
        outbox.wake()
        await asyncio.sleep(0.02)
    raise AssertionError("the outbox did not empty")


async def outbox_rows(storage: Any) -> list[dict[str, Any]]:
    rows = []
    async for batch in storage.dump(only=["outbox"]):
        if batch.table == "outbox":
            columns = ("id", "kind", "payload", "attempts", "due_at", "locked_until",
                       "last_error", "created_at", "failed_at")  # fmt: skip
            rows += [dict(zip(columns, row, strict=True)) for row in batch.rows]
    return rows


DATA_REQUEST = "/embed/blog/data-request"


async def ask_for_link(client: httpx.AsyncClient, address: str) -> httpx.Response:
    return await client.post(DATA_REQUEST, data={**EMBED, "email": address}, headers=OWN_ORIGIN)


async def held(client: httpx.AsyncClient, app: Starlette, **fields: Any) -> tuple[str, str]:
    """Post a comment that should not be published, and say what became of it."""
    body = comment_body(**fields)
    thread = {**PAGE, "page": body["page"], "url": body["url"]}
    before = (await client.get("/api/v1/threads", params=thread)).json().get("count", 0)
    response = await client.post("/api/v1/comments", json=body, headers=OWN_ORIGIN)
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["held"] is True
    assert data["count"] == before  # the thread did not change
    assert "awaiting moderation" in data["html"]  # the author is told, the same for spam
    assert body["body"] not in await fragment(client)
    return await status_of(app, data["comment"]["id"])


@contextlib.asynccontextmanager
async def client_of(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        await add_site(app.state.widget.storage, "blog", [BLOG], "The blog", QUICK)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield client


async def schema_before(database_url: str, number: int, rows: str) -> None:
    """The database as the migrations before `number` left it, with `rows` in it."""
    before = [m for m in migrations("postgres" if "postgres" in database_url else "sqlite")]
    before = [(n, name, sql) for n, name, sql in before if n < number]
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):  # the tests' databases come migrated
            os.remove(path)
        conn = sqlite3.connect(path)
        conn.execute(
            "CREATE TABLE schema_migrations"
            " (number INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
        for n, name, sql in before:
            conn.executescript(sql)
            conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (n, name))
        conn.executescript(rows.format(now="1700000000.0", later="4000000000.0"))
        conn.commit()
        conn.close()
        return
    pg = await asyncpg.connect(database_url)
    try:
        await pg.execute(
            "CREATE TABLE schema_migrations"
            " (number integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
        )
        for n, name, sql in before:
            await pg.execute(sql)
            await pg.execute("INSERT INTO schema_migrations VALUES ($1, $2, now())", n, name)
        await pg.execute(rows.format(now="now()", later="now() + interval '1 day'"))
    finally:
        await pg.close()


async def number_again(database_url: str, table: str, number: int) -> None:
    """Make `table` give `number` to its next row, as a database could once its newest row was
    deleted before it was upgraded to 0014 (SQLite), or loaded from a dump made after that."""
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as conn:
            conn.execute("UPDATE sqlite_sequence SET seq = ? WHERE name = ?", (number - 1, table))
            conn.commit()
        return
    pg = await asyncpg.connect(database_url)
    try:
        await pg.execute(
            "SELECT setval(pg_get_serial_sequence($1, 'id'), $2, false)", table, number
        )
    finally:
        await pg.close()


async def status_of(app: Starlette, comment_id: int) -> tuple[str, str]:
    comment = await app.state.widget.storage.get_comment(comment_id)
    assert comment is not None
    return comment.status, comment.held_because


async def fragment(client: httpx.AsyncClient) -> str:
    response = await client.get("/embed/blog/thread/fragment", params=EMBED)
    assert response.status_code == 200
    return response.text


@contextlib.asynccontextmanager
async def postgres_schema(server_url: str) -> AsyncIterator[str]:
    """A PostgreSQL schema of its own on the server at `server_url`, dropped afterwards: the
    URL that puts a connection in it."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(server_url)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        separator = "&" if "?" in server_url else "?"
        yield f"{server_url}{separator}search_path={schema}"
    finally:
        await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await conn.close()


# The request is made by hand, in ASGI's own terms: an HTTP client would load httpx, which the
# server itself loads only when it first sends a request to another server.
_LOADED_AT_START = """
import asyncio, json, sys
from widget.app import create_app

async def get(app, path):
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"comments.localhost")],
             "client": ("127.0.0.1", 1), "server": ("comments.localhost", 80)}
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"]

async def main() -> None:
    app = create_app()
    async with app.router.lifespan_context(app):
        assert await get(app, "/healthz") == 200
    print(json.dumps(sorted(sys.modules)))

asyncio.run(main())
"""


def loaded_at_start(modules: list[str], **settings: str) -> dict[str, bool]:
    """Which of `modules` a fresh process has loaded once its app has started and answered a
    request (settings as `WIDGET_*`): what the server holds in memory before anyone uses a
    feature."""
    loaded = _loaded_at_start(tuple(sorted(settings.items())))
    return {name: name in loaded for name in modules}


@functools.cache
def _loaded_at_start(settings: tuple[tuple[str, str], ...]) -> frozenset[str]:
    # Every module the process loaded, so that one process per set of settings answers every
    # test that asks (a process costs some 0.3 s of CPU to import the server).
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env.update({f"WIDGET_{name.upper()}": value for name, value in settings})
    with tempfile.TemporaryDirectory(prefix="widget-loaded-") as data_dir:
        env.update(WIDGET_DATA_DIR=data_dir, WIDGET_DEMO="false")
        ran = subprocess.run(
            [sys.executable, "-c", _LOADED_AT_START],
            capture_output=True, text=True, cwd=REPO, env=env, check=True,
        )  # fmt: skip
    return frozenset(json.loads(ran.stdout))


def kept_answers_of(app: Starlette) -> KeptAnswers:
    """The app's outermost layer, which sends kept answers (built by the app's first call)."""
    layer = app.middleware_stack.app  # type: ignore[union-attr]
    assert isinstance(layer, KeptAnswers)
    return layer


def client_below_kept_answers(app: Starlette) -> httpx.AsyncClient:
    """A client whose every request goes the whole way through the app, past KeptAnswers, from
    the address the `client` fixture has: to compare with what KeptAnswers sends."""
    below = kept_answers_of(app).app

    async def whole_way(scope: Scope, receive: Receive, send: Send) -> None:
        await below({**scope, "app": app}, receive, send)  # as Starlette would

    transport = httpx.ASGITransport(app=whole_way, client=("203.0.113.7", 40000))
    return httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL)


def without_request_id(response: httpx.Response) -> list[tuple[str, str]]:
    """The response's headers, in order, the request id blanked (each request has its own)."""
    return [(name, value if name != "x-request-id" else "") for name, value in
            response.headers.multi_items()]  # fmt: skip


def request_lines(caplog: Any) -> list[str]:
    """The request log's lines, without their durations."""
    return [re.sub(r" [\d.]+ms$", "", r.getMessage()) for r in caplog.records
            if r.name == "widget.requests"]  # fmt: skip


async def sent_early_alike(
    client: httpx.AsyncClient,
    app: Starlette,
    path: str,
    params: Any,
    asked: list[dict[str, str]],
    is_kept: Callable[[dict[str, str]], bool],
    caplog: Any,
) -> list[httpx.Response]:
    """Each request of `asked` sent through KeptAnswers (which must hold its answer:
    `is_kept(headers)`) and past it, the whole way through the app: both answers alike in
    status, headers (in order; the request ids differ), body and log line. The answers sent
    early."""
    whole_way = client_below_kept_answers(app)
    early_answers = []
    try:
        with caplog.at_level(logging.INFO, logger="widget.requests"):
            for headers in asked:
                assert is_kept(headers)  # so `early` is sent by KeptAnswers
                early = await client.get(path, params=params, headers=headers)
                late = await whole_way.get(path, params=params, headers=headers)
                assert early.status_code == late.status_code
                assert early.content == late.content
                assert without_request_id(early) == without_request_id(late)
                assert early.headers["x-request-id"] != late.headers["x-request-id"]
                early_answers.append(early)
    finally:
        await whole_way.aclose()
    lines = request_lines(caplog)
    assert len(lines) == 2 * len(asked)
    assert lines[0::2] == lines[1::2]
    return early_answers


def clock_by_hand(monkeypatch: pytest.MonkeyPatch, module: Any, start: datetime) -> list[datetime]:
    """`module`'s datetime.now() answers clock[0], which the test moves on (limits by the day
    kept up over hours, without waiting them)."""
    clock = [start]

    class Clock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Clock:
            return clock[0]  # type: ignore[return-value]

    monkeypatch.setattr(module, "datetime", Clock)
    return clock
