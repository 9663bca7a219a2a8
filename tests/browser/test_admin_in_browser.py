"""The admin pages in Chromium: signing in, bulk moderation with the page's script, framing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import api_post, assert_accessible, blog_post
from tests.browser.pages import PASSWORD, sign_in
from tests.servers import HostPages, WidgetServer, widget_cli, widget_server


@pytest.fixture(scope="module")
def moderated(blog: HostPages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WidgetServer]:
    """A server whose site holds every comment for a moderator, with one admin."""
    data_dir = tmp_path_factory.mktemp("admin") / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", blog.origin, "--set",
               "min_seconds_to_post=0", "--set", "moderation=all")  # fmt: skip
    widget_cli(data_dir, "admin", "add", "boss@example.com", "--password-stdin",
               stdin=PASSWORD + "\n")  # fmt: skip
    with widget_server(data_dir) as server:
        yield server


def test_bulk_moderation(page: Page, blog: HostPages, moderated: WidgetServer) -> None:
    post = blog_post(blog, moderated, "/moderated/", "A moderated post")
    for n in range(3):
        api_post(moderated, blog, "/moderated/", body=f"Held comment {n}")
    sign_in(page, moderated)
    expect(page.locator(".summary")).to_have_text("3 comments wait for moderation.")

    page.get_by_role("navigation", name="Sites").get_by_role("link", name="blog").click()
    expect(page.locator("article.comment")).to_have_count(3)
    # Nothing selected: the page says so instead of posting.
    page.get_by_role("button", name="Approve selected", exact=True).click()
    expect(page.locator("#picked")).to_have_text("Select some comments first.")

    pick_all = page.locator("#pick-all")
    pick_all.check()
    expect(page.locator("#picked")).to_have_text("3 selected")
    page.get_by_label("Select comment", exact=False).last.uncheck()  # the oldest: newest first
    expect(page.locator("#picked")).to_have_text("2 selected")
    assert pick_all.evaluate("box => box.indeterminate") is True
    page.get_by_role("button", name="Approve selected", exact=True).click()
    expect(page.locator(".notice")).to_have_text("Approved 2 comments.")
    expect(page.locator("article.comment")).to_have_count(1)

    # Deleting asks first; dismissed, nothing happens.
    page.locator("input.pick").check()
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator("article.comment")).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete selected").click()
    expect(page.locator(".notice")).to_have_text("Deleted one comment.")
    expect(page.locator(".empty")).to_have_text("No pending comments.")

    # Readers of the post see the two approved comments.
    page.goto(post)
    frame = page.frame_locator("#comments iframe")
    expect(frame.locator("#comments-title")).to_have_text("2 Responses to “A moderated post”")
    expect(frame.locator(".wg-comment .wg-text")).to_have_text(["Held comment 1", "Held comment 2"])


def test_admin_pages_refuse_to_be_framed(
    page: Page, blog: HostPages, moderated: WidgetServer
) -> None:
    blog.pages["/framing/"] = (
        f'<!doctype html><title>framing</title><iframe id="admin" src="{moderated.public_url}'
        '/admin/login" width="600" height="400"></iframe>'
    )
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text))
    page.goto(blog.url + "/framing/")
    frame = page.frame_locator("#admin")
    page.wait_for_timeout(500)  # the refused frame never loads: give it a moment to try
    assert frame.locator("input[name=password]").count() == 0
    assert any("frame-ancestors" in text for text in blocked), blocked


def test_a_site_exports_from_its_page(
    page: Page, blog: HostPages, moderated: WidgetServer, tmp_path: Path
) -> None:
    blog_post(blog, moderated, "/exported/", "An exported post")
    api_post(moderated, blog, "/exported/", body="Held, and exported all the same")
    sign_in(page, moderated)
    page.goto(f"{moderated.public_url}/admin/sites/blog")
    page.get_by_label("Format").select_option("csv")
    page.get_by_label("Only the thread of").fill(f"{blog.url}/exported/")
    with page.expect_download() as downloading:
        page.get_by_role("button", name="Download").click()
    download = downloading.value
    assert download.suggested_filename.startswith("widget-blog-thread-")
    assert download.suggested_filename.endswith(".csv")
    saved = tmp_path / "export.csv"
    download.save_as(saved)
    rows = list(csv.DictReader(io.StringIO(saved.read_text())))
    assert [(row["page"], row["status"], row["text"]) for row in rows] == [
        ("/exported/", "pending", "Held, and exported all the same")
    ]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_admin_pages_pass_axe_in_light_and_dark(
    browser: Browser, blog: HostPages, moderated: WidgetServer, scheme: str
) -> None:
    blog_post(blog, moderated, "/audited/", "An audited post")
    held = api_post(moderated, blog, "/audited/", body="Held for the audit")["comment"]["id"]
    context = browser.new_context(color_scheme=scheme, bypass_csp=True)  # type: ignore[arg-type]
    try:
        page = context.new_page()
        page.goto(f"{moderated.public_url}/admin/login")
        assert_accessible(page)
        sign_in(page, moderated)
        for path in ("/admin/", "/admin/sites/blog", "/admin/sites/blog/comments",
                     f"/admin/comments/{held}"):  # fmt: skip
            page.goto(moderated.public_url + path)
            expect(page.locator("h1")).to_be_visible()
            assert_accessible(page)
    finally:
        context.close()


def test_the_queue_from_the_keyboard_with_undo(
    page: Page, blog: HostPages, moderated: WidgetServer
) -> None:
    for n in range(3):
        api_post(moderated, blog, "/keys/", body=f"Keyboard comment {n}")
    sign_in(page, moderated)
    page.goto(f"{moderated.public_url}/admin/sites/blog/comments?status=pending&page=%2Fkeys%2F")
    rows = page.locator("article.comment")
    expect(rows).to_have_count(3)
    newest = rows.nth(0).get_attribute("id")

    page.keyboard.press("j")
    expect(rows.nth(0)).to_have_class(re.compile(r"\bcurrent\b"))
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("a")  # approve the newest
    expect(page.locator(".notice")).to_have_text("Approved one comment.")
    expect(page.locator(f"#{newest}")).to_have_count(0)

    page.get_by_role("button", name="Undo").click()
    expect(page.locator(".notice")).to_have_text("Undone: one comment back as before.")
    expect(rows).to_have_count(3)

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    expect(rows.nth(0)).to_be_focused()
    page.keyboard.press("s")
    expect(page.locator(".notice")).to_have_text("Marked one comment as spam.")
    expect(rows).to_have_count(2)
    page.keyboard.press("j")
    page.once("dialog", lambda dialog: dialog.accept())
    page.keyboard.press("d")
    expect(page.locator(".notice")).to_have_text("Deleted one comment.")
    expect(rows).to_have_count(1)
    page.get_by_role("button", name="Undo").click()  # a delete is undone as well
    expect(page.locator(".notice")).to_have_text("Undone: one comment back as before.")
    expect(rows).to_have_count(2)
    # Typing in the search box types; it does not act.
    page.get_by_label("Text").fill("")
    page.get_by_label("Text").press("a")
    expect(page.get_by_label("Text")).to_have_value("a")
    expect(rows).to_have_count(2)

    # The one marked spam, gone for good with Empty spam (after asking).
    page.goto(f"{moderated.public_url}/admin/sites/blog/comments?status=spam&page=%2Fkeys%2F")
    expect(rows).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Empty spam").click()
    expect(page.locator(".notice")).to_have_text("Deleted one comment for good.")
    expect(page.locator(".empty")).to_have_text("No spam comments.")


def test_r_in_the_queue_answers_the_comment_as_a_moderator(
    page: Page, blog: HostPages, moderated: WidgetServer
) -> None:
    post = blog_post(blog, moderated, "/answer-keys/", "Answered from the keyboard")
    asked = api_post(moderated, blog, "/answer-keys/", body="Where is part two?")["comment"]["id"]
    sign_in(page, moderated)
    page.goto(f"{moderated.public_url}/admin/sites/blog/comments?page=%2Fanswer-keys%2F")
    page.keyboard.press("j")
    page.keyboard.press("r")  # a held comment has nothing to answer yet
    expect(page.locator("article.comment")).to_have_count(1)
    page.keyboard.press("a")
    expect(page.locator(".notice")).to_have_text("Approved one comment.")
    page.goto(f"{moderated.public_url}/admin/sites/blog/comments?status=approved"
              "&page=%2Fanswer-keys%2F")  # fmt: skip
    page.keyboard.press("j")
    page.keyboard.press("r")
    expect(page).to_have_url(f"{moderated.public_url}/admin/comments/{asked}#reply")
    expect(page.get_by_label("Your reply (Markdown)")).to_be_focused()
    page.keyboard.type("Next **week**.")
    page.get_by_role("button", name="Publish the reply").click()
    expect(page.locator(".notice")).to_have_text("Your reply is published.")

    page.goto(post)
    frame = page.frame_locator("#comments iframe")
    answer = frame.locator(f"#comment-{asked} .wg-children .wg-comment")
    expect(answer.locator(".wg-text")).to_have_text("Next week.")
    expect(answer.locator(".wg-badge")).to_have_text("Moderator")


def test_a_site_id_the_form_refuses_says_what_an_id_may_hold(
    page: Page, moderated: WidgetServer
) -> None:
    """Found adding a site from the dashboard: "My Blog" was stopped by the field's pattern
    with Chromium's bare "Please match the requested format.", nothing saying what an id may
    hold (the command line says it). The rule now stands beside the field, as its description
    (and as its title, which Chromium adds to the refusal's bubble)."""
    sign_in(page, moderated)
    page.get_by_text("Add a site").click()
    field = page.get_by_label("Id (used in the embed snippet)")
    field.fill("My Blog")
    page.get_by_label("Origins allowed to embed it, one per line").fill("https://my.example")
    page.get_by_role("button", name="Add the site").click()
    expect(page).to_have_url(f"{moderated.public_url}/admin/")  # not sent
    rule = "1 to 63 lowercase letters, digits, - or _, starting with a letter or digit"
    expect(field).to_have_accessible_description(rule + ".")
    expect(page.get_by_text(rule + ".")).to_be_visible()
    expect(field).to_have_attribute("title", rule)
