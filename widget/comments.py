"""Posting rules: what a visitor may write, reply to, like, edit and delete.

No Request objects and no SQL here: views hand in parsed values, storage keeps the results.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from widget.auth.tokens import BadToken, Purpose, TokenSigner, names_row, row_mark
from widget.email_address import NotAnEmailAddress, check_email_address
from widget.errors import (
    BadRequest,
    ClientError,
    Forbidden,
    Invalid,
    NotFound,
    ServiceUnavailable,
)
from widget.messages import Said, joined, said
from widget.moderation import screening
from widget.moderation.akismet import Akismet
from widget.records import (
    POST_LIKE,
    Comment,
    GuestLikeLimit,
    NewComment,
    PageRef,
    RateLimit,
    SingleUse,
    Site,
    ThreadHead,
    User,
)
from widget.refusals import worded
from widget.render_workers import Named, RenderWorkers, TooComplex, WorkersUnavailable
from widget.sites import SiteSettings, settings_of
from widget.storage import Storage
from widget.urls import is_host_name, origin_of, page_id_of, split_url

__all__ = [
    "Client",
    "CommentForm",
    "EditForm",
    "LikeResult",
    "OwnComment",
    "PostedComment",
    "Posting",
    "Submission",
    "ViewerState",
    "check_comment_form",
    "check_edit_form",
    "delete_comment",
    "edit_comment",
    "page_ref",
    "page_title",
    "post_comment",
    "post_rate_limits",
    "render_body",
    "set_like",
    "submit",
    "viewer_state",
]

# What a comment's text becomes, run in the render workers (widget/rendering.py).
RENDER_MARKDOWN = Named("widget.rendering", "render_markdown")
MAX_NAME_CHARS = 100
MAX_URL_CHARS = 500
MAX_PAGE_ID_CHARS = 500
MAX_PAGE_URL_CHARS = 2000
MAX_TITLE_CHARS = 300
MAX_EDIT_TOKENS = 100

_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
# Control characters other than tab and newline have no place in a comment.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f]")


@dataclasses.dataclass(frozen=True, slots=True)
class CommentForm:
    body: str
    name: str
    email: str
    website: str
    notify: bool
    parent_id: int | None
    notify_posts: bool = False  # "Notify me of new posts via email" (sites with a feed)


@dataclasses.dataclass(frozen=True, slots=True)
class EditForm:
    body: str
    name: str | None
    website: str | None


@dataclasses.dataclass(frozen=True, slots=True)
class PostedComment:
    comment: Comment
    head: ThreadHead
    edit_token: str

    @property
    def held(self) -> bool:
        """Waiting for a moderator (held or taken for spam: the author is told the same)."""
        return self.comment.status != "approved"


@dataclasses.dataclass(frozen=True, slots=True)
class Client:
    """Who sent a request, as much as the rules need: rate limits and spam checks."""

    address: str  # the remote address, proxies resolved as configured
    address_key: str  # what rate limits count by: the address, or its IPv6 network
    user_agent: str = ""
    referrer: str = ""
    lang: str = ""

    def akismet_context(self) -> dict[str, str]:
        return {
            "user_agent": self.user_agent[:500],
            "referrer": self.referrer[:2000],
            "lang": self.lang,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class Submission:
    """A comment as a visitor sent it, from the JSON API or the plain form, not yet checked."""

    page: PageRef
    # body, name, email, website, notify and notify_posts ("1" or ""), parent
    fields: Mapping[str, str]
    form_token: str
    honeypot: str  # the field people never see: filled by bots
    client: Client
    user: User | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Posting:
    """What posting needs from the running server."""

    storage: Storage
    signer: TokenSigner
    renderer: RenderWorkers
    akismet: Akismet | None
    max_body_chars: int
    posts_per_minute: int
    mail_enabled: bool  # whether this server sends email (people may be told of a post)


@dataclasses.dataclass(frozen=True, slots=True)
class Submitted(PostedComment):
    form_opened_at: datetime  # when the spent form token was issued: the next one keeps it


@dataclasses.dataclass(frozen=True, slots=True)
class LikeResult:
    liked: bool
    count: int
    voter_token: str
    head: ThreadHead


@dataclasses.dataclass(frozen=True, slots=True)
class OwnComment:
    """A comment this browser wrote and may still change."""

    seconds_left: int
    body_source: str


@dataclasses.dataclass(frozen=True, slots=True)
class ViewerState:
    liked: frozenset[int]  # comment ids; POST_LIKE (0) for the post itself
    editable: Mapping[int, OwnComment]
    held: tuple[Comment, ...] = ()  # this viewer's comments waiting for a moderator


# -- pages ----------------------------------------------------------------------------------


def page_ref(site: Site, page: str, url: str = "", title: str = "") -> PageRef:
    """The page a request names, checked: its id, and its URL within the site's origins.

    A page id given as a full URL is reduced to its path, so that `https://blog.example/a/` and
    `/a/` name one thread whichever of them the embed or a count element uses.
    """
    page_id = page_id_of(page)
    if not page_id:
        raise BadRequest(said("error_page_empty"))
    if len(page_id) > MAX_PAGE_ID_CHARS or _CONTROL_OR_NEWLINE.search(page_id):
        raise BadRequest(said("error_page_id_too_long", limit=MAX_PAGE_ID_CHARS))
    url = url.strip()
    if url:
        if len(url) > MAX_PAGE_URL_CHARS:
            raise BadRequest(said("error_page_url_too_long", limit=MAX_PAGE_URL_CHARS))
        url_parts = split_url(url)
        if url_parts is None or url_parts.scheme not in {"http", "https"}:
            raise BadRequest(said("error_page_url"))
        origin = origin_of(url_parts)
        if origin not in site.origins:
            raise Forbidden(
                said("error_page_origin", origin=origin, site=repr(site.id),
                     origins=", ".join(site.origins), site_id=site.id)
            )  # fmt: skip
    fetch_title = settings_of(site).fetch_titles == "on"
    return PageRef(site.id, page_id, url, page_title(title), fetch_title)


def page_title(raw: str) -> str:
    """A host page's title as its embed sends it, on one line and at most MAX_TITLE_CHARS."""
    return _CONTROL_OR_NEWLINE.sub(" ", raw).strip()[:MAX_TITLE_CHARS]


