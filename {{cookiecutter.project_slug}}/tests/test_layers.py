{% if cookiecutter.api_auth == "jwt" -%}
"""Layers point one way: app.common <- app.database <- app.auth <- app.module <- app.api, app.registry and main <-
migrate.
{%- else -%}
"""Layers point one way: app.common <- app.database <- app.module <- app.api, app.registry and main <- migrate.
{%- endif %}

A lower layer never imports a higher one, so shared code stays free of any domain and a domain can be removed by
deleting its package and its line in app/registry.py. Alembic belongs to the migration function (migrate.py) alone:
the API function's code never imports it, so its cold start does not pay for it.
"""

import ast
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Lower numbers are lower layers; a module may import its own layer and the ones below.
{%- if cookiecutter.api_auth == "jwt" %}
LAYERS = {
    "app.common": 0,
    "app.database": 1,
    # Who is calling: every module's routes depend on it, and it knows no module.
    "app.auth": 2,
    "app.module": 3,
    "app.api": 4,
    "app.registry": 4,
    "main": 4,
    "migrate": 5,
}
{%- else %}
LAYERS = {"app.common": 0, "app.database": 1, "app.module": 2, "app.api": 3, "app.registry": 3, "main": 3, "migrate": 4}
{%- endif %}
# What the API function's code (app/ and main.py) must not import at all.
MIGRATION_ONLY = ("alembic", "migrate", "migrations")


def layer_of(module: str) -> int | None:
    """The layer a dotted module name belongs to, or None outside the application."""
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(f"{prefix}."):
            return layer
    return None


def module_name(path: Path, root: Path = PROJECT_ROOT) -> str:
    """The dotted name a source file is imported as (a package's __init__ as the package)."""
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def imported_modules(path: Path, module: str) -> set[str]:
    """Every module name the file imports, including imports inside functions; relative imports are resolved from
    module, the file's own dotted name."""
    package = (module if path.name == "__init__.py" else module.rpartition(".")[0]).split(".")
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # Level 1 is the file's own package, each further level one package up.
            base = package[: len(package) - node.level + 1] if node.level else []
            prefix = ".".join([*base, *([node.module] if node.module else [])])
            modules.update(f"{prefix}.{alias.name}" for alias in node.names)
    return modules


def layer_violations(path: Path, root: Path = PROJECT_ROOT) -> list[str]:
    """Each import in the file of a layer above its own, as "<module> imports <name>"."""
    module = module_name(path, root)
    # The package's own __init__ holds no code; any other module must belong to a layer.
    own = 0 if module == "app" else layer_of(module)
    assert own is not None, f"{module} belongs to no layer: add it to LAYERS"
    return [
        f"{module} imports {imported}"
        for imported in sorted(imported_modules(path, module))
        if (layer_of(imported) or 0) > own
    ]


def api_sources() -> list[Path]:
    """The API function's own code."""
    return [*sorted((PROJECT_ROOT / "app").rglob("*.py")), PROJECT_ROOT / "main.py"]


def test_no_layer_imports_a_higher_one() -> None:
    sources = [*api_sources(), PROJECT_ROOT / "migrate.py"]
    assert [violation for path in sources for violation in layer_violations(path)] == []


@pytest.mark.parametrize(
    "source",
    [
        "from app.database import config\n",
        "def f() -> None:\n    import app.database.config\n",
        "from ..database import config\n",
        "from ..database.config import get_engine\n",
        "from .. import database\n",
    ],
)
def test_the_check_sees_a_violation(tmp_path: Path, source: str) -> None:
    """Guards the check above: an upward import is found, however it is written."""
    path = tmp_path / "app" / "common" / "settings.py"
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert layer_violations(path, root=tmp_path) != []


def test_the_check_allows_imports_of_the_own_and_lower_layers(tmp_path: Path) -> None:
    path = tmp_path / "app" / "database" / "config.py"
    path.parent.mkdir(parents=True)
    path.write_text("from . import pool\nfrom ..common import settings\nfrom app.common.text import plain_text\n")
    assert layer_violations(path, root=tmp_path) == []


def test_the_api_code_never_imports_alembic_or_the_migration_function() -> None:
    violations = [
        f"{path.relative_to(PROJECT_ROOT)} imports {imported}"
        for path in api_sources()
        for imported in sorted(imported_modules(path, module_name(path)))
        if imported.split(".", 1)[0] in MIGRATION_ONLY
    ]
    assert violations == []
