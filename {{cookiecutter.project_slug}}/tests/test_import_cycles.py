"""No import circle among the API function's modules (app/ and main.py).

A circle makes what a module holds depend on which module of the circle happened to be imported first (a name can be
missing from a module still being run), and it hides which part of the app depends on which. Imports inside functions
count: they run later, but the modules still depend on each other. Imports in `if TYPE_CHECKING:` blocks never run
and do not count.
"""

from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.imports import PROJECT_ROOT, api_sources, imported_modules, module_name


def own_module(name: str, modules: Mapping[str, Path]) -> str | None:
    """The app module an imported name refers to ("app.database.config.get_engine": app.database.config), or None
    for a name from outside the app."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path = PROJECT_ROOT) -> dict[str, set[str]]:
    """Each module of the app and the other app modules it imports, outside `if TYPE_CHECKING:` blocks."""
    modules = {module_name(path, root): path for path in api_sources(root) if path.exists()}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        imported = {own_module(name, modules) for name in imported_modules(path, module, type_checking=False)}
        graph[module] = {name for name in imported if name is not None and name != module}
    return graph


def import_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The circles a depth-first walk of the graph closes, each as the modules in import order with the first one
    repeated at the end (a -> b -> a); empty when there is none."""
    cycles: list[list[str]] = []
    path: list[str] = []
    finished: set[str] = set()

    def visit(module: str) -> None:
        path.append(module)
        for imported in sorted(graph.get(module, ())):
            if imported in path:
                cycles.append([*path[path.index(imported) :], imported])
            elif imported not in finished:
                visit(imported)
        path.pop()
        finished.add(module)

    for module in sorted(graph):
        if module not in finished:
            visit(module)
    return cycles


def test_no_module_of_the_app_imports_itself_through_others() -> None:
    cycles = import_cycles(import_graph())
    assert [" -> ".join(cycle) for cycle in cycles] == []


def write_modules(root: Path, sources: Mapping[str, str]) -> None:
    """A project below root: an empty main.py, app/ as a package, and each given file (relative path: source)."""
    (root / "main.py").write_text("")
    for relative, source in {"app/__init__.py": "", **sources}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("app/first.py", "import app.second\n"),
        ("app/first.py", "from app.second import thing\n"),
        ("app/first.py", "from app import second\n"),
        ("app/first.py", "from . import second\n"),
        ("app/first.py", "from .second import thing\n"),
        ("app/first.py", "def load() -> None:\n    from app.second import thing\n"),
        ("app/inner/first.py", "from .. import second\n"),
        ("app/inner/first.py", "from ..second import thing\n"),
    ],
    ids=[
        "import",
        "from-module",
        "from-package",
        "relative-package",
        "relative-module",
        "in-function",
        "parent",
        "parent-module",
    ],
)
def test_the_check_finds_a_circle_however_its_imports_are_written(tmp_path: Path, path: str, source: str) -> None:
    """Guards the check above: app.second imports the first module back, which imports app.second as written."""
    first = module_name(tmp_path / path, tmp_path)
    write_modules(tmp_path, {path: source, "app/second.py": f"from {first} import something\n"})
    assert import_cycles(import_graph(tmp_path)) == [[first, "app.second", first]]


@pytest.mark.parametrize("condition", ["TYPE_CHECKING", "typing.TYPE_CHECKING"])
def test_the_check_ignores_imports_only_type_checkers_run(tmp_path: Path, condition: str) -> None:
    type_only = (
        f"import typing\nfrom typing import TYPE_CHECKING\n\nif {condition}:\n    from app.second import Thing\n"
    )
    write_modules(tmp_path, {"app/first.py": type_only, "app/second.py": "from app.first import something\n"})
    assert import_cycles(import_graph(tmp_path)) == []


def test_the_check_names_every_module_of_a_longer_circle(tmp_path: Path) -> None:
    write_modules(
        tmp_path,
        {
            "app/one.py": "from app import two\n",
            "app/two.py": "from app.three import thing\n",
            "app/three.py": "def later() -> None:\n    import app.one\n",
            "main.py": "from app import one\n",
        },
    )
    assert import_cycles(import_graph(tmp_path)) == [["app.one", "app.two", "app.three", "app.one"]]
