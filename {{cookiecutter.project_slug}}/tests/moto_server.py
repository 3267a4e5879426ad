"""moto's server on a loopback port, in a thread: the AWS APIs the app calls, served for the tests (every service on
one port; each test module starts the one it needs through a subclass, tests/moto_*.py)."""

import socket
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


class MotoServer:
    """moto serving at `endpoint` until stop(), with a botocore client of `service` to set up and read its state."""

    # The service's name in botocore ("secretsmanager", "sqs") and the SDKs' endpoint override variable for it.
    service = ""
    endpoint_variable = ""

    def __init__(self) -> None:
        port = free_port()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._server.start()
        self.endpoint = f"http://127.0.0.1:{port}"
        self.client: Any = botocore.session.get_session().create_client(
            self.service,
            endpoint_url=self.endpoint,
            region_name=AWS_ENVIRONMENT["AWS_REGION"],
            aws_access_key_id=AWS_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        )

    def environment(self) -> dict[str, str]:
        """What the app needs to reach this server: credentials, region and the endpoint override."""
        return {**AWS_ENVIRONMENT, self.endpoint_variable: self.endpoint}

    def stop(self) -> None:
        self._server.stop()
