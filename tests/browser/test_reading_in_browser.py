"""The comment section as readers meet it (issue 11): with the keyboard only, with a screen
reader's view of names, states and announcements, on light and dark blogs, on a phone, and
without JavaScript. axe-core (tests/node_modules) checks each state; screenshots for a person
to look at go to tests/artifacts."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import feedparser
import pytest
from playwright.sync_api import Browser, BrowserContext, FloatRect, Frame, Page, expect

from tests.browser.conftest import ARTIFACTS, api_post, assert_accessible, blog_post, frame_of
from tests.servers import HostPages, WidgetServer, widget_cli, widget_server
from widget.views.i18n import Translator

FRAME = "#comments iframe"
LIGHT_HOST = "<style>body { background: #ffffff; color: #222 }</style>"
DARK_HOST = "<style>body { background: #1b1b1f; color: #e6e6e6 }</style>"


@pytest.fixture
def context(audited_context: BrowserContext) -> BrowserContext:
    return audited_context  # axe-core goes into its pages


def pixel(page: Page, x: float, y: float) -> tuple[int, int, int]:
    """The colour on screen at (x, y) of the page, read from a 1×1 PNG screenshot (for a single
    pixel every PNG filter leaves the bytes as they are)."""
    png = page.screenshot(clip={"x": x, "y": y, "width": 1, "height": 1})
    position, data = 8, b""
    color_type = 0
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        chunk = png[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            color_type = chunk[9]
        elif kind == b"IDAT":
            data += chunk
        position += 12 + length
    assert color_type in (2, 6), color_type  # RGB or RGBA, 8 bits
    raw = zlib.decompress(data)
    return raw[1], raw[2], raw[3]


def host_pixel_under_frame(page: Page) -> tuple[int, int, int]:
    """A pixel inside the frame where the frame draws nothing (its left padding)."""
    box = page.locator(FRAME).bounding_box()
    assert box is not None
    return pixel(page, box["x"] + 3, box["y"] + box["height"] / 2)


def in_viewport(page: Page, box: FloatRect | None) -> bool:
    viewport = page.viewport_size
    assert box is not None and viewport is not None
    return box["y"] >= 0 and box["y"] + min(box["height"], 100) <= viewport["height"]


def tab_until(page: Page, frame: Frame, selector: str, limit: int = 60) -> None:
    """Press Tab, as a keyboard user does, until focus is on `selector` inside the frame."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if frame.evaluate("s => !!document.activeElement?.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


def active_element(frame: Frame) -> dict[str, Any]:
    found: dict[str, Any] = frame.evaluate(
        """() => { const a = document.activeElement;
            return { id: a.id, comment: a.closest('.wg-comment')?.id ?? null }; }"""
    )
    return found


