"""Signed values, each for one purpose and with an expiry.

A token minted for one purpose (its salt) never verifies for another, and every token carries
its signing time, so each check states how old a token may be.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from datetime import datetime
from typing import Any

from itsdangerous import (
    BadSignature,
    SignatureExpired,
    Signer,
    TimestampSigner,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_decode, base64_encode, want_bytes
from itsdangerous.serializer import Serializer

__all__ = ["BadToken", "Purpose", "TokenSigner", "names_row", "row_mark", "token_hash"]


def token_hash(token: str, purpose: str = "") -> str:
    """What is stored of a random session or login token: a lost database leaks no session.
    A `purpose` salts it, so that a token stored for one purpose is found by no other's lookup."""
    salted = f"{purpose}:{token}" if purpose else token
    return hashlib.sha256(salted.encode()).hexdigest()


def row_mark(identity: str | datetime) -> str | int:
    """What a token that names a row by its number carries of the row beside it (its "r"):
    a digest of what only that row has (an address), or when it was made, in milliseconds.
    SQLite numbers a new row one past the largest, so the number of a row deleted for good
    (spam emptied, an unsubscribed address) comes back on the next row, someone else's."""
    if isinstance(identity, datetime):
        return round(identity.timestamp() * 1000)
    return hashlib.blake2b(identity.encode(), digest_size=6).hexdigest()


def names_row(value: Any, identity: str | datetime) -> bool:
    """Whether a verified token's value names the row of this identity (see `row_mark`).
    Tokens signed before they carried the mark name whichever row has their number. A time
    may differ by a millisecond: SQLite keeps it as a float, read back a microsecond apart."""
    mark = value.get("r") if isinstance(value, dict) else None
    if mark is None:
        return True
    expected = row_mark(identity)
    if isinstance(expected, int):
        return isinstance(mark, int) and abs(mark - expected) <= 1
    return bool(mark == expected)


class Purpose(enum.Enum):
    """Each purpose is a salt and the longest a token of that kind stays valid (seconds)."""

    # The reply form: proves the form came from this server recently.
    FORM = ("widget.form", 2 * 24 * 3600)
    # A browser's anonymous voter id for likes.
    VOTER = ("widget.voter", 365 * 24 * 3600)
    # Lets the author edit or delete one comment. The site's edit window (at most this long,
    # see widget.sites) is what really limits it; this bounds a token's life whatever the site.
    EDIT = ("widget.edit", 7 * 24 * 3600)
    # The admin sign-in form: proves it came from our page, within the hour.
    ADMIN_LOGIN = ("widget.admin-login", 3600)
    # A browser an admin signed in with (a cookie of the sign-in page): its sign-ins have a
    # limit of their own, which guesses at the account from elsewhere do not use up.
    ADMIN_DEVICE = ("widget.admin-device", 90 * 24 * 3600)
    # An admin form's CSRF token, bound to the admin's session (which ends sooner).
    ADMIN_FORM = ("widget.admin-form", 7 * 24 * 3600)
    # The link in a "confirm your subscription" email.
    SUBSCRIBE = ("widget.subscribe", 7 * 24 * 3600)
    # The unsubscribe link of every notification: good for as long as mail may linger.
    UNSUBSCRIBE = ("widget.unsubscribe", 400 * 24 * 3600)
    # The link in a "confirm: new posts by email" email, and the unsubscribe link of each new
    # post's email: of their own, so that a thread's token never stands for a site's list.
    POSTS_SUBSCRIBE = ("widget.posts-subscribe", 7 * 24 * 3600)
    POSTS_UNSUBSCRIBE = ("widget.posts-unsubscribe", 400 * 24 * 3600)
    # Approve or delete links in a moderator's notification.
    MODERATE = ("widget.moderate", 7 * 24 * 3600)
    # The link that lets a guest download or delete what they wrote under an email address.
    OWN_DATA = ("widget.own-data", 24 * 3600)
    # The link of a "sign in to comment" email: a quarter of an hour, used once.
    EMAIL_SIGN_IN = ("widget.email-sign-in", 15 * 60)
    # Who may add and remove passkeys in the passkey popup: handed by the frame, kept in the
    # popup's session while the person is there.
    PASSKEY_OWNER = ("widget.passkey-owner", 15 * 60)
    # One WebAuthn ceremony's challenge, kept in the popup's session: single use, a few minutes.
    PASSKEY_CEREMONY = ("widget.passkey-ceremony", 5 * 60)

    def __init__(self, salt: str, max_age_s: int) -> None:
        self.salt = salt
        self.max_age_s = max_age_s


