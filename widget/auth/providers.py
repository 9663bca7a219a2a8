"""Sign-in providers: which exist, how each is configured, and how each says who someone is.

A provider is configured by settings (`WIDGET_PROVIDER_<NAME>_<FIELD>`, or `[providers.<name>]`
in the config file). Built-in names (github, google, gitlab, microsoft, facebook, x, wordpress,
vk, yandex, mastodon) know their endpoints; any other name with an `issuer` is a generic OpenID
Connect provider found by discovery (Keycloak, Authentik, Auth0, Okta, ...).

Profile functions turn a provider's answer into a `Profile`. They keep an email address only
when the provider says it is verified, and they never keep the access token.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from widget.config import ConfigError
from widget.email_address import NotAnEmailAddress, check_email_address
from widget.errors import BadRequest
from widget.messages import said
from widget.records import Profile

if TYPE_CHECKING:
    import httpx

__all__ = [
    "BUILT_IN",
    "ProviderConfig",
    "ProviderError",
    "ProviderKind",
    "configured_providers",
    "oidc_profile",
]

HTTP_TIMEOUT_S = 10.0


class ProviderError(Exception):
    """The provider answered something we cannot use; the message (Said) is for the person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


ProfileFetcher = Callable[
    ["httpx.AsyncClient", Mapping[str, Any], "ProviderConfig"], Awaitable[Profile]
]


@dataclasses.dataclass(frozen=True)
class ProviderKind:
    kind: str
    display_name: str
    scope: str
    authorize_url: str = ""  # may hold {base_url} or {instance}
    token_url: str = ""
    metadata_url: str = ""  # OpenID Connect discovery; profile from the ID token
    fetch_profile: ProfileFetcher | None = None  # OAuth 2 providers: profile from their API
    token_auth: str = "client_secret_post"
    extra_token_params: tuple[str, ...] = ()  # callback query parameters the token call needs

    @property
    def oidc(self) -> bool:
        return bool(self.metadata_url)


@dataclasses.dataclass(frozen=True)
class ProviderConfig:
    name: str  # in URLs: /auth/{name}/start
    kind: ProviderKind
    display_name: str
    client_id: str
    client_secret: str
    issuer: str = ""
    base_url: str = ""
    tenant: str = ""
    icon: str = ""

    @property
    def metadata_url(self) -> str:
        if self.kind.kind == "oidc":
            return self.issuer.rstrip("/") + "/.well-known/openid-configuration"
        return self.kind.metadata_url.format(
            base_url=self.base_url.rstrip("/"), tenant=self.tenant or "common"
        )

    @property
    def needs_instance(self) -> bool:
        return self.kind.kind == "mastodon"


# -- profiles -----------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _email(value: Any) -> str:
    """A provider's address only when it is one plain address (see widget.email_address):
    anything else is dropped, not refused, so the person still signs in, just without mail."""
    try:
        return check_email_address(value) if isinstance(value, str) else ""
    except NotAnEmailAddress:
        return ""


def _https(value: Any) -> str:
    """Only https URLs are kept for avatars and profiles (they are shown in the thread)."""
    text = _text(value)
    return text if text.startswith("https://") and len(text) <= 2000 else ""


def _subject(value: Any) -> str:
    """Who the person is at the provider: required."""
    text = _text(value) if not isinstance(value, int) else str(value)
    if not text:
        raise ProviderError(said("error_provider_no_subject"))
    return text


def oidc_profile(provider: str, claims: Mapping[str, Any], display_name: str = "") -> Profile:
    """A profile from validated ID token (or userinfo) claims. Without a name, the person's
    handle or the name part of their email address; never our own key for the provider."""
    subject = _subject(claims.get("sub"))
    name = (
        _text(claims.get("name"))
        or _text(claims.get("preferred_username"))
        or _text(claims.get("nickname"))
        or _text(claims.get("email")).partition("@")[0]
        or f"{display_name or provider} user"
    )
    email = _email(claims.get("email")) if claims.get("email_verified") is True else ""
    return Profile(
        provider=provider,
        subject=subject,
        name=name,
        email=email,
        avatar_url=_https(claims.get("picture")),
        profile_url=_https(claims.get("profile")) or _https(claims.get("website")),
    )


