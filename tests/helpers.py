"""Constants and small helpers the tests share."""

from __future__ import annotations

import contextlib
import dataclasses
import html
import html.parser
import ipaddress
import itertools
import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette

from widget.auth.tokens import TokenSigner
from widget.config import Settings, load_settings
from widget.moderation.screening import new_form_token
from widget.storage import PageRef

PUBLIC_URL = "http://comments.localhost:8000"
SECRET = "test-secret-key"
QUICK = {"min_seconds_to_post": 0}  # site settings for tests that post at once
OWN_ORIGIN = {"Origin": PUBLIC_URL}
BLOG = "https://blog.example"
PAGE = {"site": "blog", "page": "/hello/", "url": f"{BLOG}/hello/", "title": "Hello world"}
# The tests' OpenID provider, Akismet and webhook receivers listen on loopback, as an operator's
# own would on a private network, so the tests' server may reach it; the tests of that guard
# (tests/test_outbound.py) choose their own networks.
LOOPBACK = "127.0.0.0/8,::1"
# argon2 at the least it takes (32 KiB, one pass) instead of 64 MiB and three: the tests of
# admin accounts check passwords by the hundred, and the cost itself is a setting like any other.
CHEAP_PASSWORDS = {"admin_password_memory_kib": 32, "admin_password_time_cost": 1}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "secret_key": SECRET,
        "public_url": PUBLIC_URL,
        "demo": False,
        "post_rate_per_minute": 10_000,  # tests of the limit itself ask for the default
        **CHEAP_PASSWORDS,
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
    from widget.app import create_app
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
