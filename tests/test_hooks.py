"""The hooks' functions, imported from the rendered hook files and tested without a bake."""

from __future__ import annotations

import ast
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from botocore.session import Session
from cookiecutter.environment import StrictEnvironment
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_cookies.plugin import Cookies

from tests.conftest import COOKIECUTTER_JSON, TEMPLATE_ROOT, default_context, load_hook, require_commands
from tests.template_files import render_template_file
from tests.test_options import OWNED_PATHS


@pytest.fixture
def pre_gen(tmp_path: Path) -> ModuleType:
    return load_hook("pre_gen_project", default_context(), tmp_path)


# The files background_jobs=no leaves out, as tests/test_options.py lists them apart from the hook.
JOB_PATHS = OWNED_PATHS["background_jobs", "no"]


def post_gen_with(tmp_path: Path, **answers: str) -> ModuleType:
    return load_hook("post_gen_project", {**default_context(), **answers}, tmp_path)


def default_slug(project_name: str) -> str:
    """The project_slug cookiecutter.json derives from a project name."""
    answers = {"project_name": project_name}
    environment = StrictEnvironment(context={"cookiecutter": answers})
    slug: str = environment.from_string(COOKIECUTTER_JSON["project_slug"]).render(cookiecutter=answers)
    return slug


@pytest.mark.parametrize(
    ("project_name", "slug"),
    [
        ("Challenge Backend", "challenge-backend"),
        ("챌린지 백엔드", "caelrinji-baegendeu"),
        ('O\'Reilly "Quotes" API', "o-reilly-quotes-api"),
        ("snake_case name", "snake-case-name"),
        ("2048 Game", "project-2048-game"),
        ("X", "project-x"),
        ("🚀🔥", "project"),
        ("An extraordinarily long project name that goes well beyond forty", "an-extraordinarily-long-project-name"),
    ],
)
def test_default_slug_is_the_slugified_name(project_name: str, slug: str) -> None:
    """Transliterated to ASCII, cut at a word boundary; prefixed when it would not start with a letter or is too
    short."""
    assert default_slug(project_name) == slug


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(project_name=st.text(max_size=90))
def test_default_slug_of_any_name_passes_the_slug_check(pre_gen: ModuleType, project_name: str) -> None:
    """--no-input never fails on a derived slug, whatever the name."""
    assert pre_gen.CHECKS["project_slug"](default_slug(project_name)) is None


def test_default_answers_are_valid(pre_gen: ModuleType) -> None:
    assert pre_gen.find_problems(default_context()) == []


def test_every_answer_has_a_check(pre_gen: ModuleType) -> None:
    """A new variable in cookiecutter.json fails here until the pre-gen hook validates it (private keys excepted)."""
    public = [name for name in default_context() if not name.startswith("_")]
    assert list(pre_gen.CHECKS) == public


@pytest.mark.parametrize("host", ["localhost", "db", "db.example.com", "127.0.0.1", "10.0.255.1", "my-db-1.internal"])
def test_host_names_and_ipv4_addresses_are_accepted(pre_gen: ModuleType, host: str) -> None:
    assert pre_gen.hostname(host) is None


def test_hostile_text_reaches_the_hook_as_data(tmp_path: Path) -> None:
    """Quotes, backslashes and triple quotes in an answer neither break the hook nor run as code."""
    marker = tmp_path / "injected"
    payload = f'x"""; open({str(marker)!r}, "w"); """\\ \' {{{{ }}}}'
    module = load_hook("pre_gen_project", {**default_context(), "description": payload}, tmp_path)
    assert module.ANSWERS["description"] == payload
    assert not marker.exists()


