"""Browser code: `/embed.js` (fixed URL, short cache) and `/static/…` (content-hashed, cached
for a year). The files live at the top of the repository (`embed.js`, `static/`) or, in an
installed wheel, inside the package (`widget/_assets/`)."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import gzip
import hashlib
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import brotli
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "Assets",
    "Encoding",
    "InlineStyle",
    "as_served",
    "coded_etag",
    "compact",
    "find_assets",
    "installed_assets",
    "preferred_encoding",
]

log = logging.getLogger(__name__)

_PACKAGE = Path(__file__).resolve().parent.parent
_CANDIDATES = (_PACKAGE / "_assets", _PACKAGE.parent)
YEAR_S = 365 * 24 * 3600
EMBED_MAX_AGE_S = 300  # the snippet's URL never changes, so browsers must look again soon

Encoding = Literal["br", "gzip", ""]


@functools.lru_cache(maxsize=256)
def preferred_encoding(accept_encoding: str) -> Encoding:
    """Brotli where the client takes it, else gzip, else none (`q=0` refuses a coding).
    Browsers send a handful of distinct headers, so the answer is remembered per header."""
    accepted = set()
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        name, _, quality = params.partition("=")
        try:
            if name.strip() == "q" and float(quality) == 0:
                continue  # "not acceptable"
        except ValueError:
            pass
        accepted.add(coding.strip())
    if "br" in accepted:
        return "br"
    if "gzip" in accepted or "*" in accepted:
        return "gzip"
    return ""


def coded_etag(etag: str, encoding: Encoding) -> str:
    """The ETag of a body sent in `encoding`: each coding its own, as a strong validator names
    one representation (RFC 9110, 8.8.3). With one for all, a shared cache that asks again
    for a reader who takes no brotli, sending the ETag of the brotli copy it holds, is told
    304 and hands that reader the brotli bytes."""
    return f'{etag[:-1]}-{encoding}"' if encoding else etag


@dataclasses.dataclass(slots=True)
class Asset:
    """One file as served. A script is minified on its first request (in a worker thread: it
    takes a few tenths of a second), not at start-up: most processes, tests above all, never
    serve one. Its URL and ETag come from its source, so they are known before that."""

    source: bytes  # without comments and indentation (`compact`)
    media_type: str
    etag: str
    script: bool
    body: bytes = b""
    gzipped: bytes = b""
    brotli: bytes | None = None  # made on the first request that takes it, then kept
    # A script with its words before it (`Assets.url_with_strings`): the words as minified,
    # then `base` as minified once for every language (a minifying takes ~0.3 s of CPU).
    words: bytes = b""
    base: Asset | None = None

    @property
    def ready(self) -> bool:
        return bool(self.body) or not self.source

    def prepare(self) -> None:
        if self.base is not None:
            if not self.base.ready:
                self.base.prepare()
            body = self.words + self.base.body
        elif self.script:
            body = minify_script(self.source.decode("utf-8")).encode()
        else:
            body = self.source
        self.gzipped = gzip.compress(body, 9, mtime=0)
        self.body = body

    def encoded(self, encoding: Encoding) -> bytes:
        if encoding == "br":
            if self.brotli is None:
                self.brotli = brotli.compress(self.body, mode=brotli.MODE_TEXT, quality=11)
            return self.brotli
        return self.gzipped if encoding == "gzip" else self.body


def minify_script(source: str) -> str:
    """A script with short local names and no spaces: a third smaller compressed than its
    source (4.8 KB for thread.js against 6.1 KB). A script the minifier cannot read (it knows
    ES5) is sent as it is, and the log says so."""
    from calmjs.parse import es5
    from calmjs.parse.unparsers.es5 import minify_print

    try:
        minified: str = minify_print(es5(source), obfuscate=True, obfuscate_globals=False)
    except Exception as error:  # a parse error of any kind: send the source
        log.warning("a script is sent unminified: %s", str(error).splitlines()[0][:200])
        return source
    return minified + "\n"


_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_CSS_SPACES = re.compile(r"""("[^"]*"|'[^']*')|\s*([{};,>])\s*|(:)\s+""")


