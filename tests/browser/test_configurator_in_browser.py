"""The configurator in Chromium, as a site owner uses it: choose a theme and a language, watch
the real widget change in the preview, copy the snippet, paste it into a blog page and find the
comments there as chosen; allow a missing origin; save the order and page size for the site."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import assert_accessible
from tests.browser.pages import PASSWORD, sign_in
from tests.servers import HostPages, WidgetServer, widget_cli, widget_server


@pytest.fixture(scope="module")
def widget(blog: HostPages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WidgetServer]:
    data_dir = tmp_path_factory.mktemp("configurator") / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", blog.origin)
    widget_cli(data_dir, "admin", "add", "boss@example.com", "--password-stdin",
               stdin=PASSWORD + "\n")  # fmt: skip
    with widget_server(data_dir) as server:
        yield server


@pytest.fixture
def owner(browser: Browser) -> Iterator[BrowserContext]:
    """A site owner's browser, which lets the admin page write to the clipboard."""
    context = browser.new_context(
        viewport={"width": 1100, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
        bypass_csp=True,  # for axe-core, which the test adds to the page
    )
    yield context
    context.close()


def test_choose_preview_copy_and_paste_the_snippet(
    owner: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    page = owner.new_page()
    sign_in(page, widget)
    page.goto(f"{widget.public_url}/admin/sites/blog")
    page.get_by_role("link", name="choose the theme and language, see a preview").click()
    expect(page.locator("h1")).to_contain_text("Embed blog")
    preview = page.frame_locator("#preview")
    expect(preview.locator("#reply-title-text")).to_have_text("Leave a Reply")
    assert_accessible(page)

    page.get_by_label("Theme").select_option("dark")
    page.get_by_label("Language").select_option("de")
    expect(page.locator("#snippet")).to_have_text(
        f'<div id="comments"></div>\n<script src="{widget.public_url}/embed.js"'
        ' data-site="blog" data-theme="dark" data-lang="de" async></script>'
    )
    expect(preview.locator("#reply-title-text")).to_have_text("Hinterlasse einen Kommentar")
    expect(preview.locator("html")).to_have_class(re.compile(r"\bwg-theme-dark\b"))
    box = page.locator("#preview").bounding_box()
    assert box and box["height"] != 480  # sized to its comments by their own report

    page.get_by_role("button", name="Copy the snippet").click()
    expect(page.locator("#copied")).to_have_text("Copied.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#snippet").inner_text()

    # Pasted into a post of the blog, it shows the comments as chosen.
    blog.pages["/pasted/"] = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Pasted</title></head>'
        f"<body><h1>Pasted</h1>{copied}</body></html>"
    )
    reader = owner.new_page()
    reader.goto(f"{blog.url}/pasted/")
    comments = reader.frame_locator("#comments iframe")
    expect(comments.locator("#reply-title-text")).to_have_text("Hinterlasse einen Kommentar")
    expect(comments.locator("html")).to_have_class(re.compile(r"\bwg-theme-dark\b"))


def test_a_page_from_a_new_origin_is_allowed_from_the_configurator(
    owner: BrowserContext, widget: WidgetServer
) -> None:
    page = owner.new_page()
    sign_in(page, widget)
    page.goto(f"{widget.public_url}/admin/sites/blog/embed")
    page.get_by_label("A page of your site, for the preview").fill(
        "https://www.blog.example/a-post/"
    )
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".missing-origin")).to_contain_text(
        "https://www.blog.example may not show these comments yet"
    )
    expect(page.locator("#preview")).to_have_count(0)
    page.get_by_role("button", name="Allow https://www.blog.example").click()
    expect(page.locator(".notice")).to_have_text("Saved.")
    expect(page.locator(".missing-origin")).to_have_count(0)
    expect(page.frame_locator("#preview").locator("#reply-title-text")).to_have_text(
        "Leave a Reply"
    )
    page.goto(f"{widget.public_url}/admin/sites/blog")
    expect(
        page.get_by_label("Origins allowed to embed the comments, one per line")
    ).to_contain_text("https://www.blog.example")


def test_order_and_page_size_are_saved_for_the_site(
    owner: BrowserContext, widget: WidgetServer
) -> None:
    page: Page = owner.new_page()
    sign_in(page, widget)
    page.goto(f"{widget.public_url}/admin/sites/blog/embed?theme=light")
    page.get_by_label("order").select_option("newest")
    page.get_by_label("page size").fill("7")
    page.get_by_role("button", name="Save for the site").click()
    expect(page.locator(".notice")).to_have_text("Saved.")
    expect(page).to_have_url(re.compile(r"/admin/sites/blog/embed\?.*theme=light&done=saved$"))
    expect(page.get_by_label("order")).to_have_value("newest")
    expect(page.get_by_label("page size")).to_have_value("7")
