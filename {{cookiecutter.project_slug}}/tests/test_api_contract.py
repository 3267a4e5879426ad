"""The API keeps its published contract: every operation in the OpenAPI document, fuzzed in-process by schemathesis
with all of its checks.

Each operation gets schemathesis's coverage cases (boundary values, missing and wrongly typed ones, undocumented
methods) and up to FUZZ_EXAMPLES generated requests, valid and invalid; then as many workflows follow the links
schemathesis infers between operations (create, then read what was created). Every response must be documented and
match its schema, valid requests must be accepted and invalid ones rejected, and no request may cause a 500. Routes a
module adds are fuzzed the same way, with nothing to write.
{%- if cookiecutter.api_auth == "jwt" %}

Requests carry a valid local token with every module scope (FUZZ_TOKEN), so the fuzzing reaches the routes behind it;
schemathesis also sends them without the token, or with an invalid one, and expects the refusal.
{%- endif %}

What is generated is fixed (FUZZ_SEED, default 0, for the operations; workflows are derandomized), so CI sends the
same requests every run. To explore further: `FUZZ_SEED=7 FUZZ_EXAMPLES=150 make test`.
"""

import asyncio
import os
from collections.abc import Iterator
from contextlib import contextmanager
{% if cookiecutter.api_auth == "jwt" -%}
from typing import Annotated, Any
{%- else -%}
from typing import Any
{%- endif %}

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis import Case
from schemathesis.errors import NoLinksFound
from sqlalchemy import Connection, event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.types import Receive, Scope, Send

{% if cookiecutter.api_auth == "jwt" -%}
from app.auth.identity import CurrentUser, User, require_scopes
from app.auth.local_token import issue_local_token
from app.common.responses import ERROR_RESPONSE_REF
{% endif -%}
from app.common.settings import get_settings
from app.database.config import create_engine, get_engine, get_sessionmaker
{%- if cookiecutter.api_auth == "jwt" %}
from app.registry import every_module_scope
{%- endif %}
from main import app
{%- if cookiecutter.api_auth == "jwt" %}
from tests.conftest import TEST_SUBJECT, TEST_TOKEN_KEY
{%- endif %}

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "0"))
# Seconds the rollback at the end of a test may take on schemathesis's event loop.
CLOSE_TIMEOUT = 60
{%- if cookiecutter.api_auth == "jwt" %}
# Methods that change data: each needs a scope, so a token that may only read can never write.
WRITE_METHODS = ("post", "put", "patch", "delete")
# A local token with every module scope, valid for the whole run (the `bearer` fixture makes the app accept it).
FUZZ_TOKEN = issue_local_token(TEST_TOKEN_KEY, TEST_SUBJECT, every_module_scope(), lifetime_seconds=24 * 3600)


def fuzz_auth() -> dict[str, Any]:
    """FUZZ_TOKEN as the document's bearer scheme, so schemathesis knows which of its requests leave it out on purpose;
    nothing while no route declares the scheme (an app with only the health probes), which schemathesis refuses."""
    schemes = app.openapi().get("components", {}).get("securitySchemes", {})
    return {"openapi": {"bearer": {"bearer": FUZZ_TOKEN}}} if "bearer" in schemes else {}
{%- endif %}


