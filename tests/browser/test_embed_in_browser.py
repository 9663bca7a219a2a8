"""The comment section as a visitor meets it: in Chromium, in a cross-site iframe."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.conftest import ARTIFACTS, api_post, blog_post
from tests.servers import HostPages, WidgetServer, host_pages, widget_cli, widget_server

FRAME = "#comments iframe"


def fill_details(frame, body: str, name: str = "Ann", email: str = "ann@example.com") -> None:  # type: ignore[no-untyped-def]
    frame.locator("#wg-body").fill(body)
    frame.locator("#wg-name").fill(name)
    frame.locator("#wg-email").fill(email)


def iframe_height(page: Page) -> float:
    box = page.locator(FRAME).bounding_box()
    assert box is not None
    return float(box["height"])


def test_a_guest_posts_a_comment_and_a_reply(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    url = blog_post(blog, widget, "/first-post/", "First post")
    page.goto(url)
    frame = page.frame_locator(FRAME)
    expect(frame.locator("#comments-title")).to_have_text("No Responses to “First post”")
    expect(page.locator("[data-comment-count]")).to_have_text("No Responses")
    start_height = iframe_height(page)

    fill_details(frame, "Hello from **Chromium**")
    frame.locator("#wg-submit").click()
    first = frame.locator(".wg-comments > .wg-comment").first
    expect(first.locator(".wg-text")).to_have_text("Hello from Chromium")
    expect(first.locator(".wg-text strong")).to_have_text("Chromium")
    expect(frame.locator("#comments-title")).to_have_text("One Response to “First post”")
    assert page.url == url  # shown in place, no reload of the host page

    first.locator(".wg-reply").click()
    # The form moves under the comment, with a way back.
    expect(first.locator("#respond")).to_be_visible()
    expect(frame.locator("#cancel-reply")).to_be_visible()
    frame.locator("#wg-body").fill("And a reply")
    frame.locator("#wg-submit").click()
    reply = first.locator(".wg-children .wg-comment")
    expect(reply.locator(".wg-text")).to_have_text("And a reply")
    expect(frame.locator("#comments-title")).to_have_text("2 Responses to “First post”")
    expect(frame.locator("#cancel-reply")).to_be_hidden()

    # The frame grew with its content, through the height messages embed.js accepts.
    page.wait_for_function(
        f"document.querySelector('{FRAME}').getBoundingClientRect().height > {start_height + 100}"
    )
    inner = frame.locator("html").evaluate("e => e.getBoundingClientRect().height")
    assert abs(iframe_height(page) - inner) <= 2

    page.reload()
    expect(page.locator("[data-comment-count]")).to_have_text("2 Responses")
    expect(page.frame_locator(FRAME).locator(".wg-children .wg-text")).to_have_text("And a reply")


def test_errors_show_beside_their_field_and_keep_the_text(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    page.goto(blog_post(blog, widget, "/errors/", "Errors"))
    frame = page.frame_locator(FRAME)
    frame.locator("#wg-body").fill("Something worth keeping")
    frame.locator("#wg-email").fill("not an address")
    frame.locator("#wg-website").fill("javascript:alert(1)")
    frame.locator("#wg-submit").click()
    expect(frame.locator("#wg-name-error")).to_have_text("Enter your name.")
    expect(frame.locator("#wg-email-error")).to_have_text(
        "Enter an email address such as name@example.com."
    )
    expect(frame.locator("#wg-website-error")).to_contain_text("http:// or https://")
    expect(frame.locator("#wg-body")).to_have_value("Something worth keeping")
    expect(frame.locator("#wg-body-error")).to_be_hidden()
    expect(frame.locator(".wg-comment")).to_have_count(0)


def test_a_like_toggles(page: Page, blog: HostPages, widget: WidgetServer) -> None:
    url = blog_post(blog, widget, "/liked/", "Liked")
    comment_id = api_post(widget, blog, "/liked/", body="Like me")["comment"]["id"]
    page.goto(url)
    frame = page.frame_locator(FRAME)
    button = frame.locator(f"#comment-{comment_id} button.wg-like")
    count = frame.locator(f"#comment-{comment_id} .wg-like-count")
    expect(button).to_have_attribute("aria-pressed", "false")
    button.dblclick()  # a double click is one like, not a like taken back
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(count).to_have_text("1 like")
    page.wait_for_timeout(300)
    expect(button).to_have_attribute("aria-pressed", "true")
    button.click()
    expect(button).to_have_attribute("aria-pressed", "false")
    expect(count).to_have_text("")
    frame.locator("button.wg-post-like").click()
    expect(frame.locator(".wg-post-like-count")).to_have_text("One person likes this.")


def test_an_index_page_gets_every_count_from_one_request_and_no_frame(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    """docs/embedding.md's index page, as a site owner writes one: `data-counts-only` on the
    script and `data-comment-count` on each post's link, by path or by full URL."""
    api_post(widget, blog, "/counted-one/", body="One here")
    for n in range(2):
        api_post(widget, blog, "/counted-two/", body=f"Number {n}")
    blog.pages["/index/"] = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Index</title></head><body><h1>Posts</h1>
