"""Options compose and a disabled one leaves no trace.

Full bakes: the base context (the defaults, proven by the default bake's tests) plus one non-default value at a time,
each synced with uv and checked with its own linters and test suite. Render-only: every combination of the on/off
options, the lint stack and the language, swept for leftovers, traces, empty folders and unparsable files.

An option that changes none of what the generated suite runs or is configured by (its code, tests, migrations,
project settings: SUITE_CODE) leaves that suite exactly as the default bake's, which tests/test_generated_project.py
runs whole on SQLite and MariaDB; its run here then repeats only the test modules that name a file the option changed
(the README's, .env.example's checks), and the summary says which ran and why. Its linters, which read only code and
configuration too, are then the default bake's as well.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest
from pytest_cookies.plugin import Cookies

from tests.baked_files import UNRENDERED, VARIANT_FILES, project_files, strip_github_expressions
from tests.conftest import (
    ALTERNATIVE_ANSWERS,
    BACKGROUND_JOBS,
    GENERATED_PYTEST,
    LINT_COMMANDS,
    MYSQL_ONLY_SKIP,
    PYTEST_FAILURES,
    SCAFFOLD_ANSWERS,
    WITHOUT_SCAFFOLD,
    assert_generated_suite_passed,
    default_context,
    project_env,
    render_only,
    run,
)
from tests.generated_suite import assert_api_fuzzed, documented_operations

# Every non-default value of every option; the defaults are the default bake. lambda_architecture changes only
# packaging: tests/test_packaging.py bakes x86_64, packages it and checks every shared object.
SINGLE_OVERRIDES = [
    ("use_docker", "no"),
    ("use_github_actions", "no"),
    ("lint_stack", "ruff"),
    ("include_example_module", "no"),
    ("language", "en"),
    ("python_version", "3.13"),
    ("serverless_flavour", "osls"),
    ("aws_credentials", "access_keys"),
    # A server the team brings (database=existing follows from either answer), and IAM logins to a cluster of its own.
    ("db_credentials", "secrets_manager"),
    ("db_credentials", "environment"),
    ("database", "existing"),
    ("api_auth", "none"),
]
# What the generated suite runs or is configured by: a change to any of these runs the whole suite for the option.
SUITE_CODE = re.compile(
    r"\.(py|tmpl|toml|lock|ini|cfg)$|^(app|tests|migrations|scaffold)/|^(Makefile|\.python-version|\.flake8)$"
)
# Text that must not appear anywhere in a project where the option has this value.
TRACES: dict[tuple[str, str], re.Pattern[str]] = {
    ("use_docker", "no"): re.compile(r"Dockerfile|docker-compose|docker compose|\.dockerignore"),
    ("use_github_actions", "no"): re.compile(r"GitHub Actions|\.github/workflows"),
    ("include_example_module", "no"): re.compile(r"module\.challenge|/challenges|ChallengeCreate|challenge_not_found"),
    ("lint_stack", "ruff"): re.compile(r"\bblack\b|\bflake8\b|isort>=|uv run (--frozen )?isort|\bBlack\b"),
    ("lint_stack", "black_isort_flake8"): re.compile(r"\bruff\b"),
    ("language", "en"): re.compile(r"[\uac00-\ud7a3]"),
    ("serverless_flavour", "osls"): re.compile(r"SERVERLESS_ACCESS_KEY|SERVERLESS_ORG|^org:", re.MULTILINE),
    # The deploy user's keys as CI secrets; the app itself reads the function's AWS_* keys in both modes.
    ("aws_credentials", "oidc"): re.compile(
        r"secrets\.AWS_ACCESS_KEY_ID|secrets\.AWS_SECRET_ACCESS_KEY|aws-access-key-id"
    ),
    ("aws_credentials", "access_keys"): re.compile(r"AWS_DEPLOY_ROLE_ARN|id-token"),
    # The open API: no gateway authorizer, no local tokens, no identity package.
    ("api_auth", "none"): re.compile(r"JWT_ISSUER_URL|jwtAuthorizer|LOCAL_TOKEN_KEY|app\.auth"),
    # No job runtime, queue, worker or schedule anywhere.
    ("background_jobs", "no"): re.compile(r"app\.jobs|JOB_QUEUE_URL|worker\.handler|JobQueue|make jobs"),
}
# Files an option owns, listed independently of the post-gen hook: absent when the option has this value, present
# otherwise.
OWNED_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("use_docker", "no"): ("Dockerfile", "docker-compose.yml", ".dockerignore"),
    ("use_github_actions", "no"): (
        ".github",
        "scripts/release.sh",
        "scripts/template_update.sh",
        "infra/ci-access.yml",
    ),
    ("lint_stack", "ruff"): (".flake8",),
    ("include_example_module", "no"): (
        "app/module/challenge",
        "app/module/challenge/jobs.py",
        "tests/test_challenge.py",
        "migrations/versions/2026_11_26_0000-0001_create_challenge.py",
        "migrations/template_versions/2026_12_06_0000-0002_challenge_owner.py",
        "migrations/template_versions/2026_12_07_0000-0003_owner_subject_binary_collation.py",
        "migrations/template_versions/2026_12_08_0001-0005_challenge_word_count.py",
    ),
    ("db_credentials", "environment"): ("infra/secrets-endpoint.yml",),
    ("database", "aurora"): ("infra/secrets-endpoint.yml", "infra/queue-endpoint.yml"),
    ("background_jobs", "no"): (
        "app/jobs",
        "app/aws/sqs.py",
        "app/module/challenge/jobs.py",
        "worker.py",
        "scripts/jobs.py",
        "scaffold/module/jobs.py.tmpl",
        "tests/test_jobs.py",
        "tests/test_jobs_listing.py",
        "tests/test_sqs.py",
        "tests/moto_sqs.py",
        "migrations/template_versions/2026_12_08_0000-0004_job_run.py",
        "migrations/template_versions/2026_12_08_0001-0005_challenge_word_count.py",
        "infra/queue-endpoint.yml",
    ),
    # The example module's owner migrations go with either answer.
    ("api_auth", "none"): (
        "infra/cognito.yml",
        "tests/test_registry.py",
        "migrations/template_versions/2026_12_06_0000-0002_challenge_owner.py",
        "migrations/template_versions/2026_12_07_0000-0003_owner_subject_binary_collation.py",
    ),
}
ON_OFF = ["use_docker", "use_github_actions", "include_example_module"]
COMBINATIONS = [
    dict(zip([*ON_OFF, "lint_stack", "language"], values))
    for values in itertools.product(*([["yes", "no"]] * len(ON_OFF)), ["black_isort_flake8", "ruff"], ["ko", "en"])
]


def removed_by_an_answer(owned: str, answers: dict[str, str]) -> bool:
    """Whether one of the answers removes the path: the owner migrations belong to two options."""
    return any(owned in paths and answers.get(name) == value for (name, value), paths in OWNED_PATHS.items())


def assert_clean(project: Path, answers: dict[str, str]) -> None:
    """No unrendered syntax, no trace or file of a disabled choice (all files of an enabled one), no variant file left
    beside the one the hook renamed, no empty folder."""
    problems = []
    # What the bake answered: the given answers, the defaults for the rest.
    effective = default_context(**answers)
    for path in project_files(project):
        text = path.read_text(encoding="utf-8")
        relative = path.relative_to(project)
        if UNRENDERED.search(strip_github_expressions(text)):
            problems.append(f"{relative}: unrendered template syntax")
        for (name, value), trace in TRACES.items():
            if answers.get(name) == value and path.name != "uv.lock" and (match := trace.search(text)):
                problems.append(f"{relative}: {name}={value} but found {match.group(0)!r}")
    for (name, value), paths in OWNED_PATHS.items():
        for owned in paths if name in answers else ():
            if answers[name] == value and (project / owned).exists():
                problems.append(f"{owned}: present although {name}={value}")
            if answers[name] != value and not (project / owned).exists() and not removed_by_an_answer(owned, effective):
                problems.append(f"{owned}: missing although {name}={answers[name]}")
    leftovers = [variant for variant in VARIANT_FILES if (project / variant).exists()]
    problems.extend(f"{variant}: variant file left in the bake" for variant in leftovers)
    for folder in project.rglob("*"):
        if folder.is_dir() and ".venv" not in folder.parts and not any(folder.iterdir()):
            problems.append(f"{folder.relative_to(project)}: empty folder")
    assert problems == []


def rendered_files(project: Path) -> dict[str, bytes]:
    """A bake's files by their path in it."""
    return {path.relative_to(project).as_posix(): path.read_bytes() for path in project_files(project)}


