"""AWS Signature Version 4: the request signer, the presigned query string (e.g. an RDS IAM authentication token),
and the steps any SigV4 signer shares (the timestamp, the credential scope, the signing key, the signature of a
canonical request), so that each form reuses them rather than repeating them."""

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

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


def presigned_query(
    *,
    method: str,
    url: str,
    parameters: Mapping[str, str],
    credentials: AwsCredentials,
    region: str,
    service: str,
    now: datetime,
    expires: int,
) -> str:
    """The query string of a presigned URL (AWS Signature Version 4 in the query, as botocore's SigV4QueryAuth writes
    it): the operation's parameters, then the signing parameters (X-Amz-Security-Token, when the credentials have a
    session token, among the signed ones), then X-Amz-Signature. Only the Host header is signed; the payload is
    empty. Whoever holds the URL can make the request until expires seconds after now."""
    timestamp = amz_timestamp(now)
    scope = credential_scope(timestamp, region, service)
    query = dict(parameters)
    query.update(
        {
            "X-Amz-Algorithm": ALGORITHM,
            "X-Amz-Credential": f"{credentials.access_key_id}/{scope}",
            "X-Amz-Date": timestamp,
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": "host",
        }
    )
    if credentials.session_token:
        query["X-Amz-Security-Token"] = credentials.session_token
    encoded = [(_query_encode(name), _query_encode(value)) for name, value in query.items()]
    canonical_request = "\n".join(
        [
            method.upper(),
            urlsplit(url).path or "/",
            "&".join(f"{name}={value}" for name, value in sorted(encoded)),
            f"host:{host_header(url)}\n",
            "host",
            hashlib.sha256(b"").hexdigest(),
        ]
    )
    query_string = "&".join(f"{name}={value}" for name, value in encoded)
    return f"{query_string}&X-Amz-Signature={signature(credentials, timestamp, scope, canonical_request)}"


def _query_encode(text: str) -> str:
    # SigV4's URI encoding: every byte but the unreserved characters percent-encoded, "/" included.
    return quote(text, safe="-_.~")