<p><a href="/counted-one/">One</a> <span data-comment-count="/counted-one/">…</span></p>
<p><a href="/counted-two/">Two</a> <span data-comment-count="{blog.url}/counted-two/">…</span></p>
<p><a href="/counted-none/">None</a> <span data-comment-count="/counted-none/">…</span></p>
<script src="{widget.public_url}/embed.js" data-site="blog" data-counts-only async></script>
</body></html>"""
    counts = []
    page.on("request", lambda r: counts.append(r.url) if "/api/v1/counts" in r.url else None)
    page.goto(f"{blog.url}/index/")
    expect(page.locator("[data-comment-count]")).to_have_text(
        ["1 Response", "2 Responses", "No Responses"]
    )
    assert len(counts) == 1
    assert page.locator("iframe").count() == 0


def test_a_reader_who_only_reads_never_downloads_the_writers_tools(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    """Sign-in, passkeys, own data, editing: static/writer.js, asked for at the first touch."""
    url = blog_post(blog, widget, "/only-reading/", "Only reading")
    api_post(widget, blog, "/only-reading/", body="Something to read")
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto(url)
    frame = page.frame_locator(FRAME)
    expect(frame.locator(".wg-comment .wg-text")).to_have_text("Something to read")
    page.mouse.wheel(0, 200)  # not in the frame: scrolling the blog is no touch of ours
    page.wait_for_timeout(500)
    assert [u for u in asked if "/static/" in u] == [
        u for u in asked if re.search(r"/static/thread\.[0-9a-f]+\.js$", u)
    ], asked
    frame.locator("#wg-body").click()  # a reader about to write
    expect(frame.locator("button.wg-provider, #wg-guest-fields").first).to_be_visible()
    page.wait_for_timeout(500)
    assert len([u for u in asked if re.search(r"/static/writer\.[0-9a-f]+\.js$", u)]) == 1


def test_a_post_whose_writers_script_cannot_come_is_sent_as_without_a_script(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    """Posting is static/writer.js's, asked for at the first touch: should it fail to come
    (a network gone at the wrong moment), the form posts as it does without JavaScript."""
    held: list = []  # type: ignore[type-arg]
    page.route(re.compile(r".*/static/writer\.[0-9a-f]+\.js$"), lambda route: held.append(route))
    page.goto(blog_post(blog, widget, "/no-writer/", "No writer"))
    frame = page.frame_locator(FRAME)
    fill_details(frame, "Sent all the same")
    frame.locator("#wg-submit").click()
    page.wait_for_timeout(300)
    expect(frame.locator(".wg-comment")).to_have_count(0)  # waiting for the script
    assert len(held) == 1
    held[0].abort()
    comment = frame.locator(".wg-comment")
    expect(comment.locator(".wg-text")).to_have_text("Sent all the same")
    expect(frame.locator("#comments-title")).to_have_text("One Response to “No writer”")


def test_own_comments_can_be_edited_even_where_storage_is_refused(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    # Here third-party storage is blocked: the edit token lives in the frame's memory.
    page.goto(blog_post(blog, widget, "/edit-now/", "Edit now"))
    frame = page.frame_locator(FRAME)
    fill_details(frame, "Frist!")
    frame.locator("#wg-submit").click()
    mine = frame.locator(".wg-comment").first
    mine.locator("button.wg-edit").click()
    editor = mine.locator("textarea.wg-edit-body")
    expect(editor).to_have_value("Frist!")
    editor.fill("First, *properly*.")
    mine.locator("button.wg-save").click()
    expect(mine.locator(".wg-text em")).to_have_text("properly")


def test_where_storage_is_allowed_the_frame_remembers(
    open_context: BrowserContext, blog: HostPages, widget: WidgetServer
) -> None:
    url = blog_post(blog, widget, "/remembered/", "Remembered")
    other = api_post(widget, blog, "/remembered/", body="Someone else's")["comment"]["id"]
    page = open_context.new_page()
    page.goto(url)
    frame = page.frame_locator(FRAME)
    fill_details(frame, "Frist, remembered!", name="Carla", email="carla@example.com")
    frame.locator("#wg-website").fill("https://carla.example")
    frame.locator("#wg-save").check()
    frame.locator("#wg-submit").click()
    mine = frame.locator(".wg-comment").last
    expect(mine.locator("header cite a")).to_have_attribute("href", "https://carla.example")
    frame.locator(f"#comment-{other} button.wg-like").click()
    expect(frame.locator(f"#comment-{other} .wg-like-count")).to_have_text("1 like")

    page.reload()
    frame = page.frame_locator(FRAME)
    # The details, the like and the right to edit all came back from the frame's storage.
    expect(frame.locator("#wg-name")).to_have_value("Carla")
    expect(frame.locator("#wg-email")).to_have_value("carla@example.com")
    expect(frame.locator("#wg-save")).to_be_checked()
    expect(frame.locator(f"#comment-{other} button.wg-like")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(frame.locator(f"#comment-{other} button.wg-edit")).to_have_count(0)
    mine = frame.locator(".wg-comment").last
    mine.locator("button.wg-edit").click()
    editor = mine.locator("textarea.wg-edit-body")
    expect(editor).to_have_value("Frist, remembered!")
    editor.fill("First, *properly*.")
    mine.locator("button.wg-save").click()
    expect(mine.locator(".wg-text em")).to_have_text("properly")

    page.once("dialog", lambda dialog: dialog.accept())
    mine.locator("button.wg-delete").click()
    expect(frame.locator(".wg-comment")).to_have_count(1)
    expect(frame.locator("#comments-title")).to_have_text("One Response to “Remembered”")


def test_where_storage_is_refused_the_blogs_page_keeps_the_tokens_and_nothing_personal(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    # Here the frame's own storage is refused (as in Chrome's private windows): embed.js keeps
    # its comments' tokens and its voter id in the blog's storage, for its frame alone.
    widget_cli(widget.data_dir, "site", "add", "kept", "--origin", blog.origin,
               "--set", "moderation=all", "--set", "min_seconds_to_post=0")  # fmt: skip
    held_url = blog_post(blog, widget, "/kept/", "Kept", site="kept")
    # An advertiser's frame on the same page asks the page for what it keeps.
    evil = blog.url.replace("blog.localhost", "evil.localhost")
    blog.pages["/an-ad/"] = """<!doctype html><title>ad</title><script>