# -- what visitors type ---------------------------------------------------------------------


def check_comment_form(
    raw: Mapping[str, str],
    max_body_chars: int,
    *,
    signed_in: bool = False,
    email_required: bool = True,
) -> CommentForm:
    """The visitor's input, cleaned; raises Invalid naming every field that is wrong.
    Signed in, the name, email and website come from the account, not from the form."""
    errors: dict[str, str] = {}
    body = _check_body(raw.get("body", ""), max_body_chars, errors)
    name = email = website = ""
    notify = _ticked(raw.get("notify", ""))
    notify_posts = _ticked(raw.get("notify_posts", ""))
    if not signed_in:
        name = _check_name(raw.get("name", ""), errors)
        email = _check_email(
            raw.get("email", ""), errors, notify=notify, notify_posts=notify_posts,
            required=email_required,
        )  # fmt: skip
        website = _check_website(raw.get("website", ""), errors)
    parent_id = None
    parent_raw = raw.get("parent", "").strip()
    if parent_raw:
        if (
            not (parent_raw.isascii() and parent_raw.isdigit())
            or len(parent_raw) > 18  # before int(): Python refuses to read 4,300 digits
            or int(parent_raw) <= 0
        ):
            errors["parent"] = said("error_parent_invalid")
        else:
            parent_id = int(parent_raw)
    if errors:
        raise Invalid(joined(errors.values()), errors)
    return CommentForm(body, name, email, website, notify, parent_id, notify_posts)


def _ticked(raw: str) -> bool:
    return raw.lower() in {"1", "on", "true", "yes"}


def check_edit_form(raw: Mapping[str, str], max_body_chars: int) -> EditForm:
    errors: dict[str, str] = {}
    body = _check_body(raw.get("body", ""), max_body_chars, errors)
    name = _check_name(raw["name"], errors) if "name" in raw else None
    website = _check_website(raw["website"], errors) if "website" in raw else None
    if errors:
        raise Invalid(joined(errors.values()), errors)
    return EditForm(body, name, website)


