"""Sites: who may embed comments, and each site's settings.

A site is an id used in URLs (`/embed/{site}/...`), a name, the origins allowed to embed it, and
overrides of the per-site settings below (one table: name, default, help, parser).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from widget.email_address import NotAnEmailAddress, check_email_address
from widget.errors import Invalid, NotFound
from widget.messages import said
from widget.outbound import Outbound
from widget.records import Site
from widget.refusals import worded
from widget.storage import Storage
from widget.urls import is_host_name, origin_of, split_url

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

__all__ = [
    "SITE_SETTINGS",
    "Badge",
    "SiteSetting",
    "SiteSettings",
    "add_origin",
    "add_site",
    "badges_of",
    "change_site_setting",
    "change_site_settings",
    "check_badge_accounts",
    "check_outbound_settings",
    "forget_account",
    "get_site",
    "normalize_origin",
    "remove_origin",
    "settings_of",
    "update_site",
    "validate_site_id",
    "zone_named",
]

SITE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


class _IntBetween:
    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def __call__(self, raw: Any) -> int:
        low, high = self.low, self.high
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"expected a whole number from {low} to {high}") from None
        if not low <= value <= high:
            raise ValueError(f"expected a whole number from {low} to {high}, got {value}")
        return value


class _Choice:
    def __init__(self, *options: str) -> None:
        self.options = options

    def __call__(self, raw: Any) -> str:
        if raw not in self.options:
            raise ValueError(f"expected one of {', '.join(self.options)}, got {raw!r}")
        return str(raw)


def _http_url(raw: Any) -> str:
    text = str(raw).strip()
    if not text:
        return ""
    parts = split_url(text)
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("expected an http:// or https:// URL")
    if len(text) > 2000:
        raise ValueError("expected a URL of at most 2000 characters")
    return text


def _emails(raw: Any) -> str:
    """Comma-separated email addresses, as written back: 'a@example.com, b@example.com'."""
    addresses = [part.strip() for part in str(raw).replace("\n", ",").split(",") if part.strip()]
    if len(addresses) > 20:
        raise ValueError("expected at most 20 addresses")
    checked = []
    for address in addresses:
        try:
            checked.append(check_email_address(address))
        except NotAnEmailAddress as exc:
            raise ValueError(f"{address!r} is not an email address. {exc}".rstrip(".")) from None
    return ", ".join(checked)


def _account_ids(raw: Any) -> str:
    """Comma-separated account numbers (the admin shows "user 12" under a signed-in author), as
    written back: '3, 12'."""
    parts = [part.strip() for part in str(raw).replace("\n", ",").split(",") if part.strip()]
    if len(parts) > 50:
        raise ValueError("expected at most 50 account numbers")
    ids: list[int] = []
    for part in parts:
        if not (part.isascii() and part.isdigit()) or len(part) > 18 or int(part) <= 0:
            raise ValueError(
                f"{part!r} is not an account number; write the numbers the admin shows as"
                ' "user 12", separated by commas'
            )
        if int(part) not in ids:
            ids.append(int(part))
    return ", ".join(map(str, ids))


Badge = Literal["author", "moderator"]


def badges_of(settings: SiteSettings) -> Mapping[int, Badge]:
    """The badge each account wears on this site's threads: its author's, or a moderator's.
    Comments of these accounts are published at once, and carry the badge, which a guest's
    name cannot fake: it follows the signed-in account, not what anyone types."""
    return _badges(settings.author_accounts, settings.moderator_accounts)


@lru_cache(maxsize=256)
def _badges(authors: str, moderators: str) -> Mapping[int, Badge]:
    found: dict[int, Badge] = {}
    for text, badge in ((moderators, "moderator"), (authors, "author")):  # author wins
        for part in text.split(","):
            if part.strip():
                found[int(part)] = badge  # type: ignore[assignment]
    return found


def _text(max_chars: int) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = str(raw).strip()
        if len(text) > max_chars:
            raise ValueError(f"expected at most {max_chars} characters")
        return text

    return parse


def zone_named(name: str) -> ZoneInfo | None:
    """The IANA time zone called `name`; None for '' and for names that are none."""
    if not name:
        return None
    # Only a site's time zone setting and imports name one: zoneinfo (~0.3 MB) waits for them.
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder's name, say
        return None


def _time_zone(raw: Any) -> str:
    name = str(raw).strip()
    if name and zone_named(name) is None:
        raise ValueError(f"{name!r} is not a time zone name; write one such as Europe/Berlin")
    return name


def _wording(placeholder: bool) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        text = str(raw).strip()
        if not text:
            return ""  # back to the language's own wording
        if len(text) > 80:
            raise ValueError("expected a short text (1 to 80 characters)")
        if placeholder and "{n}" not in text:
            raise ValueError("expected a text containing {n}, where the number goes")
        return text

    return parse


@dataclasses.dataclass(frozen=True)
class SiteSetting:
    name: str
    default: Any
    help: str
    parse: Callable[[Any], Any]

    @property
    def choices(self) -> tuple[str, ...]:
        """The values allowed, for settings that are a choice (the admin shows a menu)."""
        return self.parse.options if isinstance(self.parse, _Choice) else ()

    @property
    def number_range(self) -> tuple[int, int] | None:
        return (self.parse.low, self.parse.high) if isinstance(self.parse, _IntBetween) else None


SITE_SETTINGS: tuple[SiteSetting, ...] = (
    SiteSetting("order", "oldest", "oldest or newest comments first", _Choice("oldest", "newest")),
    SiteSetting(
        "first_page", "newest",
        "the page a thread opens on: newest (its latest comments, older ones a click away, as"
        " WordPress does) or oldest",
        _Choice("newest", "oldest"),
    ),
    SiteSetting("max_depth", 5, "deepest level of nested replies", _IntBetween(2, 20)),
    SiteSetting("page_size", 50, "top-level comments per page", _IntBetween(1, 500)),
    SiteSetting(
        "edit_window_s", 900, "seconds during which authors may edit or delete their comment",
        _IntBetween(0, 7 * 24 * 3600),
    ),
    SiteSetting(
        "moderation", "none",
        "hold comments for a moderator: none, first (a commenter's first), or all",
        _Choice("none", "first", "all"),
    ),
    SiteSetting("max_links", 2, "comments with more links are held", _IntBetween(0, 100)),
    SiteSetting(
        "blocked_words", "", "comma-separated words or phrases that hold a comment", _text(2000)
    ),
    SiteSetting(
        "min_seconds_to_post", 3, "forms posted sooner after opening are refused",
        _IntBetween(0, 600),
    ),
    SiteSetting(
        "guest_likes_per_network", 3,
        "guest likes of one comment counted from one network (IPv4 address or IPv6 /64);"
        " signed-in likes always count",
        _IntBetween(1, 10_000),
    ),
    SiteSetting(
        "sign_in", "optional", "guests may comment (optional), or only signed-in people (required)",
        _Choice("optional", "required"),
    ),
    SiteSetting(
        "guest_email", "required",
        "guests must give an email address (required), or may leave it out (optional)",
        _Choice("required", "optional"),
    ),
    SiteSetting(
        "notify_emails", "", "comma-separated addresses told of new and held comments", _emails
    ),
    SiteSetting(
        "webhook_url", "", "receives a signed JSON POST for each new comment (empty: none)",
        _http_url,
    ),
    SiteSetting(
        "feed_url", "",
        "the blog's RSS or Atom feed (such as https://blog.example/feed/): readers may ask to"
        " be emailed its new posts (empty: no such box on the form)",
        _http_url,
    ),
    SiteSetting(
        "fetch_titles", "on",
        "on: a thread's title (for emails, feeds, the admin) is read from its page by the server;"
        " off: the title the embed sends is kept (pages the server cannot fetch, behind a login)",
        _Choice("on", "off"),
    ),
    SiteSetting(
        "count_zero", "", "count wording for no comments (empty: the language's)", _wording(False)
    ),
    SiteSetting(
        "count_one", "", "count wording for one comment (empty: the language's)", _wording(False)
    ),
    SiteSetting(
        "count_many", "", "count wording for more, with {n} (empty: the language's)", _wording(True)
    ),
    SiteSetting(
        "timezone", "",
        "the blog's time zone (such as Europe/Berlin), for the local dates of WordPress exports"
        " (empty: the offsets imports saw, else UTC)",
        _time_zone,
    ),
    SiteSetting(
        "author_accounts", "",
        "accounts (numbers, comma-separated) whose comments carry the Author badge and are"
        " published at once: the blog's authors",
        _account_ids,
    ),
    SiteSetting(
        "moderator_accounts", "",
        "accounts (numbers, comma-separated) whose comments carry the Moderator badge and are"
        " published at once: moderators who answer from the comment section",
        _account_ids,
    ),
)  # fmt: skip

_SITE_SETTING = {s.name: s for s in SITE_SETTINGS}


@dataclasses.dataclass(frozen=True, slots=True)
class SiteSettings:
    order: Literal["oldest", "newest"]
    first_page: Literal["newest", "oldest"]
    max_depth: int
    page_size: int
    edit_window_s: int
    moderation: Literal["none", "first", "all"]
    max_links: int
    blocked_words: str
    min_seconds_to_post: int
    guest_likes_per_network: int
    sign_in: Literal["optional", "required"]
    guest_email: Literal["required", "optional"]
    notify_emails: str
    webhook_url: str
    feed_url: str
    fetch_titles: Literal["on", "off"]
    count_zero: str
    count_one: str
    count_many: str
    timezone: str
    author_accounts: str
    moderator_accounts: str


def settings_of(site: Site) -> SiteSettings:
    return _resolve(tuple(sorted(site.settings.items())))


@lru_cache(maxsize=1024)
def _resolve(overrides: tuple[tuple[str, Any], ...]) -> SiteSettings:
    values = {s.name: s.default for s in SITE_SETTINGS}
    for name, raw in overrides:
        if name in _SITE_SETTING:  # a setting dropped from the code is ignored, not fatal
            try:
                values[name] = _SITE_SETTING[name].parse(raw)
            except ValueError:
                continue
    return SiteSettings(**values)


def validate_site_id(site_id: str) -> str:
    if not SITE_ID.match(site_id):
        raise Invalid(
            f"{site_id!r} is not a usable site id: use 1 to 63 lowercase letters, digits,"
            " '-' or '_', starting with a letter or digit.",
            {"site": "Use lowercase letters, digits, '-' and '_'."},
        )
    return site_id


def normalize_origin(raw: str) -> str:
    """`https://Blog.Example:443/` -> `https://blog.example`; raises Invalid for non-origins."""
    parts = split_url(raw.strip())
    # A host that is no name nor address ('*', 'blog.example *') would widen the frame's
    # Content-Security-Policy, or break its header (only ASCII goes there).
    if (
        parts is None or parts.scheme not in {"http", "https"} or not parts.hostname
        or not is_host_name(parts.hostname)
    ):  # fmt: skip
        raise Invalid(
            f"{raw!r} is not an origin: write it as https://blog.example (scheme and host,"
            " and a port when it is not the usual one).",
            {"origin": "Write an origin such as https://blog.example."},
        )
    if parts.path not in {"", "/"} or parts.query or parts.fragment or parts.username:
        raise Invalid(
            f"{raw!r} is not an origin: leave out the path, query and user name"
            " (https://blog.example, not https://blog.example/posts/).",
            {"origin": "Leave out the path."},
        )
    return origin_of(parts)


def parse_site_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Typed per-site overrides; raises Invalid naming the first unknown or bad one."""
    parsed = {}
    for name, value in raw.items():
        setting = _SITE_SETTING.get(name)
        if setting is None:
            known = ", ".join(_SITE_SETTING)
            raise Invalid(f"There is no site setting called {name!r}; the settings are: {known}.")
        try:
            parsed[name] = setting.parse(value)
        except ValueError as exc:
            raise Invalid(f"{name}: {exc}.", {name: str(exc)}) from exc
    return parsed


