"""Settings: one table of names, defaults and help; environment over config file over default.

Every setting is read from `WIDGET_<NAME>` in the environment, else from the TOML config file
(`--config FILE` or `WIDGET_CONFIG`), else its default. Secrets are generated on first run and
kept in the data folder, so the embedded default needs no set-up at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_RENDER_CPU_LIMIT_S",
    "SETTINGS",
    "ConfigError",
    "Setting",
    "Settings",
    "load_settings",
]

DEFAULT_RENDER_CPU_LIMIT_S = 0.5  # render_cpu_limit_s: see widget/render_workers.py


class ConfigError(Exception):
    """A setting has a value the server cannot run with; the message says which and why."""


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a positive whole number, got {raw!r}")
    return value


def _parse_networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
    return tuple(ipaddress.ip_network(p, strict=False) for p in parts)


def parse_database_url(raw: str) -> str:
    """A database URL widget can open (see widget.storage.storage_for_url), or "" for the
    default; ValueError otherwise, naming the URL without its user and password."""
    if not raw or raw.startswith(("postgresql://", "postgres://")):
        return raw
    if raw.startswith("sqlite:///") and raw != "sqlite:///":
        return raw
    shown = re.sub(r"//[^/@]*@", "//…@", raw)
    raise ValueError(
        "expected sqlite:///PATH (relative to the folder widget starts in; sqlite:////var/lib/"
        f"widget/widget.db for an absolute path) or postgresql://USER@HOST/DATABASE, got {shown!r}"
    )


def _parse_public_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"expected an http(s) URL such as https://comments.example, got {raw!r}")
    if parts.query or parts.fragment or parts.path not in {"", "/"}:
        raise ValueError("the public URL must be an origin only (no path, query or fragment)")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _parse_choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {raw!r}")
        return value

    return parse


def _parse_whole_number(least: int, most: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if not least <= value <= most:
            raise ValueError(f"expected a whole number from {least} to {most}, got {raw!r}")
        return value

    return parse


def _parse_port(raw: str) -> int:
    value = int(raw)
    if not 0 < value < 65536:
        raise ValueError(f"expected a port number from 1 to 65535, got {raw!r}")
    return value


def _parse_seconds(raw: str) -> float:
    value = float(raw)
    if not 0 < value <= 86400:
        raise ValueError(f"expected a number of seconds above 0 and at most 86400, got {raw!r}")
    return value


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str
    parse: Callable[[str], Any] = str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "./widget-data", "folder for the embedded database and generated secrets"),
    Setting(
        "database_url",
        "",
        "sqlite:///PATH (empty: DATA_DIR/widget.db) or postgresql://USER@HOST/DATABASE",
        parse_database_url,
    ),
    Setting(
        "database_pool_min", "1", "PostgreSQL: connections the pool keeps open", _parse_positive_int
    ),
    Setting(
        "database_pool_max",
        "10",
        "PostgreSQL: most connections the pool opens",
        _parse_positive_int,
    ),
    Setting(
        "public_url",
        "http://comments.localhost:8000",
        "the server's own origin as browsers see it",
        _parse_public_url,
    ),
    Setting(
        "secret_key",
        "",
        "signs every token; empty means generated once and kept in DATA_DIR/secret_key",
        secret=True,
    ),
    Setting(
        "demo",
        "true",
        "serve the demo blog at http://blog.localhost:PORT/ (created on start)",
        _parse_bool,
    ),
    Setting(
        "max_body_chars",
        "10000",
        "longest comment accepted, in characters (longer ones are refused, never cut)",
        _parse_positive_int,
    ),
    Setting(
        "max_request_bytes",
        "262144",
        "largest request body accepted, in bytes (413 beyond)",
        _parse_positive_int,
    ),
    Setting(
        "render_cpu_limit_s",
        str(DEFAULT_RENDER_CPU_LIMIT_S),
        "CPU seconds one comment's text may take to render (in a worker process); a comment"
        " that needs more is refused (422) as too complex",
        _parse_seconds,
    ),
    Setting(
        "max_header_bytes",
        "32768",
        "largest request line and headers accepted, in bytes (431 beyond)",
        _parse_positive_int,
    ),
    Setting(
        "max_header_count",
        "100",
        "most header fields accepted in one request (431 beyond)",
        _parse_positive_int,
    ),
    Setting(
        "header_timeout_s",
        "10",
        "seconds a client has to send a request's line and headers (408 beyond; a connection"
        " that sent nothing is closed)",
        _parse_seconds,
    ),
    Setting(
        "body_timeout_s",
        "30",
        "seconds a client has to send a request's body once its headers are in (408 beyond)",
        _parse_seconds,
    ),
    Setting(
        "connections_per_address",
        "256",
        "connections open at once from one address (an IPv6 /64 counts as one; trusted"
        " proxies are not bounded): past it a new one gets a 503 and is closed, so that one"
        " client cannot hold every connection (a browser opens at most six)",
        _parse_positive_int,
    ),
    Setting(
        "post_rate_per_minute",
        "5",
        "comments one IP address (IPv6: one /64) may post per minute",
        _parse_positive_int,
    ),
    Setting(
        "trusted_proxies",
        "",
        "comma-separated addresses or networks whose X-Forwarded-For is believed",
        _parse_networks,
    ),
    Setting(
        "fragment_cache_bytes",
        "16777216",
        "memory for rendered thread fragments, in bytes",
        _parse_positive_int,
    ),
    Setting(
        "document_brotli_quality",
        "11",
        "brotli quality (0-11) that each new version of a thread's document and fragment is"
        " compressed at again, in the background, for the readers after the first (at 5 or"
        " less: never again, the first compression being at 5)",
        _parse_whole_number(0, 11),
    ),
    Setting(
        "live_readers_per_thread",
        "500",
        "readers of one thread following live updates",
        _parse_positive_int,
    ),
    Setting(
        "live_readers_total",
        "5000",
        "readers following live updates, all threads together",
        _parse_positive_int,
    ),
    Setting(
        "live_readers_per_network",
        "20",
        "live-update streams open at once from one network (an IPv4 address or an IPv6 /64),"
        " so that one client cannot take every reader's place; raise it if many readers share"
        " one address (an office, a campus)",
        _parse_positive_int,
    ),
    Setting(
        "outbound_private_networks",
        "",
        "private networks that webhooks, feeds, Akismet and sign-in providers may reach, such as"
        " 10.0.0.0/8,127.0.0.1 (empty: public addresses only); requests to a Mastodon server"
        " a visitor names stay public-only",
        _parse_networks,
    ),
    Setting("akismet_key", "", "Akismet API key; empty: Akismet is not asked", secret=True),
    Setting("akismet_blog_url", "", "the blog URL registered with Akismet (default: public_url)"),
    Setting("akismet_url", "https://rest.akismet.com/1.1", "Akismet's API"),
    Setting("session_days", "30", "days a sign-in lasts in a browser", _parse_positive_int),
    Setting(
        "email_sign_in",
        "true",
        "commenters may sign in with a link sent to their email address (needs smtp_host)",
        _parse_bool,
    ),
    Setting(
        "passkeys",
        "true",
        "signed-in commenters may add a passkey and sign in with it (WebAuthn, for the host of"
        " public_url)",
        _parse_bool,
    ),
    Setting("admin_session_hours", "12", "hours an admin stays signed in", _parse_positive_int),
    Setting(
        "admin_password_memory_kib",
        "65536",
        "memory one admin password check (argon2id) takes, in KiB; hashes made at another cost"
        " are made again at the next sign-in",
        # argon2 needs 8 KiB for each of its 4 lanes; 4 GiB is far beyond any sensible cost.
        _parse_whole_number(32, 4 * 1024 * 1024),
    ),
    Setting(
        "admin_password_time_cost",
        "3",
        "passes argon2id makes over that memory for each admin password check",
        _parse_whole_number(1, 100),
    ),
    Setting(
        "admin_password_checks_at_once",
        "2",
        "admin password checks run at once (each holds admin_password_memory_kib); further"
        " sign-ins wait their turn",
        _parse_whole_number(1, 64),
    ),
    Setting("smtp_host", "", "the mail server for notifications (empty: no email is sent)"),
    Setting("smtp_port", "587", "its port", _parse_port),
    Setting(
        "smtp_security",
        "starttls",
        "starttls, tls (implicit, port 465) or none",
        _parse_choice("starttls", "tls", "none"),
    ),
    Setting("smtp_username", "", "user name at the mail server (empty: no login)"),
    Setting("smtp_password", "", "password at the mail server", secret=True),
    Setting("mail_from", "", "the From address of notifications (default: widget@ the host)"),
    Setting(
        "outbox_retry_s",
        "30",
        "seconds before the first retry of a failed email or webhook"
        " (each retry waits 4 times longer, up to 6 hours)",
        _parse_seconds,
    ),
    Setting(
        "feed_poll_s",
        "900",
        "seconds between two looks at a site's feed (feed_url) for new posts to email"
        " (each wait varies by a tenth either way, so that servers do not poll in step)",
        _parse_seconds,
    ),
    Setting("log_level", "info", "debug, info, warning or error"),
    Setting(
        "log_format",
        "text",
        "text, or json: one JSON object per line (time, level, message, request_id, ...)"
        " for log collectors",
        _parse_choice("text", "json"),
    ),
    Setting(
        "metrics_token",
        "",
        "the bearer token Prometheus sends to GET /metrics (empty: /metrics is off)",
        secret=True,
    ),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclasses.dataclass(frozen=True)
class Settings:
    """The resolved settings; build with `load_settings` (tests may pass overrides)."""

    data_dir: Path
    database_url: str
    database_pool_min: int
    database_pool_max: int
    public_url: str
    secret_key: str
    demo: bool
    max_body_chars: int
    max_request_bytes: int
    render_cpu_limit_s: float
    max_header_bytes: int
    max_header_count: int
    header_timeout_s: float
    body_timeout_s: float
    connections_per_address: int
    post_rate_per_minute: int
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    fragment_cache_bytes: int
    document_brotli_quality: int
    live_readers_per_thread: int
    live_readers_total: int
    live_readers_per_network: int
    outbound_private_networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    akismet_key: str
    akismet_blog_url: str
    akismet_url: str
    session_days: int
    email_sign_in: bool
    passkeys: bool
    admin_session_hours: int
    admin_password_memory_kib: int
    admin_password_time_cost: int
    admin_password_checks_at_once: int
    smtp_host: str
    smtp_port: int
    smtp_security: str
    smtp_username: str
    smtp_password: str
    mail_from: str
    outbox_retry_s: float
    feed_poll_s: float
    log_level: str
    log_format: str
    metrics_token: str
    # Sign-in providers: name -> their settings (WIDGET_PROVIDER_<NAME>_<FIELD>, or a
    # [providers.<name>] table in the config file); see widget/auth/providers.py.
    providers: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    sources: Mapping[str, str] = dataclasses.field(default_factory=dict, compare=False)

    @property
    def mail_enabled(self) -> bool:
        return bool(self.smtp_host)

    @property
    def sender(self) -> str:
        host = urlsplit(self.public_url).hostname or "localhost"
        return self.mail_from or f"widget <widget@{host}>"

    @property
    def database_url_shown(self) -> str:
        """The database URL with its password (if it holds one) hidden, for printing."""
        parts = urlsplit(self.database_url)
        if parts.password is None:
            return self.database_url
        netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
        return parts._replace(netloc=netloc).geturl()

    @property
    def public_port(self) -> int:
        parts = urlsplit(self.public_url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    def describe(self) -> list[tuple[str, str, str]]:
        """(name, value, where it came from) for every setting, secrets redacted."""
        rows = []
        for setting in SETTINGS:
            value = getattr(self, setting.name)
            if setting.name == "database_url":
                value = self.database_url_shown
            shown = "********" if setting.secret and value else _show(value)
            rows.append((setting.name, shown, self.sources.get(setting.name, "default")))
        return rows


def _show(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_settings(
    config_file: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Resolve every setting. `overrides` (already-typed values) win over everything else."""
    environ = os.environ if environ is None else environ
    config_file = config_file or environ.get("WIDGET_CONFIG") or None
    from_file: dict[str, Any] = {}
    if config_file:
        try:
            from_file = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from exc
        unknown = sorted(set(from_file) - set(_BY_NAME) - {"providers"})
        if unknown:
            raise ConfigError(f"unknown setting(s) in {config_file}: {', '.join(unknown)}")

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        env_name = "WIDGET_" + setting.name.upper()
        if setting.name in overrides:
            values[setting.name] = overrides[setting.name]
            sources[setting.name] = "argument"
            continue
        if env_name in environ:
            raw, source = environ[env_name], env_name
        elif setting.name in from_file:
            raw, source = _toml_to_text(from_file[setting.name]), str(config_file)
        else:
            raw, source = setting.default, "default"
        try:
            values[setting.name] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.name} (from {source}): {exc}") from exc
        sources[setting.name] = source

    data_dir = Path(values["data_dir"]).expanduser()
    values["data_dir"] = data_dir
    if not values["database_url"]:
        values["database_url"] = f"sqlite:///{data_dir / 'widget.db'}"
    if not values["secret_key"]:
        values["secret_key"] = _stored_secret(data_dir)
        sources["secret_key"] = str(data_dir / "secret_key")
    if values["log_level"] not in {"debug", "info", "warning", "error"}:
        level = values["log_level"]
        raise ConfigError(f"log_level must be debug, info, warning or error, not {level!r}")
    values["providers"] = overrides.get("providers") or _provider_settings(
        environ, from_file.get("providers", {})
    )
    return Settings(**values, sources=sources)


