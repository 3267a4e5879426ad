"""MySQL connections are encrypted whenever the server offers TLS (see app/database/config.py)."""

import ssl

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.common.settings import load_settings
from app.database.config import connect_options, database_url

pytestmark = pytest.mark.anyio


def test_mysql_connections_offer_tls_and_verify_only_with_a_ca_bundle() -> None:
    settings = load_settings(environment="dev", database_url=None, db_host="db.internal", db_password="pw")
    context = connect_options(database_url(settings), settings)["ssl"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_NONE and not context.check_hostname


async def test_mysql_connection_is_encrypted_when_the_server_offers_tls(db_session: AsyncSession) -> None:
    if db_session.get_bind().dialect.name != "mysql":
        pytest.skip("needs a MySQL server (TEST_DATABASE_URL); SQLite has no network connection to encrypt")
    have_ssl = (await db_session.execute(text("SHOW VARIABLES LIKE 'have_ssl'"))).all()
    if have_ssl and have_ssl[0][1] != "YES":
        pytest.skip(f"this MySQL server does not offer TLS (have_ssl={have_ssl[0][1]})")
    cipher = (await db_session.execute(text("SHOW SESSION STATUS LIKE 'Ssl_cipher'"))).one()[1]
    assert cipher, "the connection is not encrypted although the server offers TLS"
