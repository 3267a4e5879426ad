"""Shared fixtures: one default bake per test session, hook modules rendered as cookiecutter renders them, and a
throwaway MariaDB server on loopback for the generated project's MySQL test run."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cookiecutter.environment import StrictEnvironment
from pytest_cookies.plugin import Cookies, Result
from pytest_mysql import factories

from tests.harness import missing_pythons_message
from tests.local_services import MARIADB_OPTIONS, create_admin, create_database, mariadb_tls_options, write_tls_files
from tests.packaging_tools import HarnessError
from tests.packaging_tools import project_env as project_env  # noqa: F401 (test modules import it from here)
from tests.packaging_tools import run_command

# Fixtures several test modules share: the packages, each built once per session, and the stand-in commands.
pytest_plugins = ["tests.packages", "tests.stand_ins"]

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
COOKIECUTTER_JSON = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
REQUIRE_TOOLS_ENV = "REQUIRE_SYSTEM_TOOLS"


def default_context(**answers: str) -> dict[str, Any]:
    """The answers cookiecutter uses with --no-input and these answers given: the first choice of every list, each
    rendered in cookiecutter.json's order (the slug and `database` derive from earlier answers)."""
    context: dict[str, Any] = {}
    environment = StrictEnvironment(context={"cookiecutter": context})
    for key, value in COOKIECUTTER_JSON.items():
        if key.startswith("_"):
            continue
        raw = value[0] if isinstance(value, list) else value
        context[key] = answers.get(key, environment.from_string(raw).render(cookiecutter=context))
    return context


def load_hook(name: str, context: Mapping[str, Any], tmp_path: Path) -> ModuleType:
    """Render hooks/<name>.py with cookiecutter's Jinja environment, as a bake does, and import it."""
    source = (TEMPLATE_ROOT / "hooks" / f"{name}.py").read_text(encoding="utf-8")
    rendered = StrictEnvironment(context={"cookiecutter": dict(context)}).from_string(source)
    path = tmp_path / f"{name}.py"
    path.write_text(rendered.render(cookiecutter=dict(context)), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"rendered_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


def run(command: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: int = 600) -> str:
    """Run a command of the baked project; fail the test with its output when it exits non-zero."""
    try:
        return run_command(command, cwd, env, timeout)
    except HarnessError as error:
        pytest.fail(str(error), pytrace=False)


# The formatter/linter commands each lint stack configures in a baked project (mypy --strict runs with both).
LINT_COMMANDS: dict[str, list[list[str]]] = {
    "black_isort_flake8": [["black", "--check", "."], ["isort", "--check-only", "."], ["flake8", "."], ["mypy", "."]],
    "ruff": [["ruff", "format", "--check", "."], ["ruff", "check", "."], ["mypy", "."]],
}


def lint_stack_of(project: Path) -> str:
    """The lint stack a baked project was generated with, read from its pyproject.toml."""
    return "ruff" if "[tool.ruff]" in (project / "pyproject.toml").read_text() else "black_isort_flake8"


def tool(name: str) -> str:
    """A command-line tool installed in the test environment (beside the running interpreter)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.fail(f"{name} is not installed in the test environment; run the suite with `uv run pytest`")
    return str(path)


@contextmanager
def render_only() -> Iterator[None]:
    """Bakes inside skip uv's lock and sync; usable where the monkeypatch fixture is not (session fixtures, hypothesis
    examples, which share one function-scoped fixture)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CHALLENGE_BACKEND_SKIP_UV", "1")
        yield


@pytest.fixture(scope="session")
def default_bake(cookies_session: Cookies) -> Result:
    """The project cookiecutter --no-input produces, baked once for the session (uv lock and sync included)."""
    result = cookies_session.bake()
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    return result


@pytest.fixture(scope="session")
def default_project(default_bake: Result) -> Path:
    """The default bake's folder."""
    return Path(default_bake.project_path)


# The default bake with background jobs (app/jobs, worker.py, the queues and the worker in infra/serverless.yml).
BACKGROUND_JOBS = {"background_jobs": "yes"}


@pytest.fixture(scope="session")
def jobs_project(cookies_session: Cookies) -> Path:
    """The default bake with BACKGROUND_JOBS, uv lock and sync included."""
    result = cookies_session.bake(extra_context=dict(BACKGROUND_JOBS))
    assert result.exit_code == 0, result.exception
    return Path(result.project_path)


# Today's path for a server the team brings (database=existing), its password in a Secrets Manager secret: the base
# of the tests of what a deployment with its own DB_HOST, secrets and VPC settings builds.
EXISTING_DATABASE = {"db_credentials": "secrets_manager", "database": "existing"}


