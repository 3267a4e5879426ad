{% if cookiecutter.background_jobs == "yes" -%}
"""Every business module the app serves, listed once: main.py includes their routers, Alembic reads their models, the
worker (worker.py) runs their jobs.
{%- else -%}
"""Every business module the app serves, listed once: main.py includes their routers, Alembic reads their models.
{%- endif %}

`make module name=<name>` creates app/module/<name>/ and appends the name here; to retire a module, remove its name.
Each module is a package app/module/<name>/ with a `router` (an APIRouter) in router.py and its tables in models.py.
{%- if cookiecutter.background_jobs == "yes" %}
Its jobs, if it has any, are the Job subclasses defined in jobs.py.
{%- endif %}
"""

from importlib import import_module
{%- if cookiecutter.api_auth == "jwt" or cookiecutter.background_jobs == "yes" %}
from types import ModuleType
{%- endif %}
{%- if cookiecutter.background_jobs == "yes" %}
from typing import TYPE_CHECKING
{%- endif %}

from fastapi import APIRouter
{%- if cookiecutter.background_jobs == "yes" %}

if TYPE_CHECKING:
    from app.jobs import Job
{%- endif %}
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
{%- if cookiecutter.background_jobs == "yes" %}
    # The record of completed jobs (job_run) belongs to no module.
    import_module("app.jobs.models")


def optional_module(name: str) -> ModuleType | None:
    """The module of that dotted name, or None when it does not exist (an import error inside it is raised)."""
    try:
        return import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise
    return None


def module_jobs() -> "dict[str, type[Job]]":
    """Every job the listed modules define in their jobs.py (a module may have none), by name. Two jobs with one
    name stop the worker and `make jobs` with both named: the worker could not tell which one a message means."""
    # Imported here: the API's cold start does not load the job runtime, and a first-party import next to MODULES,
    # which every team edits, would make the update that brings it stop on a conflict.
    from app.common import messages
    from app.jobs import Job, JobDefinitionError

    jobs: dict[str, type[Job]] = {}
    for name in MODULES:
        module = optional_module(f"app.module.{name}.jobs")
        if module is None:
            continue
        for value in vars(module).values():
            if not (isinstance(value, type) and issubclass(value, Job) and value.__module__ == module.__name__):
                continue
            known = jobs.setdefault(value.name, value)
            if known is not value:
                first, second = (f"{job.__module__}.{job.__qualname__}" for job in (known, value))
                message = messages.DUPLICATE_JOB_NAME.format(name=value.name, first=first, second=second)
                raise JobDefinitionError(message)
    return jobs
{%- endif %}
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
