"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1), and reading what reached it."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from tests.helpers import OWN_ORIGIN, PUBLIC_URL, make_settings, posted
from tests.servers import free_port
from widget.config import Settings


class Inbox:
    """What an aiosmtpd server on 127.0.0.1 received, as parsed messages."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # each message's bytes as they reached the server
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.raw.append(envelope.original_content or envelope.content)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[EmailMessage]:
        for _ in range(int(timeout_s / 0.02)):  # mail arrives on aiosmtpd's own thread
            if len(self.messages) >= count:
                break
            await asyncio.sleep(0.02)
        assert len(self.messages) >= count, [m["Subject"] for m in self.messages]
        return self.messages


def start_smtp(port: int = 0) -> tuple[Controller, Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port or free_port())
    controller.start()
    return controller, inbox


def mail_settings(tmp_path: Path, database_url: str, port: int, **extra: Any) -> Settings:
    return make_settings(
        tmp_path / "data", database_url=database_url, smtp_host="127.0.0.1",
        smtp_port=port, smtp_security="none", **extra,
    )  # fmt: skip


def body_of(message: EmailMessage, subtype: str = "plain") -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def link_in(message: EmailMessage, path: str, public_url: str = PUBLIC_URL) -> str:
    """The first link in the mail to `path` on this server, with its signed token."""
    match = re.search(rf"{re.escape(public_url + path)}\?token=[\w.\-]+", body_of(message))
    assert match is not None, body_of(message)
    return match.group(0)


async def subscribe(
    client: httpx.AsyncClient, inbox: Inbox, address: str, scope: str, **fields: Any
) -> dict[str, Any]:
    """Post with "notify me", follow the confirmation email, choose `scope`."""
    before = len(inbox.to(address))
    data = await posted(client, email=address, notify=True, **fields)
    for _ in range(250):
        if len(inbox.to(address)) > before:
            break
        await asyncio.sleep(0.02)
    (confirmation,) = inbox.to(address)[before:]
    assert confirmation["Subject"] == "Confirm: follow the comments on “Hello world”"
    link = link_in(confirmation, "/notify/confirm")
    page = await client.get(link)
    assert page.status_code == 200
    assert 'value="replies" checked' in page.text  # GET changes nothing; the button does
    token = link.split("token=")[1]
    done = await client.post(
        "/notify/confirm", data={"token": token, "scope": scope}, headers=OWN_ORIGIN
    )
    assert done.status_code == 200
    assert "Confirmed" in done.text
    return data
