"""app/registry.py: a listed module without an access.py stops the app with what to do, never serves its routes
unguarded."""

import sys
from types import ModuleType

import pytest

from app import registry


def test_a_module_without_access_stops_the_app_and_points_to_the_upgrade_note(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a module made by `make module` before the API was closed looks like after `cruft update`."""
    legacy = ModuleType("app.module.legacy")
    legacy.__path__ = []
    monkeypatch.setitem(sys.modules, "app.module.legacy", legacy)
    monkeypatch.setattr(registry, "MODULES", [*registry.MODULES, "legacy"])
    for call in (registry.module_routers, registry.every_module_scope):
        with pytest.raises(registry.ModuleWithoutAccess, match=r"app/module/legacy .*access\.py") as stopped:
            call()
        assert "CHANGELOG.md, Upgrading" in str(stopped.value)


def test_a_module_whose_access_fails_to_import_shows_that_error() -> None:
    """Only a missing access.py is reported as an old module; another missing import is the real error."""
    with pytest.raises(ModuleNotFoundError, match="app.module.nowhere"):
        registry.module_access("nowhere")
