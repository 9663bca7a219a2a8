"""The built-in providers: configuration, profile mapping against answers of each provider's
documented shape (served through an httpx MockTransport: these providers cannot be reached
from here), and whole flows through the app for an OAuth 2 provider and for Mastodon."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from tests.fakes import FakeDNS
from tests.helpers import (
    BLOG,
    OWN_ORIGIN,
    PAGE,
    PUBLIC_URL,
    make_settings,
    provider_url,
    start_sign_in,
)
from tests.signing_in import new_verifier
from widget.app import create_app
from widget.auth import providers as p
from widget.config import ConfigError
from widget.errors import BadRequest
from widget.records import Profile
from widget.sites import add_site

Handler = Callable[[httpx.Request], httpx.Response]


def config(name: str, **fields: str) -> p.ProviderConfig:
    settings = {name: {"client_id": "id", "client_secret": "secret", "enabled": "true", **fields}}
    return p.configured_providers(settings)[name]


async def profile_from(name: str, routes: dict[str, Any], **fields: str) -> Profile:
    """Run a provider's profile function against canned answers keyed by URL (no query)."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        key = str(request.url.copy_with(query=None))
        if key not in routes:
            return httpx.Response(404)
        return httpx.Response(200, json=routes[key])

    provider = config(name, **fields)
    assert provider.kind.fetch_profile is not None
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        profile = await provider.kind.fetch_profile(http, {"access_token": "AT"}, provider)
    assert all("AT" in r.headers.get("authorization", "") or b"AT" in r.content for r in seen)
    return profile


# -- configuration ------------------------------------------------------------------------------


