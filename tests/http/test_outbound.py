"""Requests to other servers reach public addresses only (widget/outbound.py): the Mastodon
server a visitor names, the webhook a site admin sets, Akismet. DNS is a resolver the test
controls; the servers that must hear nothing are real ones, listening on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import http.server
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette

from tests.admins import Admin, make_admin, signed_in
from tests.fakes import AkismetServer, FakeDNS
from tests.helpers import (
    BLOG,
    PAGE,
    PUBLIC_URL,
    QUICK,
    Widget,
    held,
    loaded_at_start,
    make_settings,
    outbox_rows,
    posted,
    provider_url,
    settle,
    start_sign_in,
)
from tests.servers import serve_in_thread
from tests.signing_in import new_verifier
from widget.app import create_app
from widget.errors import Invalid
from widget.moderation import akismet
from widget.outbound import MAX_ANSWER_BYTES, is_public
from widget.sites import SITE_SETTINGS, add_site, change_site_setting

# Every kind of address that is not on the public internet, as a DNS answer could give it.
PRIVATE = [
    "127.0.0.1", "127.255.255.254",  # loopback
    "10.0.0.5", "172.16.0.1", "172.31.255.254", "192.168.1.1",  # private networks
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "169.254.169.254",  # link-local: the cloud's metadata service
    "0.0.0.0", "255.255.255.255", "224.0.0.1", "239.255.255.250",  # this host, broadcast, multicast
    "192.0.0.170", "198.18.0.1", "240.0.0.1",  # IETF, benchmarking, reserved
    "::1", "::",  # loopback, unspecified
    "fc00::1", "fd00:ec2::254",  # unique-local (the second: the metadata service over IPv6)
    "fe80::1", "fec0::1",  # link-local, site-local
    "ff02::1", "ff05::1:3",  # multicast
    "::ffff:127.0.0.1", "::ffff:10.0.0.5", "::ffff:169.254.169.254",  # IPv4-mapped
    "::7f00:1",  # IPv4-compatible
    "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "64:ff9b:1::a00:5",  # NAT64 (well-known, local)
    "2002:7f00:1::1", "2002:a9fe:a9fe::1", "2002:c0a8:101::1",  # 6to4
    "2001::1", "2001:db8::1",  # Teredo, documentation
]  # fmt: skip
PUBLIC = ["8.8.8.8", "93.184.215.14", "2606:4700:4700::1111", "::ffff:8.8.8.8",
          "64:ff9b::808:808", "2002:808:808::1"]  # fmt: skip
EVERY_NETWORK = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))
ONLY_127_0_0_1 = (ipaddress.ip_network("127.0.0.1/32"),)


class Receiver:
    """A real HTTP server on a loopback address that records every request it gets and answers
    with `respond` (by default 204)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        respond: Callable[[http.server.BaseHTTPRequestHandler], None] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.requests: list[str] = []
        requests = self.requests

        def no_content(handler: http.server.BaseHTTPRequestHandler) -> None:
            handler.send_response(204)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_any(self) -> None:
                requests.append(f"{self.command} {self.path}")
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                (respond or no_content)(self)

            do_GET = do_POST = do_any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

        self.server = Server((host, 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.close = serve_in_thread(self.server)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def dns() -> FakeDNS:
    return FakeDNS()


async def rows(app: Starlette, table: str) -> list[tuple[Any, ...]]:
    found = []
    async for batch in app.state.widget.storage.dump(only=[table]):
        if batch.table == table:
            found += batch.rows
    return found


@contextlib.asynccontextmanager
async def running(
    tmp_path: Path, database_url: str, dns: FakeDNS, **settings: Any
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """The app and a client, with `dns`; a failed webhook call waits an hour to be tried again
    (it is tried once here)."""
    settings.setdefault("outbox_retry_s", 3600.0)
    app = create_app(
        make_settings(tmp_path / "data", database_url=database_url, **settings), resolver=dns
    )
    async with app.router.lifespan_context(app):
        await add_site(app.state.widget.storage, "blog", [BLOG], "The blog", QUICK)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield app, client


def test_public_addresses_are_those_anyone_on_the_internet_could_have() -> None:
    assert [a for a in PRIVATE if is_public(ipaddress.ip_address(a))] == []
    assert [a for a in PUBLIC if not is_public(ipaddress.ip_address(a))] == []


# -- Mastodon: the server a visitor names ---------------------------------------------------------

MASTODON = {"mastodon": {"enabled": "true"}}


async def start_mastodon(client: httpx.AsyncClient, instance: str) -> httpx.Response:
    _, challenge = new_verifier()
    return await start_sign_in(client, "mastodon", challenge, instance=instance)


async def test_a_mastodon_server_at_a_private_address_is_refused(
    tmp_path: Path, database_url: str, dns: FakeDNS
) -> None:
    # Even an operator who opened every network to webhooks has not opened them to visitors.
    async with running(tmp_path, database_url, dns, providers=MASTODON,
                       outbound_private_networks=EVERY_NETWORK) as (app, client):  # fmt: skip
        answers = {}
        for address in [*PRIVATE, "93.184.215.14 and 127.0.0.1"]:
            dns.answer("mastodon.example", address.split(" and "))
            response = await start_mastodon(client, "@ann@mastodon.example")
            answers[address] = (
                response.status_code,
                "The Mastodon server mastodon.example is not on the public internet"
                in response.text,
            )
        assert answers == {address: (400, True) for address in answers}
        assert dns.asked.count("mastodon.example") == len(answers)
        assert (
            await app.state.widget.storage.get_provider_app("mastodon", "mastodon.example") is None
        )
        # Said in the frame's language, which the start carries.
        _, challenge = new_verifier()
        turkish = await start_sign_in(
            client, "mastodon", challenge, instance="mastodon.example", lang="tr"
        )
        assert turkish.status_code == 400
        assert (
            "mastodon.example Mastodon sunucusu herkese açık internette değil; herkese açık bir"
            " sunucunun adını girin, örneğin mastodon.social." in turkish.text
        )


async def test_a_mastodon_name_rebound_after_the_check_reaches_nothing_private(
    tmp_path: Path, database_url: str, dns: FakeDNS
) -> None:
    """DNS rebinding: the name shows a public address to the check, then a private one. The
    app registration and the token request (authlib's) each connect only to what they checked."""
    async with running(tmp_path, database_url, dns, providers=MASTODON) as (app, client):
        dns.answer("new.example", ["93.184.215.14"], ["127.0.0.1"])
        registering = await start_mastodon(client, "new.example")
        assert registering.status_code == 400
        assert "The Mastodon server new.example did not answer" in registering.text
        assert dns.asked.count("new.example") == 2  # the check, then the registration's own
        assert await app.state.widget.storage.get_provider_app("mastodon", "new.example") is None

        await app.state.widget.storage.add_provider_app("mastodon", "known.example", "id", "s")
        dns.answer("known.example", ["93.184.215.14"], ["93.184.215.14"], ["127.0.0.1"])
        start = await start_mastodon(client, "known.example")
        assert provider_url(start).startswith("https://known.example/oauth/authorize?")
        state = parse_qs(urlsplit(provider_url(start)).query)["state"][0]
        callback = await client.get("/auth/mastodon/callback", params={"code": "c", "state": state})
        assert callback.status_code == 502
        assert "The provider could not be reached" in callback.text
        assert dns.asked.count("known.example") == 3  # start, callback, the token request
        assert await rows(app, "users") == []


# -- webhooks: the URL a site admin sets --------------------------------------------------------


def site_form(**changes: str) -> dict[str, str]:
    fields = {setting.name: str(setting.default) for setting in SITE_SETTINGS}
    fields.update(name="The blog", origins=BLOG, min_seconds_to_post="0", **changes)
    return fields


async def webhook_jobs(
    app: Starlette, tried: int, unless: Callable[[], object] = lambda: False
) -> list[dict[str, Any]]:
    """The webhook jobs left in the outbox, once `tried` of them have been tried at least once
    (or `unless()` is true: a receiver heard from us, say)."""
    for _ in range(500):
        jobs = [row for row in await outbox_rows(app.state.widget.storage)
                if row["kind"] == "webhook"]  # fmt: skip
        if sum(job["attempts"] >= 1 for job in jobs) >= tried or unless():
            return jobs
        app.state.widget.outbox.wake()
        await asyncio.sleep(0.02)
    raise AssertionError(f"{tried} webhook calls were not tried")


async def webhook_call_of_a_comment(app: Starlette, client: httpx.AsyncClient) -> dict[str, Any]:
    """Post a comment and return the webhook job it led to, once tried (and failed)."""
    await posted(client, body="Tell the webhook")
    (job,) = await webhook_jobs(app, 1)
    return job


async def set_webhook(app: Starlette, url: str) -> None:
    await change_site_setting(
        app.state.widget.storage, "blog", "webhook_url", url, app.state.widget.outbound
    )


async def test_a_site_admin_cannot_point_the_webhook_at_a_private_address(
    tmp_path: Path, database_url: str, dns: FakeDNS, receiver: Receiver
) -> None:
    async with running(tmp_path, database_url, dns, outbound_private_networks=()) as (app, client):
        await make_admin(app, "helper@example.com", ["blog"])
        admin: Admin = await signed_in(client, "helper@example.com")
        dns.answer("hooks.example", ["10.0.0.5"])
        dns.answer("mixed.example", ["93.184.215.14", "192.168.1.1"])
        port = receiver.port
        for url in (
            f"http://127.0.0.1:{port}/hook", "http://169.254.169.254/latest/meta-data/",
            f"http://[::1]:{port}/hook", f"http://[::ffff:127.0.0.1]:{port}/hook",
            f"http://2130706433:{port}/hook", f"http://0.0.0.0:{port}/hook",
            f"http://hooks.example:{port}/hook", "https://mixed.example/hook",
        ):  # fmt: skip
            response = await admin.post("/admin/sites/blog", **site_form(webhook_url=url))
            assert response.status_code == 422, url
            assert "Nothing was saved" in response.text
            error = re.search(r'id="e-webhook_url">([^<]*)<', response.text)
            assert error is not None and "is not a public address" in error.group(1), url
            assert "WIDGET_OUTBOUND_PRIVATE_NETWORKS" in error.group(1)
        site = await app.state.widget.storage.get_site("blog")
        assert "webhook_url" not in site.settings
        await posted(client, body="Nobody should hear of this")
    assert receiver.requests == []


def test_the_command_line_refuses_a_private_webhook_unless_the_operator_opened_it(
    widget: Widget, database_url: str
) -> None:
    added = widget("site", "add", "blog", "--origin", BLOG,
                   "--set", "webhook_url=http://127.0.0.1:9/hook", database_url=database_url)  # fmt: skip
    assert added.code == 1
    assert "webhook_url: 127.0.0.1 is not a public address" in added.err
    assert widget("site", "add", "blog", "--origin", BLOG).code == 0
    refused = widget("site", "set", "blog", "webhook_url", "http://localhost:9/hook")
    assert refused.code == 1
    assert "webhook_url: localhost resolves to" in refused.err  # by the system's DNS
    assert "WIDGET_OUTBOUND_PRIVATE_NETWORKS" in refused.err
    opened = widget("site", "set", "blog", "webhook_url", "http://127.0.0.1:9/hook",
                    outbound_private_networks="127.0.0.0/8")  # fmt: skip
    assert opened.code == 0, opened.err
    (webhook,) = re.findall(r"^  webhook_url .*$", widget("site", "show", "blog").out, re.M)
    assert "http://127.0.0.1:9/hook" in webhook


async def test_a_webhook_whose_name_now_resolves_to_a_private_address_is_not_called(
    tmp_path: Path, database_url: str, dns: FakeDNS, receiver: Receiver
) -> None:
    async with running(tmp_path, database_url, dns, outbound_private_networks=()) as (app, client):  # fmt: skip
        dns.answer("hooks.example", ["93.184.215.14"])  # public when it was set
        await set_webhook(app, f"http://hooks.example:{receiver.port}/hook")
        addresses = [*PRIVATE, "93.184.215.14 and 127.0.0.1"]
        for tried, address in enumerate(addresses, start=1):
            dns.answer("hooks.example", address.split(" and "))
            await posted(client, body=f"Comment {tried}")
            jobs = await webhook_jobs(app, tried, unless=lambda: receiver.requests)
        assert receiver.requests == []
        assert len(jobs) == len(addresses)
        assert {job["attempts"] for job in jobs} == {1}  # to be tried again later
        refusals = [job["last_error"] for job in jobs]
        assert all("is not a public address" in error for error in refusals), refusals
        # The comments themselves are published, whatever becomes of their webhook calls.
        thread = (await client.get("/api/v1/threads", params=PAGE)).json()
        assert thread["count"] == len(addresses)


@contextlib.asynccontextmanager
async def hooked(
    tmp_path: Path, database_url: str, dns: FakeDNS, url: str
) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    """`running`, where the operator opened 127.0.0.1 alone, hooks.example is 127.0.0.1, and
    the blog's webhook is `url`."""
    async with running(tmp_path, database_url, dns,
                       outbound_private_networks=ONLY_127_0_0_1) as (app, client):  # fmt: skip
        dns.answer("hooks.example", ["127.0.0.1"])
        await set_webhook(app, url)
        yield app, client


async def test_an_operator_opens_one_private_network_to_webhooks_and_only_that(
    tmp_path: Path, database_url: str, dns: FakeDNS, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    proxy = Receiver()  # a proxy named in the environment would connect unchecked: not used
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    url = f"http://hooks.example:{receiver.port}/hook"
    try:
        async with hooked(tmp_path, database_url, dns, url) as (app, client):
            await posted(client, body="For the intranet")
            await settle(app)
            assert await app.state.widget.storage.outbox_counts() == {"queued": 0, "failed": 0}
            for elsewhere in (f"http://127.0.0.2:{receiver.port}/hook", "http://169.254.169.254/",
                              f"http://[::1]:{receiver.port}/hook"):  # fmt: skip
                with pytest.raises(Invalid, match="is not a public address"):
                    await set_webhook(app, elsewhere)
    finally:
        proxy.close()
    assert receiver.requests == ["POST /hook"]
    assert proxy.requests == []
    # Asked once when set and once to send: the connection went to the address that was checked.
    assert dns.asked.count("hooks.example") == 2


async def test_a_webhook_redirected_to_a_private_address_goes_no_further(
    tmp_path: Path, database_url: str, dns: FakeDNS
) -> None:
    target = Receiver("127.0.0.2")

    def redirect(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("Location", f"http://127.0.0.2:{target.port}/hook")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    # hooks.example plays a public server: the operator opened its address, 127.0.0.1, alone.
    public = Receiver("127.0.0.1", respond=redirect)
    try:
        url = f"http://hooks.example:{public.port}/hook"
        async with hooked(tmp_path, database_url, dns, url) as (app, client):
            job = await webhook_call_of_a_comment(app, client)
    finally:
        public.close()
        target.close()
    assert public.requests == ["POST /hook"]
    assert target.requests == []
    assert "answered 307; redirects are not followed" in job["last_error"]


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    """A certificate for `subject` signed by "Test CA"; the CA's own when `key` is `ca_key`."""
    ca = key is ca_key
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       False)
    )  # fmt: skip
    if ca:
        usage = x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False,
        )  # fmt: skip
        builder = builder.add_extension(usage, critical=True)
    else:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False
        )
    return builder.sign(ca_key, hashes.SHA256())


def certificate_for(name: str, folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A test CA's certificate file (to trust) and a server's TLS context whose certificate,
    signed by that CA, names `name` alone."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "key.pem"
    ca_file.write_bytes(_certificate("Test CA", ca_key, ca_key).public_bytes(pem))
    cert_file.write_bytes(_certificate(name, server_key, ca_key).public_bytes(pem))
    key_file.write_bytes(server_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))  # fmt: skip
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return ca_file, server


async def test_tls_is_verified_for_the_name_while_the_checked_address_is_connected_to(
    tmp_path: Path, database_url: str, dns: FakeDNS, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca_file, server_tls = certificate_for("hooks.example", tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # how an operator trusts their own CA
    receiver = Receiver(tls=server_tls)
    try:
        url = f"https://hooks.example:{receiver.port}/hook"
        async with hooked(tmp_path, database_url, dns, url) as (app, client):
            await posted(client, body="Over TLS")
            await settle(app)
            assert receiver.requests == ["POST /hook"]
            # The same server by its address: its certificate does not name that.
            await set_webhook(app, f"https://127.0.0.1:{receiver.port}/hook")
            job = await webhook_call_of_a_comment(app, client)
    finally:
        receiver.close()
    assert receiver.requests == ["POST /hook"]
    assert "certificate verify failed" in job["last_error"].lower()


def _large(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Length", str(2 * MAX_ANSWER_BYTES))
    handler.end_headers()
    handler.wfile.write(b"x" * 2 * MAX_ANSWER_BYTES)


def _large_unannounced(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)  # no Content-Length: the body runs until the connection closes
    handler.end_headers()
    handler.wfile.write(b"x" * 2 * MAX_ANSWER_BYTES)


def _compressed(handler: http.server.BaseHTTPRequestHandler) -> None:
    bomb = gzip.compress(b"\0" * 64 * MAX_ANSWER_BYTES)  # 64 MiB in about 64 KiB
    handler.send_response(200)
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(bomb)))
    handler.end_headers()
    handler.wfile.write(bomb)


@pytest.mark.parametrize(
    ("respond", "refusal"),
    [(_large, "bytes"), (_large_unannounced, "answered more than"), (_compressed, "'gzip'")],
)
async def test_a_webhook_answer_is_read_only_up_to_a_bound(
    tmp_path: Path, database_url: str, dns: FakeDNS,
    respond: Callable[[http.server.BaseHTTPRequestHandler], None], refusal: str,
) -> None:  # fmt: skip
    answering = Receiver(respond=respond)
    try:
        async with running(tmp_path, database_url, dns) as (app, client):
            await set_webhook(app, f"http://127.0.0.1:{answering.port}/hook")
            job = await webhook_call_of_a_comment(app, client)
    finally:
        answering.close()
    assert answering.requests == ["POST /hook"]
    assert "AnswerRefused" in job["last_error"] and refusal in job["last_error"]


# -- Akismet: the operator's setting ----------------------------------------------------------


async def test_akismet_at_a_private_address_is_not_asked_unless_the_operator_opened_it(
    tmp_path: Path, database_url: str, dns: FakeDNS
) -> None:
    server = AkismetServer()
    try:
        async with running(tmp_path, database_url, dns, outbound_private_networks=(),
                           akismet_key=AkismetServer.key, akismet_url=server.url,
                           ) as (app, client):  # fmt: skip
            assert await held(client, app, body="Is this spam?") == (
                "pending", "Akismet could not be asked",
            )  # fmt: skip
    finally:
        server.close()
    assert server.questions == []


async def test_a_trickling_answer_is_cut_off_at_the_time_bound(
    tmp_path: Path, database_url: str, dns: FakeDNS, monkeypatch: pytest.MonkeyPatch
) -> None:
    def trickle(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        for _ in range(100):  # a byte every 0.2 s: each read is quick, the whole takes 20 s
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.2)

    monkeypatch.setattr(akismet, "TIMEOUT_S", 0.5)
    server = Receiver(respond=trickle)
    try:
        async with running(tmp_path, database_url, dns, akismet_key="k",
                           akismet_url=f"http://127.0.0.1:{server.port}") as (app, client):  # fmt: skip
            started = time.monotonic()
            assert await held(client, app, body="Slowly") == (
                "pending", "Akismet could not be asked",
            )  # fmt: skip
            assert time.monotonic() - started < 10.0
    finally:
        server.close()


def test_httpx_and_authlib_are_loaded_with_the_first_request_to_another_server() -> None:
    """A started server with a sign-in provider and Akismet configured holds neither httpx
    (some 2.7 MB) nor authlib (some 8 MB more) until it sends a request to another server
    (issue 13, item 2)."""
    modules = ["httpx", "httpcore", "authlib.integrations.starlette_client"]
    loaded = loaded_at_start(
        modules, provider_github_client_id="id",
        provider_github_client_secret="secret", akismet_key="key",
    )  # fmt: skip
    assert loaded == dict.fromkeys(modules, False)
