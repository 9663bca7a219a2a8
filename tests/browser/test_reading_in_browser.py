"""The comment section as readers meet it (issue 11): with the keyboard only, with a screen
reader's view of names, states and announcements, on light and dark blogs, on a phone, and
without JavaScript. axe-core (tests/node_modules) checks each state; screenshots for a person
to look at go to tests/artifacts."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import feedparser
import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, FloatRect, Frame, Page, expect

from tests.browser.conftest import (
    ARTIFACTS,
    api_post,
    assert_accessible,
    audited_context,
    axe_violations,
    blog_post,
    frame_of,
)
from tests.servers import HostPages, WidgetServer, widget_cli, widget_server
from widget.views.i18n import EN, Translator

FRAME = "#comments iframe"
LIGHT_HOST = "<style>body { background: #ffffff; color: #222 }</style>"
DARK_HOST = "<style>body { background: #1b1b1f; color: #e6e6e6 }</style>"
HOSTS = {"light": LIGHT_HOST, "dark": DARK_HOST}
BACKDROPS = {"light": "#ffffff", "dark": "#1b1b1f"}  # what shows through the frame
BACKDROP_PIXELS = {"light": (0xFF, 0xFF, 0xFF), "dark": (0x1B, 0x1B, 0x1F)}


@pytest.fixture
def context(audited: BrowserContext) -> BrowserContext:
    return audited  # axe-core goes into its pages


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


def contrast(one: tuple[float, ...], other: tuple[float, ...]) -> float:
    """WCAG's contrast ratio of two sRGB colours (0-255 each)."""

    def luminance(color: tuple[float, ...]) -> float:
        linear = [c / 255 / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
                  for c in color[:3]]  # fmt: skip
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def css_color_over(css: str, backdrop: tuple[int, int, int]) -> tuple[float, ...]:
    """A computed CSS colour ("rgb(…)" or "rgba(…)") as it shows over `backdrop`."""
    values = [float(v) for v in re.findall(r"[\d.]+", css)]
    alpha = values[3] if len(values) > 3 else 1.0
    return tuple(alpha * c + (1 - alpha) * b for c, b in zip(values[:3], backdrop, strict=True))


def assert_fields_stand_out(frame: Frame, backdrop: tuple[int, int, int]) -> None:
    """Each visible field's border at least 3:1 against the page around it and against the
    field's own fill (WCAG 1.4.11, non-text contrast)."""
    fields: list[list[str]] = frame.evaluate(
        """() => [...document.querySelectorAll('input:not([type=checkbox]):not([type=hidden]), textarea')]
            .filter(e => e.offsetParent !== null && !e.closest('.wg-hp'))
            .map(e => { const s = getComputedStyle(e);
                return [e.id, s.borderTopColor, s.backgroundColor]; })"""
    )
    assert fields
    for name, border, fill in fields:
        shown = css_color_over(border, backdrop)
        inside = css_color_over(fill, backdrop)
        assert contrast(shown, backdrop) >= 3, (name, border)
        assert contrast(shown, inside) >= 3, (name, border, fill)


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


@pytest.fixture(scope="module")
def realistic(widget: WidgetServer, blog: HostPages) -> dict[str, int]:
    """Two realistic threads, posted once for the module: how many comments each has."""
    return {
        "/realistic/": realistic_thread(widget, blog, "/realistic/", arabic=False),
        "/realistic-ar/": realistic_thread(widget, blog, "/realistic-ar/", arabic=True),
    }


