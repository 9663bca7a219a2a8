"""What a person does in the browser tests, shared: sign in to the admin, open a sign-in popup
from the comments and come back from it, wait for an email."""

from __future__ import annotations

import time
from email.message import EmailMessage

from playwright.sync_api import FrameLocator, Locator, Page, expect

from tests.mail import Inbox, body_of
from tests.servers import WidgetServer

FRAME = "#comments iframe"  # where embed.js puts the comments on the blog's pages

PASSWORD = "correct horse battery"


def sign_in(page: Page, widget: WidgetServer) -> None:
    page.goto(f"{widget.public_url}/admin/")
    expect(page).to_have_url(f"{widget.public_url}/admin/login?next=%2Fadmin%2F")
    page.get_by_label("Email").fill("boss@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Dashboard")


def wait_for_mail(
    inbox: Inbox, to: str, subject_has: str, body_has: str = "", timeout_s: float = 15
) -> EmailMessage:
    """The newest mail to `to` whose subject (and text) hold these, once the outbox sent it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [
            m for m in inbox.to(to)
            if subject_has in str(m["Subject"]) and body_has in body_of(m)
        ]  # fmt: skip
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no mail to {to} about {subject_has!r}: {inbox.messages}")


def come_back(page: Page) -> None:
    """What a person does back from the popup: the pointer moves over the comments."""
    box = page.locator(FRAME).bounding_box()
    assert box
    page.mouse.move(box["x"] + 40, box["y"] + 40)
    page.mouse.move(box["x"] + 80, box["y"] + 60)


def provider_button(frame: FrameLocator, provider: str) -> Locator:
    """A sign-in choice's button (a provider, "Email link", "Passkey"): the form shows its
    choices once the reader is in the comment box."""
    frame.locator("#wg-body").click()
    return frame.locator("button.wg-provider", has_text=provider)


def open_popup(page: Page, frame: FrameLocator, provider: str) -> Page:
    """The sign-in popup a press on `provider`'s button opens."""
    with page.expect_popup() as opened:
        provider_button(frame, provider).click()
    return opened.value
