"""Signing in with an email link, in Chromium, as people do it: the popup asks for an address
and shows a code; the email (through a real SMTP server) is opened in another browser or in
the popup itself; the code is typed and the button pressed; the comments are signed in."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, FrameLocator, Page, expect

from tests.browser.conftest import assert_accessible, audited_context, axe_violations, blog_post
from tests.browser.pages import come_back, open_popup, wait_for_mail
from tests.mail import Inbox, body_of
from tests.servers import HostPages, WidgetServer, widget_cli, widget_server

FRAME = "#comments iframe"


@pytest.fixture(scope="module")
def widget(
    blog: HostPages, inbox: Inbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WidgetServer]:
    data_dir = tmp_path_factory.mktemp("email-sign-in") / "data"
    widget_cli(
        data_dir, "site", "add", "blog", "--origin", blog.origin, "--set", "min_seconds_to_post=0"
    )
    port = str(inbox.port)  # type: ignore[attr-defined]
    mail = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none",
            "outbox_retry_s": "1"}  # fmt: skip
    with widget_server(data_dir, open_files=None, **mail) as server:
        yield server


@pytest.fixture
def context(audited: BrowserContext) -> BrowserContext:
    return audited  # axe-core goes into its pages


def ask_for_a_link(page: Page, frame: FrameLocator, email: str, name: str) -> tuple[Page, str]:
    """Press "Email link" under the comments, fill in the popup: the popup, and its code."""
    popup = open_popup(page, frame, "Email link")
    expect(popup.locator("h1")).to_have_text("Sign in with your email")
    assert_accessible(popup)
    popup.get_by_label("Email address").fill(email)
    popup.get_by_label("Name, shown with your comments").fill(name)
    popup.get_by_role("button", name="Email me a sign-in link").click()
    expect(popup.locator("h1")).to_have_text("Check your email")
    code = popup.locator("#sign-in-code").inner_text().strip()
    assert re.fullmatch(r"\d{4}", code), code
    assert_accessible(popup)
    return popup, code


def the_link(inbox: Inbox, widget: WidgetServer, email: str) -> str:
    message = wait_for_mail(inbox, email, "Sign in to comment")
    match = re.search(
        rf"{re.escape(widget.public_url)}/auth/email/link\?token=[\w.\-]+", body_of(message)
    )
    assert match, body_of(message)
    return match.group(0)


def test_the_link_opened_in_another_browser_signs_in_the_comments_that_asked(
    browser: Browser, page: Page, blog: HostPages, widget: WidgetServer, inbox: Inbox
) -> None:
    page.goto(blog_post(blog, widget, "/by-email/", "By email"))
    frame = page.frame_locator(FRAME)
    popup, code = ask_for_a_link(page, frame, "grace@example.com", "Grace Hopper")

    # The mail is read on another device: a browser with nothing of this one's.
    mailbox = browser.new_context(bypass_csp=True).new_page()
    mailbox.goto(the_link(inbox, widget, "grace@example.com"))
    expect(mailbox.locator("h1")).to_have_text("Sign in to comment")
    assert_accessible(mailbox)
    mailbox.get_by_label("Code").fill("0000" if code != "0000" else "1111")
    mailbox.get_by_role("button", name="Sign in").click()
    expect(mailbox.locator("#code-error")).to_have_text(
        "That is not the code the sign-in window shows."
    )
    assert_accessible(mailbox)  # the code marked wrong, its message tied to it
    expect(frame.locator("#wg-signed-in")).to_be_hidden()
    mailbox.get_by_label("Code").fill(code)
    mailbox.get_by_role("button", name="Sign in").click()
    expect(mailbox.locator("h1")).to_have_text("You are signed in")

    come_back(page)  # back at the blog, the frame asks with its verifier
    expect(frame.locator("#wg-user-text")).to_have_text(
        "You are commenting using your Email account.", timeout=15_000
    )
    expect(frame.locator("#wg-guest-fields")).to_be_hidden()
    for _ in range(50):  # the frame, signed in, closes the popup that waited
        if popup.is_closed():
            break
        page.wait_for_timeout(100)
    assert popup.is_closed()
    frame.locator("#wg-body").fill("Signed in by email")
    frame.locator("#wg-submit").click()
    mine = frame.locator(".wg-comment").first
    expect(mine.locator("header cite")).to_have_text("Grace Hopper")
    expect(mine.locator("button.wg-edit")).to_be_visible()
    mailbox.context.close()


def test_the_link_opened_in_the_popup_itself_hands_over_at_once(
    page: Page, blog: HostPages, widget: WidgetServer, inbox: Inbox
) -> None:
    page.goto(blog_post(blog, widget, "/in-popup/", "In the popup"))
    frame = page.frame_locator(FRAME)
    popup, code = ask_for_a_link(page, frame, "ada@example.com", "Ada")
    popup.goto(the_link(inbox, widget, "ada@example.com"))
    popup.get_by_label("Code").fill(code)
    with popup.expect_event("close"):
        popup.get_by_role("button", name="Sign in").click()
    expect(frame.locator("#wg-user-text")).to_have_text(
        "You are commenting using your Email account."
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_sign_in_windows_pass_axe_in_light_and_dark(
    browser: Browser, blog: HostPages, widget: WidgetServer, inbox: Inbox, scheme: str
) -> None:
    """Every page of the email sign-in: the popup asking (and asking again, with errors), the
    code, the link's page and the last one ("You are signed in"), whose page the provider and
    passkey popups share: not one violation, of any impact (a main landmark, an h1)."""
    context = audited_context(browser, scheme)
    try:
        page = context.new_page()
        page.goto(blog_post(blog, widget, f"/audited-{scheme}/", "Audited"))
        popup = open_popup(page, page.frame_locator(FRAME), "Email link")
        expect(popup.locator("h1")).to_have_text("Sign in with your email")
        assert axe_violations(popup) == []
        popup.get_by_role("button", name="Email me a sign-in link").click()
        expect(popup.get_by_label("Email address")).to_have_attribute("aria-invalid", "true")
        assert axe_violations(popup) == []
        email = f"axe-{scheme}@example.com"
        popup.get_by_label("Email address").fill(email)
        popup.get_by_label("Name, shown with your comments").fill("Axel")
        popup.get_by_role("button", name="Email me a sign-in link").click()
        expect(popup.locator("h1")).to_have_text("Check your email")
        assert axe_violations(popup) == []
        code = popup.locator("#sign-in-code").inner_text().strip()
        mailbox = context.new_page()
        mailbox.goto(the_link(inbox, widget, email))
        expect(mailbox.locator("h1")).to_have_text("Sign in to comment")
        assert axe_violations(mailbox) == []
        mailbox.get_by_label("Code").fill(code)
        mailbox.get_by_role("button", name="Sign in").click()
        expect(mailbox.locator("h1")).to_have_text("You are signed in")
        assert axe_violations(mailbox) == []
    finally:
        context.close()
