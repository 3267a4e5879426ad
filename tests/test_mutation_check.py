"""The mutation check's fault finders (tests/mutation_check.py) on the shapes of the generated code today: each finds
its site and only it, its mutant has the protection removed and nothing else changed, and a site that is missing
(as in the mutant itself) or doubled stops the check instead of leaving the code as it was."""

from __future__ import annotations

import ast
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_cookies.plugin import Cookies

from tests import mutation_check
from tests.mutation_check import FAULTS, Fault, Site, SiteError, SuiteRun, check_fault, first_failure, mutants, splice


@dataclass(frozen=True)
class Shape:
    """A file as the default bake has it (trimmed, with look-alikes the finder must leave alone) and the changes the
    fault makes to it: each (line, mutated line) pair."""

    path: str
    source: str
    changes: tuple[tuple[str, str], ...]

    def mutant(self) -> str:
        text = self.source
        for line, mutated in self.changes:
            assert text.count(line) == 1, line
            text = text.replace(line, mutated)
        return text


IDENTITY = textwrap.dedent("""
    def verified_claims(settings, credentials):
        key = settings.local_token_key
        if key is None or settings.environment.is_deployed or credentials is None:
            raise NotAuthenticatedError()
        claims = verify_local_token(key.get_secret_value(), credentials.credentials)
        return claims, []


    async def current_user(security_scopes, request, credentials):
        claims, listed = verified_claims(get_settings(), credentials)
        user = User(subject=claims["sub"], scopes=token_scopes(claims, listed), claims=claims)
        missing = [scope for scope in security_scopes.scopes if scope not in user.scopes]
        if missing:
            raise MissingScopeError(missing)
        return user


    def token_scopes(claims, listed):
        scopes = set(listed)
        for name in SCOPE_CLAIMS:
            if name in claims:
                scopes.update(list_claim(claims[name]))
        return frozenset(scopes)


    class Settings:
        def _deployed_stages_need_mysql(self):
            if self.local_token_key is not None:
                if self.environment.is_deployed:
                    raise ValueError("local tokens are for local runs")
                if len(self.local_token_key.get_secret_value()) < 32:
                    raise ValueError("too short")
            return self
    """)
SERVICE = textwrap.dedent("""
    async def create_challenge(session, data, owner_subject):
        challenge = Challenge(title=data.title, owner_subject=owner_subject)
        session.add(challenge)
        return challenge


    async def list_challenges(session, limit, after_id, owner_subject):
        statement = select(Challenge)
        if owner_subject is not None:
            statement = statement.where(Challenge.title != "제목", Challenge.owner_subject == owner_subject)
        return (await session.scalars(keyset_page(statement, Challenge.id, limit, after_id))).all()


    async def get_challenge(session, challenge_id, owner_subject):
        challenge = await session.get(Challenge, challenge_id)
        if challenge is None or (owner_subject is not None and challenge.owner_subject != owner_subject):
            raise ChallengeNotFoundError(challenge_id)
        return challenge
    """)
CONNECTION = textwrap.dedent("""
    CLEAR_TEXT_METHOD = "mysql_clear_password"


    class MySQLConnection(aiomysql.Connection):
        def __init__(self, *args, require_tls=False, **kwargs):
            super().__init__(*args, **kwargs)
            self.require_tls = require_tls

        async def _request_authentication(self):
            offers_tls = bool(self.server_capabilities & CLIENT.SSL)
            if not self._secure and not offers_tls:
                if self.require_tls:
                    message = f"MySQL server on {self.host!r} does not offer TLS (서버)"
                    raise aiomysql.OperationalError(CR.CR_SSL_CONNECTION_ERROR, message)
                if self._server_auth_plugin == CLEAR_TEXT_METHOD:
                    raise clear_text_refused(self.host)
            await super()._request_authentication()

        async def _process_auth(self, plugin_name, auth_packet):
            if plugin_name == CLEAR_TEXT_METHOD.encode() and not self._secure:
                raise clear_text_refused(self.host)
            return await super()._process_auth(plugin_name, auth_packet)


    def connect_options(settings):
        options = {"require_tls": bool(settings.db_ssl_ca) or settings.environment.is_deployed}
        return options


    def tls_context_for(connection):
        if connection.require_tls:
            return verified_context()
        return None
    """)
