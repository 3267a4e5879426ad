"""Who may call the deployed API: the HTTP API's JWT authorizer and which routes need it, its CORS configuration,
the open API of an api_auth=none bake, and infra/cognito.yml, the user pool that issues the tokens (its scopes, its
clients and its refusal of the localhost callback in prod). The app's own checks of identity and scopes run in the
generated project's tests (tests/test_generated_project.py runs them) and in tests/test_production_package.py."""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml
from pytest_cookies.plugin import Cookies

from tests.cloudformation import checkov_failures, function_properties, packaged_template, resources_of_type
from tests.conftest import render_only, run, tool
from tests.packages import PROD_GROUP, PROD_JWT_AUDIENCE, PROD_JWT_ISSUER_URL, PROD_ORIGIN, Package, resolved_config
from tests.packaging_tools import PACKAGE_ENV

pytestmark = pytest.mark.slow

# The routes a caller without a token reaches: the health probes and CORS preflight.
OPEN_ROUTES = {"GET /health", "GET /health/ready", "OPTIONS /{proxy+}"}

# The HTTP API's CORS answer besides its origins (serverless.yml, custom.cors); AllowCredentials stays unset (false).
CORS_CONFIGURATION = {
    "AllowHeaders": ["Authorization", "Content-Type"],
    "AllowMethods": ["GET", "POST", "PUT", "PATCH", "DELETE"],
    "ExposeHeaders": ["X-Request-Id", "Retry-After"],
    "MaxAge": 600,
}


@pytest.mark.parametrize(
    ("name", "issuer", "audience", "origins"),
    [
        pytest.param(
            "prod",
            PROD_JWT_ISSUER_URL,
            PROD_JWT_AUDIENCE,
            [PROD_ORIGIN],
            marks=pytest.mark.xdist_group(PROD_GROUP),
        ),
        # A workstation shell without CORS_ALLOWED_ORIGINS: no CORS at all.
        pytest.param(
            "v4",
            PACKAGE_ENV["JWT_ISSUER_URL"],
            PACKAGE_ENV["JWT_AUDIENCE"].split(","),
            None,
            marks=pytest.mark.xdist_group("package-v4"),
        ),
    ],
)
def test_every_route_but_the_probes_and_preflight_needs_a_jwt_of_the_given_issuer(
    request: pytest.FixtureRequest, name: str, issuer: str, audience: list[str], origins: list[str] | None
) -> None:
    """The default bake's HTTP API has one JWT authorizer, reading the bearer token of the Authorization header, with
    exactly the deploying shell's issuer and audiences (trimmed); every route requires it except the health probes
    and CORS preflight, the catch-all included. Its CORS configuration allows exactly CORS_ALLOWED_ORIGINS, without
    credentials, or is absent when the variable is; the variable never reaches a function's environment."""
    resources = packaged_template(request.getfixturevalue(f"{name}_package"))["Resources"]
    authorizers = resources_of_type(resources, "AWS::ApiGatewayV2::Authorizer")
    assert list(authorizers.values()) == [
        {
            "ApiId": {"Ref": "HttpApi"},
            "Name": "jwtAuthorizer",
            "IdentitySource": ["$request.header.Authorization"],
            "AuthorizerType": "JWT",
            "JwtConfiguration": {"Audience": audience, "Issuer": issuer},
        }
    ]
    (authorizer,) = authorizers
    routes = {route["RouteKey"]: route for route in resources_of_type(resources, "AWS::ApiGatewayV2::Route").values()}
    open_routes = {key for key, route in routes.items() if route.get("AuthorizationType", "NONE") == "NONE"}
    assert open_routes == OPEN_ROUTES
    protected = {
        key: (route.get("AuthorizationType"), route.get("AuthorizerId"))
        for key, route in routes.items()
        if key not in OPEN_ROUTES
    }
    assert "$default" in protected
    assert protected == dict.fromkeys(protected, ("JWT", {"Ref": authorizer}))
    cors = resources["HttpApi"]["Properties"].get("CorsConfiguration")
    assert cors == (None if origins is None else {**CORS_CONFIGURATION, "AllowOrigins": origins})
    environments = [properties.get("Environment", {}) for properties in function_properties(resources).values()]
    assert [environment for environment in environments if "CORS_ALLOWED_ORIGINS" in json.dumps(environment)] == []


