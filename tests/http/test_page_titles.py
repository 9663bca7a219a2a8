"""A thread's title is read from its page (widget/page_titles.py), not taken from whoever wrote
first: posted through the API with a made-up title, served by a real host page on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.server
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import feedparser
import httpx
import pytest
from starlette.applications import Starlette

from tests.helpers import OWN_ORIGIN, PAGE, posted
from tests.mail import Inbox, link_in
from tests.servers import free_port, serve_in_thread
from widget.notify.outbox import Outbox
from widget.page_titles import MAX_PAGE_BYTES, title_in_html
from widget.records import ThreadHead
from widget.sites import add_origin, change_site_setting

SPOOF = "Send your password to evil@example.com"
REAL = "Hello world & more"


class HostPage:
    """The blog's page at /hello/, as the test sets it, and what it was asked."""

    def __init__(self, port: int) -> None:
        self.origin = f"http://127.0.0.1:{port}"
        self.status = 200
        self.content_type = "text/html; charset=utf-8"
        self.body = page(REAL.replace("&", "&amp;"))
        self.location = ""  # set: the page redirects there (301)
        self.stalled = False  # True: it sends the start of its answer, then nothing more
        self.release = threading.Event()  # ... until this is set
        self.requests = 0
        self.paths: list[str] = []  # asked for
        self.sent_bytes = 0  # of the body, before the reader hung up

    def answer(self, handler: http.server.BaseHTTPRequestHandler) -> None:
        self.requests += 1
        self.paths.append(handler.path)
        if handler.path.startswith("/search"):  # a page whose title the reader chooses
            found = page(f"Results for {handler.path.partition('s=')[2]}")
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.send_header("Content-Length", str(len(found)))
            handler.end_headers()
            handler.wfile.write(found)
            return
        if handler.path == "/old/":  # a moved page
            handler.send_response(301)
            handler.send_header("Location", "/hello/")
            handler.end_headers()
            return
        handler.send_response(self.status)
        if self.location:
            handler.send_header("Location", self.location)
        handler.send_header("Content-Type", self.content_type)
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        if self.stalled:
            handler.wfile.write(self.body[:10])
            handler.wfile.flush()
            self.release.wait(30)
            return
        with contextlib.suppress(OSError):  # the reader hangs up once it has read enough
            for start in range(0, len(self.body), 64 * 1024):
                handler.wfile.write(self.body[start : start + 64 * 1024])
                self.sent_bytes += min(64 * 1024, len(self.body) - start)


def page(title: str, head: str = "", body: str = "<p>The post.</p>") -> bytes:
    return (
        f"<!doctype html><html><head><meta charset=utf-8>{head}<title>{title}</title></head>"
        f"<body>{body}</body></html>"
    ).encode()


@pytest.fixture
def host() -> Iterator[HostPage]:
    served = HostPage(free_port())

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.answer(self)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    port = int(served.origin.rsplit(":", 1)[1])
    stop = serve_in_thread(http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler))
    try:
        yield served
    finally:
        served.release.set()
        stop()


@pytest.fixture
async def outbox(mail_app: Starlette, host: HostPage) -> Outbox:
    """The blog, embedded on the host page too, and its outbox stopped: the test runs its
    jobs (work_once), so it sees the thread before and after."""
    await add_origin(mail_app.state.widget.storage, "blog", host.origin)
    box: Outbox = mail_app.state.widget.outbox
    await box.stop()
    return box


def on(host: HostPage, title: str = SPOOF) -> dict[str, str]:
    """A comment's page fields: the host's /hello/, with `title` as the embed would send it."""
    return {"page": PAGE["page"], "url": f"{host.origin}/hello/", "title": title}


async def head_of(app: Starlette) -> ThreadHead:
    head: ThreadHead | None = await app.state.widget.storage.get_thread_head("blog", PAGE["page"])
    assert head is not None
    return head