def _provider_settings(
    environ: Mapping[str, str], from_file: Mapping[str, Any]
) -> dict[str, dict[str, str]]:
    """Providers from the config file's [providers.NAME] tables and WIDGET_PROVIDER_NAME_FIELD
    variables (the environment wins, field by field). Names are lower-cased."""
    providers: dict[str, dict[str, str]] = {}
    if not isinstance(from_file, Mapping):
        raise ConfigError("providers in the config file must be tables: [providers.github]")
    for name, fields in from_file.items():
        if not isinstance(fields, Mapping):
            raise ConfigError(f"[providers.{name}] must be a table of settings")
        providers[name.lower()] = {k.lower(): _toml_to_text(v) for k, v in fields.items()}
    for key, value in environ.items():
        if key.startswith("WIDGET_PROVIDER_"):
            name, _, field = key.removeprefix("WIDGET_PROVIDER_").partition("_")
            if name and field:
                providers.setdefault(name.lower(), {})[field.lower()] = value
    return providers


def _toml_to_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _stored_secret(data_dir: Path) -> str:
    """The secret kept in the data folder, created (readable by its owner only) on first run.

    Processes starting at once on a new folder must all end up with the one secret, and none
    may read it half-written: each writes a candidate to a file of its own, then links it to
    the final name. A link never replaces a file, so the first wins and the others read it.
    """
    path = data_dir / "secret_key"
    try:
        existing = _read_secret(path)
        if existing:
            return existing
        data_dir.mkdir(parents=True, exist_ok=True)
        candidate = data_dir / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # another process was first
                os.link(candidate, path)
        finally:
            candidate.unlink(missing_ok=True)
        return _read_secret(path)
    except OSError as exc:
        raise ConfigError(
            f"cannot keep a generated secret in {path.absolute()} ({exc.strerror or exc}):"
            f" make {data_dir.absolute()} writable by the user widget runs as, or set"
            " WIDGET_SECRET_KEY"
        ) from exc


def _read_secret(path: Path) -> str:
    """The stored secret, or "" when there is none yet."""
    try:
        secret = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ""
    if not secret:  # never written by widget: signing with "" would let anyone sign
        raise ConfigError(
            f"{path.absolute()} is empty: put the secret back, or delete the file to have a new"
            " one made (sessions and links signed with the old one then stop working)"
        )
    return secret
