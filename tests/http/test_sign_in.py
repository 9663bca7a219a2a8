"""Sign-in through the app against a real OpenID Connect provider (oidc-provider-mock), and
every way the flow must refuse to be fooled."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import itsdangerous
import pytest
from oidc_provider_mock import User as MockUser
from starlette.applications import Starlette

from tests.helpers import (
    OWN_ORIGIN,
    PAGE,
    PUBLIC_URL,
    make_settings,
    post_comment,
    provider_url,
    running_app,
    start_sign_in,
    with_form_token,
)
from tests.signing_in import Popup, exchange, login_code, me, mock_provider, new_verifier
from widget.sites import change_site_setting

ALICE = {"name": "Alice Liddell", "email": "alice@example.com", "email_verified": True,
         "picture": "https://pictures.example/alice.png"}  # fmt: skip


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    users = [
        MockUser(sub="alice", claims=ALICE),
        MockUser(sub="bob", claims={"name": "Bob", "email": "bob@example.com", "email_verified": False}),
    ]  # fmt: skip
    with mock_provider(*users) as url:
        yield url


@pytest.fixture
async def app(provider: str, tmp_path: Path, database_url: str) -> AsyncIterator[Starlette]:
    providers = {"mock": {"issuer": provider, "client_id": "widget", "client_secret": "s3cret",
                          "display_name": "Mock ID"}}  # fmt: skip
    settings = make_settings(tmp_path, database_url=database_url, providers=providers)
    async with running_app(settings) as app:
        yield app


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


async def test_the_whole_flow(client: httpx.AsyncClient, provider: str) -> None:
    popup = Popup(client, provider)
    authorize = await popup.start()
    query = parse_qs(urlsplit(authorize).query)
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/auth/mock/callback"]
    assert query["code_challenge_method"] == ["S256"]
    assert query["nonce"] and query["state"]
    page = await popup.come_back(popup.consent(authorize))
    assert page.headers["content-security-policy"].endswith("frame-ancestors 'none'")
    assert page.headers["referrer-policy"] == "no-referrer"
    session = await exchange(client, popup.verifier, login_code(page.text))
    assert session.status_code == 200, session.text
    token = session.json()["token"]
    assert session.json()["user"] == {
        "name": "Alice Liddell", "avatar": "https://pictures.example/alice.png", "profile": "",
        "provider": "mock", "provider_name": "Mock ID",
    }  # fmt: skip
    # The session's own cookie, not the note beside it (httpx joins both in one header).
    (cookie,) = [c for c in session.headers.get_list("set-cookie")
                 if c.startswith("__Host-widget_session=")]  # fmt: skip
    attributes = cookie.split("; ")[1:]
    for attribute in ("HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/"):
        assert attribute in attributes
    assert "domain" not in cookie.lower()  # the __Host- prefix: Secure, Path=/, no Domain
    # Either way of carrying the session works: bearer token, or the cookie. (httpx keeps no
    # Secure cookie over http, where browsers do for *.localhost: the test sends it itself.)
    value = re.search(r"^__Host-widget_session=([^;]+)", cookie)
    assert value and value.group(1) == token
    assert (await me(client, token))["user"]["name"] == "Alice Liddell"
    assert (await me(client, cookie=token))["user"]["name"] == "Alice Liddell"
    assert (await me(client))["user"] is None

    # Commenting signed in: no name or email in the form; the account's name and picture.
    posted = await client.post(
        "/api/v1/comments", json=with_form_token({**PAGE, "body": "Signed in!"}),
        headers={**OWN_ORIGIN, "Cookie": f"__Host-widget_session={token}"},
    )  # fmt: skip
    assert posted.status_code == 201, posted.text
    comment = posted.json()["comment"]
    assert comment["author"]["name"] == "Alice Liddell"
    assert comment["author"]["avatar"] == "https://pictures.example/alice.png"
    assert comment["author"]["provider"] == "mock"
    fragment = (await client.get("/embed/blog/thread/fragment", params=PAGE)).text
    assert 'src="https://pictures.example/alice.png"' in fragment
    assert "via Mock ID" in fragment
    # The fragment is still the same for everyone: nothing of the viewer in it.
    assert "alice@example.com" not in fragment

    # Log Out ends the session wherever it was held.
    out = await client.delete(
        "/api/v1/auth/session", headers={**OWN_ORIGIN, "Authorization": f"Bearer {token}"}
    )
    assert out.status_code == 200
    assert "Max-Age=0" in out.headers["set-cookie"]
    assert (await me(client, token))["user"] is None
    assert (await me(client, cookie=token))["user"] is None


async def test_unverified_emails_are_not_kept(
    client: httpx.AsyncClient, app: Starlette, provider: str
) -> None:
    popup = Popup(client, provider)
    session = await exchange(client, popup.verifier, await popup.sign_in("bob"))
    token = session.json()["token"]
    assert (await me(client, token))["user"]["name"] == "Bob"
    posted = await client.post(
        "/api/v1/comments", json=with_form_token({**PAGE, "body": "hi"}),
        headers={**OWN_ORIGIN, "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    comment = await app.state.widget.storage.get_comment(posted.json()["comment"]["id"])
    assert comment.author_name == "Bob"
    assert comment.author_email == ""  # the provider did not vouch for bob@example.com


async def test_consent_denied(client: httpx.AsyncClient, provider: str) -> None:
    popup = Popup(client, provider)
    page = await popup.come_back(popup.consent(await popup.start(), deny=True))
    assert page.status_code == 400
    assert "Sign-in was cancelled. You can close this window." in page.text
    assert "<h1>Sign-in cancelled</h1>" in page.text
    assert 'data-error="Sign-in was cancelled."' in page.text  # what the comment form says
    assert 'data-code=""' in page.text


async def test_missing_state(client: httpx.AsyncClient, provider: str) -> None:
    popup = Popup(client, provider)
    callback = popup.consent(await popup.start())
    query = parse_qs(urlsplit(callback).query)
    page = await client.get("/auth/mock/callback", params={"code": query["code"][0]})
    assert page.status_code == 400
    assert "not started here" in page.text


async def test_foreign_state(client: httpx.AsyncClient, app: Starlette, provider: str) -> None:
    """A callback meant for another browser's popup gets nothing in this one."""
    victim = Popup(client, provider)
    callback = victim.consent(await victim.start())
    transport = httpx.ASGITransport(app=app, client=("198.51.100.1", 4000))
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as attacker:
        other = Popup(attacker, provider)
        await other.start()  # the attacker's own flow, with its own state
        page = await attacker.get(callback)
    assert page.status_code == 400
    assert 'data-code=""' in page.text


