"""The claims of a token API Gateway's JWT authorizer verified, as the function receives them.

The authorizer checked the signature, issuer, audience and expiry before invoking the function, and hands over the
token's claims in the HTTP API event at requestContext.authorizer.jwt: every value a string (a list claim arrives as
"[a b]"), and a `scopes` list that is null unless the route itself names scopes.
"""

from collections.abc import Mapping
from typing import Any

# The longest subject a row can record (every owner_subject column): a longer one is refused, never truncated, so
# two callers can never share rows through a cut-off subject.
SUBJECT_MAX_LENGTH = 255
# Where each issuer puts the token's scopes: OAuth's `scope` (Cognito, Auth0, Okta), Entra ID's `scp`.
SCOPE_CLAIMS = ("scope", "scp")


def authorizer_claims(scope: Mapping[str, Any]) -> tuple[dict[str, str], list[str]] | None:
    """The verified claims and the authorizer's scopes list from an ASGI scope that Mangum built from an HTTP API
    event, or None when the request carries none (no gateway, or a route without the authorizer).

    Only an HTTP API event in payload format 2.0 (the one infra/ deploys, with its requestContext.http) counts: the
    same claims in any other shape (a REST API or load balancer event, or a direct invocation of the function) were
    verified by nobody, and the request is anonymous.
    """
    event = scope.get("aws.event")
    if not isinstance(event, dict) or event.get("version") != "2.0":
        return None
    context = event.get("requestContext")
    if not isinstance(context, dict) or not isinstance(context.get("http"), dict):
        return None
    authorizer = context.get("authorizer")
    jwt = authorizer.get("jwt") if isinstance(authorizer, dict) else None
    claims = jwt.get("claims") if isinstance(jwt, dict) else None
    if not isinstance(claims, dict):
        return None
    listed = jwt.get("scopes") if isinstance(jwt, dict) else None
    scopes = [item for item in listed if isinstance(item, str)] if isinstance(listed, list) else []
    return {str(name): value for name, value in claims.items() if isinstance(value, str)}, scopes


def list_claim(value: str) -> list[str]:
    """The items of a claim: "[a b]" (how the authorizer writes a list) or "a b" (OAuth's space-separated scope)."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return text.split()


def token_scopes(claims: Mapping[str, str], listed: list[str]) -> frozenset[str]:
    """Every scope the token carries: its scope claim, and the authorizer's list when the route named scopes."""
    scopes = set(listed)
    for name in SCOPE_CLAIMS:
        if name in claims:
            scopes.update(list_claim(claims[name]))
    return frozenset(scopes)
