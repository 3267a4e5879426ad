"""Updates from older template commits, as teams make them: a project baked at the first release and at the newest
commits that added an answer or a template migration, updated to this template with `cruft update`, passes its own
suite; the template's migrations arrive, the team's own migration and rows survive them."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest

from tests.conftest import (
    GENERATED_PYTEST,
    TEMPLATE_ROOT,
    WITHOUT_SCAFFOLD,
    advance_to_working_tree,
    assert_generated_suite_passed,
    git,
    load_hook,
    project_env,
    run,
    template_repo_at,
    tool,
)
from tests.harness import head_revisions
from tests.local_services import create_database

pytestmark = [pytest.mark.slow]

PROJECT = Path("{{cookiecutter.project_slug}}")
TEAM_MIGRATIONS = Path("migrations") / "versions"
TEMPLATE_MIGRATIONS = Path("migrations") / "template_versions"
SKIP_UV = {"CHALLENGE_BACKEND_SKIP_UV": "1"}
# The oldest release section of CHANGELOG.md names the commits it covers: "## [date] (commits `first` to `last`)".
RELEASE_HEADING = re.compile(r"^## \[[\d-]+\] \(commits `[0-9a-f]+` to `([0-9a-f]+)`\)", re.MULTILINE)


def template_git(*args: str) -> str:
    """git in this repository, read at collection time (no test to fail yet: a failure is a collection error)."""
    return subprocess.run(["git", *args], cwd=TEMPLATE_ROOT, capture_output=True, text=True, check=True).stdout


def answers_at(commit: str) -> set[str]:
    """The answers (public keys of cookiecutter.json) a template commit asks."""
    return {key for key in json.loads(template_git("show", f"{commit}:cookiecutter.json")) if not key.startswith("_")}


def same_template_as_head(commit: str) -> bool:
    """Whether the template (cookiecutter.json, hooks, the project folder) at commit is HEAD's."""
    changed = template_git("diff", "--name-only", commit, "HEAD", "--", "cookiecutter.json", "hooks", str(PROJECT))
    return not changed.strip()


# Origins after the first release that are kept: the newest ones. Each origin was among them when it landed, so every
# commit that added an answer or a migration had its update tested while teams were most likely to bake there; the
# first release's update, the longest, crosses every change since. Each origin costs a bake, an update and a whole
# generated suite (about a minute of a CI worker), so keeping all of them would grow CI with every answer; the runs of
# the newest four were alike (the same template migrations arrived, the same suite passed), so two are kept.
RECENT_ORIGINS = 2


