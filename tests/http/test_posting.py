"""Posting through the JSON API: what is stored, what is shown, and every way to get it wrong."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import ClientFactory
from tests.helpers import BLOG, OWN_ORIGIN, PAGE, comment_body, post_comment, posted


async def test_a_posted_comment_is_stored_and_shown(client: httpx.AsyncClient) -> None:
    data = await posted(client, body="Hello **there**", website="https://ann.example")
    assert data["count"] == 1
    assert data["title_text"] == "One Response to “Hello world”"
    assert data["comment"]["html"] == "<p>Hello <strong>there</strong></p>"
    assert data["comment"]["author"]["name"] == "Ann"
    assert "email" not in str(data["comment"])

    thread = (await client.get("/api/v1/threads", params=PAGE)).json()
    assert thread["count"] == 1
    assert [c["html"] for c in thread["comments"]] == ["<p>Hello <strong>there</strong></p>"]
    fragment = (await client.get("/embed/blog/thread/fragment", params=PAGE)).text
    assert "One Response to “Hello world”" in fragment
    assert '<a href="https://ann.example" rel="nofollow ugc noopener">Ann</a>' in fragment
    assert "ann@example.com" not in fragment


async def test_markup_typed_is_shown_as_text_and_links_stay_absolute(
    client: httpx.AsyncClient,
) -> None:
    data = await posted(
        client, name="<b>Ann</b>",
        body="<i>hi</i> [home](/admin/) [js](javascript:alert(1)) [ok](https://ok.example/)",
    )  # fmt: skip
    assert data["comment"]["html"] == (
        '<p>&lt;i&gt;hi&lt;/i&gt; <a rel="nofollow ugc noopener">home</a>'
        " [js](javascript:alert(1))"
        ' <a href="https://ok.example/" rel="nofollow ugc noopener">ok</a></p>'
    )  # a relative link would point into the comment server: it loses its address
    assert data["comment"]["author"]["name"] == "<b>Ann</b>"  # kept as typed, as text
    fragment = (await client.get("/embed/blog/thread/fragment", params=PAGE)).text
    assert "<cite><bdi>&lt;b&gt;Ann&lt;/b&gt;</bdi></cite>" in fragment
    assert "<b>Ann</b>" not in fragment


def _inserted_as_in_fragment(html: str, fragment: str) -> str:
    """A posted comment's HTML as the fragment has it: the avatar drawn in place there points
    to the fragment's drawing of it (which must be the same drawing)."""
    drawn = re.search(r'<svg aria-hidden="true" (viewBox=.*?)</svg>', html)
    assert drawn
    used = re.search(r'<svg aria-hidden="true"><use href="#(av\d+-\d+)"/></svg>', fragment)
    assert used
    assert f'<symbol id="{used.group(1)}" {drawn.group(1)}</symbol>' in fragment
    return html.strip().replace(drawn.group(0), used.group(0))


async def test_the_inserted_html_is_the_fragments_html(client: httpx.AsyncClient) -> None:
    data = await posted(client)
    fragment = (await client.get("/embed/blog/thread/fragment", params=PAGE)).text
    assert _inserted_as_in_fragment(data["html"], fragment) in fragment


async def test_each_embed_inserts_its_own_html(client: httpx.AsyncClient) -> None:
    """The comment's template is kept bound to each embed (page, language, theme): each
    answer is still the HTML of the fragment it goes into."""
    other = {**PAGE, "page": "/other/", "url": f"{BLOG}/other/"}
    embeds = [PAGE, {**PAGE, "lang": "fr"}, other, {**PAGE, "theme": "dark"}, PAGE]
    answers = []
    for params in embeds:
        data = await posted(client, **params)
        fragment = (await client.get("/embed/blog/thread/fragment", params=params)).text
        assert _inserted_as_in_fragment(data["html"], fragment) in fragment, params
        answers.append(data["html"])
    assert ["dit :" in html for html in answers] == [False, True, False, False, False]
    assert [f"{BLOG}/other/#comment-" in html for html in answers] == [
        False,
        False,
        True,
        False,
        False,
    ]


