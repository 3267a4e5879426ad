"""Where an AWS API is reached: the SDKs' endpoint override variables first, else the region's endpoint, FIPS and
dual-stack as AWS_USE_FIPS_ENDPOINT and AWS_USE_DUALSTACK_ENDPOINT ask (China's regions are in their own partition),
and the rule that keeps a signed request, and the answer, from crossing a network in clear: http:// only on a
loopback address, or where the caller allows it (local and test runs)."""

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from app.aws.errors import AwsRequestError

# Services whose regular endpoint in AWS GovCloud (US) is FIPS-validated: the SDKs' rules send FIPS requests there
# (without dual-stack) rather than to a "-fips" host.
FIPS_BY_DEFAULT_IN_GOVCLOUD = frozenset({"sqs"})


@dataclass(frozen=True)
class HttpEndpoint:
    """An endpoint that a signed request may be sent to: https, or http where that is allowed."""

    url: str  # the endpoint URL with a trailing slash: what a request to its root signs
    https: bool
    host: str
    port: int | None
    path: str


def endpoint_url(endpoint_prefix: str, sdk_service_id: str, region: str, environ: Mapping[str, str]) -> str:
    """The service's endpoint URL, without a trailing slash. endpoint_prefix starts the host name
    ("secretsmanager"); sdk_service_id is the service's name in the SDKs ("Secrets Manager"), which names its own
    override variable (AWS_ENDPOINT_URL_SECRETS_MANAGER), read before the global AWS_ENDPOINT_URL."""
    override_variable = "AWS_ENDPOINT_URL_" + sdk_service_id.upper().replace(" ", "_")
    override = environ.get(override_variable) or environ.get("AWS_ENDPOINT_URL")
    if override:
        return override.rstrip("/")
    china = region.startswith("cn-")
    dualstack = environ.get("AWS_USE_DUALSTACK_ENDPOINT", "").strip().lower() == "true"
    if dualstack:
        domain = "api.amazonwebservices.com.cn" if china else "api.aws"
    else:
        domain = "amazonaws.com.cn" if china else "amazonaws.com"
    fips = environ.get("AWS_USE_FIPS_ENDPOINT", "").strip().lower() == "true"
    if fips and not dualstack and region.startswith("us-gov-") and endpoint_prefix in FIPS_BY_DEFAULT_IN_GOVCLOUD:
        fips = False
    return f"https://{endpoint_prefix}{'-fips' if fips else ''}.{region}.{domain}"


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses: a request there never leaves the machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_endpoint(endpoint: str, allow_plain_http: bool) -> HttpEndpoint:
    """The endpoint, or AwsRequestError when it is not an http(s) URL, or is plain http on a host that is not loopback
    without allow_plain_http."""
    url = f"{endpoint}/"
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise AwsRequestError(f"endpoint {endpoint!r} is not an http(s) URL")
    if parts.scheme == "http" and not allow_plain_http and not is_loopback(parts.hostname):
        raise AwsRequestError(
            f"endpoint {endpoint!r} is plain http on a host that is not loopback; deployed stages need https"
        )
    return HttpEndpoint(url, parts.scheme == "https", parts.hostname, parts.port, parts.path)