async def _get_json(
    http: httpx.AsyncClient, url: str, token: str, *, scheme: str = "Bearer", **params: str
) -> Any:
    response = await http.get(
        url, params=params or None, headers={"Authorization": f"{scheme} {token}"},
        timeout=HTTP_TIMEOUT_S,
    )  # fmt: skip
    if response.status_code != 200:
        raise ProviderError(said("error_provider_no_profile", status=response.status_code))
    try:
        return response.json()
    except ValueError as exc:
        raise ProviderError(said("error_provider_unreadable")) from exc


async def github_profile(
    http: httpx.AsyncClient, token: Mapping[str, Any], config: ProviderConfig
) -> Profile:
    # https://docs.github.com/en/rest/users/users#get-the-authenticated-user
    # https://docs.github.com/en/rest/users/emails#list-email-addresses-for-the-authenticated-user
    access = token["access_token"]
    user = await _get_json(http, "https://api.github.com/user", access)
    emails = await _get_json(http, "https://api.github.com/user/emails", access)
    verified_primary = next(
        (
            e["email"]
            for e in emails
            if isinstance(e, dict) and e.get("primary") is True and e.get("verified") is True
        ),
        "",
    ) if isinstance(emails, list) else ""  # fmt: skip
    login = _text(user.get("login"))
    return Profile(
        provider=config.name,
        subject=_subject(user.get("id")),
        name=_text(user.get("name")) or login or "GitHub user",
        email=_email(verified_primary),
        avatar_url=_https(user.get("avatar_url")),
        profile_url=_https(user.get("html_url")),
    )


async def facebook_profile(
    http: httpx.AsyncClient, token: Mapping[str, Any], config: ProviderConfig
) -> Profile:
    # https://developers.facebook.com/docs/graph-api/reference/user/ : the email field holds a
    # confirmed address only, and is absent when there is none (or it was not granted).
    me = await _get_json(
        http, "https://graph.facebook.com/v19.0/me", token["access_token"],
        fields="id,name,email,picture.type(large),link",
    )  # fmt: skip
    picture = me.get("picture", {}).get("data", {}) if isinstance(me.get("picture"), dict) else {}
    silhouette = isinstance(picture, dict) and picture.get("is_silhouette") is True
    return Profile(
        provider=config.name,
        subject=_subject(me.get("id")),
        name=_text(me.get("name")) or "Facebook user",
        email=_email(me.get("email")),
        avatar_url="" if silhouette else _https(picture.get("url")),
        profile_url=_https(me.get("link")),
    )


async def x_profile(
    http: httpx.AsyncClient, token: Mapping[str, Any], config: ProviderConfig
) -> Profile:
    # https://docs.x.com/x-api/users/user-lookup-me : no email without special approval.
    answer = await _get_json(
        http, "https://api.x.com/2/users/me", token["access_token"],
        **{"user.fields": "profile_image_url,name,username"},
    )  # fmt: skip
    data = answer.get("data", {}) if isinstance(answer, dict) else {}
    username = _text(data.get("username"))
    return Profile(
        provider=config.name,
        subject=_subject(data.get("id")),
        name=_text(data.get("name")) or username or "X user",
        avatar_url=_https(data.get("profile_image_url")),
        profile_url=f"https://x.com/{username}" if re.fullmatch(r"\w{1,15}", username) else "",
    )


async def wordpress_profile(
    http: httpx.AsyncClient, token: Mapping[str, Any], config: ProviderConfig
) -> Profile:
    # https://developer.wordpress.com/docs/api/1.1/get/me/
    me = await _get_json(
        http, "https://public-api.wordpress.com/rest/v1.1/me", token["access_token"]
    )
    return Profile(
        provider=config.name,
        subject=_subject(me.get("ID")),
        name=_text(me.get("display_name")) or _text(me.get("username")) or "WordPress.com user",
        email=_email(me.get("email")) if me.get("email_verified") is True else "",
        avatar_url=_https(me.get("avatar_URL")),
        profile_url=_https(me.get("profile_URL")),
    )