@functools.lru_cache(maxsize=64)
def compact(name: str, text: str) -> str:
    """Browser code as sent: without the comments and indentation written for its readers
    (a quarter of thread.js), lines kept as they are, so that no statement changes meaning.
    Only whole-line `//` comments go from scripts: a `//` after code may be inside a string."""
    if name.endswith(".css"):
        text = _CSS_COMMENT.sub("", text)
        # Spaces around punctuation say nothing (strings kept; `+` kept, for calc()).
        text = _CSS_SPACES.sub(lambda m: m[1] or m[2] or m[3], text)
    elif not name.endswith(".js"):
        return text
    lines = (line.strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line and not line.startswith("//")) + "\n"


def _asset(path: Path) -> Asset:
    """The file as served, made once per process while the file is unchanged: compressing
    (and, on first request, minifying) is the costly part, and tests start many apps."""
    stat = path.stat()
    return _made_asset(path, stat.st_mtime_ns, stat.st_size)


# What the static folder holds, as RFC 9239 names scripts whatever the system's table says.
# mimetypes, for any other kind, reads that table: some 0.4 MB a server need not hold.
_MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css"}


def _media_type(path: Path) -> str:
    if path.suffix in _MEDIA_TYPES:
        return _MEDIA_TYPES[path.suffix]
    import mimetypes

    return mimetypes.guess_type(path.name)[0] or "application/octet-stream"


@functools.lru_cache(maxsize=64)
def _made_asset(path: Path, mtime_ns: int, size: int) -> Asset:
    source = compact(path.name, path.read_text("utf-8")).encode("utf-8")
    media_type = _media_type(path)
    if media_type.startswith("text/") or media_type.endswith("javascript"):
        media_type += "; charset=utf-8"
    digest = hashlib.sha256(source).hexdigest()[:12]
    asset = Asset(source, media_type, f'"{digest}"', script=path.suffix == ".js")
    if not asset.script:
        asset.prepare()
    return asset


def as_served(path: Path) -> bytes:
    """A file's bytes as this server sends them uncompressed: compacted, scripts minified."""
    asset = _asset(path)
    if not asset.ready:
        asset.prepare()
    return asset.body


@dataclasses.dataclass(frozen=True, slots=True)
class InlineStyle:
    """A <style> element's text and its hash ('sha256-…'), by which the policy allows it."""

    css: Markup
    hash: str

    @classmethod
    def of(cls, css: str) -> InlineStyle:
        # Our own files; a closing tag in them would end the element early, so there is none.
        assert "</" not in css, "an inline style sheet must not contain '</'"
        digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
        return cls(Markup(css), f"'sha256-{digest}'")  # noqa: S704


def find_assets() -> Path:
    for folder in _CANDIDATES:
        if (folder / "embed.js").is_file() and (folder / "static").is_dir():
            return folder
    raise RuntimeError("cannot find embed.js and static/: is the package installed completely?")


@functools.cache
def installed_assets() -> Assets:
    """This installation's assets, loaded once a process: every app the process makes (a test
    run makes hundreds) serves the same files, and then minifies and compresses each once.
    What an app adds later (a script with its strings, a compressed copy) is made from the
    files alone, the same for every app."""
    return Assets()