def test_region_list_matches_botocore_lambda_regions(pre_gen: ModuleType) -> None:
    """A new AWS region makes this fail until the hook's list is updated."""
    session = Session()
    expected = {
        region
        for partition in ("aws", "aws-cn", "aws-us-gov")
        for region in session.get_available_regions("lambda", partition_name=partition)
    }
    assert pre_gen.AWS_REGIONS == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("project_slug", "ab"),
        ("project_slug", "a" * 40),
        ("db_name", "challenge_db"),
        ("db_name", "a" * 64),
        ("db_user", "svc_user1"),
        ("db_host", "db.internal.example.com"),
        ("db_host", "10.0.0.5"),
        ("db_port", "65535"),
        ("db_port", "1"),
        ("serverless_org", ""),
        ("aws_region", "us-gov-west-1"),
        ("description", ""),
        ("project_name", '챌린지 백엔드 🚀 "quoted" \\ {{ not jinja }}'),
    ],
)
def test_boundary_values_are_accepted(pre_gen: ModuleType, name: str, value: str) -> None:
    assert pre_gen.find_problems({**default_context(), name: value}) == []


@pytest.mark.parametrize(("slug", "stage"), [("a" * 40, "s" * 15), ("a" * 39, "s" * 16)])
def test_the_longest_function_name_fits_lambdas_limit(pre_gen: ModuleType, slug: str, stage: str) -> None:
    assert pre_gen.find_problems({**default_context(), "project_slug": slug, "default_stage": stage}) == []
    assert len(f"{slug}-{stage}-migrate") == 64


def test_a_slug_and_stage_too_long_together_are_refused(pre_gen: ModuleType) -> None:
    """Each is valid alone, but <slug>-<stage>-migrate would exceed the 64 characters of a Lambda function name."""
    answers = {**default_context(), "project_slug": "a" * 40, "default_stage": "s" * 16}
    (problem,) = pre_gen.find_problems(answers)
    assert problem.startswith("project_slug and default_stage:") and "at most 55" in problem


@pytest.mark.parametrize("credentials", ["secrets_manager", "environment"])
def test_the_provisioned_database_is_refused_without_iam_logins(pre_gen: ModuleType, credentials: str) -> None:
    """The cluster's only password is its master secret, which the API must never hold."""
    answers = {**default_context(), "database": "aurora", "db_credentials": credentials}
    (problem,) = pre_gen.find_problems(answers)
    assert problem.startswith("database and db_credentials:") and f"db_credentials {credentials!r}" in problem
    assert "allowed: db_credentials 'iam' with database 'aurora'" in problem and "'existing'" in problem


@pytest.mark.parametrize(
    ("given", "database"),
    [
        ({}, "aurora"),
        ({"db_credentials": "secrets_manager"}, "existing"),
        ({"db_credentials": "environment"}, "existing"),
        ({"database": "existing"}, "existing"),
    ],
)
def test_the_database_answer_defaults_from_the_login(
    cookies: Cookies, monkeypatch: pytest.MonkeyPatch, given: dict[str, str], database: str
) -> None:
    """A project baked before `database` existed has a recorded login other than iam (iam was not the default then),
    so `cruft update` gives it `existing`, the server it already runs; a new bake gets the cluster; an answer given
    (`cookiecutter ... database=existing`, `cruft update --variables-to-update`) is taken as it is."""
    monkeypatch.setenv("CHALLENGE_BACKEND_SKIP_UV", "1")
    result = cookies.bake(extra_context=given)
    assert result.exit_code == 0, result.exception
    assert result.context["database"] == database
    assert ("Fn::ImportValue" in (result.project_path / "infra" / "serverless.yml").read_text()) is (
        database == "aurora"
    )


def test_every_problem_is_reported_at_once(pre_gen: ModuleType) -> None:
    answers: dict[str, Any] = {**default_context(), "project_slug": "Bad Slug", "db_port": "0", "language": "fr"}
    problems = pre_gen.find_problems(answers)
    assert [problem.split(":")[0] for problem in problems] == ["project_slug", "language", "db_port"]
    assert "'Bad Slug'" in problems[0] and "allowed:" in problems[0]


