"""Settings refuse bad configuration with a clear message and never reveal secrets."""

import pytest

from app.common.enums import Environment
from app.common.settings import SettingsError, load_settings
from app.database.config import database_url, engine_options


def test_unknown_environment_names_the_allowed_values() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environment="staging")
    message = str(raised.value)
    assert "ENVIRONMENT" in message and "staging" in message
    for member in Environment:
        assert member.value in message


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_deployed_stage_without_password_is_refused(environment: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environment=environment, database_url=None, db_host="db.internal", db_password=None)
    assert "DB_PASSWORD" in str(raised.value)


def test_deployed_stage_without_host_is_refused() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(environment="prod", database_url=None, db_host=None, db_password="pw")
    assert "DB_HOST" in str(raised.value)


def test_local_without_database_uses_embedded_sqlite() -> None:
    settings = load_settings(environment="local", database_url=None, db_host=None, sqlite_path="local.db")
    url = database_url(settings)
    assert url.drivername == "sqlite+aiosqlite"
    assert url.database == "local.db"


def test_deployed_stage_uses_mysql_with_aiomysql() -> None:
    settings = load_settings(environment="dev", database_url=None, db_host="db.internal", db_password="pw")
    url = database_url(settings)
    assert url.drivername == "mysql+aiomysql"
    assert (url.host, url.database) == ("db.internal", settings.db_name)


def test_password_never_appears_in_reprs_or_errors() -> None:
    secret = "s3cr3t-value"  # nosec B105 - a test value
    settings = load_settings(environment="dev", database_url=None, db_host="db.internal", db_password=secret)
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
    for name in ("DB_NAME", "DB_USER", "DB_PORT", "DB_SSL_CA"):
        monkeypatch.setenv(name, "")
    settings = load_settings()
    for field in ("db_name", "db_user", "db_port"):
        assert getattr(settings, field) == getattr(defaults, field), field
    assert settings.db_ssl_ca is None


def test_deployed_stages_keep_sql_parameters_out_of_errors() -> None:
    deployed = load_settings(environment="prod", database_url=None, db_host="db.internal", db_password="pw")
    assert engine_options(database_url(deployed), deployed)["hide_parameters"] is True
    local = load_settings(environment="local", database_url="mysql+aiomysql://u:p@127.0.0.1/app")
    assert engine_options(database_url(local), local)["hide_parameters"] is False