def changed_files(project: Path, baseline: Path) -> set[str]:
    """The paths added, removed or changed between two bakes."""
    ours, theirs = rendered_files(project), rendered_files(baseline)
    return {name for name in ours.keys() | theirs.keys() if ours.get(name) != theirs.get(name)}


def modules_to_rerun(project: Path, changed: set[str]) -> list[str] | None:
    """None when the whole generated suite must run: a changed file is code or configuration the suite runs with, or
    a helper shared by its tests names one. Otherwise the test modules naming a changed file (possibly none)."""
    if any(SUITE_CODE.search(name) for name in changed):
        return None
    names = {Path(name).name for name in changed}
    naming = [path for path in (project / "tests").rglob("*.py") if any(name in path.read_text() for name in names)]
    if any(not path.name.startswith("test_") for path in naming):
        return None
    return sorted(path.relative_to(project).as_posix() for path in naming)


def render(cookies: Cookies, answers: dict[str, str]) -> Path:
    """A bake without uv sync: only what the template renders."""
    with render_only():
        result = cookies.bake(extra_context=answers)
    assert result.exit_code == 0, result.exception
    return Path(result.project_path)


@pytest.fixture(scope="session")
def default_render(cookies_session: Cookies) -> Path:
    """The defaults as the template renders them, the baseline every single override is compared with."""
    return render(cookies_session, {})


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        ({"app/main.py"}, None),
        ({"pyproject.toml", "README.md"}, None),
        ({".python-version"}, None),
        ({"Makefile"}, None),
        ({"infra/serverless.yml", "Dockerfile"}, []),
        ({"README.md", "infra/Makefile"}, ["tests/test_docs.py", "tests/test_make.py"]),
        ({".env.example"}, None),
    ],
)
def test_only_an_option_that_changes_no_code_reruns_just_the_modules_naming_its_files(
    tmp_path: Path, changed: set[str], expected: list[str] | None
) -> None:
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_docs.py").write_text('README = "README.md"\n')
    (tests / "test_make.py").write_text('MAKEFILE = "Makefile"\n')
    (tests / "test_other.py").write_text("def test_other() -> None: ...\n")
    # A helper the whole suite imports: what it reads can change any test's outcome.
    (tests / "conftest.py").write_text('EXAMPLE = ".env.example"\n')
    assert modules_to_rerun(tmp_path, changed) == expected


