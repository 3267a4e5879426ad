"""Amazon SQS's SendMessage, with the standard library alone (placeholder: the client itself comes separately)."""

from collections.abc import Mapping
from datetime import datetime


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
    """Send one message with String attributes and return its message id (AwsRequestError when it fails)."""
    raise NotImplementedError("app/aws/sqs.py's client is not written yet")