async def test_replayed_state(client: httpx.AsyncClient, provider: str) -> None:
    popup = Popup(client, provider)
    callback = popup.consent(await popup.start())
    assert (await popup.come_back(callback)).status_code == 200
    again = await popup.come_back(callback)
    assert again.status_code == 400
    assert "already used" in again.text


async def test_replayed_authorization_code(client: httpx.AsyncClient, provider: str) -> None:
    first = Popup(client, provider)
    used = parse_qs(urlsplit(first.consent(await first.start())).query)["code"][0]
    await first.come_back(f"/auth/mock/callback?{urlencode({'code': used, 'state': 'x'})}")
    second = Popup(client, provider)
    state = parse_qs(urlsplit(await second.start()).query)["state"][0]
    # A fresh, valid state, with a code the provider handed out (and we spent) before:
    await client.get(f"/auth/mock/callback?{urlencode({'code': used, 'state': state})}")
    third = Popup(client, provider)
    callback = third.consent(await third.start())
    code = parse_qs(urlsplit(callback).query)["code"][0]
    assert (await third.come_back(callback)).status_code == 200
    fourth = Popup(client, provider)
    state = parse_qs(urlsplit(await fourth.start()).query)["state"][0]
    replay = await client.get(f"/auth/mock/callback?{urlencode({'code': code, 'state': state})}")
    assert replay.status_code == 400
    assert 'data-code=""' in replay.text