MAIN = textwrap.dedent("""
    from app.common.request_id import RequestIdMiddleware, log_records_carry_the_request_id


    def create_app():
        settings = get_settings()
        application = FastAPI()
        application.add_middleware(RequestIdMiddleware)
        if settings.cors_origins:
            allow_cross_origin_calls(application, settings.cors_origins)
        log_records_carry_the_request_id()
        return application


    app = create_app()
    """)
SHAPES = {
    "local tokens accepted on a deployed stage": Shape(
        "app/auth/identity.py",
        IDENTITY,
        (("if key is None or settings.environment.is_deployed or", "if key is None or False or"),),
    ),
    "listing without the owner filter": Shape(
        "app/module/challenge/service.py",
        SERVICE,
        (('!= "제목", Challenge.owner_subject == owner_subject)', '!= "제목", True)'),),
    ),
    "a row loaded by id without the owner check": Shape(
        "app/module/challenge/service.py",
        SERVICE,
        (("and challenge.owner_subject != owner_subject)", "and False)"),),
    ),
    "no refusal of a server without TLS where TLS is required": Shape(
        "app/database/mysql_connection.py", CONNECTION, (("if self.require_tls:", "if False:"),)
    ),
    "the password in clear text without TLS": Shape(
        "app/database/mysql_connection.py",
        CONNECTION,
        (
            ("if self._server_auth_plugin == CLEAR_TEXT_METHOD:", "if False:"),
            ("if plugin_name == CLEAR_TEXT_METHOD.encode() and not self._secure:", "if False:"),
        ),
    ),
    "log lines without the request id": Shape(
        "main.py", MAIN, (("    log_records_carry_the_request_id()", "    pass"),)
    ),
    "answers without the request id": Shape(
        "main.py", MAIN, (("    application.add_middleware(RequestIdMiddleware)", "    pass"),)
    ),
    "routes without their scopes": Shape(
        "app/auth/identity.py", IDENTITY, (("if scope not in user.scopes]", "if False]"),)
    ),
}
FAULT_NAMES = [fault.name for fault in FAULTS]


def test_every_fault_has_a_shape_of_todays_code() -> None:
    assert sorted(SHAPES) == sorted(FAULT_NAMES)


def project_with(tmp_path: Path, shape: Shape, source: str) -> Path:
    """A project folder holding only the shape's file, with this source."""
    path = tmp_path / shape.path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(source, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_NAMES)
def test_the_fault_removes_exactly_the_protection(tmp_path: Path, fault: Fault) -> None:
    shape = SHAPES[fault.name]
    project = project_with(tmp_path, shape, shape.source)
    assert mutants(project, fault) == {project / shape.path: shape.mutant()}


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_NAMES)
def test_a_missing_site_stops_the_check_naming_the_fault_and_what_was_searched(tmp_path: Path, fault: Fault) -> None:
    shape = SHAPES[fault.name]
    # The mutant is the code with the protection gone: nothing left to remove.
    project = project_with(tmp_path, shape, shape.mutant())
    with pytest.raises(SiteError) as refused:
        mutants(project, fault)
    message = str(refused.value)
    assert fault.name in message and fault.searched_for in message and "site not found" in message
    assert ", found 0 " in message


@pytest.mark.parametrize("fault", FAULTS, ids=FAULT_NAMES)
def test_more_sites_than_the_bake_has_stop_the_check(tmp_path: Path, fault: Fault) -> None:
    shape = SHAPES[fault.name]
    # A second copy of the code, as when the protection is written twice: which one the tests guard is unknown.
    project = project_with(tmp_path, shape, shape.source + shape.source)
    with pytest.raises(SiteError, match=f"found {2 * fault.sites} "):
        mutants(project, fault)


def test_every_fault_finds_its_sites_in_the_default_render(cookies: Cookies, monkeypatch: pytest.MonkeyPatch) -> None:
    # The template as it is now, not a copy of its shape: a refactoring that moves a site fails here in seconds,
    # before the mutation check's own run in CI.
    monkeypatch.setenv("CHALLENGE_BACKEND_SKIP_UV", "1")
    result = cookies.bake()
    assert result.exit_code == 0, result.exception
    for fault in FAULTS:
        assert mutants(Path(result.project_path), fault), fault.name


