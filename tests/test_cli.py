"""The `widget` command line, run as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_widget(
    data_dir: Path, *args: str, database_url: str = "", **settings: str
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIDGET_")}
    env["WIDGET_DATA_DIR"] = str(data_dir)
    if database_url:
        env["WIDGET_DATABASE_URL"] = database_url
    env.update({f"WIDGET_{name.upper()}": value for name, value in settings.items()})
    return subprocess.run(
        [sys.executable, "-m", "widget", *args], env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "widget serve"),
        (("serve",), "--port"),
        (("site",), "add-origin"),
        (("site", "add"), "--origin"),
        (("site", "set"), "max_depth"),
        (("site", "remove"), "cannot be undone"),
        (("settings",), "secrets hidden"),
        (("migrate",), "schema"),
        (("providers",), "callback URL"),
        (("copy-data",), "keeping every id"),
    ],
)
def test_every_command_has_help(tmp_path: Path, args: tuple[str, ...], expected: str) -> None:
    result = run_widget(tmp_path, *args, "--help")
    assert result.returncode == 0
    assert expected in " ".join(result.stdout.split())  # argparse wraps lines
    assert "WIDGET_" in run_widget(tmp_path, "--help").stdout


def test_sites_from_the_command_line(tmp_path: Path, database_url: str) -> None:
    def widget(*args: str) -> subprocess.CompletedProcess[str]:
        return run_widget(tmp_path, *args, database_url=database_url)

    added = widget("site", "add", "myblog", "--origin", "https://Blog.Example:443/",
                   "--origin", "http://localhost:4000", "--name", "My blog", "--set", "order=newest")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert (
        '<script src="http://comments.localhost:8000/embed.js" data-site="myblog" async>'
        in added.stdout
    )
    listed = widget("site", "list").stdout
    assert "myblog  (My blog)" in listed
    assert "origin  https://blog.example" in listed
    assert "origin  http://localhost:4000" in listed
    shown = widget("site", "show", "myblog").stdout
    assert "order          newest" in shown
    assert "max_depth      5          (default)" in shown

    assert widget("site", "set", "myblog", "max_depth", "3").returncode == 0
    assert "max_depth      3          (set)" in widget("site", "show", "myblog").stdout
    bad = widget("site", "set", "myblog", "max_depth", "99")
    assert bad.returncode == 1
    assert "from 2 to 20" in bad.stderr
    unknown = widget("site", "set", "myblog", "colour", "red")
    assert "no site setting called 'colour'" in unknown.stderr

    assert widget("site", "add-origin", "myblog", "https://www.blog.example").returncode == 0
    assert "https://www.blog.example" in widget("site", "list").stdout
    assert widget("site", "remove-origin", "myblog", "http://localhost:4000").returncode == 0
    assert "localhost:4000" not in widget("site", "list").stdout

    refused = widget("site", "remove", "myblog")  # not a terminal: needs --yes
    assert refused.returncode == 2
    assert "--yes" in refused.stderr
    assert widget("site", "remove", "myblog", "--yes").returncode == 0
    assert "No sites yet" in widget("site", "list").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("site", "add", "Bad Id", "--origin", "https://a.example"), "not a usable site id"),
        (("site", "add", "ok", "--origin", "https://a.example/path/"), "leave out the path"),
        (("site", "add", "ok", "--origin", "ftp://a.example"), "is not an origin"),
        (("site", "add", "ok", "--origin", "https://a.example", "--set", "order"), "NAME=VALUE"),
        (("site", "show", "nope"), "There is no site called 'nope'"),
    ],
)
def test_bad_site_commands_say_why(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    result = run_widget(tmp_path, *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_a_site_cannot_be_added_twice(tmp_path: Path) -> None:
    assert run_widget(tmp_path, "site", "add", "a", "--origin", "https://a.example").returncode == 0
    again = run_widget(tmp_path, "site", "add", "a", "--origin", "https://a.example")
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_settings_are_shown_with_their_source_and_secrets_hidden(tmp_path: Path) -> None:
    config = tmp_path / "widget.toml"
    config.write_text('public_url = "https://comments.example"\nmax_body_chars = 5000\n')
    result = run_widget(tmp_path, "--config", str(config), "settings")
    assert result.returncode == 0, result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "https://comments.example" in lines["public_url"]
    assert str(config) in lines["public_url"]
    assert "5000" in lines["max_body_chars"]
    secret = (tmp_path / "secret_key").read_text().strip()
    assert secret not in result.stdout
    assert "********" in lines["secret_key"]


def test_bad_settings_stop_with_a_message(tmp_path: Path) -> None:
    config = tmp_path / "widget.toml"
    config.write_text("colour = 'red'\n")
    result = run_widget(tmp_path, "--config", str(config), "settings")
    assert result.returncode == 2
    assert "unknown setting(s)" in result.stderr


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    result = run_widget(tmp_path, "migrate")
    assert result.returncode == 0
    assert "up to date" in result.stdout
    assert (tmp_path / "widget.db").is_file()
