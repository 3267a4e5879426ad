"""The database login from AWS Secrets Manager (DB_SECRET_ARN), fetched with the standard library alone.

One call, GetSecretValue, signed with AWS Signature Version 4 and sent over http.client. Importing botocore (in the
Lambda runtime, not in the package) and making a client takes some 400 ms of the first database request; this takes
a few milliseconds plus the call itself (the template's docs/design-decisions.md has the figures). AWS credentials and
region come from the variables Lambda sets (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION);
AWS_ENDPOINT_URL_SECRETS_MANAGER (or AWS_ENDPOINT_URL), as the AWS SDKs read it, points the client elsewhere, e.g. at
a VPC endpoint's DNS name or a local moto server; AWS_USE_FIPS_ENDPOINT and AWS_USE_DUALSTACK_ENDPOINT pick AWS's
FIPS and dual-stack endpoints as the SDKs do. http:// is allowed only for a loopback address or in local and test
runs: anywhere else the signed request (and the secret in the answer) would cross a network in clear.

app/database/config.py imports this module only when it creates an engine with DB_SECRET_ARN set: starting the app
(Lambda's cold start) never loads it. No error raised here carries the secret's value.
"""

import asyncio
import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import os
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from app.database.errors import DatabaseUnavailableError

logger = logging.getLogger(__name__)

SERVICE = "secretsmanager"
# The X-Amz-Target header: the one operation this client calls.
TARGET = "secretsmanager.GetSecretValue"
CONTENT_TYPE = "application/x-amz-json-1.1"
ALGORITHM = "AWS4-HMAC-SHA256"
# Seconds after a fetch that MySQL refused anyway before the next refusal may fetch again: a login that keeps failing
# (a revoked user, a rotation half done) must not cost a Secrets Manager call on every request.
REFETCH_INTERVAL = 5.0


class SecretUnavailableError(DatabaseUnavailableError):
    """The database secret cannot be read: the message names the secret and the cause, never a secret value."""


@dataclass(frozen=True)
class AwsCredentials:
    """The keys requests are signed with (Lambda gives the function role's keys in its environment)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "AwsCredentials | None":
        """The credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), or None."""
        access_key_id = environ.get("AWS_ACCESS_KEY_ID", "")
        secret_access_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
        if not access_key_id or not secret_access_key:
            return None
        return cls(access_key_id, secret_access_key, environ.get("AWS_SESSION_TOKEN") or None)


@dataclass(frozen=True)
class DatabaseLogin:
    """The user name (None: keep DB_USER) and password a secret holds."""

    username: str | None
    password: str = field(repr=False)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


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
    parts = urlsplit(url)
    timestamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    date = timestamp[:8]
    signed = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
    signed["host"] = host_header(url)
    signed["x-amz-date"] = timestamp
    if credentials.session_token:
        signed["x-amz-security-token"] = credentials.session_token
    names = sorted(signed)
    canonical_request = "\n".join(
        [
            method.upper(),
            parts.path or "/",
            "",
            "".join(f"{name}:{signed[name]}\n" for name in names),
            ";".join(names),
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join([ALGORITHM, timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()])
    key = _hmac(f"AWS4{credentials.secret_access_key}".encode(), date)
    for step in (region, service, "aws4_request"):
        key = _hmac(key, step)
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    authorization = (
        f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={signature}"
    )
    result = dict(headers)
    result["Host"] = signed["host"]
    result["X-Amz-Date"] = timestamp
    if credentials.session_token:
        result["X-Amz-Security-Token"] = credentials.session_token
    result["Authorization"] = authorization
    return result


def secrets_manager_endpoint(region: str, environ: Mapping[str, str]) -> str:
    """The endpoint URL: the SDKs' override variables first, else the region's endpoint, FIPS and dual-stack as
    AWS_USE_FIPS_ENDPOINT and AWS_USE_DUALSTACK_ENDPOINT ask (China's regions are in their own partition)."""
    override = environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or environ.get("AWS_ENDPOINT_URL")
    if override:
        return override.rstrip("/")
    china = region.startswith("cn-")
    if environ.get("AWS_USE_DUALSTACK_ENDPOINT", "").strip().lower() == "true":
        domain = "api.amazonwebservices.com.cn" if china else "api.aws"
    else:
        domain = "amazonaws.com.cn" if china else "amazonaws.com"
    fips = "-fips" if environ.get("AWS_USE_FIPS_ENDPOINT", "").strip().lower() == "true" else ""
    return f"https://{SERVICE}{fips}.{region}.{domain}"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses: a request there never leaves the machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def get_secret_string(
    secret_id: str,
    *,
    timeout: float,
    environ: Mapping[str, str] | None = None,
    now: datetime | None = None,
    allow_plain_http: bool = False,
) -> str:
    """The secret's current SecretString (blocking; run it in a thread from async code). timeout bounds each network
    step; SecretLogin bounds the whole fetch, name resolution included. allow_plain_http: an http:// endpoint on
    another host than loopback is acceptable (local and test runs)."""
    environ = os.environ if environ is None else environ
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise SecretUnavailableError(f"cannot read secret {secret_id!r}: AWS_REGION is not set")
    credentials = AwsCredentials.from_environment(environ)
    if credentials is None:
        raise SecretUnavailableError(
            f"cannot read secret {secret_id!r}: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"
        )
    endpoint = secrets_manager_endpoint(region, environ)
    url = f"{endpoint}/"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise SecretUnavailableError(f"cannot read secret {secret_id!r}: endpoint {endpoint!r} is not an http(s) URL")
    if parts.scheme == "http" and not allow_plain_http and not is_loopback(parts.hostname):
        raise SecretUnavailableError(
            f"cannot read secret {secret_id!r}: endpoint {endpoint!r} is plain http on a host that is not loopback; "
            "deployed stages need https"
        )
    body = json.dumps({"SecretId": secret_id}).encode()
    headers = sign_request(
        method="POST",
        url=url,
        headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET},
        body=body,
        credentials=credentials,
        region=region,
        service=SERVICE,
        now=now or datetime.now(UTC),
    )
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        context = ssl.create_default_context()
        connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=timeout, context=context)
    else:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", parts.path, body=body, headers=headers)
        response = connection.getresponse()
        status, payload = response.status, response.read()
    except (OSError, http.client.HTTPException) as error:
        raise SecretUnavailableError(
            f"cannot read secret {secret_id!r}: Secrets Manager at {endpoint} did not answer: {error!r}"
        ) from None
    finally:
        connection.close()
    try:
        answer = json.loads(payload)
    except ValueError:
        answer = None
    if status != 200:
        # Errors name their type as "__type" (e.g. "ResourceNotFoundException", or with a "namespace#" prefix).
        kind = str(answer.get("__type", "")).rsplit("#", 1)[-1] if isinstance(answer, dict) else ""
        message = (answer.get("message") or answer.get("Message") or "") if isinstance(answer, dict) else ""
        raise SecretUnavailableError(
            f"cannot read secret {secret_id!r}: Secrets Manager answered {status} {kind or 'error'}: {message}".rstrip()
        )
    if not isinstance(answer, dict) or not isinstance(answer.get("SecretString"), str):
        raise SecretUnavailableError(f"cannot read secret {secret_id!r}: the answer has no SecretString")
    secret_string: str = answer["SecretString"]
    return secret_string


