"""Atom feeds of the latest comments, read back with feedparser as feed readers read them:
valid, newest first, only what everyone may see, cacheable."""

from __future__ import annotations

from typing import Any

import feedparser
import httpx
from starlette.applications import Starlette

from tests.helpers import BLOG, PAGE, PUBLIC_URL, loaded_at_start, posted

THREAD_FEED = "/feeds/blog/thread.atom"
OTHER = {"page": "/other/", "url": f"{BLOG}/other/", "title": "Another post"}


def parsed(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception  # well-formed XML, as a reader needs it
    assert feed.version == "atom10"
    return feed


async def test_a_thread_feed_holds_its_published_comments_newest_first(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    first = await posted(client, body="First *thoughts*", name="Ann & <Co>",
                         email="ann@example.com", website="https://ann.example/")  # fmt: skip
    reply = await posted(client, body="A reply", name="Bob", email="bob@example.com",
                         parent=first["comment"]["id"])  # fmt: skip
    held = await posted(client, body="Held back", name="Cy")
    deleted = await posted(client, body="Taken down", name="Di")
    await posted(client, body="Elsewhere", name="Eve", **OTHER)
    storage = app.state.widget.storage
    await storage.set_status([held["comment"]["id"]], "pending", ["blog"])
    await storage.set_status([deleted["comment"]["id"]], "deleted", ["blog"])

    response = await client.get(THREAD_FEED, params={"page": PAGE["page"]})
    feed = parsed(response)
    assert feed.feed.title == "Comments on “Hello world”"
    assert feed.feed.link == PAGE["url"]
    assert [e.author for e in feed.entries] == ["Bob", "Ann & <Co>"]
    newest, oldest = feed.entries
    assert newest.link == f"{PUBLIC_URL}/c/{reply['comment']['id']}"
    assert newest.id == newest.link
    assert oldest.title == "Ann & <Co> on “Hello world”"
    assert oldest.author_detail.href == "https://ann.example/"
    assert oldest.content[0].value == "<p>First <em>thoughts</em></p>"
    assert feed.feed.updated == newest.updated
    for secret in (b"ann@example.com", b"bob@example.com", b"203.0.113", b"Held back",
                   b"Taken down", b"Elsewhere"):  # fmt: skip
        assert secret not in response.content

    # The entry's link leads to the comment on its page.
    found = await client.get(newest.link)
    assert found.status_code == 303
    assert found.headers["location"] == f"{PAGE['url']}#comment-{reply['comment']['id']}"


async def test_the_site_feed_holds_every_page(client: httpx.AsyncClient) -> None:
    await posted(client, body="On hello", name="Ann")
    await posted(client, body="On the other", name="Bob", **OTHER)
    feed = parsed(await client.get("/feeds/blog/comments.atom"))
    assert feed.feed.title == "Comments on The blog"  # the site's name
    assert [e.title for e in feed.entries] == ["Bob on “Another post”", "Ann on “Hello world”"]


async def test_feeds_are_revalidated_and_compressed(client: httpx.AsyncClient) -> None:
    await posted(client, body="Cache me")
    url = f"{THREAD_FEED}?page={PAGE['page']}"
    first = await client.get(url, headers={"Accept-Encoding": "identity"})
    assert first.headers["cache-control"] == "public, max-age=60"
    etag = first.headers["etag"]
    unchanged = await client.get(url, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.content == b""
    raw = await client.get(url, headers={"Accept-Encoding": "gzip"}, extensions={})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.headers["vary"] == "Accept-Encoding"
    assert raw.content == first.content  # httpx undid the gzip: the same document
    assert raw.num_bytes_downloaded < len(first.content)  # fewer bytes on the wire
    await posted(client, body="A new one")
    changed = await client.get(url, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag


async def test_a_thread_without_comments_has_a_valid_empty_feed(client: httpx.AsyncClient) -> None:
    feed = parsed(await client.get(THREAD_FEED, params={"page": "/not-yet/"}))
    assert feed.entries == []
    assert feed.feed.title == "Comments on “/not-yet/”"


async def test_bad_feed_addresses_say_what_to_fix(client: httpx.AsyncClient) -> None:
    no_page = await client.get(THREAD_FEED)
    assert no_page.status_code == 400
    assert "?page=" in no_page.text
    too_long = await client.get(THREAD_FEED, params={"page": "/" + "x" * 600})
    assert too_long.status_code == 400
    assert "at most 500 characters" in too_long.text
    unknown = await client.get("/feeds/nosuchsite/comments.atom")
    assert unknown.status_code == 404


async def test_the_frame_links_its_thread_feed(client: httpx.AsyncClient) -> None:
    query = {key: value for key, value in PAGE.items() if key != "site"}
    document = await client.get("/embed/blog/thread", params=query)
    assert document.status_code == 200
    link = "/feeds/blog/thread.atom?page=/hello/"
    assert f'<a href="{link}" type="application/atom+xml">Comments feed (Atom)</a>' in document.text
    # Feed readers look in the blog's own <head>, never in a frame of another site: every
    # reader would download a <link rel="alternate"> here for nobody (issue 15).
    assert 'rel="alternate"' not in document.text


def test_the_xml_writer_is_loaded_with_the_first_feed_only() -> None:
    """Half a megabyte that a server nobody follows need not hold (issue 13, item 2)."""
    assert loaded_at_start(["xml.etree.ElementTree"]) == {"xml.etree.ElementTree": False}
