"""Signing in from the cross-site iframe, in Chromium, in each cookie regime browsers have:

- "partitioned": Chromium's default here: third-party cookies blocked, Partitioned ones kept;
- "blocked": every cookie of the comment server refused under the blog (as Safari does);
- "allowed": third-party cookies allowed.

Plus a provider whose pages send Cross-Origin-Opener-Policy: same-origin, which cuts the popup
from the frame: the frame's polling finishes the sign-in.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import re
import secrets
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from oidc_provider_mock import User as MockUser
from playwright.sync_api import (
    Browser,
    BrowserContext,
    FrameLocator,
    Page,
    Playwright,
    Route,
    expect,
)

from tests.browser.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    api_post,
    assert_accessible,
    audited_context,
    blog_post,
    frame_of,
)
from tests.browser.pages import PASSWORD, come_back, open_popup, provider_button
from tests.browser.pages import sign_in as admin_signs_in
from tests.servers import (
    HostPages,
    WidgetServer,
    free_port,
    serve_in_thread,
    widget_cli,
    widget_server,
)
from tests.signing_in import mock_provider

FRAME = "#comments iframe"
ALICE = {"name": "Alice Liddell", "email": "alice@example.com", "email_verified": True}
BOB = {"name": "Bob Marley", "email": "bob@example.com", "email_verified": True,
       "picture": "https://pictures.example/bob.png"}  # fmt: skip
# A 1×1 PNG: the picture a provider names, answered by the test (no request leaves the machine).
PICTURE = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[str]:
    users = [MockUser(sub="alice", claims=ALICE), MockUser(sub="bob", claims=BOB)]
    with mock_provider(*users) as url:
        yield url


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

    stop = serve_in_thread(http.server.ThreadingHTTPServer(("127.0.0.1", port), Proxy))
    try:
        yield f"http://{own}"
    finally:
        stop()


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
        # Nobody listens there: the provider is down.
        "provider_down_issuer": f"http://127.0.0.1:{free_port()}",
        "provider_down_client_id": "widget", "provider_down_client_secret": "s3cret",
        "provider_down_display_name": "Down ID",
    }  # fmt: skip
    widget_cli(data_dir, "admin", "add", "boss@example.com", "--password-stdin",
               stdin=PASSWORD + "\n")  # fmt: skip
    with widget_server(data_dir, open_files=None, **providers) as server:
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
        provider_button(frame, provider).click()
    popup = opened.value
    popup.locator("button[value=alice]").click()  # at the provider: "Alice" signs in
    expect(frame.locator("#wg-user-text")).to_have_text(
        f"You are commenting using your {provider} account.", timeout=15_000
    )
    expect(frame.locator("#wg-guest-fields")).to_be_hidden()
    expect(frame.locator("#wg-user-name")).to_have_text(str(ALICE["name"]))  # who, not how


def sign_in_and_comment(page: Page, url: str, text: str) -> FrameLocator:
    """Open a post, sign in from its comment form, and post `text`."""
    page.goto(url)
    frame = page.frame_locator(FRAME)
    sign_in(page, frame)
    frame.locator("#wg-body").fill(text)
    frame.locator("#wg-submit").click()
    return frame


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
            frame.locator("#wg-body").click()  # the form opens from its comment box
            expect(frame.locator("#wg-sign-in")).to_be_visible()
            expect(signed_in).to_be_hidden()
            sign_in(page, frame)
        else:
            # The (Partitioned) session cookie came back with the frame's requests.
            expect(signed_in).to_be_visible()
            expect(frame.locator(".wg-comment").first.locator("button.wg-edit")).to_be_visible()

        frame.locator("#wg-log-out").click()
        frame.locator("#wg-body").click()  # the form opens from its comment box
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
            provider_button(frame, "Strict ID").click()
        popup = opened.value
        popup.locator("button[value=alice]").click()
        # The popup lands on our callback page, with no opener to talk to: it says so, and
        # closes itself a moment later; back on the comments, the frame, asking with its
        # verifier, signs in all the same.
        expect(popup.locator("h1")).to_have_text("You are signed in")
        assert popup.evaluate("window.opener") is None
        wait_until_closed(popup, timeout_ms=5_000)
        come_back(page)
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
        frame = sign_in_and_comment(page, url, "Mine to take away")
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
        # The frame reloads, signed out (the account is gone), with no comment left. (Waited
        # for: a click before the reload would open the old document's form, not the new one.)
        with page.expect_event("framenavigated"):
            frame.locator("#wg-erase-mine").click()
        frame.locator("#wg-body").click()  # the form opens from its comment box
        expect(frame.locator("#wg-sign-in")).to_be_visible()
        expect(frame.locator(".wg-comment")).to_have_count(0)
        expect(frame.locator("#comments-title")).not_to_contain_text("One Response")
    finally:
        context.close()


# -- a sign-in someone else could finish -----------------------------------------------------


def attacker_verifier() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def login_codes_for(widget: WidgetServer, challenge: str) -> int:
    with sqlite3.connect(widget.data_dir / "widget.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM login_codes WHERE challenge = ?", (challenge,)
        ).fetchone()
    return int(count)


def redeem_elsewhere(
    playwright: Playwright, tmp_path: Path, blog: HostPages, widget: WidgetServer, verifier: str
) -> int:
    """The attacker, in a browser of their own, on a page of our origin, asks for the session
    of the sign-in they hoped the victim would finish. The status of the answer."""
    context = regime_context(playwright, "allowed", tmp_path / "attacker", blog, widget)
    try:
        page = context.new_page()
        page.goto(f"{widget.public_url}/healthz")
        status: int = page.evaluate(
            """verifier => fetch('/api/v1/auth/session', {method: 'POST',
                headers: {'Content-Type': 'application/json'},
                body: JSON.stringify({verifier: verifier})}).then(r => r.status)""",
            verifier,
        )
        return status
    finally:
        context.close()


def test_a_sign_in_started_by_someone_else_gives_nobody_a_session(
    playwright: Playwright, tmp_path: Path, blog: HostPages, widget: WidgetServer
) -> None:
    """The attacker made a verifier and sends its challenge to a victim: from a foreign page
    (window.open, or a form posted into a popup), as a link opened in a fresh tab, and as a
    link in a comment clicked inside the frame (our own origin). None starts a sign-in."""
    verifier, challenge = attacker_verifier()
    start = f"{widget.public_url}/auth/mock/start?challenge={challenge}"
    evil = f"http://evil.localhost:{blog.port}"
    blog.pages["/lure/"] = f"""<!doctype html><html><body>
