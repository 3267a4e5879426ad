"""Test set-up: an isolated database per run, migrated once; every test runs in a transaction that is rolled back.

Without TEST_DATABASE_URL the suite runs on a throwaway SQLite file. With it (for example
mysql+aiomysql://user:password@127.0.0.1:3306/app_test) the same suite runs against that server; set
TEST_REQUIRE_DATABASE_URL=1 in CI so a missing URL is an error rather than a quiet fallback to SQLite.
"""

import asyncio
import os
import shutil
import tempfile
{%- if cookiecutter.api_auth == "jwt" %}
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
{%- else %}
from collections.abc import AsyncIterator, Iterator
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}
from dataclasses import dataclass
{%- endif %}
from pathlib import Path
{%- if cookiecutter.api_auth == "jwt" %}
from secrets import token_urlsafe
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}
from typing import TYPE_CHECKING
{%- endif %}

import pytest
from alembic import command
from alembic.config import Config
from httpx import ASGITransport, AsyncClient
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from tests.hanging_host import HangingHost
from tests.moto_secrets import MotoSecretsManager
{%- if cookiecutter.background_jobs == "yes" %}

if TYPE_CHECKING:
    from app.jobs import Job
    from app.jobs.message import JobMessage
    from app.jobs.processing import Outcome
{%- endif %}

PROJECT_ROOT = Path(__file__).resolve().parent.parent
{%- if cookiecutter.background_jobs == "yes" %}
# What tests of deployed stages give as JOB_QUEUE_URL, which those stages require: nothing is ever sent to it.
JOB_QUEUE_URL = "https://sqs.{{ cookiecutter.aws_region }}.amazonaws.com/123456789012/test-jobs"
{%- endif %}
_temporary_dirs: list[str] = []
_import_loop = asyncio.new_event_loop()


def clear_cached_configuration() -> None:
    """Forget settings, engine and session factory so the next use reads the environment again."""
    from app.common.settings import get_settings
    from app.database.config import get_engine, get_sessionmaker

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def database_required() -> bool:
    """True in CI (TEST_REQUIRE_DATABASE_URL): MySQL-only checks must run there, never skip."""
    return os.environ.get("TEST_REQUIRE_DATABASE_URL", "").strip().lower() in {"1", "true", "yes"}


