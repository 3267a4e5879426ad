"""Waiting, within a deadline, for a database that does not answer yet: the readiness probe (app/api/health.py) and
the migration function (migrate.py) use it; API requests never wait (they answer 503 with Retry-After instead).

The case it is made for is an Aurora Serverless v2 cluster that paused at 0 ACU. What AWS documents:
- a paused instance resumes when a connection request arrives; connection attempts themselves trigger the resume
  (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html);
- resuming takes about 15 seconds (AWS's launch post says up to 15 s:
  https://aws.amazon.com/blogs/database/introducing-scaling-to-0-capacity-with-amazon-aurora-serverless-v2/), and
  longer when the instance was paused for more than 24 hours (around 30 s);
- auto-pause does not work with RDS Proxy (the page's prerequisites and limitations): an attached proxy keeps the
  cluster awake, so the prod stage (proxy, minimum 0.5 ACU) never resumes; dev (no proxy, minimum 0 ACU) does.
The pages do not say at which step a direct client waits (the TCP connect, the server's greeting, the login) nor
whether it may get an error instead; only the Data API documents one (DatabaseResumingException, "wait a few seconds
and try again"). So every step is treated alike: each attempt ends within DB_CONNECT_TIMEOUT whatever stalls
(app/database/mysql_connection.py), a failure to connect that may pass (is_passing) is tried again after a short
pause, and anything else (e.g. a statement the server refuses) ends the wait at once. Only a real deploy can confirm
the resume times and what the client sees meanwhile.
"""

import asyncio
import logging
import time

from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database.outage import DatabaseUnavailableError, describe_cause, is_connection_failure

logger = logging.getLogger(__name__)

# The connection-level failures that time can mend: no server yet (2002, 2003), the connection lost (2006, 2013), the
# server starting, shutting down or full (1040, 1053, 1203). A refused login (1045), TLS that fails (2026), a refused
# login method (2059), a blocked host (1129) or a secret or token that cannot be had stay as they are: waiting would
# only repeat them.
PASSING_ERROR_CODES = frozenset({2002, 2003, 2006, 2013, 1040, 1053, 1203})

# Seconds between two attempts: a refused connection fails at once, and a resuming cluster needs no more callers.
ATTEMPT_INTERVAL = 1.0


class DatabaseStillUnavailableError(DatabaseUnavailableError):
    """The database did not answer within the wait: the message says how long and the last cause."""


async def wait_for_database(engine: AsyncEngine, wait: float, attempt_timeout: float, purpose: str) -> int:
    """Connect and run SELECT 1 until it works or `wait` seconds have passed, each attempt cut at
    `attempt_timeout` seconds (and, after the first, at the deadline). Logs each failed attempt; answers how many
    attempts it took, or raises DatabaseStillUnavailableError. Errors that waiting cannot mend (is_passing) are
    raised as they are."""
    started = time.monotonic()
    deadline = started + wait
    attempt = 0
    while True:
        attempt += 1
        try:
            # The first attempt has its whole timeout even with no wait at all; later ones end by the deadline.
            cut = attempt_timeout if attempt == 1 else min(attempt_timeout, deadline - time.monotonic())
            async with asyncio.timeout(cut):
                async with engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            return attempt
        except Exception as error:
            if not is_passing(error):
                raise
            cause = "no answer in time" if isinstance(error, TimeoutError) else describe_cause(error)
        waited = time.monotonic() - started
        if time.monotonic() + ATTEMPT_INTERVAL >= deadline:
            raise DatabaseStillUnavailableError(
                f"the database did not answer within {wait:g} s ({purpose}; {attempt} attempts, the last: {cause})"
            )
        logger.warning(
            "Database not answering after %.1f s (%s; attempt %d, %s): trying again for up to %.0f s more",
            waited,
            purpose,
            attempt,
            cause,
            deadline - time.monotonic(),
        )
        await asyncio.sleep(ATTEMPT_INTERVAL)


def is_passing(error: BaseException) -> bool:
    """True for a failure to connect that may pass by itself within seconds: no answer in time, or a connection-level
    error whose code is in PASSING_ERROR_CODES (or that SQLAlchemy reports as a dropped connection)."""
    if isinstance(error, (TimeoutError, exc.TimeoutError, exc.DisconnectionError)):
        return True
    if not isinstance(error, (exc.OperationalError, exc.InterfaceError)) or not is_connection_failure(error):
        return False
    code = error.orig.args[0] if error.orig is not None and error.orig.args else None
    return error.connection_invalidated or code in PASSING_ERROR_CODES
