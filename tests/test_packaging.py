"""The Serverless package, proven with the real tools offline: npm ci from the committed lock, `make package` with
osls for each Lambda architecture, the zip's contents and the machine of every shared object in it, the unzipped
package answering an API Gateway event under the chosen Python, cfn-lint and checkov on the generated
CloudFormation, the runtime and architecture it names, and no secret of the deploying shell in any of it.

This machine runs one architecture: the packages it invokes are built for it (the default bake through the
deploy-time override, LAMBDA_ARCHITECTURE; the osls bake through the answer), and the default bake is packaged once
more for the other architecture, whose zip is checked but never run (the packages: tests/packages.py)."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from tests.cloudformation import checkov_failures, packaged_template
from tests.conftest import run, tool
from tests.lambda_events import LAMBDA_ENV, WRITER_CLAIMS, http_api_event
from tests.packages import AURORA_GROUP, IAM_GROUP, PROD_GROUP, SENTINEL, Package
from tests.packaging_tools import CA_BUNDLE, ELF_MACHINES, elf_machines, sizes, unpacked_read_only

pytestmark = pytest.mark.slow

# The app ships sources plus unchecked-hash bytecode; dependencies ship bytecode only (plugins/compile-bytecode.js).
REQUIRED_ENTRIES = [
    "main.py",
    "migrate.py",
    "migrations/env.py",
    str(CA_BUNDLE),
    "app/__init__.py",
    "app/module/challenge/router.py",
    "alembic/__init__.pyc",
    "fastapi/__init__.pyc",
    "mangum/__init__.pyc",
    "sqlalchemy/__init__.pyc",
    "aiomysql/__init__.pyc",
    "pydantic_settings/__init__.pyc",
]

FORBIDDEN_PREFIXES = ("tests/", ".venv/", "node_modules/", "infra/", "docs/", "examples/", ".git")

FORBIDDEN_FILES = {"uv.lock", "pyproject.toml", ".env", ".env.example", "alembic.ini", "README.md", "CLAUDE.md"}

# The platform triplet in extension module names (module.cpython-312-aarch64-linux-gnu.so).
TRIPLETS = {"x86_64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}

ZIP_BUDGET_MB = 10


def test_zip_has_the_app_at_its_root_with_dependencies(package: Package, summary: list[str]) -> None:
    with zipfile.ZipFile(package.zip_path) as archive:
        names = archive.namelist()
    missing = [entry for entry in REQUIRED_ENTRIES if entry not in names]
    assert missing == []
    tag = "cpython-" + package.python_version.replace(".", "")
    compiled = ("__pycache__/main", "__pycache__/migrate", "app/__pycache__/__init__", "migrations/__pycache__/env")
    assert [name for name in compiled if f"{name}.{tag}.pyc" not in names] == []
    # Bytecode only as compile-bytecode.js writes it, for the runtime's Python: none copied from the project.
    assert [name for name in names if "__pycache__/" in name and f".{tag}.pyc" not in name] == []
    zipped, unzipped = sizes(package.zip_path)
    summary.append(
        f"{package.infra.parent.name} package ({package.architecture}): {zipped:.1f} MB zipped, "
        f"{unzipped:.1f} MB unzipped, {len(names)} files"
    )
    assert zipped <= ZIP_BUDGET_MB


def test_every_shared_object_is_built_for_the_function_architecture(package: Package, summary: list[str]) -> None:
    """pip's platform targeting installs wheels for the function's architecture and Python on any machine: every ELF
    file in the zip has that architecture's e_machine (none of the other one), and every extension module's name
    carries the runtime's Python version and platform."""
    machines = elf_machines(package.zip_path)
    expected = ELF_MACHINES[package.architecture]
    assert machines and {name: machine for name, machine in machines.items() if machine != expected} == {}
    tag = "cpython-" + package.python_version.replace(".", "")
    extensions = [name for name in machines if re.search(r"\.cpython-\d+-", name)]
    suffix = f".{tag}-{TRIPLETS[package.architecture]}.so"
    assert extensions and [name for name in extensions if not name.endswith(suffix)] == []
    summary.append(
        f"{package.infra.parent.name} package ({package.architecture}): {len(machines)} shared objects, "
        f"all e_machine {expected}"
    )


def test_zip_ships_runtime_code_only(package: Package) -> None:
    with zipfile.ZipFile(package.zip_path) as archive:
        names = archive.namelist()
    assert [name for name in names if name.startswith(FORBIDDEN_PREFIXES)] == []
    assert FORBIDDEN_FILES.isdisjoint(names)
    assert [name for name in names if name.startswith(("fastapi/", "sqlalchemy/")) and name.endswith(".py")] == []
    assert [name for name in names if "/tests/" in name or name.endswith(".pyi")] == []