def pytest_configure(config: pytest.Config) -> None:
    """Point the app at the test database before any test module imports it."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not url and database_required():
        raise pytest.UsageError("TEST_REQUIRE_DATABASE_URL is set but TEST_DATABASE_URL is empty.")
    directory = tempfile.mkdtemp(prefix="app-test-")
    _temporary_dirs.append(directory)
    os.environ["ENVIRONMENT"] = "test"
    # The suite's settings come from the environment set here and by each test, never from a developer's .env
{%- if cookiecutter.api_auth == "jwt" %}
    # (a LOCAL_TOKEN_KEY there, which `make run` writes, would make every deployed-stage test refuse to start).
{%- else %}
    # (its database or TLS settings would change what the deployed-stage tests check).
{%- endif %}
    from app.common.settings import Settings

    Settings.model_config["env_file"] = None
    os.environ["DATABASE_URL"] = url or f"sqlite+aiosqlite:///{directory}/test.db"
    # Hypothesis (under schemathesis) keeps a cache; it goes with the run's throwaway files, not into the project.
    os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = directory
    # Mangum binds to the current event loop when main is imported, as on Lambda; give it one to close later.
    asyncio.set_event_loop(_import_loop)
{%- if cookiecutter.api_auth == "jwt" %}
    # One clear failure for a module made before the API was closed, instead of an import error in every test file.
    from app.registry import MODULES, ModuleWithoutAccess, module_access

    try:
        for name in MODULES:
            module_access(name)
    except ModuleWithoutAccess as error:
        raise pytest.UsageError(str(error)) from None
{%- endif %}


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the run's throwaway folder (SQLite file, Hypothesis cache) and close the import-time event loop."""
    _import_loop.close()
    for directory in _temporary_dirs:
        shutil.rmtree(directory, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    """Say which database the run uses (without its password)."""
    from sqlalchemy import make_url

    return f"database: {make_url(os.environ['DATABASE_URL']).render_as_string(hide_password=True)}"


@pytest.fixture
def hanging_host() -> Iterator[HangingHost]:
    """A database host that accepts connections and then never answers."""
    host = HangingHost()
    yield host
    host.close()


@pytest.fixture(scope="session")
def secrets_manager() -> Iterator[MotoSecretsManager]:
    """AWS Secrets Manager (moto) on a loopback port, for the whole run."""
    server = MotoSecretsManager()
    yield server
    server.stop()


@pytest.fixture
def secrets(secrets_manager: MotoSecretsManager, reconfigure: pytest.MonkeyPatch) -> MotoSecretsManager:
    """Secrets Manager (moto), with the app's AWS credentials, region and endpoint pointing at it for one test."""
    for name, value in secrets_manager.environment().items():
        reconfigure.setenv(name, value)
    return secrets_manager


@pytest.fixture(scope="session")
def mysql_checks_required() -> bool:
    """Whether a MySQL-only check that cannot run must fail instead of skipping (CI)."""
    return database_required()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Run async tests on asyncio, the loop uvicorn and Lambda use."""
    return "asyncio"


@pytest.fixture(scope="session")
def model_metadata() -> MetaData:
    """The tables of every module listed in app/registry.py."""
    from app.database.base import Base
    from app.registry import import_models

    import_models()
    return Base.metadata


@pytest.fixture(scope="session")
def alembic_config() -> Config:
    """The project's own alembic.ini."""
    return Config(str(PROJECT_ROOT / "alembic.ini"))


@pytest.fixture(scope="session")
def migrated_database(alembic_config: Config) -> Iterator[None]:
    """Bring the test database to the latest revision for the run, and back to empty afterwards."""
    command.upgrade(alembic_config, "heads")
    yield
    command.downgrade(alembic_config, "base")


@pytest.fixture
def lambda_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """One event loop for the handler, as a Lambda container has (async tests before may have unset it)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture
def reconfigure(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change settings through the environment for one test, then restore the suite's own."""
    clear_cached_configuration()
    yield monkeypatch
    monkeypatch.undo()
    clear_cached_configuration()


@pytest.fixture
async def db_session(migrated_database: None) -> AsyncIterator[AsyncSession]:
    """A session whose work, including what the app commits, is rolled back when the test ends."""
    from app.database.config import get_engine, get_sessionmaker

    engine = get_engine()
    sessionmaker = get_sessionmaker()
    async with engine.connect() as connection:
        transaction = await connection.begin()
        # rollback_only: the app's commit() ends its own unit of work but leaves this outer transaction open.
        sessionmaker.configure(bind=connection, join_transaction_mode="rollback_only")
        async with sessionmaker() as session:
            yield session
        # The factory now points at this connection; the next user builds a fresh one.
        get_sessionmaker.cache_clear()
        if transaction.is_active:
            await transaction.rollback()
    # Pooled connections belong to this test's event loop; the next test gets fresh ones.
    await engine.dispose()


{% if cookiecutter.background_jobs == "yes" -%}
@dataclass(frozen=True)
class JobRunRecord:
    """One job the `jobs` fixture ran: the job, its message and what became of it."""

    job: "Job"
    message: "JobMessage"
    outcome: "Outcome"


@pytest.fixture
def jobs(db_session: AsyncSession, monkeypatch: pytest.MonkeyPatch) -> list[JobRunRecord]:
    """Run every job enqueued without a queue at once, inside enqueue(), through the worker's own processing on the
    test database (so its work is rolled back with the test's), and record each in the list returned."""
    from app.jobs import local

    records: list[JobRunRecord] = []

    async def run_at_once(message: "JobMessage", job_type: "type[Job]") -> None:
        outcome = await local.run_now(message, job_type)
        records.append(JobRunRecord(job_type.model_validate(message.payload), message, outcome))

    monkeypatch.setattr(local, "run_in_process", run_at_once)
    return records


{% endif -%}
@pytest.fixture
def mysql_session(db_session: AsyncSession, mysql_checks_required: bool) -> AsyncSession:
    """The test session when the suite runs on MySQL; otherwise a skip, or a failure where MySQL is required (CI)."""
    if db_session.get_bind().dialect.name != "mysql":
        message = "needs a MySQL server (TEST_DATABASE_URL)"
        if mysql_checks_required:
            pytest.fail(f"{message}, but TEST_DATABASE_URL is not a MySQL URL", pytrace=False)
        pytest.skip(message)
    return db_session


{% if cookiecutter.api_auth == "jwt" -%}
# The subject the `client` fixture calls as.
TEST_SUBJECT = "test-user"
# Signs the run's local tokens (app/auth/local_token.py); a fresh one each run, so no token outlives it. Only tests
# that take `bearer` (or `client`) set it: the deployed stages other tests configure refuse to start with it.
TEST_TOKEN_KEY = token_urlsafe(32)


@pytest.fixture
def bearer(monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, str]]:
    """The Authorization header of a local token, which the app accepts for this test: bearer("alice",
    ["orders/write"]); every module scope by default."""
    from app.auth.local_token import issue_local_token
    from app.common.settings import get_settings
    from app.registry import every_module_scope

    monkeypatch.setenv("LOCAL_TOKEN_KEY", TEST_TOKEN_KEY)
    get_settings.cache_clear()

    def header(subject: str = TEST_SUBJECT, scopes: Iterable[str] | None = None) -> dict[str, str]:
        granted = every_module_scope() if scopes is None else scopes
        token = issue_local_token(TEST_TOKEN_KEY, subject, granted)
        return {"Authorization": f"Bearer {token}"}

    return header


@pytest.fixture
async def anonymous_client(db_session: AsyncSession) -> AsyncIterator[AsyncClient]:
    """An HTTP client without a token that calls the app in-process, sharing the rolled-back transaction."""
    from main import app

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as http_client:
        yield http_client


@pytest.fixture
async def client(db_session: AsyncSession, bearer: Callable[..., dict[str, str]]) -> AsyncIterator[AsyncClient]:
    """An HTTP client calling the app in-process as TEST_SUBJECT with every module scope, sharing the rolled-back
    transaction (anonymous_client has no token; bearer() makes others)."""
    from main import app

    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://testserver", headers=bearer()) as http_client:
        yield http_client
{%- else -%}
@pytest.fixture
async def client(db_session: AsyncSession) -> AsyncIterator[AsyncClient]:
    """An HTTP client that calls the app in-process, sharing the rolled-back transaction."""
    from main import app

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://testserver") as http_client:
        yield http_client
{%- endif %}
