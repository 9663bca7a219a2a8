"""The sign-in popup and the frame's side of the handoff, as the HTTP tests play them."""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import joserfc.jwk
import oidc_provider_mock._app
from oidc_provider_mock import User as MockUser
from oidc_provider_mock import run_server_in_thread
from starlette.applications import Starlette

from tests.helpers import (
    OWN_ORIGIN,
    PAGE,
    PUBLIC_URL,
    loopback_http,
    provider_url,
    start_sign_in,
)
from widget.auth.signin import token_hash
from widget.records import Profile, User


@contextlib.contextmanager
def mock_provider(*users: MockUser) -> Iterator[str]:
    """The tests' OpenID provider (oidc-provider-mock) in a thread on loopback, knowing
    `users`: its URL, the issuer to configure."""
    _sign_with_keys_loaded_once()
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://127.0.0.1:{server.server_port}"


_ID_TOKEN_CONFIG = oidc_provider_mock._app.OpenIDCode.get_jwt_config


def _sign_with_keys_loaded_once() -> None:
    """The provider hands authlib its signing key as a JWK dict for every ID token, and
    authlib loads it from that dict each time: 30-50 ms of CPU a token, for an RSA private
    key is checked as it is loaded. It is one key per provider: load each once. (authlib
    takes a loaded key as it is.)"""

    def get_jwt_config(self: Any, grant: Any, client: object = None) -> dict[str, Any]:
        config: dict[str, Any] = _ID_TOKEN_CONFIG(self, grant, client)
        config["key"] = _loaded_key(json.dumps(config["key"], sort_keys=True))
        return config

    oidc_provider_mock._app.OpenIDCode.get_jwt_config = get_jwt_config


@functools.lru_cache(maxsize=16)
def _loaded_key(jwk: str) -> Any:
    return joserfc.jwk.import_key(json.loads(jwk))


def new_verifier() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Popup:
    """What the sign-in popup does, step by step: our start page, the provider, our callback."""

    def __init__(self, client: httpx.AsyncClient, provider: str, name: str = "mock") -> None:
        self.client = client
        self.provider = provider  # the provider's URL
        self.name = name  # what this server calls it
        self.verifier, self.challenge = new_verifier()

    async def start(self, **extra: str) -> str:
        page = await start_sign_in(self.client, self.name, self.challenge, **extra)
        location = provider_url(page)
        assert location.startswith(self.provider)
        return location

    def consent(self, authorize_url: str, sub: str = "alice", deny: bool = False) -> str:
        """At the provider: sign in as `sub` (or refuse); the URL it sends the popup back to."""
        form = {"action": "deny"} if deny else {"sub": sub}
        answer = loopback_http().post(authorize_url, data=form, follow_redirects=False)
        assert answer.status_code == 302, answer.text
        back = answer.headers["location"]
        assert back.startswith(f"{PUBLIC_URL}/auth/{self.name}/callback?")
        return back.removeprefix(PUBLIC_URL)

    async def come_back(self, callback: str) -> httpx.Response:
        return await self.client.get(callback)

    async def sign_in(self, sub: str = "alice") -> str:
        page = await self.come_back(self.consent(await self.start(), sub))
        assert page.status_code == 200, page.text
        return login_code(page.text)


async def exchange(client: httpx.AsyncClient, verifier: str, code: str | None) -> httpx.Response:
    body: dict[str, Any] = {"verifier": verifier}
    if code is not None:
        body["code"] = code
    return await client.post("/api/v1/auth/session", json=body, headers=OWN_ORIGIN)


async def me(
    client: httpx.AsyncClient, token: str | None = None, cookie: str | None = None
) -> dict[str, Any]:
    headers = {**OWN_ORIGIN, **({"Authorization": f"Bearer {token}"} if token else {})}
    if cookie:
        headers["Cookie"] = f"__Host-widget_session={cookie}"
    response = await client.post("/api/v1/me", json={**PAGE}, headers=headers)
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def login_code(page: str) -> str:
    match = re.search(r'data-code="([^"]+)"', page)
    assert match, page
    return match.group(1)


async def signed_in_commenter(
    app: Starlette, subject: str, name: str, *, email: str = "", token: str = ""
) -> tuple[User, dict[str, str]]:
    """An account at a provider ("github") with a session, as a sign-in leaves it: the user,
    and the headers its frame sends (the session token, `session-{subject}` unless given)."""
    storage = app.state.widget.storage
    now = datetime.now(UTC)
    user: User = await storage.upsert_user(Profile("github", subject, name, email=email), now)
    token = token or f"session-{subject}"
    await storage.add_session(User, token_hash(token), user.id, now + timedelta(days=1))
    return user, {**OWN_ORIGIN, "Authorization": f"Bearer {token}"}