def parse_login(secret_id: str, secret_string: str) -> DatabaseLogin:
    """The login in a SecretString shaped like an RDS secret: {"username": ..., "password": ..., ...}."""
    try:
        value = json.loads(secret_string)
    except ValueError:
        # Not chained to the error below: the decoding error holds the whole string, the password included.
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("password"), str) or not value["password"]:
        raise SecretUnavailableError(
            f'secret {secret_id!r} is not a JSON object with a non-empty string "password" '
            '(and optionally "username"), as RDS secrets are'
        )
    username = value.get("username")
    if username is not None and (not isinstance(username, str) or not username):
        raise SecretUnavailableError(f'secret {secret_id!r} has a "username" that is not a non-empty string')
    return DatabaseLogin(username, value["password"])


def fetch_login(secret_id: str, timeout: float, allow_plain_http: bool = False) -> DatabaseLogin:
    """The login the secret holds now (blocking)."""
    return parse_login(secret_id, get_secret_string(secret_id, timeout=timeout, allow_plain_http=allow_plain_http))


class SecretLogin:
    """The database login from one secret, fetched when first needed and kept for the life of the process (a Lambda
    container's); refresh() fetches it again when MySQL refused it, so a rotated password needs no restart. Each
    fetch, name resolution included, ends within timeout seconds."""

    def __init__(self, secret_id: str, timeout: float, allow_plain_http: bool = False) -> None:
        self.secret_id = secret_id
        self.timeout = timeout
        self.allow_plain_http = allow_plain_http
        self._login: DatabaseLogin | None = None
        self._refreshed_at: float | None = None

    async def current(self) -> DatabaseLogin:
        """The cached login, fetched on first use."""
        if self._login is None:
            self._login = await self._fetch()
        return self._login

    async def refresh(self, refused: DatabaseLogin) -> DatabaseLogin | None:
        """A newer login than `refused`, which MySQL refused: one another connection fetched since, or a fresh fetch.
        None when the last fetch after a refusal is less than REFETCH_INTERVAL seconds old: nothing newer yet."""
        if self._login is not None and self._login is not refused:
            return self._login
        if self._refreshed_at is not None and time.monotonic() - self._refreshed_at < REFETCH_INTERVAL:
            return None
        logger.warning("MySQL refused the login from secret %r: fetching the secret again", self.secret_id)
        self._refreshed_at = time.monotonic()
        self._login = await self._fetch()
        return self._login

    async def _fetch(self) -> DatabaseLogin:
        # http.client blocks: in a thread, so that the event loop keeps serving other requests meanwhile. Its timeout
        # bounds each socket operation but not name resolution, hence the deadline around the whole fetch (a thread
        # stuck in getaddrinfo finishes on its own; the request does not wait for it).
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.to_thread(fetch_login, self.secret_id, self.timeout, self.allow_plain_http)
        except TimeoutError:
            raise SecretUnavailableError(
                f"cannot read secret {self.secret_id!r}: no answer from Secrets Manager within {self.timeout} s"
            ) from None
