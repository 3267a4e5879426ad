"""The login with an IAM authentication token (DB_IAM_AUTH, app/database/iam_login.py), through the app's engine as a
request meets it: the token is sent only inside verified TLS, as the answer to the server's switch to
mysql_clear_password, for DB_USER; a server without TLS gets nothing; every new connection carries a token made as it
opens; a token that cannot be made is a 503 naming what is missing. And the settings that cannot go with it."""

import logging
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme

from app.common.settings import SettingsError, load_settings
from app.database import iam_login
from app.database.config import connect_options, database_url
from app.database.iam_login import IamLogin, IamTokenUnavailableError
{%- if cookiecutter.background_jobs == "yes" %}
from tests.conftest import JOB_QUEUE_URL
{%- endif %}
from tests.database_routes import readiness_and_read_statuses
from tests.downgrading_server import DowngradingServer
from tests.iam_login_server import IamLoginServer

pytestmark = pytest.mark.anyio

USER = "app_iam"
SECRET_ACCESS_KEY = "sentinel-secret-key-never-logged"  # nosec B105 - a test value
SESSION_TOKEN = "sentinel-session-token-never-logged"  # nosec B105 - a test value
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
    "AWS_SESSION_TOKEN": SESSION_TOKEN,
    "AWS_REGION": "ap-northeast-2",
}
PASSWORD = "sentinel-password-never-shown"  # nosec B105 - a test value
URL_WITH_PASSWORD = f"mysql+aiomysql://app:{PASSWORD}@db.internal/app"
MORNING = datetime(2026, 11, 26, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def authority() -> trustme.CA:
    """A throwaway certificate authority."""
    return trustme.CA()


@pytest.fixture
def aurora(authority: trustme.CA) -> Iterator[IamLoginServer]:
    """A loopback stand-in for Aurora with an IAM user, whose certificate for 127.0.0.1 the authority issued."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    server = IamLoginServer(context)
    yield server
    server.close()


def use_iam_login(reconfigure: pytest.MonkeyPatch, port: int, settings: dict[str, str]) -> None:
    """The app logs in to 127.0.0.1:port as USER with DB_IAM_AUTH, and the credentials Lambda would give it."""
    reconfigure.delenv("DATABASE_URL")
    environment = {"DB_IAM_AUTH": "true", "DB_HOST": "127.0.0.1", "DB_PORT": str(port), "DB_USER": USER}
    for name, value in {**environment, **CREDENTIALS, **settings}.items():
        reconfigure.setenv(name, value)


def token_query(token: str, port: int) -> dict[str, list[str]]:
    """The token's query, once its address is checked: the token is for 127.0.0.1:port."""
    parts = urlsplit(f"//{token}")
    assert (parts.hostname, parts.port, parts.path) == ("127.0.0.1", port, "/")
    return parse_qs(parts.query, strict_parsing=True)


async def test_the_token_goes_only_inside_verified_tls_as_the_clear_text_answer_for_db_user(
    aurora: IamLoginServer,
    authority: trustme.CA,
    reconfigure: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
{%- if cookiecutter.background_jobs == "yes" %}
    deployed = {"ENVIRONMENT": "prod", "DB_SSL_CA": str(bundle), "JOB_QUEUE_URL": JOB_QUEUE_URL}
    use_iam_login(reconfigure, aurora.port, deployed)
{%- else %}
    use_iam_login(reconfigure, aurora.port, {"ENVIRONMENT": "prod", "DB_SSL_CA": str(bundle)})
{%- endif %}
    with caplog.at_level(logging.WARNING):
        assert await readiness_and_read_statuses() == [503, 503]  # the stand-in denies every login
    logins = aurora.logins
    assert len(logins) == 2, "the app never logged in to the stand-in through TLS: this test proves nothing"
    for login in logins:
        assert login.user == USER and login.clear_text_password is not None
        query = token_query(login.clear_text_password, aurora.port)
        assert (query["Action"], query["DBUser"], query["X-Amz-Expires"]) == (["connect"], [USER], ["900"])
        assert query["X-Amz-Security-Token"] == [SESSION_TOKEN]
        # Before TLS, the client sent its TLS request and nothing else: no user name, no token.
        assert USER.encode() not in aurora.received and b"Action=connect" not in aurora.received
        assert login.clear_text_password not in caplog.text
    assert SECRET_ACCESS_KEY not in caplog.text and SESSION_TOKEN not in caplog.text


async def test_a_connection_opened_after_a_tokens_lifetime_carries_a_fresh_token(
    aurora: IamLoginServer, reconfigure: pytest.MonkeyPatch
) -> None:
    use_iam_login(reconfigure, aurora.port, {})
    opening_times = iter([MORNING, MORNING + timedelta(minutes=16)])
    reconfigure.setattr(iam_login, "utc_now", lambda: next(opening_times))
    assert await readiness_and_read_statuses() == [503, 503]
    tokens = [login.clear_text_password or "" for login in aurora.logins]
    dates = [token_query(token, aurora.port)["X-Amz-Date"] for token in tokens]
    assert dates == [["20261126T090000Z"], ["20261126T091600Z"]]
    assert tokens[0] != tokens[1]


async def test_a_server_that_offers_no_tls_gets_nothing_even_locally(
    reconfigure: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # ENVIRONMENT=test without DB_SSL_CA: a password login would carry on without TLS here; the IAM login never does.
    impostor = DowngradingServer()
    try:
        use_iam_login(reconfigure, impostor.port, {})
        with caplog.at_level(logging.WARNING):
            assert await readiness_and_read_statuses() == [503, 503]
        assert impostor.greeted >= 2, "the app never reached the impostor: this test proves nothing"
        assert impostor.received == b"", "the client sent a login packet to a server that does not offer TLS"
    finally:
        impostor.close()
    assert "does not offer TLS" in caplog.text


@pytest.mark.parametrize(
    ("removed", "named"),
    [
        (["AWS_REGION"], "AWS_REGION (or AWS_DEFAULT_REGION)"),
        (["AWS_ACCESS_KEY_ID"], "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        (["AWS_SECRET_ACCESS_KEY", "AWS_REGION"], "AWS_REGION (or AWS_DEFAULT_REGION) and AWS_ACCESS_KEY_ID"),
    ],
    ids=["no region", "no access key", "neither"],
)
async def test_a_token_that_cannot_be_made_is_a_503_naming_what_is_missing(
    aurora: IamLoginServer,
    reconfigure: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    removed: list[str],
    named: str,
) -> None:
    use_iam_login(reconfigure, aurora.port, {})
    for name in [*removed, "AWS_DEFAULT_REGION"]:
        reconfigure.delenv(name, raising=False)
    with caplog.at_level(logging.WARNING):
        assert await readiness_and_read_statuses() == [503, 503]
    assert "IamTokenUnavailableError" in caplog.text and named in caplog.text
    assert SECRET_ACCESS_KEY not in caplog.text and SESSION_TOKEN not in caplog.text
    assert aurora.greeted == 0, "a connection was opened without a token"


def test_the_region_may_come_from_aws_default_region() -> None:
    environment = {**CREDENTIALS, "AWS_DEFAULT_REGION": "eu-west-1"}
    del environment["AWS_REGION"]
    token = IamLogin(environment).token("127.0.0.1", 3306, USER)
    assert token_query(token, 3306)["X-Amz-Credential"][0].split("/")[2] == "eu-west-1"
    with pytest.raises(IamTokenUnavailableError, match="AWS_REGION"):
        IamLogin({**environment, "AWS_DEFAULT_REGION": ""}).token("127.0.0.1", 3306, USER)


# Settings of a deployed stage with the IAM login apart from the one a test is about.
IAM_DEPLOYED = {
    "environment": "prod",
    "database_url": None,
    "db_host": "app.cluster-c1a2b3c4d5e6.ap-northeast-2.rds.amazonaws.com",
    "db_iam_auth": True,
    "db_ssl_trust_any_server": True,
{%- if cookiecutter.background_jobs == "yes" %}
    "job_queue_url": JOB_QUEUE_URL,
{%- endif %}
}


def test_a_deployed_stage_with_the_iam_login_needs_no_password_and_always_requires_tls() -> None:
    settings = load_settings(**IAM_DEPLOYED)
    url = database_url(settings)
    assert url.password is None and url.username == settings.db_user
    assert connect_options(url, settings)["require_tls"] is True
    local = load_settings(**{**IAM_DEPLOYED, "environment": "local", "db_ssl_trust_any_server": False})
    assert connect_options(database_url(local), local)["require_tls"] is True


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"db_password": PASSWORD}, "DB_PASSWORD"),
        ({"db_secret_arn": "arn:aws:secretsmanager:db"}, "DB_SECRET_ARN"),
        ({"database_url": URL_WITH_PASSWORD}, "DATABASE_URL"),
        (
            {"db_password": PASSWORD, "db_secret_arn": "db", "database_url": URL_WITH_PASSWORD},
            "DATABASE_URL, DB_PASSWORD, DB_SECRET_ARN",
        ),
    ],
    ids=["password", "secret", "url", "all three"],
)
@pytest.mark.parametrize("environment", ["local", "prod"])
def test_the_iam_login_refuses_a_password_a_secret_or_a_url(
    given: dict[str, str], named: str, environment: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(**{**IAM_DEPLOYED, "environment": environment, **given})
    message = str(raised.value)
    assert {% if cookiecutter.language == "ko" %}"DB_IAM_AUTH가 true"{% else %}"DB_IAM_AUTH is true"{% endif %} in message
    assert named in message and "DB_IAM_AUTH=false" in message and PASSWORD not in message


@pytest.mark.parametrize("environment", ["local", "test"])
def test_the_iam_login_refuses_the_embedded_sqlite_database(environment: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(**{**IAM_DEPLOYED, "environment": environment, "db_host": None})
    message = str(raised.value)
    assert "DB_IAM_AUTH" in message and "DB_HOST" in message and "SQLite" in message


PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_and_env_example_say_how_to_turn_it_on_and_what_the_database_user_needs() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    rows = [line for line in readme.splitlines() if line.startswith("| `DB_IAM_AUTH`")]
    assert len(rows) == 1, "the settings table has no DB_IAM_AUTH row"
    assert "AWSAuthenticationPlugin AS 'RDS'" in rows[0] and "REQUIRE SSL" in rows[0] and "rds-db:connect" in rows[0]
    assert "# DB_IAM_AUTH=true" in (PROJECT_ROOT / ".env.example").read_text().splitlines()
