"""New posts by email: the second box on the form, double opt-in, and the feed poller against a
real feed server on 127.0.0.1 (RSS as WordPress writes it, Atom), with mail to a real SMTP
server (aiosmtpd): first poll, conditional GET, new posts, one-click unsubscribe, and feeds
that break."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.admins import make_admin, signed_in
from tests.feeds import FeedServer, Post, atom_feed, feed_server, wordpress_rss
from tests.helpers import (
    EMBED,
    OWN_ORIGIN,
    SECRET,
    ask_for_link,
    number_again,
    open_form,
    post_comment,
    posted,
    settle,
)
from tests.mail import Inbox, body_of, link_in
from widget.auth.tokens import Purpose, TokenSigner, row_mark
from widget.errors import Invalid
from widget.notify.new_posts import MAX_FEED_BYTES, PARSE_CPU_LIMIT_S, FeedPoller
from widget.records import PostSubscription
from widget.sites import change_site_setting

BACK_CATALOGUE = [Post(1, "Hello world"), Post(2, "Second thoughts")]


@pytest.fixture
def client(mail_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return mail_client


@pytest.fixture
def feed() -> Iterator[FeedServer]:
    with feed_server() as server:
        server.publish(wordpress_rss(BACK_CATALOGUE), '"v1"')
        yield server


def poller(app: Starlette) -> FeedPoller:
    found: FeedPoller = app.state.widget.feed_poller
    return found


async def poll(app: Starlette, hours_later: int = 0) -> int:
    """Poll the feeds due `hours_later` (every feed is due again within the hour)."""
    return await poller(app).poll_due(datetime.now(UTC) + timedelta(hours=hours_later))


async def with_feed(app: Starlette, url: str) -> None:
    """The site's feed set, for the test to poll by hand: the server's own poller is stopped
    first, or on a busy machine its first round could take the feed before the test does."""
    await poller(app).stop()
    storage = app.state.widget.storage
    await change_site_setting(storage, "blog", "feed_url", url, app.state.widget.outbound)


async def subscribed(client: httpx.AsyncClient, inbox: Inbox, address: str) -> None:
    """Tick "new posts" on the form, confirm from the email by the page's button."""
    before = len(inbox.to(address))
    await posted(client, email=address, notify_posts=True)
    await inbox.wait_for(len(inbox.messages) + 1)
    (confirmation,) = inbox.to(address)[before:]
    assert confirmation["Subject"] == "Confirm: new posts of The blog by email"
    link = link_in(confirmation, "/notify/posts/confirm")
    page = await client.get(link)
    assert page.status_code == 200
    assert "Get new posts of The blog by email?" in page.text
    token = link.split("token=")[1]
    done = await client.post("/notify/posts/confirm", data={"token": token}, headers=OWN_ORIGIN)
    assert done.status_code == 200
    assert "You will get an email for each new post of The blog." in done.text


# -- the setting and the box -----------------------------------------------------------------


async def test_feed_url_takes_http_and_https_addresses_only(mail_app: Starlette) -> None:
    storage = mail_app.state.widget.storage
    for bad in ("ftp://blog.example/feed/", "blog.example/feed", "javascript:alert(1)"):
        with pytest.raises(Invalid, match="feed_url: expected an http:// or https:// URL"):
            await change_site_setting(storage, "blog", "feed_url", bad)
    site = await change_site_setting(storage, "blog", "feed_url", "https://blog.example/feed/")
    assert site.settings["feed_url"] == "https://blog.example/feed/"


async def test_a_feed_at_a_private_address_is_refused_unless_opened(mail_app: Starlette) -> None:
    with pytest.raises(Invalid, match=r"feed_url: 10\.0\.0\.7 is not a public address"):
        await with_feed(mail_app, "http://10.0.0.7/feed/")


async def test_the_new_posts_box_shows_only_on_sites_with_a_feed(
    client: httpx.AsyncClient, mail_app: Starlette, feed: FeedServer
) -> None:
    page = await client.get("/embed/blog/thread", params=EMBED)
    assert "Notify me of new posts via email." not in page.text
    await with_feed(mail_app, feed.url)
    page = await client.get("/embed/blog/thread", params=EMBED)
    assert 'name="notify_posts"' in page.text
    assert "Notify me of new posts via email." in page.text