<button id="open" onclick="window.open('{start}', 'x', 'width=500,height=600')">Win</button>
<form id="post" method="post" action="{widget.public_url}/auth/mock/start" target="y">
<input type="hidden" name="challenge" value="{challenge}"></form>
<button id="submit" onclick="window.open('', 'y', 'width=500,height=600');
  document.getElementById('post').submit()">Win again</button>
</body></html>"""
    path = "/lured/"
    url = blog_post(blog, widget, path, "Lured")
    api_post(widget, blog, path, body=f"[a prize]({start})", name="Mallory")
    context = regime_context(playwright, "partitioned", tmp_path, blog, widget)
    try:
        page = context.new_page()
        page.goto(evil + "/lure/")
        for button in ("#open", "#submit"):
            with page.expect_popup() as opened:
                page.locator(button).click()
            popup = opened.value
            expect(popup.locator("h1")).to_have_text("Sign-in stopped")
            expect(popup.locator("p")).to_contain_text("did not come from a comment form")
            popup.close()

        fresh = context.new_page()
        fresh.goto(start)
        expect(fresh.locator("h1")).to_have_text("Sign-in stopped")
        fresh.close()

        page.goto(url)
        frame = page.frame_locator(FRAME)
        with page.expect_popup() as opened:  # comment links open in a new tab
            frame.locator(".wg-comment a", has_text="a prize").click()
        expect(opened.value.locator("h1")).to_have_text("Sign-in stopped")
    finally:
        context.close()
    assert login_codes_for(widget, challenge) == 0
    assert redeem_elsewhere(playwright, tmp_path, blog, widget, verifier) == 202


@contextlib.contextmanager
def reading(
    playwright: Playwright, tmp_path: Path, blog: HostPages, widget: WidgetServer, path: str
) -> Iterator[tuple[Page, FrameLocator, list[float]]]:
    """A reader on a new post of the blog (third-party cookies partitioned), and when the
    frame asked for its session, as it happens."""
    url = blog_post(blog, widget, path, path.strip("/").capitalize())
    context = regime_context(playwright, "partitioned", tmp_path, blog, widget)
    try:
        page = context.new_page()
        asked = session_polls(page)
        page.goto(url)
        yield page, page.frame_locator(FRAME), asked
    finally:
        context.close()


def wait_until_closed(popup: Page, timeout_ms: float) -> None:
    # Playwright's wait for "close" waits for the event to come: a popup that closed before
    # the wait began (a quick server, a slow test process) would make it time out.
    if not popup.is_closed():
        popup.wait_for_event("close", timeout=timeout_ms)


def session_polls(page: Page) -> list[float]:
    """When the page's frames asked /api/v1/auth/session (monotonic seconds), as they happen."""
    asked: list[float] = []
    page.on(
        "request",
        lambda request: asked.append(time.monotonic())
        if request.url.endswith("/api/v1/auth/session") else None,
    )  # fmt: skip
    return asked


