"""Reading a thread: one page of top-level comments with their replies, as a tree to display.

Pages are cut by top-level comment, with keyset cursors (`before`/`after` a comment id), so a
page costs the same in a thread of 10 comments and in one of 100,000. Pages also have numbers,
as WordPress's do, counted from the oldest comments: the count of pages comes from the thread's
`root_count` (kept by every write), and pages are cut from the end the thread opens on, so the
page it opens on is the last (newest first) or the first (oldest first), skipping nothing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Literal

from widget.errors import BadRequest
from widget.records import Comment, PageRef, PageWindow, ThreadHead
from widget.refusals import worded
from widget.sites import SiteSettings
from widget.storage import Storage

__all__ = [
    "MAX_PAGE_NUMBER",
    "CommentNode",
    "ThreadCursor",
    "ThreadView",
    "load_thread",
    "parse_cursor",
]


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadCursor:
    """Which page: the one right after or right before a top-level comment id; None for the
    page a thread opens on (the site's `first_page`: its newest comments, or its oldest)."""

    direction: Literal["after", "before"] | None = None
    comment_id: int = 0
    number: int = 0  # a page by its number (1 holds the oldest comments); 0: not by number


MAX_PAGE_NUMBER = 10**9


def parse_cursor(before: str | None, after: str | None, number: str | None = None) -> ThreadCursor:
    if before and after:
        raise BadRequest("Ask for comments before or after a comment, not both.")
    if number and (before or after):
        raise BadRequest("Ask for a page by its number or by a comment, not both.")
    if number:
        if not (number.isascii() and number.isdigit()) or not 1 <= int(number) <= MAX_PAGE_NUMBER:
            raise BadRequest("'cpage' must be a page number, 1 or more.")
        return ThreadCursor(number=int(number))
    for direction, raw in (("before", before), ("after", after)):
        if raw:
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
                raise BadRequest(f"'{direction}' must be a comment number.")
            return ThreadCursor(direction, int(raw))  # type: ignore[arg-type]
    return ThreadCursor()


@dataclasses.dataclass(slots=True)
class CommentNode:
    comment: Comment
    depth: int  # as displayed, at most the site's maximum depth
    replies: list[CommentNode] = dataclasses.field(default_factory=list)
    # Shown as "removed" (deleted, or taken back by a moderator) to keep its replies in place.
    removed: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class ThreadView:
    page: PageRef
    title: str
    head: ThreadHead | None
    roots: list[CommentNode]  # in display order
    older_cursor: int | None  # `before` value of the page of older comments, if any
    newer_cursor: int | None  # `after` value of the page of newer comments, if any
    page_count: int = 1
    page_number: int | None = None  # None on a page reached by a cursor: its number is unknown
    opening_page: int = 1  # the number of the page the thread opens on (linked without one)

    def page_numbers(self) -> list[int | None]:
        """The page numbers to link, as WordPress's paginate_links shows them: the first and
        the last, the current one and one each side of it, None for each gap ("…")."""
        if self.page_number is None:
            return []
        shown: list[int | None] = []
        for number in range(1, self.page_count + 1):
            if number in (1, self.page_count) or abs(number - self.page_number) <= 1:
                shown.append(number)
            elif shown[-1] is not None:
                shown.append(None)
        return shown

    @property
    def comment_count(self) -> int:
        return self.head.comment_count if self.head else 0

    @property
    def like_count(self) -> int:
        return self.head.like_count if self.head else 0

    @property
    def version(self) -> int:
        return self.head.version if self.head else 0


async def load_thread(
    storage: Storage,
    page: PageRef,
    settings: SiteSettings,
    cursor: ThreadCursor,
    head: ThreadHead | None,
) -> ThreadView:
    """The page of the thread `cursor` names. `head` is the thread's current head (None when
    the page has no thread yet); the page read may be newer than it, never older."""
    # The host page's own title, as its embed sends it, before the stored one: whoever wrote
    # first (a comment, or a like of the post) chose that one, whatever the page says.
    title = page.title or (head.title if head else "") or page.page_id
    if head is None:
        return ThreadView(page, title, None, [], None, None, 1, 1, 1)
    page_count = max(1, -(-head.root_count // settings.page_size))
    opening_number = 1 if settings.first_page == "oldest" else page_count
    # A number past the last page (comments were removed since the link was made) shows the
    # last page rather than an error: the reader came for the thread.
    number = min(cursor.number, page_count) if cursor.number else None
    if cursor.direction is None:
        # Numbered pages are cut from the end the thread opens on, so that its opening page
        # (no skip, flat in cost) is a numbered page like the others.
        pages_away = abs((number or opening_number) - opening_number)
        skip = pages_away * settings.page_size
        if settings.first_page == "oldest":
            window = PageWindow("after", None, settings.page_size, skip)
        else:
            window = PageWindow("before", None, settings.page_size, skip)
        number = number or opening_number
    else:
        window = PageWindow(cursor.direction, cursor.comment_id, settings.page_size)
    with worded():
        current, rows = await storage.get_thread_page(head.id, window)
    pinned_ids = {comment.id for comment in rows.pinned}
    in_order = [comment for comment in rows.roots if comment.id not in pinned_ids]
    roots = _build_tree([*rows.pinned, *in_order], rows.replies, settings.max_depth)
    pinned = [node for node in roots if node.comment.id in pinned_ids]
    roots = [node for node in roots if node.comment.id not in pinned_ids]
    if settings.order == "newest":
        roots.reverse()
    roots = pinned + roots  # pinned comments come first, whatever the order
    older = rows.roots[0].id if rows.more_before and rows.roots else None
    newer = rows.roots[-1].id if rows.more_after and rows.roots else None
    return ThreadView(page, title, current, roots, older, newer, page_count, number, opening_number)


def _build_tree(
    roots: Sequence[Comment], replies: Sequence[Comment], max_depth: int
) -> list[CommentNode]:
    nodes: dict[int, CommentNode] = {}
    top: list[CommentNode] = []
    for comment in roots:
        node = CommentNode(comment, 1, removed=comment.status != "approved")
        nodes[comment.id] = node
        top.append(node)
    for comment in replies:
        # Parents have smaller ids, so they are placed first (storage reads every parent
        # that has replies, removed or not).
        parent = nodes.get(comment.parent_id) if comment.parent_id is not None else None
        if parent is None:
            continue
        # Replies deeper than the site's maximum (it may have been lowered) show at that depth.
        while parent.depth >= max_depth and parent.comment.parent_id in nodes:
            parent = nodes[parent.comment.parent_id]
        node = CommentNode(
            comment, min(parent.depth + 1, max_depth), removed=comment.status != "approved"
        )
        nodes[comment.id] = node
        parent.replies.append(node)
    return [node for node in top if _prune_removed(node)]


def _prune_removed(node: CommentNode) -> bool:
    """Drop removed comments that have nothing visible under them; True if `node` stays."""
    node.replies = [reply for reply in node.replies if _prune_removed(reply)]
    return not node.removed or bool(node.replies)
