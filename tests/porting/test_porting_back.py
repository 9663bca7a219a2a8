"""Archives that go back where they came from (issue 12, items 4 and 5).

WordPress: a WXR export of threads imported from a blog goes back into that blog. The test
replays the rules of WordPress's importer (wordpress-importer, WP_Import::process_posts): a post
in the file is one the blog has when post_exists(title, '', post_date) finds one and its
post_type is the file's; on such a post a comment is one the blog has when
comment_exists(comment_author, comment_date) finds one, comment_date being the blog's local
time. Everything else is inserted.

Disqus: `--format disqus` writes Disqus's "Custom XML Import Format" (WXR 1.0 with
dsq:thread_identifier, https://help.disqus.com/en/articles/1717222), each thread named as
Disqus knew it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from starlette.applications import Starlette

from tests.admins import Admin, make_admin, signed_in
from tests.helpers import BLOG, IMPORT_FIXTURES, PAGE, posted, schema_before
from widget.porting.exporter import export_chunks, writer_for
from widget.porting.importer import import_file
from widget.storage import Storage, storage_for_url

FIXTURES = IMPORT_FIXTURES
WORDPRESS_PAGES = FIXTURES / "wordpress-pages.xml"
DISQUS_BLOG = FIXTURES / "disqus-blog.xml"
TOM = "/2024/03/tom-jerry/"


def wp(name: str, version: str = "1.2") -> str:
    return f"{{http://wordpress.org/export/{version}/}}{name}"


@dataclasses.dataclass
class Post:
    """A post as WordPress's WXR parser reads it: strings exactly as the file has them."""

    post_id: str
    title: str
    post_date: str
    post_type: str
    status: str
    comments: list[dict[str, str]]


def read_as_wordpress(document: bytes, version: str = "1.2") -> list[Post]:
    posts = []
    for item in ET.fromstring(document).iter("item"):

        def text(element: ET.Element, name: str) -> str:
            return element.findtext(wp(name, version)) or ""

        comments = [
            {name: text(c, name) for name in ("comment_id", "comment_author", "comment_date",
                                               "comment_date_gmt", "comment_parent",
                                               "comment_approved")}
            for c in item.findall(wp("comment", version))
        ]  # fmt: skip
        posts.append(Post(text(item, "post_id"), item.findtext("title") or "",
                          text(item, "post_date"), text(item, "post_type"),
                          text(item, "status"), comments))  # fmt: skip
    return posts


@dataclasses.dataclass
class WordPressBlog:
    """What WordPress's importer consults: the posts table and the comments table."""

    posts: list[Post]

    def post_exists(self, title: str, date: str) -> Post | None:
        # SELECT ID FROM posts WHERE 1=1 [AND post_date = %s] [AND post_title = %s]: an empty
        # title or date drops its condition, and the first row found answers.
        for post in self.posts:
            if (not date or post.post_date == date) and (not title or post.title == title):
                return post
        return None

    def existing(self, post: Post) -> Post | None:
        """WP_Import::process_posts: the post in the blog this one is, or None (inserted)."""
        found = self.post_exists(post.title, post.post_date)
        return found if found is not None and found.post_type == post.post_type else None

    def comment_exists(self, author: str, date: str) -> bool:
        return any(
            c["comment_author"] == author and c["comment_date"] == date
            for post in self.posts
            for c in post.comments
        )


async def download(admin: Admin, format_name: str) -> bytes:
    response = await admin.get("/admin/sites/blog/export", format=format_name)
    assert response.status_code == 200, response.text
    return response.content


async def save_timezone(admin: Admin, zone: str) -> httpx.Response:
    """The site's form, sent back as it was but for the time zone."""
    page = (await admin.get("/admin/sites/blog")).text
    form = dict(re.findall(r'<input id="f-[^"]+" name="([^"]+)"[^>]*value="([^"]*)"', page))
    return await admin.post("/admin/sites/blog", **{
        **form, "name": "The blog", "origins": BLOG, "moderation": "none", "order": "oldest", "first_page": "newest",
        "sign_in": "optional", "guest_email": "required", "fetch_titles": "on", "timezone": zone,
    })  # fmt: skip


