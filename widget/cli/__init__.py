"""The `widget` command: run the server, manage sites, show settings, migrate the database.

Each command imports what it works with when it runs (`widget --help` imports next to nothing:
the server, storage, HTTP clients and templates take a good part of a second to import), and
the parser describes in full only the commands named on the command line (see build_parser).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import TYPE_CHECKING, NoReturn, TypeVar

from widget import __version__
from widget.cli.admin import add_admin_commands
from widget.cli.backup import add_backup_commands
from widget.cli.porting import add_porting_commands
from widget.config import SETTINGS, ConfigError, Settings, load_settings
from widget.errors import ClientError, SetupError

if TYPE_CHECKING:
    from widget.records import Site
    from widget.storage import Storage

__all__ = ["build_parser", "main"]

T = TypeVar("T")

DESCRIPTION = """\
widget: a self-hosted comment server.

Start with `widget serve`: it creates its database and secret in ./widget-data on first run and
serves a demo blog post at http://blog.localhost:8000/ whose comments come from this server.
"""

SETTINGS_HELP = "settings (environment WIDGET_<NAME>, or the --config file):\n" + "\n".join(
    f"  {s.name:<22} {s.help}" + (f" [default: {s.default}]" if s.default else "") for s in SETTINGS
)


def _with_storage(settings: Settings, work: Callable[[Storage], Awaitable[T]]) -> T:
    import asyncio

    from widget.backup import database_file
    from widget.storage import storage_for_settings

    database = database_file(settings)
    if database is not None and not database.exists():
        # `widget site add` typed in another folder than the server's made a second, empty
        # database there, silently, and the server went on saying the site does not exist.
        print(
            f"widget: There is no database at {database.absolute()} yet: this command starts"
            " a new, empty one there. A server started in another folder (or with another"
            " WIDGET_DATA_DIR) keeps its own: run commands where it runs, or with its"
            " WIDGET_DATA_DIR.",
            file=sys.stderr,
        )

    async def run() -> T:
        storage = storage_for_settings(settings)
        await storage.open()
        try:
            return await work(storage)
        finally:
            await storage.close()

    return asyncio.run(run())


# -- serve ------------------------------------------------------------------------------------


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import dataclasses

    import uvicorn

    from widget import demo
    from widget.app import create_app
    from widget.backup import database_file, hold_server_lock
    from widget.serving import (
        AddressLimit,
        HeadLimits,
        file_budget,
        http_protocol,
        raise_open_file_limit,
    )
    from widget.startup import check_can_serve

    port = args.port or settings.public_port
    if args.port and settings.sources.get("public_url") == "default":
        # Unconfigured, the public URL follows the port, so the demo and its links still work.
        public_url = f"http://comments.localhost:{port}"
        settings = dataclasses.replace(settings, public_url=public_url)
    # Every connection and live reader holds an open file: take all the system allows.
    files_before, files = raise_open_file_limit()
    budget = file_budget(files)
    # A database or port it cannot use stops it here, with a message (SetupError, see main).
    check_can_serve(settings, args.host, port)
    running = contextlib.ExitStack()
    database = database_file(settings)
    if database is not None:
        # Held while it serves: `widget restore` will not replace the file (unless forced).
        running.enter_context(hold_server_lock(database))
    app = create_app(settings)
    say = print if settings.log_format == "text" else _log_line
    say(f"widget {__version__} serving on http://{args.host}:{port}")
    say(f"  comments server: {settings.public_url}")
    if settings.demo:
        demo_url = f"{demo.demo_origin(settings)}/"
        say(f"  demo blog post:  {demo_url}   (WIDGET_DEMO=false turns it off)")
    say(f"  database:        {settings.database_url_shown}")
    raised = f" (raised from {files_before:,})" if files != files_before else ""
    readers = min(budget.live_readers, settings.live_readers_total)
    say(f"  open files:      {files:,}{raised}: room for {budget.connections:,} connections,"
        f" {readers:,} of them live readers")  # fmt: skip
    sys.stdout.flush()
    limits = HeadLimits(
        settings.max_header_bytes, settings.max_header_count, settings.header_timeout_s,
        settings.body_timeout_s,
    )  # fmt: skip
    per_address = AddressLimit(settings.connections_per_address, settings.trusted_proxies)
    with running:
        uvicorn.run(
            app,
            host=args.host,
            port=port,
            log_level=settings.log_level,
            # X-Forwarded-For is read by widget itself, from trusted proxies only.
            proxy_headers=False,
            server_header=False,
            # Our own request log (widget/views/request_log.py) replaces uvicorn's, which writes
            # the tokens of email links; uvicorn's other lines go through our log format.
            access_log=False,
            log_config=None,
            http=http_protocol(limits, budget, per_address),
            # Live-update streams stay open; on shutdown they get this long to end by themselves.
            timeout_graceful_shutdown=5,
        )
    return 0


def _log_line(text: str) -> None:
    """A line of the start banner for a log collector (JSON lines), as is: it names no person,
    and the database URL's password is hidden already (a user@host is not an address)."""
    import logging

    logging.getLogger("widget.cli").info(text, extra={"redacted": True})


