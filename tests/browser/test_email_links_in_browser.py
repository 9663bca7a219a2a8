"""Every link an email carries, opened in Chromium as a reader or a moderator opens it from
their mailbox, and its button pressed: confirm a subscription, unsubscribe, approve and delete
a held comment, download and erase one's own comments. The mail really goes through SMTP (a
local aiosmtpd) from a real `widget serve`; nothing here posts with a hand-made Origin."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import api_post, blog_post
from tests.browser.pages import wait_for_mail
from tests.mail import Inbox, body_of
from tests.servers import HostPages, WidgetServer, widget_cli, widget_server

FRAME = "#comments iframe"
MODERATOR = "mod@example.com"


@pytest.fixture(scope="module")
def widget(
    blog: HostPages, inbox: Inbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WidgetServer]:
    data_dir = tmp_path_factory.mktemp("email-links") / "data"
    widget_cli(
        data_dir, "site", "add", "blog", "--origin", blog.origin,
        "--set", "min_seconds_to_post=0", "--set", f"notify_emails={MODERATOR}",
    )  # fmt: skip
    widget_cli(
        data_dir, "site", "add", "held", "--origin", blog.origin, "--set", "moderation=all",
        "--set", "min_seconds_to_post=0", "--set", f"notify_emails={MODERATOR}",
    )  # fmt: skip
    mail = {"smtp_host": "127.0.0.1", "smtp_port": str(inbox.port),  # type: ignore[attr-defined]
            "smtp_security": "none", "outbox_retry_s": "1"}  # fmt: skip
    with widget_server(data_dir, open_files=None, **mail) as server:
        yield server


def links_in(message: EmailMessage, widget: WidgetServer, path: str) -> list[str]:
    return re.findall(rf"{re.escape(widget.public_url + path)}\?token=[\w.\-]+", body_of(message))


def rows(widget: WidgetServer, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(widget.data_dir / "widget.db") as db:
        return db.execute(sql, args).fetchall()


def from_the_mailbox(browser: Browser, url: str) -> Page:
    """A link clicked in a mail client: a new browser window with no page before it."""
    return browser.new_context().new_page()


def test_a_reader_confirms_then_unsubscribes_from_the_links_in_the_emails(
    browser: Browser, page: Page, blog: HostPages, widget: WidgetServer, inbox: Inbox
) -> None:
    url = blog_post(blog, widget, "/follow/", "Follow me")
    page.goto(url)
    frame = page.frame_locator(FRAME)
    frame.locator("#wg-body").fill("Tell me when someone answers")
    frame.locator("#wg-name").fill("Ada")
    frame.locator("#wg-email").fill("ada@example.com")
    frame.locator("#wg-notify").check()
    frame.locator("#wg-submit").click()
    expect(frame.locator(".wg-comment")).to_have_count(1)

    confirm = links_in(
        wait_for_mail(inbox, "ada@example.com", "Confirm"), widget, "/notify/confirm"
    )
    mailbox = from_the_mailbox(browser, confirm[0])
    mailbox.goto(confirm[0])
    expect(mailbox.locator("h1")).to_have_text("Follow this conversation?")
    mailbox.get_by_label("Every new comment in this thread").check()
    mailbox.get_by_role("button", name="Confirm").click()
    expect(mailbox.locator("h1")).to_have_text("Confirmed")
    assert rows(widget, "SELECT scope FROM subscriptions WHERE email = ? AND confirmed_at IS NOT"
                " NULL", "ada@example.com") == [("thread",)]  # fmt: skip

    api_post(widget, blog, "/follow/", body="An answer", name="Bea", email="bea@example.com")
    follow_up = wait_for_mail(inbox, "ada@example.com", "New comment on")
    (unsubscribe,) = links_in(follow_up, widget, "/notify/unsubscribe")
    mailbox.goto(unsubscribe)
    expect(mailbox.locator("h1")).to_have_text("Stop these emails?")
    mailbox.get_by_role("button", name="Unsubscribe").click()
    expect(mailbox.locator("h1")).to_have_text("Unsubscribed")
    assert rows(widget, "SELECT id FROM subscriptions WHERE email = ?", "ada@example.com") == []


def test_a_moderator_approves_and_deletes_held_comments_from_the_emails(
    browser: Browser, page: Page, blog: HostPages, widget: WidgetServer, inbox: Inbox
) -> None:
    url = blog_post(blog, widget, "/held/", "Held", site="held")  # a site that holds everything
    kept = api_post(widget, blog, "/held/", body="Worth keeping", name="Cy", site="held")
    dropped = api_post(widget, blog, "/held/", body="Buy pills", name="Spammy", site="held")
    mailbox = from_the_mailbox(browser, "")
    for posted, verb, status in ((kept, "Approve", "approved"), (dropped, "Delete", "deleted")):
        author = posted["comment"]["author"]["name"]
        mail = wait_for_mail(inbox, MODERATOR, "awaits moderation", f"From: {author} ")
        approve, delete = links_in(mail, widget, "/notify/moderate")  # in the mail's order
        link = approve if verb == "Approve" else delete
        mailbox.goto(link)
        expect(mailbox.locator("h1")).to_have_text(f"{verb} this comment?")
        mailbox.get_by_role("button", name=verb).click()
        expect(mailbox.locator("p")).to_have_text(f"The comment is {status}.")
        comment_id = posted["comment"]["id"]
        assert rows(widget, "SELECT status FROM comments WHERE id = ?", comment_id) == [(status,)]
    page.goto(url)
    frame = page.frame_locator(FRAME)
    expect(frame.locator(".wg-comment")).to_have_count(1)
    expect(frame.locator(".wg-comment")).to_contain_text("Worth keeping")


def test_a_guest_downloads_then_erases_their_comments_from_the_emailed_link(
    browser: Browser, page: Page, blog: HostPages, widget: WidgetServer, inbox: Inbox,
    tmp_path: Path,
) -> None:  # fmt: skip
    url = blog_post(blog, widget, "/mine/", "Mine")
    api_post(widget, blog, "/mine/", body="Something I regret", name="Dee", email="dee@example.com")
    page.goto(url)
    frame = page.frame_locator(FRAME)
    frame.locator("#wg-own-data summary").click()
    frame.locator("#wg-own-email").fill("dee@example.com")
    send = frame.get_by_role("button", name="Email me a link")
    size = send.bounding_box()  # a tap target of 24 by 24 CSS px at least (WCAG 2.5.8)
    assert size is not None and size["width"] >= 24 and size["height"] >= 24, size
    send.click()
    expect(frame.locator("#wg-own-data [role=status]")).to_contain_text("a link is on its way")

    mail = wait_for_mail(inbox, "dee@example.com", "Your comments: download or erase")
    (link,) = links_in(mail, widget, "/data")
    mailbox = from_the_mailbox(browser, link)
    mailbox.goto(link)
    expect(mailbox.locator("h1")).to_have_text("Your comments")
    with mailbox.expect_download() as downloading:
        mailbox.get_by_role("link", name="Download them all (JSON)").click()
    saved = tmp_path / "mine.json"
    downloading.value.save_as(saved)
    assert [c["text"] for c in json.loads(saved.read_text())["comments"]] == ["Something I regret"]
    mailbox.get_by_label("Erase them all. This cannot be undone.").check()
    mailbox.get_by_role("button", name="Erase my comments").click()
    expect(mailbox.locator("h1")).to_have_text("Erased")
    assert rows(
        widget, "SELECT count(*) FROM comments WHERE author_email = ?", "dee@example.com"
    ) == [(0,)]
    page.reload()  # nobody answered it: not even its place is left
    expect(page.frame_locator(FRAME).locator("#comments-title")).to_contain_text("No Responses")
    expect(page.frame_locator(FRAME).locator(".wg-comment")).to_have_count(0)