async def test_a_first_comment_names_its_thread_after_the_page_in_mail_and_feeds(
    mail_client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox, host: HostPage
) -> None:
    storage = mail_app.state.widget.storage
    await add_origin(storage, "blog", host.origin)
    await change_site_setting(storage, "blog", "notify_emails", "mod@example.com")
    first = await posted(mail_client, **on(host), email="ann@example.com", notify=True)
    # The emails about the first comment wait for the page's title: none says the spoof.
    mails = await inbox.wait_for(2)
    assert sorted(mail["Subject"] for mail in mails) == [
        f"Confirm: follow the comments on “{REAL}”",
        f"[blog] New comment on “{REAL}”",
    ]
    assert (await head_of(mail_app)).title == REAL
    assert host.requests == 1
    token = link_in(inbox.to("ann@example.com")[0], "/notify/confirm").split("token=")[1]
    confirmed = await mail_client.post(
        "/notify/confirm", data={"token": token, "scope": "thread"}, headers=OWN_ORIGIN
    )
    assert confirmed.status_code == 200
    # A follow-up claiming the spoof again: it does not replace the page's title (and the
    # page, looked at a moment ago, is not fetched again).
    await posted(mail_client, **on(host), name="Bob", email="bob@example.com",
                 parent=first["comment"]["id"])  # fmt: skip
    for _ in range(250):
        if len(inbox.to("ann@example.com")) == 2:
            break
        await mail_app.state.widget.outbox.work_once()
    follow_up = inbox.to("ann@example.com")[1]
    assert follow_up["Subject"] == f"New reply to your comment on “{REAL}”"
    assert host.requests == 1
    feed = feedparser.parse(
        (await mail_client.get("/feeds/blog/thread.atom", params={"page": PAGE["page"]})).content
    )
    assert feed.feed.title == f"Comments on “{REAL}”"
    assert [entry.title for entry in feed.entries] == [f"Bob on “{REAL}”", f"Ann on “{REAL}”"]
    site_feed = feedparser.parse((await mail_client.get("/feeds/blog/comments.atom")).content)
    assert SPOOF not in str(site_feed)


async def test_the_frame_without_a_host_page_and_its_etag_follow_the_new_title(
    mail_client: httpx.AsyncClient, mail_app: Starlette, host: HostPage, outbox: Outbox
) -> None:
    await posted(mail_client, **on(host))
    fragment = {"page": PAGE["page"]}  # no title: as page 2 and the no-JS reply view ask
    before = await mail_client.get("/embed/blog/thread/fragment", params=fragment)
    assert SPOOF in before.text  # the job has not run: the sent title stands in
    assert await outbox.work_once() == 1
    after = await mail_client.get("/embed/blog/thread/fragment", params=fragment)
    assert REAL.replace("&", "&amp;") in after.text and SPOOF not in after.text
    assert after.headers["etag"] != before.headers["etag"]
    again = await mail_client.get(
        "/embed/blog/thread/fragment", params=fragment,
        headers={"If-None-Match": before.headers["etag"]},
    )  # fmt: skip
    assert again.status_code == 200
    listed = await mail_client.get("/api/v1/threads", params={"site": "blog", "page": "/hello/"})
    assert SPOOF not in listed.text


