"""API Gateway and Lambda as the handler meets them: the events each front end delivers and Lambda's context object,
for every test that calls main.handler."""

from dataclasses import dataclass
from typing import Any

from mangum.types import LambdaCognitoIdentity, LambdaMobileClientContext


@dataclass
class FakeLambdaContext:
    """The context object Lambda passes to the handler, with realistic values."""

    function_name: str = "api"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:{{ cookiecutter.aws_region }}:123456789012:function:api"
    memory_limit_in_mb: int = 512
    aws_request_id: str = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    log_group_name: str = "/aws/lambda/api"
    log_stream_name: str = "2026/11/26/[$LATEST]0123456789abcdef"
    identity: LambdaCognitoIdentity | None = None
    client_context: LambdaMobileClientContext | None = None

    def get_remaining_time_in_millis(self) -> int:
        """Time left before Lambda stops the invocation."""
        return 30_000


def http_api_v2_event(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event as Lambda delivers it."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "cookies": [],
        "headers": {"accept": "application/json", "content-type": "application/json", "host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.10",
                "userAgent": "pytest",
            },
            "requestId": "id-v2",
            "routeKey": "$default",
            "stage": "$default",
            "time": "26/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795867200000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def rest_api_v1_event(method: str, path: str) -> dict[str, Any]:
    """An API Gateway REST API (payload format 1.0) proxy event."""
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {"Accept": "application/json", "Host": "abc123.execute-api.example.com"},
        "multiValueHeaders": {"Accept": ["application/json"], "Host": ["abc123.execute-api.example.com"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "httpMethod": method,
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "pytest"},
            "path": f"/dev{path}",
            "protocol": "HTTP/1.1",
            "requestId": "id-v1",
            "resourcePath": "/{proxy+}",
            "stage": "dev",
        },
        "body": None,
        "isBase64Encoded": False,
    }
{%- if cookiecutter.api_auth == "jwt" %}


def verified_by_gateway(event: dict[str, Any], scope: str = "", subject: str = "gateway-user") -> dict[str, Any]:
    """The HTTP API event as it reaches the function once API Gateway's JWT authorizer has verified the caller's
    access token: the token's claims, every value a string, and a null scopes list (the routes name no scopes)."""
    claims = {
        "sub": subject,
        "iss": "https://cognito-idp.{{ cookiecutter.aws_region }}.amazonaws.com/{{ cookiecutter.aws_region }}_Example",
        "client_id": "example-client-id",
        "token_use": "access",
        "scope": scope,
        "iat": "1795867200",
        "exp": "1795870800",
    }
    return with_verified_claims(event, claims)


TARGET_GROUP_ARN = "arn:aws:elasticloadbalancing:{{ cookiecutter.aws_region }}:123456789012:targetgroup/api/0123456789abcdef"


def alb_event(method: str, path: str) -> dict[str, Any]:
    """An Application Load Balancer event (a target group with a Lambda target), which Mangum also serves."""
    return {
        "requestContext": {"elb": {"targetGroupArn": TARGET_GROUP_ARN}},
        "httpMethod": method,
        "path": path,
        "queryStringParameters": {},
        "headers": {"accept": "application/json", "host": "api.example.com", "x-forwarded-proto": "https"},
        "body": "",
        "isBase64Encoded": False,
    }


def with_verified_claims(event: dict[str, Any], claims: dict[str, str]) -> dict[str, Any]:
    """The event after the authorizer verified a token with these claims (strings, as it writes them)."""
    context = {**event["requestContext"], "authorizer": {"jwt": {"claims": claims, "scopes": None}}}
    return {**event, "requestContext": context}


def claims_in(event: dict[str, Any]) -> dict[str, str]:
    """The claims verified_by_gateway or with_verified_claims put in the event, to change one before the call."""
    claims: dict[str, str] = event["requestContext"]["authorizer"]["jwt"]["claims"]
    return claims
{%- endif %}
