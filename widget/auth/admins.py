"""Admin accounts: passwords (argon2id), sessions, API tokens, and the CSRF tokens of admin forms.

Admins sign in on our own origin with an email address and a password; the session is a random
token whose hash is stored, carried in a `SameSite=Strict` cookie so that no other site can make
a browser use it. Every admin form also carries a signed token bound to that session.

An API token (`widget admin token`, for exports run by cron) is stored the same way but under
another purpose: it opens the export API and nothing else, and a session opens no API.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from widget.auth.tokens import BadToken, Purpose, TokenSigner, names_row, row_mark, token_hash
from widget.config import Settings
from widget.email_address import email_field
from widget.errors import Forbidden, Invalid
from widget.records import Admin, RateLimit
from widget.storage import Storage

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = [
    "ADMIN_COOKIE",
    "SECURE_ADMIN_COOKIE",
    "AdminAuth",
    "Passwords",
    "add_api_token",
    "admin_cookie",
    "check_admin_email",
    "check_new_password",
]

ADMIN_COOKIE = "widget_admin"  # over plain http (a machine's own network, the tests)
# Over https the session cookie takes the __Host- prefix, which browsers keep only if Secure,
# for Path=/ and with no Domain: another host under the same site (blog.example.com beside
# comments.example.com) can then neither set nor shadow it, as it could a plain one with
# Domain=example.com (an admin signed in, unaware, to a session of that host's choosing).
SECURE_ADMIN_COOKIE = "__Host-widget_admin"


def admin_cookie(public_url: str) -> tuple[str, str]:
    """The admin session cookie's name and the attributes that go with it, for `public_url`."""
    if public_url.startswith("https://"):
        return SECURE_ADMIN_COOKIE, "Path=/; HttpOnly; SameSite=Strict; Secure"
    return ADMIN_COOKIE, "Path=/admin; HttpOnly; SameSite=Strict"


# Kept by a browser an admin signed in with, for the sign-in page only (Purpose.ADMIN_DEVICE).
ADMIN_DEVICE_COOKIE = "widget_admin_device"
# The purposes an admin's random token is stored under (salts of its stored hash).
SESSION_PURPOSE = "widget.admin-session"
API_PURPOSE = "widget.admin-api"
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1000  # argon2 takes any length; a megabyte of it is an attack, not a password
# Guessing is slowed per address and per account; both count every attempt.
LOGIN_TRIES_PER_ADDRESS = 20
LOGIN_TRIES_PER_ACCOUNT = 10
LOGIN_PERIOD_S = 15 * 60.0