async def test_ticking_new_posts_needs_an_email_address(
    client: httpx.AsyncClient, mail_app: Starlette, feed: FeedServer
) -> None:
    await with_feed(mail_app, feed.url)
    answer = await post_comment(client, email="", notify_posts=True)
    assert answer.status_code == 422
    assert "Enter your email address to be told of new posts" in answer.text


async def test_the_box_works_without_javascript_and_is_kept_when_the_form_comes_back(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer
) -> None:
    await with_feed(mail_app, feed.url)
    form = await open_form(client)
    fields = {**form, "body": "No script", "name": "Nojs", "notify_posts": "1"}
    again = await client.post(
        "/embed/blog/thread/comments", data={**fields, "email": ""}, headers=OWN_ORIGIN
    )
    assert again.status_code == 422
    assert 'name="notify_posts" type="checkbox" value="1" checked' in again.text
    done = await client.post(
        "/embed/blog/thread/comments", data={**fields, "email": "nojs@example.com"},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert done.status_code == 303
    await settle(mail_app)
    assert [m["Subject"] for m in inbox.to("nojs@example.com")] == [
        "Confirm: new posts of The blog by email"
    ]


async def test_a_held_comment_asks_for_confirmation_only_once_approved(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer
) -> None:
    storage = mail_app.state.widget.storage
    await with_feed(mail_app, feed.url)
    await change_site_setting(storage, "blog", "moderation", "all")
    data = await posted(client, email="held@example.com", notify_posts=True)
    await settle(mail_app)
    assert inbox.to("held@example.com") == []  # a spammer's form mails nobody
    comment = await storage.get_comment(data["comment"]["id"])
    assert comment is not None and comment.notify_posts
    await storage.set_status([comment.id], "approved", ["blog"])  # as a moderator does
    await settle(mail_app)
    assert [m["Subject"] for m in inbox.to("held@example.com")] == [
        "Confirm: new posts of The blog by email"
    ]


# -- polling and mailing ---------------------------------------------------------------------


async def test_new_posts_reach_confirmed_subscribers_once_with_one_click_unsubscribe(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer
) -> None:
    await with_feed(mail_app, feed.url)
    await subscribed(client, inbox, "reader@example.com")
    await posted(client, email="shy@example.com", name="Shy", notify_posts=True)  # unconfirmed
    await inbox.wait_for(len(inbox.messages) + 1)
    (asked,) = inbox.to("shy@example.com")
    scanned = await client.get(link_in(asked, "/notify/posts/confirm"))  # a mail scanner's GET
    assert scanned.status_code == 200  # the page asks; only its button confirms
    assert await poll(mail_app) == 1
    await settle(mail_app)
    assert len(inbox.to("reader@example.com")) == 1  # the back catalogue was not mailed

    feed.publish(wordpress_rss([*BACK_CATALOGUE, Post(3, "Fresh news", "Read <b>this</b>.")]),
                 '"v2"')  # fmt: skip
    assert await poll(mail_app, hours_later=1) == 1
    await settle(mail_app)
    (news,) = inbox.to("reader@example.com")[1:]
    assert inbox.to("shy@example.com") == [inbox.to("shy@example.com")[0]]  # its confirmation
    assert news["Subject"] == "New on The blog: Fresh news"
    assert news["From"] == "The blog <widget@comments.localhost>"
    text = body_of(news)
    assert "Read this." in text
    assert "Read it: https://blog.example/post-3/" in text
    unsubscribe = link_in(news, "/notify/posts/unsubscribe")
    assert news["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert news["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert news["List-Id"] == "The blog new posts <posts.blog.comments.localhost>"

    assert await poll(mail_app, hours_later=2) == 1  # the same feed again: nothing new
    await settle(mail_app)
    assert len(inbox.to("reader@example.com")) == 2

    page = await client.get(unsubscribe)  # a mail scanner's GET changes nothing
    assert "Stop these emails?" in page.text
    storage = mail_app.state.widget.storage
    assert [s.email for s in await storage.subscribers(PostSubscription, "blog")] == [
        "reader@example.com"
    ]
    one_click = await client.post(
        unsubscribe, content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    assert one_click.status_code == 200
    assert "Unsubscribed" in one_click.text
    feed.publish(wordpress_rss([*BACK_CATALOGUE, Post(3, "Fresh news"), Post(4, "More")]), '"v3"')
    await poll(mail_app, hours_later=3)
    await settle(mail_app)
    assert len(inbox.to("reader@example.com")) == 2


async def test_a_confirmation_link_confirms_only_the_address_it_was_sent_to(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer,
    database_url: str,
) -> None:  # fmt: skip
    """Mallory asks for new posts, keeps her link and erases her data; then she types Ann's
    address in the form, and Ann's row takes the number Mallory's had (as on a database from
    before migration 0014, whose tables give no number twice)."""
    await with_feed(mail_app, feed.url)
    storage = mail_app.state.widget.storage
    mallory, ann = "mallory@example.com", "ann@example.com"
    await posted(client, email=mallory, name="Mallory", notify_posts=True)
    (asked,) = [m for m in await inbox.wait_for(1) if m["To"] == mallory]
    kept_token = link_in(asked, "/notify/posts/confirm").split("token=")[1]
    number = TokenSigner(SECRET).verify(Purpose.POSTS_SUBSCRIBE, kept_token)["p"]
    assert (await ask_for_link(client, mallory)).status_code == 303
    await inbox.wait_for(2)
    data_token = link_in(inbox.to(mallory)[-1], "/data").split("token=")[1]
    erased = await client.post(
        "/data/erase", data={"token": data_token, "confirm": "yes"}, headers=OWN_ORIGIN
    )
    assert erased.status_code == 200
    await number_again(database_url, "post_subscriptions", number)
    await posted(client, email=ann, name="Ann", notify_posts=True)
    await inbox.wait_for(3)
    (ann_asked,) = inbox.to(ann)
    ann_token = link_in(ann_asked, "/notify/posts/confirm").split("token=")[1]
    assert TokenSigner(SECRET).verify(Purpose.POSTS_SUBSCRIBE, ann_token)["p"] == number

    page = await client.get("/notify/posts/confirm", params={"token": kept_token})
    assert ann not in page.text  # was 'Emails go to ann@example.com'
    done = await client.post(
        "/notify/posts/confirm", data={"token": kept_token}, headers=OWN_ORIGIN
    )
    assert done.status_code == 400
    assert await storage.subscribers(PostSubscription, "blog") == []  # Ann never confirmed
    # Ann's own link still works.
    mine = await client.post("/notify/posts/confirm", data={"token": ann_token}, headers=OWN_ORIGIN)
    assert mine.status_code == 200
    assert [s.email for s in await storage.subscribers(PostSubscription, "blog")] == [ann]
    # Nor does a link to stop Mallory's emails (as each new post's to her would carry) stop Ann's.
    mallorys_stop = TokenSigner(SECRET).sign(
        Purpose.POSTS_UNSUBSCRIBE, {"p": number, "r": row_mark(mallory)}
    )
    stopped = await client.post("/notify/posts/unsubscribe", data={"token": mallorys_stop})
    assert stopped.status_code == 200
    assert [s.email for s in await storage.subscribers(PostSubscription, "blog")] == [ann]


async def test_a_second_poll_asks_conditionally_and_a_304_mails_nobody(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer
) -> None:
    await with_feed(mail_app, feed.url)
    await subscribed(client, inbox, "reader@example.com")
    await poll(mail_app)
    first = feed.requests[-1]
    assert "if-none-match" not in first
    assert "identity" in first["accept-encoding"]
    await poll(mail_app, hours_later=1)
    again = feed.requests[-1]
    assert again["if-none-match"] == '"v1"'
    assert again["if-modified-since"] == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert feed.answers == [200, 304]
    await settle(mail_app)
    assert len(inbox.to("reader@example.com")) == 1  # the confirmation only


async def test_a_feed_not_due_or_taken_is_not_polled(mail_app: Starlette, feed: FeedServer) -> None:
    await with_feed(mail_app, feed.url)
    assert await poll(mail_app) == 1
    assert await poll(mail_app) == 0  # due again only after feed_poll_s (900 s, give or take)
    assert len(feed.requests) == 1


async def test_atom_feeds_work_the_same(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer
) -> None:
    feed.content_type = "application/atom+xml"
    feed.publish(atom_feed(BACK_CATALOGUE), '"a1"')
    await with_feed(mail_app, feed.url)
    await subscribed(client, inbox, "reader@example.com")
    await poll(mail_app)
    feed.publish(atom_feed([*BACK_CATALOGUE, Post(3, "Atom &amp; eve", "<p>Hi <i>you</i></p>")]),
                 '"a2"')  # fmt: skip
    await poll(mail_app, hours_later=1)
    await settle(mail_app)
    (news,) = inbox.to("reader@example.com")[1:]
    assert news["Subject"] == "New on The blog: Atom & eve"
    assert "Hi you" in body_of(news)


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/phish",
        # Python reads the host after the '@' (the site's); browsers and mail apps end the
        # host at the backslash, and open evil.example.
        "https://evil.example\\@blog.example/phish",
    ],
)
async def test_what_a_feed_says_reaches_mail_as_text_and_links_only_to_the_site(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer, link: str
) -> None:
    await with_feed(mail_app, feed.url)
    await subscribed(client, inbox, "reader@example.com")
    await poll(mail_app)
    sneaky = Post(
        3,
        "<script>alert(1)</script>Title",
        '<img src=x onerror="alert(2)">Look <a href="https://evil.example/">here</a>',
        link=link,
    )
    feed.publish(wordpress_rss([*BACK_CATALOGUE, sneaky]), '"v2"')
    await poll(mail_app, hours_later=1)
    await settle(mail_app)
    (news,) = inbox.to("reader@example.com")[1:]
    html = body_of(news, "html")
    text = body_of(news)
    assert "<script" not in html and "<img" not in html and "onerror" not in html
    assert "evil.example" not in html and "evil.example" not in text
    assert "Look here" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;Title" in html  # RSS titles are text


async def test_a_new_feed_address_starts_over_without_mailing_its_back_catalogue(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer
) -> None:
    await with_feed(mail_app, feed.url)
    await subscribed(client, inbox, "reader@example.com")
    await poll(mail_app)
    with feed_server() as other:
        other.publish(atom_feed([Post(10, "Elsewhere"), Post(11, "Elsewhere too")]), '"o1"')
        await with_feed(mail_app, other.url)
        await poll(mail_app, hours_later=1)
        assert "if-none-match" not in other.requests[-1]  # another feed's validators
    await settle(mail_app)
    assert len(inbox.to("reader@example.com")) == 1


# -- feeds that break ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"status": 404}, "the feed answered 404"),
        ({"status": 500}, "the feed answered 500"),
        ({"body": b"<html><body>Not a feed</body></html>", "content_type": "text/html"},
         "the answer is not an RSS or Atom feed"),
        ({"body": b"\x00\xff garbage \x89PNG"}, "the answer is not an RSS or Atom feed"),
        ({"body": b"<rss>" + b" " * MAX_FEED_BYTES + b"</rss>"},
         f"bytes; we read at most {MAX_FEED_BYTES}"),
        ({"location": "http://169.254.169.254/latest/meta-data/"},
         "169.254.169.254 is not a public address"),
    ],
    ids=["404", "500", "html", "garbage", "too large", "redirect to a private address"],
)  # fmt: skip
async def test_a_feed_that_breaks_is_logged_and_tried_again_later(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer,
    caplog: pytest.LogCaptureFixture, change: dict[str, Any], reason: str,
) -> None:  # fmt: skip
    await with_feed(mail_app, feed.url)
    await subscribed(client, inbox, "reader@example.com")
    await poll(mail_app)
    good = (feed.body, feed.content_type)
    for name, value in change.items():
        setattr(feed, name, value)
    feed.etag = '"v2"'
    with caplog.at_level(logging.WARNING, "widget.notify.new_posts"):
        assert await poll(mail_app, hours_later=1) == 1  # polled, and carried on
    assert reason in caplog.text
    storage = mail_app.state.widget.storage
    assert reason in await storage.get_feed_poll_error("blog")
    await make_admin(mail_app, "boss@example.com")
    admin = await signed_in(client, "boss@example.com")
    site_page = await admin.get("/admin/sites/blog")
    assert "The feed could not be read at the last try" in site_page.text

    feed.status, feed.location = 200, ""
    feed.body, feed.content_type = good
    feed.publish(wordpress_rss([*BACK_CATALOGUE, Post(3, "Back again")]), '"v3"')
    await poll(mail_app, hours_later=2)
    await settle(mail_app)
    assert [m["Subject"] for m in inbox.to("reader@example.com")[1:]] == [
        "New on The blog: Back again"
    ]
    assert await storage.get_feed_poll_error("blog") == ""