def realistic_thread(widget: WidgetServer, blog: HostPages, path: str, arabic: bool) -> int:
    """A thread as a blog post gathers one: replies three deep, Markdown, a link, a quote, code,
    a long name, likes, and (`arabic`) Arabic names and text with one English reply. Returns
    how many comments it has."""

    def post(body: str, name: str, parent: int | None = None) -> int:
        posted = api_post(widget, blog, path, body=body, name=name, parent=parent,
                          email=f"{len(name)}@example.com")  # fmt: skip
        return int(posted["comment"]["id"])

    def like(comment: int | None, times: int) -> None:
        for _ in range(times):
            httpx.post(
                f"{widget.local_url}/api/v1/likes",
                json={"site": "blog", "page": path, "comment": comment, "liked": True, "voter": ""},
                headers={"Origin": widget.public_url},
            ).raise_for_status()

    if arabic:
        first = post("شكرًا على هذه **التدوينة** الرائعة! تعلّمت منها الكثير.", "ليلى أحمد")
        answer = post("سعيد أنها أفادتك. الجزء الثاني قريبًا.", "كريم", first)
        post("I read it with a translator and agree: very clear.", "Sam", answer)
        second = post("> ماذا عن الأداء؟\n\nجرّبت ذلك على خادم صغير ونجح تمامًا.", "يوسف بن علي")
        post("وأنا كذلك، مع [التوثيق](https://example.com/docs).", "مريم", second)
        like(first, 3)
        like(None, 2)
        return 5
    first = post(
        "Great write-up! I tried this on my own blog and the **comments loaded in under a "
        "second**. One question: does it work with [Hugo](https://gohugo.io)?",
        "Maria Gonzalez",
    )
    answer = post("It does: paste the snippet into your post template.", "Tom", first)
    post("Thanks, that worked. Took two minutes.", "Maria Gonzalez", answer)
    post("Same here with Jekyll.", "Aiko Tanaka", first)
    second = post(
        "A longer thought, in two parts.\n\nFirst, the defaults are sensible: "
        "`min_seconds_to_post` stops most bots without a captcha.\n\n"
        "Second, I would like an import from Disqus:\n\n- comments\n- replies\n- likes",
        "Jonathan Q. Longname-Smythe",
    )
    post("> an import from Disqus\n\nThere is one already: `widget import`.", "Priya", second)
    post("Subscribed. Looking forward to part two!", "Sam")
    like(first, 3)  # a network gives a comment 3 guest likes at most
    like(second, 1)
    like(None, 3)
    return 7


# What a person looks at in tests/artifacts: (viewport width, blog colours, language).
VIEWS = {
    "desktop-light": (1000, "light", "en"),
    "desktop-dark": (1000, "dark", "en"),
    "375px": (375, "light", "en"),
    "right-to-left": (1000, "light", "ar"),
}


@pytest.mark.parametrize("view", sorted(VIEWS))
def test_a_realistic_thread_fits_its_frame_passes_axe_and_is_photographed(
    browser: Browser, blog: HostPages, widget: WidgetServer, realistic: dict[str, int], view: str
) -> None:
    width, host, lang = VIEWS[view]
    thread = "/realistic-ar/" if lang == "ar" else "/realistic/"
    title = "تدوينة عن التعليقات" if lang == "ar" else "Comments that readers meet"
    direction = ' dir="rtl"' if lang == "ar" else ""
    blog.pages[f"/look/{view}/"] = f"""<!doctype html>
<html lang="{lang}"{direction}><head><meta charset="utf-8"><title>{title}</title>
{HOSTS[host]}</head><body><h1>{title}</h1><p>{"Some words of the post. " * 12}</p>
<div id="comments"></div><script src="{widget.public_url}/embed.js" data-site="blog"
data-page-id="{thread}" async></script></body></html>"""
    # Tall enough for the whole frame: Chromium leaves a cross-site frame's part below the
    # viewport blank in a full-page screenshot.
    context = audited_context(browser, width=width, height=2400)
    try:
        page = context.new_page()
        page.goto(f"{blog.url}/look/{view}/")
        at = page.frame_locator(FRAME)
        expect(at.locator(".wg-comment")).to_have_count(realistic[thread])
        expect(at.locator(".wg-like-count").first).not_to_be_empty()
        at.locator("#wg-body").focus()  # the form open, as a reader about to write sees it
        expect(at.locator("#wg-submit")).to_be_visible()
        frame = frame_of(page)
        # The frame is as tall as what it holds: nothing cut off, no scrollbar of its own.
        content = frame.evaluate("() => document.documentElement.scrollHeight")
        expect(page.locator(FRAME)).to_have_attribute("style", re.compile(rf"height: {content}px"))
        assert frame.evaluate("() => document.documentElement.scrollWidth") <= width
        # Text keeps off the frame's edges, the blog's background running up to them.
        margins = frame.evaluate(
            """() => { const box = document.getElementById('comments-title')
                .getBoundingClientRect(); return [box.left, innerWidth - box.right]; }"""
        )
        assert min(margins) >= 8, margins
        assert_fields_stand_out(frame, BACKDROP_PIXELS[host])
        assert_accessible(frame, BACKDROPS[host])
        page.wait_for_timeout(300)  # the highlight of the focus ring settles
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"realistic-thread-{view}.png"), full_page=True)
    finally:
        context.close()


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

    # From the top of the blog's page: its own link first, then on into the frame.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.matches('a[data-comment-count]')")
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


