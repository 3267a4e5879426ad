"""Finish a freshly rendered project: prune what the answers exclude, give the chosen variant files their names,
then lock and sync with uv, export requirements.txt with the project's `make requirements`, and print the commands
to run next in the bake's language. In the copies cruft renders only to compare (update, diff), it prunes and
renames, and does nothing else.

Every step is safe to repeat (cruft runs hooks again on update). A failing non-essential step never removes the
project: it prints what failed and the exact commands to run later, and the hook still exits 0.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ANSWERS: dict[str, object] = json.loads(r"""{{ cookiecutter | tojson }}""")

SKIP_UV_ENV = "CHALLENGE_BACKEND_SKIP_UV"
# (answer, value) -> paths removed when the answer has that value.
PRUNE_TABLE: dict[tuple[str, str], tuple[str, ...]] = {
    ("use_docker", "no"): ("Dockerfile", "docker-compose.yml", ".dockerignore"),
    # What only the workflows use goes with them: their scripts and the stack of CI's AWS access.
    ("use_github_actions", "no"): (
        ".github",
        "scripts/release.sh",
        "scripts/template_update.sh",
        "infra/ci-access.yml",
    ),
    ("lint_stack", "ruff"): (".flake8",),
    # Without a secret to fetch, the function needs no Secrets Manager endpoint in its VPC.
    ("db_credentials", "environment"): ("infra/secrets-endpoint.yml",),
    # The database stack (infra/database.yml) creates the endpoints in the VPC it gives the functions.
    ("database", "aurora"): ("infra/secrets-endpoint.yml", "infra/queue-endpoint.yml"),
    # Work after the response: the job runtime, the worker function's handler, its SQS client and their tests.
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
    ("include_example_module", "no"): (
        "app/module/challenge",
        "tests/test_challenge.py",
        "migrations/template_versions/2026_12_08_0001-0005_challenge_word_count.py",
        "migrations/versions/2026_11_26_0000-0001_create_challenge.py",
        "migrations/template_versions/2026_12_06_0000-0002_challenge_owner.py",
        "migrations/template_versions/2026_12_07_0000-0003_owner_subject_binary_collation.py",
    ),
    # An open API has no identity: no token code, no per-module scopes, no owner column, no user pool.
    ("api_auth", "none"): (
        "app/auth",
        "app/module/challenge/access.py",
        "infra/cognito.yml",
        "migrations/template_versions/2026_12_06_0000-0002_challenge_owner.py",
        "migrations/template_versions/2026_12_07_0000-0003_owner_subject_binary_collation.py",
        "scaffold/module/access.py.tmpl",
        "scripts/local_token.py",
        "tests/test_auth.py",
        "tests/test_registry.py",
    ),
}
# answer -> {destination: {value: source}}. A document or lock file that differs as a whole by answer is one template
# file per value, so each reads as one plain document; the chosen one takes the destination's name, the others go.
VARIANT_TABLE: dict[str, dict[str, dict[str, str]]] = {
    "language": {
        "README.md": {"ko": "README.ko.md", "en": "README.en.md"},
        "CLAUDE.md": {"ko": "CLAUDE.ko.md", "en": "CLAUDE.en.md"},
    },
    "serverless_flavour": {
        "infra/package-lock.json": {"v4": "infra/package-lock.v4.json", "osls": "infra/package-lock.osls.json"},
    },
}
# The export is written once, as the project Makefile's `requirements` target, which pre-commit, CI and the docs run
# too; the hook hands that target the uv it found.
UV_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("lock dependencies", ("uv", "lock")),
    ("install the virtual environment", ("uv", "sync", "--frozen")),
    ("export runtime requirements", ("make", "requirements")),
)
# What to type next, in the bake's language: (command, what it does).
NEXT_STEPS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "en": (
        "Next steps:",
        (
            ("make run", "the API with reload on the local SQLite database: http://127.0.0.1:8000/docs"),
            ("make test", "the test suite"),
        ),
    ),
    "ko": (
        "다음 단계:",
        (
            ("make run", "로컬 SQLite DB 로 API 실행, 코드를 고치면 재시작: http://127.0.0.1:8000/docs"),
            ("make test", "테스트 실행"),
        ),
    ),
}
DEPLOY_COMMAND = "make -C infra deploy-dev"
# language -> database -> what the deploy line says. No first deploy works before what the named README section asks
# for: with `aurora` the database stack (and the stacks beside it), with `existing` the settings to export.
DEPLOY_NOTES: dict[str, dict[str, str]] = {
    "en": {
        "aurora": "deploy to AWS, after the database stack: README.md's From an empty AWS account section",
        "existing": "deploy to AWS, after the settings of README.md's Deploy section",
    },
    "ko": {
        "aurora": "AWS 에 배포 (먼저 DB 스택: README.md 의 '빈 AWS 계정에서 첫 요청까지' 절)",
        "existing": "AWS 에 배포 (먼저 README.md 의 '배포' 절에 있는 설정을 export)",
    },
}
# make's own summary of a failed recipe ("make: *** [Makefile:50: requirements] Error 2") says less than the line
# before it, the failing command's error.
MAKE_FAILURE_SUMMARY = re.compile(r"^\S*make(?:\[\d+\])?: \*\*\* \[.*\] Error \d+$")


@dataclass(frozen=True)
class StepFailure:
    """A step that did not complete, and why."""

    step: str
    reason: str


def paths_to_prune(answers: Mapping[str, object]) -> list[str]:
    """List the generated paths that the answers exclude."""
    return [path for (name, value), paths in PRUNE_TABLE.items() if answers.get(name) == value for path in paths]


def remove_path(root: Path, relative: str) -> None:
    """Remove a file or folder below root; a path already gone is fine."""
    target = root / relative
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()


def choose_variants(root: Path, answers: Mapping[str, object]) -> None:
    """Rename each chosen variant to its destination and remove the others; a second run finds nothing to do."""
    for name, destinations in VARIANT_TABLE.items():
        for destination, sources in destinations.items():
            chosen = sources.get(str(answers.get(name)))
            for source in sources.values():
                if source != chosen:
                    remove_path(root, source)
            if chosen is not None and (root / chosen).exists():
                (root / chosen).replace(root / destination)


def uv_opted_out(answers: Mapping[str, object], environ: Mapping[str, str]) -> str | None:
    """Return why the uv steps are skipped, or None to run them."""
    if answers.get("run_uv_sync") == "no":
        return "run_uv_sync is 'no'"
    if environ.get(SKIP_UV_ENV, "").strip().lower() in {"1", "true", "yes"}:
        return f"{SKIP_UV_ENV} is set"
    return None


def make_variable(value: str) -> str:
    """A value for a make command-line variable that its recipes' shell reads back unchanged."""
    # Quoted for the shell (a uv path may hold spaces); "$" doubled because make expands it even inside quotes.
    return shlex.quote(value).replace("$", "$$")


