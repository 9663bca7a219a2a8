"""What decides whether a new comment is published, held for a moderator, or kept as spam."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import itsdangerous
import pytest
from starlette.applications import Starlette

from tests.conftest import ClientFactory
from tests.fakes import AkismetServer
from tests.helpers import (
    BLOG,
    EMBED,
    OWN_ORIGIN,
    PAGE,
    SECRET,
    client_of,
    comment_body,
    form_token,
    fragment,
    held,
    hidden_inputs,
    make_settings,
    post_comment,
    status_of,
)
from tests.servers import free_port
from tests.signing_in import signed_in_commenter
from widget.app import create_app
from widget.auth.tokens import Purpose, TokenSigner
from widget.errors import BadRequest, Forbidden, Invalid
from widget.moderation import akismet, screening
from widget.records import NewComment, PageRef
from widget.sites import add_site, change_site_setting

OTHER = "https://other.example"
on_other_site = {"site": "other", "page": "/x/", "url": f"{OTHER}/x/"}


async def published(client: httpx.AsyncClient, app: Starlette, **fields: Any) -> int:
    response = await post_comment(client, **fields)
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["held"] is False
    assert await status_of(app, data["comment"]["id"]) == ("approved", "")
    return int(data["comment"]["id"])


async def set_site(app: Starlette, name: str, value: Any) -> None:
    await change_site_setting(app.state.widget.storage, "blog", name, value)


# The honeypot and the time token.


async def test_a_filled_honeypot_is_spam(client: httpx.AsyncClient, app: Starlette) -> None:
    status, because = await held(client, app, homepage="http://spam.example")
    assert status == "spam"
    assert "cannot see" in because


async def test_the_form_has_a_honeypot_people_do_not_see(client: httpx.AsyncClient) -> None:
    page = (await client.get("/embed/blog/thread", params=EMBED)).text
    match = re.search(r'<p class="wg-hp" aria-hidden="true">.*?</p>', page)
    assert match is not None, "no honeypot in the form"
    honeypot = match.group(0)
    assert 'name="homepage"' in honeypot
    assert 'tabindex="-1"' in honeypot  # not reached with Tab
    assert 'autocomplete="off"' in honeypot  # not filled in by the browser
    stylesheet = re.search(r"<style>(.*?)</style>", page, re.DOTALL)  # in the document
    assert stylesheet is not None
    # Off screen, on the side no page scrolls to (left in a left-to-right page, right in Arabic).
    assert ".wg-hp{position:absolute;inset-inline-start:-10000px;" in stylesheet.group(1)


async def test_a_comment_posted_within_seconds_of_the_form_is_refused(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await set_site(app, "min_seconds_to_post", 3)
    response = await post_comment(client, body="Too fast")
    assert response.status_code == 422
    error = response.json()
    assert "post it again in a few seconds" in error["error"]
    assert "body" in error["fields"]
    assert "Too fast" not in await fragment(client)


async def test_a_form_older_than_two_days_is_refused_with_a_way_out(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_days_ago = int(datetime.now(UTC).timestamp()) - 3 * 24 * 3600
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: three_days_ago)
    stale = form_token("blog", PAGE["page"])
    monkeypatch.undo()
    response = await post_comment(client, form_token=stale)
    assert response.status_code == 403
    assert "open for too long" in response.json()["error"]


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [
        ("", 400, "did not come from the comment form"),
        ("forged", 403, "not valid"),
        (form_token("blog", "/other/"), 403, "another page"),
        (form_token("other", PAGE["page"]), 403, "another page"),  # the same page id elsewhere
        (form_token("blog", PAGE["page"], secret="another-secret"), 403, "not valid"),
        (TokenSigner(SECRET).sign(Purpose.EDIT, {"s": "blog", "p": "/hello/"}), 403, "not valid"),
        # A form without an id to spend (as handed out before forms were single-use).
        (TokenSigner(SECRET).sign(Purpose.FORM, {"s": "blog", "p": "/hello/"}), 403, "not valid"),
    ],
)
async def test_a_json_post_needs_this_pages_form_token(
    client: httpx.AsyncClient, token: str, status: int, message: str
) -> None:
    response = await post_comment(client, form_token=token)
    assert response.status_code == status
    assert message in response.json()["error"]


async def test_a_form_posts_one_comment_and_the_answer_brings_the_next_form(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    page = await client.get("/embed/blog/thread", params=EMBED)
    token = hidden_inputs(page.text)["form_token"]
    first = await post_comment(client, body="Written by a person", form_token=token)
    assert first.status_code == 201
    # A script that keeps the form it fetched once gets no second comment out of it.
    for body in ("Posted by a script", "And again"):
        again = await post_comment(client, body=body, form_token=token)
        assert again.status_code == 409
        assert again.json()["error"] == (
            "This form has already posted a comment. Reload the page to write another."
        )
    # The reader, still on the page, replies with the token the answer brought.
    fresh = first.json()["form_token"]
    assert fresh != token
    parent = first.json()["comment"]["id"]
    reply = await post_comment(client, body="A reply from the same page", form_token=fresh,
                               parent=parent)  # fmt: skip
    assert reply.status_code == 201
    assert (await post_comment(client, body="Once more", form_token=fresh)).status_code == 409
    shown = await fragment(client)
    assert "Written by a person" in shown and "A reply from the same page" in shown
    assert "Posted by a script" not in shown and "Once more" not in shown
    thread = await app.state.widget.storage.get_thread_head("blog", PAGE["page"])
    assert thread.comment_count == 2


async def test_a_reader_who_posted_may_post_again_at_once_from_the_same_page(
    client: httpx.AsyncClient, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    await set_site(app, "min_seconds_to_post", 3)
    ten_seconds_ago = int(datetime.now(UTC).timestamp()) - 10
    monkeypatch.setattr(itsdangerous.TimestampSigner, "get_timestamp", lambda self: ten_seconds_ago)
    page = await client.get("/embed/blog/thread", params=EMBED)
    monkeypatch.undo()
    first = await post_comment(client, form_token=hidden_inputs(page.text)["form_token"])
    assert first.status_code == 201
    # The page has been open for ten seconds: the token for the next comment says so.
    second = await post_comment(client, form_token=first.json()["form_token"])
    assert second.status_code == 201
    third = await post_comment(client, form_token=second.json()["form_token"])
    assert third.status_code == 201
    # A page opened just now still waits.
    fresh = await client.get("/embed/blog/thread", params=EMBED)
    quick = await post_comment(client, form_token=hidden_inputs(fresh.text)["form_token"])
    assert quick.status_code == 422


async def test_one_form_sent_many_times_at_once_posts_once(client: httpx.AsyncClient) -> None:
    token = form_token("blog", PAGE["page"])
    answers = await asyncio.gather(
        *(post_comment(client, body=f"Burst {n}", form_token=token) for n in range(8))
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 7
    assert (await fragment(client)).count('class="wg-text"') == 1


async def test_without_javascript_a_form_posts_once_and_the_next_page_has_a_fresh_one(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/embed/blog/thread", params=EMBED)
    fields = {**EMBED, **hidden_inputs(page.text), "body": "By the plain form", "name": "Ann",
              "email": "ann@example.com"}  # fmt: skip
    posted = await client.post("/embed/blog/thread/comments", data=fields, headers=OWN_ORIGIN)
    assert posted.status_code == 303
    replayed = await client.post(
        "/embed/blog/thread/comments", data={**fields, "body": "Replayed"}, headers=OWN_ORIGIN
    )
    assert replayed.status_code == 409
    assert "This form has already posted a comment." in replayed.text
    assert "Replayed" in replayed.text  # the text is kept in the form, to post again
    # The page the reader lands on (or is shown again) carries a form that posts.
    for document in (await client.get(posted.headers["location"]), replayed):
        token = hidden_inputs(document.text)["form_token"]
        assert token != fields["form_token"]
        next_post = await client.post(
            "/embed/blog/thread/comments",
            data={**fields, "form_token": token, "body": f"Next after {document.status_code}"},
            headers=OWN_ORIGIN,
        )
        assert next_post.status_code == 303


def test_the_time_token_counts_from_when_the_form_was_handed_out() -> None:
    signer = TokenSigner(SECRET)
    page = PageRef(site_id="blog", page_id="/hello/", url=f"{BLOG}/hello/", title="")
    token = screening.new_form_token(signer, page)
    _, issued = signer.verify_timed(Purpose.FORM, token)
    with pytest.raises(Invalid):
        screening.check_form_token(signer, token, page, 3, now=issued + timedelta(seconds=2))
    screening.check_form_token(signer, token, page, 3, now=issued + timedelta(seconds=3))
    with pytest.raises(BadRequest):
        screening.check_form_token(signer, "", page, 3)
    with pytest.raises(Forbidden):
        screening.check_form_token(signer, token[:-2], page, 3)


# What holds a comment for a moderator.


async def test_more_links_than_the_sites_limit_are_held(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    two = "See https://a.example and [b](https://b.example)."
    await published(client, app, body=two)
    status, because = await held(client, app, body=two + " And <https://c.example>.")
    assert (status, because) == ("pending", "3 links (more than 2)")
    await set_site(app, "max_links", 0)
    status, because = await held(client, app, body="Only https://a.example")
    assert (status, because) == ("pending", "a link (more than 0)")


async def test_a_blocked_word_anywhere_holds_the_comment(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await set_site(app, "blocked_words", "casino, Cheap Pills")
    assert await held(client, app, body="Visit our CASINO tonight") == (
        "pending", "blocked words: casino",
    )  # fmt: skip
    assert await held(client, app, name="cheap pills shop") == (
        "pending", "blocked words: cheap pills",
    )  # fmt: skip
    assert await held(client, app, email="win@casino.example") == (
        "pending", "blocked words: casino",
    )  # fmt: skip
    assert await held(client, app, website="https://best-casino.example/") == (
        "pending", "blocked words: casino",
    )  # fmt: skip
    await published(client, app, body="A calm remark about the weather")


async def test_the_same_text_twice_in_a_day_is_held(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await published(client, app, body="Great post, thanks!")
    status, because = await held(client, app, body="  great POST,\n thanks! ")
    assert status == "pending"
    assert "same text" in because
    # Another page of the same site counts too: spam is rarely posted only once.
    await set_site(app, "max_links", 2)
    response = await post_comment(client, body="Great post, thanks!", page="/b/", url=f"{BLOG}/b/")
    assert response.json()["held"] is True


async def test_a_duplicate_is_one_of_this_sites_from_the_last_day(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    storage = app.state.widget.storage
    await add_site(storage, "other", [OTHER], "Other blog", {"min_seconds_to_post": 0})
    await published(client, app, body="Seen elsewhere", **on_other_site)
    await published(client, app, body="Seen elsewhere")  # another site's text is no repeat here
    long_ago = "Said the day before yesterday"
    await storage.add_comment(
        NewComment(
            page=PageRef("blog", "/old/", f"{BLOG}/old/", "Old"), parent_id=None,
            author_name="Ann", author_email="ann@example.com", author_url="",
            body_source=long_ago, body_html=f"<p>{long_ago}</p>", notify=False,
            remote_ip="203.0.113.7", created_at=datetime.now(UTC) - timedelta(hours=25),
            fingerprint=screening.fingerprint(long_ago),
        ),
        None,
    )  # fmt: skip
    await published(client, app, body=long_ago)


async def test_first_comment_moderation_holds_new_commenters_only(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await published(client, app, email="regular@example.com")  # before the site asked for it
    await set_site(app, "moderation", "first")
    await published(client, app, email="Regular@Example.com")
    status, because = await held(client, app, email="new@example.com")
    assert (status, because) == ("pending", "first comment of this commenter")
    # Held comments are not a history: the newcomer stays held until a moderator approves.
    assert (await held(client, app, email="new@example.com"))[0] == "pending"
    # Nor are another site's: a regular there is a newcomer here.
    await add_site(
        app.state.widget.storage, "other", [OTHER], "Other blog", {"min_seconds_to_post": 0}
    )
    await published(client, app, email="elsewhere@example.com", **on_other_site)
    assert await held(client, app, email="elsewhere@example.com") == (
        "pending", "first comment of this commenter",
    )  # fmt: skip


async def test_moderation_of_all_comments(client: httpx.AsyncClient, app: Starlette) -> None:
    await published(client, app)
    await set_site(app, "moderation", "all")
    assert await held(client, app) == ("pending", "every comment is moderated on this site")


async def test_every_reason_is_given_to_the_moderator(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await set_site(app, "moderation", "all")
    await set_site(app, "blocked_words", "casino")
    status, because = await held(
        client, app, body="casino https://a.example https://b.example https://c.example"
    )
    assert status == "pending"
    assert because.split("; ") == [
        "3 links (more than 2)",
        "blocked words: casino",
        "every comment is moderated on this site",
    ]


# Bans.


async def test_a_banned_email_posts_only_spam(client: httpx.AsyncClient, app: Starlette) -> None:
    storage = app.state.widget.storage
    await storage.add_ban("blog", "email", "troll@example.com", "", datetime.now(UTC))
    assert (await held(client, app, email="Troll@Example.com"))[0] == "spam"
    await published(client, app, email="kind@example.com")


async def test_a_banned_network_posts_only_spam(client_from: ClientFactory, app: Starlette) -> None:
    storage = app.state.widget.storage
    await storage.add_ban(None, "network", "2001:db8:bad::/48", "every site", datetime.now(UTC))
    await storage.add_ban("blog", "network", "198.51.100.0/24", "", datetime.now(UTC))
    for address in ("2001:db8:bad:1::7", "198.51.100.200"):
        status, because = await held(client_from(address), app)
        assert status == "spam"
        assert because.startswith("banned network")
    await published(client_from("2001:db8:600d::1"), app)
    await published(client_from("198.51.101.1"), app)


async def test_a_ban_on_another_site_does_not_apply(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    storage = app.state.widget.storage
    await add_site(storage, "other", ["https://other.example"], "Other", {})
    await storage.add_ban("other", "email", "ann@example.com", "", datetime.now(UTC))
    await published(client, app)


async def test_a_banned_user_posts_only_spam(client: httpx.AsyncClient, app: Starlette) -> None:
    storage = app.state.widget.storage
    user, signed_in = await signed_in_commenter(app, "42", "Mallory")
    await storage.add_ban("blog", "user", str(user.id), "", datetime.now(UTC))
    body = comment_body(name="", email="")
    response = await client.post("/api/v1/comments", json=body, headers=signed_in)
    assert response.status_code == 201, response.text
    assert response.json()["held"] is True
    assert (await status_of(app, response.json()["comment"]["id"]))[0] == "spam"
    # The author still sees it, marked as waiting, when the frame asks who they are.
    state = await client.post("/api/v1/me", json=PAGE, headers=signed_in)
    assert [c["id"] for c in state.json()["held"]] == [response.json()["comment"]["id"]]
    assert "awaiting moderation" in state.json()["held"][0]["html"]


# What the author of a held comment sees.


async def test_a_guest_sees_their_held_comment_through_its_edit_token(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await set_site(app, "moderation", "all")
    response = await post_comment(client, body="Waiting for you")
    data = response.json()
    mine = await client.post(
        "/api/v1/me", json={**PAGE, "edit_tokens": [data["edit_token"]]}, headers=OWN_ORIGIN
    )
    assert [c["id"] for c in mine.json()["held"]] == [data["comment"]["id"]]
    others = await client.post("/api/v1/me", json={**PAGE, "edit_tokens": []}, headers=OWN_ORIGIN)
    assert others.json()["held"] == []
    thread = (await client.get("/api/v1/threads", params=PAGE)).json()
    assert thread["count"] == 0
    assert thread["comments"] == []


async def test_a_held_comment_in_a_thread_with_none_before_survives_a_reload(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await set_site(app, "moderation", "all")
    # A reader opens the page first: the server now knows it has no thread (and remembers it).
    assert (await client.get("/embed/blog/thread", params=EMBED)).status_code == 200
    assert (await client.post("/api/v1/me", json=PAGE, headers=OWN_ORIGIN)).status_code == 200
    data = (await post_comment(client, body="First, and held")).json()
    # The author reloads: the frame asks who they are with the comment's edit token.
    for _ in range(2):
        assert (await client.get("/embed/blog/thread", params=EMBED)).status_code == 200
        mine = await client.post(
            "/api/v1/me", json={**PAGE, "edit_tokens": [data["edit_token"]]}, headers=OWN_ORIGIN
        )
        assert [c["id"] for c in mine.json()["held"]] == [data["comment"]["id"]]


async def test_a_held_comment_through_the_plain_form_says_so(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await set_site(app, "moderation", "all")
    page = (await client.get("/embed/blog/thread", params=EMBED)).text
    token = page.split('name="form_token" value="')[1].split('"')[0]
    fields = {**EMBED, "form_token": token, "body": "By the plain form", "name": "Ann",
              "email": "ann@example.com"}  # fmt: skip
    response = await client.post("/embed/blog/thread/comments", data=fields, headers=OWN_ORIGIN)
    assert response.status_code == 303
    assert response.headers["location"].endswith("held=1#respond")
    after = await client.get(response.headers["location"])
    assert "Your comment is awaiting moderation." in after.text
    assert "By the plain form" not in after.text


async def test_a_reply_to_a_held_comment_is_refused(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await set_site(app, "moderation", "all")
    parent = (await post_comment(client)).json()["comment"]["id"]
    response = await post_comment(client, parent=parent)
    assert response.status_code == 422


# Akismet, asked through a small local server that speaks its API.


@pytest.fixture(scope="module")
def akismet_server() -> Iterator[AkismetServer]:
    server = AkismetServer()
    yield server
    server.close()


async def app_asking(
    tmp_path: Path, database_url: str, akismet_url: str, key: str = AkismetServer.key
) -> Starlette:
    settings = make_settings(
        tmp_path / "data", database_url=database_url, akismet_key=key, akismet_url=akismet_url,
        akismet_blog_url=BLOG,
    )  # fmt: skip
    return create_app(settings)


async def test_akismet_decides_spam_and_ham(
    tmp_path: Path, database_url: str, akismet_server: AkismetServer
) -> None:
    app = await app_asking(tmp_path, database_url, akismet_server.url)
    async with client_of(app) as client:
        first = await published(client, app, body="A thoughtful remark", website="ann.example")
        assert (await held(client, app, body="Cheap VIAGRA here"))[0] == "spam"
        await published(client, app, body="A reply", parent=first)
    questions = akismet_server.questions[-3:]
    asked = questions[0]
    assert asked["api_key"] == AkismetServer.key
    assert asked["blog"] == BLOG
    assert asked["user_ip"] == "203.0.113.9"
    assert asked["permalink"] == PAGE["url"]
    assert asked["comment_type"] == "comment"
    assert asked["comment_author"] == "Ann"
    assert asked["comment_author_email"] == "ann@example.com"
    assert asked["comment_author_url"] == "https://ann.example"
    assert asked["comment_content"] == "A thoughtful remark"
    assert asked["blog_charset"] == "UTF-8"
    assert questions[2]["comment_type"] == "reply"


async def test_akismet_spam_wins_over_every_other_reason(
    tmp_path: Path, database_url: str, akismet_server: AkismetServer
) -> None:
    app = await app_asking(tmp_path, database_url, akismet_server.url)
    async with client_of(app) as client:
        await set_site(app, "moderation", "all")
        assert await held(client, app, body="viagra") == ("spam", "Akismet says spam")


@pytest.mark.parametrize(
    ("body", "key", "reachable"),
    [
        ("An error on their side [broken]", AkismetServer.key, True),
        ("A slow answer [slow]", AkismetServer.key, True),
        ("A wrong key", "not-the-key", True),
        ("Nobody there", AkismetServer.key, False),
    ],
)
async def test_when_akismet_cannot_answer_the_comment_is_held_not_lost(
    tmp_path: Path,
    database_url: str,
    akismet_server: AkismetServer,
    monkeypatch: pytest.MonkeyPatch,
    body: str,
    key: str,
    reachable: bool,
) -> None:
    monkeypatch.setattr(akismet, "TIMEOUT_S", 0.3)
    url = akismet_server.url if reachable else f"http://127.0.0.1:{free_port()}/1.1"
    app = await app_asking(tmp_path, database_url, url, key=key)
    async with client_of(app) as client:
        assert await held(client, app, body=body) == ("pending", "Akismet could not be asked")


def test_tokens_signed_compressed_before_still_verify() -> None:
    """Tokens are no longer zlib-compressed (it cost a tenth of a post's CPU time); those
    handed out before, compressed (a leading "."), still verify."""
    from itsdangerous import URLSafeTimedSerializer

    signer = TokenSigner("k" * 32)
    value = {"s": "blog", "p": "/a-long-page/" * 20, "n": "abc"}
    before = URLSafeTimedSerializer("k" * 32, salt=Purpose.FORM.salt).dumps(value)
    assert before.startswith(".")
    assert signer.verify(Purpose.FORM, before) == value
    now = signer.sign(Purpose.FORM, value)
    assert not now.startswith(".")
    assert signer.verify(Purpose.FORM, now) == value
