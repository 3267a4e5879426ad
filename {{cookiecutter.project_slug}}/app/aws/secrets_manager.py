"""AWS Secrets Manager's GetSecretValue, with the standard library alone.

One call, signed with AWS Signature Version 4 and sent over http.client. Importing botocore (in the Lambda runtime, not
in the package) and making a client takes some 400 ms of the first database request; this takes a few milliseconds
plus the call itself (the template's docs/design-decisions.md has the figures). AWS credentials and region come from
the variables Lambda sets (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION);
AWS_ENDPOINT_URL_SECRETS_MANAGER (or AWS_ENDPOINT_URL), as the AWS SDKs read it, points the client elsewhere, e.g. at
a VPC endpoint's DNS name or a local moto server; AWS_USE_FIPS_ENDPOINT and AWS_USE_DUALSTACK_ENDPOINT pick AWS's
FIPS and dual-stack endpoints as the SDKs do (app/aws/endpoints.py). No error raised here carries the secret's value.
"""

import http.client
import json
import os
import ssl
from collections.abc import Mapping
from datetime import UTC, datetime

from app.aws.credentials import AwsCredentials, region_from_environment
from app.aws.endpoints import checked_endpoint, endpoint_url
from app.aws.errors import AwsRequestError
from app.aws.signature import sign_request

SERVICE = "secretsmanager"
SDK_SERVICE_ID = "Secrets Manager"
# The X-Amz-Target header: the one operation this client calls.
TARGET = "secretsmanager.GetSecretValue"
CONTENT_TYPE = "application/x-amz-json-1.1"


def secrets_manager_endpoint(region: str, environ: Mapping[str, str]) -> str:
    """Secrets Manager's endpoint URL for the region and the environment's override and FIPS/dual-stack variables."""
    return endpoint_url(SERVICE, SDK_SERVICE_ID, region, environ)


def get_secret_string(
    secret_id: str,
    *,
    timeout: float,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
    allow_plain_http: bool = False,
) -> str:
    """The secret's current SecretString (blocking; run it in a thread from async code), or AwsRequestError naming
    the secret and why. timeout bounds each network step, not name resolution: the caller bounds the whole call.
    allow_plain_http: an http:// endpoint on another host than loopback is acceptable (local and test runs)."""
    try:
        return _get_secret_value(
            secret_id, timeout, os.environ if environ is None else environ, now or datetime.now(UTC), allow_plain_http
        )
    except AwsRequestError as error:
        raise AwsRequestError(f"cannot read secret {secret_id!r}: {error}") from None


def _get_secret_value(
    secret_id: str, timeout: float, environ: Mapping[str, str], now: datetime, allow_plain_http: bool
) -> str:
    region = region_from_environment(environ)
    if not region:
        raise AwsRequestError("AWS_REGION is not set")
    credentials = AwsCredentials.from_environment(environ)
    if credentials is None:
        raise AwsRequestError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
    endpoint = secrets_manager_endpoint(region, environ)
    target = checked_endpoint(endpoint, allow_plain_http)
    body = json.dumps({"SecretId": secret_id}).encode()
    headers = sign_request(
        method="POST",
        url=target.url,
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET},
        body=body,
        credentials=credentials,
        region=region,
        service=SERVICE,
        now=now,
    )
    connection: http.client.HTTPConnection
    if target.https:
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(target.host, target.port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        status, payload = response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        raise AwsRequestError(f"Secrets Manager at {endpoint} did not answer: {error!r}") from None
    finally:
        connection.close()
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = None
    if status != 200:
        # Errors name their type as "__type" (e.g. "ResourceNotFoundException", or with a "namespace#" prefix).
        kind = str(answer.get("__type", "")).rsplit("#", 1)[-1] if isinstance(answer, dict) else ""
        message = (answer.get("message") or answer.get("Message") or "") if isinstance(answer, dict) else ""
        raise AwsRequestError(f"Secrets Manager answered {status} {kind or 'error'}: {message}".rstrip())
    if not isinstance(answer, dict) or not isinstance(answer.get("SecretString"), str):
        raise AwsRequestError("the answer has no SecretString")
    secret_string: str = answer["SecretString"]
    return secret_string
