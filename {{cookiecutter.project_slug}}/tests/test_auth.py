"""Identity fails closed: deployed stages trust only the claims API Gateway verified, local tokens work in local and
test runs only, and scopes are checked on every protected route."""

{% if cookiecutter.include_example_module == "yes" -%}
import asyncio
import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest
from httpx import AsyncClient
from moto import mock_aws
from pydantic import SecretStr

from app.auth.claims import SUBJECT_MAX_LENGTH, authorizer_claims, list_claim, token_scopes
from app.auth.local_token import in_authorizer_format, issue_local_token, verify_local_token
from app.common import messages
from app.common.errors import error_body
from app.common.settings import SettingsError, get_settings, load_settings
from app.database.config import get_engine
from main import handler
{%- if cookiecutter.background_jobs == "yes" %}
from tests.conftest import JOB_QUEUE_URL, PROJECT_ROOT, TEST_TOKEN_KEY, clear_cached_configuration
{%- else %}
from tests.conftest import PROJECT_ROOT, TEST_TOKEN_KEY, clear_cached_configuration
{%- endif %}
from tests.gateway_events import (
    FakeLambdaContext,
    alb_event,
    claims_in,
    http_api_v2_event,
    rest_api_v1_event,
    verified_by_gateway,
    with_verified_claims,
)

# A route behind the authorizer: its GET needs an identity, its POST the scope challenge/write.
PROTECTED = "/challenges"
{%- else -%}
import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.auth.claims import authorizer_claims, list_claim, token_scopes
from app.auth.local_token import issue_local_token, verify_local_token
from app.common.settings import SettingsError, load_settings
{%- if cookiecutter.background_jobs == "yes" %}
from tests.conftest import JOB_QUEUE_URL, PROJECT_ROOT, TEST_TOKEN_KEY
{%- else %}
from tests.conftest import PROJECT_ROOT, TEST_TOKEN_KEY
{%- endif %}
{%- endif %}

DEPLOYED_DATABASE = {"DB_HOST": "db.internal", "DB_PASSWORD": "pw", "DB_SSL_TRUST_ANY_SERVER": "true"}
{%- if cookiecutter.background_jobs == "yes" %}
# Deployed stages also refuse to start without a job queue (these tests send nothing to it).
DEPLOYED_DATABASE["JOB_QUEUE_URL"] = JOB_QUEUE_URL
{%- endif %}
{%- if cookiecutter.include_example_module == "yes" %}


def cognito_sign_in() -> dict[str, dict[str, Any]]:
    """The payloads of the access token and the ID token Cognito (moto) issues to a user who signs in with a
    password through an app client."""
    user, password = "alice@example.com", "Correct-horse-9"  # nosec B105 - a throwaway user of a mocked pool
    with mock_aws():
        cognito: Any = botocore.session.get_session().create_client(
            "cognito-idp", region_name="{{ cookiecutter.aws_region }}", aws_access_key_id="a", aws_secret_access_key="b"
        )
        pool = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
        flows = ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
        client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="web", ExplicitAuthFlows=flows)
        cognito.admin_create_user(UserPoolId=pool, Username=user, TemporaryPassword=password + "-temporary")
        cognito.admin_set_user_password(UserPoolId=pool, Username=user, Password=password, Permanent=True)
        tokens = cognito.admin_initiate_auth(
            UserPoolId=pool,
            ClientId=client["UserPoolClient"]["ClientId"],
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": user, "PASSWORD": password},
        )["AuthenticationResult"]
    payloads = {}
    for kind in ("AccessToken", "IdToken"):
        payload = tokens[kind].split(".")[1]
        payloads[kind] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return payloads
{%- endif %}


def test_list_claims_and_every_scope_claim_parse() -> None:
    assert list_claim("[admins editors]") == ["admins", "editors"]
    assert list_claim("a/read a/write") == ["a/read", "a/write"]
    assert list_claim("[]") == []
    assert token_scopes({"scope": "a/read b/write"}, []) == {"a/read", "b/write"}
    # Entra ID names the claim scp; the authorizer's own list adds to the claim.
    assert token_scopes({"scp": "[a/read]"}, ["c/write"]) == {"a/read", "c/write"}
    assert token_scopes({}, []) == frozenset()


def test_claims_are_read_from_http_api_2_0_events_only() -> None:
    claims = {"requestContext": {"authorizer": {"jwt": {"claims": {"sub": "alice"}, "scopes": None}}}}
    http = {"http": {"method": "GET", "path": "/"}}
    v2 = {**claims, "version": "2.0", "requestContext": {**claims["requestContext"], **http}}
    assert authorizer_claims({"aws.event": v2}) == ({"sub": "alice"}, [])
    assert authorizer_claims({"aws.event": {**v2, "version": "1.0"}}) is None, "payload format 1.0"
    assert authorizer_claims({"aws.event": {**claims, "version": "2.0"}}) is None, "2.0 without its http context"
    assert authorizer_claims({"aws.event": claims}) is None, "no version: REST API, load balancer, direct invocation"
    assert authorizer_claims({}) is None, "no event: a local run"