async def test_login_codes_are_single_use(client: httpx.AsyncClient, provider: str) -> None:
    popup = Popup(client, provider)
    code = await popup.sign_in()
    assert (await exchange(client, popup.verifier, code)).status_code == 200
    replay = await exchange(client, popup.verifier, code)
    assert replay.status_code == 400
    assert "used already" in replay.json()["error"]


async def test_a_login_code_needs_its_own_verifier(
    client: httpx.AsyncClient, provider: str
) -> None:
    popup = Popup(client, provider)
    code = await popup.sign_in()
    stranger, _ = new_verifier()
    wrong = await exchange(client, stranger, code)
    assert wrong.status_code == 400
    # The right holder still can: a wrong guess burns nothing.
    assert (await exchange(client, popup.verifier, code)).status_code == 200
    bad = await exchange(client, "short", code)
    assert bad.status_code == 400


async def test_expired_login_codes(client: httpx.AsyncClient, app: Starlette) -> None:
    storage = app.state.widget.storage
    from widget.auth.signin import challenge_of, token_hash
    from widget.records import Profile

    user = await storage.upsert_user(Profile("mock", "late", "Late"), datetime.now(UTC))
    verifier, _ = new_verifier()
    past = datetime.now(UTC) - timedelta(seconds=1)
    await storage.add_login_code(token_hash("old-code"), challenge_of(verifier), user.id, past)
    response = await exchange(client, verifier, "old-code")
    assert response.status_code == 400
    assert "expired" in response.json()["error"]


async def test_polling_with_the_verifier(client: httpx.AsyncClient, provider: str) -> None:
    """When the provider cut window.opener, the iframe polls with its verifier."""
    popup = Popup(client, provider)
    waiting = await exchange(client, popup.verifier, None)
    assert waiting.status_code == 202
    assert waiting.json() == {"pending": True}
    await popup.sign_in()
    done = await exchange(client, popup.verifier, None)
    assert done.status_code == 200
    assert done.json()["user"]["name"] == "Alice Liddell"
    assert (await exchange(client, popup.verifier, None)).status_code == 202  # used up


async def test_nonce_mismatch(client: httpx.AsyncClient, app: Starlette, provider: str) -> None:
    """An ID token whose nonce is not this flow's is refused (here: the flow's recorded nonce
    is changed, as if the token had been minted for another sign-in)."""
    popup = Popup(client, provider)
    callback = popup.consent(await popup.start())
    secret = app.state.widget.settings.secret_key
    signer = itsdangerous.TimestampSigner(secret)
    cookie = client.cookies["widget_sign_in_flow"]
    data = json.loads(base64.b64decode(signer.unsign(cookie.encode())))
    for key, value in data.items():
        if key.startswith("_state_") and isinstance(value, dict):
            value["data"]["nonce"] = "not-the-nonce-sent"
    forged = signer.sign(base64.b64encode(json.dumps(data).encode())).decode()
    client.cookies.set("widget_sign_in_flow", forged, domain="comments.localhost", path="/auth")
    page = await popup.come_back(callback)
    assert page.status_code == 400
    assert 'data-code=""' in page.text


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https:evil.example", "http://x@evil.example/"]
)
async def test_no_open_redirects(client: httpx.AsyncClient, provider: str, target: str) -> None:
    """No parameter of ours names a place to go: every redirect goes to the configured URI."""
    popup = Popup(client, provider)
    names = ("next", "return", "return_to", "redirect", "redirect_uri", "url", "continue")
    authorize = await popup.start(**dict.fromkeys(names, target))
    query = parse_qs(urlsplit(authorize).query)
    assert query["redirect_uri"] == [f"{PUBLIC_URL}/auth/mock/callback"]
    assert "evil" not in authorize
    callback = popup.consent(authorize)
    page = await client.get(callback + "&" + urlencode(dict.fromkeys(names, target)))
    assert page.status_code == 200
    assert "location" not in page.headers
    assert "evil" not in page.text


async def test_bad_starts(client: httpx.AsyncClient) -> None:
    unknown = await start_sign_in(client, "nope", "x" * 43)
    assert unknown.status_code == 404
    assert "no sign-in with &#39;nope&#39;" in unknown.text
    no_challenge = await start_sign_in(client, "mock", "")
    assert no_challenge.status_code == 400
    assert "not started by the comment form" in no_challenge.text


