"""The async engine and session factory, created once per process on first use (importing opens nothing)."""

import ssl
from functools import lru_cache, partial
from typing import Any

from sqlalchemy import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from app.common.settings import Settings, get_settings
from app.database.pool import install_pool_hooks


def database_url(settings: Settings) -> URL:
    """The SQLAlchemy URL: DATABASE_URL if given, SQLite when nothing else is configured, else MySQL via aiomysql."""
    if settings.database_url is not None:
        return make_url(settings.database_url.get_secret_value())
    if settings.uses_embedded_database:
        return URL.create("sqlite+aiosqlite", database=settings.sqlite_path)
    # With a secret, connect_mysql logs in with the secret's password (and user name, if it has one); with the IAM
    # login, with a token made for each connection.
    password = None if settings.db_secret_arn or settings.db_iam_auth else settings.db_password
    return URL.create(
        "mysql+aiomysql",
        username=settings.db_user,
        password=password.get_secret_value() if password else None,
        host=settings.db_host,
        port=settings.db_port,
        database=settings.db_name,
        query={"charset": "utf8mb4"},
    )


def connect_options(url: URL, settings: Settings) -> dict[str, Any]:
    """What the driver gets for each new connection (the app's engine and Alembic both use it)."""
    if url.get_backend_name() == "sqlite":
        return {"timeout": settings.db_connect_timeout}
    options: dict[str, Any] = {"connect_timeout": settings.db_connect_timeout, "ssl": tls_context(settings)}
    if url.get_driver_name() == "aiomysql":
        # Imported when the engine is created, so that starting the app (Lambda's cold start) does not load the driver.
        from app.database.mysql_connection import connect_mysql

        # SQLAlchemy's aiomysql dialect then opens connections with it instead of aiomysql.connect (the hook behind
        # create_async_engine(async_creator=...), but keeping the arguments from the URL).
        options["async_creator_fn"] = connect_mysql
        # A CA means the server must be verified, and a deployed stage must never talk to its database in clear: both
        # refuse a server that does not offer TLS instead of carrying on unencrypted (mysql_connection.py).
        # An IAM token is a credential for 15 minutes: it never crosses a network in clear, even from a laptop.
        options["require_tls"] = bool(settings.db_ssl_ca) or settings.environment.is_deployed or settings.db_iam_auth
        if settings.db_iam_auth:
            # Also only now: the token signer and the AWS code behind it stay out of the cold start.
            from app.database.iam_login import IamLogin

            options["async_creator_fn"] = partial(connect_mysql, iam_login=IamLogin())
        elif settings.db_secret_arn:
            # Also only now: the secret is read when the first connection opens, and kept with this engine.
            from app.database.secret_login import SecretLogin

            login = SecretLogin(
                settings.db_secret_arn,
                timeout=settings.db_connect_timeout,
                allow_plain_http=not settings.environment.is_deployed,
            )
            options["async_creator_fn"] = partial(connect_mysql, secret_login=login)
    return options


def engine_options(url: URL, settings: Settings) -> dict[str, Any]:
    """Pool and driver options for the URL's backend."""
    if url.get_backend_name() == "sqlite":
        return {"hide_parameters": hide_parameters(settings), "connect_args": connect_options(url, settings)}
    # On aiomysql, app/database/pool.py checks connections and ends transactions instead, without the round trip
    # per request these two cost.
    hooks = url.get_driver_name() == "aiomysql"
    return {
        "pool_size": settings.db_pool_size,
        "max_overflow": settings.db_max_overflow,
        "pool_timeout": settings.db_pool_timeout,
        "pool_recycle": settings.db_pool_recycle,
        "pool_pre_ping": not hooks,
        "pool_reset_on_return": None if hooks else "rollback",
        "hide_parameters": hide_parameters(settings),
        "connect_args": connect_options(url, settings),
    }


def hide_parameters(settings: Settings) -> bool:
    """Deployed stages keep row data (SQL parameters) out of error messages, and so out of logs and CI output."""
    return settings.environment.is_deployed


def tls_context(settings: Settings) -> ssl.SSLContext:
    """TLS for MySQL connections: required with DB_SSL_CA or in a deployed stage (see connect_options), else used
    whenever the server offers it (like the mysql client's default, ssl-mode=PREFERRED; RDS and MySQL 8 servers offer
    it by default).

    Besides keeping the password and data off the wire, TLS lets MySQL 8's default caching_sha2_password finish a
    full authentication (after every server restart) without its RSA exchange, which would need the cryptography
    package. With DB_SSL_CA the server certificate and host name are verified; without it they are not (local and
    test runs, or a deployed stage with DB_SSL_TRUST_ANY_SERVER: app/common/settings.py refuses it otherwise).
    """
    if settings.db_ssl_ca:
        context = ssl.create_default_context(cafile=settings.db_ssl_ca)
        context.check_hostname = True
        return context
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def create_single_use_engine(settings: Settings) -> AsyncEngine:
    """An engine without a pool, whose connections close when returned: for a one-off task such as a migration (the
    same URL, TLS, timeouts and secret as the app's)."""
    url = database_url(settings)
    return create_async_engine(
        url, poolclass=NullPool, hide_parameters=hide_parameters(settings), connect_args=connect_options(url, settings)
    )


def create_engine(settings: Settings) -> AsyncEngine:
    """A new engine for these settings (no connection is opened until first use)."""
    url = database_url(settings)
    engine = create_async_engine(url, **engine_options(url, settings))
    if url.get_driver_name() == "aiomysql":
        install_pool_hooks(engine, settings.db_ping_after_idle, settings.db_connect_timeout)
    return engine


@lru_cache(maxsize=1)
def get_engine() -> AsyncEngine:
    """The process-wide engine."""
    return create_engine(get_settings())


@lru_cache(maxsize=1)
def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    """The process-wide session factory; expire_on_commit=False keeps loaded objects usable after commit."""
    return async_sessionmaker(get_engine(), expire_on_commit=False)
