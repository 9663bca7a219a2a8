"""Moving in and out: Disqus and WordPress imports (fixtures written from their formats'
documentation), our own JSON Lines round trip, the other export formats, malformed files, and
the `widget import` / `widget export` commands."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import IMPORT_FIXTURES
from widget import cli
from widget.cli.porting import report_lines
from widget.porting.detect import detect
from widget.porting.exporter import export_chunks, writer_for
from widget.porting.formats import disqus, wxr
from widget.porting.formats.csv_export import neutralised
from widget.porting.importer import ImportReport, import_file
from widget.porting.items import BadFile, Skip
from widget.records import POST_LIKE, ImportedComment, NewComment, PageRef, Profile
from widget.storage import Storage, storage_for_url

FIXTURES = IMPORT_FIXTURES
DISQUS = FIXTURES / "disqus.xml"
WORDPRESS = FIXTURES / "wordpress.xml"
ORIGIN = "https://blog.example"


async def open_storage(url: str) -> Storage:
    storage = storage_for_url(url)
    await storage.open()
    await storage.add_site("blog", "The blog", [ORIGIN], {"order": "newest"})
    return storage


@pytest.fixture
async def storage(storage: Storage) -> Storage:
    """The shared storage fixture, its site showing the newest comments first."""
    await storage.update_site("blog", settings={"order": "newest"})
    return storage


def comments_of(items: Sequence[object]) -> dict[str, ImportedComment]:
    return {item.key: item for item in items if isinstance(item, ImportedComment)}


def skips_of(report: ImportReport) -> dict[str, str]:
    return {skip.key: skip.reason for skip in report.skipped}


async def exported(storage: Storage, format_name: str, page_id: str | None = None) -> bytes:
    chunks = export_chunks(storage, writer_for(format_name), ["blog"], page_id)
    return b"".join([chunk async for chunk in chunks])


# -- Disqus ---------------------------------------------------------------------------------------


def test_disqus_posts_keep_their_threads_parents_times_and_safe_bodies() -> None:
    items = list(disqus.read(DISQUS, "blog"))
    comments = comments_of(items)
    reply = comments["disqus:1002"]
    assert reply.parent_key == "disqus:1001"
    assert reply.page == PageRef(
        "blog", "/first/", f"{ORIGIN}/first/", 'First post: café & "quotes"'
    )
    assert (reply.author_name, reply.author_email, reply.remote_ip) == (
        "Bob Ödegaard", "bob@example.com", "198.51.100.2",
    )  # fmt: skip
    assert reply.body_html == "<p>I agree with you 👍 — <strong>très</strong> bien.</p>"
    first = comments["disqus:1001"].body_html
    assert "<script" not in first and "onclick" not in first and "alert" not in first
    assert '<a href="https://example.org/x" rel="nofollow ugc noopener">a link</a>' in first
    assert comments["disqus:1005"].created_at == datetime(2015, 3, 2, 14, 0, tzinfo=UTC)
    assert comments["disqus:1005"].author_name == "Anonymous"
    assert comments["disqus:1003"].author_email == ""
    # An empty thread identifier: the page is its link's path (the query is not part of it).
    assert comments["disqus:2002"].page.page_id == "/second/"
    assert (comments["disqus:1006"].status, comments["disqus:1007"].status) == ("spam", "deleted")
    skips = [item for item in items if isinstance(item, Skip)]
    assert [(s.key, s.reason) for s in skips] == [
        ("disqus-thread:100", "duplicate"), ("disqus:3001", "orphan"),
        ("disqus:3002", "unparsable"),
    ]  # fmt: skip


async def test_a_disqus_import_reports_everything_and_imports_once(storage: Storage) -> None:
    report = await import_file(storage, DISQUS, "blog")
    assert report.format == "disqus"
    assert (report.imported, report.threads_created) == (8, 2)
    assert report.orphans == ["disqus:2003"]
    assert skips_of(report) == {
        "disqus-thread:100": "duplicate", "disqus:3001": "orphan", "disqus:3002": "unparsable",
        "disqus:1006": "spam", "disqus:1007": "deleted",
    }  # fmt: skip
    rows = await exported(storage, "jsonl", "/first/")
    records = [json.loads(line) for line in rows.splitlines()[1:]]
    by_key = {r["key"]: r for r in records if r["type"] == "comment"}
    assert by_key["disqus:1005"]["parent"] == "disqus:1004"  # five levels, parents remapped
    second = [
        json.loads(line) for line in (await exported(storage, "jsonl", "/second/")).splitlines()[1:]
    ]
    placeholder = next(r for r in second if r.get("key") == "disqus:2001")
    assert placeholder["status"] == "deleted"  # kept: someone answered it

    again = await import_file(storage, DISQUS, "blog")
    assert (again.imported, again.threads_created) == (0, 0)
    assert sum(s.reason == "duplicate" for s in again.skipped) == 9  # 8 + the thread id


def disqus_post(
    post_id: int, parent: int | None, *, deleted: bool = False, spam: bool = False
) -> str:
    """One <post> of a Disqus export, as Disqus writes them (deleted ones keep no author)."""
    reply = f'<parent dsq:id="{parent}" />' if parent else ""
    return f"""<post dsq:id="{post_id}"><id /><message><![CDATA[<p>Post {post_id}</p>]]></message>