def _check_body(raw: str, max_chars: int, errors: dict[str, str]) -> str:
    body = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not body:
        errors["body"] = said("error_body_empty")
    elif len(body) > max_chars:
        errors["body"] = said("error_body_too_long", length=len(body), limit=max_chars)
    elif _CONTROL.search(body):
        errors["body"] = said("error_body_control")
    return body


def _check_name(raw: str, errors: dict[str, str]) -> str:
    name = raw.strip()
    if not name:
        errors["name"] = said("error_name_empty")
    elif len(name) > MAX_NAME_CHARS:
        errors["name"] = said("error_name_too_long", limit=MAX_NAME_CHARS)
    elif _CONTROL_OR_NEWLINE.search(name):
        errors["name"] = said("error_name_control")
    return name


def _check_email(
    raw: str, errors: dict[str, str], *, notify: bool, notify_posts: bool, required: bool
) -> str:
    if not raw.strip():
        if notify:
            errors["email"] = said("error_email_for_replies")
        elif notify_posts:
            errors["email"] = said("error_email_for_posts")
        elif required:
            errors["email"] = said("error_email_empty")
        return ""
    try:
        return check_email_address(raw)
    except NotAnEmailAddress as exc:
        # Precise in English; other languages say what a good address looks like.
        errors["email"] = Said(str(exc), "error_email_invalid")
        return raw.strip()


def _check_website(raw: str, errors: dict[str, str]) -> str:
    website = raw.strip()
    if not website:
        return ""
    scheme = _SCHEME.match(website)
    # "example.com" or "example.com:8080/x" has no scheme yet: assume https.
    if "://" not in website and not (scheme and not website[scheme.end() :][:1].isdigit()):
        website = "https://" + website
    parts = split_url(website)
    if parts is not None and parts.scheme.lower() not in {"http", "https"}:
        errors["website"] = said("error_website_scheme")
    elif (
        parts is None
        or len(website) > MAX_URL_CHARS
        or not parts.hostname
        or not is_host_name(parts.hostname)
        or parts.username is not None
        or re.search(r"[\s<>\"'`\x00-\x1f\x7f]", website)
    ):
        errors["website"] = said("error_website_invalid")
    return website


# -- writing --------------------------------------------------------------------------------


def post_rate_limits(posts_per_minute: int, address_key: str, identity: str) -> list[RateLimit]:
    """Per address, and per commenter (email or account) wherever they post from."""
    limits = [RateLimit(f"post:{address_key}", posts_per_minute, 60.0)]
    if identity:
        limits.append(RateLimit(f"post:{identity}", posts_per_minute, 60.0))
    return limits


async def submit(
    posting: Posting, settings: SiteSettings, submission: Submission, now: datetime | None = None
) -> Submitted:
    """The one way a visitor's comment comes in, whichever door it used: the form token is
    checked and spent, the fields are checked, then `post_comment` stores it."""
    checked_token = screening.check_form_token(
        posting.signer, submission.form_token, submission.page, settings.min_seconds_to_post,
        now=now, reader=submission.client.address_key,
    )  # fmt: skip
    user = submission.user
    if user is None and settings.sign_in == "required":
        # Before the fields: the frame hides a guest's name and email on such a site, and
        # "Enter your name." about a field the reader cannot see left them stuck.
        raise Forbidden(said("error_sign_in_first"))
    form = check_comment_form(
        submission.fields, posting.max_body_chars, signed_in=user is not None,
        email_required=settings.guest_email == "required",
    )  # fmt: skip
    identity = f"user:{user.id}" if user else form.email.lower()
    posted = await post_comment(
        posting.storage,
        posting.signer,
        submission.page,
        form,
        settings=settings,
        remote_ip=submission.client.address,
        rate_limit=post_rate_limits(
            posting.posts_per_minute, submission.client.address_key, identity
        ),
        renderer=posting.renderer,
        user=user,
        honeypot=submission.honeypot,
        akismet=posting.akismet,
        context=submission.client.akismet_context(),
        form_token=checked_token.use,
        lang=submission.client.lang,
        now=now,
        mail_enabled=posting.mail_enabled,
    )
    return Submitted(posted.comment, posted.head, posted.edit_token, checked_token.opened_at)


