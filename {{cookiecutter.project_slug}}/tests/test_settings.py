"""Settings refuse bad configuration with a clear message and never reveal secrets."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.common.enums import Environment
from app.common.settings import Settings, SettingsError, load_settings
from app.database.config import create_engine, create_single_use_engine, database_url
{%- if cookiecutter.background_jobs == "yes" %}
from tests.conftest import JOB_QUEUE_URL
{%- endif %}

# A deployed stage's settings apart from the one a test is about: a host, a password, and TLS without verification.
DEPLOYED = {"database_url": None, "db_host": "db.internal", "db_password": "pw", "db_ssl_trust_any_server": True}
{%- if cookiecutter.background_jobs == "yes" %}
# Deployed stages also refuse to start without a job queue (these tests send nothing to it).
DEPLOYED["job_queue_url"] = JOB_QUEUE_URL
{%- endif %}


def deployed(environment: str = "dev", **overrides: Any) -> dict[str, Any]:
    """Settings for a deployed stage, with overrides."""
    return {"environment": environment, **DEPLOYED, **overrides}


def test_unknown_environment_names_the_allowed_values() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environment="staging")
    message = str(raised.value)
    assert "ENVIRONMENT" in message and "staging" in message
    for member in Environment:
        assert member.value in message


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_deployed_stage_without_a_secret_or_password_is_refused(environment: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(**deployed(environment, db_password=None))
    assert "DB_SECRET_ARN" in str(raised.value) and "DB_PASSWORD" in str(raised.value)


def test_deployed_stage_with_a_secret_needs_no_password() -> None:
    settings = load_settings(**deployed("prod", db_password=None, db_secret_arn="arn:aws:secretsmanager:db"))
    assert settings.db_secret_arn == "arn:aws:secretsmanager:db"


def test_with_a_secret_the_password_setting_is_ignored() -> None:
    settings = load_settings(**deployed(db_password="unused", db_secret_arn="db"))
    assert database_url(settings).password is None


def test_deployed_stage_without_host_is_refused() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(**deployed("prod", db_host=None))
    assert "DB_HOST" in str(raised.value)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_deployed_stage_without_a_way_to_verify_the_server_is_refused(environment: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(**deployed(environment, db_ssl_trust_any_server=False))
    message = str(raised.value)
    assert "DB_SSL_CA" in message and "DB_SSL_TRUST_ANY_SERVER=true" in message and environment in message


def test_deployed_stage_starts_with_a_ca_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    settings = load_settings(**deployed("prod", db_ssl_trust_any_server=False, db_ssl_ca=str(bundle)))
    assert settings.db_ssl_ca == str(bundle)


@pytest.mark.parametrize("environment", ["local", "test"])
def test_local_and_test_runs_need_no_way_to_verify_the_server(environment: str) -> None:
    settings = load_settings(environment=environment, database_url=None, db_host="127.0.0.1", db_password="pw")
    assert settings.db_ssl_ca is None and not settings.db_ssl_trust_any_server


@pytest.mark.parametrize("environment", ["local", "prod"])
def test_a_ca_bundle_that_is_not_a_file_is_refused(environment: str, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(SettingsError) as raised:
        load_settings(**deployed(environment, db_ssl_ca=str(missing)))
    assert "DB_SSL_CA" in str(raised.value) and str(missing) in str(raised.value)


def test_retry_after_defaults_to_after_a_resume_and_must_be_positive() -> None:
    assert load_settings().db_retry_after == 10
    with pytest.raises(SettingsError) as raised:
        load_settings(db_retry_after=0)
    assert "DB_RETRY_AFTER" in str(raised.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [("db_ready_wait", -1), ("db_ready_wait", 26), ("db_migration_wait", -1), ("db_migration_wait", 901)],
)
def test_the_waits_for_a_resuming_database_stay_within_their_functions_timeouts(name: str, value: float) -> None:
    # The probe's wait must end before API Gateway's 30 s; the migration's before its function's 900 s maximum.
    with pytest.raises(SettingsError) as raised:
        load_settings(**{name: value})
    assert name.upper() in str(raised.value)


def test_local_without_database_uses_embedded_sqlite() -> None:
    settings = load_settings(environment="local", database_url=None, db_host=None, sqlite_path="local.db")
    url = database_url(settings)
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == "local.db"


def test_deployed_stage_uses_mysql_with_aiomysql() -> None:
    settings = load_settings(**deployed())
    url = database_url(settings)
    assert url.drivername == "mysql+aiomysql"
    assert (url.host, url.database) == ("db.internal", settings.db_name)


def test_password_never_appears_in_reprs_or_errors() -> None:
    secret = "s3cr3t-value"  # nosec B105 - a test value
    settings = load_settings(**deployed(db_password=secret))
    assert secret not in repr(settings)
    assert secret not in str(settings.model_dump())
    assert secret not in repr(database_url(settings))
    with pytest.raises(SettingsError) as raised:
        load_settings(environment="bogus", db_password=secret)
    assert secret not in str(raised.value)


def test_pool_defaults_fit_lambda_and_can_be_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert defaults.db_pool_recycle < 28800  # MySQL's default wait_timeout
    monkeypatch.setenv("DB_POOL_SIZE", "7")
    assert load_settings().db_pool_size == 7


def test_empty_variables_mean_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unset CI secret arrives as an empty string; it must not replace a default with ''."""
    defaults = load_settings()
    for name in ("DB_NAME", "DB_USER", "DB_PORT", "DB_SSL_CA", "DB_SECRET_ARN", "DB_SSL_TRUST_ANY_SERVER"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    for field in ("db_name", "db_user", "db_port", "db_ssl_trust_any_server"):
        assert getattr(settings, field) == getattr(defaults, field), field
    assert settings.db_ssl_ca is None and settings.db_secret_arn is None


@pytest.mark.anyio
@pytest.mark.parametrize("make_engine", [create_engine, create_single_use_engine], ids=["app", "migrations"])
async def test_deployed_stages_keep_sql_parameters_out_of_errors(
    make_engine: Callable[[Settings], AsyncEngine], tmp_path: Path
) -> None:
    """The app's engine and the migrations' engine alike: a failing statement's error names no row value."""
    row_value = "row-value-4f1a"
    for environment, hidden in (("prod", True), ("local", False)):
        url = f"sqlite+aiosqlite:///{tmp_path / environment}.db"
        engine = make_engine(load_settings(**deployed(environment, database_url=url)))
        try:
            async with engine.connect() as connection:
                with pytest.raises(exc.DBAPIError) as failure:
                    await connection.execute(text("SELECT :value FROM missing_table"), {"value": row_value})
        finally:
            await engine.dispose()
        assert (row_value not in str(failure.value)) is hidden, environment
