{% if cookiecutter.background_jobs == "yes" and cookiecutter.api_auth == "jwt" -%}
"""Layers point one way: app.aws <- app.common <- app.database <- app.auth and app.jobs <- app.module <- app.api,
app.registry and main <- migrate and worker.
{%- elif cookiecutter.background_jobs == "yes" -%}
"""Layers point one way: app.aws <- app.common <- app.database <- app.jobs <- app.module <- app.api, app.registry and
main <- migrate and worker.
{%- elif cookiecutter.api_auth == "jwt" -%}
"""Layers point one way: app.aws <- app.common <- app.database <- app.auth <- app.module <- app.api, app.registry and
main <- migrate.
{%- else -%}
"""Layers point one way: app.aws <- app.common <- app.database <- app.module <- app.api, app.registry and main <-
migrate.
{%- endif %}

A lower layer never imports a higher one, so shared code stays free of any domain and a domain can be removed by
deleting its package and its line in app/registry.py. The AWS clients (app.aws) are adapters beside the core: they
use the standard library alone, so the database layer can use them and they can be read, tested and replaced on their
own. Alembic belongs to the migration function (migrate.py) alone: the API function's code never imports it, so its
cold start does not pay for it.
{%- if cookiecutter.background_jobs == "yes" %} The worker function's handler (worker.py) is the API's neither.
{%- endif %}
"""

import sys
from pathlib import Path

import pytest

from tests.imports import PROJECT_ROOT, api_sources, imported_modules, module_name

# Lower numbers are lower layers; a module may import its own layer and the ones below.
LAYERS = {
    # Clients of AWS's APIs: the standard library alone (test_the_aws_clients_use_the_standard_library_alone).
    "app.aws": 0,
    "app.common": 1,
    "app.database": 2,
{%- if cookiecutter.api_auth == "jwt" %}
    # Who is calling: every module's routes depend on it, and it knows no module.
    "app.auth": 3,
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}
    # The job runtime: modules define jobs on it, and it knows no module (app.registry finds their jobs).
    "app.jobs": 3,
{%- endif %}
    "app.module": 4,
    "app.api": 5,
    "app.registry": 5,
    "main": 5,
    "migrate": 6,
{%- if cookiecutter.background_jobs == "yes" %}
    "worker": 6,
{%- endif %}
}
# What the API function's code (app/ and main.py) must not import at all.
{%- if cookiecutter.background_jobs == "yes" %}
MIGRATION_ONLY = ("alembic", "migrate", "migrations", "worker")
{%- else %}
MIGRATION_ONLY = ("alembic", "migrate", "migrations")
{%- endif %}


def layer_of(module: str) -> int | None:
    """The layer a dotted module name belongs to, or None outside the application."""
    for prefix, layer in LAYERS.items():
        if module == prefix or module.startswith(f"{prefix}."):
            return layer
    return None


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


def test_no_layer_imports_a_higher_one() -> None:
{%- if cookiecutter.background_jobs == "yes" %}
    sources = [*api_sources(), PROJECT_ROOT / "migrate.py", PROJECT_ROOT / "worker.py"]
{%- else %}
    sources = [*api_sources(), PROJECT_ROOT / "migrate.py"]
{%- endif %}
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


def test_the_check_sees_an_aws_client_that_imports_the_app(tmp_path: Path) -> None:
    path = tmp_path / "app" / "aws" / "secrets_manager.py"
    path.parent.mkdir(parents=True)
    path.write_text("from app.common.settings import get_settings\n")
    assert layer_violations(path, root=tmp_path) == ["app.aws.secrets_manager imports app.common.settings.get_settings"]


def test_the_check_allows_imports_of_the_own_and_lower_layers(tmp_path: Path) -> None:
    path = tmp_path / "app" / "database" / "config.py"
    path.parent.mkdir(parents=True)
    path.write_text(
        "from . import pool\nfrom ..common import settings\nfrom app.common.text import plain_text\n"
        "from app.aws.secrets_manager import get_secret_string\n"
    )
    assert layer_violations(path, root=tmp_path) == []


def test_the_aws_clients_use_the_standard_library_alone() -> None:
    """app.aws imports nothing of the app but itself, and no package (botocore would cost every cold container's
    first database request some 400 ms)."""
    sources = sorted((PROJECT_ROOT / "app" / "aws").rglob("*.py"))
    assert sources, "app/aws has no source files"
    foreign = [
        f"{module_name(path)} imports {imported}"
        for path in sources
        for imported in sorted(imported_modules(path, module_name(path)))
        if not imported.startswith("app.aws.") and imported.split(".", 1)[0] not in sys.stdlib_module_names
    ]
    assert foreign == []


def test_the_api_code_never_imports_alembic_or_the_migration_function() -> None:
    violations = [
        f"{path.relative_to(PROJECT_ROOT)} imports {imported}"
        for path in api_sources()
        for imported in sorted(imported_modules(path, module_name(path)))
        if imported.split(".", 1)[0] in MIGRATION_ONLY
    ]
    assert violations == []
