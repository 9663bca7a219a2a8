"""Settings: defaults, the config file, the environment, and the secret kept on first run."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest

from widget.config import ConfigError, load_settings


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={"WIDGET_DATA_DIR": str(tmp_path)})
    assert settings.public_url == "http://comments.localhost:8000"
    assert settings.database_url == f"sqlite:///{tmp_path / 'widget.db'}"
    assert settings.max_body_chars == 10_000
    assert settings.post_rate_per_minute == 5
    assert settings.demo is True


def test_environment_beats_file_beats_default(tmp_path: Path) -> None:
    config = tmp_path / "widget.toml"
    config.write_text('public_url = "https://file.example"\nmax_body_chars = 500\n'
                      'trusted_proxies = ["10.0.0.0/8", "::1"]\n')  # fmt: skip
    settings = load_settings(
        config,
        environ={"WIDGET_DATA_DIR": str(tmp_path), "WIDGET_PUBLIC_URL": "https://env.example/"},
    )
    assert settings.public_url == "https://env.example"
    assert settings.max_body_chars == 500
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1"),
    )
    assert settings.sources["public_url"] == "WIDGET_PUBLIC_URL"
    assert settings.sources["max_body_chars"] == str(config)


def test_the_secret_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings(environ={"WIDGET_DATA_DIR": str(tmp_path)})
    second = load_settings(environ={"WIDGET_DATA_DIR": str(tmp_path)})
    assert len(first.secret_key) >= 48
    assert first.secret_key == second.secret_key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    given = load_settings(environ={"WIDGET_DATA_DIR": str(tmp_path), "WIDGET_SECRET_KEY": "s3"})
    assert given.secret_key == "s3"
    assert dict((n, v) for n, v, _ in given.describe())["secret_key"] == "********"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WIDGET_PUBLIC_URL", "comments.example", "expected an http(s) URL"),
        ("WIDGET_PUBLIC_URL", "https://c.example/widget", "origin only"),
        ("WIDGET_MAX_BODY_CHARS", "-1", "positive whole number"),
        ("WIDGET_DEMO", "maybe", "true or false"),
        ("WIDGET_TRUSTED_PROXIES", "10.0.0.300", "does not appear to be"),
        ("WIDGET_LOG_LEVEL", "loud", "log_level must be"),
        # A traceback (ValueError from storage) before, at the first command that opened it;
        # the user name and password stay out of the message.
        ("WIDGET_DATABASE_URL", "mysql://u:pw@db/x", "got 'mysql://…@db/x'"),
        ("WIDGET_DATABASE_URL", "sqlite://widget.db", "expected sqlite:///PATH (relative"),
        ("WIDGET_DATABASE_URL", "sqlite:///", "got 'sqlite:///'"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(environ={"WIDGET_DATA_DIR": str(tmp_path), name: value})