def test_unzipped_package_answers_an_http_api_event(
    runnable_package: Package, tmp_path: Path, summary: list[str]
) -> None:
    """The zip, unpacked into a fresh read-only folder, serves GET /health through main.handler, as Lambda does; a
    200, a 404, a 422 and a 503 (the database cannot be reached) each carry API Gateway's request id of their event in
    X-Request-Id, and the 503's log line carries it too (the key Lambda's JSON log format writes it under)."""
    # Each path and what it answers with no database to reach (DB_HOST=db.invalid); each event has its own id.
    expected = [("/health", 200), ("/no-such-route", 404), ("/challenges/not-a-number", 422), ("/challenges", 503)]
    # The module's routes as the JWT authorizer passes them on, with a verified caller's claims.
    events = [
        http_api_event("GET", path, claims=WRITER_CLAIMS if path.startswith("/challenges") else None)
        for path, _ in expected
    ]
    for event, (_, status) in zip(events, expected):
        event["requestContext"]["requestId"] = f"gateway-id-{status}"
    # One cold process, as Lambda runs it: answer the event, then check that every module imported from source has
    # bytecode Python uses without checking (flags == 1: hash-based, unchecked), or a read-only Lambda would
    # recompile it on every cold start.
    script = (
        "import importlib.machinery as m, importlib.util as u, json, logging, os, sys; "
        "records = []; handler = logging.Handler(); handler.emit = records.append; "
        "logging.getLogger().addHandler(handler); import main; "
        f"answers = [main.handler(event, None) for event in {events!r}]; response = answers[0]; "
        "logged = [(r.getMessage(), getattr(r, 'xRequestId', None)) for r in records]; "
        "sources = [mod.__spec__.origin for mod in list(sys.modules.values()) if getattr(mod, '__spec__', None) "
        "and isinstance(mod.__spec__.loader, m.SourceFileLoader) and mod.__spec__.origin.startswith(os.getcwd())]; "
        "stale = [s for s in sources if not os.path.exists(u.cache_from_source(s)) "
        "or int.from_bytes(open(u.cache_from_source(s), 'rb').read()[4:8], 'little') != 1]; "
        "outside = sorted(mod.__name__ for mod in list(sys.modules.values()) if getattr(mod, '__file__', None) "
        "and not mod.__file__.startswith(os.getcwd()) "
        "and (not mod.__file__.startswith(sys.base_prefix) or 'site-packages' in mod.__file__)); "
        "print(json.dumps({'response': response, 'sources': len(sources), 'stale': stale, 'outside': outside, "
        "'answers': [(a['statusCode'], a['headers'].get('x-request-id')) for a in answers], 'logged': logged, "
        "'version': sys.version.split()[0]}))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", **LAMBDA_ENV}
    # -S: no site-packages of the interpreter, so every dependency must come from the zip (checked by "outside").
    package = runnable_package
    with unpacked_read_only(package.zip_path, tmp_path / "task") as task:
        result = json.loads(run([package.python, "-S", "-c", script], task, env).strip().splitlines()[-1])
    assert result["response"]["statusCode"] == 200
    assert result["response"]["body"] == '{"status":"ok"}'
    assert result["answers"] == [[status, f"gateway-id-{status}"] for _, status in expected]
    unavailable = [request_id for message, request_id in result["logged"] if message.startswith("Database unavailable")]
    assert unavailable == ["gateway-id-503"], result["logged"]
    assert result["sources"] > 0 and result["stale"] == []
    assert result["outside"] == []
    summary.append(
        f"{package.infra.parent.name} unzipped package ({package.architecture}): GET /health via main.handler -> 200 "
        f"(Python {result['version']})"
    )


def test_cloudformation_passes_cfn_lint(package: Package, summary: list[str]) -> None:
    template = package.infra / ".serverless" / "cloudformation-template-update-stack.json"
    # W3005 (redundant DependsOn) is what Serverless itself generates for the HTTP API integration; not ours to fix.
    run([tool("cfn-lint"), str(template), "--ignore-checks", "W3005"], package.infra)
    summary.append(f"{package.infra.parent.name} ({package.architecture}) cfn-lint {template.name}: passed")


