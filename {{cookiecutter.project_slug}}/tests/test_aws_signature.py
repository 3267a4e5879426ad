"""AWS Signature Version 4 (app/aws/signature.py): requests signed exactly as botocore signs them, and keys that never
show in a repr."""

from datetime import UTC, datetime

import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from app.aws.credentials import AwsCredentials
from app.aws.signature import sign_request

SIGNED_AT = datetime(2026, 11, 26, 12, 34, 56, tzinfo=UTC)
BODY = b'{"SecretId": "prod/app/db"}'
HEADERS = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "secretsmanager.GetSecretValue"}
# A value that must never show in a repr.
SENTINEL = "sentinel-9f3a-never-shown"  # nosec B105 - a test value


def botocore_headers(
    url: str, credentials: AwsCredentials, region: str, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """The headers botocore's own SigV4 signer gives the same request at the same time."""
    request = AWSRequest(method="POST", url=url, data=BODY, headers=dict(HEADERS))
    signer = SigV4Auth(
        Credentials(credentials.access_key_id, credentials.secret_access_key, credentials.session_token),
        "secretsmanager",
        region,
    )
    # botocore reads the clock through this function (naive UTC).
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *args, **kwargs: SIGNED_AT.replace(tzinfo=None))
    signer.add_auth(request)
    return dict(request.headers.items())


@pytest.mark.parametrize(
    ("url", "session_token"),
    [
        ("https://secretsmanager.{{ cookiecutter.aws_region }}.amazonaws.com/", "session-token"),
        ("https://secretsmanager.{{ cookiecutter.aws_region }}.amazonaws.com:443/", None),
        ("http://127.0.0.1:5000/", "session-token"),
    ],
    ids=["https-with-session-token", "https-default-port-without-token", "http-other-port"],
)
def test_the_signature_is_the_one_botocore_computes(
    url: str, session_token: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token)
    ours = sign_request(
        method="POST",
        url=url,
        headers=HEADERS,
        body=BODY,
        credentials=credentials,
        region="{{ cookiecutter.aws_region }}",
        service="secretsmanager",
        now=SIGNED_AT,
    )
    reference = botocore_headers(url, credentials, "{{ cookiecutter.aws_region }}", monkeypatch)
    assert ours["Authorization"] == reference["Authorization"]
    assert ours["X-Amz-Date"] == reference["X-Amz-Date"] == "20261126T123456Z"
    assert ours.get("X-Amz-Security-Token") == reference.get("X-Amz-Security-Token") == session_token


def test_credentials_never_show_in_reprs() -> None:
    credentials = AwsCredentials("AKIDEXAMPLE", SENTINEL, SENTINEL)
    assert SENTINEL not in repr(credentials)