@pytest.mark.xdist_group("package-osls")
def test_an_open_api_bake_packages_its_catch_all_route_without_an_authorizer(osls_package: Package) -> None:
    """api_auth=none: no authorizer (the deploying shell's JWT settings are ignored), one catch-all route open to
    anyone, as before; CORS_ALLOWED_ORIGINS configures its CORS all the same."""
    resources = packaged_template(osls_package)["Resources"]
    assert resources_of_type(resources, "AWS::ApiGatewayV2::Authorizer") == {}
    routes = list(resources_of_type(resources, "AWS::ApiGatewayV2::Route").values())
    assert [(route["RouteKey"], route.get("AuthorizationType")) for route in routes] == [("$default", None)]
    assert "CorsConfiguration" not in resources["HttpApi"]["Properties"]
    config = resolved_config(osls_package, CORS_ALLOWED_ORIGINS=f" {PROD_ORIGIN} ,http://localhost:3000")
    assert config["provider"]["httpApi"]["cors"]["allowedOrigins"] == [PROD_ORIGIN, "http://localhost:3000"]
    assert "authorizers" not in config["provider"]["httpApi"]


def module_scopes(project: Path) -> dict[str, list[str]]:
    """Each module's scopes as its access.py declares them (READ_SCOPES, then WRITE_SCOPE), by module name."""
    scopes = {}
    for access in sorted((project / "app" / "module").glob("*/access.py")):
        declared = {}
        for node in ast.parse(access.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign):
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in {"READ_SCOPES", "WRITE_SCOPE"}:
                declared[target.id] = ast.literal_eval(value)
        scopes[access.parent.name] = [*declared["READ_SCOPES"], declared["WRITE_SCOPE"]]
    return scopes


COGNITO_OUTPUTS = {"UserPoolId", "IssuerUrl", "MachineClientId", "WebClientId", "TokenEndpoint"}


