"""A server (or anyone on the path) that leaves TLS out of its greeting and asks for the password in clear text gets
no password: where TLS is required (a CA bundle, a deployed stage) the connection is refused before anything is
sent, and no connection answers the clear-text method without TLS. The app answers 503 as for any outage."""

import logging
from collections.abc import Iterator
from pathlib import Path

import botocore  # type: ignore[import-untyped]
import pytest

{% if cookiecutter.background_jobs == "yes" -%}
from tests.conftest import JOB_QUEUE_URL
{% endif -%}
from tests.database_routes import readiness_and_read_statuses
from tests.downgrading_server import DowngradingServer

pytestmark = pytest.mark.anyio

# The database password: it must never reach the server.
SENTINEL = "sentinel-7c2d-never-sent"  # nosec B105 - a test value
# Any PEM bundle makes DB_SSL_CA valid; botocore (a dev dependency) ships one.
CA_BUNDLE = str(Path(botocore.__file__).with_name("cacert.pem"))
# Settings that require TLS: a CA bundle in any stage, or a deployed stage even when it trusts any certificate.
REQUIRES_TLS = {
    "CA bundle": {"DB_SSL_CA": CA_BUNDLE},
{%- if cookiecutter.background_jobs == "yes" %}
    "deployed stage": {"ENVIRONMENT": "prod", "DB_SSL_TRUST_ANY_SERVER": "true", "JOB_QUEUE_URL": JOB_QUEUE_URL},
{%- else %}
    "deployed stage": {"ENVIRONMENT": "prod", "DB_SSL_TRUST_ANY_SERVER": "true"},
{%- endif %}
}


@pytest.fixture(params=[False, True], ids=["clear text on switch", "clear text in greeting"])
def impostor(request: pytest.FixtureRequest) -> Iterator[DowngradingServer]:
    """A downgrading server that asks for the clear-text password after the login packet, or in its greeting."""
    server = DowngradingServer(clear_text_in_greeting=request.param)
    yield server
    server.close()


async def call(impostor: DowngradingServer, reconfigure: pytest.MonkeyPatch, settings: dict[str, str]) -> list[int]:
    """Statuses of GET /health/ready and of a read through a session, with the database at the impostor."""
    reconfigure.setenv("DATABASE_URL", f"mysql+aiomysql://app:{SENTINEL}@127.0.0.1:{impostor.port}/app")
    for name, value in settings.items():
        reconfigure.setenv(name, value)
    return await readiness_and_read_statuses()


@pytest.mark.parametrize("settings", REQUIRES_TLS.values(), ids=REQUIRES_TLS.keys())
async def test_where_tls_is_required_a_server_without_it_gets_nothing(
    impostor: DowngradingServer,
    reconfigure: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    settings: dict[str, str],
) -> None:
    with caplog.at_level(logging.WARNING):
        assert await call(impostor, reconfigure, settings) == [503, 503]
    assert impostor.greeted >= 2, "the app never reached the impostor: this test proves nothing"
    assert impostor.received == b"", "the client sent a login packet to a server that does not offer TLS"
    assert "does not offer TLS" in caplog.text and SENTINEL not in caplog.text


async def test_without_a_tls_requirement_the_password_is_still_never_sent_in_clear(
    impostor: DowngradingServer, reconfigure: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Local and test runs without DB_SSL_CA may talk to a server without TLS, but not hand it the password.
    with caplog.at_level(logging.WARNING):
        assert await call(impostor, reconfigure, {}) == [503, 503]
    assert impostor.greeted >= 2, "the app never reached the impostor: this test proves nothing"
    assert SENTINEL.encode() not in impostor.received
    assert "in clear text over a connection without TLS" in caplog.text
