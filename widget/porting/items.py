"""What format readers yield, and the helpers they share.

A reader turns a file into a stream of `ImportedComment`s and `ImportedLike`s (in the file's
order: a reply may come before its parent) and `Skip`s for what it leaves out and why. Bodies are
sanitised here, by the same code as new comments and within the same time limit (see `Bodies`);
times are aware datetimes.
"""

from __future__ import annotations

import dataclasses
import gzip
import html
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal, TypeVar

import nh3

from widget.records import ImportedComment, ImportedLike, ImportedThread, PageRef
from widget.render_workers import RenderWorkers, TooComplex, WorkersUnavailable
from widget.rendering import clean_html, render_markdown, render_markdown_with_html
from widget.urls import split_url

__all__ = [
    "IN_PROCESS",
    "BadFile",
    "Bodies",
    "BodyTooComplex",
    "Item",
    "Skip",
    "SkipReason",
    "aware",
    "body_from_html",
    "body_from_markdown",
    "body_from_markdown_with_html",
    "open_maybe_gzip",
    "page_for",
    "parse_iso",
    "plain_text",
    "safe_avatar",
    "safe_website",
]

SkipReason = Literal[
    "spam", "deleted", "orphan", "duplicate", "unparsable", "pingback", "trackback"
]


@dataclasses.dataclass(frozen=True, slots=True)
class Skip:
    """Something in the file that is not imported, and why."""

    key: str
    reason: SkipReason
    detail: str = ""


Item = ImportedThread | ImportedComment | ImportedLike | Skip


class BadFile(Exception):
    """The file cannot be imported at all (broken, truncated, unsafe, not in the format)."""


class BodyTooComplex(ValueError):
    """A comment's text could not be rendered within the time limit; readers skip the
    comment with this as the reason (a ValueError, as other malformed fields)."""


T = TypeVar("T")

# No text this short takes long to render: the worst shape profiled, a thousand "[", costs
# markdown-it about 50 ms on a loaded 2-core machine, a tenth of the default CPU limit. Most
# comments are shorter, and rendering them here spares a round trip to a worker for each (which
# made importing 20,000 comments 1.7 times slower).
IN_PLACE_MAX_CHARS = 1_000


@dataclasses.dataclass(frozen=True, slots=True)
class Bodies:
    """How readers turn a comment's text into (editable source, sanitised HTML). With render
    workers (as `import_file` passes them), a body longer than IN_PLACE_MAX_CHARS is rendered
    in a worker within the server's CPU-time limit: a file can hold a comment of a million "["
    as well as the web form can. Shorter ones, and all without workers (a reader called on its
    own, on a file one trusts), here."""

    workers: RenderWorkers | None = None

    def from_markdown(self, source: str) -> tuple[str, str]:
        return self._render(body_from_markdown, source)

    def from_markdown_with_html(self, source: str) -> tuple[str, str]:
        return self._render(body_from_markdown_with_html, source)

    def from_html(self, markup: str) -> tuple[str, str]:
        return self._render(body_from_html, markup)

    def clean(self, markup: str) -> str:
        return self._render(clean_html, markup)

    def _render(self, function: Callable[[str], T], text: str) -> T:
        if self.workers is None or len(text) <= IN_PLACE_MAX_CHARS:
            return function(text)
        try:
            return self.workers.call(function, text)
        except (TooComplex, WorkersUnavailable) as exc:
            raise BodyTooComplex(f"its text could not be formatted: {exc}") from None


IN_PROCESS = Bodies()


MAX_PAGE_ID_CHARS = 500


