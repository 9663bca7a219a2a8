"""Passkeys in Chromium, with its virtual authenticator (DevTools' WebAuthn domain: ctap2,
internal transport, resident keys, user verification): a commenter signs in with a provider,
adds a passkey in the popup, logs out, signs in with the passkey in two clicks (the frame's
button, then the authenticator, which the virtual one answers by itself), and comments as that
account; then a copy of the passkey, whose counter is behind, is refused with the reason.

Chromium keeps a virtual authenticator per window, and each ceremony runs in a popup of its
own: the test carries the passkey (its private key and counter, read with
WebAuthn.getCredentials) into each popup's authenticator before the popup's page asks, as the
one device a person holds would keep it across windows.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from oidc_provider_mock import User as MockUser
from playwright.sync_api import (
    BrowserContext,
    CDPSession,
    FrameLocator,
    Page,
    Route,
    expect,
)

from tests.browser.conftest import assert_accessible, blog_post
from tests.browser.pages import open_popup
from tests.servers import HostPages, WidgetServer, widget_cli, widget_server
from tests.signing_in import mock_provider

FRAME = "#comments iframe"
ALICE = {"name": "Alice Liddell", "email": "alice@example.com", "email_verified": True}
BOB = {"name": "Bob Dobbs", "email": "bob@example.com", "email_verified": True}
AUTHENTICATOR = {
    "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
    "hasUserVerification": True, "isUserVerified": True, "automaticPresenceSimulation": True,
}  # fmt: skip


@pytest.fixture(scope="module")
def identity_provider() -> Iterator[str]:
    users = [MockUser(sub="alice", claims=ALICE), MockUser(sub="bob", claims=BOB)]
    with mock_provider(*users) as url:
        yield url


@pytest.fixture(scope="module")
def widget(
    blog: HostPages, identity_provider: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WidgetServer]:
    data_dir = tmp_path_factory.mktemp("passkeys") / "data"
    widget_cli(
        data_dir, "site", "add", "blog", "--origin", blog.origin, "--set", "min_seconds_to_post=0"
    )
    provider = {
        "provider_mock_issuer": identity_provider, "provider_mock_client_id": "widget",
        "provider_mock_client_secret": "s3cret", "provider_mock_display_name": "Mock ID",
    }  # fmt: skip
    with widget_server(data_dir, open_files=None, **provider) as server:
        yield server


@pytest.fixture
def context(audited: BrowserContext) -> BrowserContext:
    return audited  # axe-core goes into its pages


def authenticator_in(context: BrowserContext, window: Page) -> tuple[CDPSession, str]:
    """A virtual authenticator for one window: its DevTools session and id."""
    session = context.new_cdp_session(window)
    session.send("WebAuthn.enable", {"enableUI": False})
    added = session.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})
    return session, str(added["authenticatorId"])


class Carried:
    """The passkey the test carries into the sign-in popups' authenticators (None: none)."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.credential: dict[str, Any] | None = None

    def into_popup(self, route: Route) -> None:
        """Before the popup's passkey page loads (it asks at once), give it an authenticator
        holding the carried passkey."""
        window = route.request.frame.page
        session, authenticator = authenticator_in(self.context, window)
        if self.credential is not None:
            session.send("WebAuthn.addCredential",
                         {"authenticatorId": authenticator, "credential": self.credential})  # fmt: skip
        route.continue_()


def sign_in_with_provider(page: Page, frame: FrameLocator, user: str = "alice") -> None:
    frame.locator("#wg-body").click()  # the form shows its sign-in choices from its comment box
    with page.expect_popup() as opened:
        frame.locator("button.wg-provider", has_text="Mock ID").click()
    opened.value.locator(f"button[value={user}]").click()
    expect(frame.locator("#wg-user-text")).to_have_text(
        "You are commenting using your Mock ID account.", timeout=15_000
    )