class BadToken(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.expired = reason == "expired"


class _UncompressedSerializer(URLSafeTimedSerializer):
    """itsdangerous's URL-safe tokens, never zlib-compressed: our values are a few short
    fields, which compression rarely shortens, and trying costs a zlib stream each time (a
    tenth of a comment's CPU time, two tokens a post). Compressed tokens (a leading ".")
    still verify."""

    def dump_payload(self, obj: Any) -> bytes:
        return base64_encode(Serializer.dump_payload(self, obj))

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        """One signer for this serializer's salt, made once: itsdangerous makes one per
        token, deriving its key and keying its HMAC each time."""
        if salt is not None and salt != self.salt:
            return super().make_signer(salt)
        if self._signer is None:
            self._signer = _KeyedSigner(self.secret_keys, salt=self.salt, **self.signer_kwargs)
        return self._signer

    _signer: Signer | None = None


class _KeyedSigner(TimestampSigner):
    """A TimestampSigner whose key is derived once, and whose HMAC is keyed once and copied
    for each value (the same signatures; a fifth of a token's cost was making them again)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._keyed = hmac.new(self.derive_key(), digestmod=self.digest_method)

    def _mac(self, value: str | bytes) -> bytes:
        mac = self._keyed.copy()
        mac.update(want_bytes(value))
        return mac.digest()

    def get_signature(self, value: str | bytes) -> bytes:
        return base64_encode(self._mac(value))

    def verify_signature(self, value: str | bytes, sig: str | bytes) -> bool:
        try:
            expected = base64_decode(sig)
        except Exception:  # as itsdangerous: a signature that is not base64 is just wrong
            return False
        return hmac.compare_digest(expected, self._mac(value))


class TokenSigner:
    def __init__(self, secret_key: str) -> None:
        self._serializers = {
            purpose: _UncompressedSerializer(secret_key, salt=purpose.salt) for purpose in Purpose
        }

    def sign(self, purpose: Purpose, value: Any) -> str:
        return str(self._serializers[purpose].dumps(value))

    def verify_timed(self, purpose: Purpose, token: str) -> tuple[Any, datetime]:
        """The signed value and when it was signed; raises BadToken like `verify`."""
        try:
            value, signed_at = self._serializers[purpose].loads(
                token, max_age=purpose.max_age_s, return_timestamp=True
            )
        except SignatureExpired as exc:
            raise BadToken("expired") from exc
        except BadSignature as exc:
            raise BadToken("invalid") from exc
        return value, signed_at

    def language_in(self, purpose: Purpose, token: str) -> str:
        """The language a link's token was asked in (its "l"), to answer in it: '' when it
        says none or is no good."""
        try:
            value = self.verify(purpose, token)
        except BadToken:
            return ""
        language = value.get("l") if isinstance(value, dict) else None
        return language if isinstance(language, str) else ""

    def verify(self, purpose: Purpose, token: str, max_age_s: int | None = None) -> Any:
        """The signed value; raises BadToken when forged, for another purpose, or too old."""
        age = purpose.max_age_s if max_age_s is None else min(max_age_s, purpose.max_age_s)
        try:
            return self._serializers[purpose].loads(token, max_age=age)
        except SignatureExpired as exc:
            raise BadToken("expired") from exc
        except BadSignature as exc:
            raise BadToken("invalid") from exc
