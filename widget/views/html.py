"""HTML out: the Jinja2 environment, the thread fragment and its in-process cache.

The fragment is the same bytes for every viewer of a thread version, so it is rendered once per
(thread version, site revision, embed parameters) and kept in a cache bounded by bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gzip
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlencode

import brotli
import jinja2
from jinja2.environment import TemplateModule
from markupsafe import Markup
from starlette.templating import Jinja2Templates

from widget import __version__
from widget.comments import page_ref
from widget.config import Settings
from widget.errors import BadRequest
from widget.jinja_cache import ProcessBytecodeCache
from widget.lru import LruCache
from widget.records import Comment, PageRef, Site, ThreadHead
from widget.sites import SiteSettings, badges_of, settings_of
from widget.storage import Storage
from widget.threads import CommentNode, ThreadCursor, ThreadView, load_thread, parse_cursor

from .assets import Assets, Encoding
from .avatars import avatar_key, identicon_shapes
from .i18n import LANGUAGES, RIGHT_TO_LEFT, Translator, choose_language, words_digest
from .inputs import parse_query_string

__all__ = ["DocumentVariant", "EmbedQuery", "Fragment", "HtmlRenderer"]

Theme = Literal["light", "dark", "auto"]
THEMES = ("light", "dark", "auto")

# Strings the iframe's script (thread.js) needs, handed over as JSON in the document.
SCRIPT_STRINGS = ("like", "leave_reply", "leave_reply_to", "new_activity")
SCRIPT_PLURALS = ("likes", "post_likes", "new_comments")
# The writer's tools' strings (writer.js) come in the script itself, one per language: every
# reader would pay for them in the document, and most never load writer.js.
WRITER_STRINGS = (
    "edit", "delete", "save", "cancel", "comment_posted", "confirm_delete", "posting",
    "post_comment", "problem", "deleted", "commenting_as", "erase_confirm", "erased",
    "sign_in_closed", "sign_in_expired", "sign_in_passkey", "add_passkey",
)  # fmt: skip
QUERY_CACHE_ENTRIES = 4096
COMMENT_MODULE_ENTRIES = 256  # pages being commented on at once (~3 KB each)
# A cached document carries a form token shared by its readers (moderation.new_form_token); it
# is made anew this often, well within the token's two days, so no cached form is too old.
DOCUMENT_TOKEN_PERIOD_S = 6 * 3600
GZIP_LEVEL = 9  # each version is compressed once and sent many times
# Brotli at once at a quick quality (2 ms for a 65 KB document), then at its best (quality 11,
# the default of document_brotli_quality: 200 ms, 10 % smaller) in a worker thread, for the
# many readers after the first.
BROTLI_QUICK_QUALITY = 5
IMPROVE_QUEUE_ENTRIES = 256

# Which document: the reply form under this comment (0: at the end), the "held" notice, the
# "link sent" notice. Each is cached apart; all other parameters are the EmbedQuery's.
DocumentVariant = tuple[int, bool, bool]


@dataclasses.dataclass(frozen=True, slots=True)
class EmbedQuery:
    """The parameters of one embed: which page, shown how. Everything in the fragment's links
    comes from here, so it is also the fragment's cache key (with the thread version)."""

    site: Site
    page: PageRef
    theme: Theme
    lang: str
    cursor: ThreadCursor

    @classmethod
    def parse(cls, site: Site, params: Mapping[str, str]) -> EmbedQuery:
        theme = params.get("theme", "auto") or "auto"
        if theme not in THEMES:
            raise BadRequest(f"theme must be light, dark or auto, not {theme!r}.")
        lang = params.get("lang", "")
        if lang and choose_language(lang) == "en" and not lang.lower().startswith("en"):
            lang = "en"  # an unsupported language falls back to English rather than failing
        return cls(
            site=site,
            page=page_ref(site, params.get("page", ""), params.get("url", ""),
                          params.get("title", "")),
            theme=theme,  # type: ignore[arg-type]
            lang=choose_language(lang),
            cursor=parse_cursor(params.get("before"), params.get("after"), params.get("cpage")),
        )  # fmt: skip

    def params(self, **changes: str | int | None) -> dict[str, str]:
        values: dict[str, Any] = {
            "page": self.page.page_id,
            "url": self.page.url,
            "title": self.page.title,
            "theme": self.theme,
            "lang": self.lang,
        }
        if self.cursor.direction:
            values[self.cursor.direction] = self.cursor.comment_id
        elif self.cursor.number:
            values["cpage"] = self.cursor.number
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def document_path(self, **changes: str | int | None) -> str:
        """The iframe document for this embed, every parameter kept."""
        return f"/embed/{self.site.id}/thread?{urlencode(self.params(**changes))}"

    def link_path(
        self, before: int | None = None, after: int | None = None, number: int | None = None
    ) -> str:
        """A short link to another view of this thread from inside it (a page, a reply form).

        Such links exist only once the thread does, and the thread keeps the page's URL and
        title, so they carry just the page and the non-default display settings: the fragment
        repeats this link for every comment. `number` 0 is the page the thread opens on.
        """
        values = {"page": self.page.page_id}
        if self.theme != "auto":
            values["theme"] = self.theme
        if self.lang != "en":
            values["lang"] = self.lang
        if before is not None:
            values["before"] = str(before)
        elif after is not None:
            values["after"] = str(after)
        elif number is not None:
            if number:
                values["cpage"] = str(number)
        elif self.cursor.direction:
            values[self.cursor.direction] = str(self.cursor.comment_id)
        elif self.cursor.number:
            values["cpage"] = str(self.cursor.number)
        return f"/embed/{self.site.id}/thread?{urlencode(values)}"

    def cache_key(self, head: ThreadHead | None) -> tuple[Any, ...]:
        # The title shown is the request's when it has one (threads.load_thread).
        return (self.site.id, self.page.page_id, self.page.url, self.page.title, self.theme,
                self.lang, self.cursor)  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Fragment:
    """Rendered HTML (a fragment or a whole document) and its compressed forms, each made the
    first time a client asks for it."""

    etag: str
    body: bytes
    gzipped: bytes | None = None
    brotli: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"") + len(self.brotli or b"")

    def made(self, encoding: Encoding) -> bytes | None:
        """The bytes to send in `encoding`, None if they are not made yet."""
        if encoding == "br":
            return self.brotli
        if encoding == "gzip":
            return self.gzipped
        return self.body

    def encoded(self, encoding: Encoding) -> tuple[Fragment, bytes]:
        """This entry (with the new form added, if it had to be made) and the bytes to send."""
        if encoding == "br":
            if self.brotli is None:
                compressed = brotli.compress(
                    self.body, mode=brotli.MODE_TEXT, quality=BROTLI_QUICK_QUALITY
                )
                return dataclasses.replace(self, brotli=compressed), compressed
            return self, self.brotli
        if encoding == "gzip":
            if self.gzipped is None:
                compressed = gzip.compress(self.body, GZIP_LEVEL, mtime=0)
                return dataclasses.replace(self, gzipped=compressed), compressed
            return self, self.gzipped
        return self, self.body


