"""The database login with an IAM authentication token (DB_IAM_AUTH): no password anywhere, a token instead, made
from the credentials Lambda gives the function (its role's keys in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
AWS_SESSION_TOKEN) for AWS_REGION, with app/aws/rds_auth_token.py.

Each new connection gets a token made as it opens (a few HMACs, no network call), so a connection opened after an
earlier token's 15 minutes have passed still logs in. app/database/config.py imports this module only when it
creates an engine with DB_IAM_AUTH set: starting the app (Lambda's cold start) never loads it. A token that cannot be
made makes the database unavailable (IamTokenUnavailableError, a 503 like any outage); no error raised here carries
a key or a token.
"""

import os
from collections.abc import Mapping
from datetime import UTC, datetime

from app.aws.credentials import AwsCredentials, region_from_environment
from app.aws.rds_auth_token import rds_auth_token
from app.database.outage import DatabaseUnavailableError


class IamTokenUnavailableError(DatabaseUnavailableError):
    """No IAM authentication token can be made: the message names what is missing, never a key."""


def utc_now() -> datetime:
    """The signing time of a new token (tests replace it to open connections at chosen times)."""
    return datetime.now(UTC)


class IamLogin:
    """Makes the password of each new connection: an IAM authentication token for the user, host and port that
    connection logs in with, signed with the environment's credentials for its region at the current time."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ

    def token(self, host: str, port: int, user: str) -> str:
        """A fresh token, or IamTokenUnavailableError naming what the environment lacks."""
        region = region_from_environment(self._environ)
        credentials = AwsCredentials.from_environment(self._environ)
        missing = []
        if region is None:
            missing.append("AWS_REGION (or AWS_DEFAULT_REGION)")
        if credentials is None:
            missing.append("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        if region is None or credentials is None:
            raise IamTokenUnavailableError(
                f"cannot make an IAM authentication token for MySQL user {user!r} on {host}:{port} "
                f"(DB_IAM_AUTH=true): {' and '.join(missing)} not set in the environment"
            )
        return rds_auth_token(host, port, user, region, credentials, utc_now())