def page_for(site_id: str, url: str, identifier: str = "", title: str = "") -> PageRef:
    """The page a thread of another system was about: its path when it has a URL (as the embed
    names pages), else its identifier."""
    url = url.strip()
    parts = split_url(url) if url else None
    if parts is not None and parts.scheme in {"http", "https"} and parts.netloc:
        page_id = parts.path or "/"
    else:
        page_id, url = identifier.strip() or url, ""
    page_id = re.sub(r"[\x00-\x1f\x7f]", "", page_id)[:MAX_PAGE_ID_CHARS] or "/"
    title = re.sub(r"[\x00-\x1f\x7f]+", " ", html.unescape(title)).strip()[:300]
    return PageRef(site_id=site_id, page_id=page_id, url=url, title=title)


_BLOCK = re.compile(r"<\s*(p|div|br|ul|ol|blockquote|pre|h[1-6])\b", re.IGNORECASE)


_SEMANTIC = {"b": "strong", "i": "em"}
_PRESENTATIONAL = re.compile(r"<(/?)(b|i)(?=[\s>/])", re.IGNORECASE)


def body_from_html(markup: str) -> tuple[str, str]:
    """(source, html) for a body that arrives as HTML. Text without block tags (WordPress
    stores comments so, and adds paragraphs on display) gets its paragraphs and line breaks."""
    markup = markup.strip()
    if markup and not _BLOCK.search(markup):
        paragraphs = re.split(r"\n\s*\n", markup.replace("\r\n", "\n"))
        markup = "".join(f"<p>{p.strip().replace(chr(10), '<br>')}</p>" for p in paragraphs)
    # Old systems wrote <b> and <i>; the allowlist says <strong> and <em>.
    markup = _PRESENTATIONAL.sub(lambda m: f"<{m[1]}{_SEMANTIC[m[2].lower()]}", markup)
    cleaned = clean_html(markup)
    return plain_text(cleaned), cleaned


def body_from_markdown(source: str) -> tuple[str, str]:
    return source, render_markdown(source)


_TAG = re.compile(r"</?[A-Za-z][^>]*>")


def body_from_markdown_with_html(source: str) -> tuple[str, str]:
    """(source, html) for Markdown in which inline HTML is markup (Isso's, whose own Disqus and
    WordPress migrations store HTML bodies there). Where it holds a tag, the editable source is
    the text of the result: edited later as our Markdown (HTML off), the tags would show."""
    if not _TAG.search(source):
        return body_from_markdown(source)
    rendered = render_markdown_with_html(source)
    return plain_text(rendered), rendered


def plain_text(markup: str) -> str:
    """The text of sanitised HTML, with paragraphs as blank lines: the editable source."""
    spaced = re.sub(r"</(p|blockquote|pre|li|h[1-6])>", "\n\n", markup)
    spaced = re.sub(r"<br\s*/?>", "\n", spaced)
    return html.unescape(nh3.clean(spaced, tags=set())).strip()


def aware(moment: datetime) -> datetime:
    """A time from a file that gave no zone is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_iso(value: str) -> datetime:
    """ISO 8601 with or without a zone ('Z' included); raises ValueError."""
    return aware(datetime.fromisoformat(value.strip().replace("Z", "+00:00")))


def safe_website(url: str) -> str:
    """An author's website only when it is an http(s) address: a "javascript:" link must not
    reach a page as an href."""
    url = url.strip()
    parts = split_url(url) if url else None
    ok = parts is not None and parts.scheme.lower() in {"http", "https"} and parts.netloc
    return url if ok else ""


def safe_avatar(url: str) -> str:
    """An avatar URL readers' browsers may load: https only."""
    parts = split_url(url.strip()) if url else None
    return url.strip() if parts is not None and parts.scheme == "https" and parts.netloc else ""


GZIP_MAGIC = b"\x1f\x8b"


def open_maybe_gzip(path: Path) -> BinaryIO:
    """The file's bytes, decompressed on the fly when it is gzipped (whatever its name)."""
    with path.open("rb") as probe:
        gzipped = probe.read(2) == GZIP_MAGIC
    return gzip.open(path, "rb") if gzipped else path.open("rb")  # type: ignore[return-value]
