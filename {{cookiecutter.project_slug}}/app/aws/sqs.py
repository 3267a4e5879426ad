"""Amazon SQS's SendMessage, with the standard library alone: what enqueues a job (app/jobs) and what moves a refused
message to the dead-letter queue (worker.py).

One call of SQS's JSON protocol through app/aws/json_api.py: no botocore at run time, whose import and client would
cost the first enqueue of every cold container some 400 ms. Credentials and region come from the variables Lambda
sets; AWS_ENDPOINT_URL_SQS (or AWS_ENDPOINT_URL), as the AWS SDKs read it, points the client elsewhere, e.g. at a VPC
endpoint's DNS name or a local moto server. No error raised here carries the message's body, which may hold personal
data: they name the queue and SQS's error code and message.
"""

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime

from app.aws.errors import AwsRequestError
from app.aws.json_api import JsonApi

SQS = JsonApi(
    endpoint_prefix="sqs", sdk_service_id="SQS", target_prefix="AmazonSQS", content_type="application/x-amz-json-1.0"
)


def sqs_endpoint(region: str, environ: Mapping[str, str]) -> str:
    """SQS's endpoint URL for the region and the environment's override and FIPS/dual-stack variables."""
    return SQS.endpoint(region, environ)


def send_message(
    queue_url: str,
    body: str,
    *,
    attributes: Mapping[str, str],
    timeout: float,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
    allow_plain_http: bool = False,
) -> str:
    """Send body to the queue with the given String message attributes; returns SQS's MessageId (blocking: run it in
    a thread from async code), or AwsRequestError naming the queue and why. timeout bounds each network step, not name
    resolution: the caller bounds the whole call. allow_plain_http: an http:// endpoint on another host than loopback
    is acceptable (local and test runs)."""
    request = {
        "QueueUrl": queue_url,
        "MessageBody": body,
        "MessageAttributes": {name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()},
    }
    try:
        answer = SQS.call(
            "SendMessage",
            json.dumps(request).encode(),
            timeout=timeout,
            environ=os.environ if environ is None else environ,
            now=now or datetime.now(UTC),
            allow_plain_http=allow_plain_http,
        )
        message_id = answer.get("MessageId")
        if not isinstance(message_id, str) or not message_id:
            raise AwsRequestError("the answer has no MessageId")
    except AwsRequestError as error:
        raise AwsRequestError(f"cannot send to queue {queue_url!r}: {error}") from None
    return message_id