async def test_a_feed_that_stalls_is_given_up_within_the_time_allowed(
    client: httpx.AsyncClient, mail_app: Starlette, feed: FeedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    await with_feed(mail_app, feed.url)
    poller(mail_app).fetch_timeout_s = 0.5  # rather than 20 s
    feed.stalled = True
    try:
        with caplog.at_level(logging.WARNING, "widget.notify.new_posts"):
            assert await poll(mail_app) == 1
    finally:
        feed.release.set()
    assert "gave no whole answer within 0.5 s" in caplog.text
    assert "within 0.5 s" in await mail_app.state.widget.storage.get_feed_poll_error("blog")


async def test_a_feed_too_costly_to_read_is_refused_and_the_next_one_read(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Feeds are read in a worker process within a CPU budget (20 ms here, 5 s as shipped): a
    feed of thousands of entries, read in a thread, held the event loop for seconds."""
    await with_feed(mail_app, feed.url)
    await subscribed(client, inbox, "reader@example.com")
    await poll(mail_app)
    poller(mail_app).close()  # its worker was made with the shipped budget
    poller(mail_app).parse_cpu_limit_s = 0.02
    many = [Post(n, f"Post {n}", excerpt="", content="") for n in range(1, 3001)]
    feed.publish(wordpress_rss(many), '"v2"')
    with caplog.at_level(logging.WARNING, "widget.notify.new_posts"):
        assert await poll(mail_app, hours_later=1) == 1
    assert "reading it takes more than 0.02 s of CPU time" in caplog.text
    storage = mail_app.state.widget.storage
    assert "more than 0.02 s of CPU" in await storage.get_feed_poll_error("blog")

    feed.publish(wordpress_rss([*BACK_CATALOGUE, Post(3, "Short again")]), '"v3"')
    poller(mail_app).close()
    poller(
        mail_app
    ).parse_cpu_limit_s = PARSE_CPU_LIMIT_S  # a worker's first job imports feedparser
    await poll(mail_app, hours_later=2)
    await settle(mail_app)
    assert [m["Subject"] for m in inbox.to("reader@example.com")[1:]] == [
        "New on The blog: Short again"
    ]
    assert await storage.get_feed_poll_error("blog") == ""


async def test_a_redirect_is_followed_and_checked(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer
) -> None:
    with feed_server() as moved:
        moved.location = feed.url
        await with_feed(mail_app, moved.url)
        await subscribed(client, inbox, "reader@example.com")
        await poll(mail_app)
        feed.publish(wordpress_rss([*BACK_CATALOGUE, Post(3, "Moved")]), '"v2"')
        await poll(mail_app, hours_later=1)
    await settle(mail_app)
    assert [m["Subject"] for m in inbox.to("reader@example.com")[1:]] == ["New on The blog: Moved"]


async def test_a_feed_that_redirects_in_a_loop_is_given_up_after_three_hops(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    await with_feed(mail_app, feed.url)
    await subscribed(client, inbox, "reader@example.com")
    await poll(mail_app)
    asked = len(feed.requests)
    feed.location = feed.url  # the feed now sends its readers to itself
    with caplog.at_level(logging.WARNING, "widget.notify.new_posts"):
        assert await poll(mail_app, hours_later=1) == 1
    assert "more than 3 redirects" in caplog.text
    assert len(feed.requests) - asked == 4  # the address asked for, and three hops


async def test_many_new_entries_at_once_mail_only_the_newest_few(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer
) -> None:
    await with_feed(mail_app, feed.url)
    await subscribed(client, inbox, "reader@example.com")
    await poll(mail_app)
    many = [Post(n, f"Post {n}") for n in range(3, 23)]  # say, the feed changed its guids
    feed.publish(wordpress_rss([*BACK_CATALOGUE, *many]), '"v2"')
    await poll(mail_app, hours_later=1)
    await settle(mail_app)
    subjects = [m["Subject"] for m in inbox.to("reader@example.com")[1:]]
    assert subjects == [f"New on The blog: Post {n}" for n in range(18, 23)]  # oldest first


async def test_validators_that_cannot_be_sent_back_are_not(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, feed: FeedServer
) -> None:
    await with_feed(mail_app, feed.url)
    await subscribed(client, inbox, "reader@example.com")
    feed.etag = '"caf\xe9"'  # sent as Latin-1 by the feed server
    feed.last_modified = "x" * 300
    await poll(mail_app)
    feed.publish(wordpress_rss([*BACK_CATALOGUE, Post(3, "Still read")]), '"v2"')
    await poll(mail_app, hours_later=1)
    assert "if-none-match" not in feed.requests[-1]
    assert "if-modified-since" not in feed.requests[-1]
    await settle(mail_app)
    assert [m["Subject"] for m in inbox.to("reader@example.com")[1:]] == [
        "New on The blog: Still read"
    ]
