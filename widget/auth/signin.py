"""Sign-in inside a cross-site iframe (see DESIGN.md, "Sign-in inside a cross-site iframe").

1. The iframe makes a random verifier and opens a popup on our origin with its challenge
   (base64url of its SHA-256): `/auth/{provider}/start?challenge=…`.
2. The popup runs the authorization code flow with authlib: PKCE S256, state, and a nonce for
   OpenID Connect; redirect URIs come from settings, never from request headers.
3. The callback reads the profile, drops the provider's tokens, and mints a login code: single
   use, valid for a minute, bound to the challenge. The popup hands it to the iframe with
   `opener.postMessage` to our own origin; when the provider's Cross-Origin-Opener-Policy has
   cut the opener, the iframe polls with its verifier instead.
4. The iframe exchanges code (or verifier alone, when polling) for a session: a Partitioned
   cookie, and the same token in the answer for browsers that refuse even those cookies.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import Response

from widget.auth.tokens import token_hash
from widget.config import Settings
from widget.errors import BadRequest, NotFound
from widget.outbound import AddressRefused, Outbound
from widget.storage import Profile, Storage, User

from .providers import (
    HTTP_TIMEOUT_S,
    ProviderConfig,
    ProviderError,
    configured_providers,
    mastodon_instance,
    oidc_profile,
)

__all__ = ["SESSION_COOKIE", "NewSession", "SignIn", "SignInError", "challenge_of", "token_hash"]

LOGIN_CODE_TTL = timedelta(seconds=60)
SESSION_COOKIE = "widget_session"
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_FLOW_KEY = "widget_sign_in"
# What authlib raises when an ID token fails validation (signature, nonce, issuer, audience).
_ID_TOKEN_ERRORS: tuple[type[Exception], ...] = (JoseError,)


class SignInError(Exception):
    """The sign-in failed in a way the person can understand; shown in the popup."""


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class NewSession:
    def __init__(self, token: str, user: User, max_age_s: int) -> None:
        self.token = token
        self.user = user
        self.max_age_s = max_age_s


class SignIn:
    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        outbound: Outbound,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.outbound = outbound
        # Tests put a transport here to stand in for providers that cannot be reached.
        self.transport = transport
        self.providers = configured_providers(settings.providers)
        self.oauth = OAuth()
        for config in self.providers.values():
            if not config.needs_instance:
                self._register(config.name, config, config.client_id, config.client_secret)

    # -- the popup ---------------------------------------------------------------------------

    def provider(self, name: str) -> ProviderConfig:
        config = self.providers.get(name)
        if config is None:
            raise NotFound(f"There is no sign-in with {name!r} on this server.")
        return config

    def redirect_uri(self, name: str) -> str:
        return f"{self.settings.public_url}/auth/{name}/callback"

    async def start(self, request: Request, name: str, challenge: str, instance: str) -> Response:
        """Send the popup to the provider, keeping the challenge in the popup's own session."""
        config = self.provider(name)
        if not _CHALLENGE.match(challenge):
            raise BadRequest("This sign-in was not started by the comment form; start again.")
        client = await self._client(config, instance)
        flow = {"provider": name, "challenge": challenge, "instance": instance}
        request.session[_FLOW_KEY] = flow
        response: Response = await client.authorize_redirect(request, self.redirect_uri(name))
        return response

    async def finish(self, request: Request, name: str) -> str:
        """Complete the code flow and return a login code for the iframe."""
        config = self.provider(name)
        flow = request.session.pop(_FLOW_KEY, None)
        error = request.query_params.get("error")
        if error:
            if error == "access_denied":
                raise SignInError("Sign-in was cancelled. You can close this window.")
            raise SignInError(f"The provider could not sign you in ({error}).")
        if not isinstance(flow, dict) or flow.get("provider") != name:
            raise SignInError(
                "This sign-in was not started here, or it was already used. Close this window"
                " and start again from the comment form."
            )
        client = await self._client(config, flow.get("instance", ""))
        extra = {
            param: request.query_params[param]
            for param in config.kind.extra_token_params
            if param in request.query_params
        }
        claims_options = _claims_options(config)
        try:
            token = await client.authorize_access_token(
                request, **extra, **({"claims_options": claims_options} if claims_options else {})
            )
        except OAuthError as exc:
            raise SignInError(_oauth_message(exc)) from exc
        except _ID_TOKEN_ERRORS as exc:  # bad signature, wrong nonce, issuer or audience
            raise SignInError(
                "The provider's answer did not match this sign-in; start again."
            ) from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInError("The provider could not be reached; try again in a moment.") from exc
        try:
            profile = await self._profile(config, flow.get("instance", ""), token)
        except ProviderError as exc:
            raise SignInError(str(exc)) from exc
        except httpx.HTTPError as exc:
            raise SignInError("The provider could not be reached; try again in a moment.") from exc
        del token  # the provider's tokens are not kept anywhere
        now = datetime.now(UTC)
        user = await self.storage.upsert_user(profile, now)
        code = secrets.token_urlsafe(32)
        await self.storage.add_login_code(
            token_hash(code), flow["challenge"], user.id, now + LOGIN_CODE_TTL
        )
        return code

    # -- the iframe --------------------------------------------------------------------------

    async def exchange(self, verifier: str, code: str | None) -> NewSession | None:
        """A session for the holder of the verifier: with the code the popup passed on, or,
        polling, as soon as the popup has finished. None while the popup has not."""
        if not _VERIFIER.match(verifier):
            raise BadRequest("The sign-in verifier is not valid.")
        if code is not None and not code:
            raise BadRequest("The sign-in code is empty.")
        now = datetime.now(UTC)
        user_id = await self.storage.take_login_code(
            token_hash(code) if code else None, challenge_of(verifier), now
        )
        if user_id is None:
            if code is not None:
                raise BadRequest(
                    "This sign-in code is not valid, was used already, or has expired;"
                    " sign in again."
                )
            return None
        user = await self.storage.get_user(user_id)
        if user is None:
            raise NotFound("This account no longer exists.")
        token = secrets.token_urlsafe(32)
        lifetime = timedelta(days=self.settings.session_days)
        await self.storage.add_session(token_hash(token), user.id, now + lifetime)
        return NewSession(token, user, int(lifetime.total_seconds()))

    async def user_for(self, token: str | None) -> User | None:
        if not token or len(token) > 200:
            return None
        return await self.storage.get_session_user(token_hash(token), datetime.now(UTC))

    async def sign_out(self, token: str | None) -> None:
        if token and len(token) <= 200:
            await self.storage.delete_session(token_hash(token))

    # -- providers ---------------------------------------------------------------------------

    def _register(
        self, registered_as: str, config: ProviderConfig, client_id: str, client_secret: str,
        instance: str = "",
    ) -> StarletteOAuth2App:  # fmt: skip
        kind = config.kind
        client_kwargs: dict[str, Any] = {
            "scope": kind.scope,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": kind.token_auth,
            **self._http_options(config),  # authlib's discovery, token and key requests
        }
        urls: dict[str, Any] = {}
        if kind.oidc:
            urls["server_metadata_url"] = config.metadata_url
        else:
            urls["authorize_url"] = kind.authorize_url.format(instance=instance)
            urls["access_token_url"] = kind.token_url.format(instance=instance)
        client: StarletteOAuth2App = self.oauth.register(
            registered_as, overwrite=True, client_id=client_id, client_secret=client_secret,
            client_kwargs=client_kwargs, **urls,
        )  # fmt: skip
        return client

    async def _client(self, config: ProviderConfig, instance: str) -> StarletteOAuth2App:
        if not config.needs_instance:
            client: StarletteOAuth2App = self.oauth.create_client(config.name)
            return client
        host = mastodon_instance(instance)
        try:  # for a clear answer now; every request to it is checked again as it connects
            await self.outbound.check_url(f"https://{host}/", allow_private_networks=False)
        except AddressRefused as exc:
            raise BadRequest(
                f"The Mastodon server {host} is not on the public internet; enter the name of"
                " a public server, such as mastodon.social."
            ) from exc
        app = await self.storage.get_provider_app(config.name, host)
        if app is None:
            app = await self.storage.add_provider_app(
                config.name, host, *await self._register_mastodon_app(host, config)
            )
        return self._register(f"{config.name}:{host}", config, *app, instance=host)

    def _http_options(self, config: ProviderConfig) -> dict[str, Any]:
        """httpx client options for requests to this provider: the guarded client, where the
        operator's private networks are open to providers the operator configured, never to a
        Mastodon server a visitor names."""
        if self.transport is not None:
            return {"transport": self.transport, "timeout": HTTP_TIMEOUT_S}
        private = not config.needs_instance
        return self.outbound.client_options(HTTP_TIMEOUT_S, allow_private_networks=private)

    async def _register_mastodon_app(self, host: str, config: ProviderConfig) -> tuple[str, str]:
        """Register this server once with a Mastodon instance (its apps API)."""
        async with httpx.AsyncClient(**self._http_options(config)) as http:
            try:
                response = await http.post(
                    f"https://{host}/api/v1/apps",
                    data={
                        "client_name": "widget comments",
                        "redirect_uris": self.redirect_uri(config.name),
                        "scopes": config.kind.scope,
                        "website": self.settings.public_url,
                    },
                )
                answer = response.json() if response.status_code == 200 else {}
            except (httpx.HTTPError, ValueError):
                answer = {}
        if not isinstance(answer, dict) or not answer.get("client_id"):
            raise BadRequest(f"The Mastodon server {host} did not answer; check its name.")
        return str(answer["client_id"]), str(answer.get("client_secret", ""))

    async def _profile(
        self, config: ProviderConfig, instance: str, token: Mapping[str, Any]
    ) -> Profile:
        if config.kind.oidc:
            claims = token.get("userinfo")
            if not claims:
                raise ProviderError("The provider sent no ID token; sign-in cannot continue.")
            return oidc_profile(config.name, claims)
        fetch = config.kind.fetch_profile
        assert fetch is not None
        if config.needs_instance:
            config = _with_instance(config, mastodon_instance(instance))
        async with httpx.AsyncClient(**self._http_options(config)) as http:
            return await fetch(http, token, config)


def _with_instance(config: ProviderConfig, host: str) -> ProviderConfig:
    return dataclasses.replace(config, base_url=host)


def _claims_options(config: ProviderConfig) -> dict[str, Any] | None:
    if config.kind.kind != "microsoft" or config.tenant not in {"", "common", "organizations"}:
        return None

    # Multi-tenant: the issuer names the person's own tenant, which the token says.
    def tenant_issuer(claims: Mapping[str, Any], value: str) -> bool:
        tenant = claims.get("tid")
        return (
            isinstance(tenant, str) and value == f"https://login.microsoftonline.com/{tenant}/v2.0"
        )

    return {"iss": {"essential": True, "validate": tenant_issuer}}


def _oauth_message(exc: OAuthError) -> str:
    error = getattr(exc, "error", "") or ""
    if error == "mismatching_state":
        return (
            "This sign-in was not started here, or it was already used. Close this window and"
            " start again from the comment form."
        )
    if error in {"invalid_grant", "invalid_request"}:
        return "The provider refused this sign-in (it may have been used already); start again."
    return f"The provider could not sign you in ({error or 'unknown error'})."
