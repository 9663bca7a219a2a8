"""Starting up: what every start writes, and what `widget serve` makes sure of before it
serves (the port is free; the database opens, migrates and takes a write). A server that
cannot run exits at once with a message naming what to fix, rather than logging a traceback
and half-starting."""

from __future__ import annotations

import asyncio
import errno
import socket

from widget import demo
from widget.config import Settings
from widget.errors import SetupError
from widget.storage import Storage, storage_for_settings

__all__ = ["check_can_serve", "open_storage"]


async def open_storage(storage: Storage, settings: Settings) -> None:
    """Open the database and make what every start makes: the demo site, when the demo is on.
    Safe when instances start together; closes the storage again if it fails."""
    await storage.open()
    try:
        if settings.demo:
            await demo.ensure_demo_site(storage, settings)
    except BaseException:
        await storage.close()
        raise


def check_can_serve(settings: Settings, host: str, port: int) -> None:
    """Raise SetupError (or ConfigError, ClientError) when `widget serve` could not run."""
    _check_port(host, port)

    async def open_and_close() -> None:
        storage = storage_for_settings(settings)
        await open_storage(storage, settings)
        await storage.close()

    asyncio.run(open_and_close())


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET  # as uvicorn chooses
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn sets it
            sock.bind((host, port))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            raise SetupError(
                f"port {port} on {host} is already in use ({reason}): stop whatever listens"
                " there (another widget?), or choose another port with --port."
            ) from exc
        if exc.errno == errno.EACCES:
            raise SetupError(
                f"not allowed to listen on port {port} ({reason}): ports below 1024 need"
                " privileges; use a higher port behind a reverse proxy."
            ) from exc
        raise SetupError(
            f"cannot listen on {host}:{port} ({reason}): check --host and --port."
        ) from exc