async def test_replies_nest_and_are_counted(client: httpx.AsyncClient) -> None:
    first = await posted(client, body="First")
    reply = await posted(client, body="A reply", parent=first["comment"]["id"])
    assert reply["comment"]["parent"] == first["comment"]["id"]
    assert reply["comment"]["depth"] == 2
    assert reply["title_text"] == "2 Responses to “Hello world”"
    thread = (await client.get("/api/v1/threads", params=PAGE)).json()
    assert len(thread["comments"]) == 1
    assert thread["comments"][0]["replies"][0]["html"] == "<p>A reply</p>"


async def test_a_reply_at_the_deepest_level_attaches_at_that_level(
    client: httpx.AsyncClient,
) -> None:
    parent_id = None
    ids = []
    for level in range(1, 6):
        data = await posted(client, body=f"level {level}", parent=parent_id)
        assert data["comment"]["depth"] == level
        parent_id = data["comment"]["id"]
        ids.append(parent_id)
    deeper = await posted(client, body="one more", parent=ids[-1])
    # Like WordPress: beside the comment at depth 5, under the same parent.
    assert deeper["comment"]["depth"] == 5
    assert deeper["comment"]["parent"] == ids[-2]


async def test_a_website_without_scheme_gets_https(client: httpx.AsyncClient) -> None:
    data = await posted(client, website="ann.example/blog")
    assert data["comment"]["author"]["url"] == "https://ann.example/blog"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"body": ""}, "body", "Write a comment before posting."),
        ({"body": "   \n  "}, "body", "Write a comment before posting."),
        (
            {"body": "x" * 10_001},
            "body",
            "Your comment is 10,001 characters long; the limit is 10,000.",
        ),
        ({"body": "bell \x07"}, "body", "invisible control characters"),
        ({"name": ""}, "name", "Enter your name."),
        ({"name": "x" * 101}, "name", "at most 100 characters"),
        ({"name": "Ann\nEvil: header"}, "name", "line breaks"),
        ({"email": ""}, "email", "Enter your email address"),
        ({"email": "not-an-email"}, "email", "name@example.com"),
        ({"email": "a@b"}, "email", "After the @, enter a domain name such as example.com."),
        ({"website": "javascript:alert(1)"}, "website", "http:// or https://"),
        ({"website": "ftp://files.example"}, "website", "http:// or https://"),
        ({"website": "data:text/html,hi"}, "website", "http:// or https://"),
        ({"website": "https://"}, "website", "such as https://example.com"),
        ({"website": "http://x@evil.example"}, "website", "such as https://example.com"),
        (
            {"website": 'https://a.example/"onmouseover="x'},
            "website",
            "such as https://example.com",
        ),
        ({"parent": 0}, "parent", "not valid"),
    ],
)
async def test_bad_fields_get_422_naming_the_field(
    client: httpx.AsyncClient, fields: dict[str, object], field: str, message: str
) -> None:
    response = await post_comment(client, **fields)
    assert response.status_code == 422
    data = response.json()
    assert message in data["fields"][field]
    assert message in data["error"]
    assert (await client.get("/api/v1/counts", params={"site": "blog", "page": "/hello/"})).json()[
        "counts"
    ]["/hello/"]["count"] == 0


async def test_every_wrong_field_is_reported_at_once(client: httpx.AsyncClient) -> None:
    response = await post_comment(client, body="", name="", email="nope")
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"body", "name", "email"}


async def test_a_body_at_the_limit_is_kept_whole(client: httpx.AsyncClient) -> None:
    body = "é" * 9_999 + "!"
    data = await posted(client, body=body)
    assert data["comment"]["html"] == f"<p>{body}</p>"


async def test_a_parent_from_another_thread_is_refused(client: httpx.AsyncClient) -> None:
    other = await posted(client, page="/other/", url=f"{BLOG}/other/")
    response = await post_comment(client, parent=other["comment"]["id"])
    assert response.status_code == 422
    assert response.json()["fields"]["parent"] == "That comment is not on this page."


