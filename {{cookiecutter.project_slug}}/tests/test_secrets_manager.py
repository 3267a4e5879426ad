"""The Secrets Manager client (app/aws/secrets_manager.py): the endpoint botocore would pick, the secret read from a
real Secrets Manager API (moto), and errors that name the secret and the cause."""

import uuid

import pytest

from app.aws.errors import AwsRequestError
from app.aws.secrets_manager import get_secret_string, secrets_manager_endpoint
from tests.botocore_endpoints import FIPS_AND_DUALSTACK, disagreements_with_botocore
from tests.moto_secrets import MotoSecretsManager
from tests.moto_server import free_port

SECRET_STRING = '{"username": "app_user", "password": "sentinel-77c0"}'  # nosec B105 - a test value


@pytest.mark.parametrize(
    ("region", "environ", "endpoint"),
    [
        ("eu-west-1", {}, "https://secretsmanager.eu-west-1.amazonaws.com"),
        ("cn-north-1", {}, "https://secretsmanager.cn-north-1.amazonaws.com.cn"),
        ("eu-west-1", {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566/"}, "http://127.0.0.1:4566"),
        (
            "eu-west-1",
            {"AWS_ENDPOINT_URL": "http://other:1", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "https://vpce.example"},
            "https://vpce.example",
        ),
    ],
    ids=["region-default", "china-partition", "global-override", "service-override-wins"],
)
def test_the_endpoint_follows_the_region_and_the_sdk_override_variables(
    region: str, environ: dict[str, str], endpoint: str
) -> None:
    assert secrets_manager_endpoint(region, environ) == endpoint


@pytest.mark.parametrize(("fips", "dualstack"), FIPS_AND_DUALSTACK)
def test_the_endpoint_is_the_one_botocore_picks_with_fips_and_dualstack(fips: bool, dualstack: bool) -> None:
    assert disagreements_with_botocore("secretsmanager", secrets_manager_endpoint, fips, dualstack) == []


def test_the_secret_string_is_read_from_secrets_manager(secrets: MotoSecretsManager) -> None:
    arn = secrets.create(SECRET_STRING)
    assert get_secret_string(arn, timeout=5) == SECRET_STRING


def test_a_missing_secret_names_the_secret_and_the_cause(secrets: MotoSecretsManager) -> None:
    missing = f"test/missing-{uuid.uuid4()}"
    with pytest.raises(AwsRequestError) as raised:
        get_secret_string(missing, timeout=5)
    assert missing in str(raised.value) and "ResourceNotFoundException" in str(raised.value)


def test_an_unreachable_endpoint_names_the_endpoint(secrets: MotoSecretsManager) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    environ = {**secrets.environment(), "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint}
    with pytest.raises(AwsRequestError) as raised:
        get_secret_string("db", timeout=5, environ=environ)
    assert "'db'" in str(raised.value) and endpoint in str(raised.value)


@pytest.mark.parametrize(
    ("missing", "named"),
    [("AWS_REGION", "AWS_REGION"), ("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")],
)
def test_missing_aws_settings_are_named(secrets: MotoSecretsManager, missing: str, named: str) -> None:
    environ = {name: value for name, value in secrets.environment().items() if name != missing}
    with pytest.raises(AwsRequestError, match=named):
        get_secret_string("db", timeout=5, environ=environ)


@pytest.mark.parametrize(
    ("endpoint", "allow_plain_http", "reason"),
    [
        (
            "http://secrets.internal.invalid:8080",
            False,
            "is plain http on a host that is not loopback; deployed stages need https",
        ),
        ("ftp://127.0.0.1", True, "is not an http(s) URL"),
    ],
    ids=["plain-http-off-loopback", "not-http"],
)
def test_an_endpoint_that_would_expose_the_request_is_refused_before_sending(
    secrets: MotoSecretsManager, endpoint: str, allow_plain_http: bool, reason: str
) -> None:
    environ = {**secrets.environment(), "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint}
    with pytest.raises(AwsRequestError) as raised:
        get_secret_string("db", timeout=5, environ=environ, allow_plain_http=allow_plain_http)
    assert str(raised.value) == f"cannot read secret 'db': endpoint {endpoint!r} {reason}"