addEventListener('message', function (e) { document.title += JSON.stringify(e.data); });
setInterval(function () { parent.postMessage({widget: 'kept?'}, '*'); }, 100);
</script>"""
    liked_url = blog_post(
        blog, widget, "/liked-kept/", "Liked, kept", extra=f'<iframe src="{evil}/an-ad/"></iframe>'
    )
    other = api_post(widget, blog, "/liked-kept/", body="Worth a like")["comment"]["id"]

    page.goto(held_url)
    frame = page.frame_locator(FRAME)
    fill_details(frame, "Held, and mine", name="Dora", email="dora@example.com")
    frame.locator("#wg-submit").click()
    expect(frame.locator(".wg-comment .wg-held")).to_be_visible()
    page.reload()
    frame = page.frame_locator(FRAME)
    # Its author still sees it, held as it is.
    mine = frame.locator(".wg-comment")
    expect(mine.locator(".wg-text")).to_have_text("Held, and mine")
    expect(mine.locator(".wg-held")).to_be_visible()
    expect(frame.locator("#wg-name")).to_have_value("")  # the details stayed in memory

    page.goto(liked_url)
    frame = page.frame_locator(FRAME)
    frame.locator(f"#comment-{other} button.wg-like").click()
    expect(frame.locator(f"#comment-{other} .wg-like-count")).to_have_text("1 like")
    page.reload()
    frame = page.frame_locator(FRAME)
    expect(frame.locator(f"#comment-{other} button.wg-like")).to_have_attribute(
        "aria-pressed", "true"
    )
    kept = page.evaluate("Object.fromEntries(Object.entries(localStorage))")
    assert sorted(kept) == [f"widget@{widget.public_url} widget:edit:kept",
                            f"widget@{widget.public_url} widget:voter"]  # fmt: skip
    assert "dora" not in str(kept).lower()
    (ad,) = [frame for frame in page.frames if frame.url == f"{evil}/an-ad/"]
    assert ad.title() == "ad"  # its question, asked ten times a second, went unanswered


def test_posting_works_with_javascript_off(
    browser: Browser, blog: HostPages, widget: WidgetServer
) -> None:
    params = urlencode(
        {"page": "/no-script/", "url": f"{blog.url}/no-script/", "title": "No script"}
    )
    # With scripts off, embed.js cannot run: a <noscript> iframe is how such pages embed.
    blog.pages["/no-script/"] = f"""<!doctype html><html><head><title>No script</title></head>
