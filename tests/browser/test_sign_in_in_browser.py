"""Signing in from the cross-site iframe, in Chromium, in each cookie regime browsers have:

- "partitioned": Chromium's default here: third-party cookies blocked, Partitioned ones kept;
- "blocked": every cookie of the comment server refused under the blog (as Safari does);
- "allowed": third-party cookies allowed.

Plus a provider whose pages send Cross-Origin-Opener-Policy: same-origin, which cuts the popup
from the frame: the frame's polling finishes the sign-in.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oidc_provider_mock import User as MockUser
from oidc_provider_mock import run_server_in_thread
from playwright.sync_api import BrowserContext, FrameLocator, Page, Playwright, expect

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, blog_post
from tests.servers import HostPages, WidgetServer, free_port, widget_cli, widget_server

FRAME = "#comments iframe"
ALICE = {"name": "Alice Liddell", "email": "alice@example.com", "email_verified": True}


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[str]:
    with run_server_in_thread(user_claims=[MockUser(sub="alice", claims=ALICE)]) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(scope="module")
def strict_provider(identity_provider: str) -> Iterator[str]:
    """The same provider behind a proxy that adds Cross-Origin-Opener-Policy: same-origin."""
    port = free_port()
    own = f"127.0.0.1:{port}"

    class Proxy(http.server.BaseHTTPRequestHandler):
        def _forward(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {
                k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}
            }
            headers["Host"] = own  # the provider names itself after the Host it is asked as
            answer = httpx.request(self.command, identity_provider + self.path, headers=headers,
                                   content=body, follow_redirects=False)  # fmt: skip
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in {
                    "content-length",
                    "transfer-encoding",
                    "connection",
                    "content-encoding",
                }:
                    self.send_header(name, value)
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{own}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def widget(
    blog: HostPages, identity_provider: str, strict_provider: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[WidgetServer]:  # fmt: skip
    data_dir = tmp_path_factory.mktemp("sign-in") / "data"
    widget_cli(
        data_dir, "site", "add", "blog", "--origin", blog.origin, "--set", "min_seconds_to_post=0"
    )
    providers = {
        "provider_mock_issuer": identity_provider, "provider_mock_client_id": "widget",
        "provider_mock_client_secret": "s3cret", "provider_mock_display_name": "Mock ID",
        "provider_strict_issuer": strict_provider, "provider_strict_client_id": "widget",
        "provider_strict_client_secret": "s3cret", "provider_strict_display_name": "Strict ID",
    }  # fmt: skip
    with widget_server(data_dir, **providers) as server:
        yield server


def regime_context(
    playwright: Playwright, regime: str, tmp_path: Path, blog: HostPages, widget: WidgetServer
) -> BrowserContext:
    profile: dict[str, object] = {}
    if regime == "allowed":
        profile = {"cookie_controls_mode": 0}
    elif regime == "blocked":
        # The comment server's cookies refused wherever the blog is the top-level site; its
        # own top-level pages (the sign-in popup) keep theirs, as in Safari.
        exception = {f"{widget.public_url},{blog.url}": {"setting": 2}}
        profile = {
            "cookie_controls_mode": 0,
            "content_settings": {"exceptions": {"cookies": exception}},
        }
    folder = tmp_path / f"profile-{regime}"
    (folder / "Default").mkdir(parents=True)
    (folder / "Default" / "Preferences").write_text(json.dumps({"profile": profile}))
    return playwright.chromium.launch_persistent_context(
        str(folder), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
        viewport={"width": 1000, "height": 900},
    )  # fmt: skip


def sign_in(page: Page, frame: FrameLocator, provider: str = "Mock ID") -> None:
    with page.expect_popup() as opened:
        frame.locator("button.wg-provider", has_text=provider).click()
    popup = opened.value
    popup.locator("button[value=alice]").click()  # at the provider: "Alice" signs in
    expect(frame.locator("#wg-user-text")).to_have_text(
        f"You are commenting using your {provider} account.", timeout=15_000
    )
    expect(frame.locator("#wg-guest-fields")).to_be_hidden()


@pytest.mark.parametrize("regime", ["partitioned", "blocked", "allowed"])
def test_sign_in_comment_reload_and_log_out(
    playwright: Playwright, regime: str, tmp_path: Path, blog: HostPages, widget: WidgetServer
) -> None:
    path = f"/signed-in-{regime}/"
    url = blog_post(blog, widget, path, f"Signed in, {regime}")
    context = regime_context(playwright, regime, tmp_path, blog, widget)
    try:
        page = context.new_page()
        page.goto(url)
        frame = page.frame_locator(FRAME)
        sign_in(page, frame)
        frame.locator("#wg-body").fill(f"Commenting as myself ({regime})")
        frame.locator("#wg-submit").click()
        mine = frame.locator(".wg-comment").first
        expect(mine.locator("header cite")).to_have_text("Alice Liddell")
        expect(mine.locator(".wg-via")).to_have_text("via Mock ID")
        expect(mine.locator("button.wg-edit")).to_be_visible()

        page.reload()
        frame = page.frame_locator(FRAME)
        expect(frame.locator("#comments-title")).to_contain_text("One Response")
        signed_in = frame.locator("#wg-signed-in")
        if regime == "blocked":
            # No cookie, no storage for the frame: the token lived in its memory, gone now.
            expect(frame.locator("#wg-sign-in")).to_be_visible()
            expect(signed_in).to_be_hidden()
            sign_in(page, frame)
        else:
            # The (Partitioned) session cookie came back with the frame's requests.
            expect(signed_in).to_be_visible()
            expect(frame.locator(".wg-comment").first.locator("button.wg-edit")).to_be_visible()

        frame.locator("#wg-log-out").click()
        expect(frame.locator("#wg-sign-in")).to_be_visible()
        expect(frame.locator("#wg-guest-fields")).to_be_visible()
        page.reload()
        frame = page.frame_locator(FRAME)
        expect(frame.locator("#comments-title")).to_be_visible()
        page.wait_for_timeout(500)
        expect(frame.locator("#wg-signed-in")).to_be_hidden()
    finally:
        context.close()


def test_a_provider_that_cuts_the_opener_still_signs_in_by_polling(
    playwright: Playwright, tmp_path: Path, blog: HostPages, widget: WidgetServer
) -> None:
    url = blog_post(blog, widget, "/strict/", "Strict")
    context = regime_context(playwright, "partitioned", tmp_path, blog, widget)
    try:
        page = context.new_page()
        page.goto(url)
        frame = page.frame_locator(FRAME)
        with page.expect_popup() as opened:
            frame.locator("button.wg-provider", has_text="Strict ID").click()
        popup = opened.value
        popup.locator("button[value=alice]").click()
        # The popup lands on our callback page, but with no opener to talk to it says so and
        # stays open; the frame, polling with its verifier, signs in all the same.
        expect(popup.locator("h2")).to_have_text("You are signed in")
        assert popup.evaluate("window.opener") is None
        expect(frame.locator("#wg-user-text")).to_have_text(
            "You are commenting using your Strict ID account.", timeout=15_000
        )
    finally:
        context.close()


def test_a_signed_in_commenter_downloads_then_erases_their_comments(
    playwright: Playwright, tmp_path: Path, blog: HostPages, widget: WidgetServer
) -> None:
    url = blog_post(blog, widget, "/own-data/", "Own data")
    context = regime_context(playwright, "partitioned", tmp_path, blog, widget)
    try:
        page = context.new_page()
        page.goto(url)
        frame = page.frame_locator(FRAME)
        sign_in(page, frame)
        frame.locator("#wg-body").fill("Mine to take away")
        frame.locator("#wg-submit").click()
        expect(frame.locator("#comments-title")).to_contain_text("One Response")

        frame.locator("#wg-own-data summary").click()
        expect(frame.locator("#wg-own-data")).to_have_attribute("open", "")
        expect(frame.locator("#wg-own-signed-in")).to_be_visible()
        with page.expect_download() as downloading:
            frame.locator("#wg-download-mine").click()
        saved = tmp_path / "mine.json"
        downloading.value.save_as(saved)
        document = json.loads(saved.read_text())
        assert document["account"]["name"] == "Alice Liddell"
        # Every comment of the account, this page's last (Alice commented in earlier tests).
        assert document["comments"][-1]["text"] == "Mine to take away"
        assert document["comments"][-1]["page"]["url"] == url

        page.once("dialog", lambda dialog: dialog.accept())
        frame.locator("#wg-erase-mine").click()
        # The frame reloads, signed out (the account is gone), with no comment left.
        expect(frame.locator("#wg-sign-in")).to_be_visible()
        expect(frame.locator(".wg-comment")).to_have_count(0)
        expect(frame.locator("#comments-title")).not_to_contain_text("One Response")
    finally:
        context.close()
