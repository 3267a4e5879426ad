"""One call to an AWS API of the JSON protocol (Secrets Manager, SQS), with the standard library alone.

A signed POST of a JSON document to the endpoint's root over http.client: the operation in X-Amz-Target, AWS
Signature Version 4 with the credentials and region the environment holds (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, AWS_REGION, as Lambda sets them), the endpoint as the SDKs pick it (app/aws/endpoints.py). Errors
name the service, the endpoint or AWS's error code and message; never the request's body nor the answer's content.
"""

import http.client
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.aws.credentials import AwsCredentials, region_from_environment
from app.aws.endpoints import checked_endpoint, endpoint_url
from app.aws.errors import AwsRequestError
from app.aws.signature import sign_request


@dataclass(frozen=True)
class JsonApi:
    """An AWS service that speaks the JSON protocol."""

    # Starts the endpoint's host name and is the name requests are signed for ("secretsmanager", "sqs").
    endpoint_prefix: str
    # The service's name in the SDKs ("Secrets Manager", "SQS"): its endpoint override variable and error messages.
    sdk_service_id: str
    # X-Amz-Target is "<target_prefix>.<operation>" ("secretsmanager", "AmazonSQS").
    target_prefix: str
    # The protocol version the service takes: application/x-amz-json-1.0 or -1.1.
    content_type: str

    def endpoint(self, region: str, environ: Mapping[str, str]) -> str:
        """The endpoint URL for the region and the environment's override and FIPS/dual-stack variables."""
        return endpoint_url(self.endpoint_prefix, self.sdk_service_id, region, environ)

    def call(
        self,
        operation: str,
        body: bytes,
        *,
        timeout: float,
        environ: Mapping[str, str],
        now: datetime,
        allow_plain_http: bool,
    ) -> dict[str, Any]:
        """The operation's answer, a JSON object, or AwsRequestError saying why not. body is the request's JSON
        document, encoded. timeout bounds each network step, not name resolution: the caller bounds the whole call.
        allow_plain_http: an http:// endpoint on another host than loopback is acceptable (local and test runs)."""
        region = region_from_environment(environ)
        if not region:
            raise AwsRequestError("AWS_REGION is not set")
        credentials = AwsCredentials.from_environment(environ)
        if credentials is None:
            raise AwsRequestError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
        endpoint = self.endpoint(region, environ)
        target = checked_endpoint(endpoint, allow_plain_http)
        headers = sign_request(
            method="POST",
            url=target.url,
            headers={"Content-Type": self.content_type, "X-Amz-Target": f"{self.target_prefix}.{operation}"},
            body=body,
            credentials=credentials,
            region=region,
            service=self.endpoint_prefix,
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
            raise AwsRequestError(f"{self.sdk_service_id} at {endpoint} did not answer: {error!r}") from None
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
            raise AwsRequestError(f"{self.sdk_service_id} answered {status} {kind or 'error'}: {message}".rstrip())
        if not isinstance(answer, dict):
            raise AwsRequestError(f"{self.sdk_service_id} answered {status} with no JSON object")
        return answer
