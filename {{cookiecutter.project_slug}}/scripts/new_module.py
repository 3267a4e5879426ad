"""Create a business module: `make module name=orders` (or `python scripts/new_module.py orders [--dry-run]`).

Writes app/module/<name>/ and tests/test_<name>.py from the skeleton in scaffold/, adds the name to MODULES in
app/registry.py (the one place the app and Alembic read), and prints the migration command to run next. The table and
the route keep the name (`orders`, `/orders`); the model is named in the singular (`Order`), which
`class_name=Person` (`--class-name`) sets where English spelling rules guess wrong. A bad or taken name writes nothing.
Standard library only, so it runs before `uv sync` too.
"""

from __future__ import annotations

import argparse
import ast
import keyword
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from string import Template

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A Python package name that also reads well as a table name and a URL path; short enough that every line of the
# skeleton stays within the formatters' 120 characters.
NAME_PATTERN = re.compile(r"[a-z](?:[a-z0-9]|_(?!_))*[a-z0-9]")
MAX_NAME_LENGTH = 20
ALLOWED = f"2-{MAX_NAME_LENGTH} lowercase letters, digits and single underscores, starting with a letter"
CLASS_NAME_PATTERN = re.compile(r"[A-Z][A-Za-z0-9]*")
CLASS_ALLOWED = f"1-{MAX_NAME_LENGTH} letters and digits, starting with a capital letter (e.g. class_name=Person)"
# Plurals that the rules in singular() would get wrong and that a team is likely to name a table after; anything else
# irregular takes class_name=.
SAME_IN_BOTH = {"data", "equipment", "feedback", "info", "media", "metadata", "news", "series", "species", "status"}
# Endings whose plural adds "es" (boxes, batches, wishes, addresses, quizzes).
ES_ENDINGS = ("xes", "ches", "shes", "sses", "zzes")
# Singular words that end in "s" and stay as they are (status, analysis, address).
SINGULAR_S_ENDINGS = ("ss", "us", "is")
# Paths the app already serves outside any module.
TAKEN_ROUTES = {"health": "GET /health", "docs": "GET /docs", "redoc": "GET /redoc", "openapi": "GET /openapi.json"}
REGISTRY = Path("app/registry.py")


class ModuleError(Exception):
    """The module cannot be created; the message says why and what is allowed."""


@dataclass(frozen=True)
class PlannedFile:
    """A file the command will write: where, relative to the project root, and its text."""

    path: Path
    text: str


def check_name(name: str, root: Path, class_name: str | None = None) -> None:
    """Raise ModuleError unless name (and its class name) is valid and nothing in the project uses it yet."""
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ModuleError(f"name: invalid value {name!r}; allowed: {ALLOWED} (e.g. make module name=orders)")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise ModuleError(f"name: invalid value {name!r}; it is a Python keyword, choose another name")
    if name in TAKEN_ROUTES:
        raise ModuleError(f"name: invalid value {name!r}; /{name} is taken by {TAKEN_ROUTES[name]}")
    for taken in (Path("app/module") / name, Path("tests") / f"test_{name}.py"):
        if (root / taken).exists():
            raise ModuleError(f"name: {name!r} is taken: {taken} exists")
    if name in registered_modules((root / REGISTRY).read_text(encoding="utf-8")):
        raise ModuleError(f"name: {name!r} is taken: it is listed in {REGISTRY}")
    chosen = class_name or model_class(name)
    if class_name is not None and (not CLASS_NAME_PATTERN.fullmatch(class_name) or len(class_name) > MAX_NAME_LENGTH):
        raise ModuleError(f"class_name: invalid value {class_name!r}; allowed: {CLASS_ALLOWED}")
    # Two models of one name would share the OpenAPI schema names and Alembic's autogenerate lookups.
    for models in sorted((root / "app/module").glob("*/models.py")):
        if re.search(rf"^class {chosen}\b", models.read_text(encoding="utf-8"), flags=re.MULTILINE):
            where = models.relative_to(root).as_posix()
            raise ModuleError(f"class_name: {chosen!r} is taken: {where} defines it; choose another with class_name=")


def modules_assignment(source: str) -> tuple[ast.List, list[str]]:
    """The MODULES list node of app/registry.py and the names in it."""
    for statement in ast.parse(source).body:
        if isinstance(statement, ast.AnnAssign):
            targets: list[ast.expr] = [statement.target]
        elif isinstance(statement, ast.Assign):
            targets = statement.targets
        else:
            continue
        value = statement.value
        if [getattr(target, "id", None) for target in targets] == ["MODULES"] and isinstance(value, ast.List):
            names = [
                item.value for item in value.elts if isinstance(item, ast.Constant) and isinstance(item.value, str)
            ]
            if len(names) == len(value.elts):
                return value, names
    raise ModuleError(f"{REGISTRY}: MODULES must stay a list of module names, one string per line")


def registered_modules(source: str) -> list[str]:
    """The module names listed in app/registry.py."""
    return modules_assignment(source)[1]


