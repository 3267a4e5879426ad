"""AWS Secrets Manager on a loopback port (moto's server in a thread), and the variables the app reads to reach it."""

import json
import socket
import uuid
from typing import Any

import botocore.session  # type: ignore[import-untyped]
from moto.server import ThreadedMotoServer

# Credentials and region the app and the test client share; moto accepts any signature.
AWS_ENVIRONMENT = {
    "AWS_REGION": "{{ cookiecutter.aws_region }}",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "moto-accepts-any-signature",  # nosec B105 - a test value
    "AWS_SESSION_TOKEN": "session-token",  # nosec B105 - a test value
}


def free_port() -> int:
    """A loopback TCP port nothing listens on (the OS's pick, released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class MotoSecretsManager:
    """moto serving Secrets Manager at `endpoint` until stop(), with a client to write secrets."""

    def __init__(self) -> None:
        port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.client: Any = botocore.session.get_session().create_client(
            "secretsmanager",
            endpoint_url=self.endpoint,
            region_name=AWS_ENVIRONMENT["AWS_REGION"],
            aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        )

    def environment(self) -> dict[str, str]:
        """What the app needs to reach this server: credentials, region and the endpoint override."""
        return {**AWS_ENVIRONMENT, "AWS_ENDPOINT_URL_SECRETS_MANAGER": self.endpoint}

    def create(self, value: dict[str, Any] | str) -> str:
        """A new secret (a unique name) holding value (JSON-encoded unless a string); returns its ARN."""
        secret_string = value if isinstance(value, str) else json.dumps(value)
        answer = self.client.create_secret(Name=f"test/{uuid.uuid4()}", SecretString=secret_string)
        arn: str = answer["ARN"]
        return arn

    def update(self, arn: str, value: dict[str, Any]) -> None:
        """A new current version of the secret, as a rotation writes it."""
        self.client.put_secret_value(SecretId=arn, SecretString=json.dumps(value))

    def stop(self) -> None:
        self._server.stop()
