"""HTML out: the Jinja2 environment, the thread fragment and its in-process cache.

The fragment is the same bytes for every viewer of a thread version, so it is rendered once per
(thread version, site revision, embed parameters) and kept in a cache bounded by bytes.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlencode

import jinja2
from starlette.templating import Jinja2Templates

from widget import __version__
from widget.comments import page_ref
from widget.config import Settings
from widget.errors import BadRequest
from widget.lru import LruCache
from widget.sites import SiteSettings, settings_of
from widget.storage import Comment, PageRef, Site, Storage, ThreadHead
from widget.threads import CommentNode, ThreadCursor, ThreadView, load_thread, parse_cursor

from .assets import Assets
from .avatars import avatar_key
from .i18n import LANGUAGES, Translator, choose_language
from .inputs import parse_query_string

__all__ = ["EmbedQuery", "Fragment", "HtmlRenderer"]

Theme = Literal["light", "dark", "auto"]
THEMES = ("light", "dark", "auto")

# Strings the iframe's script needs, handed over as JSON in the document.
SCRIPT_STRINGS = (
    "reply", "cancel_reply", "like", "edit", "delete", "save", "cancel", "comment_posted",
    "awaiting_moderation",
    "confirm_delete", "posting", "post_comment", "leave_reply", "leave_reply_to", "problem",
    "deleted", "new_activity", "commenting_as", "erase_confirm", "erased",
    "sign_in_closed", "sign_in_expired",
)  # fmt: skip
SCRIPT_PLURALS = ("likes", "post_likes", "new_comments")
QUERY_CACHE_ENTRIES = 4096


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
            cursor=parse_cursor(params.get("before"), params.get("after")),
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
        values.update(changes)
        return {k: str(v) for k, v in values.items() if v not in (None, "")}

    def document_path(self, **changes: str | int | None) -> str:
        """The iframe document for this embed, every parameter kept."""
        return f"/embed/{self.site.id}/thread?{urlencode(self.params(**changes))}"

    def link_path(self, before: int | None = None, after: int | None = None) -> str:
        """A short link to another view of this thread from inside it (a page, a reply form).

        Such links exist only once the thread does, and the thread keeps the page's URL and
        title, so they carry just the page and the non-default display settings: the fragment
        repeats this link for every comment.
        """
        values = {"page": self.page.page_id}
        if self.theme != "auto":
            values["theme"] = self.theme
        if self.lang != "en":
            values["lang"] = self.lang
        if before is None and after is None and self.cursor.direction:
            values[self.cursor.direction] = str(self.cursor.comment_id)
        elif before is not None:
            values["before"] = str(before)
        elif after is not None:
            values["after"] = str(after)
        return f"/embed/{self.site.id}/thread?{urlencode(values)}"

    def cache_key(self, head: ThreadHead | None) -> tuple[Any, ...]:
        # Without a thread yet, the title comes from the request, so it is part of the key.
        title = None if head and head.title else self.page.title
        return (self.site.id, self.page.page_id, self.page.url, title, self.theme, self.lang,
                self.cursor)  # fmt: skip


@dataclasses.dataclass(frozen=True, slots=True)
class Fragment:
    etag: str
    body: bytes
    gzipped: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped or b"")


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
        )
        self.env.globals.update(
            static_url=assets.url,
            public_url=settings.public_url,
            version=__version__,
            languages=LANGUAGES,
        )
        self.templates = Jinja2Templates(env=self.env)
        self.fragments = FragmentCache(settings.fragment_cache_bytes)
        self._queries: LruCache[tuple[tuple[str, float, int], bytes], EmbedQuery] = LruCache(
            QUERY_CACHE_ENTRIES
        )
        # Display names of sign-in providers, for "via GitHub" under signed-in authors.
        self.provider_names: dict[str, str] = {}
        # Part of every ETag, so a new release never serves fragments cached by the old one.
        self._build = hashlib.sha256(__version__.encode()).hexdigest()[:6]

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

    async def thread_fragment(
        self, query: EmbedQuery, head: ThreadHead | None, *, gzipped: bool = False
    ) -> Fragment:
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
        if gzipped and fragment.gzipped is None:
            fragment = dataclasses.replace(fragment, gzipped=gzip.compress(fragment.body, 6))
            self.fragments.put(key, fragment)
        return fragment

    def comment_html(self, query: EmbedQuery, comment: Comment, depth: int) -> str:
        """One comment as the fragment shows it, for the script to insert after posting."""
        template = self.env.get_template("embed/_comment.html")
        context = self._fragment_context(query, None, settings_of(query.site))
        module = template.make_module(context)
        return str(module.comment(CommentNode(comment, depth)))  # type: ignore[attr-defined]

    def identicon_path(self, comment: Comment) -> str:
        """The locally drawn avatar: from the email for guests, from the account for signed-in
        authors, so that a guest typing someone's address never wears their picture."""
        identity = f"user:{comment.user_id}" if comment.user_id else comment.author_email.lower()
        return f"/avatars/{avatar_key(self.settings.secret_key, identity)}.svg"

    def _fragment_context(
        self, query: EmbedQuery, view: ThreadView | None, settings: SiteSettings
    ) -> dict[str, Any]:
        return {
            "query": query,
            "view": view,
            "settings": settings,
            "t": Translator(query.lang),
            "avatar_url": lambda c: c.author_avatar or self.identicon_path(c),
            "provider_names": self.provider_names,
            "permalink_base": query.page.url
            or (view.head.url if view and view.head else "")
            or (self.settings.public_url + query.document_path()),
            "link_path": query.link_path(),
            "closed": bool(view and view.head and view.head.closed),
        }

    def script_strings(self, lang: str) -> dict[str, str]:
        return Translator(lang).strings(SCRIPT_STRINGS)

    def script_plurals(self, lang: str) -> dict[str, dict[str, str]]:
        translator = Translator(lang)
        return {key: translator.plural_forms(key) for key in SCRIPT_PLURALS}
