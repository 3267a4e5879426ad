{%- set ruff = cookiecutter.lint_stack == "ruff" -%}
"""`make module name=<name>`: a new domain that passes the linters, mypy --strict, its migration and its own tests
without further edits, registered in one place; bad or taken names write nothing."""

import hashlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What a copy of the project leaves out: virtual environment, caches, local databases, installed Node packages.
NOT_COPIED = shutil.ignore_patterns(
    ".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "node_modules", ".serverless", "*.db"
)
# The project's own lint stack, run by module with this interpreter so no other tool is needed.
LINT_COMMANDS = [
{%- if ruff %}
    ["ruff", "format", "--check", "."],
    ["ruff", "check", "."],
{%- else %}
    ["black", "--check", "."],
    ["isort", "--check-only", "."],
    ["flake8", "."],
{%- endif %}
    ["mypy", "."],
]
# The suite's own database settings must not reach the copy: it migrates and tests its own SQLite file.
SUITE_VARIABLES = ("DATABASE_URL", "TEST_DATABASE_URL", "TEST_REQUIRE_DATABASE_URL", "ENVIRONMENT", "VIRTUAL_ENV")


def documented_operations() -> int:
    """How many operations the app's OpenAPI document lists (tests/test_api_contract.py fuzzes each)."""
    from main import app

    return sum(len(path_item) for path_item in app.openapi()["paths"].values())


def copy_of_project(destination: Path) -> Path:
    """The project as it is, without environments and caches (mypy's cache is kept: it only saves time)."""
    shutil.copytree(PROJECT_ROOT, destination, ignore=NOT_COPIED)
    return destination


