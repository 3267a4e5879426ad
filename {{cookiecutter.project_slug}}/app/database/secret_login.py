"""The database login from AWS Secrets Manager (DB_SECRET_ARN): read with app/aws/secrets_manager.py, kept for the
process, and fetched again when MySQL refuses it, so a rotated password takes effect without a restart.

app/database/config.py imports this module only when it creates an engine with DB_SECRET_ARN set: starting the app
(Lambda's cold start) never loads it, nor the AWS client. A secret that cannot be read makes the database unavailable
(SecretUnavailableError, a 503 like any outage); no error raised here carries the secret's value.
"""

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

from app.aws.errors import AwsRequestError
from app.aws.secrets_manager import get_secret_string
from app.database.outage import DatabaseUnavailableError

logger = logging.getLogger(__name__)

# Seconds after a fetch that MySQL refused anyway before the next refusal may fetch again: a login that keeps failing
# (a revoked user, a rotation half done) must not cost a Secrets Manager call on every request.
REFETCH_INTERVAL = 5.0


class SecretUnavailableError(DatabaseUnavailableError):
    """The database secret cannot be read: the message names the secret and the cause, never a secret value."""


@dataclass(frozen=True)
class DatabaseLogin:
    """The user name (None: keep DB_USER) and password a secret holds."""

    username: str | None
    password: str = field(repr=False)


def parse_login(secret_id: str, secret_string: str) -> DatabaseLogin:
    """The login in a SecretString shaped like an RDS secret: {"username": ..., "password": ..., ...}."""
    try:
        value = json.loads(secret_string)
    except ValueError:
        # Not chained to the error below: the decoding error holds the whole string, the password included.
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("password"), str) or not value["password"]:
        raise SecretUnavailableError(
            f'secret {secret_id!r} is not a JSON object with a non-empty string "password" '
            '(and optionally "username"), as RDS secrets are'
        )
    username = value.get("username")
    if username is not None and (not isinstance(username, str) or not username):
        raise SecretUnavailableError(f'secret {secret_id!r} has a "username" that is not a non-empty string')
    return DatabaseLogin(username, value["password"])


def fetch_login(secret_id: str, timeout: float, allow_plain_http: bool = False) -> DatabaseLogin:
    """The login the secret holds now (blocking)."""
    try:
        secret_string = get_secret_string(secret_id, timeout=timeout, allow_plain_http=allow_plain_http)
    except AwsRequestError as error:
        # The same message, now an outage of the database: the 503 path logs it as the cause.
        raise SecretUnavailableError(str(error)) from None
    return parse_login(secret_id, secret_string)


class SecretLogin:
    """The database login from one secret, fetched when first needed and kept for the life of the process (a Lambda
    container's); refresh() fetches it again when MySQL refused it, so a rotated password needs no restart. Each
    fetch, name resolution included, ends within timeout seconds."""

    def __init__(self, secret_id: str, timeout: float, allow_plain_http: bool = False) -> None:
        self.secret_id = secret_id
        self.timeout = timeout
        self.allow_plain_http = allow_plain_http
        self._login: DatabaseLogin | None = None
        self._refreshed_at: float | None = None

    async def current(self) -> DatabaseLogin:
        """The cached login, fetched on first use."""
        if self._login is None:
            self._login = await self._fetch()
        return self._login

    async def refresh(self, refused: DatabaseLogin) -> DatabaseLogin | None:
        """A newer login than `refused`, which MySQL refused: one another connection fetched since, or a fresh fetch.
        None when the last fetch after a refusal is less than REFETCH_INTERVAL seconds old: nothing newer yet."""
        if self._login is not None and self._login is not refused:
            return self._login
        if self._refreshed_at is not None and time.monotonic() - self._refreshed_at < REFETCH_INTERVAL:
            return None
        logger.warning("MySQL refused the login from secret %r: fetching the secret again", self.secret_id)
        self._refreshed_at = time.monotonic()
        self._login = await self._fetch()
        return self._login

    async def _fetch(self) -> DatabaseLogin:
        # http.client blocks: in a thread, so that the event loop keeps serving other requests meanwhile. Its timeout
        # bounds each socket operation but not name resolution, hence the deadline around the whole fetch (a thread
        # stuck in getaddrinfo finishes on its own; the request does not wait for it).
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.to_thread(fetch_login, self.secret_id, self.timeout, self.allow_plain_http)
        except TimeoutError:
            raise SecretUnavailableError(
                f"cannot read secret {self.secret_id!r}: no answer from Secrets Manager within {self.timeout} s"
            ) from None
