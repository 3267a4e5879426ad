"""The default bake's prod package, run as Lambda would run it, against what a deployed stage has: a MariaDB server
that requires TLS, credentials in Secrets Manager (served by moto on loopback), and the package's own CA bundle.

The shared prod package (tests/packages.py) holds a test CA in the place of AWS's bundle (infra/certs/), exactly
as CI puts the real bundle there. Each function then runs in the runtime's Python alone, unpacked read-only, with the
environment the packaged CloudFormation gives it; only the database address, the secret's ARN and moto's endpoint
are swapped in. The app user may only read and write rows, the migration user may also change the schema: the grants
the generated README gives.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

import pytest

from tests.harness import LambdaProcess, head_revisions
from tests.lambda_events import WRITER_CLAIMS, http_api_event, jwt_authorizer_claims
from tests.local_services import (
    MOTO_AWS_ENV,
    SERVER_NAMES,
    MariaDB,
    TlsFiles,
    mariadb_admin,
    reissue_server_certificate,
    secrets_client,
    throwaway_mariadb,
    write_tls_files,
)
from tests.packages import PROD_GROUP, Package
from tests.packaging_tools import run_command, set_write_bits, unpacked_read_only

pytestmark = [pytest.mark.slow, pytest.mark.mariadb, pytest.mark.xdist_group(PROD_GROUP)]

# The grants of the generated README (Least privilege in the database).
APP_GRANTS = "SELECT, INSERT, UPDATE, DELETE"
MIGRATION_GRANTS = f"{APP_GRANTS}, CREATE, ALTER, DROP, INDEX, REFERENCES"
FUNCTIONS = {"api": "ApiLambdaFunction", "migrate": "MigrateLambdaFunction"}
HANDLERS = {"api": "main.handler", "migrate": "migrate.handler"}
NAMES = itertools.count(1)


@dataclass(frozen=True)
class ProductionPackage:
    """The prod package of the default bake, unpacked read-only, and the environment of each of its functions."""

    task: Path
    python: str
    environments: dict[str, dict[str, str]]
    head: str


@dataclass(frozen=True)
class Deployment:
    """One database on the shared server, its app and migration users, and their secrets in moto."""

    server: MariaDB
    endpoint: str
    database: str
    app_user: str
    secret_arn: str
    migration_secret_arn: str


@pytest.fixture(scope="module")
def production_package(prod_package: Package, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionPackage]:
    """The shared prod package unpacked read-only, with the environment each function gets from its template."""
    template = json.loads(
        (prod_package.infra / ".serverless" / "cloudformation-template-update-stack.json").read_text()
    )
    environments = {
        name: {
            key: value
            for key, value in template["Resources"][logical_id]["Properties"]["Environment"]["Variables"].items()
            if isinstance(value, str)
        }
        for name, logical_id in FUNCTIONS.items()
    }
    head = head_revisions(prod_package.infra.parent / "migrations")
    with unpacked_read_only(prod_package.zip_path, tmp_path_factory.mktemp("production") / "task") as task:
        yield ProductionPackage(task, prod_package.python, environments, head)


def create_users(server: MariaDB, database: str, users: dict[str, tuple[str, str]]) -> None:
    """users: name -> (password, grants). MariaDB maps 127.0.0.1 to localhost: each user exists for both."""
    statements = [f"CREATE DATABASE {database} CHARACTER SET utf8mb4"]
    for user, (password, grants) in users.items():
        for host in ("localhost", "127.0.0.1"):
            statements.append(f"CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'")
            statements.append(f"GRANT {grants} ON {database}.* TO '{user}'@'{host}'")
    mariadb_admin(server, *statements)


def deploy(server: MariaDB, endpoint: str) -> Deployment:
    """A fresh database with an app user and a migration user, each with an RDS-style secret in moto."""
    number = next(NAMES)
    database, app_user, migration_user = f"service_{number}", f"app_{number}", f"migrator_{number}"
    create_users(
        server, database, {app_user: ("app-password-1", APP_GRANTS), migration_user: ("ddl-password", MIGRATION_GRANTS)}
    )
    client = secrets_client(endpoint)
    arns = [
        client.create_secret(Name=f"{user}-{number}", SecretString=json.dumps(rds_secret(user, password)))["ARN"]
        for user, password in ((app_user, "app-password-1"), (migration_user, "ddl-password"))
    ]
    return Deployment(server, endpoint, database, app_user, arns[0], arns[1])


def rds_secret(username: str, password: str) -> dict[str, Any]:
    """The shape of the secret RDS manages for a database (engine and host fields included, as RDS writes them)."""
    return {"username": username, "password": password, "engine": "mysql", "host": "ignored.example.com"}


@pytest.fixture
def deployment(server: MariaDB, moto_endpoint: str) -> Deployment:
    return deploy(server, moto_endpoint)


def start_function(
    package: ProductionPackage, deployment: Deployment, name: str, log: Path, **overrides: str
) -> LambdaProcess:
    """A warm container of one of the package's functions, with its packaged environment pointed at the test's
    database, secret and moto."""
    env = dict(package.environments[name])
    env["DB_SECRET_ARN"] = deployment.migration_secret_arn if name == "migrate" else deployment.secret_arn
    env.update(
        MOTO_AWS_ENV,
        AWS_ENDPOINT_URL_SECRETS_MANAGER=deployment.endpoint,
        AWS_LAMBDA_FUNCTION_NAME=name,
        DB_HOST="127.0.0.1",
        DB_PORT=str(deployment.server.port),
        DB_NAME=deployment.database,
        **overrides,
    )
    return LambdaProcess(package.python, package.task, env, log)


def invoke_once(package: ProductionPackage, deployment: Deployment, name: str, log: Path, **overrides: str) -> Any:
    """A cold container that answers one empty event and stops."""
    function = start_function(package, deployment, name, log, **overrides)
    try:
        return function.invoke(HANDLERS[name], {})
    finally:
        function.close()


def request(
    function: LambdaProcess,
    method: str,
    path: str,
    body: Any = None,
    claims: Mapping[str, str] | None = WRITER_CLAIMS,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, dict[str, str], Any]:
    """One request through main.handler, by default from a caller the JWT authorizer verified (claims=None: a request
    that reached the function without them)."""
    event = http_api_event(
        method,
        path,
        None if body is None else json.dumps(body),
        {"content-type": "application/json", **(headers or {})},
        claims,
    )
    response = function.invoke("main.handler", event)
    assert "statusCode" in response, response
    return response["statusCode"], response["headers"], json.loads(response["body"])


def packaged_local_token(package: ProductionPackage, key: str) -> str:
    """A token for mallory with challenge/write, issued by the package's own signer with key and accepted by its own
    verifier: what a local run with LOCAL_TOKEN_KEY=key would let in."""
    code = (
        "import sys\n"
        "from app.auth.local_token import issue_local_token, verify_local_token\n"
        "token = issue_local_token(sys.argv[1], 'mallory', ['challenge/write'])\n"
        "assert verify_local_token(sys.argv[1], token) is not None, 'the packaged verifier refused the token'\n"
        "print(token)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"}
    return run_command([package.python, "-S", "-c", code, key], package.task, env).strip().splitlines()[-1]


def migrated(package: ProductionPackage, deployment: Deployment, tmp_path: Path) -> None:
    result = invoke_once(package, deployment, "migrate", tmp_path / "migrate.log")
    assert result == {"revision_before": None, "revision_after": package.head}, (tmp_path / "migrate.log").read_text()


def test_the_migration_function_upgrades_an_empty_database_once(
    production_package: ProductionPackage, deployment: Deployment, tmp_path: Path, summary: list[str]
) -> None:
    migrated(production_package, deployment, tmp_path)
    again = invoke_once(production_package, deployment, "migrate", tmp_path / "again.log")
    assert again == {"revision_before": production_package.head, "revision_after": production_package.head}
    summary.append(f"prod package: migrate.handler upgraded an empty database to {production_package.head}, then no-op")


def test_api_reads_and_writes_over_verified_tls_with_the_secret(
    production_package: ProductionPackage, deployment: Deployment, tmp_path: Path, summary: list[str]
) -> None:
    migrated(production_package, deployment, tmp_path)
    api = start_function(production_package, deployment, "api", tmp_path / "api.log")
    try:
        status, _, created = request(api, "POST", "/challenges", {"title": "verified"})
        assert status == 201, created
        status, _, read = request(api, "GET", f"/challenges/{created['id']}")
        assert (status, read["title"]) == (200, "verified")
        modules = api.modules()
        # Asked while the warm container still holds its pooled connection: after close() the list would be empty
        # and prove nothing.
        sessions = mariadb_admin(
            deployment.server, f"SELECT user FROM information_schema.processlist WHERE db = '{deployment.database}'"
        )
    finally:
        api.close()
    # The API function logs in with the app user's secret and never loads the migration machinery.
    assert {"app.database.secret_login", "app.aws.secrets_manager"} <= set(modules)
    assert [name for name in modules if name.split(".")[0] in {"alembic", "migrate", "mako"}] == []
    assert sessions, "no connection of the API function was found on the server"
    assert all(user == deployment.app_user for (user,) in sessions), sessions
    summary.append("prod package: POST and GET /challenges over TLS verified by the packaged CA, secret from moto")


def test_only_the_identity_the_gateway_verified_reaches_the_database(
    production_package: ProductionPackage, deployment: Deployment, tmp_path: Path, summary: list[str]
) -> None:
    """ENVIRONMENT=prod, as packaged: the probes need no token; the example module's routes answer 401 without the
    authorizer's claims (also to a local token, signed with a key a local run would accept, that the function would
    have to verify itself), 403 to a write without its scope; a scoped write is stored for its subject, whom another
    subject cannot read."""
    migrated(production_package, deployment, tmp_path)
    signed_locally = packaged_local_token(production_package, token_urlsafe(32))
    api = start_function(production_package, deployment, "api", tmp_path / "api.log")
    try:
        assert production_package.environments["api"]["ENVIRONMENT"] == "prod"
        health = request(api, "GET", "/health", claims=None)
        anonymous = [
            request(api, method, "/challenges", {"title": "anonymous"}, claims=None, headers=headers)
            for method in ("GET", "POST")
            for headers in ({}, {"authorization": f"Bearer {signed_locally}"})
        ]
        unscoped = request(api, "POST", "/challenges", {"title": "no scope"}, claims=jwt_authorizer_claims("alice", ""))
        created = request(
            api, "POST", "/challenges", {"title": "alice's"}, claims=jwt_authorizer_claims("alice", "challenge/write")
        )
        challenge = f"/challenges/{created[2]['id']}"
        # Read-only callers: a verified identity, no scope; the authorizer's list of scopes is null.
        own = request(api, "GET", challenge, claims=jwt_authorizer_claims("alice", ""))
        others = request(api, "GET", challenge, claims=jwt_authorizer_claims("bob", ""))
        others_list = request(api, "GET", "/challenges", claims=jwt_authorizer_claims("bob", ""))
        rows = mariadb_admin(deployment.server, f"SELECT title, owner_subject FROM {deployment.database}.challenge")
    finally:
        api.close()
    assert health[0] == 200
    for status, headers, body in anonymous:
        assert (status, headers["www-authenticate"], body["error"]["code"]) == (401, "Bearer", "not_authenticated")
    assert (unscoped[0], unscoped[2]["error"]["code"]) == (403, "insufficient_scope")
    assert 'scope="challenge/write"' in unscoped[1]["www-authenticate"]
    assert created[0] == 201, created
    assert (own[0], own[2]["title"]) == (200, "alice's")
    assert (others[0], others[2]["error"]["code"]) == (404, "challenge_not_found")
    assert (others_list[0], others_list[2]["items"]) == (200, [])
    assert rows == [("alice's", "alice")]
    summary.append(
        "prod package: 401 without the authorizer's claims (also with a validly signed local token), 403 without the "
        "scope, a scoped write stored for its subject, 404 for another"
    )


def test_a_server_certificate_from_another_ca_is_refused_naming_the_cause(
    production_package: ProductionPackage, deployment: Deployment, tmp_path: Path
) -> None:
    migrated(production_package, deployment, tmp_path)
    other = write_tls_files(tmp_path)
    api = start_function(production_package, deployment, "api", tmp_path / "api.log", DB_SSL_CA=str(other.ca))
    try:
        status, headers, body = request(api, "GET", "/challenges")
    finally:
        api.close()
    assert status == 503 and body["error"]["code"] == "database_unavailable"
    assert int(headers["retry-after"]) > 0
    assert "CERTIFICATE_VERIFY_FAILED" in api.logged()


def test_a_certificate_from_the_same_ca_for_another_host_name_is_refused(
    production_package: ProductionPackage, deployment: Deployment, tmp_path: Path, summary: list[str]
) -> None:
    """The packaged CA signed it, so only the host-name check can refuse it: the connection goes to 127.0.0.1."""
    migrated(production_package, deployment, tmp_path)
    tls = deployment.server.tls
    try:
        reissue_server_certificate(tls, "db.other.test")
        mariadb_admin(deployment.server, "FLUSH SSL")
        api = start_function(production_package, deployment, "api", tmp_path / "api.log")
        try:
            status, _, body = request(api, "GET", "/challenges")
        finally:
            api.close()
    finally:
        reissue_server_certificate(tls, *SERVER_NAMES)
        mariadb_admin(deployment.server, "FLUSH SSL")
    assert status == 503 and body["error"]["code"] == "database_unavailable"
    assert "CERTIFICATE_VERIFY_FAILED" in api.logged() and "mismatch" in api.logged(), api.logged()
    summary.append("prod package: a certificate from the packaged CA for another host name refused (503)")


def test_a_rotated_password_is_fetched_again_without_a_restart(
    production_package: ProductionPackage, deployment: Deployment, tmp_path: Path, summary: list[str]
) -> None:
    migrated(production_package, deployment, tmp_path)
    # DB_PING_AFTER_IDLE=0: every checkout pings, so the connection killed below is replaced by a new one at once.
    api = start_function(production_package, deployment, "api", tmp_path / "api.log", DB_PING_AFTER_IDLE="0")
    try:
        assert request(api, "GET", "/challenges")[0] == 200
        user = deployment.app_user
        mariadb_admin(
            deployment.server,
            *(f"ALTER USER '{user}'@'{host}' IDENTIFIED BY 'app-password-2'" for host in ("localhost", "127.0.0.1")),
        )
        secrets_client(deployment.endpoint).put_secret_value(
            SecretId=deployment.secret_arn, SecretString=json.dumps(rds_secret(user, "app-password-2"))
        )
        sessions = mariadb_admin(
            deployment.server, f"SELECT id FROM information_schema.processlist WHERE user = '{user}'"
        )
        assert sessions, "the API process holds no connection to kill"
        mariadb_admin(deployment.server, *(f"KILL {session_id}" for (session_id,) in sessions))
        status, _, body = request(api, "GET", "/challenges")
    finally:
        api.close()
    assert status == 200, (body, api.logged())
    assert "fetching the secret again" in api.logged()
    summary.append("prod package: after the password was rotated, the next connection used the new secret (200)")


def test_a_broken_revision_fails_the_invocation_naming_its_kind_and_logs_its_error(
    production_package: ProductionPackage, deployment: Deployment, tmp_path: Path
) -> None:
    """The invocation's result (printed by `make migrate-<stage>` into CI logs) names the error's kind and code only:
    a database's message can quote row values. The function's own log has the whole error."""
    migrated(production_package, deployment, tmp_path)
    broken_task = tmp_path / "broken"
    shutil.copytree(production_package.task, broken_task)
    set_write_bits(broken_task, writable=True)
    (broken_task / "migrations" / "versions" / "9999_broken.py").write_text(
        '"""A revision whose SQL the server rejects."""\n\n'
        "from alembic import op\n\n"
        'revision = "9999"\n'
        f'down_revision = "{production_package.head}"\n'
        "branch_labels = None\ndepends_on = None\n\n\n"
        "def upgrade() -> None:\n"
        '    op.execute("ALTER TABLE no_such_table ADD COLUMN broken INT")\n\n\n'
        "def downgrade() -> None:\n"
        "    pass\n"
    )
    set_write_bits(broken_task, writable=False)
    package = ProductionPackage(
        broken_task, production_package.python, production_package.environments, production_package.head
    )
    try:
        result = invoke_once(package, deployment, "migrate", tmp_path / "broken.log")
    finally:
        set_write_bits(broken_task, writable=True)
    assert set(result) == {"errorMessage", "errorType"}, result
    assert result["errorType"] == "MigrationFailed" and "ProgrammingError (1146)" in result["errorMessage"], result
    assert "no_such_table" not in result["errorMessage"]
    assert "no_such_table" in (tmp_path / "broken.log").read_text()
    version = mariadb_admin(deployment.server, f"SELECT version_num FROM {deployment.database}.alembic_version")
    assert version == [(production_package.head,)]


def test_an_outage_answers_503_with_retry_after_then_200_in_the_same_process(
    production_package: ProductionPackage,
    mariadb_available: None,
    deployment_tls: TlsFiles,
    moto_endpoint: str,
    tmp_path: Path,
    summary: list[str],
) -> None:
    # A server of its own, since this test stops it.
    with throwaway_mariadb(tmp_path / "mariadb", deployment_tls) as server:
        deployment = deploy(server, moto_endpoint)
        migrated(production_package, deployment, tmp_path)
        api = start_function(production_package, deployment, "api", tmp_path / "api.log")
        try:
            assert request(api, "GET", "/challenges")[0] == 200
            server.stop()
            answers = [
                request(api, method, "/challenges", body) for method, body in (("GET", None), ("POST", {"title": "x"}))
            ]
            ready = request(api, "GET", "/health/ready")
            alive = request(api, "GET", "/health")
            server.start()
            back = request(api, "GET", "/challenges")
        finally:
            api.close()
    for status, headers, body in answers:
        assert status == 503 and body["error"]["code"] == "database_unavailable", body
        assert int(headers["retry-after"]) > 0
    assert ready[0] == 503 and alive[0] == 200
    assert back[0] == 200, back
    summary.append("prod package: MariaDB stopped -> GET and POST 503 with Retry-After; restarted -> 200, same process")
