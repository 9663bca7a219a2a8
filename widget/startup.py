"""What `widget serve` makes sure of before it serves: the port is free, and the application
starts (the database opens, migrates and takes a write; the demo site is there when the demo
is on). A server that cannot run exits at once with a message naming what to fix, rather
than logging a traceback and half-starting."""

from __future__ import annotations

import asyncio
import errno
import socket

from widget.config import Settings
from widget.errors import SetupError

__all__ = ["check_can_serve"]


def check_can_serve(settings: Settings, host: str, port: int) -> None:
    """Raise SetupError (or ConfigError, ClientError) when `widget serve` could not run."""
    _check_port(host, port)
    from widget.app import create_app

    # A throw-away app, started and stopped: the same start-up the server is about to run.
    app = create_app(settings)

    async def start_and_stop() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(start_and_stop())


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