def run(command: list[str], cwd: Path, env: dict[str, str]) -> str:
    """Run a command in the copy; fail the test with its output when it exits non-zero."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}{result.stderr}", pytrace=False)
    return result.stdout


def fingerprints(root: Path) -> dict[str, str]:
    """Every file of the copy that the change could touch, with a hash of its bytes."""
    skipped = {"__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in root.rglob("*")
        if path.is_file() and path.suffix != ".db" and skipped.isdisjoint(path.relative_to(root).parts)
    }


@pytest.fixture(scope="module")
def generator() -> ModuleType:
    """scripts/new_module.py, imported (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("new_module", PROJECT_ROOT / "scripts" / "new_module.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project_copy(tmp_path: Path) -> Iterator[Path]:
    """A copy of the project to create modules in."""
    yield copy_of_project(tmp_path / "project")


@pytest.fixture
def bare_project(tmp_path: Path) -> Path:
    """What the generator reads, without any module the team added: the skeleton and an empty registry, so the names
    below are free whatever the project serves."""
    root = tmp_path / "bare"
    shutil.copytree(PROJECT_ROOT / "scaffold", root / "scaffold")
    (root / "app" / "module").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "app" / "registry.py").write_text("MODULES: list[str] = []\n", encoding="utf-8")
    return root


def free_module_name(generator: ModuleType, root: Path) -> str:
    """`orders`, the README's example, unless the project has taken it (a team's first module often is orders); then
    the first free `ordersN`, so these checks never collide with the team's own modules."""
    for candidate in ["orders", *(f"orders{number}" for number in range(2, 1000))]:
        try:
            generator.check_name(candidate, root)
        except generator.ModuleError:
            continue
        return candidate
    pytest.fail("no free module name from orders to orders999")


@pytest.fixture
def free_name(generator: ModuleType, project_copy: Path) -> str:
    """A module name nothing in the copy uses."""
    return free_module_name(generator, project_copy)


@pytest.mark.scaffold
def test_make_module_adds_a_domain_that_passes_every_check(project_copy: Path, free_name: str) -> None:
    env = {key: value for key, value in os.environ.items() if key not in SUITE_VARIABLES}
    env |= {"ENVIRONMENT": "local", "SQLITE_PATH": str(project_copy / "scaffold-check.db")}
    python = [sys.executable, "-m"]
    before = fingerprints(project_copy)
    run([*python, "alembic", "upgrade", "heads"], project_copy, env)

    output = run(["make", "module", f"name={free_name}", f"PYTHON={sys.executable}"], project_copy, env)
    assert f'alembic revision --autogenerate -m "create {free_name}"' in output
{%- if cookiecutter.api_auth == "jwt" %}
    # Tokens only carry the module's scopes once the issuer defines them.
    assert f"resource server {free_name} with the scopes {free_name}/read and {free_name}/write" in output
{%- endif %}
    run([*python, "alembic", "revision", "--autogenerate", "-m", f"create {free_name}"], project_copy, env)
    run([*python, "alembic", "upgrade", "heads"], project_copy, env)
    for command in LINT_COMMANDS:
        run([*python, *command], project_copy, env)
    # The new module's own tests, the check that models and migrations agree, and the fuzzing of every operation.
    tests = [f"tests/test_{free_name}.py", "tests/test_migrations.py", "tests/test_layers.py"]
    tests.append("tests/test_api_contract.py")
    output = run([*python, "pytest", "-p", "no:cacheprovider", "-q", "-rp", *tests], project_copy, env)
    fuzzed = re.findall(r"^PASSED tests/test_api_contract\.py::test_every_operation", output, flags=re.MULTILINE)
    # The module's create, list and read are fuzzed with nothing added for them.
    assert len(fuzzed) == documented_operations() + 3, output

    after = fingerprints(project_copy)
    changed = {path for path in after if before.get(path) != after[path]} | (before.keys() - after.keys())
    new_migrations = {path for path in changed if path.startswith("migrations/versions/")}
    assert len(new_migrations) == 1 and next(iter(new_migrations)).endswith(f"create_{free_name}.py"), changed
    outside = changed - new_migrations - {f"tests/test_{free_name}.py"}
    outside = {path for path in outside if not path.startswith(f"app/module/{free_name}/")}
    assert outside == {"app/registry.py"}


def test_a_taken_example_name_moves_the_check_to_a_free_one(
    generator: ModuleType, bare_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a team's own `make module name=orders`, the checks above pick another name instead of failing, and the
    singular `order` would give a second model named Order, which is refused."""
    assert generator.main(["orders"], root=bare_project) == 0
    assert free_module_name(generator, bare_project) == "orders2"
    assert generator.main(["order"], root=bare_project) == 1
    assert "'Order' is taken: app/module/orders/models.py defines it" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("orders", "Order"),
        ("categories", "Category"),
        ("boxes", "Box"),
        ("addresses", "Address"),
        ("order_items", "OrderItem"),
        ("order", "Order"),
        ("status", "Status"),
        ("news", "News"),
    ],
)
def test_the_model_is_named_in_the_singular(generator: ModuleType, name: str, model: str) -> None:
    assert generator.model_class(name) == model


def test_the_table_and_routes_keep_the_name_and_the_model_reads_naturally(
    generator: ModuleType, bare_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generator.main(["categories"], root=bare_project) == 0
    assert "Model Category, table categories, routes /categories" in capsys.readouterr().out
    module = bare_project / "app" / "module" / "categories"
    assert re.search(
        r'^class Category\(Base\):\n    """One category, .*\n\n    __tablename__ = "categories"$',
        (module / "models.py").read_text(),
        flags=re.MULTILINE,
    )
    assert 'APIRouter(prefix="/categories"' in (module / "router.py").read_text()
    assert 'code = "category_not_found"' in (module / "exceptions.py").read_text()


def test_class_name_sets_an_irregular_singular(
    generator: ModuleType, bare_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generator.main(["people", "--class-name", "Person"], root=bare_project) == 0
    assert "Model Person, table people, routes /people" in capsys.readouterr().out
    models = (bare_project / "app" / "module" / "people" / "models.py").read_text()
    assert "class Person(Base):" in models and '__tablename__ = "people"' in models
    assert "PersonNotFoundError" in (bare_project / "app" / "module" / "people" / "exceptions.py").read_text()


def test_a_class_name_that_is_not_a_class_name_writes_nothing(
    generator: ModuleType, bare_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprints(bare_project)
    assert generator.main(["people", "--class-name", "person"], root=bare_project) == 1
    assert "class_name: invalid value 'person'; allowed:" in capsys.readouterr().err
    assert fingerprints(bare_project) == before


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "allowed: 2-20 lowercase letters"),
        ("Orders", "allowed: 2-20 lowercase letters"),
        ("1orders", "allowed: 2-20 lowercase letters"),
        ("order__item", "allowed: 2-20 lowercase letters"),
        ("orders_", "allowed: 2-20 lowercase letters"),
        ("x" * 21, "allowed: 2-20 lowercase letters"),
        ("class", "Python keyword"),
        ("health", "GET /health"),
        ("settings", "tests/test_settings.py exists"),
{%- if cookiecutter.include_example_module == "yes" %}
        ("challenge", "app/module/challenge exists"),
{%- endif %}
    ],
)
def test_bad_or_taken_name_is_refused_and_writes_nothing(
    generator: ModuleType, project_copy: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    before = fingerprints(project_copy)
    assert generator.main([name], root=project_copy) == 1
    error = capsys.readouterr().err
    assert f"{name!r}" in error and reason in error
    assert fingerprints(project_copy) == before


def test_dry_run_lists_the_files_and_writes_nothing(
    generator: ModuleType, project_copy: Path, free_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = fingerprints(project_copy)
    assert generator.main([free_name, "--dry-run"], root=project_copy) == 0
    listed = capsys.readouterr().out.splitlines()
    assert f"Would write app/module/{free_name}/router.py" in listed and "Would write app/registry.py" in listed
    assert fingerprints(project_copy) == before


def test_registry_lists_a_new_name_once_per_line(generator: ModuleType) -> None:
    one_line = "MODULES: list[str] = []\n\n\ndef f() -> None: ...\n"
    assert generator.registry_with(one_line, "orders").startswith('MODULES: list[str] = [\n    "orders",\n]\n\n\ndef')
    exploded = 'MODULES: list[str] = [\n    "challenge",  # the example\n]\n'
    assert generator.registry_with(exploded, "orders") == (
        'MODULES: list[str] = [\n    "challenge",  # the example\n    "orders",\n]\n'
    )
