"""How pooled MySQL connections are checked when handed out and cleaned when taken back, without a round trip that a
request does not need.

SQLAlchemy's pool_pre_ping pings every connection it hands out, and its reset-on-return rolls back every connection
it takes back, even right after the session committed: a read then costs four round trips where two do the work,
and on this stack each one costs as much CPU as the read itself. On Lambda a container serves one request at a
time, so its connection comes back after milliseconds under load, or after minutes when the container was frozen
(meanwhile a proxy or the server may have closed it). So, for aiomysql engines (app/database/config.py turns both
defaults off):
- a connection is pinged when handed out only if it sat unused for DB_PING_AFTER_IDLE seconds or more (0: always);
  a dead one is replaced before the request uses it, and so is one whose server does not answer the ping within
  DB_CONNECT_TIMEOUT (a host gone without closing its connections would otherwise hold the request until Lambda's
  timeout);
- a connection taken back is rolled back only if the server reports a transaction still open (MySQL's
  in-transaction flag, sent with every reply).
"""

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, PoolResetState
from sqlalchemy.util import await_only

_RETURNED_AT = "returned_at"


def install_pool_hooks(engine: AsyncEngine, ping_after_idle: float, ping_timeout: float) -> None:
    """Add the checkout ping (answered within ping_timeout seconds) and the return rollback to an aiomysql engine's
    pool."""
    pool = engine.sync_engine.pool

    def returned(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        # Both clocks: either may stand still while a Lambda container is frozen.
        record.info[_RETURNED_AT] = (time.monotonic(), time.time())

    def checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: PoolProxiedConnection) -> None:
        returned_at = record.info.pop(_RETURNED_AT, None)
        if returned_at is None:  # a new connection
            return
        idle = max(time.monotonic() - returned_at[0], time.time() - returned_at[1])
        if idle >= ping_after_idle:
            try:
                # SQLAlchemy runs pool events inside its greenlet bridge, where await_only may await the driver (a
                # MySQLConnection: app/database/mysql_connection.py).
                await_only(dbapi_connection.driver_connection.ping_within(ping_timeout))
            except Exception as error:
                # The pool then discards this connection and hands out a new one.
                raise exc.DisconnectionError(f"pooled connection is gone: {error!r}") from error

    def reset(dbapi_connection: Any, record: ConnectionPoolEntry, state: PoolResetState) -> None:
        if not state.terminate_only and dbapi_connection.driver_connection.get_transaction_status():
            dbapi_connection.rollback()

    event.listen(pool, "checkin", returned)
    event.listen(pool, "checkout", checked_out)
    event.listen(pool, "reset", reset)
