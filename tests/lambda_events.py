"""The API Gateway events the template's tests and benchmarks hand to a packaged app's `main.handler`, and the
function's environment on a deployed stage. Free of pytest: the benchmarks import it too."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.packaging_tools import CA_BUNDLE, PACKAGE_ENV

# The function's environment on a deployed stage; placeholders, since /health never touches the database. A deployed
# stage needs a CA bundle: the package's own (package_offline puts a test CA in its place).
LAMBDA_ENV = {
    "ENVIRONMENT": "dev",
    "DB_HOST": "db.invalid",
    "DB_PASSWORD": "placeholder",  # nosec B105
    "DB_SSL_CA": str(CA_BUNDLE),
}


def jwt_authorizer_claims(subject: str, scope: str) -> dict[str, str]:
    """The claims of a Cognito access token as an HTTP API JWT authorizer hands them to the function after verifying
    it: every value a string, a list claim as "[a b]"."""
    return {
        "sub": subject,
        "iss": PACKAGE_ENV["JWT_ISSUER_URL"],
        "client_id": PACKAGE_ENV["JWT_AUDIENCE"].split(",")[0],
        "token_use": "access",
        "scope": scope,
        "cognito:groups": "[admins editors]",
        "auth_time": "1795867200",
        "iat": "1795867200",
        "exp": "1795870800",
        "jti": "5f0c6c1e-0000-4000-8000-000000000001",
    }


# What the example module's routes see from the gateway in the tests and benchmarks that call them: a caller allowed
# to write, as a deployed stage's authorizer passes it on.
WRITER_CLAIMS = jwt_authorizer_claims("benchmark-user", "challenge/write")


def http_api_event(
    method: str,
    path: str,
    body: str | None = None,
    headers: Mapping[str, str] | None = None,
    claims: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event, as Lambda hands it to `main.handler`; with claims, as the JWT
    authorizer passes on a verified token (its `scopes` list is null: the routes name no scopes at the gateway)."""
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"host": "api.example.com", **(headers or {})},
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1"},
            "stage": "$default",
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        event["body"] = body
    if claims is not None:
        event["requestContext"]["authorizer"] = {"jwt": {"claims": dict(claims), "scopes": None}}
    return event