async def check_outbound_settings(parsed: Mapping[str, Any], outbound: Outbound) -> None:
    """Refuse settings that would send this server's requests where it may not connect (a
    webhook at 127.0.0.1, say); raises Invalid naming the setting. Each request checks again,
    since a name may resolve elsewhere later."""
    for name in ("webhook_url", "feed_url"):
        url = parsed.get(name)
        if not url:
            continue
        refusal = await outbound.refusal(url, allow_private_networks=True)
        if refusal:
            raise Invalid(f"{name}: {refusal}.", {name: f"{refusal}."})


async def check_badge_accounts(
    storage: Storage, parsed: Mapping[str, Any], site: Site | None = None
) -> None:
    """Refuse a badge for an account number no account has (yet); raises Invalid naming the
    setting. Accounts are numbered in turn, so such a number would badge whoever signs in as
    it one day (and publish their comments at once). Numbers the site lists already pass:
    saving the site's other settings must not trip on them."""
    for name in ("author_accounts", "moderator_accounts"):
        had = set(_account_numbers(getattr(settings_of(site), name))) if site else set()
        for number in _account_numbers(parsed.get(name, "")):
            if number not in had and await storage.get_user(int(number)) is None:
                said = (
                    f"there is no account {number}: give the number the admin shows beside the"
                    f' account\'s comments ("user {number}"), once that person has signed in'
                )
                raise Invalid(f"{name}: {said}.", {name: f"{said[0].upper()}{said[1:]}."})


