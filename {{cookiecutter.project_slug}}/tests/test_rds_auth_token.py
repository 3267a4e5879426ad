"""RDS IAM authentication tokens (app/aws/rds_auth_token.py): exactly what botocore's generate_db_auth_token returns
for the same credentials, host, port, user, region and time, without botocore."""

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import botocore.session  # type: ignore[import-untyped]
import pytest

from app.aws.credentials import AwsCredentials
from app.aws.rds_auth_token import TOKEN_LIFETIME, rds_auth_token

SIGNED_AT = datetime(2026, 11, 26, 23, 59, 58, tzinfo=UTC)
HOST = "app.cluster-c1a2b3c4d5e6.ap-northeast-2.rds.amazonaws.com"
# Characters a session token and a user name may hold that query encoding must escape ("/", "+", "=", "@").
SESSION_TOKEN = "IQoJb3JpZ2luX2VjE/session+token=="  # nosec B105 - a test value
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"  # nosec B105 - AWS's documented example key


def botocore_token(
    host: str, port: int, user: str, region: str, credentials: AwsCredentials, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The token botocore's RDS client makes for the same inputs at SIGNED_AT."""
    client = botocore.session.Session().create_client(
        "rds",
        region_name="us-east-1",  # the client's own region: the token's comes from Region below
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    )
    # botocore reads the clock through this function (naive UTC).
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *args, **kwargs: SIGNED_AT.replace(tzinfo=None))
    token: str = client.generate_db_auth_token(DBHostname=host, Port=port, DBUsername=user, Region=region)
    return token


@pytest.mark.parametrize(
    ("host", "port", "user", "region", "session_token"),
    [
        (HOST, 3306, "app", "ap-northeast-2", SESSION_TOKEN),
        (HOST, 3306, "app", "ap-northeast-2", None),
        ("app-proxy.proxy-c1a2b3c4d5e6.eu-west-1.rds.amazonaws.com", 13306, "svc+ops@example", "eu-west-1", None),
    ],
    ids=["cluster-with-session-token", "cluster-without-session-token", "proxy-other-port-user-to-escape"],
)
def test_the_token_is_the_one_botocore_makes(
    host: str, port: int, user: str, region: str, session_token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = AwsCredentials("AKIDEXAMPLE", SECRET_ACCESS_KEY, session_token)
    reference = botocore_token(host, port, user, region, credentials, monkeypatch)
    assert rds_auth_token(host, port, user, region, credentials, SIGNED_AT) == reference


def test_the_token_connects_one_user_for_fifteen_minutes_from_its_signing_time() -> None:
    credentials = AwsCredentials("AKIDEXAMPLE", SECRET_ACCESS_KEY, SESSION_TOKEN)
    token = rds_auth_token(HOST, 3306, "app", "ap-northeast-2", credentials, SIGNED_AT)
    parts = urlsplit(f"//{token}")
    query = parse_qs(parts.query, strict_parsing=True)
    assert (parts.hostname, parts.port, parts.path) == (HOST, 3306, "/")
    assert query["Action"] == ["connect"] and query["DBUser"] == ["app"]
    assert query["X-Amz-Expires"] == [str(TOKEN_LIFETIME)] == ["900"]
    assert query["X-Amz-Date"] == ["20261126T235958Z"]
    assert query["X-Amz-Credential"] == ["AKIDEXAMPLE/20261126/ap-northeast-2/rds-db/aws4_request"]
    assert query["X-Amz-Security-Token"] == [SESSION_TOKEN]
    assert SECRET_ACCESS_KEY not in token