@pytest.fixture(scope="session")
def existing_project(cookies_session: Cookies) -> Path:
    """A bake for an existing MySQL server with a Secrets Manager secret (EXISTING_DATABASE), uv lock and sync
    included."""
    result = cookies_session.bake(extra_context=dict(EXISTING_DATABASE))
    assert result.exit_code == 0, result.exception
    return Path(result.project_path)


ALTERNATIVE_ANSWERS = {
    "project_slug": "alt-backend",
    "serverless_flavour": "osls",
    "aws_credentials": "access_keys",
    "serverless_org": "acme",
    "language": "en",
    "lint_stack": "ruff",
    "include_example_module": "no",
}


@pytest.fixture(scope="session")
def alternative_project(cookies_session: Cookies) -> Path:
    """A bake with the other choices (osls, access keys, an org, English, ruff, no example module), rendered without
    uv."""
    with render_only():
        result = cookies_session.bake(extra_context=dict(ALTERNATIVE_ANSWERS))
    assert result.exit_code == 0, result.exception
    return Path(result.project_path)


# How the template's tests run a baked project's own suite. Its MySQL-only tests skip on SQLite, saying why.
GENERATED_PYTEST = ["uv", "run", "--frozen", "pytest", "-p", "no:cacheprovider", "-rs"]
# The generated `scaffold` test (make module in a copy, then its linters, migration and tests on SQLite, ~30 s) depends
# only on the language, the lint stack, the example module and the API's authentication; runs whose bake differs in
# nothing else leave it out.
WITHOUT_SCAFFOLD = ["-m", "not scaffold"]
SCAFFOLD_ANSWERS = {"language", "lint_stack", "include_example_module", "api_auth"}
MYSQL_ONLY_SKIP = "needs a MySQL server (TEST_DATABASE_URL)"


# pytest's own failure lines: test names may contain "failed" (and do, with --durations).
PYTEST_FAILURES = re.compile(r"^(FAILED|ERROR) |\b\d+ (failed|errors?)\b", flags=re.MULTILINE)


def assert_generated_suite_passed(output: str, on_mysql: bool) -> int:
    """Nothing failed; nothing skipped on MySQL, only the MySQL-only tests on SQLite. Returns the passed count."""
    assert not PYTEST_FAILURES.search(output), output
    skips = re.findall(r"^SKIPPED .*$", output, flags=re.MULTILINE)
    if on_mysql:
        assert "skipped" not in output, output
    else:
        assert skips and all(MYSQL_ONLY_SKIP in line for line in skips), output
    passed = re.search(r"(\d+) passed", output)
    assert passed, output
    return int(passed.group(1))


MARIADB_BINARIES = ("mariadbd", "mariadb-install-db", "mariadb-admin", "mysqld_safe")


