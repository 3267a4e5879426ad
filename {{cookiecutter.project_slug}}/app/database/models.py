"""Every model module, imported so Base.metadata is complete (Alembic autogenerate and `alembic check`)."""

from app.database.base import Base
{%- if cookiecutter.include_example_module == "yes" %}
from app.module.challenge.models import Challenge

__all__ = ["Base", "Challenge"]
{%- else %}

# Import each new model module here, e.g. `from app.module.<domain>.models import <Model>`.
__all__ = ["Base"]
{%- endif %}