async def test_a_missing_parent_is_refused(client: httpx.AsyncClient) -> None:
    await posted(client)
    response = await post_comment(client, parent=999)
    assert response.status_code == 422
    assert "not on this page" in response.json()["error"]


async def test_a_reply_to_a_deleted_comment_is_refused(client: httpx.AsyncClient) -> None:
    first = await posted(client)
    delete = await client.request(
        "DELETE", f"/api/v1/comments/{first['comment']['id']}",
        json={"token": first["edit_token"]}, headers=OWN_ORIGIN,
    )  # fmt: skip
    assert delete.status_code == 200
    response = await post_comment(client, parent=first["comment"]["id"])
    assert response.status_code == 422
    assert "removed" in response.json()["error"]


async def test_an_unknown_site_is_404(client: httpx.AsyncClient) -> None:
    response = await post_comment(client, site="nope")
    assert response.status_code == 404
    assert "There is no site called 'nope'" in response.json()["error"]
    # Found by fuzzing: ids no site can have never reach the database (PostgreSQL refuses NUL).
    for impossible in ("\x00", "a" * 200, "Blog"):
        counts = await client.get("/api/v1/counts", params={"site": impossible, "page": "/"})
        assert counts.status_code == 404


async def test_a_page_outside_the_sites_origins_is_403(client: httpx.AsyncClient) -> None:
    response = await post_comment(client, url="https://evil.example/hello/")
    assert response.status_code == 403
    assert "https://evil.example" in response.json()["error"]


async def test_a_page_url_is_an_http_address_of_at_most_2000_characters(
    client: httpx.AsyncClient,
) -> None:
    ftp = await post_comment(client, url="ftp://blog.example/hello/")
    assert ftp.status_code == 400
    assert ftp.json()["error"] == "The page URL must be an http or https address."
    long = f"{BLOG}/hello/?q="
    too_long = await post_comment(client, url=long + "x" * (2001 - len(long)))
    assert too_long.status_code == 400
    # What is wrong with it, and the limit, in the reader's language and numbers.
    assert too_long.json()["error"] == "The page URL must be at most 2,000 characters long."
    french = await client.post(
        "/api/v1/comments", json=comment_body(url=long + "x" * (2001 - len(long))),
        headers={**OWN_ORIGIN, "Accept-Language": "fr"},
    )  # fmt: skip
    assert french.json()["error"] == "L’URL de la page doit faire au plus 2\u202f000 caractères."
    assert (await post_comment(client, url=long + "x" * (2000 - len(long)))).status_code == 201


async def test_an_empty_page_is_400(client: httpx.AsyncClient) -> None:
    response = await post_comment(client, page="")
    assert response.status_code == 400
    assert "page" in response.json()["error"]


async def test_non_string_fields_are_400(client: httpx.AsyncClient) -> None:
    response = await post_comment(client, body=["a list"])
    assert response.status_code == 400
    assert response.json()["error"] == "'body' must be a string."
    response = await post_comment(client, parent="12")
    assert response.status_code == 400
    for box in ("notify", "notify_posts"):
        for not_a_boolean in ("yes", 1, "true"):
            response = await post_comment(client, **{box: not_a_boolean})
            assert response.status_code == 400
            assert response.json()["error"] == f"'{box}' must be true or false."


async def test_posting_needs_our_own_origin(client: httpx.AsyncClient) -> None:
    no_origin = await client.post("/api/v1/comments", json=comment_body())
    assert no_origin.status_code == 403
    assert "Origin" in no_origin.json()["error"]
    foreign = await client.post(
        "/api/v1/comments", json=comment_body(), headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert "https://evil.example" in foreign.json()["error"]


async def test_the_json_api_needs_application_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/comments", content=b"body=hi", headers={
            **OWN_ORIGIN, "Content-Type": "application/x-www-form-urlencoded"
        },
    )  # fmt: skip
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    plain = await client.post(
        "/api/v1/comments", content=b"{}", headers={**OWN_ORIGIN, "Content-Type": "text/plain"}
    )
    assert plain.status_code == 415