def _account_numbers(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


async def add_site(
    storage: Storage,
    site_id: str,
    origins: Sequence[str],
    name: str = "",
    settings: Mapping[str, Any] | None = None,
    outbound: Outbound | None = None,
) -> Site:
    """`outbound` is how this server reaches others (default: public addresses only)."""
    validate_site_id(site_id)
    normalized = sorted({normalize_origin(origin) for origin in origins})
    if not normalized:
        raise Invalid("A site needs at least one origin allowed to embed it.")
    parsed = parse_site_settings(settings or {})
    await check_outbound_settings(parsed, outbound or Outbound())
    await check_badge_accounts(storage, parsed)
    with worded():
        return await storage.add_site(site_id, name.strip() or site_id, normalized, parsed)


async def get_site(storage: Storage, site_id: str) -> Site:
    # An id no site can have is not looked up (a NUL byte, say, which PostgreSQL refuses).
    site = await storage.get_site(site_id) if SITE_ID.match(site_id) else None
    if site is None:
        raise NotFound(said("error_no_site", site=repr(site_id), site_id=site_id))
    return site


async def update_site(
    storage: Storage,
    site_id: str,
    name: str,
    origins: Sequence[str],
    settings: Mapping[str, Any],
) -> Site:
    """Save a site as edited on its admin page: `settings` are parsed and checked already."""
    # Settings equal to the default are not stored, so later changes of a default apply.
    defaults = {setting.name: setting.default for setting in SITE_SETTINGS}
    overrides = {key: value for key, value in settings.items() if value != defaults.get(key)}
    return await storage.update_site(site_id, name=name, origins=origins, settings=overrides)


async def add_origin(storage: Storage, site_id: str, raw_origin: str) -> Site:
    """Let one more origin embed the site's comments (adding one it has changes nothing)."""
    site = await get_site(storage, site_id)
    origin = normalize_origin(raw_origin)
    if origin in site.origins:
        return site
    return await storage.update_site(site.id, origins=sorted({*site.origins, origin}))


async def remove_origin(storage: Storage, site_id: str, raw_origin: str) -> Site:
    """One origin fewer. One listed as it was typed, before origins were checked (`https://*`,
    an international name), is removed as listed: no check could make it match."""
    site = await get_site(storage, site_id)
    listed = raw_origin.strip()
    origin = listed if listed in site.origins else normalize_origin(raw_origin)
    if origin not in site.origins:
        raise Invalid(f"{origin} is not an origin of {site.id!r}.")
    origins = [o for o in site.origins if o != origin]
    if not origins:
        raise Invalid("A site needs at least one origin; add another one first.")
    return await storage.update_site(site.id, origins=origins)


async def change_site_setting(
    storage: Storage, site_id: str, name: str, value: Any, outbound: Outbound | None = None
) -> Site:
    """`outbound` is how this server reaches others (default: public addresses only)."""
    return await change_site_settings(storage, site_id, {name: value}, outbound)


async def forget_account(storage: Storage, user_id: int) -> None:
    """An erased account's number leaves the sites' badges and bans: with SQLite, it is the
    next account's, which would wear the badge (and skip moderation) or be banned."""
    for site in await storage.list_sites():
        for ban in await storage.list_bans(site.id):
            if ban.kind == "user" and ban.value == str(user_id):
                await storage.remove_ban(ban.id, None)
        settings = settings_of(site)
        changed = {}
        for name in ("author_accounts", "moderator_accounts"):
            ids = [part.strip() for part in getattr(settings, name).split(",") if part.strip()]
            if str(user_id) in ids:
                changed[name] = ", ".join(i for i in ids if i != str(user_id))
        if changed:
            await change_site_settings(storage, site.id, changed)


async def change_site_settings(
    storage: Storage, site_id: str, values: Mapping[str, Any], outbound: Outbound | None = None
) -> Site:
    """Several settings of one site changed at once (one new site version)."""
    site = await get_site(storage, site_id)
    parsed = parse_site_settings(values)
    await check_outbound_settings(parsed, outbound or Outbound())
    await check_badge_accounts(storage, parsed, site)
    merged = dict(site.settings)
    merged.update(parsed)
    with worded():
        return await storage.update_site(site_id, settings=merged)
