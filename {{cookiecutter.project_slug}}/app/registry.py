"""Every business module the app serves, listed once: main.py includes their routers, Alembic reads their models.

`make module name=<name>` creates app/module/<name>/ and appends the name here; to retire a module, remove its name.
Each module is a package app/module/<name>/ with a `router` (an APIRouter) in router.py and its tables in models.py.
"""

from importlib import import_module
{%- if cookiecutter.api_auth == "jwt" %}
from types import ModuleType
{%- endif %}

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
{%- if cookiecutter.api_auth == "jwt" %}
        module_access(name)
{%- endif %}
        router: APIRouter = import_module(f"app.module.{name}.router").router
        routers.append(router)
    return routers


def import_models() -> None:
    """Import every listed module's models, so Base.metadata holds all tables (Alembic autogenerate and check)."""
    for name in MODULES:
        import_module(f"app.module.{name}.models")
{%- if cookiecutter.api_auth == "jwt" %}


class ModuleWithoutAccess(Exception):
    """A listed module has no access.py: nothing would check scopes or owners on its routes."""


def module_access(name: str) -> ModuleType:
    """The module's access.py (its scopes and owner rule). Modules made before the API was closed have none; their
    routes would serve any signed-in caller every row, so the app refuses to start instead."""
    try:
        return import_module(f"app.module.{name}.access")
    except ModuleNotFoundError as error:
        if error.name != f"app.module.{name}.access":
            raise
    # Imported here, not at the top: a first-party import there sits next to MODULES, which every team edits, and
    # would make the update that brings it stop on a conflict.
    from app.common import messages

    raise ModuleWithoutAccess(messages.MODULE_WITHOUT_ACCESS.format(name=name))


def every_module_scope() -> list[str]:
    """Every scope the listed modules define (each one's access.SCOPES): what a local token grants by default."""
    return [scope for name in MODULES for scope in module_access(name).SCOPES]
{%- endif %}
