"""AWS Signature Version 4: the request signer, and the steps any SigV4 signer shares (the timestamp, the credential
scope, the signing key, the signature of a canonical request), so that a signer of another form, such as a presigned
URL's query string, reuses them rather than repeating them."""

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from app.aws.credentials import AwsCredentials

ALGORITHM = "AWS4-HMAC-SHA256"


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def amz_timestamp(now: datetime) -> str:
    """The signing time as SigV4 writes it (X-Amz-Date); now is timezone-aware. Its first 8 characters are the date
    of the credential scope."""
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def credential_scope(timestamp: str, region: str, service: str) -> str:
    """What a signature is valid for: one day, region and service."""
    return f"{timestamp[:8]}/{region}/{service}/aws4_request"


def signature(credentials: AwsCredentials, timestamp: str, scope: str, canonical_request: str) -> str:
    """The hex signature of a canonical request, with the key derived for the scope's day, region and service."""
    string_to_sign = "\n".join([ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = f"AWS4{credentials.secret_access_key}".encode()
    for step in scope.split("/"):
        key = _hmac(key, step)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def host_header(url: str) -> str:
    """The Host header for a URL, as clients send it: the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 address
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"https": 443, "http": 80}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def sign_request(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    credentials: AwsCredentials,
    region: str,
    service: str,
    now: datetime,
) -> dict[str, str]:
    """The request's headers with AWS Signature Version 4 added (Host, X-Amz-Date, X-Amz-Security-Token when the
    credentials have a session token, Authorization). Every given header is signed; the URL has no query string;
    now is timezone-aware."""
    timestamp = amz_timestamp(now)
    signed = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    signed["host"] = host_header(url)
    signed["x-amz-date"] = timestamp
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    names = sorted(signed)
    canonical_request = "\n".join(
        [
            method.upper(),
            urlsplit(url).path or "/",
            "",
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = credential_scope(timestamp, region, service)
    authorization = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature(credentials, timestamp, scope, canonical_request)}"
    )
    result = dict(headers)
    result["Host"] = signed["host"]
    result["X-Amz-Date"] = timestamp
    if credentials.session_token:
        result["X-Amz-Security-Token"] = credentials.session_token
    result["Authorization"] = authorization
    return result
