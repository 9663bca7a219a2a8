"""The iframe document, the fragment, and the reply form posted without JavaScript."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import brotli
import httpx
import pytest
from starlette.applications import Starlette

from tests.conftest import ClientFactory
from tests.helpers import (
    BLOG,
    EMBED,
    OWN_ORIGIN,
    PAGE,
    PUBLIC_URL,
    QUICK,
    REPO,
    hidden_inputs,
    make_settings,
    open_form,
    post_comment,
    posted,
    running_app,
)
from widget.app import create_app
from widget.sites import add_site, change_site_setting
from widget.views.assets import installed_assets, minify_script
from widget.views.i18n import EN, LANGUAGES, Translator

ROOT = REPO


def form_token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match, "the document has no form token"
    return match.group(1)


async def test_the_document_embeds_only_in_the_sites_origins(client: httpx.AsyncClient) -> None:
    response = await client.get("/embed/blog/thread", params=EMBED)
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    # The site's origins, and our own pages (the admin's configurator previews it).
    assert f"frame-ancestors 'self' {BLOG}" in policy
    assert "script-src 'self'" in policy
    assert response.headers["referrer-policy"] == "strict-origin"  # not the page's address
    assert "No Responses to “Hello world”" in response.text
    assert "Leave a Reply" in response.text
    assert "Save my name, email, and website in this browser" in response.text


async def test_an_unknown_site_gets_a_readable_error_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/embed/nosuch/thread", params=EMBED)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "There is no site called &#39;nosuch&#39;" in response.text
    assert "widget site add nosuch" in response.text
    # It must show inside any frame, or the site owner would see a blank box.
    assert "frame-ancestors *" in response.headers["content-security-policy"]


async def test_a_page_outside_the_origins_gets_an_error_page(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/embed/blog/thread", params={**EMBED, "url": "https://elsewhere.example/p/"}
    )
    assert response.status_code == 403
    assert "https://elsewhere.example" in response.text
    assert "widget site add-origin blog https://elsewhere.example" in response.text
    framed_elsewhere = await client.get(
        "/embed/blog/thread", params=EMBED, headers={"Referer": "https://elsewhere.example/x"}
    )
    assert framed_elsewhere.status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        # Python's urlsplit reads the host after the '@' (the site's); browsers, feed readers
        # and mail apps end the host at the backslash and open evil.example.
        "https://evil.example\\@blog.example/hello/",
    ],
)
async def test_a_page_address_that_browsers_read_as_another_host_is_refused(
    client: httpx.AsyncClient, url: str
) -> None:
    document = await client.get("/embed/blog/thread", params={**EMBED, "url": url})
    assert document.status_code == 400, document.text
    assert "The page URL must be an http or https address." in document.text
    post = await post_comment(client, url=url)
    assert post.status_code == 400, post.text
    # Nothing of it reached the links the server hands out: the thread's feed links the page.
    feed = await client.get("/feeds/blog/thread.atom", params={"page": PAGE["page"]})
    assert "evil.example" not in feed.text


@pytest.mark.parametrize(
    ("path", "params", "coding"),
    [
        ("/embed/blog/thread", EMBED, "br"),
        ("/embed/blog/thread/fragment", EMBED, "br"),
        ("/api/v1/counts", {"site": "blog", "page": PAGE["page"]}, "br"),
        ("/feeds/blog/comments.atom", {}, "gzip"),
    ],
)
async def test_each_encoding_has_its_own_etag_so_no_cache_hands_one_to_another(
    client: httpx.AsyncClient, path: str, params: dict[str, str], coding: str
) -> None:
    """A shared cache that holds the compressed copy and asks again for a reader who takes
    none sends that copy's ETag: a 304 would have it hand the reader bytes they cannot read."""
    await posted(client)
    for _ in range(2):  # the second time from what the server keeps (KeptAnswers)
        compressed = await client.get(path, params=params, headers={"Accept-Encoding": coding})
        assert compressed.headers.get("content-encoding") == coding
        plain = await client.get(path, params=params, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        assert compressed.headers["etag"] != plain.headers["etag"]
        asked_again = await client.get(
            path, params=params,
            headers={"Accept-Encoding": "identity", "If-None-Match": compressed.headers["etag"]},
        )  # fmt: skip
        assert asked_again.status_code == 200  # was 304
        assert "content-encoding" not in asked_again.headers
        assert asked_again.content == plain.content
        same = await client.get(
            path, params=params,
            headers={"Accept-Encoding": coding, "If-None-Match": compressed.headers["etag"]},
        )  # fmt: skip
        assert same.status_code == 304
        assert same.headers["etag"] == compressed.headers["etag"]


async def test_bad_embed_parameters_are_400(client: httpx.AsyncClient) -> None:
    for params, message in [
        ({**EMBED, "theme": "neon"}, "theme must be light, dark or auto"),
        ({**EMBED, "before": "abc"}, "must be a comment number"),
        ({**EMBED, "before": "3", "after": "4"}, "not both"),
        ({**EMBED, "page": ""}, "page parameter is empty"),
        ({**EMBED, "page": "x" * 2001}, "longer than 2,000 characters"),
    ]:
        response = await client.get("/embed/blog/thread", params=params)
        assert response.status_code == 400, params
        assert message in response.text


async def test_invalid_utf8_in_the_address_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/embed/blog/thread?page=%2Fa%FF%FE&title=x")
    assert response.status_code == 400
    assert "not valid UTF-8" in response.text


async def test_the_fragment_has_an_etag_and_answers_304(client: httpx.AsyncClient) -> None:
    first = await client.get("/embed/blog/thread/fragment", params=EMBED)
    assert first.status_code == 200
    etag = first.headers["etag"]
    again = await client.get(
        "/embed/blog/thread/fragment", params=EMBED, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    await posted(client)
    changed = await client.get(
        "/embed/blog/thread/fragment", params=EMBED, headers={"If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert "One Response to" in changed.text


async def test_the_fragment_is_the_same_for_every_viewer(client: httpx.AsyncClient) -> None:
    data = await posted(client)
    plain = await client.get("/embed/blog/thread/fragment", params=EMBED)
    # A browser holding the author's tokens gets exactly the same bytes.
    author = await client.get(
        "/embed/blog/thread/fragment", params=EMBED,
        headers={"Cookie": f"edit={data['edit_token']}", "Authorization": "Bearer x"},
    )  # fmt: skip
    assert author.content == plain.content
    assert author.headers["etag"] == plain.headers["etag"]
    assert data["edit_token"] not in plain.text
    assert "form_token" not in plain.text


async def test_the_fragment_compresses(client: httpx.AsyncClient) -> None:
    await posted(client)
    response = await client.get(
        "/embed/blog/thread/fragment", params=EMBED, headers={"Accept-Encoding": "gzip"}
    )
    assert response.headers["content-encoding"] == "gzip"
    assert "One Response to" in response.text  # httpx decompresses


async def test_a_site_setting_change_changes_the_etag(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await posted(client)
    before = await client.get("/embed/blog/thread/fragment", params=EMBED)
    await change_site_setting(app.state.widget.storage, "blog", "order", "newest")
    after = await client.get(
        "/embed/blog/thread/fragment", params=EMBED,
        headers={"If-None-Match": before.headers["etag"]},
    )  # fmt: skip
    assert after.status_code == 200


async def test_a_site_removed_and_added_again_never_revalidates_the_old_pages(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    # Added anew, a site starts its change counter again and has no thread yet: only when it
    # was made tells its pages from the removed one's (which showed other settings).
    storage = app.state.widget.storage
    before = await client.get("/embed/blog/thread/fragment", params=EMBED)
    assert await storage.remove_site("blog")
    await add_site(storage, "blog", [BLOG], "", {**QUICK, "order": "newest"})
    after = await client.get(
        "/embed/blog/thread/fragment", params=EMBED,
        headers={"If-None-Match": before.headers["etag"]},
    )  # fmt: skip
    assert after.status_code == 200
    assert after.headers["etag"] != before.headers["etag"]


async def test_posting_without_javascript_redirects_to_the_comment(
    client: httpx.AsyncClient,
) -> None:
    form = await open_form(client)
    response = await client.post(
        "/embed/blog/thread/comments",
        data={**form, "body": "No script here", "name": "Nojs", "email": "n@example.com",
              "notify": "1"},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/embed/blog/thread?")
    comment_id = int(location.rsplit("#comment-", 1)[1])
    page = await client.get(location.split("#")[0])
    assert f'id="comment-{comment_id}"' in page.text
    assert "No script here" in page.text
    assert "One Response to “Hello world”" in page.text


async def test_a_form_post_keeps_what_was_typed_and_shows_errors(
    client: httpx.AsyncClient,
) -> None:
    form = await open_form(client)
    response = await client.post(
        "/embed/blog/thread/comments",
        data={**form, "body": "My <long> thoughts", "name": "", "email": "bad",
              "website": "javascript:alert(1)"},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert response.status_code == 422
    assert response.headers["referrer-policy"] == "strict-origin"  # as the document's
    html = response.text
    assert "My &lt;long&gt; thoughts</textarea>" in html
    assert 'id="wg-name-error" data-field="name">Enter your name.</span>' in html
    assert "Enter an email address such as name@example.com." in html
    assert 'value="javascript:alert(1)"' in html  # kept, escaped, for the visitor to fix
    assert "http:// or https://" in html


async def test_a_form_post_needs_a_valid_token(client: httpx.AsyncClient) -> None:
    form = await open_form(client)
    fields = {**form, "body": "Hi", "name": "Ann", "email": "ann@example.com"}
    forged = await client.post(
        "/embed/blog/thread/comments", data={**fields, "form_token": "forged"}, headers=OWN_ORIGIN
    )
    assert forged.status_code == 403
    assert "This form is not valid" in forged.text
    assert ">Hi</textarea>" in forged.text
    other_page = await open_form(client, page="/other/", url=f"{BLOG}/other/")
    wrong = await client.post(
        "/embed/blog/thread/comments",
        data={**fields, "form_token": other_page["form_token"]},
        headers=OWN_ORIGIN,
    )
    assert wrong.status_code == 403
    assert "another page" in wrong.text


async def test_a_form_post_needs_our_origin(client: httpx.AsyncClient) -> None:
    form = await open_form(client)
    response = await client.post(
        "/embed/blog/thread/comments",
        data={**form, "body": "Hi", "name": "Ann", "email": "ann@example.com"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    assert "may not change anything" in response.text


async def test_a_form_post_with_invalid_utf8_is_400(client: httpx.AsyncClient) -> None:
    form = await open_form(client)
    encoded = "&".join(f"{k}={v}" for k, v in form.items() if k in {"page", "form_token"})
    response = await client.post(
        "/embed/blog/thread/comments",
        content=(encoded + "&name=Ann&email=a%40b.example&body=%C3%28").encode(),
        headers={**OWN_ORIGIN, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert "not valid UTF-8" in response.text


async def test_reply_without_javascript_via_replytocom(client: httpx.AsyncClient) -> None:
    first = await posted(client, name="Zoe")
    form = await open_form(client, replytocom=str(first["comment"]["id"]))
    assert form["parent"] == str(first["comment"]["id"])
    document = await client.get(
        "/embed/blog/thread", params={**EMBED, "replytocom": first["comment"]["id"]}
    )
    assert "Leave a Reply to Zoe" in document.text
    response = await client.post(
        "/embed/blog/thread/comments",
        data={**form, "body": "Reply by form", "name": "Ann", "email": "ann@example.com"},
        headers=OWN_ORIGIN,
    )
    assert response.status_code == 303
    thread = (await client.get("/api/v1/threads", params=PAGE)).json()
    assert thread["comments"][0]["replies"][0]["html"] == "<p>Reply by form</p>"


async def test_a_long_thread_opens_on_its_newest_comments_oldest_first(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    # As WordPress does by default: the last page, in reading order; older ones a click away.
    await change_site_setting(app.state.widget.storage, "blog", "page_size", 3)
    ids = [(await posted(client, body=f"top {i}"))["comment"]["id"] for i in range(7)]
    opened = (await client.get("/api/v1/threads", params=PAGE)).json()
    assert [c["id"] for c in opened["comments"]] == ids[4:]
    assert opened["newer"] is None
    older = (await client.get("/api/v1/threads", params={**PAGE, "before": opened["older"]})).json()
    assert [c["id"] for c in older["comments"]] == ids[1:4]
    fragment = await client.get("/embed/blog/thread/fragment", params=EMBED)
    assert "Older comments" in fragment.text
    assert "Newer comments" not in fragment.text
    texts = re.findall(r'<div class="wg-text" dir="auto"><p>(top \d)</p>', fragment.text)
    assert texts == ["top 4", "top 5", "top 6"]


async def test_paging_by_top_level_comment(client: httpx.AsyncClient, app: Starlette) -> None:
    await change_site_setting(app.state.widget.storage, "blog", "page_size", 3)
    await change_site_setting(app.state.widget.storage, "blog", "first_page", "oldest")
    ids = [(await posted(client, body=f"top {i}"))["comment"]["id"] for i in range(7)]
    await posted(client, body="reply to the first", parent=ids[0])
    first = (await client.get("/api/v1/threads", params=PAGE)).json()
    assert [c["html"] for c in first["comments"]] == [
        "<p>top 0</p>",
        "<p>top 1</p>",
        "<p>top 2</p>",
    ]
    assert first["comments"][0]["replies"][0]["html"] == "<p>reply to the first</p>"
    assert first["older"] is None
    second = (await client.get("/api/v1/threads", params={**PAGE, "after": first["newer"]})).json()
    assert [c["id"] for c in second["comments"]] == ids[3:6]
    third = (await client.get("/api/v1/threads", params={**PAGE, "after": second["newer"]})).json()
    assert [c["id"] for c in third["comments"]] == ids[6:]
    assert third["newer"] is None
    back = (await client.get("/api/v1/threads", params={**PAGE, "before": third["older"]})).json()
    assert [c["id"] for c in back["comments"]] == ids[3:6]

    fragment = await client.get("/embed/blog/thread/fragment", params=EMBED)
    assert "Newer comments" in fragment.text
    assert "Older comments" not in fragment.text
    link = re.search(r'class="wg-newer" href="([^"]+)"', fragment.text)
    assert link
    query = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)
    assert query["cpage"] == ["2"]
    numbered = (await client.get("/api/v1/threads", params={**PAGE, "cpage": "2"})).json()
    assert [c["id"] for c in numbered["comments"]] == ids[3:6]
    assert (numbered["page_number"], numbered["page_count"]) == (2, 3)


def page_links(html: str) -> list[tuple[str, str, str]]:
    """The comment pagination's items: (what, text, cpage of its link or "" for the opening
    page), what being "link", "current" or "gap"; the first of the two navs."""
    nav = re.search(r'<nav class="wg-paging" aria-label="Comments pagination">(.*?)</nav>', html,
                    re.S)  # fmt: skip
    assert nav, "no comment pagination"
    items = []
    for match in re.finditer(
        r'<a class="(wg-[a-z]+)" href="([^"]+)"[^>]*>([^<]+)</a>'
        r'|<span class="wg-page" aria-current="page">(\d+)</span>'
        r'|<span class="wg-page-gap">…</span>',
        nav.group(1),
    ):
        if match.group(4):
            items.append(("current", match.group(4), ""))
        elif match.group(1):
            query = parse_qs(urlsplit(match.group(2).replace("&amp;", "&")).query)
            items.append(("link", match.group(3).strip(), query.get("cpage", [""])[0]))
        else:
            items.append(("gap", "…", ""))
    return items


async def test_long_threads_have_page_numbers_as_wordpress_does(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await change_site_setting(app.state.widget.storage, "blog", "page_size", 2)
    ids = [(await posted(client, body=f"top {i}"))["comment"]["id"] for i in range(23)]
    await posted(client, body="a reply", parent=ids[0])  # replies add no page
    # 23 top-level comments by twos: 12 pages, cut from the newest end (the thread opens on
    # its newest comments), so 12 holds the newest two and 1 the oldest one alone.
    opening = await client.get("/embed/blog/thread/fragment", params=EMBED)
    assert page_links(opening.text) == [
        ("link", "← Older comments", "11"), ("link", "1", "1"), ("gap", "…", ""),
        ("link", "11", "11"), ("current", "12", ""),
    ]  # fmt: skip
    assert opening.text.count('<nav class="wg-paging"') == 2  # above and below the comments

    middle = await client.get("/embed/blog/thread/fragment", params={**EMBED, "cpage": "5"})
    assert page_links(middle.text) == [
        ("link", "← Older comments", "4"), ("link", "1", "1"), ("gap", "…", ""),
        ("link", "4", "4"), ("current", "5", ""), ("link", "6", "6"), ("gap", "…", ""),
        ("link", "12", ""), ("link", "Newer comments →", "6"),
    ]  # fmt: skip
    texts = re.findall(r'<div class="wg-text" dir="auto"><p>(top \d+)</p>', middle.text)
    assert texts == ["top 7", "top 8"]  # page 5 of 12 from the newest end: 7 pages back

    first = await client.get("/embed/blog/thread/fragment", params={**EMBED, "cpage": "1"})
    assert page_links(first.text) == [
        ("current", "1", ""), ("link", "2", "2"), ("gap", "…", ""), ("link", "12", ""),
        ("link", "Newer comments →", "2"),
    ]  # fmt: skip
    assert re.findall(r"<p>(top \d+|a reply)</p>", first.text) == ["top 0", "a reply"]

    # The last page by number is the opening page, linked without a number.
    last = await client.get("/embed/blog/thread/fragment", params={**EMBED, "cpage": "12"})
    assert page_links(last.text) == page_links(opening.text)
    # A number past the end (comments were removed since the link was made) shows the last.
    past = await client.get("/embed/blog/thread/fragment", params={**EMBED, "cpage": "40"})
    assert past.status_code == 200
    assert page_links(past.text) == page_links(opening.text)
    for bad in ("0", "-1", "two", "1e3", "99999999999"):
        wrong = await client.get("/embed/blog/thread/fragment", params={**EMBED, "cpage": bad})
        assert wrong.status_code == 400, bad
        assert "page number" in wrong.text
    both = await client.get(
        "/embed/blog/thread/fragment", params={**EMBED, "cpage": "2", "before": str(ids[5])}
    )
    assert both.status_code == 400

    # The document without JavaScript carries the same links, in the frame's language.
    document = await client.get("/embed/blog/thread", params={**EMBED, "cpage": "3", "lang": "fr"})
    assert '<nav class="wg-paging" aria-label="Pagination des commentaires">' in document.text
    assert '<span class="wg-page" aria-current="page">3</span>' in document.text
    assert "Commentaires plus anciens" in document.text


async def test_the_two_paging_bars_are_named_apart_in_every_language(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    """axe's landmark-unique: the bars above and below the comments are both navigation
    landmarks, so each has a name of its own, in the frame's language."""
    await change_site_setting(app.state.widget.storage, "blog", "page_size", 1)
    ids = [(await posted(client, body=f"top {i}"))["comment"]["id"] for i in range(3)]
    for lang in LANGUAGES:
        t = Translator(lang)
        for paged in ({}, {"before": str(ids[2])}):  # by number, and by cursor
            html = (
                await client.get(
                    "/embed/blog/thread/fragment", params={**EMBED, **paged, "lang": lang}
                )
            ).text
            names = re.findall(r'<nav class="wg-paging" aria-label="([^"]*)">', html)
            assert names == [t("comments_pagination"), t("comments_pagination_after")], lang
            assert names[0] != names[1]
            if lang != "en":
                assert names[1] != EN["comments_pagination_after"], lang


async def test_page_numbers_of_a_thread_that_opens_on_its_oldest_comments(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await change_site_setting(app.state.widget.storage, "blog", "page_size", 3)
    await change_site_setting(app.state.widget.storage, "blog", "first_page", "oldest")
    ids = [(await posted(client, body=f"top {i}"))["comment"]["id"] for i in range(7)]
    opening = await client.get("/embed/blog/thread/fragment", params=EMBED)
    assert page_links(opening.text) == [
        ("current", "1", ""), ("link", "2", "2"), ("link", "3", "3"),
        ("link", "Newer comments →", "2"),
    ]  # fmt: skip
    last = (await client.get("/api/v1/threads", params={**PAGE, "cpage": "3"})).json()
    assert [c["id"] for c in last["comments"]] == ids[6:]
    second = await client.get("/embed/blog/thread/fragment", params={**EMBED, "cpage": "2"})
    assert page_links(second.text)[0] == ("link", "← Older comments", "")


async def test_a_short_thread_has_no_page_numbers(client: httpx.AsyncClient) -> None:
    await posted(client, body="only one")
    assert "wg-paging" not in (await client.get("/embed/blog/thread/fragment", params=EMBED)).text


async def test_newest_first_order(client: httpx.AsyncClient, app: Starlette) -> None:
    await change_site_setting(app.state.widget.storage, "blog", "order", "newest")
    await change_site_setting(app.state.widget.storage, "blog", "page_size", 2)
    ids = [(await posted(client, body=f"top {i}"))["comment"]["id"] for i in range(5)]
    page = (await client.get("/api/v1/threads", params=PAGE)).json()
    assert [c["id"] for c in page["comments"]] == [ids[4], ids[3]]
    assert page["newer"] is None
    older = (await client.get("/api/v1/threads", params={**PAGE, "before": page["older"]})).json()
    assert [c["id"] for c in older["comments"]] == [ids[2], ids[1]]


async def test_the_redirect_after_posting_shows_the_comments_page(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await change_site_setting(app.state.widget.storage, "blog", "page_size", 2)
    for i in range(5):
        await posted(client, body=f"top {i}")
    form = await open_form(client)
    response = await client.post(
        "/embed/blog/thread/comments",
        data={**form, "body": "the newest", "name": "Ann", "email": "ann@example.com"},
        headers=OWN_ORIGIN,
    )
    page = await client.get(response.headers["location"].split("#")[0])
    assert "the newest" in page.text


async def test_a_deleted_comment_with_replies_leaves_a_placeholder(
    client: httpx.AsyncClient,
) -> None:
    first = await posted(client, body="to be deleted")
    await posted(client, body="the reply stays", parent=first["comment"]["id"])
    lonely = await posted(client, body="deleted without replies")
    for data in (first, lonely):
        response = await client.request(
            "DELETE", f"/api/v1/comments/{data['comment']['id']}",
            json={"token": data["edit_token"]}, headers=OWN_ORIGIN,
        )  # fmt: skip
        assert response.status_code == 200
    fragment = (await client.get("/embed/blog/thread/fragment", params=EMBED)).text
    assert "This comment was removed." in fragment
    assert "the reply stays" in fragment
    assert "to be deleted" not in fragment
    assert "deleted without replies" not in fragment
    assert "One Response to" in fragment


async def test_whoever_writes_first_does_not_choose_the_title_readers_see(
    client: httpx.AsyncClient,
) -> None:
    """The first write to a page (a comment, or a like of the post) stored the title its
    request named, and every reader's frame showed that one, whatever their page said: 'One
    Response to “Send your password to …”' under a post nobody had commented on yet."""
    spoof = "Send your password to evil@example.com"
    liked = await client.post(
        "/api/v1/likes", json={**PAGE, "title": spoof, "comment": None, "liked": True},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert liked.status_code == 200
    mine = await posted(client, title=spoof)  # PAGE's own title is "Hello world"
    document = (await client.get("/embed/blog/thread", params=EMBED)).text
    assert "<title>Comments on “Hello world”</title>" in document
    assert ">One Response to “Hello world”</h2>" in document
    fragment = await client.get("/embed/blog/thread/fragment", params=EMBED)
    assert "One Response to “Hello world”" in fragment.text
    thread = await client.get("/api/v1/threads", params={**EMBED, "site": "blog"})
    assert thread.json()["title"] == "Hello world"
    second = await posted(client)  # the heading the script writes after posting
    assert second["title_text"] == "2 Responses to “Hello world”"
    deleted = await client.request(
        "DELETE", f"/api/v1/comments/{mine['comment']['id']}",
        json={"token": mine["edit_token"], "title": "Hello world"}, headers=OWN_ORIGIN,
    )  # fmt: skip
    assert deleted.json()["title_text"] == "One Response to “Hello world”"
    assert spoof not in document + fragment.text


async def test_languages(client: httpx.AsyncClient) -> None:
    await posted(client)
    await posted(client)
    german = await client.get("/embed/blog/thread", params={**EMBED, "lang": "de-AT"})
    assert "2 Antworten auf „Hello world“" in german.text
    assert '<html lang="de"' in german.text
    russian = await client.get("/embed/blog/thread/fragment", params={**EMBED, "lang": "ru"})
    assert "2 отклика на «Hello world»" in russian.text
    unknown = await client.get("/embed/blog/thread", params={**EMBED, "lang": "xx"})
    assert "2 Responses to" in unknown.text


async def test_themes(client: httpx.AsyncClient) -> None:
    for theme in ("light", "dark", "auto"):
        response = await client.get("/embed/blog/thread", params={**EMBED, "theme": theme})
        assert f'class="wg-theme-{theme}"' in response.text


async def test_avatars_are_drawn_in_the_page_once_per_author(client: httpx.AsyncClient) -> None:
    import hashlib

    await posted(client, email="Ann@Example.com", body="first")
    await posted(client, email="ann@example.com", body="second")
    await posted(client, email="bob@example.com", name="Bob", body="third")
    fragment = (await client.get("/embed/blog/thread/fragment", params=EMBED)).text
    uses = re.findall(r'<svg aria-hidden="true"><use href="#(av\d+-\d+)"/></svg>', fragment)
    assert len(uses) == 3
    assert uses[0] == uses[1] != uses[2]  # the same address, whatever its case, same picture
    symbols = re.findall(r'<symbol id="(av\d+-\d+)" viewBox="0 0 48 48">', fragment)
    assert sorted(symbols) == sorted({uses[0], uses[2]})  # each drawn once
    # Named after the thread: another thread's fragment in the same page draws its own.
    await posted(client, page="/other/", email="bob@example.com", body="fourth")
    elsewhere = (await client.get("/embed/blog/thread/fragment", params={"page": "/other/"})).text
    assert not set(re.findall(r'<symbol id="([^"]+)"', elsewhere)) & set(symbols)
    assert "/avatars/" not in fragment  # no request per author
    assert hashlib.md5(b"ann@example.com").hexdigest()[:16] not in fragment
    # The JSON API still names a picture by URL, for other clients.
    data = (await client.get("/api/v1/threads", params=PAGE)).json()
    avatar = await client.get(data["comments"][0]["author"]["avatar"].removeprefix(PUBLIC_URL))
    assert avatar.status_code == 200
    assert avatar.headers["content-type"] == "image/svg+xml"
    assert avatar.text.startswith("<svg")
    assert (await client.get("/avatars/not-a-key.svg")).status_code == 404


async def test_static_files_are_hashed_and_cached(client: httpx.AsyncClient) -> None:
    response = await client.get("/embed/blog/thread", params=EMBED)
    document = response.text
    # The stylesheet is in the document, allowed by its hash; the script is a file of its own.
    style = re.search(r"<style>(.*?)</style>", document, re.DOTALL)
    assert style and ".wg-comment" in style.group(1)
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}'" in response.headers["content-security-policy"]
    js = re.search(r'src="(/static/thread\.[0-9a-f]{12}\.js)"', document)
    assert js
    script = await client.get(js.group(1))
    assert script.status_code == 200
    assert "immutable" in script.headers["cache-control"]
    # Minified: short local names, no comments; the global names it reads are kept.
    source = (ROOT / "static" / "thread.js").read_text()
    assert len(script.content) < len(source) * 0.6
    assert "wg-config" in script.text and "pluralText" not in script.text
    embed = await client.get("/embed.js")
    assert embed.status_code == 200
    assert embed.headers["content-type"].startswith("text/javascript")
    assert "max-age=300" in embed.headers["cache-control"]
    assert (await client.get("/static/thread.js")).status_code == 404


async def test_the_writers_words_come_with_the_writers_script(
    client: httpx.AsyncClient, tmp_path: Path, database_url: str
) -> None:
    """Most readers never load writer.js: its strings are in it, one file per language, not
    in every document."""
    configs = {}
    for lang in ("en", "fr"):
        document = await client.get("/embed/blog/thread", params={**EMBED, "lang": lang})
        found = re.search(r'<script type="application/json" id="wg-config">(.*?)</script>',
                          document.text)  # fmt: skip
        assert found
        configs[lang] = json.loads(found.group(1))
    assert set(configs["fr"]["strings"]) == {"like", "leave_reply", "leave_reply_to",
                                             "new_activity"}  # fmt: skip
    assert configs["fr"]["strings"]["like"] == "J’aime"
    french = await client.get(configs["fr"]["writer"])
    english = await client.get(configs["en"]["writer"])
    assert french.status_code == english.status_code == 200
    assert "immutable" in french.headers["cache-control"]
    assert re.fullmatch(r"/static/writer\.[0-9a-f]{12}\.js", configs["fr"]["writer"])
    assert configs["fr"]["writer"] != configs["en"]["writer"]
    assert french.text.startswith(
        'window.widgetStrings={"add_passkey":"Ajouter une clé d’accès","cancel":"Annuler",'
    )
    assert '"confirm_delete":"Delete this comment? This cannot be undone."' in english.text
    # The same script after its words.
    assert (
        french.text[french.text.index("(function") :]
        == english.text[english.text.index("(function") :]
    )
    # Another instance (or this one restarted) serves it before it makes any French page.
    installed_assets.cache_clear()  # as another process: the assets loaded anew
    other = create_app(make_settings(tmp_path / "other", database_url=database_url))
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=other), base_url=PUBLIC_URL) as fresh,
    ):
        again = await fresh.get(configs["fr"]["writer"])
    assert again.status_code == 200 and again.text == french.text


def allowed_style(response: httpx.Response) -> str:
    """The document's one <style>, checked to be the one its policy allows by hash."""
    (css,) = re.findall(r"<style>(.*?)</style>", response.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"style-src 'self' 'sha256-{digest}';" in response.headers["content-security-policy"]
    return str(css)


async def test_the_frames_style_holds_only_what_its_frame_can_show(
    client: httpx.AsyncClient,
) -> None:
    """Every reader pays for the <style>: the dark theme's colours come in dark frames only,
    the sign-in buttons' looks where readers can sign in (tested with mail, below)."""
    light = allowed_style(await client.get("/embed/blog/thread", params=EMBED))
    dark = allowed_style(await client.get("/embed/blog/thread", params={**EMBED, "theme": "dark"}))
    assert ".wg-comment" in light and ".wg-theme-dark{" not in light
    assert dark.startswith(light) and ".wg-theme-dark{--wg-text:#ececec;" in dark
    assert ".wg-provider{" not in dark + light
    # Written again for one reader (the form sent back with what to fix), still allowed.
    form = await open_form(client, theme="dark")
    again = await client.post(
        "/embed/blog/thread/comments", data={**form, "body": "", "name": "Dee"},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert again.status_code == 422
    assert allowed_style(again) == dark
    # Pages outside the frame link the style sheets, whole.
    popup_css = re.findall(r'<link rel="stylesheet" href="([^"]+)">', (await client.get(
        "/no/such/page", headers={"Accept": "text/html"})).text)  # fmt: skip
    assert [path.split(".")[0] for path in popup_css] == ["/static/widget", "/static/pages"]


async def test_where_readers_can_sign_in_the_style_draws_the_buttons(
    mail_client: httpx.AsyncClient,
) -> None:
    document = await mail_client.get("/embed/blog/thread", params=EMBED)
    assert 'data-provider="email"' in document.text
    assert ".wg-provider{" in allowed_style(document)


def test_a_script_the_minifier_cannot_read_is_sent_as_written(
    caplog: pytest.LogCaptureFixture,
) -> None:
    newer = "const twice = (n) => n * 2;\n"
    assert minify_script(newer) == newer
    assert "a script is sent unminified" in caplog.text
    assert minify_script("var a = 1;  // one\n") == "var a=1;\n"


async def test_the_document_is_the_same_bytes_for_every_reader(client: httpx.AsyncClient) -> None:
    data = await posted(client)
    plain = await client.get("/embed/blog/thread", params=EMBED)
    author = await client.get(
        "/embed/blog/thread", params=EMBED,
        headers={"Cookie": f"edit={data['edit_token']}", "Authorization": "Bearer x",
                 "Referer": f"{BLOG}/hello/"},
    )  # fmt: skip
    assert plain.status_code == author.status_code == 200
    assert author.content == plain.content
    assert author.headers["etag"] == plain.headers["etag"]
    assert data["edit_token"] not in plain.text
    assert plain.headers["cache-control"] == "public, no-cache"
    assert plain.headers["vary"] == "Accept-Encoding"


async def test_the_document_is_compressed_and_revalidated(client: httpx.AsyncClient) -> None:
    await posted(client)
    plain = await client.get("/embed/blog/thread", params=EMBED, headers={"Accept-Encoding": ""})
    assert "content-encoding" not in plain.headers
    etag = plain.headers["etag"]
    for accepted, coding in (
        ("gzip, deflate", "gzip"),
        ("gzip, deflate, br, zstd", "br"),
        ("br;q=0, gzip", "gzip"),
    ):
        response = await client.get(
            "/embed/blog/thread", params=EMBED, headers={"Accept-Encoding": accepted}
        )
        assert response.headers["content-encoding"] == coding, accepted
        assert response.headers["etag"] == f'{etag[:-1]}-{coding}"'  # each coding its own
        assert int(response.headers["content-length"]) < len(plain.content) / 3
        assert response.text == plain.text  # httpx decompresses both
    as_plain = {"Accept-Encoding": "", "If-None-Match": etag}
    again = await client.get("/embed/blog/thread", params=EMBED, headers=as_plain)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    # Browsers merge a 304's headers into the answer they kept: it must not replace the
    # policy that lets the site's pages frame the document.
    assert "content-security-policy" not in again.headers
    assert again.headers["cache-control"] == "public, no-cache"
    await posted(client, body="Another one")
    changed = await client.get("/embed/blog/thread", params=EMBED, headers=as_plain)
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert "2 Responses to" in changed.text
    assert "Another one" in changed.text


@pytest.mark.parametrize("quality", [5, 11])
async def test_new_documents_are_compressed_again_at_the_quality_set(
    tmp_path: Path, database_url: str, quality: int
) -> None:
    """The first reader of a new version gets brotli at 5 at once; the readers after, what
    was made at document_brotli_quality in the background (at 5 or less, nothing more)."""
    settings = make_settings(tmp_path, database_url=database_url, document_brotli_quality=quality)
    async with running_app(settings) as app:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            await posted(client)

            async def sent() -> bytes:  # as it goes over the wire, not decompressed
                headers = {"Accept-Encoding": "br"}
                async with client.stream("GET", "/embed/blog/thread", params=EMBED,
                                         headers=headers) as response:  # fmt: skip
                    return b"".join([part async for part in response.aiter_raw()])

            first = await sent()
            improver = app.state.widget.html._improver
            assert (improver is None) == (quality == 5)
            if improver is not None:
                await improver
            later = await sent()
    document = brotli.decompress(first)
    assert first == brotli.compress(document, mode=brotli.MODE_TEXT, quality=5)
    assert later == brotli.compress(document, mode=brotli.MODE_TEXT, quality=quality)
    assert (len(later) < len(first)) == (quality == 11)


async def test_each_document_variant_is_cached_apart(client: httpx.AsyncClient) -> None:
    data = await posted(client, name="Ann")
    shows = {
        "replytocom": ({"replytocom": str(data["comment"]["id"])}, "Leave a Reply to Ann"),
        "held": ({"held": "1"}, "Your comment is awaiting moderation."),
        "lang": ({"lang": "de"}, "Eine Antwort auf"),
        "theme": ({"theme": "dark"}, 'class="wg-theme-dark"'),
    }
    for _ in range(2):  # the second time, from the cache
        plain = (await client.get("/embed/blog/thread", params=EMBED)).text
        for extra, text in shows.values():
            assert text not in plain
            variant = await client.get("/embed/blog/thread", params={**EMBED, **extra})
            assert text in variant.text, extra


async def test_the_shared_form_token_posts_once_per_reader_network(
    client: httpx.AsyncClient, client_from: ClientFactory
) -> None:
    """The cached document's token serves every reader without JavaScript: each network can
    post one comment with it; the frame's script takes a token of its own from /api/v1/me."""
    first = await open_form(client)
    second = await open_form(client)
    assert first["form_token"] == second["form_token"]  # one document for everyone
    fields = {**first, "name": "Ann", "email": "ann@example.com"}
    ann = await client.post(
        "/embed/blog/thread/comments", data={**fields, "body": "Ann here"}, headers=OWN_ORIGIN
    )
    assert ann.status_code == 303
    again = await client.post(
        "/embed/blog/thread/comments", data={**fields, "body": "Ann again"}, headers=OWN_ORIGIN
    )
    assert again.status_code == 409
    assert "already posted a comment" in again.text
    assert ">Ann again</textarea>" in again.text  # kept, with a fresh token of her own
    own = hidden_inputs(again.text)["form_token"]
    assert own != first["form_token"]
    retried = await client.post(
        "/embed/blog/thread/comments", data={**fields, "body": "Ann again", "form_token": own},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert retried.status_code == 303
    # From another network, the same shared token still posts.
    bob = await client_from("198.51.100.9").post(
        "/embed/blog/thread/comments",
        data={**fields, "name": "Bob", "email": "bob@example.com", "body": "Bob here"},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert bob.status_code == 303
    # The script's own token: a different one on each call, good for one comment.
    me = await client.post(
        "/api/v1/me", json={"site": "blog", "page": PAGE["page"]}, headers=OWN_ORIGIN
    )
    assert me.status_code == 200
    assert me.json()["form_token"] != first["form_token"]


async def test_the_demo_blog_is_another_site_served_on_its_own_host(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.helpers import make_settings
    from widget.app import create_app

    app = create_app(make_settings(tmp_path, demo=True))
    async with app.router.lifespan_context(app):
        site = await app.state.widget.storage.get_site("demo")
        assert site is not None
        assert site.origins == ("http://blog.localhost:8000",)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://blog.localhost:8000"
        ) as blog:
            post = await blog.get("/")
            assert post.status_code == 200
            assert (
                '<script src="http://comments.localhost:8000/embed.js" data-site="demo"'
                in post.text
            )
            assert 'data-comment-count="/"' in post.text
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as comments:
            assert (await comments.get("/")).status_code == 404  # the blog is not on this host


async def test_without_the_demo_there_is_no_demo_site(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    assert await app.state.widget.storage.get_site("demo") is None
    response = await client.get("/", headers={"Host": "blog.localhost:8000"})
    assert response.status_code == 404


async def test_a_site_added_again_never_gets_an_old_fragment(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    storage = app.state.widget.storage
    await posted(client, body="from the first life of the site")
    old = await client.get("/embed/blog/thread/fragment", params=EMBED)
    assert await storage.remove_site("blog")
    await add_site(storage, "blog", [BLOG], "", QUICK)
    await posted(client, body="from the second life")
    new = await client.get(
        "/embed/blog/thread/fragment", params=EMBED, headers={"If-None-Match": old.headers["etag"]}
    )
    assert new.status_code == 200, (old.headers["etag"], new.headers["etag"])
    assert "from the second life" in new.text
    assert "first life" not in new.text


def test_dates_read_as_wordpress_writes_them_in_each_language() -> None:
    morning, evening = datetime(2025, 3, 3, 10, 12, tzinfo=UTC), datetime(2025, 3, 3, 0, 5)
    assert Translator("en").date(morning) == "March 3, 2025 at 10:12 am"
    assert Translator("en").date(evening) == "March 3, 2025 at 12:05 am"
    assert Translator("en").date(evening.replace(hour=13)) == "March 3, 2025 at 1:05 pm"
    assert Translator("de").date(morning) == "3. März 2025 um 10:12"
    assert Translator("ru").date(morning) == "3 марта 2025 в 10:12"


async def test_the_thread_shows_dates_in_its_language(client: httpx.AsyncClient) -> None:
    comment = (await posted(client, body="Dated"))["comment"]
    fragment = await client.get("/embed/blog/thread/fragment", params={**EMBED, "lang": "de"})
    written = re.search(r'<time datetime="([^"]+)">([^<]+)</time>', fragment.text)
    assert written is not None
    moment = datetime.fromisoformat(written.group(1))
    assert comment["created_at"].startswith(written.group(1)[:16])
    assert written.group(2) == Translator("de").date(moment)
