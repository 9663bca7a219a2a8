"""The Isso, Remark42 and Commento readers, on hand-written files: what each yields, in order,
and how each refuses a file that is broken or in another format."""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from tests.helpers import IMPORT_FIXTURES
from tests.porting.files import T0
from widget.porting.formats import commento, isso, remark42
from widget.porting.importer import import_file
from widget.porting.items import BadFile, Item, Skip
from widget.records import ImportedComment

FIXTURES = IMPORT_FIXTURES
SITE = "blog"


def keys(items: list[Item]) -> list[str]:
    """Every item's key, in order: these formats carry only comments (no threads or likes)."""
    assert all(isinstance(item, ImportedComment | Skip) for item in items)
    return [item.key for item in items if isinstance(item, ImportedComment | Skip)]


def comments(items: list[Item]) -> dict[str, ImportedComment]:
    return {item.key: item for item in items if isinstance(item, ImportedComment)}


def skips(items: list[Item]) -> list[Skip]:
    return [item for item in items if isinstance(item, Skip)]


def assert_sanitised(body_html: str) -> None:
    """No script element and no event handler on any tag (as escaped text they are harmless)."""
    assert "<script" not in body_html.lower()
    assert not re.search(r"<[^>]*\bon\w+\s*=", body_html, re.IGNORECASE)


def gzipped(source: Path, target: Path) -> Path:
    target.write_bytes(gzip.compress(source.read_bytes()))
    return target


# -- Isso -----------------------------------------------------------------------------------------


def test_isso_reads_comments_in_id_order(isso_db: Path) -> None:
    items = list(isso.read(isso_db, SITE))
    assert keys(items) == [
        "isso:1", "isso:2", "isso:3", "isso:4", "isso:5", "isso:6", "isso:7", "isso:8",
        "isso:10", "isso:11", "isso:12", "isso:13", "isso:14",
    ]  # fmt: skip
    found = comments(items)
    assert {key: c.parent_key for key, c in found.items()} == {
        "isso:1": "isso:3", "isso:2": None, "isso:3": None, "isso:4": "isso:3",
        "isso:5": "isso:999", "isso:10": None, "isso:11": "isso:10", "isso:12": "isso:11",
        "isso:13": "isso:12", "isso:14": "isso:13",
    }  # fmt: skip
    assert {key: c.status for key, c in found.items() if c.status != "approved"} == {
        "isso:3": "pending",
        "isso:4": "deleted",
    }


def test_isso_pages_come_from_thread_uris(isso_db: Path) -> None:
    found = comments(list(isso.read(isso_db, SITE)))
    hello = found["isso:2"].page
    assert (hello.site_id, hello.page_id, hello.url, hello.title) == (
        SITE, "/blog/hello/", "", "Hello & welcome",
    )  # fmt: skip
    assert found["isso:14"].page.page_id == "/blog/deep/"
    assert found["isso:14"].page.title == ""


def test_isso_fields(isso_db: Path) -> None:
    found = comments(list(isso.read(isso_db, SITE)))
    first = found["isso:2"]
    assert first.author_name == "Zoë 🦊 Ångström"
    assert first.author_email == ""
    assert first.author_url == ""  # a javascript: link is dropped, host part or not
    assert first.body_source == "First! Grüße 👋 — **日本語**"
    assert first.body_html == "<p>First! Grüße 👋 — <strong>日本語</strong></p>"
    assert first.created_at == datetime(2020, 1, 2, 3, 5, 5, 500000, tzinfo=UTC)
    assert first.created_at.utcoffset() == timedelta(0)
    assert first.edited_at == datetime(2020, 1, 2, 4, 4, 5, 500000, tzinfo=UTC)
    assert first.like_count == 5
    assert first.remote_ip == "10.0.0.0"
    reply = found["isso:1"]
    assert (reply.author_name, reply.author_email, reply.author_url) == (
        "Grace", "grace@example.com", "https://grace.example.com/",
    )  # fmt: skip
    assert reply.edited_at is None
    assert reply.remote_ip == "192.168.1.0"


