"""Layers point one way: app.common <- app.database <- app.module <- app.api, app.registry and main <- migrate.

A lower layer never imports a higher one, so shared code stays free of any domain and a domain can be removed by
deleting its package and its line in app/registry.py. Alembic belongs to the migration function (migrate.py) alone:
the API function's code never imports it, so its cold start does not pay for it.
"""

import ast
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Lower numbers are lower layers; a module may import its own layer and the ones below.
LAYERS = {"app.common": 0, "app.database": 1, "app.module": 2, "app.api": 3, "app.registry": 3, "main": 3, "migrate": 4}
# What the API function's code (app/ and main.py) must not import at all.
MIGRATION_ONLY = ("alembic", "migrate", "migrations")


def layer_of(module: str) -> int | None:
    """The layer a dotted module name belongs to, or None outside the application."""
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(f"{prefix}."):
            return layer
    return None


def imported_modules(path: Path) -> set[str]:
    """Every absolute module name the file imports, including imports inside functions."""
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def api_sources() -> list[Path]:
    """The API function's own code."""
    return [*sorted((PROJECT_ROOT / "app").rglob("*.py")), PROJECT_ROOT / "main.py"]


def test_no_layer_imports_a_higher_one() -> None:
    sources = [*api_sources(), PROJECT_ROOT / "migrate.py"]
    violations = []
    for path in sources:
        module = ".".join(path.relative_to(PROJECT_ROOT).with_suffix("").parts).removesuffix(".__init__")
        # The package's own __init__ holds no code; any other module must belong to a layer.
        own = 0 if module == "app" else layer_of(module)
        assert own is not None, f"{module} belongs to no layer: add it to LAYERS"
        for imported in sorted(imported_modules(path)):
            other = layer_of(imported)
            if other is not None and other > own:
                violations.append(f"{module} imports {imported}")
    assert violations == []


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """Guards the check above: an upward import is found, however it is written."""
    source = tmp_path / "settings.py"
    source.write_text("def f() -> None:\n    from app.database import config\n")
    assert any(layer_of(name) == 1 for name in imported_modules(source))


def test_the_api_code_never_imports_alembic_or_the_migration_function() -> None:
    violations = [
        f"{path.relative_to(PROJECT_ROOT)} imports {imported}"
        for path in api_sources()
        for imported in sorted(imported_modules(path))
        if imported.split(".", 1)[0] in MIGRATION_ONLY
    ]
    assert violations == []
