"""The SQS client (app/aws/sqs.py): messages sent to a real SQS API (moto) arrive as sent, the request is the one
botocore's SQS client sends for the same call, signed alike, and errors name the queue and the cause, never the body."""

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session  # type: ignore[import-untyped]
import pytest

from app.aws.errors import AwsRequestError
from app.aws.sqs import send_message, sqs_endpoint
from tests.botocore_endpoints import FIPS_AND_DUALSTACK, disagreements_with_botocore
from tests.moto_server import AWS_ENVIRONMENT, free_port
from tests.moto_sqs import MotoSqs

SIGNED_AT = datetime(2026, 12, 8, 9, 30, 15, tzinfo=UTC)
# A body that must never show in an error: it may hold personal data.
SENTINEL_BODY = '{"id": "0f3c", "job": "users.send-welcome", "payload": {"email": "sentinel-5be1@example.com"}}'
ATTRIBUTES = {"job": "users.send-welcome"}
# What botocore adds for itself, beside the protocol: its user agent, retry bookkeeping (a fresh id per call) and the
# switch to the query protocol's error codes, which this client does not read.
BOTOCORE_OWN_HEADERS = {"user-agent", "amz-sdk-invocation-id", "amz-sdk-request", "x-amzn-query-mode"}


@pytest.fixture(scope="module")
def sqs() -> Iterator[MotoSqs]:
    """SQS (moto) on a loopback port, for this module's tests."""
    server = MotoSqs()
    yield server
    server.stop()


@dataclass(frozen=True)
class CapturedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes


class CapturingServer:
    """A loopback HTTP server that records each request and answers as SQS's SendMessage does."""

    def __init__(self) -> None:
        self.requests: list[CapturedRequest] = []
        captured = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {name.lower(): value for name, value in self.headers.items()}
                captured.append(CapturedRequest(self.command, self.path, headers, body))
                digest = hashlib.md5(json.loads(body)["MessageBody"].encode(), usedforsecurity=False).hexdigest()
                answer = json.dumps({"MessageId": "5fea7756-0ea4-451a-a703-a558b933e274", "MD5OfMessageBody": digest})
                self.send_response(200)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer.encode())

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads the requests, not a log."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def capturing_server() -> Iterator[CapturingServer]:
    server = CapturingServer()
    yield server
    server.close()


def botocore_request(endpoint: str, queue_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send the same SendMessage with botocore's SQS client, its clock at SIGNED_AT, without its own headers."""
    client = botocore.session.get_session().create_client(
        "sqs",
        endpoint_url=endpoint,
        region_name=AWS_ENVIRONMENT["AWS_REGION"],
        aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=AWS_ENVIRONMENT["AWS_SESSION_TOKEN"],
    )

    def without_own_headers(request: Any, **kwargs: Any) -> None:
        for name in list(request.headers.keys()):
            if name.lower() in BOTOCORE_OWN_HEADERS:
                del request.headers[name]

    client.meta.events.register_first("before-sign.sqs.SendMessage", without_own_headers)
    # botocore reads the clock through this function (naive UTC).
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *args, **kwargs: SIGNED_AT.replace(tzinfo=None))
    message_attributes = {name: {"DataType": "String", "StringValue": value} for name, value in ATTRIBUTES.items()}
    client.send_message(QueueUrl=queue_url, MessageBody=SENTINEL_BODY, MessageAttributes=message_attributes)


def test_the_request_is_the_one_botocore_sends_signed_alike(
    capturing_server: CapturingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_url = "https://sqs.{{ cookiecutter.aws_region }}.amazonaws.com/123456789012/service-dev-jobs"
    environ = {**AWS_ENVIRONMENT, "AWS_ENDPOINT_URL_SQS": capturing_server.endpoint}
    message_id = send_message(
        queue_url, SENTINEL_BODY, attributes=ATTRIBUTES, timeout=5, environ=environ, now=SIGNED_AT
    )
    botocore_request(capturing_server.endpoint, queue_url, monkeypatch)

    assert message_id == "5fea7756-0ea4-451a-a703-a558b933e274"
    ours, reference = capturing_server.requests
    assert (ours.method, ours.path, ours.body) == (reference.method, reference.path, reference.body)
    reference_headers = {name: value for name, value in reference.headers.items() if name not in BOTOCORE_OWN_HEADERS}
    assert {name: ours.headers.get(name) for name in reference_headers} == reference_headers
    assert ours.headers["x-amz-target"] == "AmazonSQS.SendMessage"
    assert ours.headers["content-type"] == "application/x-amz-json-1.0"
    assert "x-amz-security-token" in ours.headers and "authorization" in ours.headers


def test_the_message_arrives_with_its_body_and_attribute(sqs: MotoSqs) -> None:
    queue_url = sqs.create_queue()
    message_id = send_message(queue_url, SENTINEL_BODY, attributes=ATTRIBUTES, timeout=5, environ=sqs.environment())
    [message] = sqs.receive(queue_url)
    assert message["MessageId"] == message_id
    assert message["Body"] == SENTINEL_BODY
    assert message["MessageAttributes"] == {"job": {"DataType": "String", "StringValue": "users.send-welcome"}}


def test_the_sqs_endpoint_variable_wins_over_the_global_one(sqs: MotoSqs) -> None:
    queue_url = sqs.create_queue()
    environ = {**sqs.environment(), "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    send_message(queue_url, "{}", attributes={}, timeout=5, environ=environ)
    assert [message["Body"] for message in sqs.receive(queue_url)] == ["{}"]


def test_a_missing_queue_names_the_queue_and_the_cause_but_not_the_body(sqs: MotoSqs) -> None:
    queue_url = f"{sqs.endpoint}/123456789012/missing-queue"
    with pytest.raises(AwsRequestError) as raised:
        send_message(queue_url, SENTINEL_BODY, attributes=ATTRIBUTES, timeout=5, environ=sqs.environment())
    message = str(raised.value)
    assert message.startswith(f"cannot send to queue {queue_url!r}: SQS answered 400 ")
    assert "QueueDoesNotExist" in message and "sentinel-5be1" not in message


def test_an_unreachable_endpoint_names_the_endpoint_but_not_the_body(sqs: MotoSqs) -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    environ = {**sqs.environment(), "AWS_ENDPOINT_URL_SQS": endpoint}
    with pytest.raises(AwsRequestError) as raised:
        send_message("https://queue.invalid/1/jobs", SENTINEL_BODY, attributes=ATTRIBUTES, timeout=5, environ=environ)
    message = str(raised.value)
    assert f"SQS at {endpoint} did not answer" in message and "sentinel-5be1" not in message


def test_plain_http_off_loopback_is_refused_before_sending(sqs: MotoSqs) -> None:
    endpoint = "http://sqs.internal.invalid:8080"
    environ = {**sqs.environment(), "AWS_ENDPOINT_URL_SQS": endpoint}
    with pytest.raises(AwsRequestError) as raised:
        send_message("https://queue.invalid/1/jobs", SENTINEL_BODY, attributes={}, timeout=5, environ=environ)
    assert str(raised.value) == (
        f"cannot send to queue 'https://queue.invalid/1/jobs': endpoint {endpoint!r} is plain http on a host that is "
        "not loopback; deployed stages need https"
    )


@pytest.mark.parametrize(("fips", "dualstack"), FIPS_AND_DUALSTACK)
def test_the_endpoint_is_the_one_botocore_picks_with_fips_and_dualstack(fips: bool, dualstack: bool) -> None:
    assert disagreements_with_botocore("sqs", sqs_endpoint, fips, dualstack) == []