<body><noscript><iframe src="{widget.public_url}/embed/blog/thread?{params}"
style="width:100%;height:1800px;border:0"></iframe></noscript></body></html>"""
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{blog.url}/no-script/")
        frame = page.frame_locator("iframe")
        frame.locator("#wg-body").fill("Posted without a script")
        frame.locator("#wg-name").fill("Dora")
        frame.locator("#wg-submit").click()  # email missing: the form comes back
        expect(frame.locator("#wg-email-error")).to_have_text(
            "Enter your email address (it is never shown)."
        )
        expect(frame.locator("#wg-body")).to_have_value("Posted without a script")
        frame.locator("#wg-email").fill("dora@example.com")
        frame.locator("#wg-submit").click()
        expect(frame.locator(".wg-comment .wg-text")).to_have_text("Posted without a script")
        expect(frame.locator("#comments-title")).to_have_text("One Response to “No script”")

        frame.locator(".wg-reply").click()  # a link: the form comes back under "Reply to"
        expect(frame.locator("#reply-title-text")).to_have_text("Leave a Reply to Dora")
        frame.locator("#wg-body").fill("A reply without a script")
        frame.locator("#wg-name").fill("Eve")
        frame.locator("#wg-email").fill("eve@example.com")
        frame.locator("#wg-submit").click()
        expect(frame.locator(".wg-children .wg-text")).to_have_text("A reply without a script")
    finally:
        context.close()


def test_a_screenshot_of_the_demo_post(browser: Browser, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    data_dir = tmp_path_factory.mktemp("demo") / "data"
    with widget_server(data_dir, demo="true") as server:
        demo_url = f"http://blog.localhost:{server.port}/"
        context = browser.new_context(viewport={"width": 1000, "height": 1800})
        try:
            page = context.new_page()
            page.goto(demo_url)
            frame = page.frame_locator(FRAME)
            # The demo site keeps the default: a form posted within 3 s of opening is refused.
            fill_details(frame, "Too quick", name="Bot", email="bot@example.com")
            frame.locator("#wg-submit").click()
            expect(frame.locator("#wg-form-error")).to_contain_text("That was quick!")
            page.wait_for_timeout(3000)
            for name, body in [
                ("Grace", "The comments live on another site, and it *just works*."),
                ("Linus", "Tried it with JavaScript off as well: still fine."),
            ]:
                fill_details(frame, body, name=name, email=f"{name.lower()}@example.com")
                frame.locator("#wg-submit").click()
                expect(
                    frame.locator(".wg-text", has_text=body.split(",")[0].split(":")[0])
                ).to_be_visible()
            frame.locator(".wg-reply").first.click()
            fill_details(frame, "Agreed. And the avatars are drawn locally.", name="Ada",
                         email="ada@example.com")  # fmt: skip
            frame.locator("#wg-submit").click()
            expect(frame.locator(".wg-children .wg-comment")).to_have_count(1)
            page.reload()
            expect(page.locator("[data-comment-count]")).to_have_text("3 Responses")
            frame = page.frame_locator(FRAME)
            expect(frame.locator("#comments-title")).to_have_text(
                "3 Responses to “Hello from the demo blog”"
            )
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "demo-post.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000
        finally:
            context.close()


def test_messages_from_other_windows_do_not_resize_the_frame(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    page.goto(blog_post(blog, widget, "/spoof/", "Spoof"))
    frame = page.frame_locator(FRAME)
    expect(frame.locator("#comments-title")).to_be_visible()
    page.wait_for_timeout(300)
    before = iframe_height(page)
    # The host page itself (wrong source) posts a height message: ignored.
    page.evaluate("window.postMessage({widget: 'height', height: 5000}, '*')")
    page.wait_for_timeout(300)
    assert iframe_height(page) == before


def test_the_frame_refuses_to_load_on_a_site_not_allowed(page: Page, widget: WidgetServer) -> None:
    with host_pages() as stranger:
        stranger.pages["/"] = f"""<!doctype html><html><body><div id="comments"></div>
