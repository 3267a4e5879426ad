"""Every business module the app serves, listed once: main.py includes their routers, Alembic reads their models.

`make module name=<name>` creates app/module/<name>/ and appends the name here; to retire a module, remove its name.
Each module is a package app/module/<name>/ with a `router` (an APIRouter) in router.py and its tables in models.py.
"""

from importlib import import_module

from fastapi import APIRouter
{% if cookiecutter.include_example_module == "yes" %}
MODULES: list[str] = [
    "challenge",
]
{%- else %}
MODULES: list[str] = []
{%- endif %}


def module_routers() -> list[APIRouter]:
    """The router of every listed module, in list order."""
    routers: list[APIRouter] = []
    for name in MODULES:
        router: APIRouter = import_module(f"app.module.{name}.router").router
        routers.append(router)
    return routers


def import_models() -> None:
    """Import every listed module's models, so Base.metadata holds all tables (Alembic autogenerate and check)."""
    for name in MODULES:
        import_module(f"app.module.{name}.models")
{%- if cookiecutter.api_auth == "jwt" %}


def every_module_scope() -> list[str]:
    """Every scope the listed modules define (each one's access.SCOPES): what a local token grants by default."""
    return [scope for name in MODULES for scope in import_module(f"app.module.{name}.access").SCOPES]
{%- endif %}
