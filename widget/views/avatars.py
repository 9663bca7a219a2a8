"""Avatars drawn here, from a keyed hash: no request to a third party, no email in the page.

The avatar key is an HMAC of the commenter's email under the server's secret, so the page holds
neither the address nor a hash that could be looked up elsewhere (as an MD5 Gravatar hash can).
"""

from __future__ import annotations

import hashlib
import hmac
import re

__all__ = ["AVATAR_KEY", "avatar_key", "identicon_svg"]

AVATAR_KEY = re.compile(r"^[0-9a-f]{16}$")
_GRID = 5  # cells per side; the left half is mirrored onto the right
_CELL = 8  # pixels per cell in the SVG's own coordinates


def avatar_key(secret_key: str, identity: str) -> str:
    """16 hex digits standing for `identity` (a lower-cased email) on this server only."""
    digest = hmac.new(secret_key.encode(), b"avatar:" + identity.encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def identicon_svg(key: str) -> str:
    """A symmetric 5x5 pattern in one colour, from the avatar key's bits."""
    bits = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    hue = bits % 360
    bits >>= 9
    cells = []
    half = (_GRID + 1) // 2
    for column in range(half):
        for row in range(_GRID):
            if bits & 1:
                for x in {column, _GRID - 1 - column}:
                    left, top = x * _CELL + 4, row * _CELL + 4
                    cells.append(f'<rect x="{left}" y="{top}" width="8" height="8"/>')
            bits >>= 1
    size = _GRID * _CELL + 8
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}">'
        f'<rect width="{size}" height="{size}" fill="hsl({hue},45%,92%)"/>'
        f'<g fill="hsl({hue},55%,45%)">{"".join(cells)}</g></svg>'
    )
