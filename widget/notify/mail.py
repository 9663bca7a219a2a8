"""Email: messages made from templates (plain text and HTML), sent over SMTP.

Names and titles come from visitors, so every header value is flattened to one line first: a
CR or LF in a commenter's name cannot add a header. Email bodies carry the comment as plain
text (its HTML's text, no markup) and no links but our own.

Headers that hold URLs (List-Unsubscribe) are written as RFC 2369 and 8058 say: plain, never
MIME-encoded, which the default 78-character policy does to a long token (mail clients then
show no unsubscribe button). Lines are folded only past RFC 5322's hard limit of 998.

Each mail goes to one person. Addresses are checked where they come in, and again here, whatever
a stored job holds (an import, a row older than the check): a recipient that is not one plain
address is never sent to, the envelope names only that recipient, and a job's extra headers
cannot add another (no Cc, Bcc or Resent-To).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import html.parser
import re
import ssl
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import jinja2

from widget.config import Settings
from widget.email_address import NotAnEmailAddress, check_email_address
from widget.jinja_cache import ProcessBytecodeCache
from widget.logs import redact

if TYPE_CHECKING:
    import email.policy
    import smtplib
    from email.message import EmailMessage

__all__ = [
    "BadRecipient", "Mail", "MailTemplates", "Mailer", "Words", "header_text", "plain_text",
]  # fmt: skip

SMTP_TIMEOUT_S = 20.0
# Unicode line and paragraph separators and every control character end up as a space.
_UNSAFE_IN_HEADER = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")
# Bidirectional embeddings, overrides and isolates are dropped: a name or title ending in an
# unclosed right-to-left override (U+202E) turned the rest of a subject around in mail clients.
_BIDI_CONTROLS = re.compile(r"[\u202a-\u202e\u2066-\u2069]+")
# The headers a job may add (the planner's: one-click unsubscribe, the list's id); no other.
_EXTRA_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "list-id"})


@functools.cache
def _policy() -> email.policy.EmailPolicy[EmailMessage]:
    """SMTP's line ends, and folding only where RFC 5322 requires it (see the module's
    docstring). The email package and smtplib (some 0.8 MB) are imported with the first mail."""
    import email.policy

    return email.policy.SMTP.clone(max_line_length=998)


class BadRecipient(Exception):
    """The mail's recipient is not one plain address: it is not sent, now or later."""


def header_text(text: str, max_chars: int = 150) -> str:
    """One line of at most `max_chars` characters, fit for a header."""
    flat = " ".join(_UNSAFE_IN_HEADER.sub(" ", _BIDI_CONTROLS.sub("", text)).split())
    return flat if len(flat) <= max_chars else flat[: max_chars - 1] + "…"


_PARAGRAPHS = frozenset({"p", "blockquote", "pre", "ul", "ol", "h1", "h2", "h3", "h4", "h5"})
_LINES = frozenset({"br", "li", "tr"})


class _TextOf(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _PARAGRAPHS:
            self.parts.append("\n\n")
        elif tag in _LINES:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(comment_html: str) -> str:
    """A comment's sanitised HTML as plain text: paragraphs kept, markup and link targets
    dropped."""
    parser = _TextOf()
    parser.feed(comment_html)
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


@dataclasses.dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    sender_name: str = ""  # the site's name, shown as who the mail is from

    def to_payload(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"headers": dict(self.headers)}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> Mail:
        return cls(**payload)


_COMPILED = ProcessBytecodeCache()


class Words(Protocol):
    """A language's messages (widget/views/i18n.py's Translator, handed in by the factory)."""

    language: str

    @property
    def direction(self) -> str: ...

    def __call__(self, key: str, n: int | None = None, **values: object) -> str: ...


class MailTemplates:
    """`email/NAME.txt` and `email/NAME.html`, rendered with the same values, in a language:
    `t` in the templates is `words(lang)`."""

    def __init__(self, words: Callable[[str], Words]) -> None:
        self.words = words
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("widget", "templates"),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            bytecode_cache=_COMPILED,
        )

    def mail(
        self, name: str, to: str, subject: str, values: Mapping[str, Any],
        headers: Mapping[str, str] | None = None, sender_name: str = "", lang: str = "en",
    ) -> Mail:  # fmt: skip
        t = self.words(lang)
        values = {**values, "t": t, "lang": t.language, "dir": t.direction}
        text = self.env.get_template(f"email/{name}.txt").render(values)
        html = self.env.get_template(f"email/{name}.html").render(values)
        return Mail(to, header_text(subject, 200), text, html, dict(headers or {}), sender_name)


