"""What the app's source files import, read from their syntax tree (nothing is imported): shared by the layer test
(tests/test_layers.py) and the import circle test (tests/test_import_cycles.py)."""

import ast
from collections.abc import Iterator
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path, root: Path = PROJECT_ROOT) -> str:
    """The dotted name a source file is imported as (a package's __init__ as the package)."""
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def api_sources(root: Path = PROJECT_ROOT) -> list[Path]:
    """The API function's own code."""
    return [*sorted((root / "app").rglob("*.py")), root / "main.py"]


def is_type_checking(test: ast.expr) -> bool:
    """True for the condition of an `if TYPE_CHECKING:` (or `if typing.TYPE_CHECKING:`) block."""
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_statements(tree: ast.AST, type_checking: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement in the tree, those inside functions too; with type_checking=False, not those in an
    `if TYPE_CHECKING:` block, which never run."""
    pending = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        if not type_checking and isinstance(node, ast.If) and is_type_checking(node.test):
            pending.extend(node.orelse)
        else:
            pending.extend(ast.iter_child_nodes(node))


def imported_modules(path: Path, module: str, type_checking: bool = True) -> set[str]:
    """Every name the file imports, as "<module>" or "<module>.<name>" for `from <module> import <name>` (the name may
    be a module or an attribute); relative imports are resolved from module, the file's own dotted name. Imports
    inside functions count; those in `if TYPE_CHECKING:` blocks only with type_checking."""
    package = (module if path.name == "__init__.py" else module.rpartition(".")[0]).split(".")
    modules: set[str] = set()
    for node in import_statements(ast.parse(path.read_text(encoding="utf-8")), type_checking):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        else:
            # Level 1 is the file's own package, each further level one package up.
            base = package[: len(package) - node.level + 1] if node.level else []
            prefix = ".".join([*base, *([node.module] if node.module else [])])
            modules.update(f"{prefix}.{alias.name}" for alias in node.names)
    return modules