def test_main_prints_problems_and_returns_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = load_hook("pre_gen_project", {**default_context(), "db_name": "bad-name"}, tmp_path)
    assert module.main() == 1
    error = capsys.readouterr().err
    assert "db_name: invalid value 'bad-name'" in error
    assert "letters, digits and underscores" in error


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # The default bake's database stack creates the Secrets Manager and SQS endpoints itself.
        ({}, ["infra/secrets-endpoint.yml", "infra/queue-endpoint.yml"]),
        ({"database": "existing"}, []),
        (
            {"use_docker": "no"},
            [
                "Dockerfile",
                "docker-compose.yml",
                ".dockerignore",
                "infra/secrets-endpoint.yml",
                "infra/queue-endpoint.yml",
            ],
        ),
        (
            {"use_github_actions": "no", "database": "existing"},
            [".github", "scripts/release.sh", "scripts/template_update.sh", "infra/ci-access.yml"],
        ),
        ({"db_credentials": "environment", "database": "existing"}, ["infra/secrets-endpoint.yml"]),
        # With a cluster of its own, the migration function still reads its secret at run time, through the VPC's
        # endpoint, which the team then creates.
        ({"db_credentials": "iam", "database": "existing"}, []),
        # Without background jobs, none of their files (the default; the other cases answer yes to show the rest).
        ({"background_jobs": "no", "database": "existing"}, list(JOB_PATHS)),
    ],
)
def test_paths_to_prune_follow_the_answers(tmp_path: Path, answers: dict[str, str], expected: list[str]) -> None:
    module = post_gen_with(tmp_path, **{"background_jobs": "yes", **answers})
    assert module.paths_to_prune(module.ANSWERS) == expected


def test_remove_path_is_idempotent(tmp_path: Path) -> None:
    module = post_gen_with(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "file").write_text("x")
    (tmp_path / "single").write_text("x")
    for _ in range(2):
        module.remove_path(tmp_path, "folder")
        module.remove_path(tmp_path, "single")
    assert not (tmp_path / "folder").exists() and not (tmp_path / "single").exists()


@pytest.mark.parametrize(
    ("answer", "environ", "skipped"),
    [
        ("yes", {}, False),
        ("no", {}, True),
        ("yes", {"CHALLENGE_BACKEND_SKIP_UV": "1"}, True),
        ("yes", {"CHALLENGE_BACKEND_SKIP_UV": "0"}, False),
    ],
)
def test_uv_opt_out_by_answer_or_environment(
    tmp_path: Path, answer: str, environ: dict[str, str], skipped: bool
) -> None:
    module = post_gen_with(tmp_path, run_uv_sync=answer)
    assert (module.uv_opted_out(module.ANSWERS, environ) is not None) is skipped


VARIANT_SOURCES = ("README.ko.md", "README.en.md", "CLAUDE.ko.md", "CLAUDE.en.md")
LOCK_SOURCES = ("infra/package-lock.v4.json", "infra/package-lock.osls.json")


def test_variant_table_covers_every_choice_with_a_template_file(tmp_path: Path) -> None:
    module = post_gen_with(tmp_path)
    for name, destinations in module.VARIANT_TABLE.items():
        for destination, sources in destinations.items():
            assert list(sources) == COOKIECUTTER_JSON[name], destination
            for source in sources.values():
                assert (TEMPLATE_ROOT / "{{cookiecutter.project_slug}}" / source).is_file(), source


@pytest.mark.parametrize(("language", "flavour"), [("ko", "v4"), ("en", "osls")])
def test_chosen_variants_take_their_names_and_the_others_go_on_every_run(
    tmp_path: Path, language: str, flavour: str
) -> None:
    """Run twice, as tests and cruft update do: the second run finds the files already named and changes nothing."""
    module = post_gen_with(tmp_path, language=language, serverless_flavour=flavour, run_uv_sync="no")
    project = tmp_path / "project"
    (project / "infra").mkdir(parents=True)
    for source in (*VARIANT_SOURCES, *LOCK_SOURCES):
        (project / source).write_text(f"content of {source}")
    for _ in range(2):
        assert module.main(project, {"PATH": ""}) == 0
        assert (project / "README.md").read_text() == f"content of README.{language}.md"
        assert (project / "CLAUDE.md").read_text() == f"content of CLAUDE.{language}.md"
        assert (project / "infra/package-lock.json").read_text() == f"content of infra/package-lock.{flavour}.json"
        assert not any((project / source).exists() for source in (*VARIANT_SOURCES, *LOCK_SOURCES))