def test_a_keyboard_user_replies_and_lands_on_the_reply(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    url = blog_post(blog, widget, "/keyboard/", "Keyboard", extra=LIGHT_HOST)
    first = api_post(widget, blog, "/keyboard/", body="The first word", name="Bea")
    for n in range(8):  # the form moves back below these after the reply
        api_post(widget, blog, "/keyboard/", body=f"Comment {n}\n\nwith\n\nsome\n\nlength")
    page = context.new_page()
    page.goto(url)
    frame = frame_of(page)
    first_id = first["comment"]["id"]
    expect(page.frame_locator(FRAME).locator(f"#comment-{first_id}")).to_be_visible()

    tab_until(page, frame, f"#comment-{first_id} a.wg-reply")
    page.keyboard.press("Enter")
    assert active_element(frame)["id"] == "wg-body"
    page.keyboard.type("Typed with the keyboard alone")
    page.keyboard.press("Tab")
    assert active_element(frame)["id"] == "wg-name"
    page.keyboard.type("Kim")
    page.keyboard.press("Tab")
    page.keyboard.type("kim@example.com")
    tab_until(page, frame, "#wg-submit")
    page.keyboard.press("Enter")

    at = page.frame_locator(FRAME)
    reply = at.locator(f"#comment-{first_id} .wg-children .wg-comment")
    expect(reply.locator(".wg-text")).to_have_text("Typed with the keyboard alone")
    reply_id = reply.get_attribute("id")
    # Focus is on the new reply, it is on screen, marked, and it was announced.
    assert active_element(frame)["comment"] == reply_id
    expect(reply).to_have_class(re.compile(r"\bwg-new\b"))
    expect(at.locator("#wg-status")).to_have_text("Your comment is posted.")
    page.wait_for_timeout(200)  # the host page's scroll follows a message from the frame
    assert in_viewport(page, reply.bounding_box()), reply.bounding_box()
    # The form went home, below the thread, and says so.
    expect(at.locator("#reply-title-text")).to_have_text("Leave a Reply")


def test_errors_take_focus_and_are_tied_to_their_fields(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    page = context.new_page()
    page.goto(blog_post(blog, widget, "/invalid/", "Invalid", extra=LIGHT_HOST))
    at = page.frame_locator(FRAME)
    at.locator("#wg-body").fill("Worth keeping")
    at.locator("#wg-email").fill("not an address")
    at.locator("#wg-submit").click()
    name = at.locator("#wg-name")
    expect(name).to_be_focused()  # the first field to fix
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(name).to_have_accessible_description("Enter your name.")
    expect(at.locator("#wg-email")).to_have_attribute("aria-invalid", "true")
    expect(at.locator("#wg-body")).not_to_have_attribute("aria-invalid", "true")
    assert_accessible(frame_of(page), "#ffffff")

    name.fill("Lee")
    at.locator("#wg-email").fill("lee@example.com")
    at.locator("#wg-submit").click()
    expect(at.locator(".wg-comment")).to_have_count(1)
    expect(name).not_to_have_attribute("aria-invalid", "true")


def test_reply_links_and_likes_have_names_a_screen_reader_can_use(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    url = blog_post(blog, widget, "/names/", "Names", extra=LIGHT_HOST)
    api_post(widget, blog, "/names/", body="Name me", name="Ola")
    page = context.new_page()
    page.goto(url)
    at = page.frame_locator(FRAME)
    expect(at.get_by_role("link", name="Reply to Ola")).to_be_visible()
    # The date as WordPress writes it, in the reader's time zone; how long ago as its title.
    when = at.locator(".wg-comment time")
    expect(when).to_have_text(re.compile(r"^[A-Z][a-z]+ \d{1,2}, \d{4} at \d{1,2}:\d{2}\s?[AP]M$"))
    expect(when).to_have_attribute("title", re.compile(r"now|seconds? ago|minutes? ago"))
    like = at.locator(".wg-comment button.wg-like")
    expect(like).to_have_accessible_name("Like")
    expect(like).to_have_attribute("aria-pressed", "false")
    like.click()
    expect(like).to_have_attribute("aria-pressed", "true")
    expect(like).to_have_accessible_name("Like, 1 like")
    expect(like).to_have_text(re.compile("Like$"))  # a toggle keeps its words
    like.click()
    expect(like).to_have_attribute("aria-pressed", "false")
    expect(like).to_have_accessible_name("Like")


def test_the_frame_follows_a_dark_blog_not_the_readers_system(
    browser: Browser, blog: HostPages, widget: WidgetServer
) -> None:
    api_post(widget, blog, "/dark-blog/", body="Readable *here*", name="Dee")
    api_post(widget, blog, "/light-blog/", body="Readable there", name="Lou")
    dark_url = blog_post(blog, widget, "/dark-blog/", "Dark blog", extra=DARK_HOST)
    light_url = blog_post(blog, widget, "/light-blog/", "Light blog", extra=LIGHT_HOST)
    for system in ("light", "dark"):
        context = browser.new_context(
            viewport={"width": 1000, "height": 1400}, bypass_csp=True, color_scheme=system
        )
        try:
            page = context.new_page()
            page.goto(dark_url)
            at = page.frame_locator(FRAME)
            expect(at.locator("html")).to_have_class(re.compile(r"\bwg-theme-dark\b"))
            expect(at.locator(".wg-comment")).to_have_count(1)
            # The blog's own background shows through the frame: no box of another dark.
            assert host_pixel_under_frame(page) == (0x1B, 0x1B, 0x1F)
            assert_accessible(frame_of(page), "#1b1b1f")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"thread-dark-host-{system}-system.png"))

            page.goto(light_url)
            expect(at.locator("html")).to_have_class(re.compile(r"\bwg-theme-light\b"))
            expect(at.locator(".wg-comment")).to_have_count(1)
            # A reader whose system is dark sees no black box under a white blog post.
            assert host_pixel_under_frame(page) == (0xFF, 0xFF, 0xFF)
            assert_accessible(frame_of(page), "#ffffff")
            page.screenshot(path=str(ARTIFACTS / f"thread-light-host-{system}-system.png"))
        finally:
            context.close()


def test_a_theme_can_still_be_forced(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    blog.pages["/forced/"] = f"""<!doctype html><html><head><title>Forced</title>{DARK_HOST}
</head><body><div id="comments"></div><script src="{widget.public_url}/embed.js"
data-site="blog" data-page-id="/forced/" data-theme="light" async></script></body></html>"""
    page = context.new_page()
    page.goto(f"{blog.url}/forced/")
    expect(page.frame_locator(FRAME).locator("html")).to_have_class(
        re.compile(r"\bwg-theme-light\b")
    )


def test_on_a_phone_deep_replies_keep_a_text_column_and_targets_are_big_enough(
    browser: Browser, blog: HostPages, widget: WidgetServer
) -> None:
    parent = None
    for depth in range(5):
        posted = api_post(
            widget, blog, "/phone/", body=f"Depth {depth + 1}: " + "words " * 30,
            name=f"P{depth}", parent=parent,
        )  # fmt: skip
        parent = posted["comment"]["id"]
    url = blog_post(blog, widget, "/phone/", "Phone", extra=LIGHT_HOST)
    context = browser.new_context(viewport={"width": 375, "height": 800}, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(url)
        at = page.frame_locator(FRAME)
        deepest = at.locator(f"#comment-{parent} .wg-text")
        expect(deepest).to_be_visible()
        box = deepest.bounding_box()
        assert box is not None and box["width"] >= 250, box  # was 165 px at depth 4
        for target in (".wg-reply", "button.wg-like"):
            for handle in at.locator(target).all():
                size = handle.bounding_box()
                assert size is not None and size["width"] >= 24 and size["height"] >= 24, size
        assert_accessible(frame_of(page), "#ffffff")
        # A tall viewport rather than a full-page shot: Chromium leaves a cross-site frame's
        # part below the viewport blank in those.
        page.set_viewport_size({"width": 375, "height": 2600})
        at.locator("#wg-body").focus()  # the form open, as a reader about to write sees it
        expect(at.locator("#wg-submit")).to_be_visible()
        page.wait_for_timeout(300)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "thread-375px.png"))
    finally:
        context.close()


def test_without_javascript_every_comment_and_the_form_can_be_reached(
    browser: Browser, blog: HostPages, widget: WidgetServer
) -> None:
    for n in range(12):
        api_post(widget, blog, "/long-no-script/", body=f"Comment {n}\n\nand a second paragraph")
    params = urlencode({"page": "/long-no-script/", "title": "Long", "theme": "light"})
    blog.pages["/long-no-script/"] = f"""<!doctype html><html><head><title>Long</title></head>
<body><h1>Long</h1><noscript><iframe src="{widget.public_url}/embed/blog/thread?{params}"
style="width:100%;height:600px;border:0"></iframe></noscript></body></html>"""
    context = browser.new_context(
        viewport={"width": 1000, "height": 900}, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(f"{blog.url}/long-no-script/")
        frame_box = page.locator("iframe").bounding_box()
        assert frame_box is not None
        at = page.frame_locator("iframe")
        submit = at.locator("#wg-submit")

        def inside_frame(box: FloatRect | None) -> bool:
            assert box is not None and frame_box is not None
            return frame_box["y"] <= box["y"] <= frame_box["y"] + frame_box["height"] - 10

        assert not inside_frame(submit.bounding_box())  # below the frame's fold
        # A reader scrolls the frame with the wheel, as the page around it allows.
        page.mouse.move(frame_box["x"] + 200, frame_box["y"] + 300)
        page.mouse.wheel(0, 20_000)
        page.wait_for_timeout(300)
        assert inside_frame(submit.bounding_box())

        at.locator("#wg-body").fill("Landed on it")
        at.locator("#wg-name").fill("Nia")
        at.locator("#wg-email").fill("nia@example.com")
        submit.click()
        mine = at.locator(".wg-comment", has_text="Landed on it")
        expect(mine).to_be_visible()
        page.wait_for_timeout(300)
        assert inside_frame(mine.bounding_box())  # the frame opened on the new comment
    finally:
        context.close()


def test_the_form_opens_from_its_comment_box(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    page = context.new_page()
    page.goto(blog_post(blog, widget, "/one-field/", "One field", extra=LIGHT_HOST))
    at = page.frame_locator(FRAME)
    body = at.get_by_role("textbox", name="Comment")
    expect(body).to_have_attribute("placeholder", "Enter your comment here...")
    expect(at.locator("#wg-name")).to_be_hidden()
    expect(at.locator("#wg-submit")).to_be_hidden()
    assert_accessible(frame_of(page), "#ffffff")
    body.focus()
    expect(at.locator("#wg-name")).to_be_visible()
    expect(at.locator("#wg-submit")).to_be_visible()
    page.keyboard.press("Tab")  # the next field is there for the keyboard too
    expect(at.locator("#wg-name")).to_be_focused()


def test_a_right_to_left_thread_mirrors_and_mixed_scripts_lay_out_right(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    first = api_post(widget, blog, "/rtl/", body="مرحبا بالجميع، هذا تعليق بالعربية.", name="ليلى")
    api_post(widget, blog, "/rtl/", body="An English reply inside it.", name="Sam",
             parent=first["comment"]["id"])  # fmt: skip
    blog.pages["/rtl/"] = f"""<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8">
<title>تدوينة</title>{LIGHT_HOST}</head><body><h1>تدوينة</h1><div id="comments"></div>
<script src="{widget.public_url}/embed.js" data-site="blog" data-page-id="/rtl/" async></script>
</body></html>"""
    page = context.new_page()
    page.goto(f"{blog.url}/rtl/")
    at = page.frame_locator(FRAME)
    expect(at.locator("html")).to_have_attribute("dir", "rtl")
    expect(at.locator("#comments-title")).to_have_text(
        Translator("ar")("responses_to", n=2, title="تدوينة")
    )
    header = at.locator(f"#comment-{first['comment']['id']} > article > header")
    avatar = header.locator(":scope > :first-child").bounding_box()  # the picture
    name = header.locator("cite").bounding_box()
    assert avatar is not None and name is not None and avatar["x"] > name["x"]  # mirrored
    # The English reply reads left to right inside the right-to-left thread.
    english = at.locator(".wg-children .wg-text")
    expect(english).to_have_attribute("dir", "auto")
    assert english.evaluate("e => getComputedStyle(e.querySelector('p')).direction") == "ltr"
    assert_accessible(frame_of(page), "#ffffff")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "thread-rtl.png"))


def test_page_numbers_work_with_the_keyboard(
    context: BrowserContext, blog: HostPages, tmp_path: Path
) -> None:
    data_dir = tmp_path / "paged"
    widget_cli(data_dir, "site", "add", "blog", "--origin", blog.origin,
               "--set", "min_seconds_to_post=0", "--set", "page_size=2")  # fmt: skip
    with widget_server(data_dir, post_rate_per_minute="100") as widget:
        url = blog_post(blog, widget, "/paged/", "Paged")
        for n in range(7):
            api_post(widget, blog, "/paged/", body=f"Comment {n}")
        page = context.new_page()
        page.goto(url)
        frame = frame_of(page)
        nav = frame.locator("nav.wg-paging").first
        expect(nav).to_have_attribute("aria-label", "Comments pagination")
        # Seven comments by twos: four pages, opening on the newest (« Older 1 … 3 4).
        expect(nav.locator('[aria-current="page"]')).to_have_text("4")
        tab_until(page, frame, "nav.wg-paging a.wg-older")
        page.keyboard.press("Tab")
        expect(frame.locator(":focus")).to_have_text("1")
        page.keyboard.press("Tab")
        expect(frame.locator(":focus")).to_have_text("3")
        page.keyboard.press("Enter")
        frame = frame_of(page)
        expect(frame.locator("nav.wg-paging").first.locator('[aria-current="page"]')).to_have_text(
            "3"
        )
        expect(frame.locator(".wg-comment .wg-text")).to_have_text(["Comment 3", "Comment 4"])
        assert_accessible(frame)


def test_the_comments_feed_under_the_thread_is_one_a_feed_reader_reads(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    """Issue 15, item 3: the frame links its thread's Atom feed, in a tab of its own."""
    url = blog_post(blog, widget, "/followed/", "Followed")
    api_post(widget, blog, "/followed/", name="Ann", body="Worth *following*")
    page = context.new_page()
    page.goto(url)
    link = page.frame_locator(FRAME).get_by_role("link", name="Comments feed (Atom)")
    with context.expect_event("response", lambda r: "/feeds/" in r.url) as answered:
        link.click()
    response = answered.value
    assert response.url == f"{widget.public_url}/feeds/blog/thread.atom?page=/followed/"
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    feed = feedparser.parse(response.body())
    assert not feed.bozo, feed.bozo_exception
    [entry] = feed.entries
    assert entry.author == "Ann"
    assert entry.content[0].value == "<p>Worth <em>following</em></p>"
    assert page.url == url  # the blog's page stays where it was
