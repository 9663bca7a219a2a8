"""Passkeys: a signed-in commenter adds one, and later signs in with it (docs/sign-in.md).

Both ceremonies run in a popup on our own origin, a first-party top-level window, so the
relying party is the comment server itself: its id is the host of `public_url`, the origin
the browser reports must be `public_url`'s. (The frame is third-party on every blog; WebAuthn
there would need each blog to delegate it.)

- Adding: the frame, signed in, asks for an owner token (`owner_token`, 15 minutes at most,
  and only while the frame's session lasts) and posts it into the popup, which keeps it in
  its own session. The popup's page carries the options for `navigator.credentials.create()`:
  a discoverable credential (a resident key, user verification preferred), the account's
  other passkeys excluded.
- Signing in: the frame starts the popup like any provider's, posting its challenge; the
  popup's page asks `navigator.credentials.get()` at once, with no credential named, so the
  authenticator offers the passkeys it holds for us: the button, then the authenticator. The
  assertion, once verified, mints the same login code as any provider (widget/auth/signin.py),
  which only the frame holding the verifier redeems.

Each ceremony's challenge is random (webauthn's 64 bytes), signed with the popup's purpose and
kept in the popup's session cookie (bound to that window), good for five minutes and once (a
single-use key in the database). The signature counter must go up at each use: one that goes
back means that a copy of the credential signed, which is refused and logged. webauthn (and the
cryptography and CBOR it needs) is imported when a ceremony starts, not with the server.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import re
import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from widget.config import Settings
from widget.errors import BadRequest, ClientError, Conflict, Forbidden, Invalid, RateLimited
from widget.messages import said, to_keep
from widget.records import Passkey, RateLimit, User
from widget.refusals import worded
from widget.storage import Storage

from .signin import FLOW_TTL, LOGIN_CODE_TTL, valid_challenge
from .tokens import BadToken, Purpose, TokenSigner, token_hash

__all__ = ["PROVIDER", "Ceremony", "Passkeys"]

log = logging.getLogger(__name__)

PROVIDER = "passkey"  # the frame's sign-in button, and /auth/passkey/… in the popup
MAX_PASSKEYS = 20  # per account: a phone, a laptop, a security key or two, with room to spare
MAX_NAME_CHARS = 60
MAX_CREDENTIAL_CHARS = 16_384  # a credential's JSON: a few hundred bytes, attestation included
CEREMONY_TIMEOUT_MS = 120_000  # what the browser is told; the token's own limit is longer
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_TRANSPORTS = {"ble", "cable", "hybrid", "internal", "nfc", "smart-card", "usb"}


@dataclasses.dataclass(frozen=True, slots=True)
class Ceremony:
    options_json: str  # for the popup's page: navigator.credentials' options, base64url bytes
    token: str  # for the popup's session: the challenge, signed


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def user_handle(user_id: int) -> bytes:
    """The account as the authenticator keeps it: the user's id, which names nobody (an
    authenticator keeps one passkey per handle, so adding again on one device replaces it)."""
    return str(user_id).encode("ascii")


class Passkeys:
    def __init__(self, settings: Settings, storage: Storage, signer: TokenSigner) -> None:
        self.settings = settings
        self.storage = storage
        self.signer = signer
        public = urlsplit(settings.public_url)
        self.rp_id = public.hostname or ""
        self.origin = f"{public.scheme}://{public.netloc}"

    @property
    def enabled(self) -> bool:
        return self.settings.passkeys

    # -- adding one, and the owner's list ---------------------------------------------------

    def owner_token(self, session: str) -> str:
        """What the frame posts into the popup so that it acts for the account signed in with
        the session token `session`: good while that session lasts, 15 minutes at most."""
        return self.signer.sign(Purpose.PASSKEY_OWNER, {"s": token_hash(session)})

    async def owner(self, token: str) -> User:
        """The user an owner token is for; BadRequest when it is altered or too old, or when
        the session it was got with has ended (signed out, expired, the account erased)."""
        try:
            value = self.signer.verify(Purpose.PASSKEY_OWNER, token)
        except BadToken:
            value = None
        # The session as stored (its token's hash), not the account's number: an ended session
        # is deleted, and no other ever has its hash. Tokens signed before they carried it
        # (15 minutes at most) are refused: the frame asks for a new one.
        session = value.get("s") if isinstance(value, dict) else None
        now = datetime.now(UTC)
        user = (
            await self.storage.get_session(User, session, now) if isinstance(session, str) else None
        )
        if user is None:
            raise BadRequest(said("error_passkey_window_signed_out"))
        return user

    async def of_user(self, user: User) -> list[Passkey]:
        return await self.storage.list_passkeys(user.id)

    async def remove(self, user: User, passkey_id: int) -> None:
        if not await self.storage.remove_passkey(user.id, passkey_id):
            raise BadRequest(said("error_passkey_not_yours"))

    async def registration(self, user: User, existing: list[Passkey]) -> Ceremony:
        """Options for navigator.credentials.create(), and the token that checks the answer."""
        import webauthn
        from webauthn.helpers.structs import (
            AuthenticatorSelectionCriteria,
            PublicKeyCredentialDescriptor,
            ResidentKeyRequirement,
            UserVerificationRequirement,
        )

        options = webauthn.generate_registration_options(
            rp_id=self.rp_id,
            rp_name=f"Comments at {self.rp_id}",
            user_id=user_handle(user.id),
            user_name=user.email or user.name,
            user_display_name=user.name,
            timeout=CEREMONY_TIMEOUT_MS,
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.REQUIRED,
                require_resident_key=True,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=[
                PublicKeyCredentialDescriptor(id=_unb64(p.credential_id)) for p in existing
            ],
        )
        return Ceremony(
            webauthn.options_to_json(options),
            self._ceremony_token("add", options.challenge, user=user.id),
        )

    async def register(
        self, user: User, ceremony_token: str, credential_json: str, raw_name: str
    ) -> Passkey:
        """Keep the passkey the browser made for `user`'s ceremony. Invalid names the field
        to fix; BadRequest when the answer is not for this ceremony (used, expired, altered,
        another origin)."""
        name = " ".join(raw_name.split()) or "Passkey"
        if len(name) > MAX_NAME_CHARS or _CONTROL.search(raw_name):
            message = said("error_sign_in_name_too_long", limit=MAX_NAME_CHARS)
            raise Invalid(message, {"name": message})
        ceremony = await self._take(ceremony_token, "add")
        if ceremony.get("u") != user.id:
            raise BadRequest(said("error_passkey_start_again"))
        if len(await self.storage.list_passkeys(user.id)) >= MAX_PASSKEYS:
            raise Conflict(said("error_passkey_limit", limit=MAX_PASSKEYS))
        import webauthn
        from webauthn.helpers.exceptions import WebAuthnException

        try:
            verified = webauthn.verify_registration_response(
                credential=_credential(credential_json),
                expected_challenge=_unb64(ceremony["c"]),
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            log.info("a passkey was not added: %s", exc)
            raise BadRequest(said("error_passkey_answer_unfit")) from exc
        with worded():
            return await self.storage.add_passkey(
                user.id, _b64(verified.credential_id), verified.credential_public_key,
                verified.sign_count, _transports(credential_json), name, datetime.now(UTC),
            )  # fmt: skip

    # -- signing in ---------------------------------------------------------------------------

    def sign_in_ceremony(self, login_challenge: str) -> Ceremony:
        """Options for navigator.credentials.get(), naming no credential (the authenticator
        offers those it holds for us), for the frame that made `login_challenge`."""
        if not valid_challenge(login_challenge):
            raise BadRequest(said("error_sign_in_not_from_form"))
        import webauthn
        from webauthn.helpers.structs import UserVerificationRequirement

        options = webauthn.generate_authentication_options(
            rp_id=self.rp_id,
            timeout=CEREMONY_TIMEOUT_MS,
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        return Ceremony(
            webauthn.options_to_json(options),
            self._ceremony_token("sign-in", options.challenge, login=login_challenge),
        )

    async def sign_in(self, ceremony_token: str, credential_json: str) -> str:
        """A login code for the frame that started this ceremony, once its assertion checks
        out. ClientError, with what to do, for anything else; the frame that polls learns why
        too."""
        ceremony = await self._take(ceremony_token, "sign-in")
        try:
            user_id = await self._verify_assertion(ceremony, credential_json)
        except ClientError as exc:
            await self.storage.add_sign_in_failure(
                ceremony["l"], to_keep(exc.message), datetime.now(UTC) + FLOW_TTL
            )
            raise
        code = secrets.token_urlsafe(32)
        await self.storage.add_login_code(
            token_hash(code), ceremony["l"], user_id, datetime.now(UTC) + LOGIN_CODE_TTL
        )
        return code

    async def _verify_assertion(self, ceremony: dict[str, Any], credential_json: str) -> int:
        import webauthn
        from webauthn.helpers.exceptions import WebAuthnException

        credential = _credential(credential_json)
        credential_id = credential.get("id")
        passkey = (
            await self.storage.get_passkey(credential_id)
            if isinstance(credential_id, str) and len(credential_id) <= 1400
            else None
        )
        if passkey is None:
            log.warning("sign-in with an unknown passkey refused")
            raise BadRequest(said("error_passkey_unknown"))
        handle = credential.get("response", {}).get("userHandle")
        if handle and handle != _b64(user_handle(passkey.user_id)):
            log.warning("passkey %s: its user handle is not its owner's", passkey.id)
            raise BadRequest(said("error_passkey_other_account"))
        try:
            # The counter is checked below, against the stored one in the same statement that
            # moves it on, so that a copy is told apart from a bad signature.
            verified = webauthn.verify_authentication_response(
                credential=credential,
                expected_challenge=_unb64(ceremony["c"]),
                expected_rp_id=self.rp_id,
                expected_origin=self.origin,
                credential_public_key=passkey.public_key,
                credential_current_sign_count=0,
            )
        except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
            log.info("passkey %s: assertion refused: %s", passkey.id, exc)
            raise BadRequest(said("error_passkey_sign_in_unfit")) from exc
        try:
            with worded():
                await self.storage.use_passkey(
                    passkey.credential_id, verified.new_sign_count, datetime.now(UTC)
                )
        except Forbidden:
            log.warning(
                "passkey %s of user %s refused: counter %s after %s (a copy of it signed)",
                passkey.id, passkey.user_id, verified.new_sign_count, passkey.sign_count,
            )  # fmt: skip
            raise
        return passkey.user_id

    # -- ceremonies ---------------------------------------------------------------------------

    def _ceremony_token(self, kind: str, challenge: bytes, **bound: int | str) -> str:
        value: dict[str, int | str] = {
            "k": kind, "c": _b64(challenge), "n": secrets.token_urlsafe(12)
        }  # fmt: skip
        value.update({key[0]: item for key, item in bound.items()})
        return self.signer.sign(Purpose.PASSKEY_CEREMONY, value)

    async def _take(self, token: str, kind: str) -> dict[str, Any]:
        """The ceremony of a token from the popup's session, once."""
        try:
            value = self.signer.verify(Purpose.PASSKEY_CEREMONY, token)
        except BadToken:
            raise BadRequest(said("error_passkey_start_again")) from None
        if not isinstance(value, dict) or value.get("k") != kind:
            raise BadRequest(said("error_passkey_start_again"))
        try:
            await self.storage.take_rate_limits(
                [RateLimit(f"passkey-ceremony:{value['n']}", 1,
                           Purpose.PASSKEY_CEREMONY.max_age_s)],
                datetime.now(UTC),
            )  # fmt: skip
        except RateLimited:
            raise BadRequest(said("error_passkey_used")) from None
        return value


def _credential(credential_json: str) -> dict[str, Any]:
    """The browser's PublicKeyCredential, as JSON (toJSON's shape)."""
    if len(credential_json) > MAX_CREDENTIAL_CHARS:
        raise BadRequest(said("error_passkey_too_long"))
    try:
        value = json.loads(credential_json)
    except ValueError:
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("response"), dict):
        raise BadRequest(said("error_passkey_none_sent"))
    return value


def _transports(credential_json: str) -> list[str]:
    """How the browser says the authenticator is reached (a hint for later; unknown ones
    dropped)."""
    transports = json.loads(credential_json)["response"].get("transports")
    if not isinstance(transports, list):
        return []
    return [t for t in transports if isinstance(t, str) and t in _TRANSPORTS]