def test_local_tokens_round_trip_and_refuse_tampering_expiry_and_other_keys() -> None:
    token = issue_local_token(TEST_TOKEN_KEY, "alice", ["a/read", "a/write"], now=1_000)
    claims = verify_local_token(TEST_TOKEN_KEY, token, now=1_001)
    assert claims is not None
    assert (claims["sub"], claims["scope"], claims["token_use"]) == ("alice", "a/read a/write", "access")
    assert verify_local_token(TEST_TOKEN_KEY, token, now=1_000 + 3600) is None, "expired"
    assert verify_local_token("another-key-" + TEST_TOKEN_KEY, token, now=1_001) is None, "signed with another key"
    header, payload, signature = token.split(".")
    forged = issue_local_token(TEST_TOKEN_KEY, "mallory", ["a/write"], now=1_000).split(".")[1]
    assert verify_local_token(TEST_TOKEN_KEY, f"{header}.{forged}.{signature}", now=1_001) is None, "payload swapped"
    unsigned = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').rstrip(b"=").decode()
    assert verify_local_token(TEST_TOKEN_KEY, f"{unsigned}.{payload}.", now=1_001) is None, "alg none"
    assert verify_local_token(TEST_TOKEN_KEY, "not a token", now=1_001) is None


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_deployed_stages_refuse_to_start_with_a_local_token_key(environment: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(
            environment=environment,
            database_url=None,
            db_host="db.internal",
            db_password="pw",
            db_ssl_trust_any_server=True,
            local_token_key=TEST_TOKEN_KEY,
        )
    assert "LOCAL_TOKEN_KEY" in str(raised.value) and f"ENVIRONMENT={environment}" in str(raised.value)
    assert TEST_TOKEN_KEY not in str(raised.value)


def test_a_short_local_token_key_is_refused() -> None:
    with pytest.raises(SettingsError, match="LOCAL_TOKEN_KEY"):
        load_settings(local_token_key="short")
{%- if cookiecutter.include_example_module == "yes" %}


@pytest.mark.usefixtures("migrated_database")
def test_verified_gateway_claims_with_list_values_and_null_scopes_reach_the_route(
    lambda_event_loop: asyncio.AbstractEventLoop,
) -> None:
    event = verified_by_gateway(http_api_v2_event("GET", PROTECTED), "challenge/write", "alice")
    # A list claim as the authorizer writes it, beside the null scopes list verified_by_gateway gives.
    claims_in(event)["cognito:groups"] = "[admins editors]"
    response = handler(event, FakeLambdaContext())
    # The pooled connection belongs to this test's loop.
    lambda_event_loop.run_until_complete(get_engine().dispose())
    assert response["statusCode"] == 200, response["body"]


@pytest.mark.usefixtures("migrated_database")
def test_cognito_tokens_of_a_signed_in_user_as_the_gateway_passes_them_on(
    lambda_event_loop: asyncio.AbstractEventLoop,
) -> None:
    """An access token without the module's scope reads but cannot write; the ID token of the same sign-in (which
    the gateway would also accept: its aud is the client) is refused."""
    tokens = cognito_sign_in()
    access, identity = (in_authorizer_format(tokens[kind]) for kind in ("AccessToken", "IdToken"))
    read = handler(with_verified_claims(http_api_v2_event("GET", PROTECTED), access), FakeLambdaContext())
    write_event = http_api_v2_event("POST", PROTECTED, body=json.dumps({"title": "Run"}))
    write = handler(with_verified_claims(write_event, access), FakeLambdaContext())
    id_token_event = with_verified_claims(http_api_v2_event("GET", PROTECTED), identity)
    read_with_id_token = handler(id_token_event, FakeLambdaContext())
    lambda_event_loop.run_until_complete(get_engine().dispose())
    assert (access["token_use"], access["scope"]) == ("access", "aws.cognito.signin.user.admin")
    assert read["statusCode"] == 200, read["body"]
    assert write["statusCode"] == 403, write["body"]
    assert (identity["token_use"], read_with_id_token["statusCode"]) == ("id", 401)


@pytest.mark.parametrize(
    "make_event",
    [
        rest_api_v1_event,
        alb_event,
        # An HTTP API route set to payload format 1.0: the REST API's shape with a version.
        lambda method, path: {**rest_api_v1_event(method, path), "version": "1.0"},
    ],
    ids=["rest-api", "alb", "http-api-payload-1.0"],
)
@pytest.mark.usefixtures("migrated_database")
def test_claims_count_only_in_the_http_api_2_0_event_that_carries_them(
    make_event: Callable[[str, str], dict[str, Any]], lambda_event_loop: asyncio.AbstractEventLoop
) -> None:
    """Only an HTTP API (payload format 2.0) with a JWT authorizer hands claims to the function: the same claims in
    another event shape (a direct invocation, a REST API or load balancer put in front later) are not a verified
    identity."""
    response = handler(
        verified_by_gateway(make_event("GET", PROTECTED), "challenge/write", "alice"), FakeLambdaContext()
    )
    lambda_event_loop.run_until_complete(get_engine().dispose())
    assert response["statusCode"] == 401, response["body"]
    assert json.loads(response["body"])["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("subject", ["alice ", " alice", "alice\t", "alice\u3000"])
@pytest.mark.usefixtures("migrated_database")
def test_a_gateway_subject_with_surrounding_whitespace_is_refused_not_trimmed(
    subject: str, lambda_event_loop: asyncio.AbstractEventLoop
) -> None:
    """Trimmed, "alice " would act as alice; kept, MariaDB's PAD SPACE collations would still match alice's rows."""
    response = handler(verified_by_gateway(http_api_v2_event("GET", PROTECTED), "", subject), FakeLambdaContext())
    lambda_event_loop.run_until_complete(get_engine().dispose())
    assert response["statusCode"] == 401, response["body"]


@pytest.mark.usefixtures("lambda_event_loop")
def test_a_cognito_id_token_is_refused_even_when_verified() -> None:
    event = verified_by_gateway(http_api_v2_event("GET", PROTECTED), subject="alice")
    claims = claims_in(event)
    del claims["scope"], claims["client_id"]
    claims.update(token_use="id", aud="example-client-id")
    response = handler(event, FakeLambdaContext())
    assert response["statusCode"] == 401
    assert response["headers"]["www-authenticate"] == "Bearer"


@pytest.mark.usefixtures("lambda_event_loop")
def test_a_write_without_its_scope_is_403_naming_the_scope() -> None:
    write = http_api_v2_event("POST", PROTECTED, body=json.dumps({"title": "Run"}))
    event = verified_by_gateway(write, subject="alice")
    response = handler(event, FakeLambdaContext())
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"]["code"] == "insufficient_scope"
    assert 'scope="challenge/write"' in response["headers"]["www-authenticate"]


@pytest.mark.parametrize("environment", ["dev", "prod"])
@pytest.mark.usefixtures("migrated_database")
def test_deployed_stages_never_decode_a_bearer_token_themselves(
    environment: str, reconfigure: pytest.MonkeyPatch, lambda_event_loop: asyncio.AbstractEventLoop
) -> None:
    """Even holding the key that signed it, a deployed stage refuses a local token: only the gateway's claims count.

    A deployed stage refuses to start with LOCAL_TOKEN_KEY; the key is put into its settings after that check, as a
    bypassed or broken check would leave it, so that the refusal proven here is identity's own. The same token is
    accepted in a test run first: the 401 is the stage's, not the token's."""
    token = issue_local_token(TEST_TOKEN_KEY, "mallory", ["challenge/write"])

    def answer(method: str) -> dict[str, Any]:
        event = http_api_v2_event(method, PROTECTED, body=json.dumps({"title": "Run"}))
        event["headers"]["authorization"] = f"Bearer {token}"
        response = handler(event, FakeLambdaContext())
        lambda_event_loop.run_until_complete(get_engine().dispose())
        return response

    reconfigure.setenv("LOCAL_TOKEN_KEY", TEST_TOKEN_KEY)
    # A read only: a write would leave mallory's row in the database the other tests share.
    assert answer("GET")["statusCode"] == 200
    reconfigure.delenv("LOCAL_TOKEN_KEY")
    # The suite's database stays, so a stage that did accept the token would answer 200 and 201 rather than 503.
    reconfigure.setenv("ENVIRONMENT", environment)
    reconfigure.setenv("DB_SSL_TRUST_ANY_SERVER", "true")
{%- if cookiecutter.background_jobs == "yes" %}
    reconfigure.setenv("JOB_QUEUE_URL", JOB_QUEUE_URL)
{%- endif %}
    clear_cached_configuration()
    deployed = get_settings()
    assert deployed.environment.is_deployed
    # Assignment skips the settings' validation, hence their start-up refusal of the key.
    deployed.local_token_key = SecretStr(TEST_TOKEN_KEY)
    for method in ("GET", "POST"):
        response = answer(method)
        assert response["statusCode"] == 401, (method, response["body"])
        assert response["headers"]["www-authenticate"] == "Bearer"
        assert json.loads(response["body"])["error"]["code"] == "not_authenticated"


@pytest.mark.anyio
async def test_without_a_token_a_protected_route_is_401_and_health_is_open(anonymous_client: AsyncClient) -> None:
    assert (await anonymous_client.get("/health")).status_code == 200
    for method, path in (("GET", PROTECTED), ("POST", PROTECTED), ("GET", f"{PROTECTED}/1")):
        response = await anonymous_client.request(method, path, json={"title": "Run"})
        assert response.status_code == 401, (method, path)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.anyio
async def test_local_tokens_signed_with_another_key_or_expired_are_401(
    anonymous_client: AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    assert (await anonymous_client.get(PROTECTED, headers=bearer("alice"))).status_code == 200
    for token in (
        issue_local_token("another-key-" + TEST_TOKEN_KEY, "alice", ["challenge/write"]),
        issue_local_token(TEST_TOKEN_KEY, "alice", ["challenge/write"], now=0),
    ):
        response = await anonymous_client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


@pytest.mark.anyio
async def test_a_refused_bearer_token_is_said_to_be_invalid_without_saying_why(
    anonymous_client: AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    """A sent token that fails local verification gets its own message and RFC 6750's invalid_token, the same for
    every reason (another key, expired, not a token, unusable claims); no header keeps the message asking for one."""
    refused_tokens = (
        issue_local_token("another-key-" + TEST_TOKEN_KEY, "alice", ["challenge/write"]),
        issue_local_token(TEST_TOKEN_KEY, "alice", ["challenge/write"], now=0),
        "not-a-token",
        bearer("s" * (SUBJECT_MAX_LENGTH + 1))["Authorization"].removeprefix("Bearer "),
    )
    answers = set()
    for token in refused_tokens:
        response = await anonymous_client.get(PROTECTED, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
        assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"', token
        answers.add(response.text)
    assert len(answers) == 1 and json.loads(answers.pop()) == error_body("not_authenticated", messages.INVALID_TOKEN)
    without_header = await anonymous_client.get(PROTECTED)
    assert without_header.headers["www-authenticate"] == "Bearer"
    assert without_header.json()["error"]["message"] == messages.NOT_AUTHENTICATED != messages.INVALID_TOKEN


@pytest.mark.anyio
async def test_a_local_token_whose_subject_has_surrounding_whitespace_cannot_read_that_subjects_rows(
    anonymous_client: AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    alices = (await anonymous_client.post(PROTECTED, json={"title": "Run"}, headers=bearer("alice"))).json()
    response = await anonymous_client.get(f"{PROTECTED}/{alices['id']}", headers=bearer("alice "))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.anyio
async def test_a_subject_too_long_to_own_a_row_is_refused_and_the_longest_allowed_is_stored(
    anonymous_client: AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    statuses = {}
    for subject in ("s" * SUBJECT_MAX_LENGTH, "s" * (SUBJECT_MAX_LENGTH + 1)):
        response = await anonymous_client.post(PROTECTED, json={"title": "Run"}, headers=bearer(subject))
        statuses[len(subject)] = response.status_code
    assert statuses == {SUBJECT_MAX_LENGTH: 201, SUBJECT_MAX_LENGTH + 1: 401}
{%- endif %}


def run_make_token(cwd: Path, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """scripts/local_token.py (what `make token` runs) in cwd, outside the suite's own settings."""
    env = {name: value for name, value in os.environ.items() if name not in {"LOCAL_TOKEN_KEY", "DATABASE_URL"}}
    script = PROJECT_ROOT / "scripts" / "local_token.py"
    return subprocess.run(
        [sys.executable, str(script), *args], cwd=cwd, env={**env, **environment}, capture_output=True, text=True
    )


def test_make_token_writes_a_key_to_dot_env_once_and_prints_a_token_the_app_accepts(tmp_path: Path) -> None:
    first = run_make_token(tmp_path, "--sub", "alice", "--scopes", "a/read,a/write", ENVIRONMENT="local")
    assert first.returncode == 0, first.stderr
    key = (tmp_path / ".env").read_text(encoding="utf-8").strip().removeprefix("LOCAL_TOKEN_KEY=")
    claims = verify_local_token(key, first.stdout.strip())
    assert claims is not None and (claims["sub"], claims["scope"]) == ("alice", "a/read a/write")
    second = run_make_token(tmp_path, "--sub", "bob", ENVIRONMENT="local")
    assert second.returncode == 0, second.stderr
    assert (tmp_path / ".env").read_text(encoding="utf-8").count("LOCAL_TOKEN_KEY=") == 1
    assert verify_local_token(key, second.stdout.strip()) is not None


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_make_token_refuses_deployed_stages_and_prints_nothing(tmp_path: Path, environment: str) -> None:
    refused = run_make_token(tmp_path, ENVIRONMENT=environment, **DEPLOYED_DATABASE)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert f"ENVIRONMENT={environment}" in refused.stderr
    assert not (tmp_path / ".env").exists()