@pytest.fixture
def project_with_makefile(tmp_path: Path) -> Path:
    """A project folder holding the generated Makefile, whose `requirements` target the export step runs."""
    require_commands("make", install_hint="apt-get install make")
    project = tmp_path / "project"
    project.mkdir()
    (project / "Makefile").write_text(render_template_file("Makefile", default_context()))
    return project


def stand_in_uv(folder: Path, failing: str | None = None) -> Path:
    """A uv that succeeds, except for one subcommand, which fails with an error line like uv's."""
    folder.mkdir(parents=True, exist_ok=True)
    uv = folder / "uv"
    failure = f'[ "$1" = {failing} ] || exit 0\necho "error: {failing} failed" >&2\nexit 2\n' if failing else ""
    uv.write_text(f"#!/bin/sh\n{failure}exit 0\n")
    uv.chmod(0o755)
    return uv


@pytest.mark.parametrize(
    ("failing", "step"),
    [
        ("lock", "lock dependencies"),
        ("sync", "install the virtual environment"),
        ("export", "export runtime requirements"),
    ],
)
def test_failed_uv_step_is_reported_not_raised(
    tmp_path: Path, project_with_makefile: Path, failing: str, step: str
) -> None:
    """The first failing step stops the run and is named, with uv's last line of error output. The export runs
    through `make requirements`, which must use the uv the hook found (here in a folder with a space, off PATH) and
    whose own "*** Error" summary must not hide uv's message."""
    module = post_gen_with(tmp_path)
    uv = stand_in_uv(tmp_path / "bin dir", failing)
    make = shutil.which("make")
    failure = module.run_uv_steps(project_with_makefile, str(uv), make)
    assert failure == module.StepFailure(step, f"error: {failing} failed")


def test_export_step_without_make_is_reported_not_raised(tmp_path: Path, project_with_makefile: Path) -> None:
    module = post_gen_with(tmp_path)
    failure = module.run_uv_steps(project_with_makefile, str(stand_in_uv(tmp_path / "bin")), None)
    assert failure == module.StepFailure("export runtime requirements", "make was not found on PATH")


def test_uv_that_cannot_start_is_reported_not_raised(tmp_path: Path) -> None:
    module = post_gen_with(tmp_path)
    failure = module.run_uv_steps(tmp_path, str(tmp_path / "no-such-uv"), shutil.which("make"))
    assert failure is not None and failure.step == "lock dependencies" and "no-such-uv" in failure.reason


LATER_COMMANDS = ("uv lock", "uv sync --frozen", "make requirements")


def test_main_keeps_the_project_when_uv_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = post_gen_with(tmp_path)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "uv").write_text("#!/bin/sh\necho 'error: network unreachable' >&2\nexit 2\n")
    (bin_dir / "uv").chmod(0o755)
    project = tmp_path / "project"
    project.mkdir()
    assert module.main(project, {"PATH": str(bin_dir)}) == 0
    error = capsys.readouterr().err
    assert "Could not lock dependencies: error: network unreachable" in error
    assert all(f"    {command}\n" in f"{error}\n" for command in LATER_COMMANDS), error
    assert project.is_dir()