async def test_a_like_that_makes_the_thread_has_the_page_read_too(
    mail_client: httpx.AsyncClient, mail_app: Starlette, host: HostPage, outbox: Outbox
) -> None:
    liked = await mail_client.post(
        "/api/v1/likes", json={"site": "blog", **on(host), "comment": None, "liked": True},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert liked.status_code == 200, liked.text
    assert (await head_of(mail_app)).title == SPOOF
    await outbox.work_once()
    assert (await head_of(mail_app)).title == REAL


async def test_a_renamed_page_renames_its_thread_when_a_comment_says_so(
    mail_client: httpx.AsyncClient, mail_app: Starlette, host: HostPage, outbox: Outbox
) -> None:
    await posted(mail_client, **on(host, REAL))
    version = (await head_of(mail_app)).version
    await outbox.work_once()
    assert (await head_of(mail_app)).version == version  # the page says the same: no change
    await posted(mail_client, **on(host, REAL))  # the same title: no look
    await outbox.work_once()
    assert host.requests == 1
    host.body = page("Hello again")
    await posted(mail_client, **on(host, "Hello again"))
    await outbox.work_once()  # within RELOOK_S of the last look: none
    assert ((await head_of(mail_app)).title, host.requests) == (REAL, 1)
    assert outbox.titles is not None
    outbox.titles.relook_s = 0.0  # as if RELOOK_S had passed
    await posted(mail_client, **on(host, "Hello again"))
    assert (await head_of(mail_app)).title == REAL  # a comment's title never replaces it
    await outbox.work_once()
    head = await head_of(mail_app)
    assert (head.title, host.requests) == ("Hello again", 2)
    assert head.version == version + 4  # three comments, and the title


async def test_a_url_naming_another_page_of_the_site_is_not_what_is_read(
    mail_client: httpx.AsyncClient, mail_app: Starlette, host: HostPage, outbox: Outbox
) -> None:
    """The URL a writer sends is only checked to be on the site: the thread's page is read at
    its page id, not at a search page whose title says what the writer wants."""
    await posted(mail_client, **{**on(host), "url": f"{host.origin}/search?s=Send-a-password"})
    await outbox.work_once()
    assert (await head_of(mail_app)).title == REAL
    assert host.paths == ["/hello/"]


async def test_a_redirect_within_the_site_is_followed(
    mail_client: httpx.AsyncClient, mail_app: Starlette, host: HostPage, outbox: Outbox
) -> None:
    await posted(mail_client, page="/old/", url=f"{host.origin}/old/", title=SPOOF)
    await outbox.work_once()
    head = await mail_app.state.widget.storage.get_thread_head("blog", "/old/")
    assert head.title == REAL
    assert host.paths == ["/old/", "/hello/"]


@pytest.mark.parametrize(
    ("case", "logged"),
    [
        ("404", "the page answered 404"),
        ("no title", f"no <title> in the first {MAX_PAGE_BYTES} bytes"),
        ("not html", "the page is not HTML (text/plain; charset=utf-8)"),
        ("20 MB", f"no <title> in the first {MAX_PAGE_BYTES} bytes"),
        ("stalls", "gave no whole answer within 0.5 s"),
        ("leaves the site", "the page leads to https://evil.example, not one of the site's"),
    ],
)
async def test_a_page_that_cannot_be_read_keeps_the_title_sent(
    mail_client: httpx.AsyncClient, mail_app: Starlette, host: HostPage, outbox: Outbox,
    caplog: pytest.LogCaptureFixture, case: str, logged: str,
) -> None:  # fmt: skip
    assert outbox.titles is not None
    outbox.titles.timeout_s = 0.5  # rather than 5 s
    if case == "404":
        host.status = 404
    elif case == "no title":
        host.body = b"<!doctype html><html><head></head><body><svg><title>A chart</title></svg>"
    elif case == "not html":
        host.content_type = "text/plain; charset=utf-8"
    elif case == "20 MB":  # its title comes too late to be read
        host.body = b"<html><head><!--" + b"x" * (20 * 1024 * 1024) + b"--><title>Late</title>"
    elif case == "stalls":
        host.stalled = True
    else:
        host.status, host.location = 301, "https://evil.example/hello/"
    await posted(mail_client, **on(host))
    started = time.monotonic()
    with caplog.at_level(logging.INFO, "widget.page_titles"):
        assert await outbox.work_once() == 1
    took_s = time.monotonic() - started
    host.release.set()
    assert (await head_of(mail_app)).title == SPOOF
    (line,) = [r.getMessage() for r in caplog.records if r.name == "widget.page_titles"]
    assert "kept as sent" in line and logged in line, line
    assert host.requests == 1
    assert took_s < 3.0  # bounded: never the whole 20 MB, never the stall's 30 s
    if case == "20 MB":
        assert host.sent_bytes < 10 * 1024 * 1024, host.sent_bytes


async def test_entities_whitespace_and_charsets_are_read_as_a_browser_would(
    mail_client: httpx.AsyncClient, mail_app: Starlette, host: HostPage, outbox: Outbox
) -> None:
    host.body = page(
        "\n   Caf&eacute; &amp;\tCr&#232;me &#x2014;\n  the&nbsp;blog  ",
        head='<meta property="og:title" content="Not this">',
        body="<svg><title>Nor this</title></svg>",
    )
    await posted(mail_client, **on(host))
    await outbox.work_once()
    assert (await head_of(mail_app)).title == "Café & Crème — the blog"
    latin = "<html><head><title>Caf\xe9 cr\xe8me</title></head></html>".encode("latin-1")
    assert title_in_html(latin, "text/html; charset=ISO-8859-1") == "Café crème"
    declared = (
        b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
    )
    assert title_in_html(declared + b"<title>\x93Quoted\x94</title>", "text/html") == "“Quoted”"
    assert title_in_html(b"<title>" + b"long " * 100 + b"</title>", "text/html") == (
        ("long " * 60).strip()
    )  # at most MAX_TITLE_CHARS (300)
    # As in a browser: tags in a title are its text; control characters are not.
    assert title_in_html(b"<title>a<b>b</b>\x00\x1bc</title>", "text/html") == "a<b>b</b> c"
    assert title_in_html(b"<head><!-- <title>Old</title> --><TITLE lang=en>New</Title >", "") == (
        "New"
    )


async def test_a_site_can_switch_the_reading_off(
    mail_client: httpx.AsyncClient, mail_app: Starlette, host: HostPage, outbox: Outbox
) -> None:
    await change_site_setting(mail_app.state.widget.storage, "blog", "fetch_titles", "off")
    await posted(mail_client, **on(host))
    await posted(mail_client, **on(host, "Renamed"))  # as before: the newest title is kept
    while await outbox.work_once():
        pass
    assert (await head_of(mail_app)).title == "Renamed"
    assert host.requests == 0


async def test_a_long_page_is_read_only_up_to_its_title(
    mail_client: httpx.AsyncClient, mail_app: Starlette, host: HostPage, outbox: Outbox
) -> None:
    """A blog post of 20 MB (inline images, say) has its title near the top: the first
    MAX_PAGE_BYTES are read, the rest is left unread."""
    host.body = page(REAL.replace("&", "&amp;"), body="<p>" + "words " * (3_500_000))
    assert len(host.body) > 20 * 1024 * 1024
    await posted(mail_client, **on(host))
    await outbox.work_once()
    assert (await head_of(mail_app)).title == REAL
    assert host.sent_bytes < 10 * 1024 * 1024, host.sent_bytes