# Each blog with the reader's system set the other way: the frame follows the blog.
@pytest.mark.parametrize(("host", "system"), [("light", "dark"), ("dark", "light")])
def test_errors_take_focus_and_are_tied_to_their_fields(
    browser: Browser, blog: HostPages, widget: WidgetServer, host: str, system: str
) -> None:
    context = audited_context(browser, system)
    try:
        page = context.new_page()
        path = f"/invalid-{host}/"
        page.goto(blog_post(blog, widget, path, "Invalid", extra=HOSTS[host]))
        the_form_tells_what_to_fix(page, BACKDROPS[host])
    finally:
        context.close()


def the_form_tells_what_to_fix(page: Page, backdrop: str) -> None:
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
    assert_accessible(frame_of(page), backdrop)

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
        context = audited_context(browser, system, height=1400)
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


@pytest.mark.parametrize(("theme", "host"), [("light", "dark"), ("dark", "light")])
def test_a_theme_can_still_be_forced(
    context: BrowserContext, blog: HostPages, widget: WidgetServer, theme: str, host: str
) -> None:
    path = f"/forced-{theme}/"
    api_post(widget, blog, path, body=f"Readable in {theme}, whatever the blog", name="Fay")
    blog.pages[path] = f"""<!doctype html><html><head><title>Forced</title>{HOSTS[host]}
</head><body><div id="comments"></div><script src="{widget.public_url}/embed.js"
data-site="blog" data-page-id="{path}" data-theme="{theme}" async></script></body></html>"""
    page = context.new_page()
    page.goto(f"{blog.url}{path}")
    at = page.frame_locator(FRAME)
    expect(at.locator("html")).to_have_class(re.compile(rf"\bwg-theme-{theme}\b"))
    expect(at.locator(".wg-comment")).to_have_count(1)
    # A theme against the blog's colours brings its own backdrop, or its text would be lost.
    backdrop = host_pixel_under_frame(page)
    assert backdrop != BACKDROP_PIXELS[host]
    assert_accessible(frame_of(page), "#{:02x}{:02x}{:02x}".format(*backdrop))


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
        targets = (".wg-reply", "button.wg-like", "header > a[href*='#comment-']",
                   "a[type='application/atom+xml']")  # fmt: skip
        for target in targets:
            handles = at.locator(target).all()
            assert handles, target
            for handle in handles:
                size = handle.bounding_box()
                assert size is not None and size["width"] >= 24 and size["height"] >= 24, (
                    target, size,
                )  # fmt: skip
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
    # Nothing hidden off to one side widens the frame: a right-to-left page can scroll towards
    # its left, where the spam trap once sat 10,000 px out (a blank page, sideways, without
    # JavaScript).
    frame = frame_of(page)
    assert frame.evaluate("() => document.documentElement.scrollWidth") <= frame.evaluate(
        "() => document.documentElement.clientWidth"
    )
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
        # The bars above and below the comments are landmarks of names of their own, which a
        # screen reader's list of landmarks tells apart; the one below works as the one above.
        assert "landmark-unique" not in [v["id"] for v in axe_violations(frame)]
        bars = frame.locator("nav.wg-paging")
        expect(bars).to_have_count(2)
        assert [bars.nth(n).get_attribute("aria-label") for n in (0, 1)] == [
            "Comments pagination", "Comments pagination, after the comments",
        ]  # fmt: skip
        bars.last.get_by_role("link", name="1", exact=True).click()
        frame = frame_of(page)
        expect(frame.locator("nav.wg-paging").last.locator('[aria-current="page"]')).to_have_text(
            "1"
        )
        expect(frame.locator(".wg-comment .wg-text")).to_have_text(["Comment 0"])