@pytest.mark.slow
@pytest.mark.parametrize(("name", "value"), SINGLE_OVERRIDES, ids=[f"{n}:{v}" for n, v in SINGLE_OVERRIDES])
def test_one_option_at_a_time_bakes_lints_and_passes_its_suite(
    cookies: Cookies, default_render: Path, summary: list[str], name: str, value: str
) -> None:
    changed = changed_files(render(cookies, {name: value}), default_render)
    assert changed, f"{name}={value} renders the same project as the defaults"
    result = cookies.bake(extra_context={name: value})
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    answers = {**result.context, name: value}
    assert_clean(project, answers)
    env = project_env()
    modules = modules_to_rerun(project, changed)
    if modules is None:
        for command in LINT_COMMANDS[answers["lint_stack"]]:
            run(["uv", "run", "--frozen", *command], project, env)
        output = run([*GENERATED_PYTEST, "-rsp", *([] if name in SCAFFOLD_ANSWERS else WITHOUT_SCAFFOLD)], project, env)
        assert_generated_suite_passed(output, on_mysql=False)
        # Without the example module, the fuzzing still covers what the app serves (the health probes).
        assert_api_fuzzed(output, documented_operations(answers["include_example_module"]))
        return
    # The linters read only what SUITE_CODE covers: theirs is the default bake's result (test_generated_project.py).
    ran = "no test module names them"
    if modules:
        output = run([*GENERATED_PYTEST, *modules], project, env)
        assert not PYTEST_FAILURES.search(output), output
        assert all(MYSQL_ONLY_SKIP in line for line in re.findall(r"^SKIPPED .*$", output, flags=re.MULTILINE)), output
        assert re.search(r"\b\d+ passed\b", output), output
        ran = f"{', '.join(modules)}: {output.strip().splitlines()[-1].strip('= ')}"
    summary.append(
        f"{name}={value}: linters and suite as the default bake's (no code or configuration changed:"
        f" {', '.join(sorted(changed))}); {ran}"
    )


@pytest.mark.slow
def test_the_background_jobs_bake_is_clean_and_lints(cookies: Cookies, jobs_project: Path) -> None:
    """background_jobs=yes, the one answer SINGLE_OVERRIDES leaves out: its bake is shared with the generated suite's
    runs on SQLite and MariaDB (tests/test_generated_project.py), so only what they do not check runs here. The
    rendering is checked on a fresh bake of the same answers: the shared one gains caches while other tests use it."""
    answers = default_context(**BACKGROUND_JOBS)
    assert_clean(render(cookies, BACKGROUND_JOBS), answers)
    for command in LINT_COMMANDS[answers["lint_stack"]]:
        run(["uv", "run", "--frozen", *command], jobs_project, project_env())


@pytest.mark.parametrize(
    "answers", COMBINATIONS, ids=["-".join(f"{key}:{value}" for key, value in c.items()) for c in COMBINATIONS]
)
def test_every_combination_renders_clean(
    cookies: Cookies, monkeypatch: pytest.MonkeyPatch, answers: dict[str, str]
) -> None:
    monkeypatch.setenv("CHALLENGE_BACKEND_SKIP_UV", "1")
    result = cookies.bake(extra_context=answers)
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    assert_clean(project, answers)
    for path in project_files(project):
        if path.suffix == ".py":
            compile(path.read_text(encoding="utf-8"), str(path), "exec")
    if answers["language"] == "ko":
        assert re.search(r"[\uac00-\ud7a3]", (project / "README.md").read_text())


@pytest.mark.parametrize(("name", "value"), list(TRACES), ids=[f"{n}:{v}" for n, v in TRACES])
def test_each_trace_pattern_finds_its_option_when_enabled(
    default_project: Path, alternative_project: Path, jobs_project: Path, name: str, value: str
) -> None:
    """Guards the sweep above: a pattern that matched nothing would make it pass vacuously."""
    candidates = (
        (default_project, default_context()),
        (jobs_project, default_context(**BACKGROUND_JOBS)),
        (alternative_project, ALTERNATIVE_ANSWERS),
    )
    project = next(candidate for candidate, answers in candidates if answers[name] != value)
    assert any(TRACES[name, value].search(path.read_text(encoding="utf-8")) for path in project_files(project))