def update_origins() -> list[str]:
    """The last commit of the first release, then the RECENT_ORIGINS newest later commits that added an answer or a
    template migration: the bakes whose update has something to bring that a project must not lose."""
    releases = RELEASE_HEADING.findall((TEMPLATE_ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    first_release = releases[-1]
    origins = [template_git("rev-parse", "--short", first_release).strip()]
    paths = ["cookiecutter.json", str(PROJECT / "migrations")]
    # Commits of main's own line only: a merged branch's inner commits were never a template a team could bake from
    # main, and what they added arrives with their merge.
    for commit in template_git(
        "rev-list", "--reverse", "--first-parent", f"{first_release}..HEAD", "--", *paths
    ).split():
        # A commit whose template is HEAD's has nothing to update to on a clean checkout (its bake is what the rest of
        # the suite bakes).
        if same_template_as_head(commit):
            continue
        # -M: a revision moved between the two folders is not a new one.
        # Against the first parent: a merge's own diff-tree is empty.
        added = template_git("diff", "-M", "--diff-filter=A", "--name-only", f"{commit}^", commit, "--", paths[1])
        new_migration = any(line.endswith(".py") for line in added.splitlines())
        if new_migration or answers_at(commit) - answers_at(f"{commit}^"):
            origins.append(template_git("rev-parse", "--short", commit).strip())
    return origins[:1] + origins[1:][-RECENT_ORIGINS:]


def template_migrations_kept_twice(commit: str) -> list[str]:
    """Template revisions a bake at commit wrote to migrations/versions that this template keeps in template_versions
    (the bake keeps its copy: updates never touch that folder)."""
    then = set(template_git("ls-tree", "--name-only", commit, f"{PROJECT / TEAM_MIGRATIONS}/").split())
    now = {path.name for path in (TEMPLATE_ROOT / PROJECT / TEMPLATE_MIGRATIONS).glob("*.py")}
    return sorted(name for name in now if str(PROJECT / TEAM_MIGRATIONS / name) in then)


def bake_at(commit: str, tmp_path: Path, with_uv: bool) -> tuple[Path, Path]:
    """`cruft create` (default answers) from a repository holding the template as at commit, and the project committed
    to a repository of its own. Returns the template repository and the project."""
    template = template_repo_at(commit, tmp_path / "template")
    output = tmp_path / "projects"
    env = project_env() if with_uv else project_env(**SKIP_UV)
    run([tool("cruft"), "create", "--no-input", str(template), "--output-dir", str(output)], tmp_path, env)
    return template, output / "challenge-backend"


def commit_all(project: Path, message: str) -> None:
    if not (project / ".git").is_dir():
        git(project, "init", "--quiet")
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "-m", message)


def update_to_this_template(template: Path, project: Path) -> str:
    """`cruft update` to this working tree's template, then the lock and environment its README asks for after an
    update that changed dependencies. Returns cruft's output."""
    advance_to_working_tree(template)
    output = run([tool("cruft"), "update", "--skip-apply-ask"], project, project_env(**SKIP_UV))
    assert list(project.rglob("*.rej")) == [], output
    assert json.loads((project / ".cruft.json").read_text())["commit"] == git(template, "rev-parse", "HEAD").strip()
    run(["uv", "lock", "--quiet"], project, project_env())
    run(["uv", "sync", "--quiet", "--frozen"], project, project_env())
    return output


def generated_suite(project: Path, *arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*GENERATED_PYTEST, *arguments], cwd=project, env=project_env(**env), capture_output=True, text=True
    )


def remove_copies_as_told(project: Path, copies: list[str]) -> None:
    """What the one failure says when a template revision is in both folders: git rm the old copy."""
    if not copies:
        return
    stopped = generated_suite(project, *WITHOUT_SCAFFOLD)
    output = stopped.stdout + stopped.stderr
    assert stopped.returncode != 0, output
    for name in copies:
        assert f"git rm {TEAM_MIGRATIONS / name}" in output, output
    git(project, "rm", "--quiet", *(str(TEAM_MIGRATIONS / name) for name in copies))


@pytest.mark.parametrize("origin", update_origins())
def test_a_project_baked_at_an_older_commit_passes_its_suite_after_the_update(
    origin: str, tmp_path: Path, summary: list[str]
) -> None:
    template, project = bake_at(origin, tmp_path, with_uv=False)
    commit_all(project, "Generated from the template")
    before = {path.name for path in (project / TEAM_MIGRATIONS).glob("*.py")}

    update_to_this_template(template, project)

    asked_then = answers_at(origin)
    if "database" not in asked_then:
        # Baked before the template provisioned a database, with a login answer (never iam by default): the update
        # keeps the server the project deploys against. A bake from before db_credentials gets both new defaults, as
        # CHANGELOG.md's Upgrading note says, with the command that keeps its own server.
        answers = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
        kept = "db_credentials" in asked_then
        assert answers["database"] == ("existing" if kept else "aurora"), answers
    arrived = sorted(path.name for path in (project / TEMPLATE_MIGRATIONS).glob("*.py"))
    assert arrived == template_migrations_for(json.loads((project / ".cruft.json").read_text()), tmp_path)
    assert {path.name for path in (project / TEAM_MIGRATIONS).glob("*.py")} == before
    copies = template_migrations_kept_twice(origin)
    remove_copies_as_told(project, copies)
    # The scaffold check (make module in a copy) runs in the update below that has a module of the team's own.
    completed = generated_suite(project, *WITHOUT_SCAFFOLD)
    passed = assert_generated_suite_passed(completed.stdout + completed.stderr, on_mysql=False)
    removed = f", {len(copies)} old copies removed as told" if copies else ""
    summary.append(f"bake at {origin} updated: template migrations {arrived} arrived{removed}; {passed} passed")