async def vk_profile(
    http: httpx.AsyncClient, token: Mapping[str, Any], config: ProviderConfig
) -> Profile:
    # VK ID: https://id.vk.com/about/business/go/docs/ru/vkid/latest/vk-id/connection/api-description
    # POST /oauth2/user_info with client_id and access_token -> {"user": {...}}.
    response = await http.post(
        "https://id.vk.com/oauth2/user_info",
        data={"client_id": config.client_id, "access_token": token["access_token"]},
        timeout=HTTP_TIMEOUT_S,
    )
    if response.status_code != 200:
        raise ProviderError(
            said("error_named_provider_no_profile", provider="VK ID", status=response.status_code)
        )
    user = response.json().get("user", {})
    name = " ".join(p for p in (_text(user.get("first_name")), _text(user.get("last_name"))) if p)
    subject = _subject(user.get("user_id"))
    return Profile(
        provider=config.name,
        subject=subject,
        name=name or "VK user",
        # VK ID hands out the address of a confirmed account only when the user allowed it.
        email=_email(user.get("email")),
        avatar_url=_https(user.get("avatar")),
        profile_url=f"https://vk.com/id{subject}"
        if (subject.isascii() and subject.isdigit())
        else "",
    )


async def yandex_profile(
    http: httpx.AsyncClient, token: Mapping[str, Any], config: ProviderConfig
) -> Profile:
    # https://yandex.ru/dev/id/doc/en/user-information : "Authorization: OAuth <token>".
    info = await _get_json(
        http, "https://login.yandex.ru/info", token["access_token"], scheme="OAuth", format="json"
    )
    avatar_id = _text(info.get("default_avatar_id"))
    has_avatar = info.get("is_avatar_empty") is not True and re.fullmatch(r"[\w/-]+", avatar_id)
    avatar = f"https://avatars.yandex.net/get-yapic/{avatar_id}/islands-200" if has_avatar else ""
    return Profile(
        provider=config.name,
        subject=_subject(info.get("id")),
        name=_text(info.get("display_name")) or _text(info.get("real_name"))
        or _text(info.get("login")) or "Yandex user",
        # Yandex ID accounts' default_email is an address Yandex has confirmed.
        email=_email(info.get("default_email")),
        avatar_url=avatar,
    )  # fmt: skip


async def mastodon_profile(
    http: httpx.AsyncClient, token: Mapping[str, Any], config: ProviderConfig
) -> Profile:
    # https://docs.joinmastodon.org/methods/accounts/#verify_credentials
    instance = config.base_url
    account = await _get_json(
        http, f"https://{instance}/api/v1/accounts/verify_credentials", token["access_token"]
    )
    account_id = _subject(account.get("id"))
    return Profile(
        provider=config.name,
        # Account ids are per instance: the instance is part of the identity.
        subject=f"{account_id}@{instance}",
        name=_text(account.get("display_name")) or _text(account.get("username")) or instance,
        avatar_url=_https(account.get("avatar")),
        profile_url=_https(account.get("url")),
    )


# -- the built-in providers -------------------------------------------------------------------