@pytest.mark.parametrize(
    ("check", "mutated"),
    [
        ("missing = set(required) - user.scopes", "missing = set()"),
        ("allowed = set(required).issubset(user.scopes)", "allowed = True"),
        ("allowed = all(scope in user.scopes for scope in required)", "allowed = all(True for scope in required)"),
    ],
)
def test_the_scope_fault_finds_the_other_ways_to_compare_scopes(tmp_path: Path, check: str, mutated: str) -> None:
    (fault,) = [fault for fault in FAULTS if fault.name == "routes without their scopes"]
    shape = Shape("app/auth/identity.py", f"def current_user(required, user):\n    {check}\n", ((check, mutated),))
    project = project_with(tmp_path, shape, shape.source)
    assert mutants(project, fault) == {project / shape.path: shape.mutant()}


def test_a_mutant_that_would_not_parse_is_refused() -> None:
    # `if pass:` would fail to import, which every test would "catch", proving nothing.
    tree = ast.parse("if ready:\n    go()\n")
    statement = tree.body[0]
    assert isinstance(statement, ast.If)
    with pytest.raises(SiteError, match="does not parse"):
        splice("if ready:\n    go()\n", [Site(statement.test, "pass")])


def test_the_first_failure_is_named_with_its_parameters() -> None:
    output = textwrap.dedent("""
        ...F
        =========================== short test summary info ============================
        SKIPPED [1] tests/test_mysql.py:41: needs a MySQL server (TEST_DATABASE_URL)
        FAILED tests/test_tls.py::test_refused[clear text on switch-CA bundle] - AssertionError: assert [503] == [200]
        !!!!!!!!!!!!!!!!!!!!!!!!!! stopping after 1 failures !!!!!!!!!!!!!!!!!!!!!!!!!!!
        """)
    assert first_failure(output) == "tests/test_tls.py::test_refused[clear text on switch-CA bundle]"
    assert first_failure("ERROR tests/test_app.py::test_x\n") == "tests/test_app.py::test_x"
    assert first_failure("250 passed, 14 skipped in 18.27s\n") is None


def test_the_readme_names_the_check_and_the_test_that_runs_it_in_the_suite() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert "`uv run python tests/mutation_check.py`" in readme
    assert f"`{test_the_generated_suite_catches_every_fault.__name__}`" in readme


@pytest.mark.parametrize(
    ("status", "output", "verdict"),
    [
        (0, "250 passed in 18.27s\n", (False, "NOT caught")),
        (1, "FAILED tests/test_auth.py::test_scopes - assert 200 == 403\n", (True, "caught by tests/test_auth.py::")),
        (2, "ERROR tests/test_auth.py - ImportError\nInterrupted: 1 error during collection\n", (False, "exit 2")),
    ],
)
def test_the_suite_runs_on_the_mutant_which_is_then_undone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: int, output: str, verdict: tuple[bool, str]
) -> None:
    fault = FAULTS[0]
    shape = SHAPES[fault.name]
    project = project_with(tmp_path, shape, shape.source)
    seen = []

    def suite(project_under_test: Path) -> SuiteRun:
        seen.append((project_under_test / shape.path).read_text(encoding="utf-8"))
        return SuiteRun(status, output, 1.0)

    monkeypatch.setattr(mutation_check, "run_generated_suite", suite)
    caught, line = check_fault(project, fault)
    assert seen == [shape.mutant()]
    assert (project / shape.path).read_text(encoding="utf-8") == shape.source
    assert caught is verdict[0] and line.startswith(f"fault {fault.name}: ") and verdict[1] in line


def test_the_mutant_is_undone_when_the_suite_cannot_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fault = FAULTS[0]
    shape = SHAPES[fault.name]
    project = project_with(tmp_path, shape, shape.source)

    def suite(project_under_test: Path) -> SuiteRun:
        raise subprocess.TimeoutExpired("pytest", 900)

    monkeypatch.setattr(mutation_check, "run_generated_suite", suite)
    with pytest.raises(subprocess.TimeoutExpired):
        check_fault(project, fault)
    assert (project / shape.path).read_text(encoding="utf-8") == shape.source


@pytest.mark.slow
def test_the_generated_suite_catches_every_fault(capsys: pytest.CaptureFixture[str], summary: list[str]) -> None:
    """The whole check as `uv run python tests/mutation_check.py` runs it: a fresh default bake, its suite passing
    unmutated, then failing with each fault (a few minutes, run in the suite's worker pool beside the other bakes)."""
    status = mutation_check.main([])
    output = capsys.readouterr().out
    assert status == 0, output
    summary.extend(f"mutation check: {line}" for line in output.splitlines() if line.startswith(("unmutated", "fault")))