def test_runtime_and_architecture_match_the_package(package: Package) -> None:
    """Both functions run the chosen Python on the architecture their zip was built for."""
    functions = [
        res for res in packaged_template(package)["Resources"].values() if res["Type"] == "AWS::Lambda::Function"
    ]
    assert [function["Properties"]["Runtime"] for function in functions] == [f"python{package.python_version}"] * 2
    assert [function["Properties"]["Handler"] for function in functions] == ["main.handler", "migrate.handler"]
    assert [function["Properties"]["Architectures"] for function in functions] == [[package.architecture]] * 2


@pytest.mark.parametrize("bake", ["default_project", "alternative_project"])
def test_package_lock_records_no_download_urls(request: pytest.FixtureRequest, bake: str) -> None:
    project: Path = request.getfixturevalue(bake)
    lock = json.loads((project / "infra" / "package-lock.json").read_text())
    assert all("resolved" not in entry for entry in lock["packages"].values())
    package_json = json.loads((project / "infra" / "package.json").read_text())
    assert lock["packages"][""]["devDependencies"] == package_json["devDependencies"]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("prod", marks=pytest.mark.xdist_group(PROD_GROUP)),
        pytest.param("iam", marks=pytest.mark.xdist_group(IAM_GROUP)),
        pytest.param("aurora", marks=pytest.mark.xdist_group(AURORA_GROUP)),
    ],
)
def test_no_secret_of_the_deploying_shell_reaches_the_package(request: pytest.FixtureRequest, name: str) -> None:
    """The sentinel in DB_PASSWORD, the AWS secret key, the session token and the Serverless access key appears in
    no file under .serverless/ (the template, the state, the requirements) nor in any file inside the zip, whether
    the API reads a secret (prod) or logs in with IAM tokens signed from the function's credentials (iam, and
    aurora, whose database settings are all imports)."""
    package: Package = request.getfixturevalue(f"{name}_package")
    found = []
    sentinel = SENTINEL.encode()
    for path in (package.infra / ".serverless").rglob("*"):
        if path.is_file() and sentinel in path.read_bytes():
            found.append(str(path.relative_to(package.infra)))
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                found += [f"{path.name}:{name}" for name in archive.namelist() if sentinel in archive.read(name)]
    assert found == []


@pytest.mark.xdist_group(PROD_GROUP)
def test_the_framework_bucket_is_private_versioned_and_encrypted(prod_package: Package) -> None:
    """Without SERVERLESS_DEPLOYMENT_BUCKET the stack has its own bucket for the packages."""
    bucket = packaged_template(prod_package)["Resources"]["ServerlessDeploymentBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


# checkov's findings that do not apply, each with its reason; every other check must pass.
CHECKOV_SKIPS = {
    "CKV_AWS_116": "a dead-letter queue only receives failed asynchronous invocations; the HTTP API invokes the API "
    "function synchronously and answers its error, and `make migrate-<stage>` fails on the migration's",
    "CKV_AWS_173": "the functions' environment holds no secret (the secret's ARN, not its value), and Lambda encrypts "
    "it at rest with its own key",
    "CKV_AWS_158": "CloudWatch Logs encrypts every log group at rest; a customer managed key (with a key policy for "
    "the logs service) is an account-wide choice the template leaves to the team",
    "CKV_AWS_18": "the framework's bucket holds only the packages, and logging its access needs a second bucket; CI "
    "deploys to the bucket of infra/ci-access.yml (SERVERLESS_DEPLOYMENT_BUCKET), and this one is then not created",
}

# The workstation package of the default bake has no VPC, as its deploying shell gives none.
NO_VPC_SKIP = {"CKV_AWS_117": "the deploying shell gave no VPC_SUBNET_IDS / VPC_SECURITY_GROUP_IDS"}


@pytest.mark.parametrize(
    ("name", "skips"),
    [
        pytest.param("prod", CHECKOV_SKIPS, marks=pytest.mark.xdist_group(PROD_GROUP)),
        pytest.param("iam", CHECKOV_SKIPS, marks=pytest.mark.xdist_group(IAM_GROUP)),
        pytest.param("aurora", CHECKOV_SKIPS, marks=pytest.mark.xdist_group(AURORA_GROUP)),
        pytest.param("v4", {**CHECKOV_SKIPS, **NO_VPC_SKIP}, marks=pytest.mark.xdist_group("package-v4")),
    ],
)
def test_checkov_finds_nothing_outside_the_skip_list(
    request: pytest.FixtureRequest, name: str, skips: dict[str, str], summary: list[str]
) -> None:
    package: Package = request.getfixturevalue(f"{name}_package")
    template = package.infra / ".serverless" / "cloudformation-template-update-stack.json"
    assert checkov_failures(template, skips) == []
    summary.append(f"{package.infra.parent.name} {name} template: checkov passed, skipping {', '.join(skips)}")
