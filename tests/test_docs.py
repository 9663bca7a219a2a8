"""The documentation says what the code does: every setting is in docs/configuration.md with
its default, and every page the README links to exists."""

from __future__ import annotations

import re

from tests.helpers import REPO
from widget.config import SETTINGS
from widget.sites import SITE_SETTINGS

DOCS = REPO / "docs"
README = DOCS.parent / "README.md"


def table_rows(text: str) -> dict[str, tuple[str, str]]:
    """`| `name` | default | meaning |` rows of the Markdown tables in `text`, by name."""
    rows = {}
    for line in text.splitlines():
        match = re.match(r"^\| `([a-z_0-9]+)` \| (.+?) \| (.+) \|$", line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3))
    return rows


def test_every_server_setting_is_documented_with_its_default() -> None:
    server = (DOCS / "configuration.md").read_text().split("## Site settings")[0]
    rows = table_rows(server)
    assert sorted(rows) == sorted(s.name for s in SETTINGS)
    for setting in SETTINGS:
        default, meaning = rows[setting.name]
        assert meaning.strip(), setting.name
        if setting.default and not setting.secret:
            assert f"`{setting.default}`" in default, (setting.name, default)


def test_every_site_setting_is_documented_with_its_default() -> None:
    rows = table_rows((DOCS / "configuration.md").read_text().split("## Site settings")[1])
    assert sorted(rows) == sorted(s.name for s in SITE_SETTINGS)
    for setting in SITE_SETTINGS:
        default, _ = rows[setting.name]
        if setting.default != "":
            assert f"`{setting.default}`" in default, (setting.name, default)
        else:
            assert default in {"empty", "the language's"}, (setting.name, default)


def test_the_readme_links_only_to_pages_that_exist() -> None:
    links = re.findall(r"\]\((docs/[^)#]+)", README.read_text())
    assert links
    assert [link for link in links if not (README.parent / link).is_file()] == []
