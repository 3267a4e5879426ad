"""Amazon SQS on a loopback port (moto's server in a thread), and the variables the app reads to reach it."""

import uuid
from typing import Any

from tests.moto_server import MotoServer


class MotoSqs(MotoServer):
    """moto serving SQS at `endpoint` until stop(), with a client to make queues and read what they hold."""

    service = "sqs"
    endpoint_variable = "AWS_ENDPOINT_URL_SQS"

    def create_queue(self) -> str:
        """A new queue (a unique name); returns its URL."""
        answer = self.client.create_queue(QueueName=f"test-{uuid.uuid4().hex}")
        url: str = answer["QueueUrl"]
        return url

    def receive(self, queue_url: str) -> list[dict[str, Any]]:
        """The messages the queue holds (up to 10), with every message attribute, as a worker receives them."""
        answer = self.client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=0
        )
        messages: list[dict[str, Any]] = answer.get("Messages", [])
        return messages
