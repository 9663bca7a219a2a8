"""Passkeys through the app, with a software authenticator that signs for real
(tests/authenticator.py): a signed-in commenter adds one in the popup, and the frame that
started a sign-in gets a session for that account once the popup's assertion checks out.
Whatever is not that (another challenge, a replay, another origin, a copied credential, an
unknown one) is a 4xx that says what to do. (In Chromium: tests/browser/test_passkeys_in_browser.py.)"""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.authenticator import Authenticator, b64, page_options
from tests.helpers import (
    EMBED,
    OWN_ORIGIN,
    PUBLIC_URL,
    client_of,
    loaded_at_start,
    make_settings,
    number_again,
    start_sign_in,
)
from tests.signing_in import exchange, login_code, me, new_verifier, signed_in_commenter
from widget.app import create_app
from widget.records import User
from widget.views.i18n import Translator

SESSION = "ann-session"


async def signed_in_user(app: Starlette, subject: str = "ann", token: str = SESSION) -> User:
    user, _ = await signed_in_commenter(app, subject, subject.title(), token=token)
    return user


async def open_passkeys(
    client: httpx.AsyncClient, token: str = SESSION, **fields: str
) -> httpx.Response:
    """What the frame does on "Add a passkey": an owner token, posted into the popup (with the
    frame's `lang`, as `fields`)."""
    answer = await client.post(
        "/api/v1/auth/passkey-owner", json={},
        headers={**OWN_ORIGIN, "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return await client.post(
        "/auth/passkey/manage", data={"owner": answer.json()["owner"], **fields},
        headers=OWN_ORIGIN,
    )  # fmt: skip


async def add_passkey(
    client: httpx.AsyncClient, authenticator: Authenticator, name: str = "My phone"
) -> httpx.Response:
    page = await open_passkeys(client)
    assert page.status_code == 200, page.text
    credential = authenticator.create(page_options(page.text))
    return await client.post(
        "/auth/passkey/add", data={"credential": credential, "name": name}, headers=OWN_ORIGIN
    )


async def start(client: httpx.AsyncClient, **fields: str) -> tuple[str, dict[str, object]]:
    """The frame's passkey button: the popup's page, with the options it asks the browser."""
    verifier, challenge = new_verifier()
    page = await start_sign_in(client, "passkey", challenge, **fields)
    assert page.status_code == 200, page.text
    return verifier, page_options(page.text)


async def finish(client: httpx.AsyncClient, credential: str) -> httpx.Response:
    return await client.post(
        "/auth/passkey/finish", data={"credential": credential}, headers=OWN_ORIGIN
    )


def error_of(page: httpx.Response) -> str:
    """What the popup page hands the frame as the reason."""
    match = re.search(r'data-error="([^"]*)"', page.text)
    assert match, page.text
    return html.unescape(match.group(1))


@pytest.fixture
async def phone(client: httpx.AsyncClient, app: Starlette) -> Authenticator:
    await signed_in_user(app)
    authenticator = Authenticator(PUBLIC_URL)
    added = await add_passkey(client, authenticator)
    assert added.status_code == 200, added.text
    return authenticator


async def test_a_passkey_added_while_signed_in_signs_that_account_in_from_the_frame(
    client: httpx.AsyncClient, app: Starlette, phone: Authenticator
) -> None:
    page = await open_passkeys(client)
    assert "My phone" in page.text
    options = page_options(page.text)
    # Discoverable, user verification preferred, and this one excluded from a second adding.
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["rp"]["id"] == "comments.localhost"
    assert [c["id"] for c in options["excludeCredentials"]] == [b64(phone.credential_id)]

    verifier, sign_in_options = await start(client)
    assert sign_in_options["rpId"] == "comments.localhost"
    assert sign_in_options.get("allowCredentials", []) == []  # the authenticator offers its own
    done = await finish(client, phone.get(sign_in_options))
    assert done.status_code == 200, done.text
    session = await exchange(client, verifier, login_code(done.text))
    assert session.status_code == 200, session.text
    assert session.json()["user"]["name"] == "Ann"
    assert (await me(client, session.json()["token"]))["user"]["name"] == "Ann"

    stored = await app.state.widget.storage.list_passkeys(1)
    assert [(p.name, p.sign_count, p.transports) for p in stored] == [
        ("My phone", 1, ("internal",))
    ]
    assert stored[0].last_used_at is not None


async def test_only_our_frame_starts_a_passkey_sign_in(client: httpx.AsyncClient) -> None:
    _, challenge = new_verifier()
    for answer in (
        await client.get("/auth/passkey/start"),
        await client.post(
            "/auth/passkey/start",
            data={"challenge": challenge},
            headers={"Origin": "https://evil.example"},
        ),
    ):
        assert answer.status_code == 403
        assert "did not come from a comment form" in answer.text
    bad = await client.post("/auth/passkey/start", data={"challenge": "x"}, headers=OWN_ORIGIN)
    assert bad.status_code == 400
    assert "not started by the comment form" in error_of(bad)


async def test_an_answer_to_another_challenge_is_refused(
    client: httpx.AsyncClient, phone: Authenticator
) -> None:
    _, options = await start(client)
    answer = await finish(client, phone.get(options, challenge="b3RoZXItY2hhbGxlbmdl"))
    assert answer.status_code == 400
    assert "does not fit this sign-in" in error_of(answer)


async def test_an_answer_made_on_another_origin_is_refused(
    client: httpx.AsyncClient, phone: Authenticator
) -> None:
    _, options = await start(client)
    answer = await finish(client, phone.get(options, origin="https://evil.example"))
    assert answer.status_code == 400
    assert "does not fit this sign-in" in error_of(answer)


async def test_an_answer_naming_another_account_is_refused(
    client: httpx.AsyncClient, phone: Authenticator
) -> None:
    _, options = await start(client)
    phone.user_handle = b"another account"  # the authenticator's record of whose it is
    answer = await finish(client, phone.get(options))
    assert answer.status_code == 400
    assert "does not belong to the account it names" in error_of(answer)


async def test_an_add_ceremony_cannot_finish_a_sign_in(
    client: httpx.AsyncClient, phone: Authenticator
) -> None:
    added = page_options((await open_passkeys(client)).text)  # the popup holds this one now
    answer = await finish(client, phone.get({"rpId": added["rp"]["id"], **added}))
    assert answer.status_code == 400
    assert "no longer valid" in error_of(answer)


async def test_a_replayed_answer_is_refused_even_with_the_popups_old_cookie(
    client: httpx.AsyncClient, phone: Authenticator
) -> None:
    _, options = await start(client)
    popup_cookie = client.cookies.get("widget_passkey")
    credential = phone.get(options)
    assert (await finish(client, credential)).status_code == 200
    again = await finish(client, credential)  # the ceremony left the popup's session
    assert again.status_code == 400
    assert "no longer valid" in error_of(again)
    client.cookies.set("widget_passkey", popup_cookie or "", domain="comments.localhost")
    replayed = await finish(client, credential)  # the session as it was: the challenge is spent
    assert replayed.status_code == 400
    assert "used already" in error_of(replayed)


async def test_a_copied_passkey_whose_counter_went_back_is_refused_and_logged(
    client: httpx.AsyncClient, phone: Authenticator, caplog: pytest.LogCaptureFixture
) -> None:
    copy = phone.clone()
    for _ in range(3):
        verifier, options = await start(client)
        assert (await finish(client, phone.get(options))).status_code == 200
    verifier, options = await start(client)
    with caplog.at_level(logging.WARNING, logger="widget.auth.passkeys"):
        refused = await finish(client, copy.get(options))  # counts 1, after 3
    assert refused.status_code == 403
    assert "its use counter went backwards" in error_of(refused)
    assert "counter 1 after 3" in caplog.text
    # The frame, asking with its verifier (popup cut off), learns the same reason.
    polled = await exchange(client, verifier, None)
    assert polled.status_code == 400
    assert "its use counter went backwards" in polled.json()["error"]


async def test_a_refusal_is_said_in_the_frames_language_in_the_popup_and_to_its_poll(
    client: httpx.AsyncClient, phone: Authenticator
) -> None:
    copy = phone.clone()
    verifier, options = await start(client, lang="de")
    assert (await finish(client, phone.get(options))).status_code == 200
    verifier, options = await start(client, lang="de")
    refused = await finish(client, copy.get(options))
    assert refused.status_code == 403
    german = (
        "Dieser Passkey wurde abgelehnt: Sein Nutzungszähler ist zurückgegangen, was passiert,"
        " wenn eine Kopie von ihm verwendet wird. Melde dich anders an und entferne den Passkey,"
        " wenn du ihn nicht kopiert hast."
    )
    assert error_of(refused) == german
    assert '<html lang="de" dir="ltr"' in refused.text
    assert "<h1>Anmeldung fehlgeschlagen</h1>" in refused.text
    # The frame that polls (its popup cut off) asks in its language, as every call of its does.
    polled = await client.post(
        "/api/v1/auth/session", json={"verifier": verifier},
        headers={**OWN_ORIGIN, "Accept-Language": "de"},
    )  # fmt: skip
    assert polled.status_code == 400
    assert polled.json()["error"] == german


async def test_the_passkey_popup_speaks_the_frames_language(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    await signed_in_user(app)
    french = await open_passkeys(client, lang="fr")
    assert french.status_code == 200, french.text
    assert '<html lang="fr" dir="ltr"' in french.text
    assert "<h1>Vos clés d’accès</h1>" in french.text
    assert "Clés d’accès de Ann : connectez-vous pour commenter" in french.text
    assert "Aucune clé d’accès pour l’instant." in french.text
    assert ">Ajouter une clé d’accès</button>" in french.text
    # What passkey.js may have to say, in the page's language.
    assert 'data-none-used="Aucune clé d’accès n’a été utilisée.' in french.text
    assert "Passkey" not in french.text.replace("passkey", "")  # no English word left

    # The popup's later pages keep the language its first page was posted with.
    phone = Authenticator(PUBLIC_URL)
    added = await client.post(
        "/auth/passkey/add", data={"credential": phone.create(page_options(french.text)),
                                   "name": "Mon téléphone"}, headers=OWN_ORIGIN,
    )  # fmt: skip
    assert added.status_code == 200, added.text
    assert "Clé d’accès « Mon téléphone » ajoutée." in added.text
    stored = (await app.state.widget.storage.list_passkeys(1))[0]
    assert f"ajoutée le {Translator('fr').date(stored.created_at)}</small>" in added.text
    unchosen = await client.post("/auth/passkey/remove", data={"passkey": ""}, headers=OWN_ORIGIN)
    assert unchosen.status_code == 400
    assert "Choisissez une clé d’accès." in unchosen.text

    # Arabic, right to left, for signing in; its refusals too.
    _, challenge = new_verifier()
    arabic = await start_sign_in(client, "passkey", challenge, lang="ar")
    assert arabic.status_code == 200, arabic.text
    assert '<html lang="ar" dir="rtl"' in arabic.text
    assert "<h1>تسجيل الدخول بمفتاح مرور</h1>" in arabic.text
    assert ">استخدام مفتاح مرور</button>" in arabic.text
    nothing = await finish(client, "not json")
    assert nothing.status_code == 400
    assert '<html lang="ar" dir="rtl"' in nothing.text
    assert error_of(nothing) == "لم يرسل المتصفح أي مفتاح مرور؛ حاول مجددًا."


async def test_an_unknown_passkey_is_refused(
    client: httpx.AsyncClient, phone: Authenticator
) -> None:
    _, options = await start(client)
    stranger = Authenticator(PUBLIC_URL)
    stranger.user_handle = phone.user_handle
    answer = await finish(client, stranger.get(options))
    assert answer.status_code == 400
    assert "This passkey is not known here" in error_of(answer)


@pytest.mark.parametrize(
    "credential",
    ["", "not json", "[]", '{"id": "x"}', '{"id": 1, "response": {}}',
     '{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"clientDataJSON": "!"}}',
     "x" * 20_000],
)  # fmt: skip
async def test_nonsense_in_place_of_a_passkey_is_a_400(
    client: httpx.AsyncClient, phone: Authenticator, credential: str
) -> None:
    await start(client)
    answer = await finish(client, credential)
    assert answer.status_code == 400
    assert error_of(answer)


async def test_the_owner_lists_and_removes_their_passkeys_and_nobody_elses(
    client: httpx.AsyncClient, app: Starlette, phone: Authenticator
) -> None:
    laptop = await add_passkey(client, Authenticator(PUBLIC_URL), "Laptop")
    assert "Passkey \u201cLaptop\u201d added" in laptop.text
    ids = re.findall(r'name="passkey" value="(\d+)"', laptop.text)
    assert len(ids) == 2 and "My phone" in laptop.text

    await signed_in_user(app, "bob", "bob-session")
    bobs = await open_passkeys(client, "bob-session")
    assert "No passkey yet" in bobs.text
    not_his = await client.post(
        "/auth/passkey/remove", data={"passkey": ids[0]}, headers=OWN_ORIGIN
    )
    assert not_his.status_code == 400
    assert "not one of yours" in not_his.text
    for nonsense in ("", "1e3", "99999999999999999999999"):
        answer = await client.post(
            "/auth/passkey/remove", data={"passkey": nonsense}, headers=OWN_ORIGIN
        )
        assert answer.status_code == 400

    download = await client.post(
        "/api/v1/me/export", json={}, headers={**OWN_ORIGIN, "Authorization": f"Bearer {SESSION}"}
    )
    listed = download.json()["account"]["passkeys"]
    assert [(p["name"], p["last_used_at"]) for p in listed] == [
        ("My phone", None),
        ("Laptop", None),
    ]

    await open_passkeys(client)  # Ann's popup again
    removed = await client.post(
        "/auth/passkey/remove", data={"passkey": ids[0]}, headers=OWN_ORIGIN
    )
    assert removed.status_code == 200
    assert "Passkey removed." in removed.text
    assert "My phone" not in removed.text and "Laptop" in removed.text
    # The removed passkey signs nobody in.
    _, options = await start(client)
    gone = await finish(client, phone.get(options))
    assert gone.status_code == 400
    assert "not known here" in error_of(gone)


async def test_an_owner_token_of_an_erased_account_opens_no_other(
    client: httpx.AsyncClient, app: Starlette, database_url: str
) -> None:
    """Where the next account takes an erased one's number (a SQLite database upgraded to 0014
    after the erasure), an owner token naming only the number would let whoever erased theirs
    add a passkey to the newcomer's account."""
    mallory = await signed_in_user(app, "mallory", "mallory-session")
    owner = await client.post(
        "/api/v1/auth/passkey-owner", json={},
        headers={**OWN_ORIGIN, "Authorization": "Bearer mallory-session"},
    )  # fmt: skip
    erased = await client.post(
        "/api/v1/me/erase", json={"confirm": True},
        headers={**OWN_ORIGIN, "Authorization": "Bearer mallory-session"},
    )  # fmt: skip
    assert erased.status_code == 200, erased.text
    await number_again(database_url, "users", mallory.id)  # as before migration 0014
    ann = await signed_in_user(app)
    assert ann.id == mallory.id
    popup = await client.post(
        "/auth/passkey/manage", data={"owner": owner.json()["owner"]}, headers=OWN_ORIGIN
    )
    assert popup.status_code == 400
    assert "no longer signed in" in popup.text
    assert await app.state.widget.storage.list_passkeys(ann.id) == []


async def test_an_owner_token_opens_nothing_once_its_session_has_ended(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    """An owner token is good for 15 minutes: after the reader signed out, it (or the passkey
    window it was posted into) let whoever held it add a passkey to the account, a way back
    in. It is bound to the session it was got with, and ends with it."""
    ann = await signed_in_user(app)
    bearer = {**OWN_ORIGIN, "Authorization": f"Bearer {SESSION}"}
    owner = await client.post("/api/v1/auth/passkey-owner", json={}, headers=bearer)
    page = await client.post(
        "/auth/passkey/manage", data={"owner": owner.json()["owner"]}, headers=OWN_ORIGIN
    )
    assert page.status_code == 200, page.text
    signed_out = await client.request("DELETE", "/api/v1/auth/session", headers=bearer)
    assert signed_out.json() == {"signed_in": False}

    credential = Authenticator(PUBLIC_URL).create(page_options(page.text))
    added = await client.post(
        "/auth/passkey/add", data={"credential": credential, "name": "Phone"}, headers=OWN_ORIGIN
    )
    again = await client.post(
        "/auth/passkey/manage", data={"owner": owner.json()["owner"]}, headers=OWN_ORIGIN
    )
    for refused in (added, again):
        assert refused.status_code == 400, refused.text
        assert (
            "This window is no longer signed in; close it, sign in again under the comments if"
            " your session ended, and press \u201cAdd a passkey\u201d again."
        ) in html.unescape(refused.text)
    assert await app.state.widget.storage.list_passkeys(ann.id) == []


async def test_adding_needs_a_session_and_answers_for_this_origin(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    nobody = await client.post("/api/v1/auth/passkey-owner", json={}, headers=OWN_ORIGIN)
    assert nobody.status_code == 403
    assert "Sign in first" in nobody.json()["error"]
    forged = await client.post("/auth/passkey/manage", data={"owner": "x"}, headers=OWN_ORIGIN)
    assert forged.status_code == 400
    assert "no longer signed in" in forged.text

    await signed_in_user(app)
    page = await open_passkeys(client)
    elsewhere = Authenticator(PUBLIC_URL).create(
        page_options(page.text), origin="https://evil.example"
    )
    answer = await client.post(
        "/auth/passkey/add", data={"credential": elsewhere, "name": "Evil"}, headers=OWN_ORIGIN
    )
    assert answer.status_code == 400
    assert "does not fit this request" in answer.text
    assert await app.state.widget.storage.list_passkeys(1) == []
    long_name = await client.post(
        "/auth/passkey/add", data={"credential": "{}", "name": "n" * 61}, headers=OWN_ORIGIN
    )
    assert long_name.status_code == 422
    assert "at most 60 characters" in long_name.text


async def test_passkeys_turned_off_are_offered_nowhere(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, passkeys=False)
    async with client_of(create_app(settings)) as client:
        _, challenge = new_verifier()
        start_page = await start_sign_in(client, "passkey", challenge)
        assert start_page.status_code == 404
        assert "does not sign in with passkeys" in error_of(start_page)
        owner = await client.post("/api/v1/auth/passkey-owner", json={}, headers=OWN_ORIGIN)
        assert owner.status_code == 404


@pytest.mark.parametrize(
    ("passkeys", "providers", "offered"),
    [(True, {"github": {"client_id": "a", "client_secret": "b"}}, True),
     (False, {"github": {"client_id": "a", "client_secret": "b"}}, False),
     (True, {}, False)],  # no other way to sign in: nothing to add a passkey to
    ids=["on", "off", "no other way to sign in"],
)  # fmt: skip
async def test_readers_download_no_passkey_buttons_the_writers_script_draws_them(
    tmp_path: Path, passkeys: bool, providers: dict[str, dict[str, str]], offered: bool
) -> None:
    """Issue 15: passkeys add nothing to what a reader downloads for a thread but a flag in
    the document's config; writer.js, which only writers load, draws the two buttons."""
    settings = make_settings(tmp_path, passkeys=passkeys, providers=providers)
    async with client_of(create_app(settings)) as client:
        document = await client.get("/embed/blog/thread", params={**EMBED, "lang": "fr"})
        assert document.status_code == 200
        markup = document.text.split("</style>")[1]  # (the icon's colour is in the style)
        assert "passkey" not in markup.replace('"passkeys": true', "")
        config = json.loads(re.findall(r'id="wg-config">(.*?)</script>', document.text)[0])
        assert config.get("passkeys", False) is offered
        writer = await client.get(config["writer"])  # its words in the frame's language
        assert "Clé d’accès" in writer.text and "Ajouter une clé d’accès" in writer.text


def test_webauthn_is_imported_only_when_a_ceremony_starts() -> None:
    """Passkeys are on by default; what they need is loaded at the first ceremony, not by a
    server that has started and answered."""
    modules = loaded_at_start(["webauthn", "cbor2", "OpenSSL"])
    assert modules == {"webauthn": False, "cbor2": False, "OpenSSL": False}
