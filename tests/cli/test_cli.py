"""The `widget` command line, run as a user runs it: in this process through `main(argv)` (the
`widget` fixture), and end to end as the installed command in a couple of runs."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import CHEAP_PASSWORDS, Widget


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
        (("admin", "add"), "--password-stdin"),
        (("export",), "--format"),
        (("import",), "remark42"),
    ],
)
def test_every_command_has_help(widget: Widget, args: tuple[str, ...], expected: str) -> None:
    helped = widget(*args, "--help")
    assert helped.code == 0
    assert expected in " ".join(helped.out.split())  # argparse wraps lines
    assert "WIDGET_" in widget("--help").out


@pytest.mark.parametrize(
    ("args", "listed"),
    [((), ["serve ", "site ", "import ", "restore "]), (("site",), ["add ", "add-origin "]),
     (("admin",), ["add ", "token "])],
)  # fmt: skip
def test_a_command_typed_alone_lists_what_may_follow(
    widget: Widget, args: tuple[str, ...], listed: list[str]
) -> None:
    """`widget` alone, as a newcomer first types it, said only "the following arguments are
    required: COMMAND", naming none; now the commands (or actions) come first, the settings'
    list left out so that they stay on the screen."""
    alone = widget(*args)
    assert alone.code == 2
    lines = [line.strip() for line in alone.err.splitlines()]
    for command in listed:
        assert any(line.startswith(command) for line in lines), (command, alone.err)
    assert "WIDGET_" not in alone.err
    assert alone.err.rstrip().endswith("the following arguments are required: " +
                                       ("ACTION" if args else "COMMAND"))  # fmt: skip


def test_an_unknown_command_is_refused_with_its_name(widget: Widget) -> None:
    wrong = widget("no-such-command")
    assert wrong.code == 2
    assert "invalid choice: 'no-such-command'" in wrong.err


def setting_rows(shown: str) -> dict[str, tuple[str, str]]:
    """`widget site show`'s settings: name -> (value, "(set)" or "(default)"), checking that
    the values stand in one column (min_seconds_to_post and longer names pushed theirs out)."""
    rows, columns = {}, set()
    for line in shown.splitlines():
        match = re.match(r"  (\S+) +(.*?) *(\((?:set|default)\)) ", line)
        if match:
            rows[match.group(1)] = (match.group(2), match.group(3))
            if match.group(2):
                columns.add(match.start(2))
    assert len(columns) == 1, shown
    return rows


def test_sites_from_the_command_line(widget: Widget, database_url: str) -> None:
    added = widget("site", "add", "myblog", "--origin", "https://Blog.Example:443/",
                   "--origin", "http://localhost:4000", "--name", "My blog", "--set", "order=newest",
                   database_url=database_url)  # fmt: skip
    assert added.code == 0, added.err
    assert (
        '<script src="http://comments.localhost:8000/embed.js" data-site="myblog" async>'
        in added.out
    )
    listed = widget("site", "list").out
    assert "myblog  (My blog)" in listed
    assert "origin  https://blog.example" in listed
    assert "origin  http://localhost:4000" in listed
    shown = setting_rows(widget("site", "show", "myblog").out)
    assert shown["order"] == ("newest", "(set)")
    assert shown["max_depth"] == ("5", "(default)")
    assert shown["author_accounts"] == ("", "(default)")

    assert widget("site", "set", "myblog", "max_depth", "3").code == 0
    assert setting_rows(widget("site", "show", "myblog").out)["max_depth"] == ("3", "(set)")
    # The blog's feed, as docs/notifications.md gives it, for "Notify me of new posts".
    assert widget("site", "set", "myblog", "feed_url", "https://blog.example/feed/").code == 0
    assert "https://blog.example/feed/" in widget("site", "show", "myblog").out
    private = widget("site", "set", "myblog", "feed_url", "http://10.0.0.7/feed/")
    assert private.code == 1 and "10.0.0.7 is not a public address" in private.err
    bad = widget("site", "set", "myblog", "max_depth", "99")
    assert bad.code == 1
    assert "from 2 to 20" in bad.err
    unknown = widget("site", "set", "myblog", "colour", "red")
    assert "no site setting called 'colour'" in unknown.err

    assert widget("site", "add-origin", "myblog", "https://www.blog.example").code == 0
    assert "https://www.blog.example" in widget("site", "list").out
    assert widget("site", "remove-origin", "myblog", "http://localhost:4000").code == 0
    assert "localhost:4000" not in widget("site", "list").out

    refused = widget("site", "remove", "myblog")  # not a terminal: needs --yes
    assert refused.code == 2
    assert "--yes" in refused.err
    assert widget("site", "remove", "myblog", "--yes").code == 0
    assert "No sites yet" in widget("site", "list").out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("site", "add", "Bad Id", "--origin", "https://a.example"), "not a usable site id"),
        (("site", "add", "ok", "--origin", "https://a.example/path/"), "leave out the path"),
        (("site", "add", "ok", "--origin", "ftp://a.example"), "is not an origin"),
        (("site", "add", "ok", "--origin", "https://a.example", "--set", "order"), "NAME=VALUE"),
        (("site", "show", "nope"), "There is no site called 'nope'"),
        (
            (
                "site",
                "add",
                "ok",
                "--origin",
                "https://a.example",
                "--set",
                "feed_url=ftp://a.example/feed",
            ),
            "feed_url: expected an http:// or https:// URL",
        ),
        (
            (
                "site",
                "add",
                "ok",
                "--origin",
                "https://a.example",
                "--set",
                "feed_url=http://169.254.169.254/",
            ),
            "feed_url: 169.254.169.254 is not a public address",
        ),
    ],
)
def test_bad_site_commands_say_why(widget: Widget, args: tuple[str, ...], message: str) -> None:
    result = widget(*args)
    assert result.code == 1
    assert message in result.err
    assert "Traceback" not in result.err


def test_a_site_cannot_be_added_twice(widget: Widget) -> None:
    assert widget("site", "add", "a", "--origin", "https://a.example").code == 0
    again = widget("site", "add", "a", "--origin", "https://a.example")
    assert again.code == 1
    assert "already exists" in again.err


def test_settings_are_shown_with_their_source_and_secrets_hidden(
    tmp_path: Path, widget: Widget
) -> None:
    config = tmp_path / "widget.toml"
    config.write_text('public_url = "https://comments.example"\nmax_body_chars = 5000\n')
    result = widget("--config", str(config), "settings")
    assert result.code == 0, result.err
    lines = {line.split()[0]: line for line in result.out.splitlines()}
    assert "https://comments.example" in lines["public_url"]
    assert str(config) in lines["public_url"]
    assert "5000" in lines["max_body_chars"]
    assert "WIDGET_ADMIN_PASSWORD_MEMORY_KIB" in lines["admin_password_memory_kib"]
    secret = (tmp_path / "data" / "secret_key").read_text().strip()
    assert secret not in result.out
    assert "********" in lines["secret_key"]


@pytest.mark.parametrize(
    "args",
    [
        ("--config", "{config}", "site", "add", "blog", "--origin", "https://blog.example"),
        # After the command, as `widget serve --help` names "the --config file":
        ("site", "add", "blog", "--origin", "https://blog.example", "--config", "{config}"),
        ("site", "--config", "{config}", "add", "blog", "--origin", "https://blog.example"),
    ],
)
def test_the_config_file_may_be_named_before_or_after_the_command(
    tmp_path: Path, widget: Widget, args: tuple[str, ...]
) -> None:
    """`widget serve --config widget.toml` was refused ("unrecognized arguments"): the option
    existed only before the command, though every command's help and docs/configuration.md
    name it as "the --config file" without saying where it goes."""
    config = tmp_path / "widget.toml"
    config.write_text('public_url = "https://comments.example"\n')
    added = widget(*(arg.format(config=config) for arg in args))
    assert added.code == 0, added.err
    assert '<script src="https://comments.example/embed.js" data-site="blog"' in added.out


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("colour = 'red'", "unknown setting(s)"),
        ("admin_password_checks_at_once = 0", "expected a whole number from 1 to 64, got '0'"),
        ("admin_session_hours = 'lots'", "admin_session_hours (from"),
    ],
)
def test_bad_settings_stop_with_a_message(
    tmp_path: Path, widget: Widget, line: str, message: str
) -> None:
    config = tmp_path / "widget.toml"
    config.write_text(line + "\n")
    result = widget("--config", str(config), "settings")
    assert result.code == 2
    assert message in result.err
    assert "Traceback" not in result.err


def test_a_password_cost_below_what_argon2_takes_is_refused(widget: Widget) -> None:
    result = widget("settings", admin_password_memory_kib="8")
    assert result.code == 2
    assert (
        "admin_password_memory_kib (from WIDGET_ADMIN_PASSWORD_MEMORY_KIB): expected a whole"
        " number from 32 to 4194304, got '8'" in result.err
    )


def test_migrate_creates_the_database(tmp_path: Path, widget: Widget) -> None:
    result = widget("migrate")
    assert result.code == 0
    assert "up to date" in result.out
    assert (tmp_path / "data" / "widget.db").is_file()


# -- end to end: the installed command, in processes of its own -----------------------------------


def run_installed(tmp_path: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`widget ARGS` run by the script pip installed, as a shell runs it."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("WIDGET_")}
    env.update({f"WIDGET_{name.upper()}": str(value) for name, value in CHEAP_PASSWORDS.items()})
    env["WIDGET_DATA_DIR"] = str(tmp_path / "data")
    script = Path(sys.executable).parent / "widget"
    return subprocess.run(
        [str(script), *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow  # three processes, each importing widget: end to end, not the quick loop
def test_the_installed_command_adds_a_site_and_an_admin_with_a_piped_password(
    tmp_path: Path,
) -> None:
    added = run_installed(tmp_path, "site", "add", "blog", "--origin", "https://blog.example")
    assert added.returncode == 0, added.stderr
    assert 'data-site="blog"' in added.stdout
    admin = run_installed(
        tmp_path, "admin", "add", "boss@example.com", "--password-stdin",
        stdin="correct horse battery\n",
    )  # fmt: skip
    assert admin.returncode == 0, admin.stderr
    assert "Added admin boss@example.com  (every site)" in admin.stdout
    refused = run_installed(tmp_path, "site", "remove", "blog")  # stdin is a pipe: asks for --yes
    assert refused.returncode == 2
    assert "--yes" in refused.stderr


@pytest.mark.parametrize("args", [("settings",), ("export", "--site", "blog")])
def test_a_reader_that_closes_the_pipe_early_gets_no_traceback(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """`widget export --site blog | head` (docs/moving-in-and-out.md: "stdout without -o")
    ended in a BrokenPipeError traceback once head had read its lines. The reader here has
    gone before the command writes at all, as head after its first lines: the command stops
    with a failure status (what it meant to write was not all read)."""
    assert run_installed(tmp_path, "site", "add", "blog", "--origin", "https://blog.example")
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {name: value for name, value in os.environ.items() if not name.startswith("WIDGET_")}
    env["WIDGET_DATA_DIR"] = str(tmp_path / "data")
    script = Path(sys.executable).parent / "widget"
    try:
        done = subprocess.run(
            [str(script), *args], env=env, stdout=write_end, stderr=subprocess.PIPE,
            text=True, timeout=60,
        )  # fmt: skip
    finally:
        os.close(write_end)
    # An export says once that what was read is not all of it (a `| gzip > FILE` in a cron
    # job that failed would leave a file that looks whole); nothing more, no traceback.
    said = (
        ""
        if args[0] == "settings"
        else (
            "widget: The program reading the export stopped before its end (broken pipe): what it"
            " got is not the whole export.\n"
        )
    )
    assert done.stderr == said
    assert done.returncode == 1


def test_a_command_that_starts_a_new_database_says_where(tmp_path: Path, widget: Widget) -> None:
    """README: `.venv/bin/widget serve` in one folder, then `widget site add …`: typed in
    another folder, it made a second database there (./widget-data is relative) without a
    word, and the server's frame kept saying that the site does not exist. The command now
    says that it starts a new database, and where; a command on an existing one says nothing."""
    first = widget("site", "add", "blog", "--origin", "https://blog.example")
    assert first.code == 0
    database = tmp_path / "data" / "widget.db"
    assert f"widget: There is no database at {database} yet" in first.err
    assert "run commands where it runs, or with its WIDGET_DATA_DIR" in first.err
    again = widget("site", "list")
    assert again.code == 0
    assert "There is no database" not in again.err


def test_requiring_sign_in_where_nobody_can_sign_in_is_told(widget: Widget) -> None:
    """Found following docs/sign-in.md's `widget site set SITE sign_in required` on a server
    with no provider and no mail server: the frame then offered no way in, and posting
    answered "Enter your name." about fields it had hidden. The command says so at once."""
    nobody = "widget: Nobody can comment there yet: this server offers no way to sign in"
    added = widget("site", "add", "blog", "--origin", "https://blog.example", "--set",
                   "sign_in=required")  # fmt: skip
    assert added.code == 0
    assert nobody in added.err
    assert nobody in widget("site", "set", "blog", "sign_in", "required").err
    assert nobody not in widget("site", "set", "blog", "sign_in", "optional").err
    with_email = widget("site", "set", "blog", "sign_in", "required", smtp_host="127.0.0.1")
    assert with_email.code == 0
    assert nobody not in with_email.err
    with_github = widget(
        "site", "set", "blog", "sign_in", "required", smtp_host="",
        provider_github_client_id="id", provider_github_client_secret="secret",
    )  # fmt: skip
    assert with_github.code == 0
    assert nobody not in with_github.err