def test_main_keeps_the_project_when_make_is_missing(
    tmp_path: Path, project_with_makefile: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uv alone on PATH: lock and sync run, the export is reported like any failing step, with what to run later."""
    module = post_gen_with(tmp_path)
    bin_dir = stand_in_uv(tmp_path / "bin").parent
    assert module.main(project_with_makefile, {"PATH": str(bin_dir)}) == 0
    captured = capsys.readouterr()
    assert "[uv] install the virtual environment" in captured.out
    assert "Could not export runtime requirements: make was not found on PATH" in captured.err
    assert all(f"    {command}\n" in f"{captured.err}\n" for command in LATER_COMMANDS), captured.err
    assert (project_with_makefile / "Makefile").is_file()


@pytest.mark.parametrize("answer", ["yes", "no"])
def test_git_init_is_opt_in_and_idempotent(tmp_path: Path, answer: str) -> None:
    module = post_gen_with(tmp_path, git_init=answer, run_uv_sync="no")
    project = tmp_path / "project"
    project.mkdir()
    environ = {"PATH": os.environ["PATH"]}
    assert module.main(project, environ) == 0
    assert (project / ".git").is_dir() is (answer == "yes")
    assert module.main(project, environ) == 0  # again, as under cruft update


@pytest.mark.parametrize(
    ("language", "database", "title", "deploy_note"),
    [
        ("en", "aurora", "Next steps:", "README.md's From an empty AWS account section"),
        ("ko", "aurora", "다음 단계:", "README.md 의 '빈 AWS 계정에서 첫 요청까지' 절"),
        ("en", "existing", "Next steps:", "README.md's Deploy section"),
        ("ko", "existing", "다음 단계:", "README.md 의 '배포' 절"),
    ],
)
def test_the_hook_ends_with_the_next_commands_in_the_bakes_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], language: str, database: str, title: str, deploy_note: str
) -> None:
    """`cd` into the project from the user's shell folder, then run, test and deploy; the commands that finish the
    project come right after `cd` when the uv steps did not run. The deploy line names the README section that says
    what must exist first: the database stack with `aurora`, the settings to export with `existing`."""
    module = post_gen_with(tmp_path, language=language, database=database, run_uv_sync="no")
    project = tmp_path / "out" / "my-api"
    project.mkdir(parents=True)
    assert module.main(project, {"PATH": "", "PWD": str(tmp_path)}) == 0
    printed = capsys.readouterr().out.splitlines()
    steps = printed[printed.index(title) + 1 :]
    assert [line.split("#")[0].strip() for line in steps] == [
        "cd out/my-api",
        *LATER_COMMANDS,
        "make run",
        "make test",
        "make -C infra deploy-dev",
    ]
    assert "http://127.0.0.1:8000/docs" in steps[-3] and deploy_note in steps[-1]


@pytest.mark.parametrize(
    ("render_folder", "compared"),
    [("tmpab12_xyz", True), ("projects", False)],
    ids=["cruft update or diff", "cruft create"],
)
def test_a_render_cruft_only_compares_gets_no_uv_git_or_next_steps(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    render_folder: str,
    compared: bool,
) -> None:
    """cruft renders with `_commit` among the answers; update and diff render into a fresh temporary directory and
    delete it, so the hook prints nothing there (a `cd` into it would fail), while `cruft create` keeps it all."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    module = post_gen_with(tmp_path, language="en", run_uv_sync="no", git_init="yes", _commit="0" * 40)
    project = tmp_path / render_folder / "my-api"
    project.mkdir(parents=True)
    (project / "README.en.md").write_text("# my-api\n")
    assert module.main(project, {"PATH": os.environ["PATH"], "PWD": str(tmp_path)}) == 0
    captured = capsys.readouterr()
    assert (project / "README.md").is_file()  # the variants are chosen in every render
    if compared:
        assert captured.out == captured.err == ""
        assert not (project / ".git").exists()
    else:
        assert "Next steps:" in captured.out and (project / ".git").is_dir()


def test_missing_git_keeps_the_project_and_says_what_to_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    module = post_gen_with(tmp_path, git_init="yes", run_uv_sync="no")
    project = tmp_path / "project"
    project.mkdir()
    assert module.main(project, {"PATH": str(tmp_path / "empty-bin")}) == 0
    error = capsys.readouterr().err
    assert "Could not initialise git: git was not found on PATH" in error and "git init" in error
    assert project.is_dir() and not (project / ".git").exists()


def test_hooks_import_only_the_standard_library() -> None:
    """Hooks run with the user's cookiecutter interpreter, which has nothing else installed."""
    for hook in ("pre_gen_project.py", "post_gen_project.py"):
        # The hooks are Jinja templates, but only their answers line carries Jinja, inside a string literal.
        tree = ast.parse((Path(__file__).parent.parent / "hooks" / hook).read_text())
        modules: set[str] = set()
        for node in ast.walk(tree):  # every import, including ones nested in functions
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
        assert "json" in modules and modules <= set(sys.stdlib_module_names) | {"__future__"}, modules