async def test_broken_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/comments", content=b'{"body": ', headers={
            **OWN_ORIGIN, "Content-Type": "application/json"
        },
    )  # fmt: skip
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]
    array = await client.post(
        "/api/v1/comments",
        content=b"[]",
        headers={**OWN_ORIGIN, "Content-Type": "application/json"},
    )
    assert array.status_code == 400
    assert "JSON object" in array.json()["error"]


async def test_invalid_utf8_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/comments",
        content=b'{"site": "blog", "page": "/x/", "body": "\xff\xfe broken"}',
        headers={**OWN_ORIGIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "UTF-8" in response.json()["error"]


async def test_lone_surrogates_are_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/comments",
        content=b'{"site": "blog", "page": "/x/", "body": "half \\ud800 a pair"}',
        headers={**OWN_ORIGIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert "not valid Unicode" in response.json()["error"]


async def test_oversized_requests_are_413(client: httpx.AsyncClient) -> None:
    response = await post_comment(client, body="x" * 300_000)
    assert response.status_code == 413
    assert "262,144 bytes" in response.json()["error"]


async def test_oversized_streamed_requests_are_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 10_000

    response = await client.post(
        "/api/v1/comments",
        content=chunks(),
        headers={**OWN_ORIGIN, "Content-Type": "application/json"},
    )
    assert response.status_code == 413


async def test_a_get_changes_nothing(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/comments", params=comment_body())
    assert response.status_code == 405
    counts = await client.get("/api/v1/counts", params={"site": "blog", "page": "/hello/"})
    assert counts.json()["counts"]["/hello/"]["count"] == 0


async def test_concurrent_posts_are_all_kept(client: httpx.AsyncClient) -> None:
    results = await asyncio.gather(*(post_comment(client, body=f"n{i}") for i in range(40)))
    assert [r.status_code for r in results] == [201] * 40
    ids = {r.json()["comment"]["id"] for r in results}
    assert len(ids) == 40
    counts = await client.get("/api/v1/counts", params={"site": "blog", "page": "/hello/"})
    assert counts.json()["counts"]["/hello/"]["count"] == 40


async def test_the_pages_title_follows_the_newest_comment(client: httpx.AsyncClient) -> None:
    await posted(client, title="Old title")
    data = await posted(client, title="New title")
    assert data["title_text"] == "2 Responses to “New title”"


async def test_page_ids_given_as_urls_name_the_same_thread(client: httpx.AsyncClient) -> None:
    await posted(client, page=f"{BLOG}/hello/")
    await posted(client, page="/hello/")
    counts = await client.get(
        "/api/v1/counts", params={"site": "blog", "page": ["/hello/", f"{BLOG}/hello/"]}
    )
    assert counts.json()["counts"] == {
        "/hello/": {"count": 2, "text": "2 Responses"},
        f"{BLOG}/hello/": {"count": 2, "text": "2 Responses"},
    }


async def test_health(client: httpx.AsyncClient, app: Starlette) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_unknown_addresses_are_404_json_under_the_api(client_from: ClientFactory) -> None:
    client = client_from()
    response = await client.get("/api/v1/nothing")
    assert response.status_code == 404
    assert response.json() == {"error": "There is nothing at this address."}


async def test_notify_is_stored_with_the_comment(client: httpx.AsyncClient, app: Starlette) -> None:
    wants = await posted(client, notify=True)
    does_not = await posted(client)
    storage = app.state.widget.storage
    first = await storage.get_comment(wants["comment"]["id"])
    second = await storage.get_comment(does_not["comment"]["id"])
    assert first is not None and first.notify is True
    assert second is not None and second.notify is False
    assert first.author_email == "ann@example.com"
    assert first.remote_ip == "203.0.113.7"


async def test_an_unknown_thread_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/threads", params={**PAGE, "page": "/never/"})
    assert response.status_code == 404
    assert response.json()["error"] == "Nobody has commented on '/never/' yet."
