"""Sign-in with an email link, through the app with a real SMTP server: the popup asks for an
address and shows a code, the emailed link asks for that code, and only the frame that holds
the verifier gets the session. (In Chromium: tests/browser/test_sign_in_in_browser.py.)"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import httpx
import itsdangerous
import pytest
from starlette.applications import Starlette

from tests.conftest import ClientFactory
from tests.helpers import (
    BLOG,
    OWN_ORIGIN,
    PAGE,
    PUBLIC_URL,
    clock_by_hand,
    make_settings,
    start_sign_in,
)
from tests.mail import Inbox, body_of, link_in, mail_settings
from tests.signing_in import exchange, me, new_verifier
from widget.app import create_app
from widget.auth import email_link
from widget.auth.email_link import CODE_TRIES, LINKS_PER_ADDRESS_PER_DAY, LINKS_PER_NETWORK
from widget.auth.tokens import token_hash
from widget.records import Profile, User
from widget.sites import add_site

ADA = "ada@example.com"


@pytest.fixture
def client(mail_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return mail_client


async def ask_for_link(
    client: httpx.AsyncClient, challenge: str, email: str = ADA, name: str = "Ada"
) -> httpx.Response:
    """The popup's form, sent from the popup (our own origin)."""
    return await client.post(
        "/auth/email/send",
        data={"challenge": challenge, "email": email, "name": name},
        headers=OWN_ORIGIN,
    )