<script src="{widget.public_url}/embed.js" data-site="blog" async></script></body></html>"""
        page.goto(stranger.url + "/")
        frame = page.frame_locator(FRAME)
        # A readable error in the frame, not a blank box.
        expect(frame.locator(".wg-problem")).to_contain_text("widget site add-origin blog")


def test_without_a_comments_div_the_frame_follows_the_script_with_its_options(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    blog.pages["/options/"] = f"""<!doctype html><html lang="de"><head><title>Ignored</title>
<link rel="canonical" href="{blog.url}/canonical/"></head><body>
<p id="before">Vorher</p>
<script src="{widget.public_url}/embed.js" data-site="blog" data-title="Ein Beitrag"
 data-theme="dark" async></script>
<p id="after">Nachher</p></body></html>"""
    api_post(widget, blog, "/canonical/", body="Schon da")
    page.goto(f"{blog.url}/options/")
    frame_element = page.locator("script[data-site] + iframe")
    expect(frame_element).to_be_attached()
    frame = page.frame_locator("script[data-site] + iframe")
    # The page id came from <link rel=canonical>, the language from <html lang>.
    expect(frame.locator("#comments-title")).to_have_text("Eine Antwort auf „Ein Beitrag“")
    expect(frame.locator("html")).to_have_class(re.compile(r"\bwg-theme-dark\b"))
    expect(frame.locator("#wg-submit")).to_have_text("Kommentar abschicken")
    # The frame is named in its own language, for screen readers moving between frames.
    expect(frame_element).to_have_attribute("title", "Kommentare zu Ein Beitrag")


def test_two_readers_see_each_others_comments_appear(
    browser: Browser, blog: HostPages, widget: WidgetServer
) -> None:
    url = blog_post(blog, widget, "/together/", "Together")
    contexts = [browser.new_context(viewport={"width": 1000, "height": 900}) for _ in range(2)]
    try:
        ann, bea = (context.new_page() for context in contexts)
        for page in (ann, bea):
            page.goto(url)
            # The live stream opens for a reader who stays or touches the page, not at a glance.
            expect(page.frame_locator(FRAME).locator(".wg-title")).to_be_visible()
            page.wait_for_timeout(500)
            expect(page.frame_locator(FRAME).locator("html")).not_to_have_attribute(
                "data-live", "on"
            )
            page.frame_locator(FRAME).locator("#wg-body").focus()
            expect(page.frame_locator(FRAME).locator("html")).to_have_attribute("data-live", "on")
        at_ann, at_bea = ann.frame_locator(FRAME), bea.frame_locator(FRAME)

        fill_details(at_ann, "Hello from Ann", name="Ann")
        at_ann.locator("#wg-submit").click()
        expect(at_bea.locator(".wg-live-button")).to_have_text("Show 1 new comment")
        # Said through the polite live region too, for readers who do not see the button.
        expect(at_bea.locator("#wg-status")).to_have_text("Show 1 new comment")
        expect(at_bea.locator(".wg-comment")).to_have_count(0)  # nothing moves by itself
        at_bea.locator(".wg-live-button").click()
        expect(at_bea.locator(".wg-comment .wg-text")).to_have_text("Hello from Ann")
        expect(at_bea.locator("#comments-title")).to_be_focused()  # not lost with the button
        expect(at_bea.locator(".wg-live")).to_be_hidden()

        fill_details(at_bea, "Hi Ann, Bea here", name="Bea", email="bea@example.com")
        at_bea.locator("#wg-submit").click()
        expect(at_ann.locator(".wg-live-button")).to_have_text("Show 1 new comment")
        # Ann's own comment never counted as news for Ann.
        at_ann.locator(".wg-live-button").click()
        expect(at_ann.locator(".wg-comment")).to_have_count(2)

        # Likes change in place, no button to press.
        at_bea.locator(".wg-comment").first.locator("button.wg-like").click()
        expect(at_ann.locator(".wg-comment").first.locator(".wg-like-count")).to_have_text("1 like")
    finally:
        for context in contexts:
            context.close()


READS_LEFT_TO_RIGHT = """e => {
  const text = e.firstChild, range = document.createRange();
  const left = (at) => { range.setStart(text, at); range.setEnd(text, at + 1);
                         return range.getBoundingClientRect().left; };
  return left(0) < left(text.length - 1);
}"""


def test_a_name_that_turns_text_around_turns_nothing_after_it(
    page: Page, blog: HostPages, widget: WidgetServer
) -> None:
    """A name ending in an unclosed right-to-left override (U+202E) ran on past itself in the
    reply heading: every reader replying to it saw 'ylper lecnaC' for 'Cancel reply'."""
    url = blog_post(blog, widget, "/bidi/", "Bidi")
    posted = api_post(widget, blog, "/bidi/", name="Mallory \u202e")
    page.goto(url)
    frame = page.frame_locator("#comments iframe")
    frame.locator(".wg-reply").click()  # the script writes the heading
    expect(frame.locator("#reply-title-text")).to_have_text("Leave a Reply to Mallory \u202e")
    cancel = frame.locator("#cancel-reply")
    expect(cancel).to_have_text("Cancel reply")
    assert cancel.evaluate(READS_LEFT_TO_RIGHT)
    # The server writes it (the reply link followed without the script).
    query = urlencode({"page": "/bidi/", "url": url, "replytocom": posted["comment"]["id"]})
    page.goto(f"{widget.public_url}/embed/blog/thread?{query}")
    expect(page.locator("#cancel-reply")).to_be_visible()
    assert page.locator("#cancel-reply").evaluate(READS_LEFT_TO_RIGHT)