async def post_comment(
    storage: Storage,
    signer: TokenSigner,
    page: PageRef,
    form: CommentForm,
    *,
    settings: SiteSettings,
    remote_ip: str,
    rate_limit: RateLimit | Sequence[RateLimit] | None,
    renderer: RenderWorkers,
    user: User | None = None,
    honeypot: str = "",
    akismet: Akismet | None = None,
    context: Mapping[str, Any] | None = None,
    form_token: SingleUse | None = None,
    now: datetime | None = None,
    lang: str = "",
    mail_enabled: bool = True,
) -> PostedComment:
    """Store a new comment, published or held as moderation decides, and hand back the token
    to edit it. A signed-in `user` writes under their account's name, picture and profile
    link. `context` tells Akismet about the request (user_agent, referrer, lang). Without
    `mail_enabled` (this server sends email) or a site webhook, nobody is told of it. The
    form's checked token (screening.check_form_token) is spent with the comment, or refused
    (Conflict) when it has posted one before.

    The rate limits are checked first, before any costly work (rendering, Akismet): a post
    refused for coming too fast costs the server one small read at most (none on SQLite,
    whose storage keeps the limits' state in memory). The post is counted against
    them in the transaction that stores it, so that a comment costs one write transaction
    (one fsync) and not two; one refused after the check (invalid, closed thread, …) is
    counted on its own, as every attempt was."""
    now = now or datetime.now(UTC)
    if user is None and settings.sign_in == "required":
        raise Forbidden(said("error_sign_in_first"))
    limits = _limits(rate_limit)
    await storage.check_rate_limits(limits, now)
    try:
        return await _store_comment(
            storage, signer, page, form, settings=settings, remote_ip=remote_ip, limits=limits,
            renderer=renderer, user=user, honeypot=honeypot, akismet=akismet, context=context,
            form_token=form_token, now=now, lang=lang, mail_enabled=mail_enabled,
        )  # fmt: skip
    except ClientError:
        if limits:
            # Counted even so, as any attempt is; a failure to count changes no answer.
            with contextlib.suppress(ClientError):
                await storage.take_rate_limits(limits, now)
        raise


async def _store_comment(
    storage: Storage,
    signer: TokenSigner,
    page: PageRef,
    form: CommentForm,
    *,
    settings: SiteSettings,
    remote_ip: str,
    limits: Sequence[RateLimit],
    renderer: RenderWorkers,
    user: User | None,
    honeypot: str,
    akismet: Akismet | None,
    context: Mapping[str, Any] | None,
    form_token: SingleUse | None,
    now: datetime,
    lang: str,
    mail_enabled: bool,
) -> PostedComment:
    parent_id = form.parent_id
    if parent_id is not None:
        parent_id = await reply_target(storage, page, parent_id, settings.max_depth)
    author = {"author_name": form.name, "author_email": form.email, "author_url": form.website}
    if user is not None:
        author = {
            "author_name": user.name,
            "author_email": user.email,
            "author_url": user.profile_url,
            "author_avatar": user.avatar_url,
            "author_provider": user.provider,
            "user_id": user.id,  # type: ignore[dict-item]
        }
    body_html = await render_body(renderer, form.body)
    verdict = await screening.assess(
        storage, settings, page, body=form.body, body_html=body_html,
        author_name=str(author["author_name"]), author_email=str(author["author_email"]),
        author_url=str(author["author_url"]), user=user, remote_ip=remote_ip,
        honeypot=honeypot, akismet=akismet,
        context={**(context or {}), "reply": parent_id is not None}, now=now,
    )  # fmt: skip
    new = NewComment(
        page=page,
        parent_id=parent_id,
        body_source=form.body,
        body_html=body_html,
        notify=form.notify,
        notify_posts=form.notify_posts,
        remote_ip=remote_ip,
        created_at=now,
        status=verdict.status,
        held_because=verdict.because,
        fingerprint=screening.fingerprint(form.body),
        form_token=form_token,
        lang=lang,
        # Without mail and a webhook the job would find nobody to tell, and cost the server a
        # write, two reads and a delete for each comment.
        tell=mail_enabled or bool(settings.webhook_url),
        **author,  # type: ignore[arg-type]
    )
    with worded():
        comment, head = await storage.add_comment(new, limits)
    edit_token = signer.sign(Purpose.EDIT, {"c": comment.id, "r": row_mark(comment.created_at)})
    return PostedComment(comment, head, edit_token)


