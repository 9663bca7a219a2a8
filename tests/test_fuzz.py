"""Whatever arrives, the answer is a 2xx, 3xx or a 4xx with a message: never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import OWN_ORIGIN, PAGE

FIELDS = ["site", "page", "url", "title", "theme", "lang", "body", "name", "email", "website",
          "notify", "parent", "comment", "liked", "voter", "token", "edit_tokens"]  # fmt: skip
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=60),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)
bodies = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=8)
texts = st.text(max_size=40) | st.sampled_from(
    ["", "/", "/hello/", "https://blog.example/x", "0", "-1", "999999999999999999999"]
)
queries = st.dictionaries(
    st.sampled_from(
        ["page", "url", "title", "theme", "lang", "before", "after", "replytocom", "site"]
    ),
    texts,
    max_size=6,
)
fuzz = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_answered(response: httpx.Response) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        message = (
            response.json()["error"]
            if response.headers["content-type"].startswith("application/json")
            else response.text
        )
        assert message


@fuzz
@given(body=bodies, path=st.sampled_from(["comments", "likes", "me"]))
async def test_json_writes(client: httpx.AsyncClient, body: dict[str, Any], path: str) -> None:
    merged = {**PAGE, **body} if body.get("site") is None else body
    assert_answered(await client.post(f"/api/v1/{path}", json=merged, headers=OWN_ORIGIN))


@fuzz
@given(body=bodies, comment=st.text(max_size=12))
async def test_json_edits(client: httpx.AsyncClient, body: dict[str, Any], comment: str) -> None:
    url = f"/api/v1/comments/{quote(comment, safe='')}"
    assert_answered(await client.patch(url, json=body, headers=OWN_ORIGIN))
    assert_answered(await client.request("DELETE", url, json=body, headers=OWN_ORIGIN))


@fuzz
@given(query=queries, path=st.sampled_from(["thread", "thread/fragment"]))
async def test_embed_reads(client: httpx.AsyncClient, query: dict[str, str], path: str) -> None:
    assert_answered(await client.get(f"/embed/blog/{path}?{urlencode(query)}"))


@fuzz
@given(query=queries)
async def test_api_reads(client: httpx.AsyncClient, query: dict[str, str]) -> None:
    params = urlencode({"site": "blog", **query})
    assert_answered(await client.get(f"/api/v1/counts?{params}"))
    assert_answered(await client.get(f"/api/v1/threads?{params}"))


@fuzz
@given(form=st.dictionaries(st.sampled_from([*FIELDS, "form_token"]), texts, max_size=10))
async def test_form_posts(client: httpx.AsyncClient, form: dict[str, str]) -> None:
    response = await client.post("/embed/blog/thread/comments", data=form, headers=OWN_ORIGIN)
    assert_answered(response)


@fuzz
@given(raw=st.binary(max_size=200))
async def test_raw_bytes(client: httpx.AsyncClient, raw: bytes) -> None:
    for content_type in ("application/json", "application/x-www-form-urlencoded"):
        headers = {**OWN_ORIGIN, "Content-Type": content_type}
        assert_answered(await client.post("/api/v1/comments", content=raw, headers=headers))
        assert_answered(
            await client.post("/embed/blog/thread/comments", content=raw, headers=headers)
        )