class Assets:
    """Loads every asset once, at start-up; `url(name)` gives its hashed URL for templates."""

    def __init__(self, folder: Path | None = None) -> None:
        folder = folder or find_assets()
        self.embed_js = _asset(folder / "embed.js")
        self._by_hashed: dict[str, Asset] = {}
        self._urls: dict[str, str] = {}
        self._urls_with_strings: dict[tuple[str, str], str] = {}
        for path in sorted((folder / "static").rglob("*")):
            if not path.is_file():
                continue
            asset = _asset(path)
            name = path.relative_to(folder / "static").as_posix()
            stem, dot, suffix = name.rpartition(".")
            hashed = f"{stem}.{asset.etag.strip(chr(34))}{dot}{suffix}"
            self._by_hashed[hashed] = asset
            self._urls[name] = f"/static/{hashed}"

        # The frame's stylesheet goes into the document itself: one request fewer on a first
        # view, and the document is cached and revalidated as a whole. The policy allows it by
        # its hash (no 'unsafe-inline'). Only what the frame can show: the dark theme's
        # colours in a dark frame, the sign-in choices where readers can sign in.
        parts = {name: compact(name, (folder / "static" / name).read_text("utf-8"))
                 for name in ("widget.css", "theme-dark.css", "sign-in.css")}  # fmt: skip
        self._inline_styles = {
            (dark, sign_in): InlineStyle.of(
                parts["widget.css"]
                + (parts["theme-dark.css"] if dark else "")
                + (parts["sign-in.css"] if sign_in else "")
            )
            for dark in (False, True)
            for sign_in in (False, True)
        }

    def url(self, name: str) -> str:
        return self._urls[name]

    def url_with_strings(self, name: str, strings: Mapping[str, str]) -> str:
        """The hashed URL of script `name` with `strings` before it (`window.widgetStrings`):
        the words it shows in one language, in the file cached with it rather than in every
        page that may load it. Made once per script and set of strings (one per language)."""
        text = json.dumps(strings, ensure_ascii=False, sort_keys=True)
        key = (name, text)
        url = self._urls_with_strings.get(key)
        if url is None:
            script = self._by_hashed[self._urls[name].removeprefix("/static/")]
            source = f"window.widgetStrings={text};\n".encode() + script.source
            digest = hashlib.sha256(source).hexdigest()[:12]
            stem, _, suffix = name.rpartition(".")
            hashed = f"{stem}.{digest}.{suffix}"
            # The same bytes as `source` minified whole (for each of today's languages), for
            # one minifying of the script in all.
            words = json.dumps(strings, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            self._by_hashed[hashed] = Asset(
                source, script.media_type, f'"{digest}"', script=True,
                words=f"window.widgetStrings={words};".encode(), base=script,
            )  # fmt: skip
            url = self._urls_with_strings[key] = f"/static/{hashed}"
        return url

    def inline_style(self, dark: bool, sign_in: bool) -> InlineStyle:
        """The frame document's <style>: for a dark frame or not, with sign-in or not."""
        return self._inline_styles[dark, sign_in]

    @property
    def inline_styles_digest(self) -> str:
        """Names every inline style, for ETags that must change when one does."""
        return "".join(style.hash for style in self._inline_styles.values())

    def routes(self) -> list[Route]:
        return [
            Route("/embed.js", self._serve_embed_js, methods=["GET", "HEAD"]),
            Route("/static/{name:path}", self._serve_static, methods=["GET", "HEAD"]),
        ]

    async def _serve_embed_js(self, request: Request) -> Response:
        # Loaded into every host page, where a site may ask for it with `crossorigin` (to
        # check it with `integrity`): that takes CORS. Our own pages load /static/ files from
        # our own origin, which needs none.
        return await _respond(
            request, self.embed_js, f"public, max-age={EMBED_MAX_AGE_S}", cors=True
        )

    async def _serve_static(self, request: Request) -> Response:
        asset = self._by_hashed.get(request.path_params["name"])
        if asset is None:
            return Response("No such file.\n", 404, media_type="text/plain; charset=utf-8")
        return await _respond(request, asset, f"public, max-age={YEAR_S}, immutable")


async def _respond(
    request: Request, asset: Asset, cache_control: str, cors: bool = False
) -> Response:
    headers = {
        "Cache-Control": cache_control,
        "ETag": asset.etag,
        "Vary": "Accept-Encoding",
        "X-Content-Type-Options": "nosniff",
    }
    if cors:
        headers["Access-Control-Allow-Origin"] = "*"
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if not asset.ready:
        await asyncio.to_thread(asset.prepare)
    encoding = preferred_encoding(request.headers.get("accept-encoding", ""))
    if encoding == "br" and asset.brotli is None:
        await asyncio.to_thread(asset.encoded, "br")  # quality 11: tens of milliseconds
    if encoding:
        headers["Content-Encoding"] = encoding
    return Response(asset.encoded(encoding), media_type=asset.media_type, headers=headers)