class Mailer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tls: ssl.SSLContext | None = None

    def _tls_context(self) -> ssl.SSLContext:
        # Made when a mail first needs TLS, then kept: reading the system's CA certificates
        # takes some 30 ms of CPU, and a mail server that takes plain SMTP never needs them.
        # Two threads that race here each make one; either serves.
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def message(self, mail: Mail) -> EmailMessage:
        """The message to send; raises BadRecipient unless `mail.to` is one plain address."""
        from email.headerregistry import Address
        from email.message import EmailMessage
        from email.utils import format_datetime, make_msgid, parseaddr

        try:
            to = check_email_address(mail.to)
        except NotAnEmailAddress:
            raise BadRecipient("the recipient is not one plain email address") from None
        message = EmailMessage(policy=_policy())
        sender = parseaddr(self.settings.sender)[1]
        if mail.sender_name:  # "The blog" <widget@comments.example>
            message["From"] = Address(header_text(mail.sender_name, 80), addr_spec=sender)
        else:
            message["From"] = self.settings.sender
        message["To"] = to
        message["Subject"] = header_text(mail.subject, 200)
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
        message["Auto-Submitted"] = "auto-generated"
        for name, value in mail.headers.items():
            if name.lower() in _EXTRA_HEADERS:
                message[name] = header_text(value, 500)
        message.set_content(mail.text)
        message.add_alternative(mail.html, subtype="html")
        return message

    async def send(self, mail: Mail) -> None:
        """Raises BadRecipient, or OSError or smtplib.SMTPException when the mail server does
        not take it."""
        message = self.message(mail)
        await asyncio.to_thread(self._send, message, str(message["To"]))

    def _send(self, message: EmailMessage, recipient: str) -> None:
        import smtplib

        settings = self.settings
        smtp: smtplib.SMTP
        if settings.smtp_security == "tls":
            smtp = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=SMTP_TIMEOUT_S,
                context=self._tls_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_S)
        with smtp:
            if settings.smtp_security == "starttls":
                try:
                    smtp.starttls(context=self._tls_context())
                except smtplib.SMTPNotSupportedError as exc:
                    # The default meets a local relay that offers no TLS: say which setting.
                    raise smtplib.SMTPNotSupportedError(
                        f"the mail server at {settings.smtp_host}:{settings.smtp_port} offers no"
                        " STARTTLS, which smtp_security=starttls asks for; set smtp_security to"
                        " tls (port 465) or, for a local relay without TLS, none"
                    ) from exc
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            # The envelope names the one recipient, never what headers might add up to.
            try:
                smtp.send_message(message, to_addrs=[recipient])
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                if codes and all(500 <= code < 600 for code in codes):
                    # 5xx: the server says the address will never take mail ("550 no such
                    # user"); asking again for hours only looks like spam to it. (4xx, a
                    # mailbox full or greylisting, is tried again like any failure.)
                    raise BadRecipient(_refused(exc)) from exc
                raise


def _refused(exc: smtplib.SMTPRecipientsRefused) -> str:
    """The server's answer, without the address (answers often repeat it)."""
    answers = "; ".join(
        f"{code} {said.decode('utf-8', 'replace') if isinstance(said, bytes) else said}"
        for code, said in exc.recipients.values()
    )
    return redact(f"the mail server refused the recipient for good: {answers}")