def test_providers_come_from_settings() -> None:
    providers = p.configured_providers({
        "github": {"client_id": "a", "client_secret": "b"},
        "keycloak": {"issuer": "https://sso.example/realms/x", "client_id": "c", "client_secret": "d",
                     "display_name": "Company SSO"},
        "gitlab": {"client_id": "e", "client_secret": "f", "base_url": "https://git.example"},
        "microsoft": {"client_id": "g", "client_secret": "h"},
        "mastodon": {"enabled": "true"},
    })  # fmt: skip
    assert providers["keycloak"].metadata_url == (
        "https://sso.example/realms/x/.well-known/openid-configuration"
    )
    assert providers["keycloak"].display_name == "Company SSO"
    assert (
        providers["gitlab"].metadata_url == "https://git.example/.well-known/openid-configuration"
    )
    assert providers["microsoft"].metadata_url.startswith(
        "https://login.microsoftonline.com/common/"
    )
    assert providers["github"].display_name == "GitHub"
    assert providers["mastodon"].needs_instance
    assert not p.configured_providers({"mastodon": {}})  # not enabled: not shown


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"github": {"client_id": "a"}}, "CLIENT_SECRET"),
        ({"acme": {"client_id": "a", "client_secret": "b"}}, "ISSUER"),
        ({"Bad-Name": {"issuer": "https://x"}}, "lowercase"),
    ],
)
def test_bad_provider_settings_say_what_to_set(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        p.configured_providers(settings)


@pytest.mark.parametrize(
    ("typed", "instance"),
    [("mastodon.social", "mastodon.social"), ("@ann@Fosstodon.org", "fosstodon.org"),
     ("https://hachyderm.io/@ann", "hachyderm.io")],
)  # fmt: skip
def test_mastodon_instances_as_typed(typed: str, instance: str) -> None:
    assert p.mastodon_instance(typed) == instance


@pytest.mark.parametrize("typed", ["localhost", "127.0.0.1", "[::1]", "10.0.0.7", "intranet",
                                   "db.internal", "x.local", "mastodon.social:8443", ""])  # fmt: skip
def test_mastodon_instances_must_be_public_names(typed: str) -> None:
    with pytest.raises(BadRequest):
        p.mastodon_instance(typed)


# -- OpenID Connect providers: the ID token's claims ----------------------------------------------


def test_google_claims() -> None:
    # https://developers.google.com/identity/openid-connect/openid-connect#an-id-tokens-payload
    claims = {"iss": "https://accounts.google.com", "sub": "110169484474386276334",
              "email": "ann@gmail.com", "email_verified": True, "name": "Ann Example",
              "picture": "https://lh3.googleusercontent.com/a/pic"}  # fmt: skip
    assert p.oidc_profile("google", claims) == Profile(
        "google", "110169484474386276334", "Ann Example", "ann@gmail.com",
        "https://lh3.googleusercontent.com/a/pic",
    )  # fmt: skip
    unverified = p.oidc_profile("google", {**claims, "email_verified": False})
    assert unverified.email == ""
    bare = p.oidc_profile("google", {"sub": "1"}, "Google")
    assert (bare.name, bare.email, bare.avatar_url) == ("Google user", "", "")
    # No name: the person's handle, else their email's name part, never our key ("mock user").
    assert p.oidc_profile("mock", {"sub": "1", "preferred_username": "ann_e"}).name == "ann_e"
    assert p.oidc_profile("mock", {"sub": "1", "email": "ann.e@example.com"}).name == "ann.e"


def test_gitlab_claims() -> None:
    # https://docs.gitlab.com/ee/integration/openid_connect_provider.html#shared-information
    claims = {"sub": "1234", "name": "Ann", "nickname": "ann", "email": "ann@example.com",
              "email_verified": True, "picture": "https://gitlab.com/uploads/ann.png",
              "profile": "https://gitlab.com/ann", "website": "http://ann.example"}  # fmt: skip
    profile = p.oidc_profile("gitlab", claims)
    assert profile.profile_url == "https://gitlab.com/ann"
    assert p.oidc_profile("gitlab", {"sub": "1", "nickname": "ann"}).name == "ann"


def test_microsoft_claims() -> None:
    # https://learn.microsoft.com/en-us/entra/identity-platform/id-token-claims-reference :
    # no email_verified claim, so the (unverifiable) email is not kept.
    claims = {"sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "name": "Ann Example",
              "preferred_username": "ann@contoso.com", "email": "ann@contoso.com",
              "tid": "9122040d-6c67-4c5b-b112-36a304b66dad"}  # fmt: skip
    profile = p.oidc_profile("microsoft", claims)
    assert (profile.name, profile.email) == ("Ann Example", "")


def test_oidc_claims_refuse_http_pictures_and_need_a_subject() -> None:
    assert p.oidc_profile("x", {"sub": "1", "picture": "http://a/b.png"}).avatar_url == ""
    with pytest.raises(p.ProviderError):
        p.oidc_profile("x", {"name": "no subject"})


# -- OAuth 2 providers: their user APIs --------------------------------------------------------

GITHUB_USER = {"login": "octocat", "id": 583231, "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
               "html_url": "https://github.com/octocat", "name": "The Octocat", "email": None}  # fmt: skip


async def test_github() -> None:
    # https://docs.github.com/en/rest/users/users#get-the-authenticated-user and /user/emails
    emails = [
        {"email": "old@example.com", "verified": True, "primary": False, "visibility": None},
        {"email": "octocat@github.com", "verified": True, "primary": True, "visibility": "public"},
    ]
    profile = await profile_from("github", {
        "https://api.github.com/user": GITHUB_USER, "https://api.github.com/user/emails": emails,
    })  # fmt: skip
    assert profile == Profile(
        "github", "583231", "The Octocat", "octocat@github.com",
        "https://avatars.githubusercontent.com/u/583231?v=4", "https://github.com/octocat",
    )  # fmt: skip


async def test_github_keeps_only_a_verified_primary_email() -> None:
    unverified = [{"email": "octocat@github.com", "verified": False, "primary": True}]
    profile = await profile_from("github", {
        "https://api.github.com/user": {**GITHUB_USER, "name": None, "avatar_url": None},
        "https://api.github.com/user/emails": unverified,
    })  # fmt: skip
    assert (profile.email, profile.name, profile.avatar_url) == ("", "octocat", "")
    no_emails = await profile_from("github", {
        "https://api.github.com/user": GITHUB_USER, "https://api.github.com/user/emails": [],
    })  # fmt: skip
    assert no_emails.email == ""


async def test_facebook() -> None:
    # https://developers.facebook.com/docs/graph-api/reference/user/
    me = {"id": "10158", "name": "Ann Example", "email": "ann@example.com",
          "picture": {"data": {"height": 200, "is_silhouette": False, "url": "https://platform-lookaside.fbsbx.com/p.jpg", "width": 200}},
          "link": "https://www.facebook.com/app_scoped_user_id/10158/"}  # fmt: skip
    profile = await profile_from("facebook", {"https://graph.facebook.com/v19.0/me": me})
    assert profile.email == "ann@example.com"
    assert profile.avatar_url == "https://platform-lookaside.fbsbx.com/p.jpg"
    silhouette = {
        **me,
        "picture": {"data": {"is_silhouette": True, "url": "https://x/default.png"}},
    }
    del silhouette["email"]
    bare = await profile_from("facebook", {"https://graph.facebook.com/v19.0/me": silhouette})
    assert (bare.email, bare.avatar_url) == ("", "")


async def test_x() -> None:
    # https://docs.x.com/x-api/users/user-lookup-me
    answer = {"data": {"id": "2244994945", "name": "X Dev", "username": "XDevelopers",
                       "profile_image_url": "https://pbs.twimg.com/profile_images/1.png"}}  # fmt: skip
    profile = await profile_from("x", {"https://api.x.com/2/users/me": answer})
    assert profile == Profile("x", "2244994945", "X Dev", "", "https://pbs.twimg.com/profile_images/1.png",
                              "https://x.com/XDevelopers")  # fmt: skip
    bare = await profile_from(
        "x", {"https://api.x.com/2/users/me": {"data": {"id": "1", "username": "a"}}}
    )
    assert (bare.name, bare.avatar_url) == ("a", "")


async def test_wordpress() -> None:
    # https://developer.wordpress.com/docs/api/1.1/get/me/
    me = {"ID": 18342963, "display_name": "Ann", "username": "annexample", "email": "ann@example.com",
          "email_verified": True, "avatar_URL": "https://0.gravatar.com/avatar/abc",
          "profile_URL": "https://gravatar.com/annexample"}  # fmt: skip
    url = "https://public-api.wordpress.com/rest/v1.1/me"
    profile = await profile_from("wordpress", {url: me})
    assert (profile.subject, profile.email) == ("18342963", "ann@example.com")
    unverified = await profile_from("wordpress", {url: {**me, "email_verified": False}})
    assert unverified.email == ""


async def test_vk_id() -> None:
    # https://id.vk.com/about/business/go/docs/ru/vkid/latest/vk-id/connection/api-description
    answer = {"user": {"user_id": "1234567", "first_name": "Иван", "last_name": "Иванов",
                       "avatar": "https://sun1-1.userapi.com/a.jpg", "email": "ivan@example.ru",
                       "sex": 2, "verified": False, "birthday": "01.01.2000"}}  # fmt: skip
    profile = await profile_from("vk", {"https://id.vk.com/oauth2/user_info": answer})
    assert profile == Profile("vk", "1234567", "Иван Иванов", "ivan@example.ru",
                              "https://sun1-1.userapi.com/a.jpg", "https://vk.com/id1234567")  # fmt: skip
    bare = await profile_from(
        "vk", {"https://id.vk.com/oauth2/user_info": {"user": {"user_id": "7"}}}
    )
    assert (bare.name, bare.email, bare.avatar_url) == ("VK user", "", "")


async def test_yandex_id() -> None:
    # https://yandex.ru/dev/id/doc/en/user-information
    info = {"id": "1000034426", "login": "ivan", "client_id": "4760187d81bc4b7799476b42b5103713",
            "display_name": "Ivan", "real_name": "Ivan Ivanov", "default_email": "test@yandex.ru",
            "default_avatar_id": "131652443", "is_avatar_empty": False}  # fmt: skip
    profile = await profile_from("yandex", {"https://login.yandex.ru/info": info})
    assert profile.avatar_url == "https://avatars.yandex.net/get-yapic/131652443/islands-200"
    assert (profile.name, profile.email) == ("Ivan", "test@yandex.ru")
    empty = await profile_from("yandex", {"https://login.yandex.ru/info": {
        "id": "1", "login": "ivan", "is_avatar_empty": True, "default_avatar_id": "0/0-0"}})  # fmt: skip
    assert (empty.avatar_url, empty.email, empty.name) == ("", "", "ivan")


async def test_mastodon() -> None:
    # https://docs.joinmastodon.org/methods/accounts/#verify_credentials
    account = {"id": "14715", "username": "trwnh", "acct": "trwnh", "display_name": "infinite love ⴳ",
               "avatar": "https://files.mastodon.social/accounts/avatars/a.png",
               "url": "https://mastodon.social/@trwnh"}  # fmt: skip
    url = "https://mastodon.social/api/v1/accounts/verify_credentials"
    profile = await profile_from("mastodon", {url: account}, base_url="mastodon.social")
    assert profile.subject == "14715@mastodon.social"  # ids are per server
    assert profile.profile_url == "https://mastodon.social/@trwnh"


async def test_a_refusing_api_is_a_clear_error() -> None:
    with pytest.raises(p.ProviderError, match="refused"):
        await profile_from("x", {})


# -- whole flows through the app, providers at the transport ------------------------------------


class FakeProvider:
    """Answers for the token endpoint and user APIs of providers we cannot reach from here."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get(str(request.url.copy_with(query=None)))
        if answer is None:
            return httpx.Response(404, json={"error": "not_found"})
        return httpx.Response(200, json=answer)


@pytest.fixture
async def github_app(tmp_path: Path) -> AsyncIterator[tuple[Starlette, FakeProvider]]:
    fake = FakeProvider({
        "https://github.com/login/oauth/access_token": {"access_token": "gho_abc", "token_type": "bearer",
                                                         "scope": "read:user,user:email"},
        "https://api.github.com/user": GITHUB_USER,
        "https://api.github.com/user/emails": [{"email": "octocat@github.com", "verified": True, "primary": True}],
    })  # fmt: skip
    settings = make_settings(
        tmp_path, providers={"github": {"client_id": "cid", "client_secret": "cs"}}
    )
    app = create_app(settings, provider_transport=httpx.MockTransport(fake))
    async with app.router.lifespan_context(app):
        await add_site(app.state.widget.storage, "blog", [BLOG])
        yield app, fake


async def test_a_github_sign_in_end_to_end(github_app: tuple[Starlette, FakeProvider]) -> None:
    app, fake = github_app
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        verifier, challenge = new_verifier()
        start = await start_sign_in(client, "github", challenge)
        authorize = urlsplit(provider_url(start))
        assert (
            f"{authorize.scheme}://{authorize.netloc}{authorize.path}"
            == "https://github.com/login/oauth/authorize"
        )
        query = parse_qs(authorize.query)
        assert query["code_challenge_method"] == ["S256"] and query["scope"] == [
            "read:user user:email"
        ]
        page = await client.get(
            "/auth/github/callback", params={"code": "c0de", "state": query["state"][0]}
        )
        assert page.status_code == 200, page.text
        code = re.search(r'data-code="([^"]+)"', page.text)
        assert code
        session = await client.post("/api/v1/auth/session", json={"verifier": verifier, "code": code.group(1)},
                                    headers=OWN_ORIGIN)  # fmt: skip
        user = session.json()["user"]
        assert (user["name"], user["provider_name"]) == ("The Octocat", "GitHub")
    token_request = fake.requests[0]
    form = parse_qs(token_request.content.decode())
    assert form["code"] == ["c0de"] and "code_verifier" in form  # PKCE on the token call too
    assert form["redirect_uri"] == [f"{PUBLIC_URL}/auth/github/callback"]
    # The access token went to GitHub's API only, and nowhere into the database.
    api_calls = [r for r in fake.requests if r.url.host == "api.github.com"]
    assert {r.headers["authorization"] for r in api_calls} == {"Bearer gho_abc"}
    everything = [batch async for batch in app.state.widget.storage.dump()]
    assert "gho_abc" not in repr(everything)
    assert "octocat@github.com" in repr(everything)


async def test_mastodon_registers_once_per_server(tmp_path: Path) -> None:
    fake = FakeProvider({
        "https://mastodon.example/api/v1/apps": {"client_id": "mid", "client_secret": "msecret"},
        "https://mastodon.example/oauth/token": {"access_token": "mat", "token_type": "Bearer"},
        "https://mastodon.example/api/v1/accounts/verify_credentials": {
            "id": "42", "username": "ann", "display_name": "Ann", "url": "https://mastodon.example/@ann",
            "avatar": "https://mastodon.example/a.png"},
    })  # fmt: skip
    settings = make_settings(tmp_path, providers={"mastodon": {"enabled": "true"}})
    dns = FakeDNS()  # the name is checked before the (faked) network is asked
    dns.answer("mastodon.example", ["93.184.215.14"])
    app = create_app(settings, provider_transport=httpx.MockTransport(fake), resolver=dns)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            for _ in range(2):
                verifier, challenge = new_verifier()
                start = await start_sign_in(
                    client, "mastodon", challenge, instance="@ann@Mastodon.example"
                )
                assert provider_url(start).startswith("https://mastodon.example/oauth/authorize?")
                state = parse_qs(urlsplit(provider_url(start)).query)["state"][0]
                page = await client.get(
                    "/auth/mastodon/callback", params={"code": "x", "state": state}
                )
                code = re.search(r'data-code="([^"]+)"', page.text)
                assert code, page.text
                session = await client.post(
                    "/api/v1/auth/session", json={"verifier": verifier, "code": code.group(1)},
                    headers=OWN_ORIGIN,
                )  # fmt: skip
                assert session.json()["user"]["name"] == "Ann"
            refused = await start_sign_in(client, "mastodon", challenge, instance="10.0.0.1")
            assert refused.status_code == 400
            assert "Mastodon server" in refused.text
    registrations = [r for r in fake.requests if r.url.path == "/api/v1/apps"]
    assert len(registrations) == 1  # kept in the database, reused the second time
    assert parse_qs(registrations[0].content.decode())["redirect_uris"] == [
        f"{PUBLIC_URL}/auth/mastodon/callback"
    ]


async def test_the_form_shows_configured_providers_only(
    github_app: tuple[Starlette, FakeProvider],
) -> None:
    app, _ = github_app
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        document = await client.get(
            "/embed/blog/thread", params={k: v for k, v in PAGE.items() if k != "site"}
        )
    assert (
        'data-provider="github"><span class="wg-provider-icon wg-icon-github" aria-hidden="true">G</span>GitHub</button>'
        in document.text
    )
    assert "Google" not in document.text
    assert "Fill in your details below or click an icon to log in:" in document.text