class Passwords:
    """Admin passwords, hashed with argon2id at the cost the settings give
    (`admin_password_memory_kib`, `admin_password_time_cost`).

    A check holds that much memory while it runs (64 MiB by default), so at most
    `admin_password_checks_at_once` run together and further sign-ins wait their turn: a burst
    of sign-ins costs time, never unbounded memory. Nothing is hashed until a password is, and
    argon2 itself (some 0.5 MB) is imported then.
    """

    def __init__(self, memory_kib: int, time_cost: int, at_once: int) -> None:
        self._memory_kib = memory_kib
        self._time_cost = time_cost
        self._at_once = asyncio.Semaphore(at_once)

    @functools.cached_property
    def _hasher(self) -> PasswordHasher:
        from argon2 import PasswordHasher

        # The library's parallelism (4 lanes) and lengths are kept: hashes made before these
        # settings existed need no rehash at the default cost.
        return PasswordHasher(time_cost=self._time_cost, memory_cost=self._memory_kib)

    @functools.cached_property
    def _nobody(self) -> str:
        # Checked when the email is unknown, so that a wrong address costs what a wrong password
        # does: a hash at this cost that no password matches, written out without hashing.
        return _unmatchable_hash(self._hasher)

    @classmethod
    def from_settings(cls, settings: Settings) -> Passwords:
        return cls(
            settings.admin_password_memory_kib,
            settings.admin_password_time_cost,
            settings.admin_password_checks_at_once,
        )

    def hash(self, password: str) -> str:
        """The stored form of a new password (blocks for one hash: the command line's use)."""
        return self._hasher.hash(password)

    async def check(self, password_hash: str | None, password: str) -> bool:
        """Whether `password` matches; `None` (no such admin) costs the same and never does."""
        async with self._at_once:
            # argon2 takes tens of milliseconds of CPU: off the event loop.
            return await asyncio.to_thread(self._verify, password_hash or self._nobody, password)

    async def rehash(self, password_hash: str, password: str) -> str | None:
        """A new hash of a password that just matched, when its stored hash was made at another
        cost than today's settings; else None."""
        if not self._hasher.check_needs_rehash(password_hash):
            return None
        async with self._at_once:
            return await asyncio.to_thread(self._hasher.hash, password)

    def _verify(self, password_hash: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def _unmatchable_hash(hasher: PasswordHasher) -> str:
    """An argon2id hash in the PHC format at `hasher`'s cost, of a random salt and a random
    digest: checking a password against it costs a full hash and fails (but for a 2**-256
    chance)."""

    def random_b64(size: int) -> str:
        return base64.b64encode(secrets.token_bytes(size)).decode("ascii").rstrip("=")

    parameters = f"m={hasher.memory_cost},t={hasher.time_cost},p={hasher.parallelism}"
    return (
        f"$argon2id$v=19${parameters}${random_b64(hasher.salt_len)}${random_b64(hasher.hash_len)}"
    )


def check_admin_email(raw: str) -> str:
    """An admin's address, lower-cased: it is their sign-in name."""
    return email_field(raw).lower()


def check_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise Invalid(
            f"Choose a password of at least {MIN_PASSWORD_CHARS} characters.",
            {"password": f"At least {MIN_PASSWORD_CHARS} characters."},
        )
    if len(password) > MAX_PASSWORD_CHARS:
        raise Invalid(f"Choose a password of at most {MAX_PASSWORD_CHARS} characters.")
    return password


class AdminAuth:
    def __init__(
        self, storage: Storage, signer: TokenSigner, passwords: Passwords, session_hours: float
    ) -> None:
        self.storage = storage
        self.signer = signer
        self.passwords = passwords
        self.session_lifetime = timedelta(hours=session_hours)

    async def log_in(self, email: str, password: str, address_key: str, device: str = "") -> str:
        """A new session token for the admin with this email and password; raises Forbidden
        (the same for an unknown address as for a wrong password) or RateLimited. `device`
        is the browser's device token (`device_token`), if it has one."""
        email = email.strip().lower()
        now = datetime.now(UTC)
        too_often = "Too many sign-in attempts"
        # Tries at an account are counted together, wherever they come from, so that guessing
        # from many networks gets nowhere; but then ten guesses a quarter of an hour, from
        # anyone who knows the address, kept its admin out for good. A browser the admin
        # signed in with before counts its tries apart.
        account = f"admin-login:{email}"
        if self.known_device(device, email):
            account = f"admin-login-device:{token_hash(device, Purpose.ADMIN_DEVICE.salt)}"
        await self.storage.take_rate_limits(
            [
                RateLimit(f"admin-login:{address_key}", LOGIN_TRIES_PER_ADDRESS, LOGIN_PERIOD_S,
                          too_often),
                RateLimit(account, LOGIN_TRIES_PER_ACCOUNT, LOGIN_PERIOD_S, too_often),
            ],
            now,
        )  # fmt: skip
        found = await self.storage.get_admin_login(email) if len(email) <= 254 else None
        password = password[: MAX_PASSWORD_CHARS + 1]
        matches = await self.passwords.check(found[1] if found else None, password)
        if found is None or not matches:
            raise Forbidden("That email address and password do not match an admin account.")
        admin, stored = found
        rehashed = await self.passwords.rehash(stored, password)
        if rehashed is not None:
            await self.storage.update_admin(email, password_hash=rehashed)
        token = secrets.token_urlsafe(32)
        await self.storage.add_session(
            Admin, token_hash(token, SESSION_PURPOSE), admin.id, now + self.session_lifetime
        )
        return token

    def device_token(self, email: str) -> str:
        """For the browser that just signed in as `email`: it names the account, not the
        address (a hash of it)."""
        return self.signer.sign(Purpose.ADMIN_DEVICE, {"r": row_mark(email.strip().lower())})

    def known_device(self, token: str, email: str) -> bool:
        """Whether `token` is a device token (unexpired) of a browser that signed in as `email`."""
        if not token or len(token) > 200:
            return False
        try:
            value = self.signer.verify(Purpose.ADMIN_DEVICE, token)
        except BadToken:
            return False
        return names_row(value, email)

    async def admin_for_session(self, token: str | None) -> Admin | None:
        """The admin signed in with this session cookie; never for an API token."""
        return await _admin_for(self.storage, token, SESSION_PURPOSE)

    async def admin_for_api(self, token: str | None) -> Admin | None:
        """The admin an API token acts as; never for a session cookie."""
        return await _admin_for(self.storage, token, API_PURPOSE)

    async def log_out(self, token: str | None) -> None:
        if token and len(token) <= 100:
            await self.storage.delete_session(Admin, token_hash(token, SESSION_PURPOSE))

    # -- CSRF -------------------------------------------------------------------------------

    def form_token(self, session_token: str) -> str:
        return self.signer.sign(Purpose.ADMIN_FORM, token_hash(session_token)[:32])

    def check_form_token(self, session_token: str, form_token: str) -> None:
        try:
            value = self.signer.verify(Purpose.ADMIN_FORM, form_token)
        except BadToken:
            value = None
        expected = token_hash(session_token)[:32]
        if not isinstance(value, str) or not hmac.compare_digest(value, expected):
            raise Forbidden("This form has expired or is not from this admin page; reload it.")

    def login_form_token(self) -> str:
        return self.signer.sign(Purpose.ADMIN_LOGIN, "login")

    def check_login_form_token(self, form_token: str) -> None:
        try:
            self.signer.verify(Purpose.ADMIN_LOGIN, form_token)
        except BadToken as exc:
            raise Forbidden("The sign-in form has expired; reload the page.") from exc


async def _admin_for(storage: Storage, token: str | None, purpose: str) -> Admin | None:
    if not token or len(token) > 100:
        return None
    return await storage.get_session(Admin, token_hash(token, purpose), datetime.now(UTC))


async def add_api_token(storage: Storage, admin: Admin, days: int) -> str:
    """A new API token acting as `admin` for `days`; it ends sooner, with the admin's
    sessions, when their password changes."""
    token = "wga_" + secrets.token_urlsafe(32)  # the mark tells people and secret scanners
    expires_at = datetime.now(UTC) + timedelta(days=days)
    await storage.add_session(Admin, token_hash(token, API_PURPOSE), admin.id, expires_at)
    return token


def visible_sites(admin: Admin, all_site_ids: Sequence[str]) -> list[str]:
    """The sites an admin may see, of those that exist."""
    return [site_id for site_id in all_site_ids if admin.may_manage(site_id)]