def template_migrations_for(cruft_state: dict[str, Any], tmp_path: Path) -> list[str]:
    """The template's migrations a project with these answers has: all of them but those its answers leave out (the
    post-generation hook's PRUNE_TABLE; e.g. the jobs' table with background_jobs=no)."""
    answers = cruft_state["context"]["cookiecutter"]
    hook = load_hook("post_gen_project", answers, tmp_path)
    pruned = {Path(path).name for path in hook.paths_to_prune(answers)}
    folder = TEMPLATE_ROOT / PROJECT / TEMPLATE_MIGRATIONS
    return sorted(path.name for path in folder.glob("*.py") if path.name not in pruned)


def commit_that_wrote_a_template_revision_to_the_team_folder() -> str:
    """The newest commit that added a template revision to migrations/versions, before the template's revisions had a
    folder of their own (a move between the two folders is not an addition)."""
    team_folder = f"{PROJECT / TEAM_MIGRATIONS}/*.py"
    return template_git("log", "-1", "-M", "--diff-filter=A", "--format=%h", "--", team_folder).strip()


def commit_before_the_answer(answer: str) -> str:
    """The parent of the commit that added an answer: a bake there has none of what came with it."""
    for commit in template_git("rev-list", "HEAD", "--", "cookiecutter.json").split():
        if answer in answers_at(commit) and answer not in answers_at(f"{commit}^"):
            return template_git("rev-parse", "--short", f"{commit}^").strip()
    raise AssertionError(f"no commit of this repository added the answer {answer!r}")


class TeamData:
    """Rows a team keeps in the example module's table and in a table of its own, on SQLite or on MariaDB."""

    def __init__(self, sqlite_file: Path | None = None, unix_socket: str = "", database: str = "") -> None:
        self.sqlite_file, self.unix_socket, self.database = sqlite_file, unix_socket, database

    @property
    def name(self) -> str:
        return "SQLite" if self.sqlite_file else "MariaDB"

    def execute(self, *statements: str) -> list[list[tuple[object, ...]]]:
        connection = (
            sqlite3.connect(self.sqlite_file)
            if self.sqlite_file
            else pymysql.connect(unix_socket=self.unix_socket, user="root", database=self.database)
        )
        try:
            results = []
            for statement in statements:
                cursor = connection.cursor()
                cursor.execute(statement)
                results.append(list(cursor.fetchall()))
            connection.commit()
            return results
        finally:
            connection.close()

    def add_rows(self) -> None:
        self.execute(
            "INSERT INTO challenge (title, created_at) VALUES ('kept challenge', '2026-12-01 00:00:00')",
            "INSERT INTO orders (name, created_at) VALUES ('kept order', '2026-12-01 00:00:00')",
        )

    def rows(self) -> tuple[list[tuple[object, ...]], ...]:
        return tuple(self.execute("SELECT title FROM challenge", "SELECT name FROM orders"))

    def revisions(self) -> set[str]:
        return {str(row[0]) for row in self.execute("SELECT version_num FROM alembic_version")[0]}


def new_team_revision(project: Path, known: set[Path], env: dict[str, str], message: str) -> Path:
    """`alembic revision --autogenerate -m message` as a team types it; the one file it wrote."""
    run(["uv", "run", "--frozen", "alembic", "revision", "--autogenerate", "-m", message], project, env)
    written = set((project / "migrations").glob("*/*.py")) - known
    assert len(written) == 1 and next(iter(written)).parent == project / TEAM_MIGRATIONS, written
    return written.pop()