def add_a_passkey(
    context: BrowserContext, page: Page, frame: FrameLocator
) -> tuple[Page, dict[str, Any]]:
    """ "Add a passkey" in the frame, then in the popup: the popup, still open, and the
    passkey as the authenticator keeps it (private key and counter included)."""
    with page.expect_popup() as opened:
        frame.locator("#wg-add-passkey").click()
    popup = opened.value
    expect(popup.locator("h1")).to_have_text("Your passkeys")
    expect(popup.locator("#wg-passkey-none")).to_have_text("No passkey yet.")
    session, authenticator = authenticator_in(context, popup)
    popup.get_by_label("Name of the new passkey").fill("Laptop")
    popup.get_by_role("button", name="Add a passkey").click()
    expect(popup.locator("#wg-passkey-notice")).to_contain_text("Passkey \u201cLaptop\u201d added")
    expect(popup.locator("#wg-passkey-list li")).to_have_count(1)
    expect(popup.locator("#wg-passkey-list li")).to_contain_text("Laptop")
    assert_accessible(popup)
    credentials = session.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    [credential] = credentials["credentials"]
    assert credential["isResidentCredential"] is True  # discoverable: no username to type
    assert credential["rpId"] == "comments.localhost"
    return popup, dict(credential)


def test_add_a_passkey_sign_in_with_it_in_two_clicks_and_refuse_a_copy(
    context: BrowserContext, page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    carried = Carried(context)
    context.route("**/auth/passkey/start", carried.into_popup)
    page.goto(blog_post(blog, widget, "/passkeys/", "Passkeys"))
    frame = page.frame_locator(FRAME)
    sign_in_with_provider(page, frame)
    popup, as_added = add_a_passkey(context, page, frame)
    popup.close()

    frame.locator("#wg-log-out").click()
    frame.locator("#wg-body").click()
    passkey_button = frame.locator("button.wg-provider", has_text="Passkey")
    expect(passkey_button).to_be_visible()  # this browser has WebAuthn
    carried.credential = as_added
    passkey_button.click()  # one click; the authenticator's answer is the second
    # (The line under the form kept its text while hidden: signed in is when it shows.)
    expect(frame.locator("#wg-signed-in")).to_be_visible(timeout=15_000)
    expect(frame.locator("#wg-user-text")).to_have_text(
        "You are commenting using your Mock ID account.", timeout=15_000
    )
    expect(frame.locator("#wg-user-name")).to_have_text("Alice Liddell")
    frame.locator("#wg-body").fill("Signed in with a passkey")
    frame.locator("#wg-submit").click()
    mine = frame.locator(".wg-comment").first
    expect(mine.locator("header cite")).to_have_text("Alice Liddell")
    expect(mine.locator(".wg-via")).to_have_text("via Mock ID")

    # A copy of the passkey as it was when added: its counter is behind the one the server saw.
    frame.locator("#wg-log-out").click()
    frame.locator("#wg-body").click()
    passkey_button.click()
    expect(frame.locator("#wg-sign-in-error")).to_contain_text(
        "its use counter went backwards", timeout=15_000
    )
    expect(frame.locator("#wg-signed-in")).to_be_hidden()


def test_a_removed_passkey_is_refused_with_what_to_do(
    context: BrowserContext, page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    """A wrong credential, as people come to hold one: the passkey their device still offers
    was removed from the account."""
    carried = Carried(context)
    context.route("**/auth/passkey/start", carried.into_popup)
    page.goto(blog_post(blog, widget, "/removed-passkey/", "Removed"))
    frame = page.frame_locator(FRAME)
    sign_in_with_provider(page, frame, "bob")
    popup, removed = add_a_passkey(context, page, frame)
    popup.get_by_role("button", name="Remove").click()
    expect(popup.locator("#wg-passkey-none")).to_have_text("No passkey yet.")
    popup.close()

    frame.locator("#wg-log-out").click()
    frame.locator("#wg-body").click()
    carried.credential = removed  # the device still holds it
    frame.locator("button.wg-provider", has_text="Passkey").click()
    expect(frame.locator("#wg-sign-in-error")).to_contain_text(
        "This passkey is not known here", timeout=15_000
    )
    expect(frame.locator("#wg-signed-in")).to_be_hidden()


def test_the_passkey_popup_opened_from_a_french_frame_speaks_french(
    context: BrowserContext, page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    url = blog_post(blog, widget, "/cles/", "Clés")
    blog.pages["/cles/"] = blog.pages["/cles/"].replace('<html lang="en">', '<html lang="fr">')
    page.goto(url)
    frame = page.frame_locator(FRAME)
    frame.locator("#wg-body").click()
    with page.expect_popup() as opened:
        frame.locator("button.wg-provider", has_text="Mock ID").click()
    opened.value.locator("button[value=alice]").click()
    expect(frame.locator("#wg-user-text")).to_have_text(
        "Vous commentez avec votre compte Mock ID.", timeout=15_000
    )

    with page.expect_popup() as opened:
        frame.locator("#wg-add-passkey").click()
    popup = opened.value
    expect(popup.locator("html")).to_have_attribute("lang", "fr")
    expect(popup.locator("h1")).to_have_text("Vos clés d’accès")
    expect(popup.locator("#wg-passkey-name")).to_have_attribute(
        "placeholder", "Téléphone, ordinateur portable, clé de sécurité…"
    )
    authenticator_in(context, popup)
    popup.get_by_label("Nom de la nouvelle clé d’accès").fill("Portable")
    popup.get_by_role("button", name="Ajouter une clé d’accès").click()
    expect(popup.locator("#wg-passkey-notice")).to_have_text(
        "Clé d’accès « Portable » ajoutée. La prochaine fois, connectez-vous avec elle."
    )
    # (Alice may hold the passkey of the test above too: the server is the module's.)
    expect(popup.locator("#wg-passkey-list li", has_text="Portable")).to_contain_text(
        "Portable ajoutée le "
    )
    popup.close()


def test_closing_the_passkey_window_ends_the_sign_in(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    page.goto(blog_post(blog, widget, "/closed-passkey/", "Closed"))
    frame = page.frame_locator(FRAME)
    popup = open_popup(page, frame, "Passkey")
    expect(popup.locator("h1")).to_have_text("Sign in with a passkey")
    expect(frame.locator("#wg-sign-in-waiting")).to_be_visible()
    popup.close()  # the person changed their mind
    expect(frame.locator("#wg-sign-in-waiting")).to_be_hidden()
    expect(frame.locator("#wg-sign-in-error")).to_have_text(
        "The sign-in window was closed before signing in finished."
    )


def test_signing_out_in_the_frame_ends_the_open_passkey_window(
    context: BrowserContext, page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    """On a shared computer: the reader opens "Add a passkey", then signs out under the
    comments. The window left open adds nobody's passkey to the account, and says why."""
    page.goto(blog_post(blog, widget, "/signed-out-passkey/", "Signed out"))
    frame = page.frame_locator(FRAME)
    sign_in_with_provider(page, frame, "bob")
    with page.expect_popup() as opened:
        frame.locator("#wg-add-passkey").click()
    popup = opened.value
    expect(popup.locator("h1")).to_have_text("Your passkeys")
    frame.locator("#wg-log-out").click()
    expect(frame.locator("#wg-signed-in")).to_be_hidden()

    authenticator_in(context, popup)  # (the page asked for its options while signed in)
    popup.get_by_label("Name of the new passkey").fill("Someone else's")
    popup.get_by_role("button", name="Add a passkey").click()
    # The window stays, saying why (it closed itself, unexplained, with the sign-in page).
    expect(popup.locator("#wg-passkey-error")).to_have_text(
        "This window is no longer signed in; close it, sign in again under the comments if"
        " your session ended, and press \u201cAdd a passkey\u201d again.",
        timeout=15_000,
    )
    assert not popup.is_closed()
    expect(popup.locator("#wg-passkey-form")).to_have_count(0)
    assert_accessible(popup)
    popup.close()

    sign_in_with_provider(page, frame, "bob")
    with page.expect_popup() as opened:
        frame.locator("#wg-add-passkey").click()
    expect(opened.value.locator("#wg-passkey-none")).to_have_text("No passkey yet.")
