"""Sign in with an email link, for commenters without an account elsewhere (docs/sign-in.md).

The frame opens the sign-in popup as for any provider (`POST /auth/email/start` with its
challenge, from our own origin only). The popup asks for an address and a name and mails a
link: signed, good for 15 minutes and once. The popup shows a four-digit code, which whoever
opens the link (in any browser, any mail app) types in. The code is what makes this safe: a
link alone would let someone start a sign-in as *you* in their own frame and wait for you to
click the link you did not ask for; with the code, only the person in front of the popup can
finish it. Then a login code is minted for the challenge, as after any provider, and the frame
that asked redeems it with its verifier (by message when the link was opened in the popup
itself, else when the person comes back to the page).

The account is the email identity, `("email", address)`: an account at a provider with the
same address is another user (an address never links accounts, docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime

from widget.config import Settings
from widget.email_address import email_field
from widget.errors import BadRequest, Invalid, RateLimited
from widget.messages import said
from widget.notify.plan import NotificationPlanner
from widget.records import Profile, RateLimit
from widget.storage import Storage

from .signin import LOGIN_CODE_TTL, SignInError, valid_challenge
from .tokens import BadToken, Purpose, TokenSigner, token_hash

__all__ = ["PROVIDER", "EmailSignIn", "SentLink"]

PROVIDER = "email"
LINK_TTL_S = Purpose.EMAIL_SIGN_IN.max_age_s
LINKS_PER_ADDRESS = 3  # per quarter of an hour: a typo, a slow mail server, one more try
# And per day: three a quarter of an hour, kept up, mailed 288 links a day to an address that
# someone else typed (from networks of their own).
LINKS_PER_ADDRESS_PER_DAY = 12
LINKS_PER_NETWORK = 20  # per hour: a network may be an office or a campus
CODE_TRIES = 5  # wrong codes typed on one link, per its lifetime
MAX_NAME_CHARS = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
EXPIRED = "This sign-in link has expired or is not valid. Ask for a new one from the comment form."


@dataclasses.dataclass(frozen=True, slots=True)
class SentLink:
    email: str
    code: str  # for the popup to show; the email does not carry it


class EmailSignIn:
    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        signer: TokenSigner,
        planner: NotificationPlanner,
    ) -> None:
        self.settings = settings
        self.storage = storage
        self.signer = signer
        self.planner = planner

    @property
    def enabled(self) -> bool:
        return self.settings.email_sign_in and self.settings.mail_enabled

    async def send(
        self, challenge: str, raw_email: str, raw_name: str, address_key: str, lang: str = "en"
    ) -> SentLink:
        """Mail a sign-in link (in `lang`) for the frame that made `challenge`; Invalid names
        the field to fix. Counted per network and per address before anything is sent."""
        if not valid_challenge(challenge):
            raise BadRequest("This sign-in was not started by the comment form; start again.")
        errors: dict[str, str] = {}
        name = " ".join(raw_name.split())
        if not name:
            errors["name"] = said("error_sign_in_name_empty")
        elif len(name) > MAX_NAME_CHARS or _CONTROL.search(raw_name):
            errors["name"] = said("error_sign_in_name_too_long", limit=MAX_NAME_CHARS)
        email = ""
        if not raw_email.strip():
            errors["email"] = said("error_sign_in_email_empty")
        else:
            try:
                email = email_field(raw_email).lower()
            except Invalid as exc:
                errors.update(exc.fields)
        if errors:
            raise Invalid(said("error_fields_marked"), errors)
        await self.storage.take_rate_limits(
            [
                RateLimit(f"email-sign-in:{address_key}", LINKS_PER_NETWORK, 3600.0,
                          said("error_too_many_links_network")),
                RateLimit(f"email-sign-in:{email}", LINKS_PER_ADDRESS, LINK_TTL_S,
                          said("error_too_many_links_address")),
                RateLimit(f"email-sign-in-day:{email}", LINKS_PER_ADDRESS_PER_DAY, 24 * 3600.0,
                          said("error_too_many_links_address")),
            ],
            datetime.now(UTC),
        )  # fmt: skip
        code = f"{secrets.randbelow(10_000):04d}"
        nonce = secrets.token_urlsafe(12)
        token = self.signer.sign(
            Purpose.EMAIL_SIGN_IN,
            {
                "c": challenge,
                "e": email,
                "m": name,
                "n": nonce,
                "k": self._digest(nonce, code),
                "l": lang,
            },  # the link's page speaks the popup's language too
        )
        await self.storage.add_jobs(
            [self.planner.sign_in_mail(email, token, lang)], datetime.now(UTC)
        )
        return SentLink(email, code)

    def email_of(self, token: str) -> str:
        """The address a link is for; SignInError when it is no good (expired, altered)."""
        return str(self._link(token)["e"])

    def language_of(self, token: str) -> str:
        """The language the sign-in was asked in ('' when the token says none or is no good)."""
        return self.signer.language_in(Purpose.EMAIL_SIGN_IN, token)

    async def confirm(self, token: str, typed_code: str) -> str:
        """The login code for the link's frame, once the code from its popup is typed in.
        Invalid for a wrong code (the link stays good); SignInError when the link is spent,
        expired or altered."""
        link = self._link(token)
        now = datetime.now(UTC)
        await self.storage.take_rate_limits(
            [RateLimit(f"email-sign-in-code:{link['n']}", CODE_TRIES, LINK_TTL_S,
                       said("error_too_many_codes"))],
            now,
        )  # fmt: skip
        code = "".join(typed_code.split())
        if not hmac.compare_digest(self._digest(link["n"], code), link["k"]):
            message = said("error_wrong_code")
            raise Invalid(message, {"code": message})
        # Once: the store's rate limits keep a key with a limit of one for the link's lifetime,
        # after which the link is no good anyway.
        try:
            await self.storage.take_rate_limits(
                [RateLimit(f"email-sign-in-used:{link['n']}", 1, LINK_TTL_S)], now
            )
        except RateLimited:
            raise SignInError(
                "This link has been used already. To sign in again, ask for a new one from the"
                " comment form."
            ) from None
        user = await self.storage.upsert_user(
            Profile(PROVIDER, link["e"], link["m"], email=link["e"]), now
        )
        login_code = secrets.token_urlsafe(32)
        await self.storage.add_login_code(
            token_hash(login_code), link["c"], user.id, now + LOGIN_CODE_TTL
        )
        return login_code

    def _link(self, token: str) -> dict[str, str]:
        try:
            value = self.signer.verify(Purpose.EMAIL_SIGN_IN, token)
        except BadToken:
            raise SignInError(EXPIRED) from None
        keys = ("c", "e", "m", "n", "k")
        if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in keys):
            raise SignInError(EXPIRED)
        return {key: value[key] for key in keys}

    def _digest(self, nonce: str, code: str) -> str:
        """The code as the link carries it: keyed, so that the link does not give it away."""
        key = self.settings.secret_key.encode()
        return hmac.new(key, f"{nonce}:{code}".encode(), hashlib.sha256).hexdigest()[:32]