def assert_no_more_polls(page: Page, asked: list[float]) -> None:
    page.wait_for_timeout(500)  # a request already on its way
    before = len(asked)
    page.wait_for_timeout(4000)  # more than two polling periods
    assert len(asked) == before


def test_closing_the_popup_ends_the_sign_in(
    playwright: Playwright, tmp_path: Path, blog: HostPages, widget: WidgetServer
) -> None:
    with reading(playwright, tmp_path, blog, widget, "/closed-popup/") as (page, frame, asked):
        popup = open_popup(page, frame, "Mock ID")
        expect(popup.locator("button[value=alice]")).to_be_visible()  # at the provider
        expect(frame.locator("#wg-sign-in-waiting")).to_be_visible()
        page.wait_for_timeout(3000)  # the person reads the provider's page
        assert not asked  # linked to the popup, the frame waits for its message
        popup.close()
        expect(frame.locator("#wg-sign-in-error")).to_have_text(
            "The sign-in window was closed before signing in finished."
        )
        expect(frame.locator("#wg-sign-in-waiting")).to_be_hidden()
        assert len(asked) == 1  # one last question, in case it had just finished
        come_back(page)
        assert_no_more_polls(page, asked)


def test_a_refusal_at_a_provider_that_cuts_the_opener_ends_the_polling_with_the_reason(
    playwright: Playwright, tmp_path: Path, blog: HostPages, widget: WidgetServer
) -> None:
    with reading(playwright, tmp_path, blog, widget, "/strict-deny/") as (page, frame, asked):
        popup = open_popup(page, frame, "Strict ID")
        popup.locator("button[value=deny]").click()
        # No opener to tell: the popup stays open with the reason; back on the page, the frame
        # asks with its verifier and learns it.
        expect(popup.locator("h1")).to_have_text("Sign-in cancelled")
        popup.close()
        come_back(page)
        expect(frame.locator("#wg-sign-in-error")).to_have_text(
            "Sign-in was cancelled.", timeout=10_000
        )
        expect(frame.locator("#wg-sign-in-waiting")).to_be_hidden()
        assert_no_more_polls(page, asked)


def test_cancel_in_the_frame_ends_a_sign_in_cut_off_by_the_provider(
    playwright: Playwright, tmp_path: Path, blog: HostPages, widget: WidgetServer
) -> None:
    with reading(playwright, tmp_path, blog, widget, "/strict-cancel/") as (page, frame, asked):
        popup = open_popup(page, frame, "Strict ID")
        expect(popup.locator("button[value=alice]")).to_be_visible()
        assert popup.evaluate("window.opener") is None  # cut off: only polling can finish it
        page.wait_for_timeout(3000)  # the frame asks once when the popup reads as closed
        assert len(asked) == 1
        frame.locator("#wg-sign-in-cancel").click()
        expect(frame.locator("#wg-sign-in-waiting")).to_be_hidden()
        # Signing in later in that popup changes nothing in the frame any more.
        popup.locator("button[value=alice]").click()
        expect(popup.locator("h1")).to_have_text("You are signed in")
        come_back(page)
        assert_no_more_polls(page, asked)
        expect(frame.locator("#wg-signed-in")).to_be_hidden()


def test_an_unreachable_provider_is_told_in_the_popup_and_the_frame(
    playwright: Playwright, tmp_path: Path, blog: HostPages, widget: WidgetServer
) -> None:
    with reading(playwright, tmp_path, blog, widget, "/down/") as (page, frame, asked):
        popup = open_popup(page, frame, "Down ID")
        # The popup's page hands the reason to the frame and closes itself.
        wait_until_closed(popup, timeout_ms=15_000)
        expect(frame.locator("#wg-sign-in-error")).to_have_text(
            "The provider could not be reached; try again in a moment."
        )
        expect(frame.locator("#wg-sign-in-waiting")).to_be_hidden()
        assert_no_more_polls(page, asked)