def test_isso_anonymous_deleted_and_sanitised(isso_db: Path) -> None:
    found = comments(list(isso.read(isso_db, SITE)))
    anonymous = found["isso:3"]
    assert (anonymous.author_name, anonymous.author_email) == ("Anonymous", "")
    assert_sanitised(anonymous.body_html)
    # Inline HTML is markup, as Isso took it; the allowlist strips what it does not keep (the
    # script with its content, <b> as Isso's own allowlist does), and no handler survives.
    assert anonymous.body_html == "<p>Raw  and bold</p>"
    deleted = found["isso:4"]
    assert (deleted.status, deleted.author_name) == ("deleted", "Anonymous")
    assert deleted.body_source == deleted.body_html == ""


# What Isso's own migrations write into `text` (isso/migrate.py): a Disqus <message> as it is,
# HTML paragraphs and Disqus's links; a WordPress comment_content as it is, text with newlines
# and inline tags. And what people type into Isso: Markdown with a tag here and there.
MIGRATED: list[tuple[object, ...]] = [
    (3, 20, None, T0 + 700, None, 1, "203.0.113.0",
     '<p>Great post, thanks!</p><p>More at <a href="https://example.org/more" '
     'rel="nofollow noopener" target="_blank" title="https://example.org/more">'
     "https://example.org/more</a></p>", "From Disqus", "", "", 0),
    (3, 21, 20, T0 + 701, None, 1, "203.0.113.0",
     "Agreed.\nA second line, <em>stressed</em>, and <a href=\"http://wp.example/\" "
     'rel="nofollow">a link</a>.\n\nA second paragraph.', "From WordPress", "", "", 0),
    (3, 22, None, T0 + 702, None, 1, "203.0.113.0",
     "**Markdown** with <code>inline code</code><br>and a break", "Typed in Isso", "", "", 0),
    (3, 23, None, T0 + 703, None, 1, "203.0.113.0", "A < b and c > d, no tags here.", "Maths",
     "", "", 0),
]  # fmt: skip


@pytest.fixture
def migrated_isso_db(isso_db: Path) -> Path:
    with sqlite3.connect(isso_db) as db:
        db.execute("INSERT INTO threads (id, uri, title) VALUES (3, '/blog/migrated/', 'Old')")
        db.executemany(
            "INSERT INTO comments (tid, id, parent, created, modified, mode, remote_addr, text,"
            " author, email, website, likes, voters) VALUES (?,?,?,?,?,?,?,?,?,?,?,?, x'00')",
            MIGRATED,
        )
    db.close()
    return isso_db


def test_isso_text_is_markdown_whose_inline_html_shows_as_it_did_in_isso(
    migrated_isso_db: Path,
) -> None:
    found = comments(list(isso.read(migrated_isso_db, SITE)))
    disqus = found["isso:20"].body_html
    assert disqus.startswith("<p>Great post, thanks!</p>")
    assert '<a href="https://example.org/more"' in disqus and "&lt;" not in disqus
    assert "target" not in disqus  # the allowlist's attributes only
    wordpress = found["isso:21"].body_html
    assert wordpress.count("<p>") == 2 and "<em>stressed</em>" in wordpress
    assert '<a href="http://wp.example/" rel="nofollow ugc noopener">a link</a>' in wordpress
    typed = found["isso:22"].body_html
    assert typed == "<p><strong>Markdown</strong> with <code>inline code</code><br>and a break</p>"
    assert found["isso:23"].body_html == "<p>A &lt; b and c &gt; d, no tags here.</p>"
    assert found["isso:23"].body_source == "A < b and c > d, no tags here."
    # With tags, the editable source is the text readers see: edited later as this server's
    # Markdown (HTML off), it must not show tags.
    assert found["isso:20"].body_source == "Great post, thanks!\n\nMore at https://example.org/more"
    for comment in found.values():
        assert_sanitised(comment.body_html)


