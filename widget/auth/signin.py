"""Sign-in inside a cross-site iframe (docs/architecture.md, "Sign-in inside a cross-site iframe").

1. The iframe makes a random verifier and opens a popup on our origin, then submits a form to
   it: `POST /auth/{provider}/start` with the verifier's challenge (base64url of its SHA-256).
   Only a POST whose Origin is our own starts a sign-in: no link, typed address or foreign page
   can start one, so every login code is bound to a challenge that one of our frames made and
   whose verifier only that frame holds. (A GET would do for a link in a comment, which our
   own frame shows: that is why the start is a form.)
2. The popup runs the authorization code flow with authlib: PKCE S256, state, and a nonce for
   OpenID Connect; redirect URIs come from settings, never from request headers.
3. The callback reads the profile, drops the provider's tokens, and mints a login code: single
   use, valid for five minutes, bound to the challenge. The popup hands it to the iframe with
   `opener.postMessage` to our own origin. When the provider's Cross-Origin-Opener-Policy has
   cut the opener, the iframe asks with its verifier instead: once the popup reads as closed,
   and again whenever the person comes back to the page (never in the background). A sign-in
   that fails (provider unreachable, consent refused) is recorded under the challenge too, so
   that asking ends with the reason.
4. The iframe exchanges code (or verifier alone, when polling) for a session: a Partitioned
   `__Host-` cookie, and the same token in the answer for browsers that refuse even those.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import logging
import re
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from joserfc.errors import JoseError
from starlette.requests import Request

from widget.auth.tokens import token_hash
from widget.config import Settings
from widget.errors import BadRequest, NotFound
from widget.messages import Said, recalled, said, to_keep
from widget.outbound import Outbound, request_error
from widget.records import Profile, RateLimit, User
from widget.storage import Storage

from .providers import (
    HTTP_TIMEOUT_S,
    ProviderConfig,
    ProviderError,
    configured_providers,
    mastodon_instance,
    oidc_profile,
)

if TYPE_CHECKING:
    import httpx
    from authlib.integrations.starlette_client import OAuth, OAuthError, StarletteOAuth2App

__all__ = [
    "SESSION_COOKIE",
    "NewSession",
    "SignIn",
    "SignInError",
    "SignInFailed",
    "challenge_of",
    "token_hash",
    "valid_challenge",
]

# Long enough for a person to finish in a cut-off popup and come back to the page.
log = logging.getLogger(__name__)

LOGIN_CODE_TTL = timedelta(minutes=5)
# As long as the popup's flow state lives (its cookie's max_age): a frame polls at most this long.
FLOW_TTL = timedelta(minutes=10)
# Each start asks the provider (discovery, an app registration on Mastodon): bounded per network.
STARTS_PER_NETWORK = 60  # a network may be an office or a campus
STARTS_PERIOD_S = 600.0
# The __Host- prefix: browsers keep it only if Secure, for Path=/ and with no Domain, so no
# other host under the same site can set or shadow it.
SESSION_COOKIE = "__Host-widget_session"
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_FLOW_KEY = "widget_sign_in"
# What authlib raises when an ID token fails validation (signature, nonce, issuer, audience).
_ID_TOKEN_ERRORS: tuple[type[Exception], ...] = (JoseError,)


def _unreachable_errors() -> tuple[type[Exception], ...]:
    """What a provider that is down or answers nonsense makes httpx and authlib raise: refused,
    timed out, a 5xx, a body that is not JSON, JSON of the wrong shape, metadata without its
    endpoints. (httpx is imported with the first provider's client, not with this module.)"""
    return (request_error(), ValueError, TypeError, KeyError, RuntimeError)


class SignInError(Exception):
    """The sign-in failed in a way the person can understand; shown in the popup and told to
    the frame. `status` is the popup page's: 502 when the provider could not be reached."""

    def __init__(self, message: str, status: int = 400, *, cancelled: bool = False) -> None:
        super().__init__(message)
        self.message = message  # Said, for the most part: the popup says it in its language
        self.status = status
        self.cancelled = cancelled  # the person said no at the provider: nothing failed


class SignInFailed(BadRequest):
    """Polling found that the popup's sign-in failed; the message says why."""


UNREACHABLE = said("error_provider_unreachable")


def valid_challenge(challenge: str) -> bool:
    """A challenge as our frame makes it: base64url of a SHA-256, unpadded."""
    return bool(_CHALLENGE.match(challenge))


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
        # authlib's clients are made when a provider is first used (see `oauth`).
        self._oauth: OAuth | None = None

    # -- the popup ---------------------------------------------------------------------------

    def provider(self, name: str) -> ProviderConfig:
        config = self.providers.get(name)
        if config is None:
            raise NotFound(said("error_no_provider", name=repr(name)))
        return config

    def redirect_uri(self, name: str) -> str:
        return f"{self.settings.public_url}/auth/{name}/callback"

    async def start(
        self, request: Request, name: str, challenge: str, instance: str, address_key: str
    ) -> str:
        """Where to send the popup at the provider, keeping the challenge in the popup's own
        session. The caller has checked that the request came from our own frame."""
        config = self.provider(name)
        if not valid_challenge(challenge):
            raise BadRequest(said("error_sign_in_not_from_form"))
        await self.count_start(address_key)
        try:
            client = await self._client(config, instance)
            flow = {"provider": name, "challenge": challenge, "instance": instance}
            request.session[_FLOW_KEY] = flow
            redirect_uri = self.redirect_uri(name)
            try:
                # OpenID Connect: this fetches the provider's discovery document first.
                authorization = await client.create_authorization_url(redirect_uri)
                await client.save_authorize_data(
                    request, redirect_uri=redirect_uri, **authorization
                )
            except _unreachable_errors() as exc:
                # For the operator: a refused private address names the setting that opens it.
                log.warning("sign-in with %s could not start: %s", name, exc)
                raise SignInError(UNREACHABLE, 502) from exc
        except SignInError as exc:
            await self.record_failure(challenge, exc.message)
            raise
        except BadRequest as exc:  # a Mastodon instance that does not answer, say
            await self.record_failure(challenge, exc.message)
            raise
        return str(authorization["url"])

    async def count_start(self, address_key: str) -> None:
        """Count a sign-in's start against its network (RateLimited when there is no room)."""
        await self.storage.take_rate_limits(
            [RateLimit(f"sign-in:{address_key}", STARTS_PER_NETWORK, STARTS_PERIOD_S,
                       said("error_too_many_sign_ins"))],
            datetime.now(UTC),
        )  # fmt: skip

    async def record_failure(self, challenge: str, message: str) -> None:
        """Tell the frame that polls with this challenge's verifier why its sign-in ended."""
        await self.storage.add_sign_in_failure(
            challenge, to_keep(message), datetime.now(UTC) + FLOW_TTL
        )

    async def finish(self, request: Request, name: str) -> str:
        """Complete the code flow and return a login code for the iframe."""
        config = self.provider(name)
        flow = request.session.pop(_FLOW_KEY, None)
        if not isinstance(flow, dict) or flow.get("provider") != name:
            if request.query_params.get("error") == "access_denied":
                raise SignInError(said("error_sign_in_cancelled"), cancelled=True)
            raise SignInError(said("error_sign_in_not_here"))
        try:
            user = await self._user_from_callback(request, config, flow)
        except SignInError as exc:
            await self.record_failure(flow["challenge"], exc.message)
            raise
        code = secrets.token_urlsafe(32)
        await self.storage.add_login_code(
            token_hash(code), flow["challenge"], user.id, datetime.now(UTC) + LOGIN_CODE_TTL
        )
        return code

    async def _user_from_callback(
        self, request: Request, config: ProviderConfig, flow: Mapping[str, Any]
    ) -> User:
        error = request.query_params.get("error")
        if error:
            if error == "access_denied":
                raise SignInError(said("error_sign_in_cancelled"), cancelled=True)
            raise SignInError(said("error_provider_failed", error=error))
        try:
            client = await self._client(config, flow.get("instance", ""))
        except BadRequest as exc:
            raise SignInError(exc.message, 502) from exc
        extra = {
            param: request.query_params[param]
            for param in config.kind.extra_token_params
            if param in request.query_params
        }
        claims_options = _claims_options(config)
        from authlib.integrations.starlette_client import OAuthError  # imported with the client

        try:
            token = await client.authorize_access_token(
                request, **extra, **({"claims_options": claims_options} if claims_options else {})
            )
        except OAuthError as exc:
            raise SignInError(_oauth_message(exc)) from exc
        except _ID_TOKEN_ERRORS as exc:  # bad signature, wrong nonce, issuer or audience
            raise SignInError(said("error_provider_mismatch")) from exc
        except _unreachable_errors() as exc:
            raise SignInError(UNREACHABLE, 502) from exc
        try:
            profile = await self._profile(config, flow.get("instance", ""), token)
        except ProviderError as exc:
            raise SignInError(exc.message) from exc
        except (request_error(), ValueError) as exc:  # down, or an answer that is not JSON
            raise SignInError(UNREACHABLE, 502) from exc
        del token  # the provider's tokens are not kept anywhere
        return await self.storage.upsert_user(profile, datetime.now(UTC))

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
                raise BadRequest(said("error_sign_in_code_invalid"))
            failure = await self.storage.take_sign_in_failure(challenge_of(verifier), now)
            if failure is not None:
                raise SignInFailed(recalled(failure))  # in the frame's language, if Said
            return None
        user = await self.storage.get_user(user_id)
        if user is None:
            raise NotFound(said("error_account_gone"))
        token = secrets.token_urlsafe(32)
        lifetime = timedelta(days=self.settings.session_days)
        await self.storage.add_session(User, token_hash(token), user.id, now + lifetime)
        return NewSession(token, user, int(lifetime.total_seconds()))

    async def user_for(self, token: str | None) -> User | None:
        if not token or len(token) > 200:
            return None
        return await self.storage.get_session(User, token_hash(token), datetime.now(UTC))

    async def sign_out(self, token: str | None) -> None:
        if token and len(token) <= 200:
            await self.storage.delete_session(User, token_hash(token))

    # -- providers ---------------------------------------------------------------------------

    @property
    def oauth(self) -> OAuth:
        """authlib's registry of clients, made when a provider is first used: authlib and
        what it imports (httpx among them) hold some 11 MB, which a server does without until
        someone signs in."""
        if self._oauth is None:
            from authlib.integrations.starlette_client import OAuth

            self._oauth = OAuth()
        return self._oauth

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
            client: StarletteOAuth2App | None = self.oauth.create_client(config.name)
            if client is None:
                return self._register(config.name, config, config.client_id, config.client_secret)
            return client
        host = mastodon_instance(instance)
        # For a clear answer now; every request to it is checked again as it connects.
        if await self.outbound.refusal(f"https://{host}/", allow_private_networks=False):
            raise BadRequest(said("error_mastodon_private", host=host))
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

    def _http(self, config: ProviderConfig) -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(**self._http_options(config))

    async def _register_mastodon_app(self, host: str, config: ProviderConfig) -> tuple[str, str]:
        """Register this server once with a Mastodon instance (its apps API)."""
        async with self._http(config) as http:
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
            except (request_error(), ValueError):
                answer = {}
        if not isinstance(answer, dict) or not answer.get("client_id"):
            raise BadRequest(said("error_mastodon_silent", host=host))
        return str(answer["client_id"]), str(answer.get("client_secret", ""))

    async def _profile(
        self, config: ProviderConfig, instance: str, token: Mapping[str, Any]
    ) -> Profile:
        if config.kind.oidc:
            claims = token.get("userinfo")
            if not claims:
                raise ProviderError(said("error_provider_no_id_token"))
            return oidc_profile(config.name, claims, config.display_name)
        fetch = config.kind.fetch_profile
        assert fetch is not None
        if config.needs_instance:
            config = _with_instance(config, mastodon_instance(instance))
        async with self._http(config) as http:
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


def _oauth_message(exc: OAuthError) -> Said:
    error = getattr(exc, "error", "") or ""
    if error == "mismatching_state":
        return said("error_sign_in_not_here")
    if error in {"invalid_grant", "invalid_request"}:
        return said("error_provider_refused")
    return said("error_provider_failed", error=error or "unknown error")