BUILT_IN: dict[str, ProviderKind] = {
    kind.kind: kind
    for kind in (
        ProviderKind(
            "github", "GitHub", "read:user user:email",
            authorize_url="https://github.com/login/oauth/authorize",
            token_url="https://github.com/login/oauth/access_token",
            fetch_profile=github_profile,
        ),
        ProviderKind(
            "google", "Google", "openid email profile",
            metadata_url="https://accounts.google.com/.well-known/openid-configuration",
        ),
        ProviderKind(
            "gitlab", "GitLab", "openid email profile",
            metadata_url="{base_url}/.well-known/openid-configuration",
        ),
        ProviderKind(
            "microsoft", "Microsoft", "openid email profile",
            metadata_url="https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration",
        ),
        ProviderKind(
            "facebook", "Facebook", "public_profile email",
            authorize_url="https://www.facebook.com/v19.0/dialog/oauth",
            token_url="https://graph.facebook.com/v19.0/oauth/access_token",
            fetch_profile=facebook_profile,
        ),
        ProviderKind(
            "x", "X", "users.read tweet.read",
            authorize_url="https://x.com/i/oauth2/authorize",
            token_url="https://api.x.com/2/oauth2/token",
            fetch_profile=x_profile,
            token_auth="client_secret_basic",
        ),
        ProviderKind(
            "wordpress", "WordPress.com", "auth",
            authorize_url="https://public-api.wordpress.com/oauth2/authorize",
            token_url="https://public-api.wordpress.com/oauth2/token",
            fetch_profile=wordpress_profile,
        ),
        ProviderKind(
            "vk", "VK ID", "email",
            authorize_url="https://id.vk.com/authorize",
            token_url="https://id.vk.com/oauth2/auth",
            fetch_profile=vk_profile,
            extra_token_params=("device_id",),
        ),
        ProviderKind(
            "yandex", "Yandex ID", "login:info login:email login:avatar",
            authorize_url="https://oauth.yandex.ru/authorize",
            token_url="https://oauth.yandex.ru/token",
            fetch_profile=yandex_profile,
        ),
        ProviderKind(
            "mastodon", "Mastodon", "read:accounts",
            authorize_url="https://{instance}/oauth/authorize",
            token_url="https://{instance}/oauth/token",
            fetch_profile=mastodon_profile,
        ),
    )
}  # fmt: skip
OIDC = ProviderKind("oidc", "OpenID Connect", "openid email profile", metadata_url="{issuer}")
NAME = re.compile(r"^[a-z][a-z0-9]{0,30}$")


# Names the server gives authors itself: a configured provider may not take them, so that no
# account at a provider can pass for an email identity or wear the moderators' badge.
RESERVED_NAMES = {
    "email": "sign-in with an email link",
    "moderator": "replies written by moderators",
}


def configured_providers(settings: Mapping[str, Mapping[str, str]]) -> dict[str, ProviderConfig]:
    """The providers the settings configure, by name; raises ConfigError naming what is wrong."""
    providers = {}
    for name, fields in sorted(settings.items()):
        if not NAME.match(name):
            raise ConfigError(f"provider name {name!r}: use lowercase letters and digits")
        if name in RESERVED_NAMES:
            raise ConfigError(
                f"provider name {name!r} is taken by the server itself ({RESERVED_NAMES[name]});"
                " choose another name"
            )
        kind = BUILT_IN.get(name, OIDC)
        if kind is OIDC and not fields.get("issuer"):
            known = ", ".join(BUILT_IN)
            raise ConfigError(
                f"provider {name!r} is neither built in ({known}) nor an OpenID Connect"
                f" provider with an issuer: set WIDGET_PROVIDER_{name.upper()}_ISSUER"
            )
        if kind.kind == "mastodon":
            if fields.get("enabled", "").lower() not in {"1", "true", "yes", "on"}:
                continue
        elif not fields.get("client_id") or not fields.get("client_secret"):
            raise ConfigError(
                f"provider {name!r} needs WIDGET_PROVIDER_{name.upper()}_CLIENT_ID and"
                f" WIDGET_PROVIDER_{name.upper()}_CLIENT_SECRET"
            )
        base_url = fields.get("base_url", "https://gitlab.com" if kind.kind == "gitlab" else "")
        providers[name] = ProviderConfig(
            name=name,
            kind=kind,
            display_name=fields.get("display_name") or kind.display_name if kind is not OIDC
            else fields.get("display_name") or name.capitalize(),
            client_id=fields.get("client_id", ""),
            client_secret=fields.get("client_secret", ""),
            issuer=fields.get("issuer", ""),
            base_url=base_url,
            tenant=fields.get("tenant", ""),
            icon=fields.get("icon", ""),
        )  # fmt: skip
    return providers


_INSTANCE_HOST = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def mastodon_instance(raw: str) -> str:
    """A Mastodon instance's host name, as typed ("@me@mastodon.social" and URLs accepted).

    Only names that look public pass (no IP addresses, ports, single-label or internal names),
    for a clear answer early; the addresses a name resolves to are checked when the server
    connects (widget/outbound.py)."""
    text = raw.strip().lower()
    text = re.sub(r"^https?://", "", text).split("/")[0]
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        pass
    else:
        raise BadRequest(said("error_mastodon_name"))
    if not _INSTANCE_HOST.match(text) or text.endswith((".local", ".localhost", ".internal")):
        raise BadRequest(said("error_mastodon_name"))
    return text