<createdAt>2016-01-0{1 + post_id % 9}T10:00:00Z</createdAt>
<isDeleted>{str(deleted).lower()}</isDeleted><isSpam>{str(spam).lower()}</isSpam>
<author><name>Ann</name><isAnonymous>true</isAnonymous></author>
<ipAddress>198.51.100.9</ipAddress><thread dsq:id="500" />{reply}</post>"""


async def test_a_deleted_comment_stays_as_a_placeholder_only_above_a_kept_one(
    storage: Storage, tmp_path: Path
) -> None:
    """1 deleted, 2 its spam reply: nothing kept below 1. 3 deleted, 4 deleted, nothing below:
    neither is kept. 5 deleted, 6 deleted, 7 published: 5 and 6 stay, so 7 keeps its place.
    8 deleted, 9 spam, 10 published: 10 loses its parent (to the top level), so 8 goes."""
    posts = [
        disqus_post(1, None, deleted=True), disqus_post(2, 1, spam=True),
        disqus_post(3, None, deleted=True), disqus_post(4, 3, deleted=True),
        disqus_post(5, None, deleted=True), disqus_post(6, 5, deleted=True), disqus_post(7, 6),
        disqus_post(8, None, deleted=True), disqus_post(9, 8, spam=True), disqus_post(10, 9),
    ]  # fmt: skip
    path = tmp_path / "disqus.xml"
    path.write_text(f"""<?xml version="1.0" encoding="utf-8"?>