def test_a_french_reader_reads_numbers_the_french_way(
    context: BrowserContext, blog: HostPages, tmp_path: Path
) -> None:
    """The count embed.js fills on an index page (the server's words) and the like count the
    frame's script writes when a like comes live, in French: "1 234", with CLDR's narrow
    no-break space."""
    data_dir = tmp_path / "numbers"
    widget_cli(data_dir, "site", "add", "blog", "--origin", blog.origin,
               "--set", "min_seconds_to_post=0")  # fmt: skip
    # 1,234 comments as our own export has them, the newest liked 1,234 times.
    export = tmp_path / "many.jsonl"
    lines = ['{"format": "widget-export", "version": 1}']
    for n in range(1234):
        lines.append(json.dumps({
            "type": "comment", "site": "blog", "page": "/nombres/", "key": f"c{n}",
            "status": "approved", "created_at": f"2026-01-01T{n // 60 % 24:02d}:{n % 60:02d}:00Z",
            "name": f"Lecteur {n}", "text": f"Avis {n}", "html": f"<p>Avis {n}</p>",
            "likes": 1234 if n == 1233 else 0,
        }))  # fmt: skip
    export.write_text("\n".join(lines) + "\n")
    widget_cli(data_dir, "import", str(export), "--site", "blog")
    with widget_server(data_dir) as widget:
        blog.pages["/nombres/"] = f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Nombres</title></head><body><h1>Nombres</h1>
<p><a href="#comments" data-comment-count="/nombres/">Commentaires</a></p><div id="comments"></div>
<script src="{widget.public_url}/embed.js" data-site="blog" data-page-id="/nombres/" async>
</script></body></html>"""
        page = context.new_page()
        page.goto(f"{blog.url}/nombres/")
        count = page.locator("[data-comment-count]")
        expect(count).to_have_text(re.compile("réponses"))
        assert count.text_content() == "1\u202f234 réponses"
        at = page.frame_locator(FRAME)
        newest = at.locator(".wg-comments > .wg-comment").last
        expect(newest.locator(".wg-text")).to_have_text("Avis 1233")
        likes = newest.locator(".wg-like-count")
        assert likes.text_content() == "1\u202f234 j’aime"  # the server's
        at.locator("#wg-body").focus()  # a reader who stays: the live stream opens
        expect(at.locator("html")).to_have_attribute("data-live", "on")
        comment = int((newest.get_attribute("id") or "").removeprefix("comment-"))
        httpx.post(
            f"{widget.local_url}/api/v1/likes",
            json={"site": "blog", "page": "/nombres/", "comment": comment, "liked": True,
                  "voter": ""},
            headers={"Origin": widget.public_url},
        ).raise_for_status()  # fmt: skip
        expect(likes).to_have_text(re.compile("235"))
        assert likes.text_content() == "1\u202f235 j’aime"  # the script's, live


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


def english_sentences() -> set[str]:
    """Every run of two words or more of the English messages, between their placeholders,
    save those French writes the same way."""
    french = Translator("fr")
    found = set()
    for key, message in EN.items():
        if isinstance(message, str) and french.strings((key,))[key] == message:
            continue
        for form in [message] if isinstance(message, str) else message.values():
            for part in re.split(r"\{[^}]*\}", form):
                part = part.strip(" :.,()“”…")
                if " " in part and len(part) >= 8:
                    found.add(part)
    return found


def english_in(frame: Frame, sentences: set[str]) -> list[str]:
    """The English sentences a reader meets in the frame: in its text, and in the names,
    descriptions, placeholders and titles a screen reader or a pointer shows."""
    seen: str = frame.evaluate(
        """() => [document.body.innerText, ...[...document.querySelectorAll(
                '[aria-label], [placeholder], [title]')].map(e => [e.getAttribute('aria-label'),
                e.getAttribute('placeholder'), e.getAttribute('title')].join(' '))].join(' ')"""
    )
    return sorted(s for s in sentences if s in seen)


def test_a_french_reader_meets_no_english_from_reading_to_posting(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    french, sentences = Translator("fr"), english_sentences()
    for n in range(51):  # one more than a page: page numbers
        api_post(widget, blog, "/billet/", body=f"Commentaire numéro {n}", name=f"Lecteur {n}")
    blog.pages["/billet/"] = f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<title>Billet</title>{LIGHT_HOST}</head><body><h1>Billet</h1><div id="comments"></div>
<script src="{widget.public_url}/embed.js" data-site="blog" data-page-id="/billet/" async>
</script></body></html>"""
    page = context.new_page()  # the browser's own language is English
    page.goto(f"{blog.url}/billet/")
    at = page.frame_locator(FRAME)
    expect(at.locator(".wg-comment")).to_have_count(50)
    expect(page.locator(FRAME)).to_have_attribute("title", french("comments_on", title="Billet"))
    expect(at.locator("nav.wg-paging").first).to_have_attribute(
        "aria-label", french("comments_pagination")
    )
    when = at.locator(".wg-comment time").first
    expect(when).to_have_text(re.compile(r"^\d{1,2} [a-zéû]+ \d{4} à \d{2}:\d{2}$"))
    expect(when).to_have_attribute("title", re.compile(r"il y a|maintenant"))
    frame = frame_of(page)
    assert english_in(frame, sentences) == []

    at.locator("#wg-body").focus()
    at.locator("#wg-submit").click()  # nothing filled in
    expect(at.locator("#wg-body")).to_have_attribute("aria-invalid", "true")
    assert english_in(frame, sentences) == []

    at.locator("#wg-body").fill("Bonjour à tous")
    at.locator("#wg-name").fill("Zoé")
    at.locator("#wg-email").fill("zoe@example.com")
    at.locator("#wg-submit").click()
    expect(at.locator("#wg-status")).to_have_text(french("comment_posted"))
    mine = at.locator(".wg-comment", has_text="Bonjour à tous")
    mine.locator("button.wg-like").click()
    expect(mine.locator("button.wg-like")).to_have_accessible_name(
        french("like") + ", " + french("likes", n=1)
    )
    api_post(widget, blog, "/billet/", body="Quelqu’un d’autre écrit", name="Autre")
    expect(at.get_by_role("button", name=french("new_comments", n=1)).first).to_be_visible()
    assert english_in(frame, sentences) == []


