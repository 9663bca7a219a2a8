"""Whatever arrives, the answer is a 2xx, 3xx or a 4xx with a message: never a 500."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from tests.admins import Admin, make_admin, signed_in
from tests.helpers import IMPORT_FIXTURES, OWN_ORIGIN, PAGE, comment_body, form_token
from widget.porting.importer import import_file
from widget.porting.items import BadFile

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
# Numbers past what an id can be, up to past Python's 4,300-digit limit on reading them.
long_numbers = (st.sampled_from([19, 4_301]) | st.integers(1, 6_000)).map(lambda n: "9" * n)
texts = (
    st.text(max_size=40)
    | st.sampled_from(
        ["", "/", "/hello/", "https://blog.example/x", "0", "-1", "999999999999999999999"]
    )
    | long_numbers
)
queries = st.dictionaries(
    st.sampled_from(
        ["page", "url", "title", "theme", "lang", "before", "after", "replytocom", "site"]
    ),
    texts,
    max_size=6,
)
# How many examples each test tries comes from the profile (tests/conftest.py): a few in the
# quick loop, many in the full run.
fuzz = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


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
@given(body=bodies, comment=st.text(max_size=12) | long_numbers)
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
@example(  # a reply to a comment id of 5,000 digits, on an otherwise valid form
    form={**PAGE, "body": "Hi", "name": "Ann", "email": "ann@example.com", "parent": "9" * 5_000,
          "form_token": form_token("blog", PAGE["page"])}
)  # fmt: skip
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


# JSON as a client may write it, not as Python would: nesting deep enough to reach the
# recursion limit, numbers past the integer-reading limit, constants JSON does not have.
hostile_literals = st.one_of(
    st.integers(1, 150_000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(1, 40_000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    st.integers(1, 20_000).map(lambda digits: "9" * digits),
    st.integers(1, 20_000).map(lambda digits: "-" + "9" * digits),
    st.integers(1, 5_000).map(lambda digits: "1" * digits + ".5e" + "9" * 6),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-0", "true", "null", '"\\ud800"']),
)


@fuzz
@given(
    field=st.sampled_from(FIELDS),
    literal=hostile_literals,
    target=st.sampled_from(
        [("POST", "/api/v1/comments"), ("POST", "/api/v1/likes"), ("POST", "/api/v1/me"),
         ("PATCH", "/api/v1/comments/1"), ("DELETE", "/api/v1/comments/1"),
         ("POST", "/api/v1/auth/session")]
    ),
)  # fmt: skip
async def test_hostile_json(
    client: httpx.AsyncClient, field: str, literal: str, target: tuple[str, str]
) -> None:
    text = json.dumps(comment_body())[:-1] + f', "{field}": {literal}}}'
    headers = {**OWN_ORIGIN, "Content-Type": "application/json"}
    method, path = target
    assert_answered(await client.request(method, path, content=text.encode(), headers=headers))


# Admin pages: what a signed-in admin's forms and addresses can carry.
admin_texts = texts | st.text(alphabet=st.characters(codec="utf-8"), max_size=300)
admin_forms = st.dictionaries(
    st.sampled_from(
        ["body", "name", "website", "action", "id", "one", "pinned", "closed", "kind", "value",
         "note", "scope", "site", "origins", "order", "max_depth", "edit_window_s", "max_links",
         "moderation", "sign_in", "guest_email", "min_seconds_to_post", "notify_emails",
         "webhook_url", "count_zero", "count_one", "count_many", "blocked_words"]
    ),
    admin_texts,
    max_size=8,
)  # fmt: skip


@pytest.fixture
async def boss(app: Starlette, client: httpx.AsyncClient) -> Admin:
    """A signed-in admin of every site, with a comment to act on (made once for all
    examples: hypothesis reuses a test's fixtures)."""
    await make_admin(app, "boss@example.com")
    await client.post("/api/v1/comments", json=comment_body(), headers=OWN_ORIGIN)
    return await signed_in(client, "boss@example.com")


@fuzz
@given(
    form=admin_forms,
    path=st.sampled_from(
        ["/admin/sites/blog/comments", "/admin/comments/1", "/admin/comments/1/pin",
         "/admin/comments/1/thread", "/admin/comments/1/ban", "/admin/sites", "/admin/sites/blog",
         "/admin/sites/blog/bans", "/admin/sites/blog/bans/1/remove"]
    ) | long_numbers.map(lambda n: f"/admin/comments/{n}"),
    query=st.dictionaries(
        st.sampled_from(["status", "q", "author", "page", "before", "format", "thread", "done",
                         "n"]),
        admin_texts, max_size=4,
    ),
)  # fmt: skip
async def test_admin_forms(
    boss: Admin, form: dict[str, str], path: str, query: dict[str, str]
) -> None:
    assert_answered(await boss.post(path, data=list(form.items())))
    for page in ("/admin/sites/blog/comments", "/admin/sites/blog/export", "/admin/comments/1"):
        assert_answered(await boss.get(page, **query))


FIXTURES = IMPORT_FIXTURES


@fuzz
@given(
    name=st.sampled_from(["commento.json", "disqus.xml", "remark42.jsonl", "wordpress.xml"]),
    cut=st.floats(0, 1),
    insert=st.binary(max_size=20) | st.sampled_from([b"9" * 5000, b"[" * 5000, b"\x00", b"<"]),
)
async def test_import_files(
    app: Starlette, tmp_path_factory: Any, name: str, cut: float, insert: bytes
) -> None:
    """A damaged export either imports (what can be read of it) or is refused as a whole
    (BadFile, a message for the admin); it never fails with another error."""
    original = (FIXTURES / name).read_bytes()
    at = int(len(original) * cut)
    damaged = tmp_path_factory.mktemp("import") / name
    damaged.write_bytes(original[:at] + insert + original[at + len(insert) :])
    try:
        await import_file(app.state.widget.storage, damaged, "blog")
    except BadFile as exc:
        assert str(exc)