async def test_a_sign_in_started_by_a_link_or_another_site_gives_nobody_a_session(
    client: httpx.AsyncClient, provider: str
) -> None:
    """Someone who made a verifier sends its challenge to a victim, as a link or from a page:
    no start, so nothing the victim does next mints a login code for that challenge."""
    attacker = Popup(client, provider)
    by_link = await client.get("/auth/mock/start", params={"challenge": attacker.challenge})
    assert by_link.status_code == 403
    assert "did not come from a comment form" in by_link.text
    assert "location" not in by_link.headers and "set-cookie" not in by_link.headers
    for origin in ("https://evil.example", "null", PUBLIC_URL + ".evil.example", None):
        headers = {"Origin": origin} if origin else {}
        foreign = await client.post(
            "/auth/mock/start", data={"challenge": attacker.challenge}, headers=headers
        )
        assert foreign.status_code == 403, origin
        assert "location" not in foreign.headers and "set-cookie" not in foreign.headers
    # The victim then signs in for real, from their own frame: a different challenge.
    victim = Popup(client, provider)
    await victim.sign_in()
    waiting = await exchange(client, attacker.verifier, None)
    assert waiting.status_code == 202
    assert "token" not in waiting.json()
    assert (await exchange(client, victim.verifier, None)).status_code == 200


async def test_sign_ins_started_from_one_network_are_bounded(
    client: httpx.AsyncClient, provider: str
) -> None:
    from widget.auth.signin import STARTS_PER_NETWORK

    for _ in range(STARTS_PER_NETWORK):
        await Popup(client, provider).start()
    refused = await start_sign_in(client, "mock", new_verifier()[1])
    assert refused.status_code == 429
    assert "Too many sign-ins from your network" in refused.text


async def test_a_refused_or_failed_sign_in_ends_the_frames_polling_with_the_reason(
    client: httpx.AsyncClient, provider: str
) -> None:
    popup = Popup(client, provider)
    page = await popup.come_back(popup.consent(await popup.start(), deny=True))
    assert page.status_code == 400
    polled = await exchange(client, popup.verifier, None)
    assert polled.status_code == 400
    assert polled.json()["error"] == "Sign-in was cancelled."
    assert (await exchange(client, popup.verifier, None)).status_code == 202  # told once


async def test_why_a_sign_in_failed_is_said_in_the_frames_language(
    client: httpx.AsyncClient, provider: str
) -> None:
    popup = Popup(client, provider)
    callback = popup.consent(await popup.start(lang="ja"))
    # The provider sends the popup back with an error of its own in place of a code.
    state = parse_qs(urlsplit(callback).query)["state"][0]
    page = await client.get(
        "/auth/mock/callback", params={"error": "temporarily_unavailable", "state": state}
    )
    assert page.status_code == 400
    japanese = "プロバイダーでログインできませんでした（temporarily_unavailable）。"
    assert '<html lang="ja" dir="ltr"' in page.text
    assert "<h1>ログインできませんでした</h1>" in page.text
    assert f'data-error="{japanese}"' in page.text  # what the frame shows after "Sign-in failed:"
    # The frame that polls (its popup cut off) is told in the language it asks in.
    polled = await client.post(
        "/api/v1/auth/session", json={"verifier": popup.verifier},
        headers={**OWN_ORIGIN, "Accept-Language": "ja"},
    )  # fmt: skip
    assert polled.status_code == 400
    assert polled.json()["error"] == japanese