async def test_an_imported_isso_thread_shows_readers_no_literal_tags(
    migrated_isso_db: Path, app: Starlette, client: httpx.AsyncClient
) -> None:
    report = await import_file(app.state.widget.storage, migrated_isso_db, "blog")
    assert report.imported >= 4
    page = await client.get(
        "/embed/blog/thread/fragment", params={"page": "/blog/migrated/", "title": "Old"}
    )
    assert page.status_code == 200
    assert "Great post, thanks!" in page.text and "<em>stressed</em>" in page.text
    assert "&lt;p&gt;" not in page.text and "&lt;em&gt;" not in page.text
    assert "&lt;a href" not in page.text


def test_isso_skips_what_it_cannot_use(isso_db: Path) -> None:
    skipped = {s.key: s for s in skips(list(isso.read(isso_db, SITE)))}
    assert set(skipped) == {"isso:6", "isso:7", "isso:8"}
    assert all(s.reason == "unparsable" for s in skipped.values())
    assert "mode 3" in skipped["isso:6"].detail
    assert "tid 7" in skipped["isso:7"].detail
    assert "'yesterday'" in skipped["isso:8"].detail


def test_isso_refuses_a_file_that_is_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "comments.db"
    path.write_text("this is plain text, not a database\n" * 100)
    with pytest.raises(BadFile, match="not an Isso database: it is not an SQLite file"):
        list(isso.read(path, SITE))
    with pytest.raises(BadFile, match="not an SQLite file"):
        list(isso.read(FIXTURES / "commento.json", SITE))


def test_isso_refuses_a_database_without_its_tables(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE threads (id INTEGER PRIMARY KEY, uri TEXT, title TEXT)")
    db.close()
    with pytest.raises(BadFile, match="no 'comments' table"):
        list(isso.read(path, SITE))


def test_isso_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadFile, match="no file"):
        list(isso.read(tmp_path / "nowhere.db", SITE))


def test_isso_opens_the_database_read_only(isso_db: Path) -> None:
    before = isso_db.read_bytes()
    list(isso.read(isso_db, SITE))
    assert isso_db.read_bytes() == before
    assert not isso_db.with_name("comments.db-journal").exists()


# -- Remark42 -------------------------------------------------------------------------------------

REMARK42 = FIXTURES / "remark42.jsonl"


