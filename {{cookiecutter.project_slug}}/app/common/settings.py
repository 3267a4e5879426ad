"""Application settings, read once from the environment and an optional .env file."""

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.common import messages
from app.common.enums import Environment

# A browser origin as browsers send it: scheme, lowercase host and optional port, nothing after (an origin never ends
# with a slash), compared as text; infra/deploy-settings.js applies the same rule. `*` is refused: name the front ends
# that may call the API.
ORIGIN = re.compile(r"https?://[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?")
{%- if cookiecutter.api_auth == "jwt" %}
LOCAL_TOKEN_KEY_MIN_LENGTH = 32
{%- endif %}


class SettingsError(RuntimeError):
    """The configuration cannot start the application; the message says which variable to fix."""


class Settings(BaseSettings):
    """Every setting the application reads. Secrets are SecretStr so they never appear in reprs or logs."""

    # env_ignore_empty: an empty variable (an unset CI secret, `DB_HOST=` in .env) means "use the default".
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", env_ignore_empty=True)

    environment: Environment = Environment.LOCAL
{#- The project name as a Python string literal (single-line, checked by the pre-gen hook), quoted the way black
    and ruff format would quote it. #}
{%- set name = cookiecutter.project_name | replace('\\', '\\\\') %}
{%- if '"' in name and "'" not in name %}
    app_name: str = '{{ name }}'
{%- else %}
    app_name: str = "{{ name | replace('"', '\\"') }}"
{%- endif %}

    # A full SQLAlchemy URL overrides the DB_* parts (tests and one-off tools use it).
    database_url: SecretStr | None = None
    # Used when ENVIRONMENT is local or test and no DB_HOST is given: an embedded SQLite file.
    sqlite_path: str = "local.db"

    db_host: str | None = None
    db_port: int = Field(default={{ cookiecutter.db_port }}, ge=1, le=65535)
    db_name: str = "{{ cookiecutter.db_name }}"
    db_user: str = "{{ cookiecutter.db_user }}"
    db_password: SecretStr | None = None
    # A Secrets Manager secret (ARN or name) whose SecretString is JSON with "password" and optionally "username", as
    # RDS-managed secrets are. When set, the login comes from it (fetched on the first connection, fetched again when
    # MySQL refuses it after a rotation) and DB_PASSWORD is ignored; with DATABASE_URL too, it replaces the URL's.
    db_secret_arn: str | None = None
    # Log in as DB_USER with an IAM authentication token instead of a password (Aurora or RDS with IAM database
    # authentication, directly or through RDS Proxy): made for each new connection from the credentials Lambda gives
    # the function, for AWS_REGION, and sent only inside TLS. Excludes DB_PASSWORD, DB_SECRET_ARN and DATABASE_URL.
    db_iam_auth: bool = False
    # The migration function alone: before migrating, make sure this user exists for the API's IAM login, with data
    # rights only on the database (app/database/app_user.py). Set beside DB_IAM_AUTH's stage (infra/serverless.yml).
    db_app_user: str | None = None
    # A CA bundle file (e.g. the CAs of RDS and RDS Proxy, from infra/Makefile's ca-bundle) to verify the MySQL
    # server's certificate and host name; a relative path starts from the working directory (on Lambda, the package
    # root).
    db_ssl_ca: str | None = None
    # Without DB_SSL_CA, connections are encrypted but accept any server certificate, so a man in the middle can read
    # the password. Deployed stages refuse that unless this says so explicitly; local and test runs allow it.
    db_ssl_trust_any_server: bool = False
    # Seconds a client is told to wait (Retry-After) when a request answers 503 because the database is unreachable.
    # 10: a request during an Aurora Serverless v2 resume (about 15 s) gets its 503 after DB_CONNECT_TIMEOUT (5 s), so
    # the retry lands about when the resume ends; one more covers a resume after a day paused (about 30 s).
    db_retry_after: int = Field(default=10, ge=1, le=300)
    # Seconds GET /health/ready keeps trying a database that does not answer (e.g. resuming from a pause) before its
    # 503: below the function's 29 s timeout and API Gateway's 30 s, with room for the last attempt's cleanup.
    db_ready_wait: float = Field(default=20, ge=0, le=25)
    # Seconds the migration function waits for the database to answer before migrating (a resume, a restart). On
    # Lambda the invocation's remaining time, less what the migration itself needs, shortens it (migrate.py).
    db_migration_wait: float = Field(default=180, ge=0, le=900)

    # Pool defaults fit AWS Lambda, where one container serves one request at a time: one pooled connection and no
    # overflow. A long-running uvicorn process can raise DB_POOL_SIZE.
    db_pool_size: int = Field(default=1, ge=1)
    db_max_overflow: int = Field(default=0, ge=0)
    # Seconds to wait for a pooled connection.
    db_pool_timeout: float = Field(default=10, gt=0)
    # Below MySQL's default wait_timeout (8 hours) and RDS Proxy's idle timeout, so the server never closes a pooled
    # connection first; the idle ping below catches the rest (e.g. a Lambda container thawed after a long freeze).
    db_pool_recycle: int = Field(default=1800, gt=0)
    # Seconds a pooled connection may sit unused before it is pinged when handed out (0: on every checkout). Longer
    # than the gaps between requests under load, shorter than any idle timeout of a proxy or server.
    db_ping_after_idle: float = Field(default=10, ge=0)
    # Seconds a new connection may take: TCP connect, TLS and login together (also bounds the readiness probe).
    db_connect_timeout: int = Field(default=5, ge=1)

    # Origins of browser front ends allowed to call the API from another origin, comma-separated (e.g.
    # https://app.example.com); empty means same-origin only. Deployed stages configure the HTTP API's CORS from the
    # deploying shell's variable instead (infra/deploy-settings.js): the function never receives it.
    cors_allowed_origins: str = ""
{%- if cookiecutter.api_auth == "jwt" %}
    # Signs the tokens `make token` prints, for local runs and tests only (app/auth/local_token.py); generated into
    # .env on first use, never committed or packaged. Deployed stages refuse to start with it.
    local_token_key: SecretStr | None = None
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}
    # The SQS queue enqueue() sends jobs to (app/jobs). Empty: jobs run inside this process, after the response during a
    # request (make run, tests); deployed stages refuse that, since Lambda freezes the function after its answer.
    job_queue_url: str = ""
    # Where the worker (worker.py) sends a message it refuses (not JSON, an unknown job, a payload that fails
    # validation), so that it is kept without being retried.
    job_dead_letter_queue_url: str = ""
    # Seconds one SendMessage may take, connection included.
    job_send_timeout: float = Field(default=5, gt=0, le=60)
{%- endif %}

    @field_validator("environment", mode="before")
    @classmethod
    def _known_environment(cls, value: Any) -> Any:
        allowed = [member.value for member in Environment]
        if isinstance(value, str) and value.strip().lower() not in allowed:
            raise ValueError(messages.UNKNOWN_ENVIRONMENT.format(value=value, allowed=", ".join(allowed)))
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _deployed_stages_need_mysql(self) -> "Settings":
        environment = self.environment.value
        if self.db_iam_auth:
            passwords: dict[str, object] = {
                "DATABASE_URL": self.database_url,
                "DB_PASSWORD": self.db_password,
                "DB_SECRET_ARN": self.db_secret_arn,
            }
            if names := [name for name, value in passwords.items() if value is not None]:
                raise ValueError(messages.IAM_AUTH_WITH_PASSWORD.format(names=", ".join(names)))
            if not self.db_host:
                raise ValueError(messages.IAM_AUTH_WITHOUT_HOST)
        if self.environment.is_deployed and self.database_url is None:
            if not self.db_host:
                raise ValueError(messages.MISSING_DB_HOST.format(environment=environment))
            has_password = self.db_password is not None and bool(self.db_password.get_secret_value())
            if not self.db_iam_auth and not self.db_secret_arn and not has_password:
                raise ValueError(messages.MISSING_DB_CREDENTIALS.format(environment=environment))
        if self.db_ssl_ca is not None and not Path(self.db_ssl_ca).is_file():
            raise ValueError(messages.MISSING_DB_SSL_CA_FILE.format(path=self.db_ssl_ca, cwd=Path.cwd()))
        if self.environment.is_deployed and self.db_ssl_ca is None and not self.db_ssl_trust_any_server:
            raise ValueError(messages.UNVERIFIED_DB_TLS.format(environment=environment))
{%- if cookiecutter.api_auth == "jwt" %}
        if self.local_token_key is not None:
            if self.environment.is_deployed:
                raise ValueError(messages.LOCAL_TOKEN_KEY_DEPLOYED.format(environment=environment))
            if len(self.local_token_key.get_secret_value()) < LOCAL_TOKEN_KEY_MIN_LENGTH:
                raise ValueError(messages.LOCAL_TOKEN_KEY_SHORT.format(length=LOCAL_TOKEN_KEY_MIN_LENGTH))
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}
        if self.environment.is_deployed and not self.job_queue_url:
            raise ValueError(messages.MISSING_JOB_QUEUE_URL.format(environment=environment))
{%- endif %}
        for origin in self.cors_origins:
            if not ORIGIN.fullmatch(origin):
                raise ValueError(messages.INVALID_CORS_ORIGIN.format(origin=origin))
        return self

    @property
    def cors_origins(self) -> list[str]:
        """CORS_ALLOWED_ORIGINS as a list."""
        return [origin.strip() for origin in self.cors_allowed_origins.split(",") if origin.strip()]

    @property
    def uses_embedded_database(self) -> bool:
        """True when the app runs on the local SQLite file instead of MySQL."""
        return self.database_url is None and not self.db_host


def load_settings(**overrides: Any) -> Settings:
    """Build settings, turning validation errors into one readable SettingsError (no secret values in it)."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']).upper() or 'SETTINGS'}: {item['msg']}"
            for item in error.errors(include_input=False)
        )
        raise SettingsError(f"{messages.INVALID_SETTINGS}: {details}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call get_settings.cache_clear() after changing the environment."""
    return load_settings()
