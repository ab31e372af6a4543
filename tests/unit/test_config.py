"""Configuration: defaults, Heroku-style database URLs, bad values."""
from __future__ import annotations

import pytest

from app.config import Config, normalize_database_url


@pytest.mark.parametrize("url,expected", [
    ("postgres://u:p@h:5432/d", "postgresql+psycopg2://u:p@h:5432/d"),
    ("postgresql://u@h/d", "postgresql+psycopg2://u@h/d"),
    ("postgresql+psycopg2://u@h/d", "postgresql+psycopg2://u@h/d"),
    ("sqlite:///x.db", "sqlite:///x.db"),
])
def test_database_urls(url, expected):
    assert normalize_database_url(url) == expected


def test_defaults(monkeypatch):
    for name in ("PORT", "DATABASE_URL", "REDIS_URL", "MAX_UPLOAD_MB", "AUTH_MODE", "ALLOW_PRIVATE_URLS"):
        monkeypatch.delenv(name, raising=False)
    config = Config()
    assert config.PORT == 8000 and config.REDIS_URL == "redis://localhost:6379/0"
    assert config.SQLALCHEMY_DATABASE_URI.startswith("sqlite:///") and config.MAX_UPLOAD_MB == 200
    assert (config.MAX_ROWS, config.MAX_COLUMNS, config.SMART_QUOTA, config.DEEP_QUOTA) == (1_000_000, 500, 3, 1)
    assert config.ALLOW_PRIVATE_URLS is False and config.AUTH_MODE == "open"


def test_env_read(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://x@y/z")
    monkeypatch.setenv("MAX_UPLOAD_MB", "5")
    monkeypatch.setenv("ALLOW_PRIVATE_URLS", "true")
    config = Config()
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg2://x@y/z"
    assert config.MAX_CONTENT_LENGTH == 6 * 1024 * 1024 and config.ALLOW_PRIVATE_URLS is True


def test_bad_integer(monkeypatch):
    monkeypatch.setenv("MAX_ROWS", "lots")
    with pytest.raises(ValueError, match="MAX_ROWS must be an integer"):
        Config()