@pytest.mark.parametrize("example_module", ["yes", "no"])
def test_the_cognito_stack_issues_the_module_scopes_and_grants_nothing_else(
    request: pytest.FixtureRequest, cookies_session: Cookies, example_module: str
) -> None:
    """infra/cognito.yml (api_auth=jwt), which cfn-lint and checkov pass (checkov has no check for user pools and
    their clients yet, so what matters is asserted here): no IAM resource; no self sign-up; every name derived from
    the stack's, so two stacks never collide; one resource server per module whose scopes are exactly those its
    access.py requires; the machine client (client credentials, with a secret) holds exactly those scopes, and exists
    only when a module defines some (client credentials needs one); the web client (authorization code, no secret)
    holds them plus openid and email; the outputs feed JWT_ISSUER_URL and JWT_AUDIENCE."""
    if example_module == "yes":
        project: Path = request.getfixturevalue("default_project")
    else:
        with render_only():
            result = cookies_session.bake(
                extra_context={"project_slug": "cognito-check", "include_example_module": "no"}
            )
        assert result.exit_code == 0, result.exception
        project = Path(result.project_path)
    path = project / "infra" / "cognito.yml"
    run([tool("cfn-lint"), str(path)], path.parent)
    assert checkov_failures(path, {}, require_checks=False) == []
    template = cfn_yaml.loads(path.read_text())
    resources = template["Resources"]
    assert [name for name, resource in resources.items() if resource["Type"].startswith("AWS::IAM::")] == []
    assert set(template["Parameters"]) == {"Stage", "DomainPrefix", "CallbackUrls"}
    callbacks = template["Parameters"]["CallbackUrls"]
    assert (callbacks["Type"], callbacks["Default"]) == ("CommaDelimitedList", "http://localhost:3000/callback")
    pool = resources["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert resources["UserPoolDomain"]["Properties"]["Domain"] == {"Ref": "DomainPrefix"}
    clients = resources_of_type(resources, "AWS::Cognito::UserPoolClient")
    names = [pool["UserPoolName"], *(client["ClientName"] for client in clients.values())]
    assert [name for name in names if not name["Fn::Sub"].startswith("${AWS::StackName}-")] == []
    servers = resources_of_type(resources, "AWS::Cognito::UserPoolResourceServer")
    expected = module_scopes(project)
    assert {server["Identifier"] for server in servers.values()} == set(expected)
    scopes = sorted(
        f"{server['Identifier']}/{scope['ScopeName']}" for server in servers.values() for scope in server["Scopes"]
    )
    assert scopes == sorted(scope for module in expected.values() for scope in module)
    # A client may only name scopes that exist: each waits for every resource server.
    assert [name for name in clients if set(resources[name].get("DependsOn", [])) != set(servers)] == []
    web = clients["WebClient"]
    assert (web["GenerateSecret"], web["AllowedOAuthFlows"], web["CallbackURLs"]) == (
        False,
        ["code"],
        {"Ref": "CallbackUrls"},
    )
    assert sorted(web["AllowedOAuthScopes"]) == sorted(["openid", "email", *scopes])
    outputs = template["Outputs"]
    if scopes:
        machine = clients["MachineClient"]
        assert (machine["GenerateSecret"], machine["AllowedOAuthFlows"]) == (True, ["client_credentials"])
        assert sorted(machine["AllowedOAuthScopes"]) == scopes
        assert set(outputs) == COGNITO_OUTPUTS
    else:
        assert set(clients) == {"WebClient"}
        assert set(outputs) == COGNITO_OUTPUTS - {"MachineClientId"}
    assert outputs["IssuerUrl"]["Value"] == {"Fn::Sub": "https://${UserPool.ProviderURL}"}
    token_endpoint = "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com/oauth2/token"
    assert outputs["TokenEndpoint"]["Value"] == {"Fn::Sub": token_endpoint}


LOCALHOST_CALLBACK = "http://localhost:3000/callback"


def rule_refusals(template: Mapping[str, Any], parameters: Mapping[str, str]) -> list[str]:
    """The AssertDescription of every assertion CloudFormation would refuse the stack with, for these parameters
    (the Rules section, evaluated as CloudFormation does before it changes anything: a rule whose RuleCondition is
    false asserts nothing)."""
    values: dict[str, Any] = {}
    for name, spec in template["Parameters"].items():
        value = parameters.get(name, spec.get("Default"))
        assert value is not None, f"{name} has no default and was not given"
        values[name] = [item.strip() for item in value.split(",")] if spec["Type"] == "CommaDelimitedList" else value

    def holds(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((function, argument),) = node.items()
        if function == "Ref":
            return values[argument]
        if function == "Fn::Equals":
            first, second = map(holds, argument)
            return first == second
        if function == "Fn::Not":
            return not holds(argument[0])
        if function == "Fn::And":
            return all(map(holds, argument))
        if function == "Fn::Or":
            return any(map(holds, argument))
        if function == "Fn::Contains":
            items, item = map(holds, argument)
            return item in items
        if function == "Fn::EachMemberIn":
            items, allowed = map(holds, argument)
            return set(items) <= set(allowed)
        raise AssertionError(f"the test does not evaluate {function}")

    refusals = []
    for rule in template.get("Rules", {}).values():
        if "RuleCondition" in rule and not holds(rule["RuleCondition"]):
            continue
        refusals += [
            assertion["AssertDescription"] for assertion in rule["Assertions"] if not holds(assertion["Assert"])
        ]
    return refusals


@pytest.mark.parametrize(
    ("stage", "callbacks", "refused"),
    [
        ("prod", None, True),
        ("prod", f"https://app.example.com/callback,{LOCALHOST_CALLBACK}", True),
        ("prod", "https://app.example.com/callback", False),
        ("dev", None, False),
    ],
    ids=["prod-default", "prod-with-localhost", "prod-https", "dev-default"],
)
def test_the_cognito_stack_refuses_the_localhost_callback_in_prod(
    default_project: Path, stage: str, callbacks: str | None, refused: bool
) -> None:
    """infra/cognito.yml's Rules, which CloudFormation checks before creating or changing anything (and cfn-lint
    validates): the prod stage refuses the localhost callback URL, default or listed, with a message naming
    CallbackUrls, the refused value and what to give instead; an https callback passes, and other stages keep the
    default for local development. The stage has no default, so no stack skips the rule by leaving it out."""
    template = cfn_yaml.loads((default_project / "infra" / "cognito.yml").read_text())
    parameters = {"Stage": stage, "DomainPrefix": "challenge-auth"}
    if callbacks is not None:
        parameters["CallbackUrls"] = callbacks
    refusals = rule_refusals(template, parameters)
    if refused:
        assert len(refusals) == 1, refusals
        assert refusals[0].startswith("CallbackUrls: ") and LOCALHOST_CALLBACK in refusals[0]
        assert "https://app.example.com/callback" in refusals[0]
    else:
        assert refusals == []
    assert "Default" not in template["Parameters"]["Stage"]