class RolledBackApp:
    """The app, with the database work of a test's requests in one transaction that is rolled back when it ends.

    Each request works in a savepoint of that transaction, so a request that fails undoes its own work only, as on a
    running server (where each request has its own transaction) and what one request created the next can read.
    schemathesis calls an ASGI app on an event loop of its own, in another thread. Async database connections belong
    to the loop that opened them, so the connection is opened on that loop by the first request and closed there.
    Outside rolled_back(), requests pass straight through (schemathesis reads the document while collecting).
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.active = False
        self.loop: asyncio.AbstractEventLoop | None = None
        # Its own engine: the app's keeps its pool (one connection with Lambda's settings) for the readiness probe.
        self.engine: AsyncEngine | None = None
        self.connection: AsyncConnection | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.active and scope["type"] == "http":
            await self.begin()
        await self.app(scope, receive, send)

    async def begin(self) -> None:
        """Open the connection and its transaction on this loop, once; later requests share it."""
        if self.loop is not None:
            if asyncio.get_running_loop() is not self.loop:
                raise RuntimeError("schemathesis called the app on another event loop than the test transaction's")
            return
        self.loop = asyncio.get_running_loop()
        self.engine = create_engine(get_settings())
        if self.engine.dialect.name == "sqlite":
            # Python's sqlite3 driver opens transactions on its own terms, which breaks savepoints; SQLAlchemy's
            # documented remedy: the driver leaves transactions alone and BEGIN is sent explicitly.
            event.listen(self.engine.sync_engine, "connect", leave_transactions_to_sqlalchemy)
            event.listen(self.engine.sync_engine, "begin", send_begin)
        self.connection = await self.engine.connect()
        await self.connection.begin()
        get_sessionmaker().configure(bind=self.connection, join_transaction_mode="create_savepoint")

    async def end(self) -> None:
        """Roll back what the requests stored and close every connection opened on this loop."""
        if self.connection is not None:
            await self.connection.rollback()
            await self.connection.close()
        if self.engine is not None:
            await self.engine.dispose()
        await get_engine().dispose()

    @contextmanager
    def rolled_back(self) -> Iterator[None]:
        """Requests inside share one transaction, rolled back at the end on the loop that opened it."""
        self.active = True
        try:
            yield
        finally:
            self.active = False
            if self.loop is not None:
                asyncio.run_coroutine_threadsafe(self.end(), self.loop).result(timeout=CLOSE_TIMEOUT)
            self.loop, self.engine, self.connection = None, None, None
            # The factory is bound to the closed connection; the next user builds a fresh one.
            get_sessionmaker.cache_clear()


def leave_transactions_to_sqlalchemy(driver_connection: Any, _: Any) -> None:
    """The SQLite driver connection runs in autocommit mode: it sends no BEGIN or COMMIT of its own."""
    driver_connection.isolation_level = None


def send_begin(connection: Connection) -> None:
    """Start each transaction with an explicit BEGIN (see leave_transactions_to_sqlalchemy)."""
    connection.exec_driver_sql("BEGIN")


fuzzed_app = RolledBackApp(app)
# Read while the module is collected, so schemathesis can make one test per operation; reading touches no database.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    fuzzed_app,
    config=schemathesis.Config.from_dict(
        {
            "seed": FUZZ_SEED,
            # No example database: what runs depends on the seed alone, and nothing is written to the project.
            "generation": {"max-examples": FUZZ_EXAMPLES, "database": "none"},
            "checks": {"enabled": True},
{%- if cookiecutter.api_auth == "jwt" %}
            "auth": fuzz_auth(),
{%- endif %}
        }
    ),
)


@pytest.fixture
def rolled_back_database(migrated_database: None) -> Iterator[None]:
    """What the test's requests store is rolled back when it ends."""
    with fuzzed_app.rolled_back():
        yield


@schema.parametrize()
# The examples of one operation share its transaction, as requests to a running server share its database.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
{%- if cookiecutter.api_auth == "jwt" %}
@pytest.mark.usefixtures("bearer")
{%- endif %}
def test_every_operation_keeps_its_documented_contract(case: Case[Any], rolled_back_database: None) -> None:
    case.call_and_validate()


{% if cookiecutter.api_auth == "jwt" -%}
@pytest.mark.usefixtures("bearer")
{% endif -%}
def test_workflows_across_operations_keep_the_contract(rolled_back_database: None) -> None:
    """What one operation creates, the next can read (links schemathesis infers from paths and bodies)."""
    run_workflows(schema, app)


def run_workflows(api_schema: Any, application: FastAPI) -> None:
    """Run schemathesis's workflows on the schema; no links is only acceptable where no path takes a parameter."""
    workflows = api_schema.as_state_machine()
    # On top of schemathesis's own settings for workflows (no shrinking, no deadline, no health checks).
    workflow_settings = settings(
        workflows.TestCase.settings, max_examples=FUZZ_EXAMPLES, derandomize=True, database=None
    )
    try:
        workflows.run(settings=workflow_settings)
    except NoLinksFound:
        # schemathesis raises this both when nothing can be chained (only the health probes) and when the links it
        # inferred cannot be built: a path parameter that no response supplies is the second case, and a failure.
        if any("{" in path for path in application.openapi()["paths"]):
            raise