def registry_with(source: str, name: str) -> str:
    """app/registry.py with name appended to MODULES, one name per line (comments in the list are kept)."""
    node, names = modules_assignment(source)
    lines = source.splitlines(keepends=True)
    start, end = node.lineno - 1, (node.end_lineno or node.lineno) - 1
    if start != end and lines[end].strip() == "]":
        return "".join(lines[:end] + [f'    "{name}",\n'] + lines[end:])
    # A list on one line, such as `[]`: write it out again, one name per line with a trailing comma (which keeps the
    # formatters from joining the lines again).
    head, tail = lines[start][: node.col_offset], lines[end][node.end_col_offset or 0 :]
    body = "".join(f'    "{entry}",\n' for entry in [*names, name])
    return "".join(lines[:start] + [f"{head}[\n{body}]{tail}"] + lines[end + 1 :])


def singular(word: str) -> str:
    """The singular of an English plural by the common spelling rules (categories -> category, boxes -> box, orders
    -> order); a word already singular stays as it is."""
    if word in SAME_IN_BOTH or word.endswith(SINGULAR_S_ENDINGS) or not word.endswith("s"):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(ES_ENDINGS):
        return word[:-2]
    return word[:-1]


def model_class(name: str) -> str:
    """The model's class name: the last word in the singular, every word capitalised (order_items -> OrderItem)."""
    *first, last = name.split("_")
    return "".join(part.capitalize() for part in [*first, singular(last)])


def snake_case(class_name: str) -> str:
    """OrderItem -> order_item."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", class_name).lower()


def plan_files(name: str, root: Path, class_name: str | None = None) -> list[PlannedFile]:
    """The module's files and its tests, rendered from scaffold/."""
    model = class_name or model_class(name)
    values = {
        "module": name,
        "Module": model,
        "singular": snake_case(model),
        "item": snake_case(model).replace("_", " "),
        "route": name.replace("_", "-"),
    }
    scaffold = root / "scaffold"
    destinations = [
        (source, Path("app/module") / name / source.name.removesuffix(".tmpl"))
        for source in sorted((scaffold / "module").glob("*.py.tmpl"))
    ]
    destinations.append((scaffold / "tests" / "test_module.py.tmpl", Path("tests") / f"test_{name}.py"))
    return [
        PlannedFile(destination, Template(source.read_text(encoding="utf-8")).substitute(values))
        for source, destination in destinations
    ]


def create_module(name: str, root: Path, dry_run: bool, class_name: str | None = None) -> list[Path]:
    """Write the module and register it; with dry_run, write nothing. Returns the paths written (or to write)."""
    check_name(name, root, class_name)
    registry = registry_with((root / REGISTRY).read_text(encoding="utf-8"), name)
    planned = plan_files(name, root, class_name)
    paths = [file.path for file in planned] + [REGISTRY]
    if dry_run:
        return paths
    try:
        for file in planned:
            (root / file.path).parent.mkdir(parents=True, exist_ok=True)
            (root / file.path).write_text(file.text, encoding="utf-8")
        (root / REGISTRY).write_text(registry, encoding="utf-8")
    except OSError as error:
        # All or nothing: check_name made sure none of these existed, and a half-made module would break start-up.
        shutil.rmtree(root / "app/module" / name, ignore_errors=True)
        (root / "tests" / f"test_{name}.py").unlink(missing_ok=True)
        raise ModuleError(f"could not write the module: {error}") from error
    return paths


def main(argv: list[str] | None = None, root: Path = PROJECT_ROOT) -> int:
    """Create the module named on the command line; print the files and the next step, or the problem."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help=ALLOWED)
    parser.add_argument("--class-name", help=f"the model's class name where the singular is irregular: {CLASS_ALLOWED}")
    parser.add_argument("--dry-run", action="store_true", help="list the files without writing them")
    arguments = parser.parse_args(argv)
    try:
        paths = create_module(arguments.name, root, arguments.dry_run, arguments.class_name or None)
    except ModuleError as error:
        print(f"Cannot create the module: {error}", file=sys.stderr)
        return 1
    verb = "Would write" if arguments.dry_run else "Wrote"
    model = arguments.class_name or model_class(arguments.name)
    print(f"Model {model}, table {arguments.name}, routes /{arguments.name.replace('_', '-')}")
    print("\n".join(f"{verb} {path}" for path in paths))
    if not arguments.dry_run:
        print(
            "\nNext: create its table with a migration, then run the tests:\n"
            f'    uv run alembic revision --autogenerate -m "create {arguments.name}"\n'
            "    uv run alembic upgrade heads\n"
            "    make test"
        )
{%- if cookiecutter.api_auth == "jwt" %}
        # The gateway only passes tokens its issuer signed, and the issuer only grants scopes it knows.
        print(
            f"\nThen give the token issuer a resource server {arguments.name} with the scopes {arguments.name}/read "
            f"and {arguments.name}/write\n(infra/cognito.yml has one to copy), so that tokens can carry them; "
            f"app/module/{arguments.name}/access.py names them."
        )
{%- endif %}
    return 0


if __name__ == "__main__":
    sys.exit(main())