@pytest.mark.parametrize("host", ["light", "dark"])
def test_the_signed_in_form_passes_axe_on_light_and_dark_blogs(
    browser: Browser, blog: HostPages, widget: WidgetServer, host: str
) -> None:
    background = {"light": "#ffffff", "dark": "#1b1b1f"}[host]
    style = f"<style>body {{ background: {background} }}</style>"
    url = blog_post(blog, widget, f"/axe-signed-in-{host}/", "Audited", extra=style)
    # The reader's system the other way round: the frame follows the blog, not the system.
    system = {"light": "dark", "dark": "light"}[host]
    context = audited_context(browser, system)
    try:
        page = context.new_page()
        page.goto(url)
        frame = page.frame_locator(FRAME)
        expect(provider_button(frame, "Mock ID")).to_be_visible()
        # Said once, with the icons it speaks of (drawn by our stylesheet, no request out).
        expect(frame.locator("#wg-sign-in .wg-notes").first).to_have_text(
            "Fill in your details below or click an icon to log in:"
        )
        expect(frame.locator("#wg-guest .wg-notes")).to_have_text(
            "Your email address will not be published.", use_inner_text=True
        )
        expect(provider_button(frame, "Mock ID").locator(".wg-provider-icon")).to_have_text("M")
        assert_accessible(frame_of(page), background)  # the sign-in choices, signed out
        sign_in(page, frame)
        assert_accessible(frame_of(page), background)
    finally:
        context.close()


def test_a_moderator_answers_from_the_thread_with_the_badge_the_admin_gave(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    url = blog_post(blog, widget, "/badges/", "Badges")
    question = api_post(widget, blog, "/badges/", body="Is there a sequel?", name="Moderator")
    page = context.new_page()
    frame = sign_in_and_comment(page, url, "Thanks for reading.")
    mine = frame.locator(".wg-comment", has_text="Thanks for reading.")
    expect(mine.locator(".wg-via")).to_have_text("via Mock ID")
    mine_id = str(mine.get_attribute("id")).removeprefix("comment-")

    # The admin gives Alice's account the Moderator badge, from her comment's page.
    admin = context.new_page()
    admin_signs_in(admin, widget)
    admin.goto(f"{widget.public_url}/admin/comments/{mine_id}")
    admin.get_by_role("radio", name="Moderator").check()
    admin.get_by_role("button", name="Save the badge").click()
    expect(admin.locator(".notice")).to_contain_text("Moderator badge")

    # Back in the thread she answers the guest, who only called themselves Moderator.
    page.reload()
    frame = page.frame_locator(FRAME)
    asker = frame.locator(f"#comment-{question['comment']['id']}")
    expect(asker.locator(".wg-badge")).to_have_count(0)
    asker.locator("a.wg-reply").click()
    frame.locator("#wg-body").fill("Yes, in May.")
    frame.locator("#wg-submit").click()
    answer = asker.locator(".wg-children .wg-comment", has_text="Yes, in May.")
    expect(answer.locator(".wg-badge")).to_have_text("Moderator")
    expect(frame.locator(f"#comment-{mine_id} .wg-badge")).to_have_text("Moderator")
    page.reload()  # what every reader sees, from the cached thread
    frame = page.frame_locator(FRAME)
    expect(frame.locator(".wg-badge")).to_have_count(2)


def test_a_sign_in_pressed_before_the_writers_script_arrives_still_signs_in(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    """The sign-in code comes with the reader's first touch (static/writer.js); a click that
    beats it still opens the popup (the frame opens it on the click) and signs in."""
    url = blog_post(blog, widget, "/early-click/", "Early click")
    page = context.new_page()
    held: list[Route] = []
    page.route(re.compile(r".*/static/writer\.[0-9a-f]+\.js$"), lambda route: held.append(route))
    page.goto(url)
    frame = page.frame_locator(FRAME)
    with page.expect_popup() as opened:
        provider_button(frame, "Mock ID").click()  # the first touch asks for the script
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert len(held) == 1, "the writer's script was asked for once, and is held back"
    expect(frame.locator("#wg-sign-in-waiting")).to_be_hidden()  # nothing started without it
    held[0].continue_()
    opened.value.locator("button[value=alice]").click()
    expect(frame.locator("#wg-user-text")).to_have_text(
        "You are commenting using your Mock ID account.", timeout=15_000
    )


def test_the_signed_in_line_shows_the_accounts_name_and_picture(
    context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    page = context.new_page()
    page.route("https://pictures.example/**", lambda route: route.fulfill(
        body=PICTURE, content_type="image/png"))  # fmt: skip
    page.goto(blog_post(blog, widget, "/pictured/", "Pictured"))
    frame = page.frame_locator(FRAME)
    open_popup(page, frame, "Mock ID").locator("button[value=bob]").click()
    expect(frame.locator("#wg-user-name")).to_have_text("Bob Marley", timeout=15_000)
    avatar = frame.locator("#wg-user-avatar")
    expect(avatar).to_be_visible()
    expect(avatar).to_have_attribute("src", str(BOB["picture"]))
    expect(avatar).to_have_js_property("naturalWidth", 1)  # the picture itself, loaded
