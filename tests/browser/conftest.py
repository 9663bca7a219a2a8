"""Chromium through Playwright, the blog on blog.localhost and widget on comments.localhost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Frame, Page, Playwright, sync_playwright

from tests.mail import Inbox, start_smtp
from tests.servers import HostPages, WidgetServer, host_pages, widget_cli, widget_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]  # fmt: skip
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
AXE = Path(__file__).resolve().parent.parent / "node_modules" / "axe-core" / "axe.min.js"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and the async tests of other modules need the thread to themselves.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def inbox() -> Iterator[Inbox]:
    """A real SMTP server for the module's `widget serve`, and what reached it (`.port`)."""
    controller, inbox = start_smtp()
    inbox.port = controller.port  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


@pytest.fixture(scope="module")
def blog() -> Iterator[HostPages]:
    with host_pages() as pages:
        yield pages


@pytest.fixture(scope="module")
def widget(blog: HostPages, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WidgetServer]:
    data_dir = tmp_path_factory.mktemp("widget") / "data"
    # Tests post the moment the frame is there; the default wait has its own test.
    widget_cli(
        data_dir, "site", "add", "blog", "--origin", blog.origin, "--set", "min_seconds_to_post=0"
    )
    with widget_server(data_dir) as server:
        yield server


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    yield context
    context.close()


@pytest.fixture
def audited(browser: Browser) -> Iterator[BrowserContext]:
    """A `context` whose pages take axe-core (assert_accessible; see audited_context). A
    module's `context` fixture may return it."""
    context = audited_context(browser)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def open_context(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    """A browser that allows third-party cookies and storage, as many users' still do.

    The default context above blocks them (as Chromium does here by default, and as Safari
    always does), so the iframe's localStorage is refused there and state lives in memory.
    """
    profile = tmp_path / "profile"
    (profile / "Default").mkdir(parents=True)
    (profile / "Default" / "Preferences").write_text(
        json.dumps({"profile": {"cookie_controls_mode": 0}})
    )
    context = playwright.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS,
        viewport={"width": 1000, "height": 900},
    )  # fmt: skip
    yield context
    context.close()


def blog_post(
    blog: HostPages, widget: WidgetServer, path: str, title: str, extra: str = "",
    site: str = "blog",
) -> str:  # fmt: skip
    """Publish a post on the blog with the snippet (of `site`), and return its URL."""
    blog.pages[path] = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<h1>{title}</h1>
<p>Some words. <a href="#comments" data-comment-count="{path}">Comments</a></p>
{extra}
<div id="comments"></div>
<script src="{widget.public_url}/embed.js" data-site="{site}" data-page-id="{path}" async></script>
</body></html>"""
    return blog.url + path


def api_post(widget: WidgetServer, blog: HostPages, path: str, **fields: Any) -> dict[str, Any]:
    """Post a comment the way the iframe's script does, from Python."""
    site = fields.pop("site", "blog")
    body = {"site": site, "page": path, "url": blog.url + path, "title": "", "name": "Bea",
            "email": "bea@example.com", "body": "A comment",
            "form_token": widget.form_token(site, path)}  # fmt: skip
    body.update(fields)
    response = httpx.post(
        f"{widget.local_url}/api/v1/comments", json=body, headers={"Origin": widget.public_url}
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def audited_context(
    browser: Browser, system: str = "light", width: int = 1000, height: int = 900
) -> BrowserContext:
    """A browser whose pages axe can audit (bypass_csp: axe is added by the test, and the
    pages' own policy would refuse it), with the reader's system in `system` (light, dark)."""
    return browser.new_context(
        viewport={"width": width, "height": height}, bypass_csp=True,
        color_scheme=system,  # type: ignore[arg-type]
    )  # fmt: skip


def axe_violations(where: Page | Frame, backdrop: str = "") -> list[dict[str, Any]]:
    """axe-core's violations in a page or a frame (its context needs bypass_csp=True: the
    pages' own policy refuses a script added by the test). The comment frame is transparent and
    axe cannot see the host page behind it, so its root gets `backdrop`, the colour that shows
    through (test_reading_in_browser checks that it does)."""
    where.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = where.evaluate(
        """async (backdrop) => {
            const root = document.documentElement;
            if (backdrop) root.style.background = backdrop;
            const result = await axe.run(document, { resultTypes: ['violations'] });
            if (backdrop) root.style.background = '';
            return result.violations.map(v => ({
                id: v.id, impact: v.impact,
                nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary),
            }));
        }""",
        backdrop,
    )
    return found


def assert_accessible(where: Page | Frame, backdrop: str = "") -> None:
    """No critical or serious violation, and no contrast one at all."""
    violations = axe_violations(where, backdrop)
    bad = [v for v in violations if v["impact"] in ("critical", "serious")]
    contrast = [v for v in violations if v["id"] == "color-contrast"]
    assert not bad and not contrast, bad or contrast


def frame_of(page: Page, selector: str = "#comments iframe") -> Frame:
    """The comment frame itself (a FrameLocator cannot take a script or run axe)."""
    handle = page.locator(selector).element_handle()
    frame = handle.content_frame() if handle else None
    assert frame is not None
    return frame