def _limits(rate_limit: RateLimit | Sequence[RateLimit] | None) -> Sequence[RateLimit]:
    if rate_limit is None:
        return ()
    return (rate_limit,) if isinstance(rate_limit, RateLimit) else rate_limit


TOO_COMPLEX = said("error_too_complex")
RENDER_RETRY_AFTER_S = 30


async def render_body(renderer: RenderWorkers, body: str) -> str:
    """A comment's sanitised HTML, rendered off the event loop within the server's CPU-time
    limit: Invalid (422) for text that needs more, ServiceUnavailable (503) when the server
    is too busy to render it now."""
    try:
        return await renderer.run(RENDER_MARKDOWN, body)
    except TooComplex:
        raise Invalid(TOO_COMPLEX, {"body": TOO_COMPLEX}) from None
    except WorkersUnavailable:
        raise ServiceUnavailable(
            said("error_too_busy"),
            retry_after_s=RENDER_RETRY_AFTER_S,
        ) from None


async def reply_target(storage: Storage, page: PageRef, parent_id: int, max_depth: int) -> int:
    """The comment a reply hangs under: the one replied to, or, when that one is already at
    the deepest level, its parent, so the reply sits beside it at that level (as WordPress)."""
    parent = await storage.get_comment(parent_id)
    head = await storage.get_thread_head(page.site_id, page.page_id)
    if parent is None or head is None or parent.thread_id != head.id:
        raise Invalid(
            said("error_parent_elsewhere"), {"parent": said("error_parent_elsewhere_field")}
        )
    while parent.depth >= max_depth and parent.parent_id is not None:
        grandparent = await storage.get_comment(parent.parent_id)
        if grandparent is None:
            break
        parent = grandparent
    return parent.id


def _edit_token_value(signer: TokenSigner, token: str) -> dict[str, Any]:
    """An edit token's value: the comment's number ("c") and its mark (`names_row`)."""
    try:
        value = signer.verify(Purpose.EDIT, token)
    except BadToken as exc:
        if exc.expired:
            raise Forbidden(said("error_edit_over")) from exc
        raise Forbidden(said("error_edit_token")) from exc
    if not isinstance(value, dict) or not isinstance(value.get("c"), int):
        raise Forbidden(said("error_edit_token"))
    return value


async def _editable_comment(
    storage: Storage,
    signer: TokenSigner,
    comment_id: int,
    token: str,
    now: datetime,
    user: User | None = None,
) -> Comment:
    comment = await storage.get_comment(comment_id)
    own = user is not None and comment is not None and comment.user_id == user.id
    if not own:
        value = _edit_token_value(signer, token)
        if value["c"] != comment_id or (
            comment is not None and not names_row(value, comment.created_at)
        ):
            raise Forbidden(said("error_edit_token_other"))
    head = await storage.get_thread(comment.thread_id) if comment is not None else None
    site = await storage.get_site(head.site_id) if head is not None else None
    if comment is None or site is None or comment.status != "approved":
        raise NotFound(said("error_comment_gone"))
    window = timedelta(seconds=settings_of(site).edit_window_s)
    if now - comment.created_at > window:
        raise Forbidden(said("error_edit_over"))
    return comment


async def edit_comment(
    storage: Storage,
    signer: TokenSigner,
    comment_id: int,
    token: str,
    form: EditForm,
    *,
    rate_limit: RateLimit | None,
    renderer: RenderWorkers,
    user: User | None = None,
    now: datetime | None = None,
) -> tuple[Comment, ThreadHead]:
    """Change a comment within its site's edit window, by the holder of its edit token or
    by its signed-in author. The token, the window and the rate limit are checked before
    the new text is rendered."""
    now = now or datetime.now(UTC)
    comment = await _editable_comment(storage, signer, comment_id, token, now, user)
    if rate_limit is not None:
        await storage.take_rate_limits([rate_limit], now)
    body_html = await render_body(renderer, form.body)
    with worded():
        return await storage.edit_comment(
            comment.id,
            body_source=form.body,
            body_html=body_html,
            author_name=form.name if form.name is not None else comment.author_name,
            author_url=form.website if form.website is not None else comment.author_url,
            edited_at=now,
        )