async def comment_id(storage: Storage, page_id: str, key: str) -> int:
    async for batch in storage.export(["blog"], page_id):
        for row in batch.rows:
            if batch.table == "comments" and row["import_key"] == key:
                return int(row["id"])
    raise AssertionError(f"no comment {key}")


async def test_a_wxr_export_goes_back_into_the_wordpress_it_came_from(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    storage: Storage = app.state.widget.storage
    report = await import_file(storage, WORDPRESS_PAGES, "blog")
    # Threads for the three items with comments: none for the quiet post or the attachment.
    assert (report.imported, report.threads_created) == (5, 3)
    blog = WordPressBlog(read_as_wordpress(WORDPRESS_PAGES.read_bytes()))

    # Life goes on here: a reply to an imported comment (the embed names the page's title
    # its own way), and a thread that began here.
    ann = await comment_id(storage, TOM, "wordpress:201")
    await posted(client, page=TOM, url=f"{BLOG}{TOM}", title="Tom & Jerry’s “big” day",
                 parent=ann, body="Written on widget, in winter")  # fmt: skip
    await posted(client, body="A thread born here")
    await make_admin(app, "boss@example.com")
    boss = await signed_in(client, "boss@example.com")
    exported = read_as_wordpress(await download(boss, "wxr"))

    matched = {post.post_id: blog.existing(post) for post in exported}
    originals = {p.post_id: p for p in blog.posts if p.comments}
    for post_id, original in originals.items():
        assert matched[post_id] is original, f"post {post_id} would not be found again"
    assert [p.post_type for p in exported if p.post_id in originals] == ["post", "page", "post"]
    assert {p.post_id: p.status for p in exported} == {
        "101": "publish", "2": "publish", "103": "private", "0": "draft",
    }  # fmt: skip

    # Every imported comment is one the blog has (no duplicates), with its local date exactly,
    # summer time and the night the clocks went back included; the new ones are not.
    tom = next(p for p in exported if p.post_id == "101")
    for post in exported:
        for c in post.comments:
            came_from_blog = post.post_id != "0" and int(c["comment_id"]) < 10**12
            assert blog.comment_exists(c["comment_author"], c["comment_date"]) == came_from_blog
    dates = {c["comment_author"]: c["comment_date"] for p in exported for c in p.comments}
    assert dates["Bob"] == "2024-03-31 10:15:00" and dates["Erin"] == "2024-10-27 02:10:00"
    assert dates["Dave"] == "2024-10-27 02:30:00"
    # A new reply names its parent by the parent's id in that blog, where it already is.
    new = next(c for c in tom.comments if int(c["comment_id"]) >= 10**12)
    assert new["comment_parent"] == "201"
    assert [c["comment_parent"] for c in tom.comments[:2]] == ["0", "201"]

    # New comments' local dates: with no time zone set, the offset the import saw last in the
    # thread; with the blog's zone, that zone's (winter here), and imported ones unchanged.
    gmt = datetime.strptime(new["comment_date_gmt"], "%Y-%m-%d %H:%M:%S")
    local = datetime.strptime(new["comment_date"], "%Y-%m-%d %H:%M:%S")
    assert (local - gmt).total_seconds() == 2 * 3600
    refused = await save_timezone(boss, "Berlin")
    assert refused.status_code == 422
    assert "&#39;Berlin&#39; is not a time zone name; write one such as Europe/Berlin" in (
        refused.text
    )
    assert (await save_timezone(boss, "Europe/Berlin")).status_code == 303
    again = read_as_wordpress(await download(boss, "wxr"))
    new_again = next(c for p in again for c in p.comments if c["comment_id"] == new["comment_id"])
    expected = gmt.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin"))
    assert new_again["comment_date"] == expected.strftime("%Y-%m-%d %H:%M:%S")
    assert expected.utcoffset() == timedelta(hours=1)
    for post in again:
        for c in post.comments:
            if post.post_id != "0" and int(c["comment_id"]) < 10**12:
                assert blog.comment_exists(c["comment_author"], c["comment_date"])

    # The thread born here: a draft of its page's title, dated by its first comment, which
    # WordPress inserts once, and finds again on the next import.
    born = next(p for p in again if p.post_id == "0")
    assert (born.title, born.post_type) == (PAGE["title"], "post")
    assert blog.existing(born) is None
    blog.posts.append(born)
    assert blog.existing(next(p for p in again if p.post_id == "0")) is born


DSQ = "{http://www.disqus.com/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
ITEM_FIELDS = ("title", "link", CONTENT, f"{DSQ}thread_identifier", wp("post_date_gmt", "1.0"),
               wp("comment_status", "1.0"))  # fmt: skip
COMMENT_FIELDS = ("comment_id", "comment_author", "comment_author_email", "comment_author_url",
                  "comment_author_IP", "comment_date_gmt", "comment_content",
                  "comment_approved", "comment_parent")  # fmt: skip
GMT_DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


async def test_a_disqus_export_is_what_disqus_imports_and_keeps_its_thread_identifiers(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    storage: Storage = app.state.widget.storage
    report = await import_file(storage, DISQUS_BLOG, "blog")
    assert (report.imported, report.threads_created) == (6, 3)  # not the thread without posts
    hello = "/2015/03/hello/"
    ann = await comment_id(storage, hello, "disqus:1877001001")
    await posted(client, page=hello, url=f"{BLOG}{hello}", title="Hello",
                 parent=ann, body="Still reading, years later")  # fmt: skip
    await posted(client, body="Born here, on a page named by its address")
    await posted(client, page="post-7", url=f"{BLOG}/p/7/", title="Seven",
                 body="Born here, on a page the site names itself")  # fmt: skip
    await make_admin(app, "boss@example.com")
    boss = await signed_in(client, "boss@example.com")
    document = await download(boss, "disqus")

    # The format Disqus's help page gives: its namespaces, every field present, CDATA bodies.
    assert document.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"')
    for namespace in (b'xmlns:dsq="http://www.disqus.com/"',
                      b'xmlns:wp="http://wordpress.org/export/1.0/"'):  # fmt: skip
        assert namespace in document
    assert b"<wp:comment_content><![CDATA[<p>Welcome to the new blog!" in document
    channel = ET.fromstring(document).find("channel")
    assert channel is not None
    items = channel.findall("item")
    threads: dict[str, str] = {}
    texts: dict[str, str] = {}
    for item in items:
        assert [field.tag for field in item][: len(ITEM_FIELDS)] == list(ITEM_FIELDS)
        assert GMT_DATE.match(item.findtext(wp("post_date_gmt", "1.0")) or "")
        threads[item.findtext("link") or ""] = item.findtext(f"{DSQ}thread_identifier") or ""
        seen: set[str] = {"0"}
        for c in item.findall(wp("comment", "1.0")):
            values = {name: c.findtext(wp(name, "1.0")) for name in COMMENT_FIELDS}
            assert None not in values.values(), values
            assert GMT_DATE.match(values["comment_date_gmt"] or "")
            assert values["comment_approved"] in {"0", "1"}
            assert values["comment_parent"] in seen  # a parent written before, in this item
            seen.add(values["comment_id"] or "")
            assert len(values["comment_content"] or "") >= 3
            texts[values["comment_content"] or ""] = values["comment_parent"] or ""

    # Threads from Disqus keep the identifier Disqus knew them by (empty included: the link
    # names those); threads born here have one only when the site named the page itself.
    assert threads == {
        "https://blog.example/2015/03/hello/": "528 https://blog.example/?p=528",
        "http://blog.example/2016/01/static-site/": "/2016/01/static-site/",
        "https://blog.example/about/": "",
        f"{BLOG}/hello/": "",
        f"{BLOG}/p/7/": "post-7",
    }
    hello_item = next(i for i in items if i.findtext("link") == f"{BLOG}{hello}")
    assert hello_item.findtext("title") == "Hello, “world” & friends"
    # Spam, the deleted comment and Bob's "+1" (Disqus takes no comment under 3 characters)
    # stay out; the replies below them hang from the nearest comment that is written.
    assert not any("Cheap" in t or "regret" in t or "+1" in t for t in texts)
    assert texts["<p>Whatever it was, the static site is fast.</p>"] == "0"
    assert texts["<p>Bob, you say that every time.</p>"] == str(ann)
    assert texts["<p>Still reading, years later</p>"] == str(ann)
    static = next(i for i in items if "static-site" in (i.findtext("link") or ""))
    assert static.findtext(wp("comment_status", "1.0")) == "closed"


def without_ids(document: bytes) -> bytes:
    return re.sub(rb"<wp:comment_(id|parent)>\d+<", rb"<wp:comment_\1>N<", document)


async def export_of(storage: Storage, format_name: str) -> bytes:
    chunks = export_chunks(storage, writer_for(format_name), ["blog"])
    return b"".join([chunk async for chunk in chunks])


async def test_where_threads_came_from_travels_in_json_lines_and_adds_up(
    app: Starlette, tmp_path: Path
) -> None:
    storage: Storage = app.state.widget.storage
    await import_file(storage, DISQUS_BLOG, "blog")
    await import_file(storage, WORDPRESS_PAGES, "blog")  # /about/ came from both
    records = [json.loads(line) for line in (await export_of(storage, "jsonl")).splitlines()]
    about = next(r for r in records if r.get("type") == "thread" and r["page"] == "/about/")
    assert about["origin"]["disqus"]["id"] == "5120044321"
    assert about["origin"]["wordpress"]["post_type"] == "page"

    (tmp_path / "all.jsonl").write_bytes(await export_of(storage, "jsonl"))
    elsewhere = storage_for_url(f"sqlite:///{tmp_path / 'elsewhere' / 'widget.db'}")
    await elsewhere.open()
    try:
        await elsewhere.add_site("blog", "The blog", [BLOG], {})
        assert (await import_file(elsewhere, tmp_path / "all.jsonl", "blog")).skipped == []
        for format_name in ("wxr", "disqus"):  # the same but for this database's comment ids
            assert without_ids(await export_of(elsewhere, format_name)) == without_ids(
                await export_of(storage, format_name)
            )
        # An origin that is not one is refused with the line, not stored.
        bad = tmp_path / "bad.jsonl"
        lines = (tmp_path / "all.jsonl").read_text().splitlines()
        thread = next(i for i, line in enumerate(lines) if '"type":"thread"' in line)
        for wrong, message in (
            ('"origin":{"myspace":{},', "origin: expected an object with wordpress or disqus"),
            ('"origin":{"wordpress":{"offsets_until":"soon"},', "Invalid isoformat string"),
        ):
            lines[thread] = lines[thread].replace('"origin":{', wrong, 1)
            bad.write_text("\n".join(lines) + "\n")
            report = await import_file(elsewhere, bad, "blog")
            unparsable = [s for s in report.skipped if s.reason == "unparsable"]
            assert [s.key for s in unparsable] == [f"line {thread + 1}"]  # the rest: here already
            assert message in unparsable[0].detail
            lines[thread] = lines[thread].replace(wrong, '"origin":{', 1)
    finally:
        await elsewhere.close()


# Rows as they stood before 0009: a thread with a comment, from before threads had an origin.
BEFORE_0009 = """
INSERT INTO sites (id, name, created_at) VALUES ('blog', 'Blog', {now});
INSERT INTO site_origins (site_id, origin) VALUES ('blog', 'https://blog.example');
INSERT INTO threads (site_id, page_id, url, title, comment_count, created_at)
    VALUES ('blog', '/old/', 'https://blog.example/old/', 'Old post', 1, {now});
INSERT INTO comments (thread_id, depth, status, author_name, author_email, author_url,
    body_source, body_html, created_at)
    SELECT id, 1, 'approved', 'Ann', '', '', 'From before', '<p>From before</p>', {now}
    FROM threads
"""


async def test_migration_0009_leaves_older_threads_born_here(
    tmp_path: Path, database_url: str
) -> None:
    await schema_before(database_url, 9, BEFORE_0009)
    storage = storage_for_url(database_url)
    await storage.open()  # applies 0009
    try:
        (post,) = read_as_wordpress(await export_of(storage, "wxr"))
        assert (post.title, post.post_id, post.status) == ("Old post", "0", "draft")
        assert [c["comment_author"] for c in post.comments] == ["Ann"]
        document = await export_of(storage, "disqus")
        assert b"<dsq:thread_identifier></dsq:thread_identifier>" in document
    finally:
        await storage.close()