<disqus xmlns="http://disqus.com" xmlns:dsq="http://disqus.com/disqus-internals">
<thread dsq:id="500"><id>post-500</id><forum>myblog</forum>
<link>https://blog.example/placeholders/</link><title>Placeholders</title>
<createdAt>2016-01-01T10:00:00Z</createdAt><isClosed>false</isClosed><isDeleted>false</isDeleted>
</thread>
{"".join(posts)}
</disqus>""")
    report = await import_file(storage, path, "blog")
    assert skips_of(report) == {
        "disqus:1": "deleted", "disqus:2": "spam", "disqus:3": "deleted", "disqus:4": "deleted",
        "disqus:8": "deleted", "disqus:9": "spam",
    }  # fmt: skip
    assert report.orphans == ["disqus:10"]
    lines = (await exported(storage, "jsonl", "/placeholders/")).splitlines()[1:]
    kept = {r["key"]: r for r in map(json.loads, lines) if r["type"] == "comment"}
    assert {key: (r["status"], r["parent"]) for key, r in kept.items()} == {
        "disqus:5": ("deleted", None), "disqus:6": ("deleted", "disqus:5"),
        "disqus:7": ("approved", "disqus:6"), "disqus:10": ("approved", None),
    }  # fmt: skip


# -- WordPress ------------------------------------------------------------------------------------


def test_wordpress_dates_keep_their_zone_and_jetpack_keeps_the_provider() -> None:
    items = list(wxr.read(WORDPRESS, "blog"))
    comments = comments_of(items)
    zoe = comments["wordpress:12"]
    assert zoe.parent_key == "wordpress:11"
    assert zoe.created_at == datetime(2019, 5, 2, 12, 30, tzinfo=UTC)  # its GMT date
    # No GMT date: the local 13:00, less the blog's two hours (from the post's own dates).
    assert comments["wordpress:11"].created_at == datetime(2019, 5, 1, 11, 0, tzinfo=UTC)
    assert (zoe.author_provider, zoe.author_avatar) == (
        "twitter",
        "https://pbs.twimg.example/zoe.jpg",
    )
    assert zoe.body_html == "<p>Thanks! 🎉</p><p>Second paragraph,<br>with a line break.</p>"
    assert zoe.body_source == "Thanks! 🎉\n\nSecond paragraph,\nwith a line break."
    assert "onerror" not in comments["wordpress:11"].body_html
    assert "<strong>bold</strong>" in comments["wordpress:11"].body_html
    assert zoe.page.page_id == "/2019/05/hello-world/"
    assert comments["wordpress:17"].status == "pending"
    skips = {item.key: item.reason for item in items if isinstance(item, Skip)}
    assert skips == {"wordpress:13": "pingback", "wordpress:14": "trackback"}


async def test_a_wordpress_import_skips_spam_trash_and_pingbacks(storage: Storage) -> None:
    report = await import_file(storage, WORDPRESS, "blog", dry_run=True)
    assert (report.imported, report.dry_run) == (3, True)
    assert (await exported(storage, "csv")).count(b"\r\n") == 1  # the header: nothing written
    report = await import_file(storage, WORDPRESS, "blog")
    assert (report.imported, report.threads_created) == (3, 1)
    assert skips_of(report) == {"wordpress:13": "pingback", "wordpress:14": "trackback",
                                "wordpress:15": "spam", "wordpress:16": "deleted"}  # fmt: skip


# -- our own format: lossless ---------------------------------------------------------------------


async def populate(storage: Storage) -> None:
    """A bit of everything: replies, a signed-in author, statuses, likes, a pin, an edit, a
    closed thread, and comments imported from Disqus."""
    page = PageRef("blog", "/p/", f"{ORIGIN}/p/", "A post")
    now = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    user = await storage.upsert_user(Profile("github", "42", "Octo Cat", "octo@example.com"), now)

    async def add(body: str, parent: int | None = None, **fields: object) -> int:
        new = NewComment(page=page, parent_id=parent, author_name="Ann", author_email="ann@x.example",
                         author_url="https://ann.example", body_source=body, body_html=f"<p>{body}</p>",
                         notify=False, remote_ip="192.0.2.1", created_at=now)  # fmt: skip
        comment, _ = await storage.add_comment(dataclasses.replace(new, **fields), None)  # type: ignore[arg-type]
        return comment.id

    first = await add("first")
    reply = await add("reply", first)
    await add("by a user", author_name="Octo Cat", author_email="", user_id=user.id,
              author_provider="github", author_avatar="https://avatars.example/octo.png")  # fmt: skip
    await add("later root")
    await add("a reply to the reply", reply)
    await add("held", status="pending")
    await add("spam", status="spam")
    await storage.set_pinned(first, True)
    await storage.set_like(page, first, f"user:{user.id}", True, None, now)
    await storage.set_like(page, POST_LIKE, "browser-voter", True, None, now)
    reader = await storage.upsert_user(Profile("gitlab", "7", "Quiet Reader"), now)  # never wrote
    await storage.set_like(page, reply, f"user:{reader.id}", True, None, now)
    await storage.moderate_edit(reply, "reply, edited", "<p>reply, edited</p>", "Ann", "", now)
    closed = PageRef("blog", "/closed/", f"{ORIGIN}/closed/", "Closed")
    _, head = await storage.add_comment(dataclasses.replace(
        NewComment(page=closed, parent_id=None, author_name="Bo", author_email="", author_url="",
                   body_source="x", body_html="<p>x</p>", notify=False, remote_ip="",
                   created_at=now)), None)  # fmt: skip
    await storage.set_closed(head.id, True)
    await import_file(storage, DISQUS, "blog")


async def test_export_import_export_gives_the_same_document(
    storage: Storage, tmp_path: Path
) -> None:
    await populate(storage)
    document = await exported(storage, "jsonl")
    (tmp_path / "export.jsonl").write_bytes(document)
    target = await open_storage(f"sqlite:///{tmp_path / 'target' / 'widget.db'}")
    try:
        report = await import_file(target, tmp_path / "export.jsonl", "blog")
        assert report.format == "jsonl"
        assert report.skipped == [] and report.orphans == []
        assert await exported(target, "jsonl") == document
        again = await import_file(target, tmp_path / "export.jsonl", "blog")
        assert again.imported == 0 and again.likes == 0
    finally:
        await target.close()
    header, *records = [json.loads(line) for line in document.splitlines()]
    assert header == {"format": "widget-export", "version": 1}
    kinds = [r["type"] for r in records]
    assert kinds == sorted(kinds, key=["site", "thread", "user", "comment", "like"].index)
    assert {r["status"] for r in records if r["type"] == "comment"} == {
        "approved", "pending", "spam", "deleted",
    }  # fmt: skip
    # What the document holds, not only that it comes back the same: a field the export left
    # out (or wrote as a constant) would come back the same, lost both times.
    comments = {r["text"]: r for r in records if r["type"] == "comment"}
    first, edited, octo = comments["first"], comments["reply, edited"], comments["by a user"]
    written = "2024-05-06T07:08:09.123456Z"
    assert edited == {
        "type": "comment", "site": "blog", "page": "/p/", "key": edited["key"],
        "parent": first["key"], "status": "approved", "created_at": written,
        "edited_at": written, "name": "Ann", "email": "ann@x.example", "website": "",
        "avatar": "", "provider": "", "user": None, "ip_address": "192.0.2.1",
        "text": "reply, edited", "html": "<p>reply, edited</p>", "likes": 1, "pinned": False,
    }  # fmt: skip
    assert (first["parent"], first["edited_at"], first["likes"], first["pinned"]) == (
        None, None, 1, True,
    )  # fmt: skip
    assert (first["website"], first["email"]) == ("https://ann.example", "ann@x.example")
    assert (octo["user"], octo["provider"], octo["avatar"]) == (
        "github:42", "github", "https://avatars.example/octo.png",
    )  # fmt: skip
    assert {r["voter"] for r in records if r["type"] == "like"} == {
        "user:github:42", "user:gitlab:7", "browser-voter",
    }  # fmt: skip


async def test_an_export_of_every_site_imports_one_site_at_a_time(
    storage: Storage, tmp_path: Path
) -> None:
    """Found moving in and out as the docs show it: `widget export -o everything.jsonl`
    (every site), then `widget import everything.jsonl --site blog`, put every site's
    comments into blog, and threads of the same path on two blogs into one thread. Now a file
    of several sites gives --site's own comments only, and names its sites when --site is
    none of them."""
    await populate(storage)
    await storage.add_site("notes", "Notes", ["https://notes.example"], {})
    notes_page = PageRef("notes", "/p/", "https://notes.example/p/", "Same path, other blog")
    new = NewComment(page=notes_page, parent_id=None, author_name="Nia", author_email="",
                     author_url="", body_source="on notes", body_html="<p>on notes</p>",
                     notify=False, remote_ip="192.0.2.9", created_at=datetime(2024, 5, 7, tzinfo=UTC))  # fmt: skip
    await storage.add_comment(new, None)
    chunks = export_chunks(storage, writer_for("jsonl"), ["blog", "notes"])
    (tmp_path / "everything.jsonl").write_bytes(b"".join([chunk async for chunk in chunks]))
    target = await open_storage(f"sqlite:///{tmp_path / 'target' / 'widget.db'}")
    try:
        report = await import_file(target, tmp_path / "everything.jsonl", "blog")
        assert report.skipped == [] and report.orphans == []
        assert await exported(target, "jsonl") == await exported(storage, "jsonl")
        assert b"on notes" not in await exported(target, "jsonl")
        with pytest.raises(BadFile) as refused:
            await import_file(target, tmp_path / "everything.jsonl", "elsewhere")
        assert str(refused.value) == (
            "This file holds the comments of 2 sites (blog, notes); import them one at a time,"
            " each with --site naming it (widget site add it first)."
        )
    finally:
        await target.close()


async def test_one_thread_exports_alone(storage: Storage) -> None:
    await populate(storage)
    lines = (await exported(storage, "jsonl", "/closed/")).splitlines()
    records = [json.loads(line) for line in lines[1:]]
    assert [r["page"] for r in records if r["type"] in ("thread", "comment")] == ["/closed/"] * 2
    assert next(r for r in records if r["type"] == "thread")["closed"] is True


async def test_wxr_and_disqus_exports_import_back(storage: Storage, tmp_path: Path) -> None:
    await populate(storage)
    for name, expected in (("wxr", 16), ("disqus", 13)):
        path = tmp_path / f"out.{name}.xml"
        path.write_bytes(await exported(storage, name))
        assert detect(path) == "wxr"  # Disqus's import format is WXR as well
        comments = comments_of(list(wxr.read(path, "blog")))
        assert len(comments) == expected, name
        texts = {c.body_source for c in comments.values()}
        assert {"first", "reply, edited", "Great post!\n\nSecond paragraph with a link"} <= texts
        statuses = {c.body_source: c.status for c in comments.values()}
        assert (statuses["first"], statuses["held"]) == ("approved", "pending"), name
    # Disqus gets no spam, no deleted comments and none under 3 characters ("x").
    assert {"spam", "x", "", "held"} & texts == {"held"}


async def test_csv_cells_cannot_become_formulas(storage: Storage) -> None:
    page = PageRef("blog", "/f/", f"{ORIGIN}/f/", '=HYPERLINK("x")')
    await storage.add_comment(NewComment(
        page=page, parent_id=None, author_name="@evil", author_email="", author_url="",
        body_source="=1+2", body_html="<p>=1+2</p>", notify=False, remote_ip="",
        created_at=datetime.now(UTC)), None)  # fmt: skip
    rows = list(csv.reader(io.StringIO((await exported(storage, "csv")).decode())))
    assert rows[0][:3] == ["site", "page", "url"]
    row = dict(zip(rows[0], rows[1], strict=True))
    assert (row["title"], row["name"], row["text"]) == ('\'=HYPERLINK("x")', "'@evil", "'=1+2")
    assert [neutralised(v) for v in ("+1", "-1", "\tx", "ok", 5)] == [
        "'+1",
        "'-1",
        "'\tx",
        "ok",
        "5",
    ]


# -- malformed files ------------------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<disqus><thread><title>&lol3;</title></thread></disqus>
"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE disqus [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<disqus><post><message>&secret;</message></post></disqus>
"""