def test_a_guests_held_comment_survives_reloads_in_a_thread_empty_before(
    open_context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    widget_cli(widget.data_dir, "site", "add", "held", "--origin", blog.origin,
               "--set", "min_seconds_to_post=0", "--set", "moderation=all")  # fmt: skip
    page = open_context.new_page()  # storage allowed: the frame keeps its edit tokens
    page.goto(blog_post(blog, widget, "/held/", "Held", site="held"))
    at = page.frame_locator(FRAME)
    # The thread is opened empty first: the server knows it as "no thread" from then on.
    expect(at.locator("#comments-title")).to_have_text("No Responses to “Held”")
    at.locator("#wg-body").fill("Waiting for a moderator")
    at.locator("#wg-name").fill("Hal")
    at.locator("#wg-email").fill("hal@example.com")
    at.locator("#wg-submit").click()
    held = at.locator(".wg-comment", has_text="Waiting for a moderator")
    expect(held.locator(".wg-held")).to_have_text("Your comment is awaiting moderation.")
    for _ in range(2):
        page.reload()
        at = page.frame_locator(FRAME)
        held = at.locator(".wg-comment", has_text="Waiting for a moderator")
        expect(held.locator(".wg-held")).to_have_text("Your comment is awaiting moderation.")


def test_a_right_to_left_name_is_isolated_in_a_left_to_right_thread(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    posted = api_post(widget, blog, "/mixed/", body="كلمات قليلة", name="ليلى 2")
    page = context.new_page()
    page.goto(blog_post(blog, widget, "/mixed/", "Mixed", extra=LIGHT_HOST))
    header = page.frame_locator(FRAME).locator(f"#comment-{posted['comment']['id']} header")
    name = header.locator("cite > *")
    expect(name).to_have_text("ليلى 2")
    # The name reads right to left in its own box, and "says:" stays after it.
    assert name.evaluate("e => getComputedStyle(e).direction") == "rtl"
    name_box, says_box = name.bounding_box(), header.locator("cite + span").bounding_box()
    assert name_box is not None and says_box is not None
    assert name_box["x"] + name_box["width"] <= says_box["x"]
    body = page.frame_locator(FRAME).locator(f"#comment-{posted['comment']['id']} .wg-text p")
    assert body.evaluate("e => getComputedStyle(e).direction") == "rtl"
