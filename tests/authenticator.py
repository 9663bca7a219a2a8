"""A software passkey authenticator for the HTTP tests: it answers the options our popup pages
carry as a browser and an authenticator would (attestation "none", an ES256 key), so that the
server's checks run on real signatures. It can be copied (a clone, same key and counter) and
told to say anything a browser would not (another origin, another challenge)."""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import re
import secrets
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

FLAG_USER_PRESENT = 0x01
FLAG_USER_VERIFIED = 0x04
FLAG_ATTESTED_DATA = 0x40


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def page_options(page: str) -> dict[str, Any]:
    """The WebAuthn options a popup page carries for passkey.js."""
    match = re.search(r'data-options="([^"]*)"', page)
    assert match and match.group(1), page
    options: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return options


class Authenticator:
    """One passkey, as a phone or a security key keeps it."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(16)
        self.sign_count = 0
        self.user_handle = b""
        self.rp_id = ""

    def clone(self) -> Authenticator:
        """A copy of the credential, key and counter as they are now."""
        twin = copy.copy(self)
        twin.key = self.key  # the same private key: what a cloned credential is
        return twin

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})  # fmt: skip

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge,
                           "origin": origin or self.origin, "crossOrigin": False}).encode()  # fmt: skip

    def create(self, options: dict[str, Any], origin: str | None = None) -> str:
        """navigator.credentials.create(): the credential's JSON, as passkey.js posts it."""
        self.rp_id = options["rp"]["id"]
        self.user_handle = unb64(options["user"]["id"])
        attested = (
            b"\0" * 16 + struct.pack(">H", len(self.credential_id)) + self.credential_id
            + self._cose_key()
        )  # fmt: skip
        flags = FLAG_USER_PRESENT | FLAG_USER_VERIFIED | FLAG_ATTESTED_DATA
        auth_data = (
            hashlib.sha256(self.rp_id.encode()).digest() + bytes([flags])
            + struct.pack(">I", self.sign_count) + attested
        )  # fmt: skip
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return json.dumps({
            "id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64(client_data),
                         "attestationObject": b64(attestation), "transports": ["internal"]},
            "clientExtensionResults": {},
        })  # fmt: skip

    def get(
        self, options: dict[str, Any], origin: str | None = None, challenge: str | None = None
    ) -> str:
        """navigator.credentials.get(): a signed assertion; the counter goes up by one."""
        self.sign_count += 1
        rp_id = options["rpId"]
        auth_data = (
            hashlib.sha256(rp_id.encode()).digest()
            + bytes([FLAG_USER_PRESENT | FLAG_USER_VERIFIED])
            + struct.pack(">I", self.sign_count)
        )  # fmt: skip
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return json.dumps({
            "id": b64(self.credential_id), "rawId": b64(self.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64(client_data), "authenticatorData": b64(auth_data),
                         "signature": b64(signature), "userHandle": b64(self.user_handle)},
            "clientExtensionResults": {},
        })  # fmt: skip
