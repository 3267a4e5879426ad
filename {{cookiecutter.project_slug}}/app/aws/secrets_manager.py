"""AWS Secrets Manager's GetSecretValue, with the standard library alone.

One call of the JSON protocol (app/aws/json_api.py), signed with AWS Signature Version 4 and sent over http.client.
Importing botocore (in the Lambda runtime, not in the package) and making a client takes some 400 ms of the first
database request; this takes a few milliseconds plus the call itself (the template's docs/design-decisions.md has the
figures). AWS credentials and region come from the variables Lambda sets (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_REGION);
AWS_ENDPOINT_URL_SECRETS_MANAGER (or AWS_ENDPOINT_URL), as the AWS SDKs read it, points the client elsewhere, e.g. at
a VPC endpoint's DNS name or a local moto server; AWS_USE_FIPS_ENDPOINT and AWS_USE_DUALSTACK_ENDPOINT pick AWS's
FIPS and dual-stack endpoints as the SDKs do (app/aws/endpoints.py). No error raised here carries the secret's value.
"""

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime

from app.aws.errors import AwsRequestError
from app.aws.json_api import JsonApi

SECRETS_MANAGER = JsonApi(
    endpoint_prefix="secretsmanager",
    sdk_service_id="Secrets Manager",
    target_prefix="secretsmanager",
    content_type="application/x-amz-json-1.1",
)


def secrets_manager_endpoint(region: str, environ: Mapping[str, str]) -> str:
    """Secrets Manager's endpoint URL for the region and the environment's override and FIPS/dual-stack variables."""
    return SECRETS_MANAGER.endpoint(region, environ)


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
        answer = SECRETS_MANAGER.call(
            "GetSecretValue",
            json.dumps({"SecretId": secret_id}).encode(),
            timeout=timeout,
            environ=os.environ if environ is None else environ,
            now=now or datetime.now(UTC),
            allow_plain_http=allow_plain_http,
        )
        secret_string = answer.get("SecretString")
        if not isinstance(secret_string, str):
            raise AwsRequestError("the answer has no SecretString")
    except AwsRequestError as error:
        raise AwsRequestError(f"cannot read secret {secret_id!r}: {error}") from None
    return secret_string
