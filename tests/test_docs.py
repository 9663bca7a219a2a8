"""The documentation says what the code does: every setting is in docs/configuration.md with
its default, and every page the README links to exists."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path

from starlette.routing import BaseRoute

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


def heading_anchors(page: Path) -> set[str]:
    """The #anchors GitHub gives the page's headings: lower case, punctuation dropped, spaces
    as hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def test_every_link_between_the_pages_leads_to_a_page_and_heading_that_exist() -> None:
    """docs/moving-in-and-out.md linked `docs/export-format.md` from docs/ itself (a page
    that is not there); this checks every relative link of the README and docs, anchors too."""
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            linked = (page.parent / path) if path else page
            if not linked.is_file():
                broken.append(f"{page.name}: {target}")
            elif anchor and anchor not in heading_anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []


# -- every `widget …` command the documentation shows exists, as written --------------------------

PAGES = [README, *sorted(DOCS.glob("*.md"))]
# A command in a code block: at the start of a line (or of a part after `&&` or `;`), after
# `sudo`, or as an installed script (`.venv/bin/widget`, `/opt/widget/current/bin/widget`).
COMMAND = re.compile(r"^(?:sudo\s+)?(?:\S*/bin/)?widget\s+(.*)$")


def commands_shown() -> list[tuple[str, str, bool]]:
    """(where, arguments, whole) for each `widget …` the README and docs show: `whole` for a
    command line in a code block (it must run as written), not for a command named in a
    sentence (`widget backup`, whose arguments the sentence gives)."""
    shown = []
    for page in PAGES:
        in_block = False
        for number, line in enumerate(page.read_text().splitlines(), 1):
            where = f"{page.name}:{number}"
            if line.startswith("```"):
                in_block = not in_block
                continue
            if in_block or line.startswith("    "):
                code = re.sub(r"(^|\s)#.*$", "", line).strip()
                for part in re.split(r"&&|;", code):
                    match = COMMAND.match(part.strip())
                    if match and "$@" not in match.group(1):
                        shown.append((where, match.group(1), True))
            shown += [(where, m, False) for m in re.findall(r"`widget ([^`]+)`", line)]
    return shown


def parse_error(argv: list[str]) -> str:
    """What the real command line's parser says of `widget ARGV` ("" when it takes them)."""
    from widget.cli import build_parser

    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
            build_parser(argv).parse_args(argv)
    except SystemExit as exit_:
        return "" if exit_.code == 0 else said.getvalue().strip().splitlines()[-1]
    return ""


def test_every_widget_command_in_the_docs_is_one_the_command_line_takes() -> None:
    shown = commands_shown()
    assert len(shown) > 50
    wrong = []
    for where, text, whole in shown:
        words = shlex.split(text)
        # `widget site add|list|show`: each of the commands named
        first = next((i for i, word in enumerate(words) if "|" in word), None)
        variants = [words] if first is None else [
            [*words[:first], one, *words[first + 1 :]] for one in words[first].split("|")
        ]  # fmt: skip
        for argv in variants:
            error = parse_error(argv)
            if error and (whole or "arguments are required" not in error):
                wrong.append(f"{where}: widget {' '.join(argv)}: {error}")
            name = argv[3] if argv[:2] == ["site", "set"] and len(argv) > 3 else "NAME"
            if not name.isupper() and name not in {s.name for s in SITE_SETTINGS}:
                wrong.append(f"{where}: widget {' '.join(argv)}: no site setting {name}")
    assert wrong == []


def test_every_setting_named_in_the_docs_exists() -> None:
    names = {f"WIDGET_{s.name.upper()}" for s in SETTINGS} | {"WIDGET_CONFIG"}
    named = set()
    for page in PAGES:
        named |= set(re.findall(r"\bWIDGET_[A-Z][A-Z0-9_]*[A-Z0-9]\b", page.read_text()))
    providers = {n for n in named if n.startswith("WIDGET_PROVIDER_")}
    assert named - providers - names == {"WIDGET_TEST_POSTGRES_URL"}  # the suite's, in README


# -- the routes docs/embedding.md lists are the routes the server serves ----------------------------


def served_routes(tmp_path: Path) -> set[str]:
    """Every route's path pattern, with its parameters written `{}`."""
    from starlette.routing import Mount

    from tests.helpers import make_settings
    from widget.app import create_app

    def walk(routes: Sequence[BaseRoute], prefix: str) -> Iterator[str]:
        for route in routes:
            if isinstance(route, Mount):
                yield from walk(route.routes, prefix + route.path)
            elif isinstance(path := getattr(route, "path", None), str):
                yield prefix + path

    app = create_app(make_settings(tmp_path, metrics_token="t"))
    return {re.sub(r"\{[^}]*\}", "{}", path) for path in walk(app.routes, "")}


def documented_routes() -> set[str]:
    """The routes named in docs/embedding.md's "Routes", `/notify/confirm|unsubscribe` as two,
    without their queries, parameters written `{}`."""
    section = (DOCS / "embedding.md").read_text().split("## Routes")[1].split("\n## ")[0]
    routes = set()
    for named in re.findall(r"`(/[^`\s]*)`", section):
        named = re.sub(r"\{[^}]*\}", "{}", named.split("?")[0])
        head, _, last = named.rpartition("/")
        routes |= {f"{head}/{one}" for one in last.split("|")}
    return routes


def test_the_routes_listed_are_the_routes_served(tmp_path: Path) -> None:
    served = served_routes(tmp_path)
    documented = documented_routes()
    # `/static/…` and `/admin/…` name every route under them.
    prefixes = [route.removesuffix("…") for route in documented if route.endswith("…")]
    assert sorted(documented - served - {p + "…" for p in prefixes}) == []
    assert sorted(r for r in served - documented if not r.startswith(tuple(prefixes))) == []


def test_every_option_the_docs_name_is_one_a_command_takes() -> None:
    """`--overwrite`, `--force`, `--config FILE`… named in a sentence: some `widget` command
    has it (benchmark.md's are its scripts')."""
    import argparse

    from widget.cli import build_parser

    def options(parser: argparse.ArgumentParser) -> Iterator[str]:
        for action in parser._actions:
            yield from action.option_strings
            if isinstance(action, argparse._SubParsersAction):
                for command in action.choices.values():
                    yield from options(command)

    known = set(options(build_parser()))
    named = {
        option
        for page in PAGES
        if page.name != "benchmark.md"
        for option in re.findall(r"`(--[a-z][a-z-]*)", page.read_text())
    }
    assert named and sorted(named - known) == []