def test_missing_links_fail_the_workflows_where_a_path_takes_a_parameter() -> None:
    orphan = FastAPI()

    @orphan.get("/things/{thing_id}")
    async def read_thing(thing_id: int) -> int:
        return thing_id

    with pytest.raises(NoLinksFound):
        run_workflows(schemathesis.openapi.from_asgi("/openapi.json", orphan), orphan)


def test_an_api_with_nothing_to_chain_has_no_workflows_to_run() -> None:
    probes = FastAPI()

    @probes.get("/health")
    async def health() -> str:
        return "ok"

    run_workflows(schemathesis.openapi.from_asgi("/openapi.json", probes), probes)
{%- if cookiecutter.api_auth == "jwt" %}


def writes_without_a_scope(document: dict[str, Any]) -> list[str]:
    """The operations of an OpenAPI document that change data but name no scope in a security requirement that
    admits them (a missing requirement, an empty one, or one alternative without scopes), as "METHOD path"."""
    return [
        f"{method.upper()} {path}"
        for path, path_item in document["paths"].items()
        for method, operation in path_item.items()
        if method in WRITE_METHODS
        and not (operation.get("security") and all(any(requirement.values()) for requirement in operation["security"]))
    ]


def test_every_write_operation_needs_a_scope() -> None:
    """A route that changes data with only a reader's dependency (e.g. a PUT or DELETE of an item loaded with ItemDep)
    would let any signed-in caller write: such a route takes the module's Writer or WritableItemDep."""
    assert writes_without_a_scope(app.openapi()) == []


def test_a_write_route_without_a_scope_fails_the_check() -> None:
    api = FastAPI()

    @api.get("/things/{thing_id}")
    async def read_thing(user: CurrentUser, thing_id: int) -> int:
        return thing_id

    @api.delete("/things/{thing_id}")
    async def delete_thing(user: CurrentUser, thing_id: int) -> None:
        return None

    @api.put("/things/{thing_id}")
    async def replace_thing(user: Annotated[User, require_scopes("things/write")], thing_id: int) -> int:
        return thing_id

    @api.patch("/things/{thing_id}")
    async def change_thing(thing_id: int) -> int:
        return thing_id

    assert writes_without_a_scope(api.openapi()) == ["DELETE /things/{thing_id}", "PATCH /things/{thing_id}"]


def test_the_document_declares_the_bearer_scheme_and_the_refusals_of_every_protected_operation() -> None:
    """/docs can authorize and a generated client knows to send a token; each operation behind the authorizer
    publishes its 401 (and its 403 where it needs scopes) with the error body. Only the health probes are open."""
    document = app.openapi()
    protected = []
    for path, path_item in document["paths"].items():
        for method, operation in path_item.items():
            label = f"{method.upper()} {path}"
            if path in {"/health", "/health/ready"}:
                assert "security" not in operation, label
                continue
            requirements = operation.get("security")
            assert requirements and all(set(requirement) == {"bearer"} for requirement in requirements), label
            statuses = {"401"} | ({"403"} if any(requirement["bearer"] for requirement in requirements) else set())
            for status in statuses:
                response = operation["responses"].get(status)
                assert response is not None, f"{label} does not document {status}"
                assert response["content"] == {"application/json": {"schema": {"$ref": ERROR_RESPONSE_REF}}}
                assert "WWW-Authenticate" in response["headers"], f"{label} {status}"
            protected.append(label)
{%- if cookiecutter.include_example_module == "yes" %}
    # The scopes an operation needs are listed in its security requirement.
    assert document["paths"]["/challenges"]["post"]["security"] == [{"bearer": ["challenge/write"]}]
    assert document["paths"]["/challenges"]["get"]["security"] == [{"bearer": []}]
{%- endif %}
    if protected:
        scheme = document["components"]["securitySchemes"]["bearer"]
        assert scheme == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
{%- endif %}