@pytest.fixture(params=["plain", "gzip"])
def remark42_backup(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The backup as Remark42 writes it (gzipped), and unpacked."""
    return REMARK42 if request.param == "plain" else gzipped(REMARK42, tmp_path / "backup.gz")


def test_remark42_reads_lines_in_order(remark42_backup: Path) -> None:
    items = list(remark42.read(remark42_backup, SITE))
    assert keys(items) == [
        "remark42:b2a7c1e0-0002", "remark42:b2a7c1e0-0001", "remark42:b2a7c1e0-0003",
        "remark42:b2a7c1e0-0004", "remark42:b2a7c1e0-0005", "remark42:line 7",
        "remark42:line 8", "remark42:d-1", "remark42:d-2", "remark42:d-3", "remark42:d-4",
        "remark42:d-5",
    ]  # fmt: skip
    found = comments(items)
    assert {key: c.parent_key for key, c in found.items()} == {
        "remark42:b2a7c1e0-0002": "remark42:b2a7c1e0-0001",
        "remark42:b2a7c1e0-0001": None,
        "remark42:b2a7c1e0-0003": None,
        "remark42:b2a7c1e0-0004": "remark42:b2a7c1e0-0001",
        "remark42:b2a7c1e0-0005": "remark42:c0ffee00-gone",
        "remark42:d-1": None,
        "remark42:d-2": "remark42:d-1",
        "remark42:d-3": "remark42:d-2",
        "remark42:d-4": "remark42:d-3",
        "remark42:d-5": "remark42:d-4",
    }
    assert {key for key, c in found.items() if c.status != "approved"} == {"remark42:b2a7c1e0-0004"}
    assert found["remark42:b2a7c1e0-0004"].status == "deleted"


def test_remark42_malformed_lines_are_skipped(remark42_backup: Path) -> None:
    skipped = skips(list(remark42.read(remark42_backup, SITE)))
    assert [(s.key, s.reason) for s in skipped] == [
        ("remark42:line 7", "unparsable"),
        ("remark42:line 8", "unparsable"),
    ]
    assert skipped[0].detail.startswith("line 7: not valid JSON")
    assert skipped[1].detail == "line 8: 'locator' is missing"


def test_remark42_pages_times_and_authors(remark42_backup: Path) -> None:
    found = comments(list(remark42.read(remark42_backup, SITE)))
    first = found["remark42:b2a7c1e0-0001"]
    assert first.page.page_id == "/posts/hello/"
    assert first.page.url == "https://blog.example.com/posts/hello/"
    assert first.page.title == "Hello, world"
    assert found["remark42:d-5"].page.title == "Deep & nested"
    # 18:02:36 at +02:00 is 16:02:36 UTC.
    assert first.created_at == datetime(2019, 6, 4, 16, 2, 36, 81436, tzinfo=UTC)
    assert first.created_at.utcoffset() is not None
    assert first.edited_at == datetime(2019, 6, 5, 6, 0, tzinfo=UTC)
    assert found["remark42:b2a7c1e0-0005"].created_at == datetime(2019, 6, 5, 17, 0, tzinfo=UTC)
    assert first.author_name == "O'Brien & Sons"  # Remark42 stores names HTML-escaped
    assert first.author_provider == "github"
    assert first.author_avatar == ""  # http:// is not loaded by readers' browsers
    assert (first.like_count, first.pinned, first.remote_ip) == (3, True, "")
    reply = found["remark42:b2a7c1e0-0002"]
    assert reply.author_name == "Zoë 🦊 Ångström"
    assert reply.author_provider == "google"
    assert reply.author_avatar == "https://avatars.example.com/zoe.png"
    assert (reply.like_count, reply.pinned, reply.edited_at) == (0, False, None)
    assert found["remark42:b2a7c1e0-0005"].author_provider == "email"
    assert found["remark42:d-2"].author_provider == "twitter"
    assert all(c.author_email == "" and c.author_url == "" for c in found.values())


def test_remark42_anonymous_and_deleted(remark42_backup: Path) -> None:
    found = comments(list(remark42.read(remark42_backup, SITE)))
    anonymous = found["remark42:b2a7c1e0-0003"]
    assert (anonymous.author_name, anonymous.author_provider) == ("Anonymous", "")
    deleted = found["remark42:b2a7c1e0-0004"]
    assert (deleted.body_source, deleted.body_html, deleted.author_provider) == ("", "", "")


def test_remark42_bodies(remark42_backup: Path) -> None:
    found = comments(list(remark42.read(remark42_backup, SITE)))
    first = found["remark42:b2a7c1e0-0001"]
    assert first.body_source == "First! Grüße 👋 — 日本語"  # from "orig", the Markdown
    assert first.body_html == "<p>First! Grüße 👋 — 日本語</p>"
    quoted = found["remark42:b2a7c1e0-0005"]
    assert quoted.body_source == "> quoting the lost parent\n\nI'm *sure* 1 < 2"
    assert quoted.body_html.startswith("<blockquote>")
    assert "<em>sure</em> 1 &lt; 2" in quoted.body_html
    raw = found["remark42:b2a7c1e0-0003"]  # no "orig": the HTML, cleaned
    assert_sanitised(raw.body_html)
    assert "onclick" not in raw.body_html
    assert "javascript:" not in raw.body_html
    assert "alert" not in raw.body_html
    assert raw.body_source == "Raw HTML only link"


def test_remark42_refuses_a_truncated_gzip(tmp_path: Path) -> None:
    whole = gzip.compress(REMARK42.read_bytes())
    path = tmp_path / "backup.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BadFile, match="truncated"):
        list(remark42.read(path, SITE))


def test_remark42_refuses_other_formats(tmp_path: Path, isso_db: Path) -> None:
    with pytest.raises(BadFile, match="not a Remark42 backup: line 1 is not JSON"):
        list(remark42.read(FIXTURES / "commento.json", SITE))  # pretty-printed: "{" alone
    one_line = tmp_path / "commento-export.json"
    one_line.write_text(json.dumps(json.loads((FIXTURES / "commento.json").read_text())))
    with pytest.raises(BadFile, match="not a Remark42 backup"):
        list(remark42.read(one_line, SITE))
    with pytest.raises(BadFile, match="not a Remark42 backup"):
        list(remark42.read(isso_db, SITE))
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(BadFile, match="empty"):
        list(remark42.read(empty, SITE))


def test_remark42_refuses_another_version(tmp_path: Path) -> None:
    path = tmp_path / "backup.jsonl"
    path.write_text('{"version": 2, "users": [], "posts": []}\n')
    with pytest.raises(BadFile, match="version 2"):
        list(remark42.read(path, SITE))


# -- Commento -------------------------------------------------------------------------------------

COMMENTO = FIXTURES / "commento.json"


@pytest.fixture(params=["plain", "gzip"])
def commento_export(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    """The export as Commento hands it out (gzipped), and unpacked."""
    return COMMENTO if request.param == "plain" else gzipped(COMMENTO, tmp_path / "export.gz")


def test_commento_reads_comments_in_order(commento_export: Path) -> None:
    items = list(commento.read(commento_export, SITE))
    assert keys(items) == [
        "commento:a2", "commento:a1", "commento:a3", "commento:a4", "commento:a5",
        "commento:a6", "commento:a7", "commento:bad1", "commento:bad2", "commento:d1",
        "commento:d2", "commento:d3", "commento:d4", "commento:d5",
    ]  # fmt: skip
    found = comments(items)
    assert {key: c.parent_key for key, c in found.items()} == {
        "commento:a2": "commento:a1", "commento:a1": None, "commento:a3": None,
        "commento:a4": None, "commento:a5": "commento:a1", "commento:a6": "commento:f00dgone",
        "commento:a7": None, "commento:d1": None, "commento:d2": "commento:d1",
        "commento:d3": "commento:d2", "commento:d4": "commento:d3", "commento:d5": "commento:d4",
    }  # fmt: skip
    assert {key: c.status for key, c in found.items() if c.status != "approved"} == {
        "commento:a3": "pending",
        "commento:a4": "spam",
        "commento:a5": "deleted",
    }


def test_commento_skips_malformed_comments(commento_export: Path) -> None:
    skipped = skips(list(commento.read(commento_export, SITE)))
    assert [(s.key, s.reason, s.detail) for s in skipped] == [
        ("commento:bad1", "unparsable", "comments[7]: 'creationDate' is missing"),
        ("commento:bad2", "unparsable",
         "comments[8]: state 'sideways': Commento uses approved, unapproved or flagged"),
    ]  # fmt: skip


def test_commento_pages_and_times(commento_export: Path) -> None:
    found = comments(list(commento.read(commento_export, SITE)))
    page = found["commento:a1"].page
    assert (page.site_id, page.page_id, page.url) == (
        SITE, "/posts/hello/", "https://blog.example.com/posts/hello/",
    )  # fmt: skip
    assert found["commento:d5"].page.page_id == "/posts/deep/"  # "path" read as well as "url"
    first = found["commento:a1"]
    assert first.created_at == datetime(2020, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)
    assert first.created_at.utcoffset() == timedelta(0)
    assert first.edited_at is None


def test_commento_authors(commento_export: Path) -> None:
    found = comments(list(commento.read(commento_export, SITE)))
    local = found["commento:a1"]
    assert (local.author_name, local.author_email, local.author_url, local.author_avatar) == (
        "Ada", "ada@example.com", "", "",
    )  # fmt: skip
    assert local.author_provider == ""  # Commento's own accounts
    assert local.like_count == 4
    github = found["commento:a2"]
    assert (github.author_name, github.author_provider) == ("Grace", "github")
    assert github.author_url == "https://grace.example.com/"
    assert github.author_avatar == "https://avatars.example.com/grace.png"
    assert github.like_count == 0  # a negative score is no likes
    google = found["commento:a4"]
    assert (google.author_name, google.author_email, google.author_provider) == (
        "Zoë 🦊 Ångström", "", "google",
    )  # fmt: skip
    assert (google.author_url, google.author_avatar) == ("", "")  # javascript:, http://
    assert found["commento:a6"].author_provider == "sso:example.com"
    for key in ("commento:a3", "commento:a5", "commento:a7"):  # anonymous, deleted, unknown
        assert (found[key].author_name, found[key].author_email) == ("Anonymous", "")
        assert found[key].author_provider == ""


def test_commento_bodies(commento_export: Path) -> None:
    found = comments(list(commento.read(commento_export, SITE)))
    assert found["commento:a1"].body_source == "First! Grüße 👋 — 日本語"
    assert found["commento:a1"].body_html == "<p>First! Grüße 👋 — 日本語</p>"
    raw = found["commento:a3"]
    assert raw.body_source.startswith("Anonymous <script>")  # the source as typed
    assert_sanitised(raw.body_html)
    assert "&lt;script&gt;" in raw.body_html
    assert all(not c.remote_ip for c in found.values())


def test_commento_refuses_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text('{"version": 1, "comments": [{"commentHex": ')
    with pytest.raises(BadFile, match="not a Commento export: it is not valid JSON"):
        list(commento.read(path, SITE))


def test_commento_refuses_other_formats(tmp_path: Path, isso_db: Path) -> None:
    with pytest.raises(BadFile, match="not valid JSON"):
        list(commento.read(REMARK42, SITE))  # JSON Lines: more than one document
    with pytest.raises(BadFile, match="not valid JSON"):
        list(commento.read(isso_db, SITE))
    meta = tmp_path / "meta.json"
    meta.write_text('{"version": 1, "users": [], "posts": []}')
    with pytest.raises(BadFile, match='no "comments" list'):
        list(commento.read(meta, SITE))
    other = tmp_path / "list.json"
    other.write_text("[1, 2, 3]")
    with pytest.raises(BadFile, match='no "comments" list'):
        list(commento.read(other, SITE))


def test_commento_refuses_a_truncated_gzip(tmp_path: Path) -> None:
    whole = gzip.compress(COMMENTO.read_bytes())
    path = tmp_path / "export.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(BadFile, match="truncated"):
        list(commento.read(path, SITE))


def test_commento_refuses_another_version(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_text('{"version": 2, "comments": [], "commenters": []}')
    with pytest.raises(BadFile, match="version 2"):
        list(commento.read(path, SITE))


def test_json_nested_too_deep_is_refused_not_raised(tmp_path: Path) -> None:
    """json raises RecursionError, not ValueError, for [[[[…; it must not escape a reader."""
    deep = "[" * 200_000 + "]" * 200_000
    backup = tmp_path / "backup.jsonl"
    backup.write_text(REMARK42.read_text().splitlines()[0] + "\n" + deep + "\n")
    [skipped] = list(remark42.read(backup, SITE))
    assert isinstance(skipped, Skip)
    assert (skipped.key, skipped.reason) == ("remark42:line 2", "unparsable")
    export = tmp_path / "export.json"
    export.write_text(deep)
    with pytest.raises(BadFile, match="not valid JSON"):
        list(commento.read(export, SITE))


def test_a_byte_order_mark_is_passed_over(tmp_path: Path) -> None:
    backup = tmp_path / "backup.jsonl"
    backup.write_bytes(b"\xef\xbb\xbf" + REMARK42.read_bytes())
    assert len(comments(list(remark42.read(backup, SITE)))) == 10
    export = tmp_path / "export.json"
    export.write_bytes(b"\xef\xbb\xbf" + COMMENTO.read_bytes())
    assert len(comments(list(commento.read(export, SITE)))) == 12
