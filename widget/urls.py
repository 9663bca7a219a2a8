"""URLs typed by people: parsed without exceptions escaping, and reduced to origins."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import unicodedata
from urllib.parse import SplitResult, urlsplit

__all__ = ["is_host_name", "origin_of", "page_id_of", "split_url"]

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def split_url(value: str) -> SplitResult | None:
    """`urlsplit`, or None where it raises (a bracketed host that is no IP address, a port
    that is not a number) or where a browser would read another host: browsers end the host
    at a backslash, so `https://evil.example\\@blog.example/` opens evil.example, while
    `urlsplit` reads blog.example after the '@'."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a malformed port
    except ValueError:
        return None
    return None if "\\" in parts.netloc else parts


_DEFAULT_PORTS = {"http": 80, "https": 443}


def page_id_of(page: str) -> str:
    """A page named by its URL or by its id: a full http(s) URL is reduced to its path, so
    that `https://blog.example/a/` and `/a/` name one thread."""
    page = page.strip()
    if not page.startswith("/"):
        parts = split_url(page)
        if parts is not None and parts.scheme in {"http", "https"} and parts.netloc:
            return parts.path or "/"
    return page


def origin_of(parts: SplitResult) -> str:
    """`https://Blog.Example:443/x` -> `https://blog.example`: scheme, host (an international
    name in its ASCII form), and the port only when it is not the scheme's usual one (as
    browsers write origins)."""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    elif not host.isascii():  # browsers send a name's ASCII (IDNA) form: https://xn--…
        # One that cannot be written so is kept as it is: no browser sends it, it matches none.
        with contextlib.suppress(UnicodeError):
            host = host.encode("idna").decode("ascii")
    port = parts.port
    scheme = parts.scheme.lower()
    suffix = "" if port is None or port == _DEFAULT_PORTS.get(scheme) else f":{port}"
    return f"{scheme}://{host}{suffix}"


def is_host_name(host: str) -> bool:
    """A host a browser will take as such: an IP address, or dot-separated labels of letters,
    digits and inner hyphens (international names checked in their IDNA form)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return True
    # Browsers read a name whose last label is numeric ("08", "0x1f", Arabic-Indic digits) as
    # an IPv4 address and refuse it; real top-level labels hold letters.
    if not all(c.isascii() or unicodedata.category(c)[0] in "LMN" for c in host):
        return False  # invisible format characters (bidi controls, joiners) and symbols
    top = host.rsplit(".", 1)[-1]
    if top.lower().startswith("0x") or not any(unicodedata.category(c)[0] == "L" for c in top):
        return False
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return False
    return len(ascii_host) <= 253 and all(_LABEL.match(label) for label in ascii_host.split("."))
