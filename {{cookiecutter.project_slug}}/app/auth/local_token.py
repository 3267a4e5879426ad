"""Tokens for local runs and tests, where no API Gateway verifies anything: HS256 JWTs signed with LOCAL_TOKEN_KEY.

The settings refuse LOCAL_TOKEN_KEY outside ENVIRONMENT=local and test, and app/auth/identity.py reads these tokens
only there. The claims mimic a Cognito access token, written the way the gateway hands claims to the function
(strings; a list as "[a b]"), so a route sees the same identity locally as when deployed.
"""

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from typing import Any

ISSUER = "local"
HEADER = {"alg": "HS256", "typ": "JWT"}


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: str, signed_part: str) -> bytes:
    return hmac.new(key.encode("utf-8"), signed_part.encode("ascii"), hashlib.sha256).digest()


def in_authorizer_format(payload: dict[str, Any]) -> dict[str, str]:
    """A token's claims written the way API Gateway's JWT authorizer hands them to the function: every value a
    string, a list as "[a b]"."""
    return {
        str(name): "[" + " ".join(map(str, value)) + "]" if isinstance(value, list) else str(value)
        for name, value in payload.items()
    }


def issue_local_token(
    key: str, subject: str, scopes: Iterable[str], lifetime_seconds: int = 3600, now: float | None = None
) -> str:
    """A token for `subject` with `scopes`, valid for lifetime_seconds."""
    issued_at = int(time.time() if now is None else now)
    payload = {
        "iss": ISSUER,
        "sub": subject,
        "scope": " ".join(scopes),
        "token_use": "access",
        "iat": issued_at,
        "exp": issued_at + lifetime_seconds,
    }
    signed_part = ".".join(_encode(json.dumps(part, separators=(",", ":")).encode()) for part in (HEADER, payload))
    return f"{signed_part}.{_encode(_signature(key, signed_part))}"


def verify_local_token(key: str, token: str, now: float | None = None) -> dict[str, str] | None:
    """The token's claims when key signed it, it is HS256 from this issuer and has not expired; otherwise None."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    header_part, payload_part, signature_part = parts
    try:
        signature = _decode(signature_part)
        header = json.loads(_decode(header_part))
        payload = json.loads(_decode(payload_part))
    except (ValueError, binascii.Error):
        return None
    if not hmac.compare_digest(signature, _signature(key, f"{header_part}.{payload_part}")):
        return None
    if header != HEADER or not isinstance(payload, dict) or payload.get("iss") != ISSUER:
        return None
    expires = payload.get("exp")
    if not isinstance(expires, int) or expires <= (time.time() if now is None else now):
        return None
    return in_authorizer_format(payload)
