"""New posts by email, as a reader does it in Chromium: tick the second box on the form and post,
open the confirmation link from the mailbox and press its button, then get an email when the
blog publishes. A real `widget serve` polls a real feed server and mails through aiosmtpd."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import assert_accessible, blog_post
from tests.browser.pages import wait_for_mail
from tests.feeds import FeedServer, Post, feed_server, wordpress_rss
from tests.mail import Inbox, body_of
from tests.servers import HostPages, WidgetServer, widget_cli, widget_server

FRAME = "#comments iframe"
READER = "reader@example.com"


@pytest.fixture(scope="module")
def feed() -> Iterator[FeedServer]:
    with feed_server() as server:
        server.publish(wordpress_rss([Post(1, "Hello world"), Post(2, "Second")]), '"v1"')
        yield server


@pytest.fixture(scope="module")
def widget(
    blog: HostPages, inbox: Inbox, feed: FeedServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WidgetServer]:
    data_dir = tmp_path_factory.mktemp("new-posts") / "data"
    widget_cli(
        data_dir, "site", "add", "blog", "--origin", blog.origin, "--name", "The blog",
        "--set", "min_seconds_to_post=0", "--set", f"feed_url={feed.url}",
    )  # fmt: skip
    mail = {"smtp_host": "127.0.0.1", "smtp_port": str(inbox.port),  # type: ignore[attr-defined]
            "smtp_security": "none", "outbox_retry_s": "1", "feed_poll_s": "1"}  # fmt: skip
    with widget_server(data_dir, open_files=None, **mail) as server:
        yield server


def polled_twice(feed: FeedServer, timeout_s: float = 15) -> None:
    """The server has read the feed and asked again with its ETag: the back catalogue is
    recorded (and mailed to nobody)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(request.get("if-none-match") == feed.etag for request in feed.requests):
            return
        time.sleep(0.1)
    raise AssertionError(f"the feed was not polled twice: {feed.answers}")


def test_a_reader_subscribes_in_the_form_confirms_by_the_button_and_gets_the_new_post(
    browser: Browser, page: Page, blog: HostPages, widget: WidgetServer, inbox: Inbox,
    feed: FeedServer,
) -> None:  # fmt: skip
    polled_twice(feed)
    page.goto(blog_post(blog, widget, "/hello/", "Hello world"))
    frame = page.frame_locator(FRAME)
    frame.locator("#wg-body").fill("Lovely blog, tell me when there is more")
    frame.locator("#wg-name").fill("Rea")
    frame.locator("#wg-email").fill(READER)
    frame.get_by_label("Notify me of new posts via email.").check()
    frame.locator("#wg-submit").click()
    expect(frame.locator(".wg-comment")).to_have_count(1)

    confirmation = wait_for_mail(inbox, READER, "Confirm: new posts of The blog")
    (link,) = re.findall(
        rf"{re.escape(widget.public_url)}/notify/posts/confirm\?token=[\w.\-]+",
        body_of(confirmation),
    )
    mailbox = browser.new_context(bypass_csp=True).new_page()  # a link clicked in a mail client
    mailbox.goto(link)
    expect(mailbox.locator("h1")).to_have_text("Get new posts of The blog by email?")
    assert_accessible(mailbox)
    mailbox.get_by_role("button", name="Confirm").click()
    expect(mailbox.locator("h1")).to_have_text("Confirmed")

    fresh = Post(3, "Fresh from the oven", "Bread, at last.", link=f"{blog.origin}/fresh/")
    feed.publish(wordpress_rss([Post(1, "Hello world"), Post(2, "Second"), fresh]), '"v2"')
    news = wait_for_mail(inbox, READER, "New on The blog: Fresh from the oven")
    text = body_of(news)
    assert "Bread, at last." in text
    assert f"Read it: {blog.origin}/fresh/" in text
    # Only the new post: the back catalogue went to nobody.
    assert [m["Subject"] for m in inbox.to(READER)] == [
        confirmation["Subject"],
        "New on The blog: Fresh from the oven",
    ]

    (unsubscribe,) = re.findall(
        rf"{re.escape(widget.public_url)}/notify/posts/unsubscribe\?token=[\w.\-]+", text
    )
    mailbox.goto(unsubscribe)
    expect(mailbox.locator("h1")).to_have_text("Stop these emails?")
    mailbox.get_by_role("button", name="Unsubscribe").click()
    expect(mailbox.locator("h1")).to_have_text("Unsubscribed")