@pytest.mark.parametrize(
    ("name", "content", "format_name", "message"),
    [
        ("laughs.xml", BILLION_LAUGHS, None, "declares XML entities"),
        ("external.xml", EXTERNAL, "disqus", "declares XML entities"),
        ("broken.xml", DISQUS.read_text()[:3000], "disqus", "not well-formed XML"),
        ("wrong.xml", WORDPRESS.read_text(), "disqus", "not a <disqus>"),
        ("wrong2.xml", DISQUS.read_text(), "wxr", "not a <rss>"),
        ("notes.txt", "just some notes", None, "Could not tell what format"),
        ("native.jsonl", '{"format": "widget-export", "version": 9}\n', None, "version 9"),
    ],
)
async def test_a_malformed_file_imports_nothing_and_says_why(
    storage: Storage, tmp_path: Path, name: str, content: str, format_name: str | None,
    message: str,
) -> None:  # fmt: skip
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(BadFile, match=message):
        await import_file(storage, path, "blog", format_name)
    assert await exported(storage, "jsonl") == b'{"format":"widget-export","version":1}\n' + (
        b'{"type":"site","id":"blog","name":"The blog","origins":["https://blog.example"],'
        b'"settings":{"order":"newest"}}\n'
    )


async def test_a_truncated_gzip_imports_nothing(storage: Storage, tmp_path: Path) -> None:
    packed = gzip.compress(DISQUS.read_bytes())
    path = tmp_path / "disqus.xml.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(BadFile, match=r"could not be read to its end|cannot be read"):
        await import_file(storage, path, "blog")
    whole = tmp_path / "whole.xml.gz"
    whole.write_bytes(packed)
    assert (await import_file(storage, whole, "blog")).imported == 8