class FragmentCache:
    """Least recently used fragments, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[Any, ...], Fragment] = OrderedDict()
        self._bytes = 0

    def get(self, key: tuple[Any, ...], etag: str) -> Fragment | None:
        fragment = self._entries.get(key)
        if fragment is None or fragment.etag != etag:
            return None
        self._entries.move_to_end(key)
        return fragment

    def put(self, key: tuple[Any, ...], fragment: Fragment) -> None:
        old = self._entries.pop(key, None)
        if old is not None:
            self._bytes -= old.size
        if fragment.size > self.max_bytes:
            return
        self._entries[key] = fragment
        self._bytes += fragment.size
        while self._bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._bytes -= evicted.size


_COMPILED = ProcessBytecodeCache()


@functools.cache  # the same words for every app of the process (each app asks for all of them)
def _writer_strings(lang: str) -> Mapping[str, str]:
    return Translator(lang).strings(WRITER_STRINGS)  # a Mapping: nobody changes it


class HtmlRenderer:
    def __init__(self, settings: Settings, assets: Assets, storage: Storage) -> None:
        self.settings = settings
        self.storage = storage
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("widget", "templates"),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=jinja2.StrictUndefined,
            bytecode_cache=_COMPILED,
            # Templates change with a release, which restarts the server: no file check (two
            # stat calls) each time a template is used, several times a comment posted.
            auto_reload=False,
        )
        self.env.globals.update(
            static_url=assets.url,
            public_url=settings.public_url,
            version=__version__,
            languages=LANGUAGES,
            right_to_left=RIGHT_TO_LEFT,
        )
        # The admin pages are in English: their counts are written as English writes them.
        self.env.filters["english_number"] = Translator("en").number
        self.templates = Jinja2Templates(env=self.env)
        self.fragments = FragmentCache(settings.fragment_cache_bytes)
        self._best_quality = settings.document_brotli_quality
        self._queries: LruCache[tuple[tuple[str, float, int], bytes], EmbedQuery] = LruCache(
            QUERY_CACHE_ENTRIES
        )
        # The comment macro bound to each embed's context (comment_html), by embed.
        self._comment_modules: LruCache[tuple[Any, ...], TemplateModule] = LruCache(
            COMMENT_MODULE_ENTRIES
        )
        # Display names of sign-in providers, for "via GitHub" under signed-in authors.
        self.provider_names: dict[str, str] = {}
        # Part of every ETag, so a new release (or a changed template, or words) never serves
        # HTML cached by the old one, here or in a browser.
        build = hashlib.sha256(f"{__version__} {words_digest()}".encode())
        for name in ("embed/thread.html", "embed/fragment.html", "embed/_comment.html"):
            build.update(self.env.loader.get_source(self.env, name)[0].encode())  # type: ignore[union-attr]
        self._build = build.hexdigest()[:6]
        self._assets = assets
        # Every language's writer.js is known from the start: a document made by another
        # instance, or before a restart, names one this process has rendered no page for.
        for lang in LANGUAGES:
            self.writer_url(lang)
        self._document_build = ""
        self._to_improve: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._improver: asyncio.Task[None] | None = None

    def embed_query(self, site: Site, raw_query: bytes) -> EmbedQuery:
        """The checked parameters of an embed URL. The same URLs come again and again (every
        reader of a post asks for the same one), so the checks run once per URL and site
        version; a URL that fails them raises every time."""
        key = (site.stamp, raw_query)
        query = self._queries.get(key)
        if query is None:
            query = EmbedQuery.parse(site, parse_query_string(raw_query))
            self._queries.put(key, query)
        return query

    def etag(self, query: EmbedQuery, head: ThreadHead | None) -> str:
        """Names what the fragment shows: this release, this site (created when, changed how
        often), this thread and its version. A site removed and added again, or a thread
        created anew, starts its counters again but never its name."""
        site = query.site
        born = int(site.created_at.timestamp() * 1_000_000)
        thread = f"{head.id}.{head.version}" if head else "0"
        return f'"{self._build}-{born:x}.{site.revision}-{thread}"'

    async def thread_fragment(self, query: EmbedQuery, head: ThreadHead | None) -> Fragment:
        """The rendered thread for `query` at `head`'s version, from the cache when it can."""
        key = query.cache_key(head)
        etag = self.etag(query, head)
        fragment = self.fragments.get(key, etag)
        if fragment is None:
            settings = settings_of(query.site)
            view = await load_thread(self.storage, query.page, settings, query.cursor, head)
            html = self.env.get_template("embed/fragment.html").render(
                self._fragment_context(query, view, settings)
            )
            # Label the bytes with the head we were given: the page read may be newer than
            # that head, never older, so a later request for a newer version re-renders.
            fragment = Fragment(etag, html.encode("utf-8"))
            self.fragments.put(key, fragment)
        return fragment

    def fragment_bytes(
        self, query: EmbedQuery, head: ThreadHead | None, fragment: Fragment, encoding: Encoding
    ) -> bytes:
        """`fragment`'s bytes in `encoding`, compressed once and kept beside it."""
        return self._encoded(query.cache_key(head), fragment, encoding)

    def _encoded(self, key: tuple[Any, ...], entry: Fragment, encoding: Encoding) -> bytes:
        changed, body = entry.encoded(encoding)
        if changed is not entry:
            self.fragments.put(key, changed)
            if encoding == "br":
                self._improve_later(key, changed)
        return body

    def _improve_later(self, key: tuple[Any, ...], entry: Fragment) -> None:
        if self._best_quality <= BROTLI_QUICK_QUALITY:
            return  # as good as it will get
        if len(self._to_improve) >= IMPROVE_QUEUE_ENTRIES:
            return  # a burst of new versions: they keep their quick compression
        self._to_improve[key] = entry.etag
        if self._improver is None or self._improver.done():
            self._improver = asyncio.get_running_loop().create_task(self._improve())

    async def _improve(self) -> None:
        """Compresses the entries waiting, one at a time, each at the best quality asked."""
        while self._to_improve:
            key, etag = self._to_improve.popitem(last=False)
            entry = self.fragments.get(key, etag)
            if entry is None or entry.brotli is None:
                continue  # replaced by a newer version meanwhile, or evicted
            best = await asyncio.to_thread(
                brotli.compress, entry.body, mode=brotli.MODE_TEXT, quality=self._best_quality
            )
            current = self.fragments.get(key, etag)
            if current is not None and current.brotli is not None:
                self.fragments.put(key, dataclasses.replace(current, brotli=best))

    async def close(self) -> None:
        if self._improver is not None:
            self._improver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._improver

    def document_etag(
        self, query: EmbedQuery, head: ThreadHead | None, variant: DocumentVariant
    ) -> str:
        """The fragment's ETag, and what else the document shows: the server's settings that
        reach it (sign-in providers, mail, assets), the period of its shared form token, and
        the variant (the form under a comment, a notice above it)."""
        if not self._document_build:
            self._document_build = self._settings_digest()
        named = (
            f"{self.etag(query, head)}{self._document_build}.{self.document_period():x}.{variant}"
        )
        # Shortened: a warm page view is little more than this, sent three times.
        return f'"{hashlib.blake2b(named.encode(), digest_size=9).hexdigest()}"'

    def document_period(self) -> int:
        """Which period of the shared form token it is now: part of every document's ETag."""
        return int(time.time() // DOCUMENT_TOKEN_PERIOD_S)

    def document_key(
        self, query: EmbedQuery, head: ThreadHead | None, variant: DocumentVariant
    ) -> tuple[Any, ...]:
        """Where the document is kept among the fragments."""
        return ("document", variant, *query.cache_key(head))

    async def thread_document(
        self,
        query: EmbedQuery,
        head: ThreadHead | None,
        variant: DocumentVariant,
        etag: str,
        render: Callable[[Fragment], str],
    ) -> Fragment:
        """The whole iframe document for `query` at `head`'s version (its `document_etag`), the
        same bytes for every reader (docs/architecture.md): `render` makes it on a miss."""
        key = self.document_key(query, head, variant)
        document = self.fragments.get(key, etag)
        if document is None:
            fragment = await self.thread_fragment(query, head)
            document = Fragment(etag, render(fragment).encode("utf-8"))
            self.fragments.put(key, document)
        return document

    def document_bytes(
        self,
        query: EmbedQuery,
        head: ThreadHead | None,
        variant: DocumentVariant,
        document: Fragment,
        encoding: Encoding,
    ) -> bytes:
        return self._encoded(self.document_key(query, head, variant), document, encoding)

    def _settings_digest(self) -> str:
        settings = self.settings
        parts = (
            self._build, settings.public_url, settings.mail_enabled, settings.passkeys,
            settings.email_sign_in,
            sorted(self.provider_names.items()),
            self._assets.url("thread.js"), self._assets.url("writer.js"),  # writer_url's base
            self._assets.inline_styles_digest,
        )  # fmt: skip
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:6]

    def comment_html(self, query: EmbedQuery, comment: Comment, depth: int) -> str:
        """One comment as the fragment shows it, for the script to insert after posting.

        The template's module (its macro bound to the embed's context) is kept per embed and
        site version: making it took a fifth of this call, once for each comment posted."""
        key = (query.site.stamp, query.page, query.theme, query.lang, query.cursor)
        module = self._comment_modules.get(key)
        if module is None:
            template = self.env.get_template("embed/_comment.html")
            module = template.make_module(
                self._fragment_context(query, None, settings_of(query.site))
            )
            self._comment_modules.put(key, module)
        return str(module.comment(CommentNode(comment, depth)))  # type: ignore[attr-defined]

    def identicon_key(self, comment: Comment) -> str:
        """The locally drawn avatar's key: from the email for guests, from the account for
        signed-in authors, so that a guest typing someone's address never wears their picture."""
        identity = f"user:{comment.user_id}" if comment.user_id else comment.author_email.lower()
        return avatar_key(self.settings.secret_key, identity)

    def identicon_path(self, comment: Comment) -> str:
        return f"/avatars/{self.identicon_key(comment)}.svg"

    def _identicon(
        self, drawn: dict[str, tuple[str, str]] | None, thread_id: int
    ) -> Callable[[Comment], Markup]:
        """Draws avatars into the HTML itself: no request per author. With `drawn`, each
        author's picture is drawn once (the template writes `drawn` out as symbols after the
        comments, each under its id) and every comment of theirs points to it; without, it is
        drawn in place.

        A drawing's id is short, `av{thread}-{n}` for the thread's nth author on the page, not
        the 16-digit key: every comment repeats it, and brotli cannot shorten random digits
        (a third of a kilobyte on a page of 124 comments by 30 authors). The thread's id keeps
        two fragments included in one page (no iframe) from pointing at each other's drawings."""

        def identicon(comment: Comment) -> Markup:
            key = self.identicon_key(comment)
            if drawn is None:
                return Markup(f'<svg aria-hidden="true" {identicon_shapes(key)}</svg>')  # noqa: S704
            if key not in drawn:
                drawn[key] = (f"av{thread_id}-{len(drawn)}", identicon_shapes(key))
            return Markup(f'<svg aria-hidden="true"><use href="#{drawn[key][0]}"/></svg>')  # noqa: S704

        return identicon

    def _fragment_context(
        self, query: EmbedQuery, view: ThreadView | None, settings: SiteSettings
    ) -> dict[str, Any]:
        drawn: dict[str, tuple[str, str]] | None = {} if view is not None else None
        return {
            "query": query,
            "view": view,
            "settings": settings,
            "t": Translator(query.lang),
            "identicon": self._identicon(drawn, view.head.id if view and view.head else 0),
            # Drawn once each, in the fragment, for the comments that point to them.
            "drawn_avatars": drawn,
            "provider_names": self.provider_names,
            "badges": badges_of(settings),
            "permalink_base": query.page.url
            or (view.head.url if view and view.head else "")
            or (self.settings.public_url + query.document_path()),
            "link_path": query.link_path(),
            "closed": bool(view and view.head and view.head.closed),
        }

    def script_strings(self, lang: str) -> dict[str, str]:
        return Translator(lang).strings(SCRIPT_STRINGS)

    def writer_url(self, lang: str) -> str:
        """writer.js with its strings in `lang`."""
        return self._assets.url_with_strings("writer.js", _writer_strings(lang))

    def script_plurals(self, lang: str) -> dict[str, dict[str, str]]:
        translator = Translator(lang)
        return {key: translator.plural_forms(key) for key in SCRIPT_PLURALS}
