"""`widget admin …`: the accounts that moderate comments and manage sites."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from widget.config import Settings
from widget.errors import ClientError

if TYPE_CHECKING:
    from widget.records import Admin
    from widget.storage import Storage

__all__ = ["add_admin_commands"]


def _read_password(args: argparse.Namespace) -> str:
    """From stdin with --password-stdin (for scripts), else asked for twice without echo."""
    from widget.auth.admins import check_new_password

    if args.password_stdin:
        return check_new_password(sys.stdin.readline().rstrip("\r\n"))
    if not sys.stdin.isatty():
        raise ClientError("No terminal to ask for a password on; pipe it in with --password-stdin.")
    first = check_new_password(getpass.getpass("Password: "))
    if getpass.getpass("The same password again: ") != first:
        raise ClientError("The two passwords differ; nothing was changed.")
    return first


async def _checked_sites(storage: Storage, site_ids: list[str] | None) -> list[str] | None:
    if not site_ids:
        return None
    from widget.sites import get_site

    for site_id in site_ids:
        await get_site(storage, site_id)  # raises NotFound with the way to add it
    return sorted(set(site_ids))


def _describe(admin: Admin) -> str:
    scope = "every site" if admin.sites is None else "sites: " + ", ".join(admin.sites)
    return f"{admin.email}  ({scope})"


def cmd_admin_add(settings: Settings, args: argparse.Namespace, run: Any) -> int:
    from widget.auth.admins import Passwords, check_admin_email

    email = check_admin_email(args.email)
    password_hash = Passwords.from_settings(settings).hash(_read_password(args))

    async def work(storage: Storage) -> Admin:
        sites = await _checked_sites(storage, args.site)
        return await storage.add_admin(email, password_hash, sites, datetime.now(UTC))

    admin = run(settings, work)
    print(f"Added admin {_describe(admin)}. Sign in at {settings.public_url}/admin/")
    return 0


def cmd_admin_list(settings: Settings, args: argparse.Namespace, run: Any) -> int:
    async def work(storage: Storage) -> list[Admin]:
        return await storage.list_admins()

    admins = run(settings, work)
    if not admins:
        print("No admins yet. Add one: widget admin add you@example.com")
    for admin in admins:
        print(_describe(admin))
    return 0


def cmd_admin_password(settings: Settings, args: argparse.Namespace, run: Any) -> int:
    from widget.auth.admins import Passwords, check_admin_email

    email = check_admin_email(args.email)
    password_hash = Passwords.from_settings(settings).hash(_read_password(args))

    async def work(storage: Storage) -> Admin | None:
        return await storage.update_admin(email, password_hash=password_hash)

    if run(settings, work) is None:
        raise ClientError(f"There is no admin {email}.")
    print(f"Changed the password of {email}; their sessions have ended.")
    return 0


def cmd_admin_sites(settings: Settings, args: argparse.Namespace, run: Any) -> int:
    from widget.auth.admins import check_admin_email

    email = check_admin_email(args.email)
    if bool(args.site) == args.all:
        raise ClientError("Give either --site (repeatable) or --all.")

    async def work(storage: Storage) -> Admin | None:
        sites = await _checked_sites(storage, args.site)
        return await storage.update_admin(email, sites=sites)

    admin = run(settings, work)
    if admin is None:
        raise ClientError(f"There is no admin {email}.")
    print(_describe(admin))
    return 0


def cmd_admin_token(settings: Settings, args: argparse.Namespace, run: Any) -> int:
    from widget.auth.admins import add_api_token, check_admin_email

    email = check_admin_email(args.email)
    if not 1 <= args.days <= 3660:
        raise ClientError("--days must be between 1 and 3660.")

    async def work(storage: Storage) -> str | None:
        found = await storage.get_admin_login(email)
        if found is None:
            return None
        return await add_api_token(storage, found[0], args.days)

    token = run(settings, work)
    if token is None:
        raise ClientError(f"There is no admin {email}.")
    print(token)
    print(
        f"An API token acting as {email} for {args.days} days (shown once; it ends with their"
        " sessions when their password changes).", file=sys.stderr,
    )  # fmt: skip
    return 0


def cmd_admin_remove(settings: Settings, args: argparse.Namespace, run: Any) -> int:
    from widget.auth.admins import check_admin_email

    email = check_admin_email(args.email)

    async def work(storage: Storage) -> bool:
        return await storage.remove_admin(email)

    if not run(settings, work):
        raise ClientError(f"There is no admin {email}.")
    print(f"Removed admin {email}.")
    return 0


def add_admin_commands(commands: Any, run: Any) -> None:
    """Register `admin …` on the top-level subparsers; `run(settings, work)` opens storage."""
    admin = commands.add_parser(
        "admin", help="add, list and remove admin accounts",
        description="Admins sign in at /admin/ with an email address and a password (stored"
        " with argon2id) to moderate comments and change site settings. An admin may be kept"
        " to some sites with --site.",
    )  # fmt: skip
    actions = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)

    def action(name: str, help: str, handler: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(name, help=help, description=help)
        parser.set_defaults(run=lambda settings, args: handler(settings, args, run))
        return parser

    add = action("add", "add an admin (asks for the password)", cmd_admin_add)
    add.add_argument("email")
    add.add_argument(
        "--site", action="append", metavar="SITE",
        help="only this site (repeatable); without it, every site",
    )  # fmt: skip
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    action("list", "list the admins and their sites", cmd_admin_list)

    password = action("password", "set an admin's password (ends their sessions)",
                      cmd_admin_password)  # fmt: skip
    password.add_argument("email")
    password.add_argument(
        "--password-stdin", action="store_true", help="read the password from stdin"
    )

    sites = action("sites", "change which sites an admin manages", cmd_admin_sites)
    sites.add_argument("email")
    sites.add_argument("--site", action="append", metavar="SITE", help="a site (repeatable)")
    sites.add_argument("--all", action="store_true", help="every site, present and future")

    token = action("token", "print a new API token that acts as this admin (for exports)",
                   cmd_admin_token)  # fmt: skip
    token.add_argument("email")
    token.add_argument("--days", type=int, default=365, help="how long it works (default 365)")

    remove = action("remove", "remove an admin", cmd_admin_remove)
    remove.add_argument("email")