# -- the commands ---------------------------------------------------------------------------------


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in {"DATA_DIR": str(tmp_path / "data"), "DEMO": "false",
                        "PUBLIC_URL": "http://comments.localhost:8000"}.items():  # fmt: skip
        monkeypatch.setenv(f"WIDGET_{name}", value)
    assert cli.main(["site", "add", "blog", "--origin", ORIGIN]) == 0
    return tmp_path


def test_the_import_command_reports_and_the_export_command_writes(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert cli.main(["import", str(DISQUS), "--site", "blog", "--dry-run"]) == 0
    dry = capsys.readouterr()
    assert "Would import 8 comments" in dry.out and "Dry run: nothing was written." in dry.out
    assert cli.main(["import", str(DISQUS), "--site", "blog"]) == 0
    out = capsys.readouterr()
    assert "Imported 8 comments and 0 likes into blog (disqus); 2 threads created." in out.out
    assert "Skipped 5: 1 duplicate, 1 orphan, 1 unparsable, 1 spam, 1 deleted" in out.out
    assert "  disqus:3002: unparsable (createdAt 'yesterday')" in out.out
    assert "Attached at top level, their parent missing: 1\n  disqus:2003" in out.out
    assert "writing [##############################] 8/8\n" in out.err  # the progress bar
    # stderr is no terminal here (a cron job's, a log file): plain lines, no redrawing. The
    # bar's carriage returns and escape codes went into such files as they were.
    assert "\r" not in out.err and "\x1b" not in out.err

    target = configured / "thread.xml"
    assert cli.main(["export", "--site", "blog", "--format", "wxr", "--thread",
                     f"{ORIGIN}/second/", "-o", str(target)]) == 0  # fmt: skip
    comments = comments_of(list(wxr.read(target, "blog")))
    assert sorted(c.body_source for c in comments.values()) == [
        "An answer", "Answering a lost comment", "Deleted but answered",
    ]  # fmt: skip
    assert cli.main(["export", "--format", "jsonl"]) == 0  # every site, to stdout
    assert capsys.readouterr().out.count('"type":"comment"') == 8


def test_the_import_report_counts_one_of_a_kind_in_the_singular() -> None:
    one = ImportReport("disqus", dry_run=False, imported=1, likes=1, threads_created=1)
    assert report_lines(one, "blog")[0] == (
        "Imported 1 comment and 1 like into blog (disqus); 1 thread created."
    )
    many = ImportReport("wxr", dry_run=True, imported=1_200, likes=0, threads_created=2)
    assert report_lines(many, "blog")[0] == (
        "Would import 1,200 comments and 0 likes into blog (wxr); 2 threads created."
    )


def test_the_import_command_refuses_a_broken_file_clearly(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = configured / "broken.xml"
    broken.write_text(DISQUS.read_text()[:2500])
    assert cli.main(["import", str(broken), "--site", "blog"]) == 1
    err = capsys.readouterr().err
    assert "not well-formed XML" in err and "Nothing was imported." in err
    assert cli.main(["import", str(DISQUS), "--site", "nope"]) == 1
    assert "widget site add" in capsys.readouterr().err
    # A missing file or a folder was "cannot be read: [Errno 2] … (a truncated download?)".
    assert cli.main(["import", str(configured / "disqus.xml"), "--site", "blog"]) == 1
    said = capsys.readouterr().err
    assert f"widget: There is no file {configured / 'disqus.xml'}. Nothing was imported." in said
    assert cli.main(["import", str(configured), "--site", "blog"]) == 1
    assert (
        f"widget: {configured} is a folder: give the export file in it." in capsys.readouterr().err
    )


def test_the_export_command_refuses_what_it_cannot_export_and_leaves_no_file(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found exporting by hand: a mistyped --thread exported the site's header and nothing
    else, with status 0 (the admin's export API answers 404); an -o in a folder that does not
    exist ended in a FileNotFoundError traceback; an unknown --site left an empty -o file."""
    target = configured / "out.jsonl"
    for args, said in [
        (["--site", "blog", "--thread", f"{ORIGIN}/no-such-post/"],
         "widget: The site blog has no thread for /no-such-post/."),
        (["--site", "nope"], "widget: There is no site called 'nope'"),
    ]:  # fmt: skip
        capsys.readouterr()
        assert cli.main(["export", *args, "-o", str(target)]) == 1
        assert said in capsys.readouterr().err
        assert not target.exists()
    nowhere = configured / "no-such-folder" / "out.jsonl"
    assert cli.main(["export", "--site", "blog", "-o", str(nowhere)]) == 1
    assert (
        f"widget: The folder {nowhere.parent} does not exist: create it first. Nothing was written."
    ) in capsys.readouterr().err


# -- Isso, Remark42 and Commento, end to end (their readers are tested on their own in
# test_import_formats_extra.py) -------------------------------------------------------------------


async def test_isso_remark42_and_commento_files_are_found_and_imported(
    storage: Storage, tmp_path: Path, isso_db: Path
) -> None:
    files = {
        "isso": isso_db,
        "remark42": tmp_path / "backup-remark-20240101.gz",
        "commento": FIXTURES / "commento.json",
    }
    files["remark42"].write_bytes(gzip.compress((FIXTURES / "remark42.jsonl").read_bytes()))
    for format_name, path in files.items():
        assert detect(path) == format_name
        report = await import_file(storage, path, "blog")
        assert report.format == format_name
        assert report.imported > 0, format_name
        again = await import_file(storage, path, "blog")
        assert again.imported == 0, format_name
    records = [json.loads(line) for line in (await exported(storage, "jsonl")).splitlines()]
    comments = [r for r in records if r.get("type") == "comment"]
    texts = {r["text"] for r in comments}
    assert "Level 5" in texts and "First! Grüße 👋 — **日本語**" in texts
    tags = [tag for r in comments for tag in re.findall(r"<[a-z][^>]*>", r["html"])]
    assert tags and not [t for t in tags if re.search(r"script|onclick|javascript:", t)]
    links = [r["website"] + r["avatar"] for r in comments]
    assert not [link for link in links if "javascript:" in link]
