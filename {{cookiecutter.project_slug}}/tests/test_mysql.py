"""What only a MySQL server can show: connections encrypted whenever it offers TLS and fully closed when closed,
pooled connections checked and cleaned without a round trip per request, tables in utf8mb4."""

import asyncio
import ssl
from pathlib import Path
from typing import Any

import botocore  # type: ignore[import-untyped]
import pytest
from sqlalchemy import MetaData, text
from sqlalchemy.dialects.mysql.aiomysql import AsyncAdapt_aiomysql_connection
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.settings import get_settings, load_settings
from app.database.config import connect_options, create_engine, database_url
from app.database.mysql_connection import MySQLConnection
{%- if cookiecutter.background_jobs == "yes" %}
from tests.conftest import JOB_QUEUE_URL
{%- endif %}

pytestmark = pytest.mark.anyio


# Deployed-stage settings apart from TLS.
DEPLOYED = {"environment": "dev", "database_url": None, "db_host": "db.internal", "db_password": "pw"}
{%- if cookiecutter.background_jobs == "yes" %}
# Deployed stages also refuse to start without a job queue (these tests send nothing to it).
DEPLOYED["job_queue_url"] = JOB_QUEUE_URL
{%- endif %}


def test_mysql_connections_verify_the_server_with_a_ca_bundle() -> None:
    # Any PEM bundle will do to build the context; botocore (a dev dependency) ships one.
    bundle = Path(botocore.__file__).with_name("cacert.pem")
    settings = load_settings(**DEPLOYED, db_ssl_ca=str(bundle))
    context = connect_options(database_url(settings), settings)["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname


def test_mysql_connections_stay_encrypted_but_unverified_when_trusting_any_server() -> None:
    settings = load_settings(**DEPLOYED, db_ssl_trust_any_server=True)
    context = connect_options(database_url(settings), settings)["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_NONE and not context.check_hostname


async def test_mysql_connection_is_encrypted_when_the_server_offers_tls(
    mysql_session: AsyncSession, mysql_checks_required: bool
) -> None:
    have_ssl = (await mysql_session.execute(text("SHOW VARIABLES LIKE 'have_ssl'"))).all()
    if have_ssl and have_ssl[0][1] != "YES":
        message = f"this MySQL server does not offer TLS (have_ssl={have_ssl[0][1]})"
        if mysql_checks_required:
            pytest.fail(f"{message}; CI's server must, as RDS and MySQL 8 do", pytrace=False)
        pytest.skip(message)
    cipher = (await mysql_session.execute(text("SHOW SESSION STATUS LIKE 'Ssl_cipher'"))).one()[1]
    assert cipher, "the connection is not encrypted although the server offers TLS"


async def test_closing_a_connection_closes_its_socket_before_returning(mysql_session: AsyncSession) -> None:
    """A short-lived event loop (asyncio.run in Alembic or a script) can end right after closing its connections;
    a TLS shutdown still under way would then leave the socket open."""
    engine = create_engine(get_settings())
    async with engine.connect() as connection:
        driver_connection = (await connection.get_raw_connection()).driver_connection
        assert driver_connection is not None
        socket = driver_connection._writer.transport.get_extra_info("socket")
        assert socket.fileno() != -1
    await engine.dispose()
    assert socket.fileno() == -1


async def test_mysql_tables_store_full_unicode(mysql_session: AsyncSession, model_metadata: MetaData) -> None:
    if not model_metadata.tables:
        pytest.skip("no model tables yet")
    status = (await mysql_session.execute(text("SHOW TABLE STATUS"))).mappings().all()
    collations = {row["Name"]: row["Collation"] for row in status}
    for table in model_metadata.tables:
        assert collations[table].startswith("utf8mb4_"), (table, collations[table])
{%- if cookiecutter.api_auth == "jwt" %}


async def test_owner_subjects_are_compared_byte_for_byte(mysql_session: AsyncSession, model_metadata: MetaData) -> None:
    """Every owner_subject column has a binary collation: the default one would let "ALICE" or "Alicé" list alice's
    rows (app/database/types.py). `alembic check` compares no collations, so this is what notices a table whose
    migration left the column on the default one."""
    owned = [table for table in model_metadata.tables.values() if "owner_subject" in table.columns]
    if not owned:
        pytest.skip("no table records an owner")
    for table in owned:
        columns = (await mysql_session.execute(text(f"SHOW FULL COLUMNS FROM {table.name}"))).mappings().all()
        collation = {row["Field"]: row["Collation"] for row in columns}["owner_subject"]
        assert collation == "utf8mb4_bin", (table.name, collation)
{%- endif %}


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: type, name: str) -> list[None]:
    """Record each call of a connection method from now on: of aiomysql's connection as SQLAlchemy's adapter exposes
    it, or of the driver's own (app/database/mysql_connection.py)."""
    calls: list[None] = []
    original = getattr(owner, name)

    def counted(self: Any, *args: Any) -> Any:
        calls.append(None)
        return original(self, *args)

    monkeypatch.setattr(owner, name, counted)
    return calls


async def test_a_pooled_connection_is_pinged_only_after_sitting_idle(
    mysql_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """app/database/pool.py: no ping for a connection used moments ago (a warm Lambda container), one after
    DB_PING_AFTER_IDLE seconds unused (a thawed one)."""
    engine = create_engine(load_settings(db_ping_after_idle=0.5))
    try:
        pings = count_calls(monkeypatch, MySQLConnection, "ping_within")
        for _ in range(3):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        assert pings == []
        await asyncio.sleep(0.6)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        assert len(pings) == 1
    finally:
        await engine.dispose()


async def test_a_pooled_connection_that_died_while_idle_is_replaced_before_use(mysql_session: AsyncSession) -> None:
    engine = create_engine(load_settings(db_ping_after_idle=0))
    try:
        async with engine.connect() as connection:
            first = (await connection.execute(text("SELECT CONNECTION_ID()"))).scalar_one()
        await mysql_session.execute(text(f"KILL {int(first)}"))
        async with engine.connect() as connection:
            second = (await connection.execute(text("SELECT CONNECTION_ID()"))).scalar_one()
        assert second != first
    finally:
        await engine.dispose()


async def test_a_returned_connection_is_rolled_back_only_when_a_transaction_is_open(
    mysql_session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a commit the server reports no transaction, so no ROLLBACK round trip; one SQLAlchemy did not see
    (driver-level work) is still rolled back before the next request gets the connection."""
    engine = create_engine(load_settings())
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await connection.commit()
        rollbacks = count_calls(monkeypatch, AsyncAdapt_aiomysql_connection, "rollback")
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await connection.commit()
        assert rollbacks == []
        async with engine.connect() as connection:
            driver_connection = (await connection.get_raw_connection()).driver_connection
            assert driver_connection is not None
            await driver_connection.query("START TRANSACTION")
            assert driver_connection.get_transaction_status()
        assert len(rollbacks) == 1
        async with engine.connect() as connection:
            driver_connection = (await connection.get_raw_connection()).driver_connection
            assert driver_connection is not None and not driver_connection.get_transaction_status()
    finally:
        await engine.dispose()