def revision_id(path: Path) -> str:
    found = re.search(r'^revision: str = "(\w+)"', path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    assert found, path
    return found.group(1)


@pytest.fixture
def team_databases(
    tmp_path: Path, mariadb_available: None, mariadb_ca: Path, request: pytest.FixtureRequest
) -> Iterator[dict[str, tuple[TeamData, dict[str, str]]]]:
    """A SQLite file and a MariaDB database (TLS verified, as a deployed stage) for a team's data, with the settings
    that point the project's Alembic at each."""
    server = request.getfixturevalue("mariadb_proc")
    create_database(server.unixsocket, "team_data", "team", "team-password")
    sqlite_file = tmp_path / "team.db"
    mariadb_url = f"mysql+aiomysql://team:team-password@127.0.0.1:{server.port}/team_data"
    yield {
        "SQLite": (
            TeamData(sqlite_file),
            {"ENVIRONMENT": "local", "DATABASE_URL": f"sqlite+aiosqlite:///{sqlite_file}"},
        ),
        "MariaDB": (
            TeamData(unix_socket=server.unixsocket, database="team_data"),
            {"ENVIRONMENT": "dev", "DATABASE_URL": mariadb_url, "DB_SSL_CA": str(mariadb_ca)},
        ),
    }
    TeamData(unix_socket=server.unixsocket).execute(
        "DROP DATABASE team_data", "DROP USER 'team'@'localhost'", "DROP USER 'team'@'127.0.0.1'"
    )


@pytest.mark.mariadb
@pytest.mark.xdist_group("mariadb")
def test_the_template_migration_arrives_and_the_teams_migration_and_rows_survive_it(
    tmp_path: Path,
    team_databases: dict[str, tuple[TeamData, dict[str, str]]],
    mariadb_url: str,
    mariadb_admin_url: str,
    summary: list[str],
) -> None:
    """The issue's run: a project baked before the API was closed (api_auth) and the template migrations that came
    with it and after, with a module of the team's own (`make module`, its migration, rows in both tables), updated to
    this template."""
    template, project = bake_at(commit_before_the_answer("api_auth"), tmp_path, with_uv=True)
    alembic = ["uv", "run", "--frozen", "alembic"]
    local = project_env(**team_databases["SQLite"][1])
    run(["make", "module", "name=orders"], project, local)
    run([*alembic, "upgrade", "head"], project, local)
    run([*alembic, "revision", "--autogenerate", "-m", "create orders"], project, local)
    team_migration = next((project / TEAM_MIGRATIONS).glob("*create_orders.py"))
    for data, settings in team_databases.values():
        run([*alembic, "upgrade", "head"], project, project_env(**settings))
        data.add_rows()
    kept = {name: data.rows() for name, (data, _) in team_databases.items()}
    commit_all(project, "Generated, then a module of the team's own")
    team_migration_text = team_migration.read_bytes()

    update_to_this_template(template, project)

    assert team_migration.read_bytes() == team_migration_text
    arrived = {path for path in (project / TEMPLATE_MIGRATIONS).glob("*.py")}
    assert arrived, "no template migration arrived"
    # A module made before the API was closed: one clear failure that names it and the upgrade note.
    stopped = generated_suite(project)
    output = stopped.stdout + stopped.stderr
    assert stopped.returncode != 0 and "app/module/orders" in output and "CHANGELOG.md" in output, output
    assert "ModuleNotFoundError" not in output and "Traceback" not in output, output
    # The template's migration takes each database from the old head to the new heads; no row is lost.
    heads = set(head_revisions(project / "migrations").split(","))
    assert revision_id(team_migration) in heads and len(heads) == 2, heads
    for name, (data, settings) in team_databases.items():
        run([*alembic, "upgrade", "heads"], project, project_env(**settings))
        assert data.rows() == kept[name], name
        assert data.revisions() == heads, name

    # The upgrade note: the module as `make module` writes it now, and a migration for its owner column, where rows
    # that exist get an empty owner (as the template's migration does for the example module's).
    run(["git", "rm", "--quiet", "-r", "app/module/orders", "tests/test_orders.py"], project)
    registry = project / "app" / "registry.py"
    registry.write_text(registry.read_text().replace('    "orders",\n', ""))
    run(["make", "module", "name=orders"], project, local)
    known = set((project / "migrations").glob("*/*.py"))
    owners = new_team_revision(project, known, local, "orders owner")
    text = owners.read_text()
    column = text.index('"owner_subject"')
    required = text.index("nullable=False", column)
    owners.write_text(f'{text[:required]}nullable=False, server_default=""{text[required + len("nullable=False"):]}')
    run(
        ["uv", "run", "--frozen", "black", "--quiet", str(owners)], project
    )  # the edit, formatted as the team's code is
    for name, (data, settings) in team_databases.items():
        run([*alembic, "upgrade", "heads"], project, project_env(**settings))
        # The team's revision runs after the template's, joining both lines into one head.
        assert data.revisions() == {revision_id(owners)}, name
        assert data.rows() == kept[name], name

    completed = generated_suite(project, "-rsp")
    on_sqlite = assert_generated_suite_passed(completed.stdout + completed.stderr, on_mysql=False)
    assert "test_make_module_adds_a_domain_that_passes_every_check" in completed.stdout
    suite_env = {
        "TEST_DATABASE_URL": mariadb_url,
        "TEST_DATABASE_ADMIN_URL": mariadb_admin_url,
        "TEST_REQUIRE_DATABASE_URL": "1",
    }
    completed = generated_suite(project, *WITHOUT_SCAFFOLD, **suite_env)
    on_mariadb = assert_generated_suite_passed(completed.stdout + completed.stderr, on_mysql=True)
    summary.append(
        f"update across the template migration with a team module: rows kept on SQLite and MariaDB, the team's "
        f"migration runs after the template's; suite {on_sqlite} passed on SQLite, {on_mariadb} on MariaDB"
    )


def test_the_update_pull_request_says_what_arrived_removes_old_copies_and_runs_the_tests(
    tmp_path: Path, summary: list[str]
) -> None:
    """The workflow's `apply` on a bake that has a template revision in the team's folder (made by the commit that
    wrote it there): the revision arrives in template_versions, the old copy goes, the project is locked again and its
    tests run for real, and the description says all of it. The old template here already has this update script,
    as from the second update on (the pushing job runs the default branch's copy)."""
    origin = commit_that_wrote_a_template_revision_to_the_team_folder()
    template = template_repo_at(origin, tmp_path / "template")
    script = PROJECT / "scripts" / "template_update.sh"
    (template / script).write_bytes((TEMPLATE_ROOT / script).read_bytes())
    git(template, "commit", "--quiet", "--all", "-m", "the update script of this working tree")
    output = tmp_path / "projects"
    run([tool("cruft"), "create", "--no-input", str(template), "--output-dir", str(output)], tmp_path, project_env())
    project = output / "challenge-backend"
    commit_all(project, "Generated from the template")
    copies = [str(TEAM_MIGRATIONS / name) for name in template_migrations_kept_twice(origin)]
    assert copies and all((project / copy).is_file() for copy in copies)
    advance_to_working_tree(template)

    artifact = tmp_path / "artifact"
    env = project_env(CRUFT=tool("cruft"), **SKIP_UV)
    run(["bash", "scripts/template_update.sh", "apply", str(artifact)], project, env)

    body = (artifact / "pull-request.md").read_text()
    # pytest's summary, e.g. "250 passed, 14 skipped in 85.48s (0:01:25)" (the minutes only past 60 s).
    summary_line = r"\((\d+) passed, \d+ skipped in [\d.]+s(?: \([\d:]+\))?\)"
    tests = re.search(r"^\*\*Tests\*\* of the updated project: passed " + summary_line, body, re.M)
    assert tests, body
    arrived = sorted(str(TEMPLATE_MIGRATIONS / path.name) for path in (project / TEMPLATE_MIGRATIONS).glob("*.py"))
    assert "**Migrations from the template.**" in body and all(f"- `{path}`" in body for path in arrived), body
    assert "`make migrate`" in body
    assert "**Old copies removed.**" in body and all(f"- `{copy}`" in body for copy in copies), body
    patch = (artifact / "update.patch").read_text()
    assert all(f"diff --git a/{copy} b/{copy}\ndeleted file mode" in patch for copy in copies), patch
    # The update is locked again: the work tree apply leaves (what the patch holds) needs no other lock.
    run(["uv", "lock", "--check"], project, project_env())
    summary.append(
        f"template-update apply on a bake at {origin}: {arrived} announced, "
        f"{len(copies)} old copies removed, the project's tests ran ({tests.group(1)} passed)"
    )
