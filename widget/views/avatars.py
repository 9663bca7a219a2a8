"""Avatars drawn here, from a keyed hash: no request to a third party, no email in the page.

The avatar key is an HMAC of the commenter's email under the server's secret, so the page holds
neither the address nor a hash that could be looked up elsewhere (as an MD5 Gravatar hash can).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re

__all__ = ["AVATAR_KEY", "avatar_key", "identicon_shapes", "identicon_svg"]

AVATAR_KEY = re.compile(r"^[0-9a-f]{16}$")
_GRID = 5  # cells per side; the left half is mirrored onto the right
_CELL = 8  # pixels per cell in the SVG's own coordinates


def avatar_key(secret_key: str, identity: str) -> str:
    """16 hex digits standing for `identity` (a lower-cased email) on this server only."""
    digest = hmac.new(secret_key.encode(), b"avatar:" + identity.encode(), hashlib.sha256)
    return digest.hexdigest()[:16]


def identicon_svg(key: str) -> str:
    """A symmetric 5x5 pattern in one colour, from the avatar key's bits: a file of its own."""
    return f'<svg xmlns="http://www.w3.org/2000/svg" {identicon_shapes(key)}</svg>'


# An author's picture is drawn again for each of their comments posted, and for each fragment
# rendered: authors who comment often are few (~200 bytes each).
@functools.lru_cache(maxsize=1024)
def identicon_shapes(key: str) -> str:
    """The identicon's viewBox attribute, the closing `>` and its shapes, ready to follow an
    `<svg ` or a `<symbol ` opening tag: the page draws each author's once and reuses it.

    Colours are presentation attributes, not styles, so a page's style-src policy allows them;
    the cells are one path, about 15 bytes each, since a page carries one per distinct author."""
    bits = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    hue = bits % 360
    bits >>= 9
    cells = []
    half = (_GRID + 1) // 2
    for column in range(half):
        for row in range(_GRID):
            if bits & 1:
                for x in sorted({column, _GRID - 1 - column}):
                    cells.append(f"M{x * _CELL + 4} {row * _CELL + 4}h8v8h-8z")
            bits >>= 1
    size = _GRID * _CELL + 8
    return (
        f'viewBox="0 0 {size} {size}"><rect width="{size}" height="{size}"'
        f' fill="hsl({hue},45%,92%)"/><path fill="hsl({hue},55%,45%)" d="{"".join(cells)}"/>'
    )
