"""Constants and small helpers the tests share."""

from __future__ import annotations

import html.parser
from pathlib import Path
from typing import Any

import httpx

from widget.config import Settings, load_settings

PUBLIC_URL = "http://comments.localhost:8000"
OWN_ORIGIN = {"Origin": PUBLIC_URL}
BLOG = "https://blog.example"
PAGE = {"site": "blog", "page": "/hello/", "url": f"{BLOG}/hello/", "title": "Hello world"}


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": str(data_dir),
        "secret_key": "test-secret-key",
        "public_url": PUBLIC_URL,
        "demo": False,
        "post_rate_per_minute": 10_000,  # tests of the limit itself ask for the default
    }
    values.update(overrides)
    return load_settings(environ={}, **values)


def comment_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        **PAGE,
        "body": "A first comment",
        "name": "Ann",
        "email": "ann@example.com",
        "website": "",
    }
    body.update(fields)
    return body


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
