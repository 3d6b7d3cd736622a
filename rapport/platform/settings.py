"""The one typed settings object, read from ``RAPPORT_*`` environment variables.

Nothing else in Rapport reads ``os.environ``. A missing or malformed setting fails at
start with its name (``settings.invalid``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Mapping

from rapport.platform.errors import SettingsError


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("rapport-data")
    database_url: str | None = None
    redis_url: str | None = None
    retention_days: int = 7
    page_size_default: int = 50
    page_size_max: int = 200
    bulk_batch_size: int = 500
    job_max_retries: int = 3
    background_threshold_rows: int = 20_000
    rate_limit_key_per_minute: int = 1200  # 0 = unlimited
    rate_limit_org_per_minute: int = 6000  # 0 = unlimited
    login_attempts_per_15_minutes: int = 10
    max_body_bytes: int = 5_000_000
    #: script worker processes per Rapport process (docs/scripts.md)
    sandbox_workers: int = 2
    #: the governor limits per transaction, each the setting ``sandbox.limit.<name>``
    sandbox_limit_cpu_time: int = 2_000  # ms
    sandbox_limit_wall_time: int = 10_000  # ms
    sandbox_limit_queries: int = 100
    sandbox_limit_rows: int = 10_000
    sandbox_limit_dml_rows: int = 1_000
    sandbox_limit_memory: int = 256 * 1024 * 1024  # bytes per worker process
    sandbox_limit_output: int = 65_536  # bytes of log output
    sandbox_limit_depth: int = 5  # triggers fired by scripts' own writes, nested
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def effective_database_url(self) -> str:
        """PostgreSQL when configured, else the embedded SQLite platform file."""
        return self.database_url or f"sqlite:///{self.data_dir / 'platform.db'}"

    @property
    def is_embedded_database(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        unknown = sorted(k for k in env if k.startswith("RAPPORT_") and k not in KNOWN
                         and not k.startswith("RAPPORT_TEST_"))
        if unknown:
            raise SettingsError(f"unknown setting {', '.join(unknown)}; known settings are {', '.join(sorted(KNOWN))}")
        defaults = cls()
        return cls(
            data_dir=Path(env.get("RAPPORT_DATA_DIR", str(defaults.data_dir))),
            database_url=_url(env, "RAPPORT_DATABASE_URL"),
            redis_url=_url(env, "RAPPORT_REDIS_URL"),
            retention_days=_int(env, "RAPPORT_RETENTION_DAYS", defaults.retention_days, 0),
            page_size_default=_int(env, "RAPPORT_PAGE_SIZE_DEFAULT", defaults.page_size_default, 1),
            page_size_max=_int(env, "RAPPORT_PAGE_SIZE_MAX", defaults.page_size_max, 1),
            bulk_batch_size=_int(env, "RAPPORT_BULK_BATCH_SIZE", defaults.bulk_batch_size, 1),
            job_max_retries=_int(env, "RAPPORT_JOB_MAX_RETRIES", defaults.job_max_retries, 0),
            background_threshold_rows=_int(
                env, "RAPPORT_BACKGROUND_THRESHOLD_ROWS", defaults.background_threshold_rows, 0
            ),
            rate_limit_key_per_minute=_int(
                env, "RAPPORT_RATE_LIMIT_KEY_PER_MINUTE", defaults.rate_limit_key_per_minute, 0
            ),
            rate_limit_org_per_minute=_int(
                env, "RAPPORT_RATE_LIMIT_ORG_PER_MINUTE", defaults.rate_limit_org_per_minute, 0
            ),
            login_attempts_per_15_minutes=_int(
                env, "RAPPORT_LOGIN_ATTEMPTS_PER_15_MINUTES", defaults.login_attempts_per_15_minutes, 1
            ),
            max_body_bytes=_int(env, "RAPPORT_MAX_BODY_BYTES", defaults.max_body_bytes, 1024),
            sandbox_workers=_int(env, "RAPPORT_SANDBOX_WORKERS", defaults.sandbox_workers, 1),
            **{name: _int(env, f"RAPPORT_{name.upper()}", getattr(defaults, name), minimum)
               for name, minimum in SANDBOX_LIMITS.items()},
            extra={k: v for k, v in env.items() if k.startswith("RAPPORT_TEST_")},
        )


KNOWN = frozenset({
    "RAPPORT_DATA_DIR", "RAPPORT_DATABASE_URL", "RAPPORT_REDIS_URL", "RAPPORT_RETENTION_DAYS",
    "RAPPORT_PAGE_SIZE_DEFAULT", "RAPPORT_PAGE_SIZE_MAX", "RAPPORT_BULK_BATCH_SIZE", "RAPPORT_JOB_MAX_RETRIES",
    "RAPPORT_BACKGROUND_THRESHOLD_ROWS",
    "RAPPORT_RATE_LIMIT_KEY_PER_MINUTE", "RAPPORT_RATE_LIMIT_ORG_PER_MINUTE",
    "RAPPORT_LOGIN_ATTEMPTS_PER_15_MINUTES", "RAPPORT_MAX_BODY_BYTES", "RAPPORT_SANDBOX_WORKERS",
    "RAPPORT_SANDBOX_LIMIT_CPU_TIME", "RAPPORT_SANDBOX_LIMIT_WALL_TIME", "RAPPORT_SANDBOX_LIMIT_QUERIES",
    "RAPPORT_SANDBOX_LIMIT_ROWS", "RAPPORT_SANDBOX_LIMIT_DML_ROWS", "RAPPORT_SANDBOX_LIMIT_MEMORY",
    "RAPPORT_SANDBOX_LIMIT_OUTPUT", "RAPPORT_SANDBOX_LIMIT_DEPTH",
})
#: the sandbox's limit settings and their minimums (a worker needs some memory to start at all)
SANDBOX_LIMITS = {
    "sandbox_limit_cpu_time": 1, "sandbox_limit_wall_time": 1, "sandbox_limit_queries": 0,
    "sandbox_limit_rows": 0, "sandbox_limit_dml_rows": 0, "sandbox_limit_memory": 64 * 1024 * 1024,
    "sandbox_limit_output": 0, "sandbox_limit_depth": 1,
}


def _url(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    if "://" not in value:
        raise SettingsError(f"setting {name}: {value!r} is not a URL (expected e.g. scheme://host/db)")
    return _normalise_driver(value)


def _normalise_driver(url: str) -> str:
    # Users write postgres:// or postgresql://; Rapport talks to PostgreSQL through psycopg 3.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _int(env: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"setting {name}: {raw!r} is not a whole number") from None
    if value < minimum:
        raise SettingsError(f"setting {name}: {value} is below the minimum {minimum}")
    return value