async def delete_comment(
    storage: Storage,
    signer: TokenSigner,
    comment_id: int,
    token: str,
    user: User | None = None,
    now: datetime | None = None,
) -> ThreadHead:
    """Remove a comment within its site's edit window; replies under it stay, under a
    placeholder."""
    now = now or datetime.now(UTC)
    comment = await _editable_comment(storage, signer, comment_id, token, now, user)
    with worded():
        return await storage.delete_comment(comment.id)


# -- likes and the viewer's own state --------------------------------------------------------


def _user_voter(user: User | None) -> str | None:
    return f"user:{user.id}" if user is not None else None


def _voter_id(signer: TokenSigner, token: str | None) -> str | None:
    if not token:
        return None
    try:
        value = signer.verify(Purpose.VOTER, token)
    except BadToken:
        return None
    return value if isinstance(value, str) else None


async def set_like(
    storage: Storage,
    signer: TokenSigner,
    page: PageRef,
    comment_id: int | None,
    liked: bool,
    voter_token: str | None,
    rate_limit: RateLimit | None,
    user: User | None = None,
    guest_limit: GuestLikeLimit | None = None,
    now: datetime | None = None,
) -> LikeResult:
    """Like or unlike. A signed-in user likes as themselves, once; a guest browser by its
    voter id, minted on its first like and re-signed on each one, so it stays valid while in
    use. A voter id costs nothing to drop, so guests' likes also count against their network
    (`guest_limit`): a few per comment, however many voter ids it sends."""
    voter = _user_voter(user) or _voter_id(signer, voter_token) or secrets.token_urlsafe(16)
    with worded():
        count, head = await storage.set_like(
            page, POST_LIKE if comment_id is None else comment_id, voter, liked, rate_limit,
            now or datetime.now(UTC), guest_limit if user is None else None,
        )  # fmt: skip
    return LikeResult(liked, count, signer.sign(Purpose.VOTER, voter), head)


async def viewer_state(
    storage: Storage,
    signer: TokenSigner,
    site: Site,
    page: PageRef,
    voter_token: str | None,
    edit_tokens: Sequence[str],
    user: User | None = None,
    now: datetime | None = None,
) -> ViewerState:
    """What this browser (or signed-in user) liked on the page, and which of its comments it
    may still edit."""
    now = now or datetime.now(UTC)
    head = await storage.get_thread_head(page.site_id, page.page_id)
    if head is None and (edit_tokens or user is not None):  # their first comment may be held
        head = await storage.get_thread_head(page.site_id, page.page_id, fresh=True)
    if head is None:
        return ViewerState(frozenset(), {})
    voter = _user_voter(user) or _voter_id(signer, voter_token)
    liked = await storage.get_voter_likes(head.id, voter) if voter else set()
    window = timedelta(seconds=settings_of(site).edit_window_s)
    own = await storage.get_user_comments(head.id, user.id) if user is not None else []
    for token in edit_tokens[:MAX_EDIT_TOKENS]:
        try:
            value = _edit_token_value(signer, token)
        except Forbidden:
            continue
        comment = await storage.get_comment(value["c"])
        if (
            comment is not None and names_row(value, comment.created_at)
            and comment.thread_id == head.id and comment.status != "deleted"
        ):  # fmt: skip
            own.append(comment)
    editable: dict[int, OwnComment] = {}
    held: dict[int, Comment] = {}
    for comment in own:
        if comment.status != "approved":
            held[comment.id] = comment
            continue
        left = window - (now - comment.created_at)
        if left.total_seconds() > 0:
            editable[comment.id] = OwnComment(int(left.total_seconds()), comment.body_source)
    return ViewerState(frozenset(liked), editable, tuple(held.values()))