def require_commands(*names: str, install_hint: str) -> None:
    """Skip when a system command is missing, except in CI (or with REQUIRE_SYSTEM_TOOLS), where that is an error."""
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    message = f"not installed: {', '.join(missing)} ({install_hint})"
    if any(
        os.environ.get(name, "").strip().lower() not in {"", "0", "false", "no"} for name in (REQUIRE_TOOLS_ENV, "CI")
    ):
        pytest.fail(f"{message}; CI must run these tests, so this is an error, not a skip", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def mariadb_available() -> None:
    """The MariaDB server binaries, started by pytest-mysql as a throwaway server."""
    require_commands(*MARIADB_BINARIES, install_hint="apt-get install mariadb-server")


def pytest_sessionstart(session: pytest.Session) -> None:
    """Stop the run with one message when uv cannot find a Python version the template offers, before any bake:
    otherwise every bake of that version fails on its own, dozens of errors saying the same thing. Only the xdist
    controller checks (its sessionstart runs before xdist starts the workers), or the one process without xdist."""
    if hasattr(session.config, "workerinput"):
        return
    message = missing_pythons_message(COOKIECUTTER_JSON["python_version"])
    if message:
        raise pytest.UsageError(message)


_MARIADB_CA_KEY = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    """Give the throwaway MariaDB server a certificate from a test CA and make it refuse unencrypted TCP connections,
    so every run of the generated app against it proves the app's connections use TLS."""
    directory = Path(tempfile.mkdtemp(prefix="mariadb-tls-"))
    config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
    tls = write_tls_files(directory)
    config.stash[_MARIADB_CA_KEY] = tls.ca
    # pytest-mysql reads its server parameters from this option when the factory gives none.
    config.option.mysql_params = " ".join([*MARIADB_OPTIONS, *mariadb_tls_options(tls)])


mariadb_proc = factories.mysql_proc(
    mysqld_exec=shutil.which("mariadbd") or "mariadbd",  # type: ignore[arg-type]
    admin_executable="mariadb-admin",
    mysqld_safe=shutil.which("mysqld_safe") or "mysqld_safe",  # type: ignore[arg-type]
    install_db="mariadb-install-db",
    host="127.0.0.1",
    port=None,
)


@pytest.fixture(scope="session")
def mariadb_ca(request: pytest.FixtureRequest) -> Path:
    """The CA file that signed the throwaway MariaDB server's certificate."""
    return request.config.stash[_MARIADB_CA_KEY]


@pytest.fixture(scope="session")
def mariadb_url(mariadb_available: None, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database and user on a throwaway MariaDB server; yields its mysql+aiomysql URL."""
    server = request.getfixturevalue("mariadb_proc")
    create_database(server.unixsocket, "app_test", "app", "app-password")
    yield f"mysql+aiomysql://app:app-password@127.0.0.1:{server.port}/app_test"


@pytest.fixture(scope="session")
def mariadb_admin_url(mariadb_url: str, request: pytest.FixtureRequest) -> str:
    """A login on mariadb_url's database that may create users (the generated suite's TEST_DATABASE_ADMIN_URL)."""
    server = request.getfixturevalue("mariadb_proc")
    create_admin(server.unixsocket, "admin", "admin-password")
    return f"mysql+aiomysql://admin:admin-password@127.0.0.1:{server.port}/app_test"


_SUMMARY_KEY = pytest.StashKey[list[str]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Long work first. xdist hands a worker its next test (or a whole xdist_group) as it frees up, so a long one
    handed out last keeps one worker busy while the other idles: groups (a shared package or server, several minutes
    each) go first, then the other slow tests, then the quick ones; each keeps its collection order."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("xdist_group"):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)


@pytest.fixture(scope="session")
def summary(request: pytest.FixtureRequest) -> list[str]:
    """Lines printed at the end of the run (what the baked project's own tools reported)."""
    return request.config.stash.setdefault(_SUMMARY_KEY, [])


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker, hand the summary lines to the controller."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["baked_summary"] = session.config.stash.get(_SUMMARY_KEY, [])


def pytest_testnodedown(node: Any, error: object) -> None:
    """On the pytest-xdist controller, collect a worker's summary lines."""
    node.config.stash.setdefault(_SUMMARY_KEY, []).extend(node.workeroutput.get("baked_summary", []))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Show the baked projects' own results, so CI logs prove what ran (e.g. the MariaDB-backed suite)."""
    lines = config.stash.get(_SUMMARY_KEY, [])
    if lines:
        terminalreporter.section("baked project results")
        for line in sorted(lines):
            terminalreporter.write_line(line)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show which interpreters and servers the bakes will use."""
    uv = shutil.which("uv")
    return [
        f"uv: {uv or 'not found'}; python running the tests: {sys.version.split()[0]}",
        f"mariadb: {'found' if all(shutil.which(name) for name in MARIADB_BINARIES) else 'not found'}",
    ]


# A template repository for update tests (cruft, the generated template-update workflow): the template's own parts,
# committed with a fixed identity.
TEMPLATE_PARTS = ("cookiecutter.json", "hooks", "{{cookiecutter.project_slug}}")
GIT = ["git", "-c", "user.name=Template Tests", "-c", "user.email=tests@example.com", "-c", "init.defaultBranch=main"]


def git(cwd: Path, *args: str) -> str:
    """Run git with the tests' identity; fail the test when it exits non-zero."""
    return run([*GIT, *args], cwd)


def copy_working_tree_template(repo: Path) -> None:
    """Replace the template's parts in repo with this working tree's."""
    for part in TEMPLATE_PARTS:
        source, target = TEMPLATE_ROOT / part, repo / part
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target)


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    """This template as it is in the working tree, committed to a local git repository (commit A)."""
    repo = tmp_path / "template"
    repo.mkdir()
    copy_working_tree_template(repo)
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "A")
    return repo


def template_repo_at(commit: str, repo: Path) -> Path:
    """The template's parts as they were at one of this repository's commits, committed to a new repository."""
    repo.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", commit, *TEMPLATE_PARTS], cwd=TEMPLATE_ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", f"as at {commit}")
    return repo


def advance_to_working_tree(repo: Path) -> None:
    """Commit this working tree's template on top: what `cruft update` then moves a project to."""
    copy_working_tree_template(repo)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "this working tree")
