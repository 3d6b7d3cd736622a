"""Settings come from RAPPORT_* variables only, and a bad one fails at start with its name."""

from __future__ import annotations

from pathlib import Path

import pytest

from rapport.platform.errors import SettingsError
from rapport.platform.settings import Settings


def test_defaults_are_the_embedded_sqlite_setup() -> None:
    settings = Settings.from_env({})
    assert settings.is_embedded_database
    assert settings.effective_database_url == f"sqlite:///{Path('rapport-data') / 'platform.db'}"
    assert settings.redis_url is None and settings.retention_days == 7


def test_postgres_urls_use_psycopg() -> None:
    settings = Settings.from_env({"RAPPORT_DATABASE_URL": "postgres://u@h/db", "RAPPORT_RETENTION_DAYS": "3"})
    assert settings.database_url == "postgresql+psycopg://u@h/db"
    assert settings.retention_days == 3 and not settings.is_embedded_database


@pytest.mark.parametrize(("env", "message"), [
    ({"RAPPORT_RETENTION_DAYS": "soon"}, "setting RAPPORT_RETENTION_DAYS: 'soon' is not a whole number"),
    ({"RAPPORT_PAGE_SIZE_MAX": "0"}, "setting RAPPORT_PAGE_SIZE_MAX: 0 is below the minimum 1"),
    ({"RAPPORT_DATABASE_URL": "localhost"}, "setting RAPPORT_DATABASE_URL: 'localhost' is not a URL"),
    ({"RAPPORT_DATABSE_URL": "x"}, "unknown setting RAPPORT_DATABSE_URL"),
])
def test_bad_settings_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    assert str(caught.value).startswith(message)
    assert caught.value.code == "settings.invalid"


LIMIT_SETTINGS = [  # attribute, variable, default, minimum
    ("rate_limit_key_per_minute", "RAPPORT_RATE_LIMIT_KEY_PER_MINUTE", 1200, 0),
    ("rate_limit_org_per_minute", "RAPPORT_RATE_LIMIT_ORG_PER_MINUTE", 6000, 0),
    ("login_attempts_per_15_minutes", "RAPPORT_LOGIN_ATTEMPTS_PER_15_MINUTES", 10, 1),
    ("max_body_bytes", "RAPPORT_MAX_BODY_BYTES", 5_000_000, 1024),
]


@pytest.mark.parametrize(("attribute", "name", "default", "minimum"), LIMIT_SETTINGS)
def test_limit_settings_default_parse_and_keep_their_minimum(
    attribute: str, name: str, default: int, minimum: int
) -> None:
    assert getattr(Settings.from_env({}), attribute) == default
    assert getattr(Settings.from_env({name: str(minimum)}), attribute) == minimum
    assert getattr(Settings.from_env({name: " 4096 "}), attribute) == 4096
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({name: str(minimum - 1)})
    assert str(caught.value) == f"setting {name}: {minimum - 1} is below the minimum {minimum}"