def failure_reason(result: subprocess.CompletedProcess[str]) -> str:
    """The last line of error output that says why, past make's own summary; the exit code when there is none."""
    lines = (result.stderr or result.stdout).strip().splitlines()
    reasons = [line for line in lines if not MAKE_FAILURE_SUMMARY.match(line)] or lines
    return reasons[-1] if reasons else f"exit code {result.returncode}"


def run_uv_steps(project: Path, uv: str, make: str | None) -> StepFailure | None:
    """Run lock, sync and export in order, printing one line per step; stop at the first failure."""
    for step, command in UV_STEPS:
        print(f"[uv] {step}: {' '.join(command)}", flush=True)
        if command[0] == "make":
            if make is None:
                return StepFailure(step, "make was not found on PATH")
            argv = [make, *command[1:], f"UV={make_variable(uv)}"]
        else:
            argv = [uv, *command[1:]]
        try:
            result = subprocess.run(argv, cwd=project, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return StepFailure(step, str(error))
        if result.returncode != 0:
            return StepFailure(step, failure_reason(result))
    return None


def later_commands() -> str:
    """The commands that finish the project by hand."""
    return "\n".join(f"    {' '.join(command)}" for _, command in UV_STEPS)


def next_steps(project: Path, environ: Mapping[str, str], finish: Sequence[str] = ()) -> str:
    """The commands that take the user from this bake to a running, tested and deployed service."""
    language = str(ANSWERS.get("language"))
    title, local_steps = NEXT_STEPS.get(language, NEXT_STEPS["en"])
    notes = DEPLOY_NOTES.get(language, DEPLOY_NOTES["en"])
    steps = (*local_steps, (DEPLOY_COMMAND, notes.get(str(ANSWERS.get("database")), notes["existing"])))
    # PWD is the user's shell folder (cookiecutter runs hooks inside the project), so `cd` works as printed.
    where = environ.get("PWD")
    folder = os.path.relpath(project, where) if where and Path(where).is_absolute() else str(project)
    commands = [(f"cd {shlex.quote(folder)}", ""), *((command, "") for command in finish), *steps]
    width = max(len(command) for command, _ in steps)
    lines = [f"    {command:<{width}}  # {comment}" if comment else f"    {command}" for command, comment in commands]
    return "\n".join([title, *lines])


def rendered_by_cruft_to_compare(project: Path, answers: Mapping[str, object]) -> bool:
    """Whether cruft renders this copy only to compare it with another (cruft update, cruft diff): nobody works in
    it, and it is deleted once compared."""
    # cruft adds `_commit` to the answers it renders with; cookiecutter never does. `cruft create` renders into the
    # user's output folder, `cruft update` and `cruft diff` into a fresh tempfile.TemporaryDirectory() each (cruft's
    # AltTemporaryDirectory), in which the project folder is the only entry.
    if "_commit" not in answers:
        return False
    render_root = project.resolve().parent
    return render_root.parent == Path(tempfile.gettempdir()).resolve() and render_root.name.startswith("tmp")


def init_git(project: Path, git: str | None) -> StepFailure | None:
    """Create a git repository unless one exists already."""
    if (project / ".git").exists():
        return None
    if git is None:
        return StepFailure("initialise git", "git was not found on PATH")
    result = subprocess.run([git, "init", "--quiet"], cwd=project, capture_output=True, text=True, check=False)
    return None if result.returncode == 0 else StepFailure("initialise git", result.stderr.strip())


def warn(lines: Sequence[str]) -> None:
    """Print a block of guidance on stderr."""
    print("\n".join(lines), file=sys.stderr)


def main(project: Path | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Finish the project; return 0 even when an optional step fails (the project is kept)."""
    project = project or Path.cwd()
    environ = os.environ if environ is None else environ
    for relative in paths_to_prune(ANSWERS):
        remove_path(project, relative)
    choose_variants(project, ANSWERS)
    if rendered_by_cruft_to_compare(project, ANSWERS):
        # cruft compares the files only: what uv writes is in [tool.cruft] skip, a .git of the render's own would be
        # compared too, and next steps would send the user into a folder about to be deleted.
        return 0

    skipped = uv_opted_out(ANSWERS, environ)
    uv = shutil.which("uv", path=environ.get("PATH"))
    failure: StepFailure | None = None
    if skipped:
        warn([f"Skipped the uv steps ({skipped}). To finish the project, run in {project}:", later_commands()])
    elif uv is None:
        warn(
            [
                "Could not lock and install dependencies: uv was not found on PATH.",
                "Install uv (https://docs.astral.sh/uv/), then run in the project folder:",
                later_commands(),
            ]
        )
    else:
        failure = run_uv_steps(project, uv, shutil.which("make", path=environ.get("PATH")))
        if failure:
            warn(
                [
                    f"Could not {failure.step}: {failure.reason}",
                    "The project was kept. Fix the cause (network, Python version via UV_PYTHON, make), then run:",
                    later_commands(),
                ]
            )

    if ANSWERS.get("git_init") == "yes":
        git_failure = init_git(project, shutil.which("git", path=environ.get("PATH")))
        if git_failure:
            warn([f"Could not {git_failure.step}: {git_failure.reason}", "    git init"])

    finished = not skipped and uv is not None and failure is None
    finish = () if finished else tuple(" ".join(command) for _, command in UV_STEPS)
    print(next_steps(project, environ, finish), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
