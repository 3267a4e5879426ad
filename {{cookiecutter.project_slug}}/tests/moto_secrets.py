"""AWS Secrets Manager on a loopback port (moto's server in a thread), and the variables the app reads to reach it."""

import json
import uuid
from typing import Any

from tests.moto_server import MotoServer


class MotoSecretsManager(MotoServer):
    """moto serving Secrets Manager at `endpoint` until stop(), with a client to write secrets."""

    service = "secretsmanager"
    endpoint_variable = "AWS_ENDPOINT_URL_SECRETS_MANAGER"

    def create(self, value: dict[str, Any] | str) -> str:
        """A new secret (a unique name) holding value (JSON-encoded unless a string); returns its ARN."""
        secret_string = value if isinstance(value, str) else json.dumps(value)
        answer = self.client.create_secret(Name=f"test/{uuid.uuid4()}", SecretString=secret_string)
        arn: str = answer["ARN"]
        return arn

    def update(self, arn: str, value: dict[str, Any]) -> None:
        """A new current version of the secret, as a rotation writes it."""
        self.client.put_secret_value(SecretId=arn, SecretString=json.dumps(value))