# -- sites ------------------------------------------------------------------------------------


def _print_site(site: Site) -> None:
    print(f"{site.id}  ({site.name})")
    for origin in site.origins:
        print(f"  origin  {origin}")


def cmd_site_add(settings: Settings, args: argparse.Namespace) -> int:
    from widget.outbound import Outbound
    from widget.sites import add_site

    overrides = dict(_parse_assignment(item) for item in args.set or [])

    async def work(storage: Storage) -> None:
        site = await add_site(
            storage, args.site, args.origin, args.name or "", overrides,
            Outbound(settings.outbound_private_networks),
        )  # fmt: skip
        print(f"Added site {site.id!r}. Paste this where the comments should appear:\n")
        src = f"{settings.public_url}/embed.js"
        print(f'  <script src="{src}" data-site="{site.id}" async></script>')

    _with_storage(settings, work)
    _warn_if_nobody_can_sign_in(settings, overrides.get("sign_in", ""))
    return 0


def _parse_assignment(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep:
        raise ClientError(f"--set takes NAME=VALUE, not {text!r}.")
    return name.strip(), value.strip()


def cmd_site_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(storage: Storage) -> None:
        sites = await storage.list_sites()
        if not sites:
            print("No sites yet. Add one: widget site add myblog --origin https://blog.example")
        for site in sites:
            _print_site(site)

    _with_storage(settings, work)
    return 0


def cmd_site_show(settings: Settings, args: argparse.Namespace) -> int:
    from widget.sites import SITE_SETTINGS, get_site
    from widget.sites import settings_of as site_settings_of

    async def work(storage: Storage) -> None:
        site = await get_site(storage, args.site)
        _print_site(site)
        resolved = site_settings_of(site)
        width = max(len(setting.name) for setting in SITE_SETTINGS)  # one column of values
        for setting in SITE_SETTINGS:
            source = "set" if setting.name in site.settings else "default"
            value = getattr(resolved, setting.name)
            print(f"  {setting.name:<{width}} {value!s:<10} ({source}) {setting.help}")

    _with_storage(settings, work)
    return 0


def cmd_site_set(settings: Settings, args: argparse.Namespace) -> int:
    from widget.outbound import Outbound
    from widget.sites import change_site_setting

    async def work(storage: Storage) -> None:
        await change_site_setting(
            storage, args.site, args.name, args.value, Outbound(settings.outbound_private_networks)
        )
        print(f"{args.site}: {args.name} = {args.value}")

    _with_storage(settings, work)
    if args.name == "sign_in":
        _warn_if_nobody_can_sign_in(settings, args.value)
    return 0


def _warn_if_nobody_can_sign_in(settings: Settings, sign_in: str) -> None:
    """`sign_in required` on a server with no provider and no email links leaves the form
    with no way in for anyone: say so to the one who can change it."""
    from widget.auth.providers import configured_providers

    if sign_in.strip().lower() != "required" or configured_providers(settings.providers):
        return
    if settings.smtp_host and settings.email_sign_in:
        return
    print(
        "widget: Nobody can comment there yet: this server offers no way to sign in (no"
        " provider is configured, and email links need smtp_host). See docs/sign-in.md, or"
        " set sign_in back to optional.",
        file=sys.stderr,
    )


def cmd_site_origin(settings: Settings, args: argparse.Namespace) -> int:
    from widget.sites import add_origin, remove_origin

    async def work(storage: Storage) -> None:
        change = add_origin if args.origin_action == "add-origin" else remove_origin
        _print_site(await change(storage, args.site, args.origin))

    _with_storage(settings, work)
    return 0


def cmd_site_remove(settings: Settings, args: argparse.Namespace) -> int:
    if not args.yes:
        if not sys.stdin.isatty():
            message = "Removing a site deletes all its comments; add --yes to confirm."
            print(message, file=sys.stderr)
            return 2
        answer = input(f"Delete site {args.site!r} and every comment on it? [y/N] ")
        if answer.strip().lower() not in {"y", "yes"}:
            print("Nothing removed.")
            return 1

    async def work(storage: Storage) -> bool:
        return await storage.remove_site(args.site)

    if not _with_storage(settings, work):
        print(f"There is no site called {args.site!r}.", file=sys.stderr)
        return 1
    print(f"Removed site {args.site!r}.")
    return 0


# -- settings and database ---------------------------------------------------------------------


def cmd_settings(settings: Settings, args: argparse.Namespace) -> int:
    for name, value, source in settings.describe():
        print(f"{name:<22} {value}   [{source}]")
    return 0


def cmd_providers(settings: Settings, args: argparse.Namespace) -> int:
    from widget.auth.providers import BUILT_IN, configured_providers

    providers = configured_providers(settings.providers)
    if not providers:
        print("No sign-in providers are configured; commenters post as guests.")
        print("Built in: " + ", ".join(BUILT_IN) + "; any other name with an issuer is an")
        print("OpenID Connect provider. For example:")
        print("  WIDGET_PROVIDER_GITHUB_CLIENT_ID=… WIDGET_PROVIDER_GITHUB_CLIENT_SECRET=…")
        print("  WIDGET_PROVIDER_SSO_ISSUER=https://sso.example/realms/main (plus its client")
        print("  id and secret)")
        return 0
    print("Register these callback URLs with each provider, exactly as written:")
    for provider in providers.values():
        kind = "OpenID Connect" if provider.kind.kind == "oidc" else provider.kind.display_name
        about = "" if kind == provider.display_name else f" ({kind})"
        where = f"  {provider.issuer}" if provider.issuer else ""
        print(f"  {provider.name:<12} {provider.display_name}{about}{where}")
        note = (
            " (registered on each Mastodon server automatically)" if provider.needs_instance else ""
        )
        print(f"               {settings.public_url}/auth/{provider.name}/callback{note}")
    return 0


def cmd_copy_data(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio
    import time

    from widget.config import parse_database_url
    from widget.storage import storage_for_settings, storage_for_url

    try:
        parse_database_url(args.to)
    except ValueError as exc:
        raise ClientError(f"--to: {exc}.") from exc

    async def run() -> dict[str, int]:
        source = storage_for_settings(settings)
        target = storage_for_url(args.to)
        await source.open()
        try:
            await target.open()  # creates the target's schema
            try:
                # Closed at once when the target refuses part-way (a full disk): left to the
                # garbage collector, the dump went on after the source had closed.
                async with contextlib.aclosing(source.dump()) as batches:
                    return await target.restore(batches)
            finally:
                await target.close()
        finally:
            await source.close()

    started = time.monotonic()
    counts = asyncio.run(run())
    seconds = time.monotonic() - started
    summary = ", ".join(f"{n:,} {table.replace('_', ' ')}" for table, n in counts.items())
    print(f"Copied {summary} in {seconds:.1f} s.")
    print(f"Next: start widget with WIDGET_DATABASE_URL={args.to}")
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    async def work(storage: Storage) -> None:
        return None  # opening the storage applies every pending migration

    _with_storage(settings, work)
    print(f"The database at {settings.database_url_shown} is up to date.")
    return 0


# -- the parser ---------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """`widget` or `widget site` alone shows what may follow (its help), not only "the
    following arguments are required: COMMAND". Its subcommands' parsers are of this class
    too (argparse makes them of their parent's)."""

    def error(self, message: str) -> NoReturn:
        if message.startswith("the following arguments are required: ") and message.endswith(
            ("COMMAND", "ACTION")
        ):
            # Without the settings' list (the epilog): the commands stay on the screen.
            epilog, self.epilog = self.epilog, None
            self.print_help(sys.stderr)
            self.epilog = epilog
            print(file=sys.stderr)
        super().error(message)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command line's parser. Given the arguments it is to parse, it describes in full only
    the commands they name: listing the site settings and the import formats imports the
    modules that define them, and `widget --help` should not wait for those."""
    named: Collection[str] | None = None if argv is None else set(argv)

    def detailed(command: str) -> bool:
        return named is None or command in named

    parser = _Parser(
        prog="widget",
        description=DESCRIPTION,
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"widget {__version__}")
    parser.add_argument("--config", metavar="FILE", help="a TOML file of settings (name = value)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the comment server",
        description="Run the comment server (and the demo blog unless WIDGET_DEMO=false).",
        epilog=SETTINGS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, help="port to listen on (default: the public URL's port)"
    )
    serve.set_defaults(run=cmd_serve)

    site = commands.add_parser(
        "site", help="add, list, change and remove sites",
        description="Sites are the blogs that embed comments: an id for the snippet, the"
        " origins allowed to embed it, and its settings.",
    )  # fmt: skip
    site_commands = site.add_subparsers(dest="site_command", metavar="ACTION", required=True)

    add = site_commands.add_parser(
        "add",
        help="add a site that may embed comments",
        description=(
            "Add a site: an id used in the embed snippet and the origins allowed to embed it."
        ),
    )
    add.add_argument("site", help="the site's id: lowercase letters, digits, '-' and '_'")
    add.add_argument(
        "--origin", action="append", required=True,
        help="an origin allowed to embed the comments, e.g. https://blog.example (repeatable)",
    )  # fmt: skip
    add.add_argument("--name", help="a name for people (default: the id)")
    add.add_argument(
        "--set", action="append", metavar="NAME=VALUE",
        help="a site setting (see `widget site show`), e.g. --set order=newest (repeatable)",
    )  # fmt: skip
    add.set_defaults(run=cmd_site_add)

    listing = site_commands.add_parser(
        "list", help="list the sites and their origins",
        description="List every site with the origins allowed to embed its comments.",
    )  # fmt: skip
    listing.set_defaults(run=cmd_site_list)

    show = site_commands.add_parser(
        "show", help="show a site's origins and settings",
        description="Show a site's origins and every site setting, set or default, with help.",
    )  # fmt: skip
    show.add_argument("site")
    show.set_defaults(run=cmd_site_show)

    change = site_commands.add_parser(
        "set", help="change a site setting", description=_site_set_description(detailed("site"))
    )
    change.add_argument("site")
    change.add_argument("name", help="the setting's name")
    change.add_argument("value", help="its new value")
    change.set_defaults(run=cmd_site_set)

    origin_actions = (("add-origin", "allow another origin"), ("remove-origin", "drop an origin"))
    for action, text in origin_actions:
        origin = site_commands.add_parser(
            action, help=f"{text} to embed a site's comments",
            description=f"{text.capitalize()} to embed a site's comments.",
        )  # fmt: skip
        origin.add_argument("site")
        origin.add_argument("origin", help="e.g. https://blog.example")
        origin.set_defaults(run=cmd_site_origin, origin_action=action)

    remove = site_commands.add_parser(
        "remove", help="remove a site and all its comments",
        description="Remove a site with every thread and comment on it. This cannot be undone.",
    )  # fmt: skip
    remove.add_argument("site")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    remove.set_defaults(run=cmd_site_remove)

    show_settings = commands.add_parser(
        "settings", help="print the settings in effect (secrets hidden) and where each comes from",
        description="Print every setting in effect (secrets hidden) and where it comes from:"
        " the environment, the --config file, or the default.",
        epilog=SETTINGS_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    show_settings.set_defaults(run=cmd_settings)

    providers = commands.add_parser(
        "providers", help="list the sign-in providers configured, with their callback URLs",
        description="List the configured sign-in providers and the exact callback URL to register"
        " at each. Configure one with WIDGET_PROVIDER_<NAME>_CLIENT_ID and _CLIENT_SECRET"
        " (built in: github, google, gitlab, microsoft, facebook, x, wordpress, vk, yandex;"
        " mastodon needs only WIDGET_PROVIDER_<NAME>_ENABLED=true), or any other name with"
        " _ISSUER for an OpenID Connect provider; _DISPLAY_NAME and _ICON are optional.",
    )  # fmt: skip
    providers.set_defaults(run=cmd_providers)

    copy = commands.add_parser(
        "copy-data", help="copy every site, thread, comment and like into another database",
        description="Copy everything from the configured database into another, empty one,"
        " keeping every id (so links to #comment-N keep working). To move from SQLite to"
        " PostgreSQL: stop widget, run `widget copy-data --to postgresql://…`, then start it"
        " with WIDGET_DATABASE_URL set to that URL.",
    )  # fmt: skip
    copy.add_argument("--to", required=True, metavar="URL", help="the target database's URL")
    copy.set_defaults(run=cmd_copy_data)

    migrate = commands.add_parser(
        "migrate", help="bring the database schema up to date",
        description="Apply every pending numbered migration to the database schema. The server"
        " does this on start too; run it alone before switching versions.",
    )  # fmt: skip
    migrate.set_defaults(run=cmd_migrate)

    add_admin_commands(commands, _with_storage)
    add_porting_commands(commands, _with_storage, detailed)
    add_backup_commands(commands)
    _accept_config_after_commands(parser)
    return parser


def _accept_config_after_commands(parser: argparse.ArgumentParser) -> None:
    """`--config FILE` after any command too (`widget serve --config widget.toml`): every
    command's help names "the --config file" without saying where it goes. SUPPRESS keeps a
    command from resetting a `--config` given before it."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                command.add_argument(
                    "--config", metavar="FILE", default=argparse.SUPPRESS,
                    help="a TOML file of settings (name = value)",
                )  # fmt: skip
                _accept_config_after_commands(command)


def _site_set_description(with_names: bool) -> str:
    if not with_names:
        return "Change a site setting."
    from widget.sites import SITE_SETTINGS

    return f"Change a site setting: {', '.join(s.name for s in SITE_SETTINGS)}."


def main(argv: Sequence[str] | None = None) -> int:
    import warnings

    # authlib announces its own reorganisation on import, nothing a site owner can act on; it
    # asks for its warnings to be shown always, so the quieting comes after importing it.
    from authlib.deprecate import AuthlibDeprecationWarning

    from widget.logs import configure_logging

    warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
    from_command_line = argv is None
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
    if from_command_line and args.run is cmd_serve:
        # The server's own process only (not a test calling main): see serving.MALLOC_SETTINGS.
        from widget.serving import tune_malloc

        tune_malloc()
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"widget: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        result: int = args.run(settings, args)
        sys.stdout.flush()  # here, so that a reader gone by now is met below, not at exit
    except BrokenPipeError:
        return _reader_went_away()
    except ClientError as exc:
        # A database's refusal names the file and what to do, for the operator running this.
        print(f"widget: {getattr(exc, 'operator_hint', '') or exc.message}", file=sys.stderr)
        return 1
    except SetupError as exc:
        print(f"widget: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"widget: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        # What storage refused and the domain did not word (imported here: --help stays quick).
        from widget.refusals import explain
        from widget.storage import Refused

        if not isinstance(exc, Refused):
            raise
        print(f"widget: {explain(exc).message}", file=sys.stderr)
        return 1
    return result


def _reader_went_away() -> int:
    """`widget export | head`: the reader closed the pipe. Stop quietly, as cat or grep do,
    with status 1 (not all was read), and point stdout at /dev/null so that Python's own flush
    at exit does not print the traceback instead."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 1