def shown_code(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    match = re.search(r'id="sign-in-code"[^>]*><strong>(\d{4})</strong>', page.text)
    assert match, page.text
    return match.group(1)


async def sign_in_mail(inbox: Inbox, count: int = 1) -> EmailMessage:
    messages = [m for m in await inbox.wait_for(count) if m["Subject"] == "Sign in to comment"]
    assert len(messages) == count
    return messages[-1]


async def type_code(client: httpx.AsyncClient, link: str, code: str) -> httpx.Response:
    """The link's page, opened from the mailbox, and its form sent with the code typed in."""
    page = await client.get(link)
    assert page.status_code == 200, page.text
    assert "Type the four-digit code" in page.text
    token = link.split("token=")[1]
    return await client.post(
        "/auth/email/link", data={"token": token, "code": code}, headers=OWN_ORIGIN
    )


def handed_code(page: httpx.Response) -> str:
    assert page.status_code == 200, page.text
    match = re.search(r'data-code="([^"]+)"', page.text)
    assert match and match.group(1), page.text
    return match.group(1)


async def test_the_frame_that_asked_is_signed_in_once_the_code_is_typed_on_the_link(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    verifier, challenge = new_verifier()
    form = await start_sign_in(client, "email", challenge)
    assert form.status_code == 200
    assert 'action="/auth/email/send"' in form.text
    assert f'value="{challenge}"' in form.text
    code = shown_code(await ask_for_link(client, challenge, "Ada@Example.com", "  Ada   L. "))

    message = await sign_in_mail(inbox)
    assert message["To"] == ADA
    assert code not in body_of(message) and code not in body_of(message, "html")
    link = link_in(message, "/auth/email/link")
    assert (await exchange(client, verifier, None)).status_code == 202  # not yet

    wrong = await type_code(client, link, "0000" if code != "0000" else "1111")
    assert wrong.status_code == 422
    assert "That is not the code the sign-in window shows." in wrong.text
    assert 'aria-invalid="true"' in wrong.text
    assert (await exchange(client, verifier, None)).status_code == 202  # still not

    done = await type_code(client, link, f" {code[:2]} {code[2:]} ")  # spaces are forgiven
    login_code = handed_code(done)
    # Anyone else holding that page's code, without the frame's verifier, gets nothing.
    other_verifier, _ = new_verifier()
    assert (await exchange(client, other_verifier, login_code)).status_code == 400
    session = await exchange(client, verifier, None)  # the frame asks when the reader is back
    assert session.status_code == 200, session.text
    user = session.json()["user"]
    assert (user["name"], user["provider"], user["provider_name"]) == ("Ada L.", "email", "Email")
    assert (await me(client, session.json()["token"]))["user"]["name"] == "Ada L."

    again = await type_code(client, link, code)
    assert again.status_code == 400
    assert "This link has been used already" in again.text


async def test_an_email_account_is_not_merged_with_a_provider_account_of_the_same_address(
    client: httpx.AsyncClient, inbox: Inbox, mail_app: Starlette
) -> None:
    storage = mail_app.state.widget.storage
    elsewhere = await storage.upsert_user(
        Profile("github", "12345", "Ada at GitHub", email=ADA), datetime.now(UTC)
    )
    verifier, challenge = new_verifier()
    code = shown_code(await ask_for_link(client, challenge))
    link = link_in(await sign_in_mail(inbox), "/auth/email/link")
    handed_code(await type_code(client, link, code))
    session = (await exchange(client, verifier, None)).json()
    signed_in = await storage.get_session(User, token_hash(session["token"]), datetime.now(UTC))
    assert signed_in is not None
    assert signed_in.provider == "email" and signed_in.id != elsewhere.id


@pytest.mark.parametrize(
    ("email", "name", "field", "message"),
    [
        ("", "Ada", "email", "Enter your email address."),
        ("ada@example.com, root", "Ada", "email", "one email address only"),
        ("Ada <ada@example.com>", "Ada", "email", "just the address"),
        (ADA, "", "name", "Enter the name"),
        (ADA, "A" * 101, "name", "at most 100 characters"),
        (ADA, "Ada\nRoot", "name", "on one line"),
    ],
)
async def test_bad_fields_are_shown_beside_them_with_what_was_typed(
    client: httpx.AsyncClient, email: str, name: str, field: str, message: str
) -> None:
    _, challenge = new_verifier()
    page = await ask_for_link(client, challenge, email, name)
    assert page.status_code == 422, page.text
    assert f'value="{html.escape(email)}"' in page.text  # what was typed, to fix
    assert f'id="{field}-error"' in page.text
    assert message.lower() in page.text.lower()
    assert 'action="/auth/email/send"' in page.text  # the form again, to fix and send


async def test_links_are_counted_per_address(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox
) -> None:
    for _ in range(3):
        _, challenge = new_verifier()
        shown_code(await ask_for_link(client, challenge))
    _, challenge = new_verifier()
    # Asked from another network too: the address's count, wherever it is asked from.
    transport = httpx.ASGITransport(app=mail_app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as elsewhere:
        refused = await ask_for_link(elsewhere, challenge)
    assert refused.status_code == 429
    assert "Too many sign-in links asked for this address" in refused.text
    polish = await client.post(
        "/auth/email/send", data={"challenge": challenge, "email": ADA, "name": "Ada", "lang": "pl"},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert polish.status_code == 429
    assert "Za dużo linków logowania dla tego adresu" in polish.text  # the popup's language
    await inbox.wait_for(3)
    assert len([m for m in inbox.messages if m["Subject"] == "Sign in to comment"]) == 3


async def test_an_address_gets_a_dozen_links_a_day_however_they_are_spread(
    mail_client_from: ClientFactory, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three links a quarter of an hour, asked for from ever new networks, mailed someone who
    never asked 288 links a day."""
    # Up to now: mails are due at once.
    clock = clock_by_hand(monkeypatch, email_link, datetime.now(UTC) - timedelta(minutes=75))
    statuses = []
    for quarter in range(5):
        for n in range(3):
            asking = mail_client_from(f"198.51.{quarter}.{n + 1}")  # a new network each
            statuses.append((await ask_for_link(asking, new_verifier()[1])).status_code)
        clock[0] += timedelta(minutes=15)
    assert statuses == [200] * LINKS_PER_ADDRESS_PER_DAY + [429] * 3
    await inbox.wait_for(LINKS_PER_ADDRESS_PER_DAY)
    assert len(inbox.to(ADA)) == LINKS_PER_ADDRESS_PER_DAY


async def test_links_are_counted_per_network(
    client: httpx.AsyncClient, mail_app: Starlette, inbox: Inbox
) -> None:
    for n in range(LINKS_PER_NETWORK):  # an office's people, each their own address
        _, challenge = new_verifier()
        shown_code(await ask_for_link(client, challenge, f"colleague{n}@example.com"))
    _, challenge = new_verifier()
    refused = await ask_for_link(client, challenge, "one.more@example.com")
    assert refused.status_code == 429
    assert "Too many sign-in links asked for from your network" in refused.text
    german = await client.post(
        "/auth/email/send",
        data={"challenge": challenge, "email": "noch@example.com", "name": "N", "lang": "de"},
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert "Zu viele Anmeldelinks aus deinem Netzwerk angefordert" in german.text
    # Another network is counted apart.
    transport = httpx.ASGITransport(app=mail_app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as elsewhere:
        shown_code(await ask_for_link(elsewhere, challenge, "one.more@example.com"))
    await inbox.wait_for(LINKS_PER_NETWORK + 1)
    assert [m["To"] for m in inbox.messages].count("one.more@example.com") == 1


async def test_a_link_takes_a_few_wrong_codes_then_not_even_the_right_one(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    """Four digits are guessed in 10,000 tries; a link allows five (docs/sign-in.md)."""
    verifier, challenge = new_verifier()
    code = shown_code(await ask_for_link(client, challenge))
    link = link_in(await sign_in_mail(inbox), "/auth/email/link")
    wrong = [f"{n:04d}" for n in range(10) if f"{n:04d}" != code][:CODE_TRIES]
    for guess in wrong:
        assert (await type_code(client, link, guess)).status_code == 422
    late = await type_code(client, link, code)
    assert late.status_code == 429
    assert "Too many wrong codes for this link" in late.text
    assert (await exchange(client, verifier, None)).status_code == 202  # nobody signed in


async def test_a_start_or_a_link_form_from_elsewhere_is_refused(
    client: httpx.AsyncClient,
) -> None:
    _, challenge = new_verifier()
    typed = await client.get("/auth/email/start", params={"challenge": challenge})
    assert typed.status_code == 403
    assert "Sign-in stopped" in typed.text
    foreign = await client.post(
        "/auth/email/start", data={"challenge": challenge},
        headers={"Origin": "https://attacker.example"},
    )  # fmt: skip
    assert foreign.status_code == 403
    sent_from_elsewhere = await client.post(
        "/auth/email/send", data={"challenge": challenge, "email": ADA, "name": "Ada"},
        headers={"Origin": "https://attacker.example"},
    )  # fmt: skip
    assert sent_from_elsewhere.status_code == 403
    not_ours = await ask_for_link(client, "not-a-challenge")
    assert not_ours.status_code == 400
    assert "not started by the comment form" in not_ours.text


async def test_a_link_that_was_altered_or_is_old_says_to_ask_again(
    client: httpx.AsyncClient, inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, challenge = new_verifier()
    sixteen_minutes_ago = int(datetime.now(UTC).timestamp()) - 16 * 60
    monkeypatch.setattr(
        itsdangerous.TimestampSigner, "get_timestamp", lambda self: sixteen_minutes_ago
    )
    code = shown_code(await ask_for_link(client, challenge))
    monkeypatch.undo()
    link = link_in(await sign_in_mail(inbox), "/auth/email/link")
    late = await client.get(link)
    assert late.status_code == 400
    assert "expired or is not valid" in late.text
    token = link.split("token=")[1]
    pressed = await client.post(
        "/auth/email/link", data={"token": token, "code": code}, headers=OWN_ORIGIN
    )
    assert pressed.status_code == 400
    assert "Ask for a new one from the comment form" in pressed.text

    altered = await client.get(link[:-4] + ("AAAA" if not link.endswith("AAAA") else "BBBB"))
    assert altered.status_code == 400
    assert "expired or is not valid" in altered.text


async def test_without_mail_there_is_no_email_sign_in(tmp_path: Path, database_url: str) -> None:
    app = create_app(make_settings(tmp_path / "data", database_url=database_url))
    async with app.router.lifespan_context(app):
        await add_site(app.state.widget.storage, "blog", [BLOG])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            query = {key: value for key, value in PAGE.items() if key != "site"}
            document = await client.get("/embed/blog/thread", params=query)
            assert document.status_code == 200
            assert 'data-provider="email"' not in document.text
            _, challenge = new_verifier()
            page = await start_sign_in(client, "email", challenge)
            assert page.status_code == 404
            assert "does not sign in by email" in page.text


async def test_turning_email_links_off_reaches_readers_who_revalidate(
    tmp_path: Path, database_url: str
) -> None:
    """A restart with `email_sign_in=false` is a new document: a browser that kept the old
    one (with its "Email link", which now leads nowhere) gets the new one, not a 304."""
    query = {key: value for key, value in PAGE.items() if key != "site"}
    kept = ""
    for offered in (True, False):
        settings = mail_settings(tmp_path, database_url, 2525, email_sign_in=offered)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            if offered:
                await add_site(app.state.widget.storage, "blog", [BLOG])
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
                headers = {"If-None-Match": kept} if kept else {}
                document = await client.get("/embed/blog/thread", params=query, headers=headers)
                assert document.status_code == 200
                assert ('data-provider="email"' in document.text) is offered
                kept = document.headers["etag"]


async def test_the_sign_in_email_is_in_the_frames_language(
    client: httpx.AsyncClient, inbox: Inbox
) -> None:
    _, challenge = new_verifier()
    form = await client.post(
        "/auth/email/start", data={"challenge": challenge, "lang": "pl"}, headers=OWN_ORIGIN
    )
    assert '<input type="hidden" name="lang" value="pl">' in form.text
    assert '<html lang="pl" dir="ltr">' in form.text
    assert "<h1>Zaloguj się e-mailem</h1>" in form.text
    unnamed = await client.post(
        "/auth/email/send",
        data={"challenge": challenge, "email": ADA, "name": "", "lang": "pl"},
        headers=OWN_ORIGIN,
    )
    assert unnamed.status_code == 422
    assert "Wpisz imię widoczne przy Twoich komentarzach." in unnamed.text
    sent = await client.post(
        "/auth/email/send",
        data={"challenge": challenge, "email": ADA, "name": "Ada", "lang": "pl"},
        headers=OWN_ORIGIN,
    )
    assert sent.status_code == 200
    assert "<h1>Sprawdź pocztę</h1>" in sent.text
    (message,) = await inbox.wait_for(1)
    assert message["Subject"] == "Zaloguj się, aby komentować"
    assert "Ktoś (mamy nadzieję, że Ty) chce się zalogować" in body_of(message)
    assert f"{ADA}" in body_of(message)
    # The link's page, opened from the mailbox, in the language the sign-in was asked in.
    page = await client.get(link_in(message, "/auth/email/link"))
    assert '<html lang="pl" dir="ltr">' in page.text
    assert f"Logowanie do komentowania jako {ADA}." in page.text
    token = link_in(message, "/auth/email/link").split("token=")[1]
    wrong = await client.post(
        "/auth/email/link", data={"token": token, "code": "0000x"}, headers=OWN_ORIGIN
    )
    assert "To nie jest kod widoczny w oknie logowania." in wrong.text
