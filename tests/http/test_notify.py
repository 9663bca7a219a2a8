"""Notifications, sent to a real SMTP server (aiosmtpd) and a real webhook receiver: double
opt-in, follow-ups, one-click unsubscribe, moderators' emails, retries, and what emails hold."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.header
import hashlib
import hmac
import http.server
import json
import re
import smtplib
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from starlette.applications import Starlette

from tests.helpers import (
    BLOG,
    EMBED,
    OWN_ORIGIN,
    PUBLIC_URL,
    QUICK,
    SECRET,
    comment_body,
    loaded_at_start,
    make_settings,
    number_again,
    open_form,
    outbox_rows,
    posted,
    settle,
)
from tests.mail import Inbox, body_of, link_in, mail_settings, start_smtp, subscribe
from tests.servers import free_port, serve_in_thread
from widget.app import create_app
from widget.auth.tokens import Purpose, TokenSigner
from widget.notify import outbox as outbox_module
from widget.notify.mail import Mail, Mailer, header_text, plain_text
from widget.notify.outbox import MAX_ATTEMPTS, Outbox
from widget.notify.webhooks import webhook_key
from widget.records import Subscription
from widget.sites import add_site, change_site_setting


@pytest.fixture
def client(mail_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return mail_client


# -- subscribing ---------------------------------------------------------------------------------


async def test_the_notify_box_shows_only_when_mail_can_be_sent(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    page = await client.get("/embed/blog/thread", params=EMBED)
    assert "Notify me of follow-up comments via email." in page.text
    silent_db = f"sqlite:///{tmp_path / 'silent.db'}"
    silent = create_app(make_settings(tmp_path / "silent", database_url=silent_db))
    async with silent.router.lifespan_context(silent):
        await add_site(silent.state.widget.storage, "blog", [BLOG], "", QUICK)
        transport = httpx.ASGITransport(app=silent)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as other:
            page = await other.get("/embed/blog/thread", params=EMBED)
    assert "Notify me" not in page.text


async def test_nothing_is_sent_before_the_address_is_confirmed(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    mine = await posted(client, email="ann@example.com", notify=True)
    (confirmation,) = await inbox.wait_for(1)
    # A mail scanner opens the link: the page asks, the button confirms; GET changes nothing.
    assert (await client.get(link_in(confirmation, "/notify/confirm"))).status_code == 200
    await posted(client, email="bob@example.com", name="Bob", parent=mine["comment"]["id"])
    await settle(mail_app)
    assert [m["Subject"] for m in inbox.to("ann@example.com")] == [
        "Confirm: follow the comments on “Hello world”"
    ]


async def test_the_no_script_forms_box_is_ticked_by_what_browsers_send(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    # "1": the frame's box; "on": what a browser sends for a box without a value (a site
    # owner's own form); no field at all: a box left unticked.
    sent = {"ann@example.com": "1", "bob@example.com": "on", "cid@example.com": None}
    for address, ticked in sent.items():
        form = await open_form(client)
        fields = {**form, "body": f"From {address}", "name": "Reader", "email": address}
        if ticked is not None:
            fields["notify"] = ticked
        response = await client.post("/embed/blog/thread/comments", data=fields, headers=OWN_ORIGIN)
        assert response.status_code == 303, response.text
    await settle(mail_app)
    asked = sorted(address for address in sent if inbox.to(address))
    assert asked == ["ann@example.com", "bob@example.com"]


async def test_an_address_typed_by_someone_else_is_asked_a_few_times_not_once_a_comment(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    """Each comment ticking the box under an unconfirmed address mailed it a confirmation:
    five a minute (the poster's rate limit), all day, to someone who never asked."""
    for n in range(7):
        page = {"page": f"/post-{n}/", "url": f"{BLOG}/post-{n}/"}
        await posted(client, email="victim@example.com", notify=True, **page)
    await settle(mail_app)
    assert len(inbox.to("victim@example.com")) == 5
    await posted(client, email="ann@example.com", notify=True)
    await settle(mail_app)
    assert len(inbox.to("ann@example.com")) == 1  # another address is asked as before


async def test_replies_to_my_comments_only(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    mine = await subscribe(client, inbox, "ann@example.com", "replies")
    await posted(client, email="bob@example.com", name="Bob", body="Unrelated")
    # My own reply to my comment: a reply to me, but mine, so not sent to me.
    await posted(client, email="Ann@Example.com", body="Me again", parent=mine["comment"]["id"])
    reply = await posted(client, email="bob@example.com", name="Bob", body="Good *point*",
                         parent=mine["comment"]["id"])  # fmt: skip
    await settle(mail_app)
    (follow_up,) = inbox.to("ann@example.com")[1:]
    assert follow_up["Subject"] == "New reply to your comment on “Hello world”"
    text = body_of(follow_up)
    assert "Bob replied to your comment on “Hello world”:" in text
    assert "Good point" in text
    assert f"{PUBLIC_URL}/c/{reply['comment']['id']}" in text
    unsubscribe = link_in(follow_up, "/notify/unsubscribe")
    assert follow_up["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert follow_up["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert follow_up["Auto-Submitted"] == "auto-generated"
    assert "Good <em>point</em>" not in body_of(follow_up, "html")  # text, not the comment HTML


async def test_every_comment_of_the_thread(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    await subscribe(client, inbox, "ann@example.com", "thread")
    await posted(client, email="bob@example.com", name="Bob", body="First")
    await posted(client, email="ann@example.com", body="Mine")  # nobody is told of their own
    await posted(client, email="cy@example.com", name="Cy", body="Second")
    await settle(mail_app)
    follow_ups = inbox.to("ann@example.com")[1:]
    assert [m["Subject"] for m in follow_ups] == ["New comment on “Hello world”"] * 2
    assert [body_of(m).split(" commented on ")[0] for m in follow_ups] == ["Bob", "Cy"]


async def test_one_click_unsubscribe(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    await subscribe(client, inbox, "ann@example.com", "thread")
    await posted(client, email="bob@example.com", name="Bob")
    await settle(mail_app)
    link = link_in(inbox.to("ann@example.com")[-1], "/notify/unsubscribe")
    page = await client.get(link)  # a mail scanner following the link changes nothing
    assert "Stop these emails?" in page.text
    storage = mail_app.state.widget.storage
    head = await storage.get_thread_head("blog", "/hello/")
    assert [s.email for s in await storage.subscribers(Subscription, head.id)] == [
        "ann@example.com"
    ]
    # RFC 8058: the mail client POSTs this body to the URL, with no Origin of ours.
    one_click = await client.post(
        link, content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert one_click.status_code == 200
    assert "Unsubscribed" in one_click.text
    assert (await client.post(link)).status_code == 200  # twice is fine
    count = len(inbox.to("ann@example.com"))
    await posted(client, email="bob@example.com", name="Bob")
    await settle(mail_app)
    assert len(inbox.to("ann@example.com")) == count


async def test_a_confirmation_link_confirms_only_the_address_it_was_sent_to(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette, database_url: str
) -> None:
    """Mallory asks to follow the thread, keeps the link and erases what she wrote; Ann's
    subscription then takes the number hers had (as on a database from before migration
    0014). Mallory's link must neither show nor confirm Ann's."""
    storage = mail_app.state.widget.storage
    signer = TokenSigner(SECRET)
    await posted(client, email="mallory@example.com", name="Mallory", notify=True)
    (asked,) = await inbox.wait_for(1)
    kept = link_in(asked, "/notify/confirm")
    kept_token = kept.split("token=")[1]
    number = signer.verify(Purpose.SUBSCRIBE, kept_token)["s"]
    await storage.erase_author("mallory@example.com", None)  # her subscriptions end with it
    await number_again(database_url, "subscriptions", number)
    await posted(client, email="ann@example.com", notify=True)
    await inbox.wait_for(2)
    ann_token = link_in(inbox.to("ann@example.com")[0], "/notify/confirm").split("token=")[1]
    assert signer.verify(Purpose.SUBSCRIBE, ann_token)["s"] == number

    page = await client.get(kept)
    assert page.status_code == 400
    assert "ann@example.com" not in page.text
    done = await client.post(
        "/notify/confirm", data={"token": kept_token, "scope": "thread"}, headers=OWN_ORIGIN
    )
    assert done.status_code == 400
    head = await storage.get_thread_head("blog", "/hello/")
    assert await storage.subscribers(Subscription, head.id) == []  # Ann never confirmed


async def test_an_old_unsubscribe_link_stops_nobody_who_came_after(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette, database_url: str
) -> None:
    """A subscription's number may come back on the next one (a database whose newest row
    went before migration 0014, or a dump loaded since): the link of an address that left
    names that number, and must not unsubscribe whoever has it now."""
    storage = mail_app.state.widget.storage
    await subscribe(client, inbox, "ann@example.com", "thread")
    await posted(client, email="bob@example.com", name="Bob")
    await settle(mail_app)
    link = link_in(inbox.to("ann@example.com")[-1], "/notify/unsubscribe")
    head = await storage.get_thread_head("blog", "/hello/")
    (ann,) = await storage.subscribers(Subscription, head.id)
    assert "Unsubscribed" in (await client.post(link)).text
    await number_again(database_url, "subscriptions", ann.id)
    await subscribe(client, inbox, "cy@example.com", "thread")
    (cy,) = await storage.subscribers(Subscription, head.id)
    assert cy.id == ann.id
    assert (await client.post(link)).status_code == 200  # Ann's old link, followed again
    assert await storage.subscribers(Subscription, head.id) == [cy]
    await posted(client, email="bob@example.com", name="Bob")
    await settle(mail_app)
    assert inbox.to("cy@example.com")[-1]["Subject"] == "New comment on “Hello world”"


def decoded(value: str) -> str:
    return str(email.header.make_header(email.header.decode_header(value)))


def raw_headers(raw: bytes) -> dict[str, str]:
    """A message's header lines as a mail client reads them off the wire: unfolded, undecoded."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")  # 7-bit: anything else is a defect
    unfolded = re.sub(r"\r\n[ \t]+", " ", head)
    return dict(line.split(": ", 1) for line in unfolded.split("\r\n"))


async def test_headers_reach_the_mail_client_as_the_rfcs_write_them(
    tmp_path: Path, database_url: str, smtp: tuple[int, Inbox]
) -> None:
    """With a public URL as long as a real one, List-Unsubscribe arrives as a plain <URL> (a
    MIME-encoded one gives no unsubscribe button), and the other headers are proper too."""
    public = "https://comments.example.com"
    origin = {"Origin": public}
    port, inbox = smtp
    settings = mail_settings(tmp_path, database_url, port, public_url=public)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        await add_site(app.state.widget.storage, "blog", [BLOG], "Ünïcode Blog", QUICK)
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url=public) as client:
            await client.post("/api/v1/comments", headers=origin, json=comment_body(
                email="ann@example.com", notify=True))  # fmt: skip
            await settle(app)
            confirm_link = link_in(inbox.to("ann@example.com")[-1], "/notify/confirm", public)
            token = confirm_link.split("token=")[1]
            await client.post(
                "/notify/confirm", data={"token": token, "scope": "thread"}, headers=origin
            )
            await client.post("/api/v1/comments", headers=origin, json=comment_body(
                email="bob@example.com", name="Bob"))  # fmt: skip
            await settle(app)
    confirmation, follow_up = (
        raw_headers(raw) for raw, message in zip(inbox.raw, inbox.messages, strict=True)
        if message["To"] == "ann@example.com"
    )  # fmt: skip
    for headers in (confirmation, follow_up):
        # The site's name, RFC 2047-encoded as a phrase must be; the address itself plain.
        assert headers["From"].endswith(" <widget@comments.example.com>")
        assert decoded(headers["From"]) == "Ünïcode Blog <widget@comments.example.com>"
        assert re.fullmatch(r"<[^<>@\s]+@comments\.example\.com>", headers["Message-ID"])
        assert re.fullmatch(r"\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000", headers["Date"])
        assert headers["Auto-Submitted"] == "auto-generated"
    unsubscribe = follow_up["List-Unsubscribe"]
    assert re.fullmatch(r"<https://comments\.example\.com/notify/unsubscribe\?token=[\w.\-]+>",
                        unsubscribe), unsubscribe  # fmt: skip
    assert len(unsubscribe) > 78  # long enough that the default policy would have encoded it
    assert follow_up["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert follow_up["List-Id"].endswith(" comments <blog.comments.example.com>")
    assert decoded(follow_up["List-Id"]) == "Ünïcode Blog comments <blog.comments.example.com>"
    assert "List-Id" not in confirmation and "List-Unsubscribe" not in confirmation


async def test_a_tampered_link_is_refused(client: httpx.AsyncClient) -> None:
    for path in ("/notify/confirm", "/notify/unsubscribe", "/notify/moderate"):
        response = await client.get(path, params={"token": "forged.token"})
        assert response.status_code == 400
        assert "This link has expired" in response.text
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


async def test_confirming_needs_our_origin(client: httpx.AsyncClient, inbox: Inbox) -> None:
    await posted(client, email="ann@example.com", notify=True)
    (confirmation,) = await inbox.wait_for(1)
    token = link_in(confirmation, "/notify/confirm").split("token=")[1]
    response = await client.post(
        "/notify/confirm", data={"token": token}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403


# -- moderators ----------------------------------------------------------------------------------


async def test_moderators_hear_of_held_comments_and_approve_by_email(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    storage = mail_app.state.widget.storage
    await change_site_setting(storage, "blog", "notify_emails", "mod@example.com, boss@example.com")
    mine = await subscribe(client, inbox, "ann@example.com", "replies")
    await settle(mail_app)
    await change_site_setting(storage, "blog", "moderation", "all")
    start = len(inbox.messages)
    held = await posted(client, email="bob@example.com", name="Bob", body="Wait for it",
                        parent=mine["comment"]["id"])  # fmt: skip
    await settle(mail_app)
    to_moderators = inbox.messages[start:]
    assert sorted(m["To"] for m in to_moderators) == ["boss@example.com", "mod@example.com"]
    notice = to_moderators[0]
    assert notice["Subject"] == "[blog] A comment awaits moderation on “Hello world”"
    text = body_of(notice)
    assert "held: every comment is moderated on this site" in text
    assert "From: Bob <bob@example.com>, 203.0.113.7" in text
    assert inbox.to("ann@example.com")[-1]["Subject"].startswith("Confirm")  # not told yet

    approve = link_in(notice, "/notify/moderate")
    page = await client.get(approve)
    assert "Approve this comment?" in page.text
    assert "Wait for it" in page.text
    token = approve.split("token=")[1]
    forged = await client.post(  # a page elsewhere posting the link's form for the moderator
        "/notify/moderate", data={"token": token}, headers={"Origin": "https://evil.example"}
    )
    assert forged.status_code == 403
    assert (await storage.get_comment(held["comment"]["id"])).status == "pending"
    done = await client.post("/notify/moderate", data={"token": token}, headers=OWN_ORIGIN)
    assert "The comment is approved." in done.text
    assert (await storage.get_comment(held["comment"]["id"])).status == "approved"
    await settle(mail_app)
    assert inbox.to("ann@example.com")[-1]["Subject"] == (
        "New reply to your comment on “Hello world”"
    )


async def test_published_comments_are_announced_to_moderators_too(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    await change_site_setting(mail_app.state.widget.storage, "blog", "notify_emails",
                              "mod@example.com")  # fmt: skip
    comment_id = (await posted(client, body="Hello"))["comment"]["id"]
    await settle(mail_app)
    (notice,) = inbox.to("mod@example.com")
    assert notice["Subject"] == "[blog] New comment on “Hello world”"
    assert "Approve" not in body_of(notice)
    delete = link_in(notice, "/notify/moderate")  # its one link of the kind: delete
    assert "Delete this comment?" in (await client.get(delete)).text
    token = delete.split("token=")[1]
    done = await client.post("/notify/moderate", data={"token": token}, headers=OWN_ORIGIN)
    assert "The comment is deleted." in done.text
    storage = mail_app.state.widget.storage
    assert (await storage.get_comment(comment_id)).status == "deleted"


async def test_spam_tells_nobody(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    await change_site_setting(mail_app.state.widget.storage, "blog", "notify_emails",
                              "mod@example.com")  # fmt: skip
    await posted(client, homepage="http://spam.example", notify=True)
    await settle(mail_app)
    assert inbox.messages == []


async def test_a_comment_taken_for_spam_before_anyone_was_told_tells_nobody(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    storage, outbox = mail_app.state.widget.storage, mail_app.state.widget.outbox
    await change_site_setting(storage, "blog", "notify_emails", "mod@example.com")
    await outbox.stop()  # the comment's job waits, as on a busy server
    comment_id = (await posted(client, notify=True))["comment"]["id"]
    await storage.set_status([comment_id], "spam", ["blog"])  # a moderator was quicker
    outbox.start()
    await settle(mail_app)
    assert await storage.outbox_counts() == {"queued": 0, "failed": 0}
    assert inbox.messages == []


async def test_spam_a_moderator_approves_is_told_of_once(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    storage = mail_app.state.widget.storage
    await subscribe(client, inbox, "ann@example.com", "thread")
    spam = await posted(client, email="bob@example.com", name="Bob", homepage="http://x.example")
    await settle(mail_app)
    assert len(inbox.to("ann@example.com")) == 1  # the confirmation only: spam tells nobody
    await storage.set_status([spam["comment"]["id"]], "approved", ["blog"])  # not spam after all
    await settle(mail_app)
    assert [m["Subject"] for m in inbox.to("ann@example.com")[1:]] == [
        "New comment on “Hello world”"
    ]
    # Deleted and restored: published before, so nobody is told again.
    await storage.set_status([spam["comment"]["id"]], "deleted", ["blog"])
    await storage.set_status([spam["comment"]["id"]], "approved", ["blog"])
    await settle(mail_app)
    assert len(inbox.to("ann@example.com")) == 2


# -- what emails hold ----------------------------------------------------------------------------


async def test_emails_link_only_to_this_server(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    await change_site_setting(mail_app.state.widget.storage, "blog", "notify_emails",
                              "mod@example.com")  # fmt: skip
    await posted(client, body="See [this](https://evil.example/x) and <b>bold</b>", notify=True)
    await settle(mail_app)
    assert len(inbox.messages) == 2
    for message in inbox.messages:
        for subtype in ("plain", "html"):
            body = body_of(message, subtype)
            urls = re.findall(r"https?://[^\s\"'<>]+", body)
            assert urls and all(url.startswith(PUBLIC_URL + "/") for url in urls), urls
            assert "evil.example" not in body
        assert "See this and &lt;b&gt;bold&lt;/b&gt;" in body_of(message, "html")


async def test_the_comment_link_leads_to_the_comment(client: httpx.AsyncClient) -> None:
    data = await posted(client)
    response = await client.get(f"/c/{data['comment']['id']}")
    assert response.status_code == 303
    assert response.headers["location"] == f"{BLOG}/hello/#comment-{data['comment']['id']}"
    assert (await client.get("/c/999999")).status_code == 404
    assert (await client.get("/c/abc")).status_code == 404
    # An old email's link in a French reader's browser, after the comment was taken down.
    gone = await client.get("/c/999999", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert "Ce commentaire n’est pas (ou plus) publié." in gone.text


def test_no_header_can_be_added_through_a_name_or_title(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, smtp_host="127.0.0.1")
    sneaky = "Hello\r\nBcc: victim@example.com\u2028X-Evil: 1"
    mail = Mail("ann@example.com", f"New comment on “{sneaky}”", "text", "<p>html</p>",
                {"List-Unsubscribe": "<https://x>\r\nBcc: victim@example.com"})  # fmt: skip
    message = Mailer(settings).message(mail)
    assert message["Bcc"] is None and message["X-Evil"] is None
    assert message["Subject"] == "New comment on “Hello Bcc: victim@example.com X-Evil: 1”"
    assert "\n" not in message["List-Unsubscribe"]
    assert header_text("a" * 300, 10) == "a" * 9 + "…"
    assert plain_text("<p>One <a href='https://x'>link</a></p><p>Two<br>lines</p>") == (
        "One link\n\nTwo\nlines"
    )


def test_a_name_or_title_cannot_turn_the_rest_of_a_subject_around(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, smtp_host="127.0.0.1")
    mail = Mail("ann@example.com", "Mallory \u202e replied on “\u2067Title” today", "t", "<p>h</p>")
    assert Mailer(settings).message(mail)["Subject"] == "Mallory replied on “Title” today"
    assert header_text("Mallory \u202a\u202b\u202c\u202d\u2066\u2068\u2069") == "Mallory"


# -- retries -------------------------------------------------------------------------------------


async def test_a_dead_mail_server_neither_loses_nor_delays_a_comment(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    app = create_app(mail_settings(tmp_path, database_url, port, outbox_retry_s=0.3))
    async with app.router.lifespan_context(app):
        storage = app.state.widget.storage
        await add_site(storage, "blog", [BLOG], "The blog", QUICK)
        await change_site_setting(storage, "blog", "notify_emails", "mod@example.com")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            started = time.monotonic()
            data = await posted(client, body="Kept")
            assert time.monotonic() - started < 2.0
            assert "Kept" in (await client.get("/embed/blog/thread/fragment", params=EMBED)).text
        # The mail waits in the outbox, tried and failed, until the server is back.
        for _ in range(200):
            rows = await outbox_rows(storage)
            if rows and rows[0]["attempts"] >= 1:
                break
            await asyncio.sleep(0.02)
        assert rows[0]["kind"] == "email" and "refused" in rows[0]["last_error"].lower()
        controller, inbox = start_smtp(port)
        try:
            (message,) = await inbox.wait_for(1, timeout_s=10)
            assert message["Subject"] == "[blog] New comment on “Hello world”"
            assert str(data["comment"]["id"]) in body_of(message)
        finally:
            controller.stop()


def test_retries_wait_longer_each_time_then_give_up(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, outbox_retry_s=30.0)
    outbox = Outbox(settings, None, None, None, None)  # type: ignore[arg-type]
    delays = [outbox.retry_delay(n) for n in range(1, MAX_ATTEMPTS + 1)]
    assert delays[:4] == [30.0, 120.0, 480.0, 1920.0]
    assert max(d for d in delays if d is not None) == 6 * 3600.0
    assert delays[-1] is None


async def test_a_job_that_keeps_failing_is_kept_as_failed(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "MAX_ATTEMPTS", 3)  # 8 would take a minute here
    app = create_app(mail_settings(tmp_path, database_url, free_port(), outbox_retry_s=0.01))
    async with app.router.lifespan_context(app):
        storage = app.state.widget.storage
        outbox: Outbox = app.state.widget.outbox
        mail = Mail("x@example.com", "s", "t", "<p>h</p>")
        await storage.add_jobs([("email", mail.to_payload())], datetime.now(UTC))
        for _ in range(500):
            if (await storage.outbox_counts())["failed"]:
                break
            outbox.wake()
            await asyncio.sleep(0.02)
        assert await storage.outbox_counts() == {"queued": 0, "failed": 1}
        (row,) = await outbox_rows(storage)
        assert row["attempts"] == 3
        assert row["failed_at"] is not None


async def test_a_mail_server_without_starttls_is_named_with_the_setting_to_change(
    tmp_path: Path, database_url: str
) -> None:
    """Found with a local relay (no TLS) and smtp_security left at its default, starttls:
    the log said only "STARTTLS extension not supported by server."."""
    controller, inbox = start_smtp()
    try:
        settings = dataclasses.replace(
            mail_settings(tmp_path, database_url, controller.port), smtp_security="starttls"
        )
        with pytest.raises(smtplib.SMTPNotSupportedError) as refused:
            await Mailer(settings).send(Mail("x@example.com", "s", "t", "<p>h</p>"))
        assert (
            f"the mail server at 127.0.0.1:{controller.port} offers no STARTTLS, which"
            " smtp_security=starttls asks for; set smtp_security to tls (port 465) or, for a"
            " local relay without TLS, none" in str(refused.value)
        )
        assert inbox.messages == []
    finally:
        controller.stop()


class SlowInbox(Inbox):
    """An inbox whose mail server holds the first message's answer until let go."""

    def __init__(self) -> None:
        super().__init__()
        self.holding = threading.Event()
        self.let_go = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.messages and not self.holding.is_set():
            self.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, self.let_go.wait, 10)
        return await super().handle_DATA(server, session, envelope)


@contextlib.asynccontextmanager
async def three_mails_held_up(
    tmp_path: Path, database_url: str
) -> AsyncIterator[tuple[Starlette, SlowInbox]]:
    """An app whose mail server holds up the first of three mails queued together, until the
    inbox is let go; the outbox has claimed all three and is sending the first."""
    inbox = SlowInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app = create_app(mail_settings(tmp_path, database_url, controller.port))
    try:
        async with app.router.lifespan_context(app):
            mails = [Mail(f"n{n}@example.com", f"mail {n}", "t", "<p>h</p>") for n in range(3)]
            await app.state.widget.storage.add_jobs(
                [("email", m.to_payload()) for m in mails], datetime.now(UTC)
            )
            app.state.widget.outbox.wake()
            assert await asyncio.to_thread(inbox.holding.wait, 10)
            yield app, inbox
    finally:
        inbox.let_go.set()
        controller.stop()


async def test_jobs_whose_lease_ran_out_meanwhile_are_left_to_the_worker_that_took_them(
    tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Three mails claimed together; the first takes long enough for the batch's lease to run
    out, and another instance claims what is left: the other two are its to send, not sent
    here as well (each was sent twice: once by each instance)."""
    async with three_mails_held_up(tmp_path, database_url) as (app, inbox):
        storage = app.state.widget.storage
        # Another instance, its clock just past the lease the three were claimed with.
        held_until = min(as_time(row["locked_until"]) for row in await outbox_rows(storage))
        taken = await storage.claim_jobs(held_until + timedelta(microseconds=1), 60.0, 20)
        inbox.let_go.set()
        for _ in range(500):  # until the worker has done with the three, one way or another
            left = [r for r in caplog.records if "left to the worker" in r.getMessage()]
            if len(left) == 2 or len(inbox.messages) == 3:
                break
            await asyncio.sleep(0.02)
        assert [m["Subject"] for m in inbox.messages] == ["mail 0"]
        assert [job.payload["subject"] for job in taken] == ["mail 1", "mail 2"]


async def test_a_stopping_outbox_lets_go_of_the_jobs_it_has_not_begun(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stopped (a restart, a deploy) while the mail server holds up the first of three mails
    past the stop's grace: the two not begun are free for the next server at once. They
    stayed claimed for the rest of the lease, 5 minutes, mailing nobody meanwhile."""
    monkeypatch.setattr(outbox_module, "STOP_GRACE_S", 0.2)
    async with three_mails_held_up(tmp_path, database_url) as (app, _):
        storage = app.state.widget.storage
        await app.state.widget.outbox.stop()  # the mail in hand is held: cancelled after the grace
        rows = {json.loads(r["payload"])["subject"]: r for r in await outbox_rows(storage)}
        assert rows["mail 0"]["locked_until"] is not None  # perhaps sent: not at once again
        assert (rows["mail 1"]["locked_until"], rows["mail 2"]["locked_until"]) == (None, None)
        taken = await storage.claim_jobs(datetime.now(UTC), 60.0, 20)
        assert [job.payload["subject"] for job in taken] == ["mail 1", "mail 2"]


def as_time(value: datetime | float) -> datetime:
    """A time as a dump holds it: a datetime (PostgreSQL) or seconds (SQLite)."""
    return value if isinstance(value, datetime) else datetime.fromtimestamp(value, UTC)


class RefusingInbox(Inbox):
    """A mail server that knows no gone@ (550) and greylists later@ (451)."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 <gone@example.com>: no such user here"
        if address.startswith("later@"):
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_an_address_refused_for_good_is_not_asked_again_one_refused_for_now_is(
    tmp_path: Path, database_url: str
) -> None:
    inbox = RefusingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    app = create_app(mail_settings(tmp_path, database_url, controller.port, outbox_retry_s=600))
    try:
        async with app.router.lifespan_context(app):
            storage = app.state.widget.storage
            mails = [Mail(f"{who}@example.com", who, "t", "<p>h</p>") for who in ("gone", "later")]
            await storage.add_jobs([("email", m.to_payload()) for m in mails], datetime.now(UTC))
            app.state.widget.outbox.wake()
            for _ in range(500):
                rows = await outbox_rows(storage)
                if all(row["attempts"] for row in rows):
                    break
                await asyncio.sleep(0.02)
            gone, later = sorted(rows, key=lambda row: json.loads(row["payload"])["to"])
            # Given up at once, kept for an admin to see (asked 8 times over some 15 hours before).
            assert (gone["attempts"], gone["failed_at"] is not None) == (1, True)
            assert gone["last_error"] == (
                "the mail server refused the recipient for good: 550 5.1.1 <[address]>: no such"
                " user here"
            )
            assert (later["attempts"], later["failed_at"]) == (1, None)  # to be tried again
            assert "451" in later["last_error"]
            assert inbox.messages == []
    finally:
        controller.stop()


# -- webhooks ------------------------------------------------------------------------------------


class Receiver:
    """A webhook endpoint on 127.0.0.1 that fails its first call, then takes the rest."""

    def __init__(self) -> None:
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        calls = self.calls

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if not calls else 204
                calls.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.close = serve_in_thread(self.server)


async def test_webhooks_are_signed_and_retried(tmp_path: Path, database_url: str) -> None:
    receiver = Receiver()
    app = create_app(make_settings(tmp_path / "data", database_url=database_url,
                                   outbox_retry_s=0.2))  # fmt: skip
    try:
        async with app.router.lifespan_context(app):
            storage = app.state.widget.storage
            await add_site(storage, "blog", [BLOG], "The blog", QUICK)
            await change_site_setting(
                storage, "blog", "webhook_url", receiver.url, app.state.widget.outbound
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
                data = await posted(client, body="Hook *me*")
            for _ in range(250):
                if len(receiver.calls) >= 2:
                    break
                await asyncio.sleep(0.02)
    finally:
        receiver.close()
    assert [status for _, _, status in receiver.calls] == [500, 204]
    headers, body, _ = receiver.calls[1]
    assert receiver.calls[0][1] == body  # the retry sends the same event
    key = webhook_key(app.state.widget.settings.secret_key, "blog")
    # Checked as a receiver would, from the scheme the site's admin page shows, not with
    # widget's own function (a fault in it would agree with itself).
    signed = headers["x-widget-timestamp"].encode() + b"." + body
    expected = hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()
    assert headers["x-widget-signature"] == f"sha256={expected}"
    assert headers["x-widget-event"] == "comment.created"
    event = json.loads(body)
    assert event["site"] == "blog"
    assert event["page"] == {"id": "/hello/", "url": f"{BLOG}/hello/", "title": "Hello world"}
    assert event["comment"]["id"] == data["comment"]["id"]
    assert event["comment"]["html"] == "<p>Hook <em>me</em></p>"
    assert "ann@example.com" not in body.decode() and "203.0.113" not in body.decode()


async def test_a_comment_nobody_could_be_told_of_queues_no_job(
    tmp_path: Path, database_url: str
) -> None:
    """Without mail and a webhook, planning who to tell would find nobody: no job is queued
    (each cost a write, two reads and a delete); with a webhook, one is. (The site reads no
    titles from its pages here: a new thread's look at its page is a job of its own.)"""
    app = create_app(make_settings(tmp_path / "data", database_url=database_url))
    async with app.router.lifespan_context(app):
        storage = app.state.widget.storage
        await app.state.widget.outbox.stop()  # so that what is queued stays to be seen
        await add_site(storage, "blog", [BLOG], "The blog", {**QUICK, "fetch_titles": "off"})
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            await posted(client, body="Nobody to tell")
            assert await outbox_rows(storage) == []
            await change_site_setting(
                storage, "blog", "webhook_url", "https://hooks.example/", app.state.widget.outbound
            )
            await posted(client, body="A webhook to call")
        assert [row["kind"] for row in await outbox_rows(storage)] == ["comment"]


def test_a_webhook_url_must_be_http(tmp_path: Path) -> None:
    from widget.errors import Invalid
    from widget.sites import parse_site_settings

    with pytest.raises(Invalid):
        parse_site_settings({"webhook_url": "file:///etc/passwd"})
    assert parse_site_settings({"webhook_url": " "}) == {"webhook_url": ""}


async def test_emails_go_out_in_the_language_the_subscriber_wrote_in(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    # Ann comments in a German frame and asks to be told of follow-ups.
    mine = await posted(client, email="ann@example.com", notify=True, lang="de")
    (confirmation,) = await inbox.wait_for(1)
    assert confirmation["Subject"] == "Bestätigen: Kommentaren zu „Hello world“ folgen"
    text = body_of(confirmation)
    assert "Jemand (hoffentlich du) möchte nach diesem Kommentar" in text
    assert "Zum Starten hier bestätigen: " in text
    html = body_of(confirmation, "html")
    assert '<html lang="de" dir="ltr">' in html
    assert ">Bestätigen</a>" in html
    # The page behind the link, and its button, in German too.
    link = link_in(confirmation, "/notify/confirm")
    page = await client.get(link)
    assert '<html lang="de" dir="ltr">' in page.text
    assert "<h1>Diesem Gespräch folgen?</h1>" in page.text
    assert "Jeden neuen Kommentar in diesem Thread" in page.text
    token = link.split("token=")[1]
    done = await client.post(
        "/notify/confirm", data={"token": token, "scope": "thread"}, headers=OWN_ORIGIN
    )
    assert done.status_code == 200
    assert "Du bekommst eine E-Mail für jeden neuen Kommentar in diesem Thread." in done.text

    # Bob replies from an English frame; Ann hears of it in German.
    await posted(client, email="bob@example.com", name="Bob", parent=mine["comment"]["id"])
    await settle(mail_app)
    follow_up = inbox.to("ann@example.com")[-1]
    assert follow_up["Subject"] == "Neue Antwort auf deinen Kommentar zu „Hello world“"
    assert "Bob hat auf deinen Kommentar zu „Hello world“ geantwortet:" in body_of(follow_up)
    assert "Diese E-Mails abbestellen: " in body_of(follow_up)
    assert "Diese E-Mails abbestellen</a>" in body_of(follow_up, "html")
    stop = await client.get(link_in(follow_up, "/notify/unsubscribe"))
    assert "<h1>Diese E-Mails abbestellen?</h1>" in stop.text

    # An Arabic reader asks for their own comments: the link comes in Arabic, right to left.
    await posted(client, email="rami@example.com", name="Rami", lang="ar")
    asked = await client.post(
        "/embed/blog/data-request",
        data={**EMBED, "lang": "ar", "email": "rami@example.com"},
        headers=OWN_ORIGIN,
    )
    assert asked.status_code == 303
    await settle(mail_app)
    (own_data,) = inbox.to("rami@example.com")
    assert own_data["Subject"] == "تعليقاتك: تنزيل أو مسح"
    assert '<html lang="ar" dir="rtl">' in body_of(own_data, "html")
    assert "طلب أحدهم (ونأمل أن تكون أنت) التعليقات المكتوبة باسم rami@example.com." in body_of(
        own_data
    )
    # The link's page, too, with the count in Arabic's plural forms.
    page = await client.get(link_in(own_data, "/data"))
    assert '<html lang="ar" dir="rtl">' in page.text
    assert "كُتب تعليق واحد باسم rami@example.com." in page.text


def test_the_mail_stack_is_loaded_with_the_first_mail() -> None:
    """The email package's policies and smtplib (some 0.8 MB) wait for a mail to send, even on
    a server configured to send them (issue 13, item 2)."""
    modules = ["email.policy", "email.headerregistry", "smtplib"]
    loaded = loaded_at_start(modules, smtp_host="127.0.0.1", mail_from="comments@example.com")
    assert loaded == dict.fromkeys(modules, False)
