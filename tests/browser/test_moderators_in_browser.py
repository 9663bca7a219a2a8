"""A moderator who answers from the comment section itself, in Chromium, as docs/moderation.md
tells it: they sign in to the comments like any reader, the admin gives their account the
Moderator badge on the page of one of their comments, and from then on their answers in the
thread are published at once and carry the badge, which a guest who types "Moderator" as a
name does not get. (Replying from the admin queue: test_admin_in_browser.py.)"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from oidc_provider_mock import User as MockUser
from oidc_provider_mock import run_server_in_thread
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import api_post, blog_post
from tests.browser.pages import FRAME, PASSWORD, sign_in
from tests.servers import HostPages, WidgetServer, widget_cli, widget_server

KIM = {"name": "Kim Moderator", "email": "kim@example.com", "email_verified": True}


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[str]:
    with run_server_in_thread(user_claims=[MockUser(sub="kim", claims=KIM)]) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def widget(
    blog: HostPages, identity_provider: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WidgetServer]:
    """Every comment waits for moderation, except a badged account's."""
    data_dir = tmp_path_factory.mktemp("moderators") / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", blog.origin, "--set",
               "min_seconds_to_post=0", "--set", "moderation=all")  # fmt: skip
    widget_cli(data_dir, "admin", "add", "boss@example.com", "--password-stdin",
               stdin=PASSWORD + "\n")  # fmt: skip
    provider = {
        "provider_mock_issuer": identity_provider, "provider_mock_client_id": "widget",
        "provider_mock_client_secret": "s3cret", "provider_mock_display_name": "Mock ID",
    }  # fmt: skip
    with widget_server(data_dir, open_files=None, **provider) as server:
        yield server


def approve(admin: Page, widget: WidgetServer, comment_id: int) -> None:
    admin.goto(f"{widget.public_url}/admin/comments/{comment_id}")
    admin.get_by_role("button", name="Approve", exact=True).click()
    expect(admin.locator(".notice")).to_have_text("Approved one comment.")


def test_a_moderator_answers_in_the_thread_with_a_badge_guests_cannot_wear(
    browser: Browser, page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    post = blog_post(blog, widget, "/answered/", "Answered in the thread")
    question = api_post(widget, blog, "/answered/", name="Gus", body="Is part two coming?")
    admin = browser.new_context().new_page()
    sign_in(admin, widget)
    approve(admin, widget, question["comment"]["id"])

    # Kim signs in to the comments like any reader; a first comment waits, as anyone's.
    page.goto(post)
    frame = page.frame_locator(FRAME)
    frame.locator("#wg-body").click()
    with page.expect_popup() as opened:
        frame.locator("button.wg-provider", has_text="Mock ID").click()
    opened.value.locator("button[value=kim]").click()
    expect(frame.locator("#wg-user-text")).to_have_text(
        "You are commenting using your Mock ID account.", timeout=15_000
    )
    frame.locator("#wg-body").fill("Hello, I look after this blog's comments.")
    frame.locator("#wg-submit").click()
    hello = frame.locator(".wg-comment", has_text="I look after")
    expect(hello.locator(".wg-held")).to_have_text("Your comment is awaiting moderation.")
    hello_id = int(str(hello.get_attribute("id")).removeprefix("comment-"))

    # The admin publishes it and gives the account its badge, on the page of that comment.
    approve(admin, widget, hello_id)
    expect(admin.locator(".badge-form legend")).to_contain_text("(user ")
    admin.get_by_label("Moderator").check()
    admin.get_by_role("button", name="Save the badge").click()
    expect(admin.locator(".notice")).to_have_text(
        "The account wears the Moderator badge; its comments go out at once."
    )

    # Kim answers the question in the frame: published at once, with the badge.
    asked = frame.locator(f"#comment-{question['comment']['id']}")
    asked.locator("a.wg-reply").click()
    frame.locator("#wg-body").fill("Yes, in **May**.")
    frame.locator("#wg-submit").click()
    answer = asked.locator(".wg-children .wg-comment")
    expect(answer.locator(".wg-text")).to_have_text("Yes, in May.")
    expect(answer.locator(".wg-held")).to_have_count(0)
    expect(answer.locator(".wg-badge")).to_have_text("Moderator")

    # A guest who calls themselves the moderator wears nothing, and waits.
    impostor = api_post(widget, blog, "/answered/", name="Moderator", body="Trust me.")
    assert impostor["held"] is True
    approve(admin, widget, impostor["comment"]["id"])
    admin.context.close()

    # What every reader sees: Kim's comments with the badge, the impostor's without.
    reader = browser.new_context().new_page()
    reader.goto(post)
    thread = reader.frame_locator(FRAME)
    expect(thread.locator("#comments-title")).to_contain_text("4 Responses")
    badged = thread.locator(".wg-comment article:has(.wg-badge)")
    expect(badged.locator("cite")).to_have_text(["Kim Moderator"] * 2)
    expect(badged.locator(".wg-badge")).to_have_text(["Moderator"] * 2)
    fake = thread.locator(f"#comment-{impostor['comment']['id']}")
    expect(fake.locator("header cite")).to_have_text("Moderator")
    expect(fake.locator(".wg-badge")).to_have_count(0)
    reader.context.close()