async def test_guests_may_not_pass_as_users(client: httpx.AsyncClient, provider: str) -> None:
    """A guest typing a signed-in user's email gets nothing of that account."""
    popup = Popup(client, provider)
    token = (await exchange(client, popup.verifier, await popup.sign_in())).json()["token"]
    mine = await client.post(
        "/api/v1/comments", json=with_form_token({**PAGE, "body": "mine"}),
        headers={**OWN_ORIGIN, "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    guest = await post_comment(
        client, body="impostor", name="Alice Liddell", email="alice@example.com"
    )
    assert guest.status_code == 201
    assert guest.json()["comment"]["author"]["avatar"] != "https://pictures.example/alice.png"
    assert guest.json()["comment"]["author"]["provider"] is None
    assert (await me(client))["user"] is None
    # And the guest cannot edit the user's comment.
    edit = await client.patch(
        f"/api/v1/comments/{mine.json()['comment']['id']}",
        json={"body": "hijack"},
        headers=OWN_ORIGIN,
    )
    assert edit.status_code == 403


async def test_signed_in_users_edit_and_like_as_themselves(
    client: httpx.AsyncClient, provider: str
) -> None:
    popup = Popup(client, provider)
    token = (await exchange(client, popup.verifier, await popup.sign_in())).json()["token"]
    auth = {**OWN_ORIGIN, "Authorization": f"Bearer {token}"}
    created = await client.post(
        "/api/v1/comments", json=with_form_token({**PAGE, "body": "tpyo"}), headers=auth
    )
    comment_id = created.json()["comment"]["id"]
    state = (await me(client, token))["editable"]
    assert list(state) == [str(comment_id)]
    # No edit token needed: the comment follows the user.
    edit = await client.patch(f"/api/v1/comments/{comment_id}", json={"body": "typo"}, headers=auth)
    assert edit.status_code == 200
    for _ in range(2):
        liked = await client.post(
            "/api/v1/likes", json={**PAGE, "comment": comment_id, "liked": True}, headers=auth
        )
        assert liked.json()["count"] == 1  # once per user, whatever the browser
    assert (await me(client, token))["liked"] == [comment_id]


async def test_sites_may_require_sign_in(
    client: httpx.AsyncClient, app: Starlette, provider: str
) -> None:
    await change_site_setting(app.state.widget.storage, "blog", "sign_in", "required")
    guest = await post_comment(client, body="guest")
    assert guest.status_code == 403
    assert "sign in" in guest.json()["error"]
    # As the frame sends it there: the guest fields are hidden, so empty. The answer was
    # "Enter your name. Enter your email address", about fields the reader cannot see.
    hidden_fields = await client.post(
        "/api/v1/comments", json=with_form_token({**PAGE, "body": "guest", "name": "", "email": ""}),
        headers=OWN_ORIGIN,
    )  # fmt: skip
    assert hidden_fields.status_code == 403
    assert hidden_fields.json() == {"error": "This site asks commenters to sign in first."}
    document = await client.get(
        "/embed/blog/thread", params={k: v for k, v in PAGE.items() if k != "site"}
    )
    assert "Sign in to comment:" in document.text
    popup = Popup(client, provider)
    token = (await exchange(client, popup.verifier, await popup.sign_in())).json()["token"]
    signed_in = await client.post(
        "/api/v1/comments", json=with_form_token({**PAGE, "body": "member"}),
        headers={**OWN_ORIGIN, "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert signed_in.status_code == 201


async def test_the_popup_speaks_the_frames_language(
    client: httpx.AsyncClient, provider: str
) -> None:
    # The frame posts its language with the start; the callback, back from the provider,
    # finds it kept with the flow's state.
    popup = Popup(client, provider)
    page = await start_sign_in(client, "mock", popup.challenge, lang="fr")
    assert '<html lang="fr" dir="ltr"' in page.text
    assert "<h1>Connexion avec " in page.text
    assert "Redirection en cours…" in page.text
    assert ">Continuer</a>" in page.text
    back = await popup.come_back(popup.consent(provider_url(page)))
    assert back.status_code == 200
    assert "<h1>Vous êtes connecté</h1>" in back.text
    assert "Vous pouvez fermer cette fenêtre et revenir aux commentaires." in back.text

    # A start that did not come from the frame: stopped, in the language the browser asks.
    refused = await client.get("/auth/mock/start", headers={"Accept-Language": "ar"})
    assert refused.status_code == 403
    assert '<html lang="ar" dir="rtl"' in refused.text
    assert "<h1>أُوقف تسجيل الدخول</h1>" in refused.text
