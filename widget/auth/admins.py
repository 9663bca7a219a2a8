"""Admin accounts: passwords (argon2id), sessions, API tokens, and the CSRF tokens of admin forms.

Admins sign in on our own origin with an email address and a password; the session is a random
token whose hash is stored, carried in a `SameSite=Strict` cookie so that no other site can make
a browser use it. Every admin form also carries a signed token bound to that session.

An API token (`widget admin token`, for exports run by cron) is stored the same way but under
another purpose: it opens the export API and nothing else, and a session opens no API.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from widget.auth.tokens import BadToken, Purpose, TokenSigner, token_hash
from widget.email_address import email_field
from widget.errors import Forbidden, Invalid
from widget.records import Admin, RateLimit
from widget.storage import Storage

__all__ = [
    "ADMIN_COOKIE",
    "AdminAuth",
    "add_api_token",
    "check_admin_email",
    "check_new_password",
    "hash_password",
]

ADMIN_COOKIE = "widget_admin"
# The purposes an admin's random token is stored under (salts of its stored hash).
SESSION_PURPOSE = "widget.admin-session"
API_PURPOSE = "widget.admin-api"
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 1000  # argon2 takes any length; a megabyte of it is an attack, not a password
# Guessing is slowed per address and per account; both count every attempt.
LOGIN_TRIES_PER_ADDRESS = 20
LOGIN_TRIES_PER_ACCOUNT = 10
LOGIN_PERIOD_S = 15 * 60.0

_hasher = PasswordHasher()  # argon2id with the library's (RFC 9106) parameters
# Checked when the email is unknown, so a wrong address costs the same time as a wrong password.
_NOBODY = _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


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


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class AdminAuth:
    def __init__(self, storage: Storage, signer: TokenSigner, session_hours: float) -> None:
        self.storage = storage
        self.signer = signer
        self.session_lifetime = timedelta(hours=session_hours)

    async def log_in(self, email: str, password: str, address_key: str) -> str:
        """A new session token for the admin with this email and password; raises Forbidden
        (the same for an unknown address as for a wrong password) or RateLimited."""
        email = email.strip().lower()
        now = datetime.now(UTC)
        too_often = "Too many sign-in attempts"
        await self.storage.take_rate_limits(
            [
                RateLimit(f"admin-login:{address_key}", LOGIN_TRIES_PER_ADDRESS, LOGIN_PERIOD_S,
                          too_often),
                RateLimit(f"admin-login:{email}", LOGIN_TRIES_PER_ACCOUNT, LOGIN_PERIOD_S,
                          too_often),
            ],
            now,
        )  # fmt: skip
        found = await self.storage.get_admin_login(email) if len(email) <= 254 else None
        stored = found[1] if found else _NOBODY
        password = password[: MAX_PASSWORD_CHARS + 1]
        # argon2 takes tens of milliseconds of CPU: off the event loop.
        matches = await asyncio.to_thread(_verify, stored, password)
        if found is None or not matches:
            raise Forbidden("That email address and password do not match an admin account.")
        admin, stored = found
        if _hasher.check_needs_rehash(stored):
            await self.storage.update_admin(email, password_hash=hash_password(password))
        token = secrets.token_urlsafe(32)
        await self.storage.add_admin_session(
            token_hash(token, SESSION_PURPOSE), admin.id, now + self.session_lifetime
        )
        return token

    async def admin_for_session(self, token: str | None) -> Admin | None:
        """The admin signed in with this session cookie; never for an API token."""
        return await _admin_for(self.storage, token, SESSION_PURPOSE)

    async def admin_for_api(self, token: str | None) -> Admin | None:
        """The admin an API token acts as; never for a session cookie."""
        return await _admin_for(self.storage, token, API_PURPOSE)

    async def log_out(self, token: str | None) -> None:
        if token and len(token) <= 100:
            await self.storage.delete_admin_session(token_hash(token, SESSION_PURPOSE))

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
    return await storage.get_session_admin(token_hash(token, purpose), datetime.now(UTC))


async def add_api_token(storage: Storage, admin: Admin, days: int) -> str:
    """A new API token acting as `admin` for `days`; it ends sooner, with the admin's
    sessions, when their password changes."""
    token = "wga_" + secrets.token_urlsafe(32)  # the mark tells people and secret scanners
    expires_at = datetime.now(UTC) + timedelta(days=days)
    await storage.add_admin_session(token_hash(token, API_PURPOSE), admin.id, expires_at)
    return token


def visible_sites(admin: Admin, all_site_ids: Sequence[str]) -> list[str]:
    """The sites an admin may see, of those that exist."""
    return [site_id for site_id in all_site_ids if admin.may_manage(site_id)]
