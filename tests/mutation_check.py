"""Deliberate faults in a default bake that its own test suite must catch: `uv run python tests/mutation_check.py`.

Each fault removes one protection the generated project promises (local tokens refused on a deployed stage, rows
kept to their owner, TLS before the password, the request id on log lines, a route's scopes), and the generated suite
runs against it; a suite that still passes does not guard what its tests claim. A fault's site is found by what the
code does (Python's ast), not by line numbers or exact text, and a site found fewer or more times than expected fails
the check: a refactoring must never turn a fault silently into no change at all.

Exit status 0 when the unmutated suite passes and every fault is caught, 1 otherwise.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts tests/ on sys.path but not the repository root, which the harness is imported from.
if str(TEMPLATE_ROOT) not in sys.path:
    sys.path.insert(0, str(TEMPLATE_ROOT))

from tests.packaging_tools import HarnessError, project_env, run_command  # noqa: E402

# The generated suite on SQLite (its MySQL-only tests skip), stopping at the first failure. The scaffold test is left
# out: it lints a copy of the project, whose linters would flag a fault's leftovers (an import no longer used) and so
# "catch" it without any test of the behaviour; it also takes longer than the rest of the suite together.
GENERATED_SUITE = ["uv", "run", "--frozen", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--no-header"]
WITHOUT_SCAFFOLD = ["-m", "not scaffold"]
SUITE_TIMEOUT = 900
# pytest's exit status when tests ran and some failed (2 and up: interrupted, e.g. a module that no longer imports).
TESTS_FAILED = 1
APP_SOURCES = ("app/**/*.py",)
ASSEMBLY = ("main.py",)


class SiteError(Exception):
    """A fault's site was not found exactly as often as expected, or its mutant would not parse."""


@dataclass(frozen=True)
class Site:
    """A node of a module's syntax tree and the source text that replaces it."""

    node: ast.expr | ast.stmt
    replacement: str


Finder = Callable[[ast.Module], list[Site]]


@dataclass(frozen=True)
class Fault:
    """A protection removed: where to look, what to look for, and how many sites the default bake has."""

    name: str
    searched_for: str
    files: tuple[str, ...]
    find: Finder
    sites: int = 1


def dotted_name(node: ast.expr) -> str:
    """`a.b.c` for a name or a chain of attributes, empty for any other expression."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted_name(node.value)
        return f"{base}.{node.attr}" if base else node.attr
    return ""


def last_name(node: ast.expr) -> str:
    """The last part of a dotted name (a callee's own name), empty for any other expression."""
    return dotted_name(node).rpartition(".")[2]


def squashed(name: str) -> str:
    """A name in lower case without underscores, so RequestId and request_id compare equal."""
    return name.lower().replace("_", "")


def reads(node: ast.AST, name: str) -> bool:
    """Whether the expression reads a variable or an attribute of this name."""
    return any(
        (isinstance(child, ast.Name) and child.id == name) or (isinstance(child, ast.Attribute) and child.attr == name)
        for child in ast.walk(node)
    )


def raises(statements: list[ast.stmt]) -> bool:
    """Whether a block raises an exception somewhere in it."""
    return any(isinstance(child, ast.Raise) for statement in statements for child in ast.walk(statement))


def calls(tree: ast.AST) -> Iterator[ast.Call]:
    return (node for node in ast.walk(tree) if isinstance(node, ast.Call))


def unique(sites: list[Site]) -> list[Site]:
    """Sites with each node once (a node inside two matching functions is found twice)."""
    return list({id(site.node): site for site in sites}.values())


def deployed_stage_reads_where_local_tokens_are_verified(tree: ast.Module) -> list[Site]:
    """`…is_deployed` read in a function that calls the local-token verifier: reading False there accepts local
    tokens on a deployed stage. (Settings validators that only read the key are not that function.)"""
    sites = []
    for function in ast.walk(tree):
        if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if not any("local_token" in last_name(call.func) for call in calls(function)):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Attribute) and node.attr == "is_deployed" and isinstance(node.ctx, ast.Load):
                sites.append(Site(node, "False"))
    return unique(sites)


OWNER_COLUMN = "owner_subject"
QUERY_FILTERS = {"where", "filter"}


def owner_comparisons(tree: ast.AST) -> Iterator[ast.Compare]:
    """`x.owner_subject == y` or `!=`, either way round."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Eq, ast.NotEq)):
            if any(
                isinstance(side, ast.Attribute) and side.attr == OWNER_COLUMN for side in (node.left, *node.comparators)
            ):
                yield node


def owner_conditions_of_queries(tree: ast.Module) -> list[Site]:
    """An owner comparison in a query's .where(…)/.filter(…): True in its place lets every row through."""
    return [
        Site(comparison, "True")
        for call in calls(tree)
        if last_name(call.func) in QUERY_FILTERS
        for argument in call.args
        for comparison in owner_comparisons(argument)
    ]


def owner_checks_of_loaded_rows(tree: ast.Module) -> list[Site]:
    """An owner comparison outside queries (a row loaded by id, then checked): it then always says "the owner"."""
    in_queries = {id(site.node) for site in owner_conditions_of_queries(tree)}
    return [
        Site(comparison, "False" if isinstance(comparison.ops[0], ast.NotEq) else "True")
        for comparison in owner_comparisons(tree)
        if id(comparison) not in in_queries
    ]


def tls_required_refusals(tree: ast.Module) -> list[Site]:
    """The test of an `if` that reads `require_tls` and raises: False there lets a connection that requires TLS go on
    with a server that offers none."""
    return [
        Site(node.test, "False")
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and reads(node.test, "require_tls") and raises(node.body)
    ]


CLEAR_TEXT_METHOD = "mysql_clear_password"


def clear_text_refusals(tree: ast.Module) -> list[Site]:
    """The test of an `if` that compares with MySQL's clear-text password method (its name, or a module constant
    holding it) and raises: False there answers the method over a connection without TLS."""
    constants = {
        target.id
        for statement in tree.body
        if isinstance(statement, (ast.Assign, ast.AnnAssign))
        and isinstance(statement.value, ast.Constant)
        and statement.value.value == CLEAR_TEXT_METHOD
        for target in (statement.targets if isinstance(statement, ast.Assign) else [statement.target])
        if isinstance(target, ast.Name)
    }

    def names_the_method(test: ast.expr) -> bool:
        return any(
            (isinstance(node, ast.Constant) and node.value in (CLEAR_TEXT_METHOD, CLEAR_TEXT_METHOD.encode()))
            or (isinstance(node, ast.Name) and node.id in constants)
            for node in ast.walk(test)
        )

    return [
        Site(node.test, "False")
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and names_the_method(node.test) and raises(node.body)
    ]


def call_statements(tree: ast.Module) -> Iterator[tuple[ast.Expr, ast.Call]]:
    """Statements that are a call alone, with the call."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            yield node, node.value


def request_id_log_wiring(tree: ast.Module) -> list[Site]:
    """A statement calling a function whose name says request id (the log-record wiring), replaced by `pass`."""
    return [
        Site(statement, "pass")
        for statement, call in call_statements(tree)
        if "requestid" in squashed(last_name(call.func))
    ]


def request_id_middleware(tree: ast.Module) -> list[Site]:
    """`….add_middleware(<something named request id>)`, replaced by `pass`."""
    return [
        Site(statement, "pass")
        for statement, call in call_statements(tree)
        if last_name(call.func) == "add_middleware"
        and any("requestid" in squashed(dotted_name(argument)) for argument in call.args)
    ]


def granted_scopes(node: ast.expr) -> bool:
    """Whether the expression is a set of granted scopes: a name or attribute called …scopes."""
    return last_name(node).endswith("scopes")


def scope_comparisons(tree: ast.Module) -> list[Site]:
    """The comparison of required scopes with granted ones, made to find nothing missing: `s not in user.scopes`
    becomes False, `s in user.scopes` and `required.issubset(user.scopes)` True, `required - user.scopes` empty."""
    sites = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and granted_scopes(node.comparators[0]):
            if isinstance(node.ops[0], (ast.In, ast.NotIn)):
                sites.append(Site(node, "False" if isinstance(node.ops[0], ast.NotIn) else "True"))
        elif isinstance(node, ast.Call) and last_name(node.func) == "issubset" and any(map(granted_scopes, node.args)):
            sites.append(Site(node, "True"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and granted_scopes(node.right):
            sites.append(Site(node, "set()"))
    return sites


FAULTS = (
    Fault(
        "local tokens accepted on a deployed stage",
        "an `.is_deployed` read in the function that calls the local-token verifier",
        APP_SOURCES,
        deployed_stage_reads_where_local_tokens_are_verified,
    ),
    Fault(
        "listing without the owner filter",
        f"a `.{OWNER_COLUMN} ==/!=` comparison inside .where()/.filter()",
        APP_SOURCES,
        owner_conditions_of_queries,
    ),
    Fault(
        "a row loaded by id without the owner check",
        f"a `.{OWNER_COLUMN} ==/!=` comparison outside queries",
        APP_SOURCES,
        owner_checks_of_loaded_rows,
    ),
    Fault(
        "no refusal of a server without TLS where TLS is required",
        "an `if` reading `require_tls` whose block raises",
        APP_SOURCES,
        tls_required_refusals,
    ),
    Fault(
        "the password in clear text without TLS",
        f"an `if` comparing with {CLEAR_TEXT_METHOD!r} whose block raises (greeting and auth switch)",
        APP_SOURCES,
        clear_text_refusals,
        sites=2,
    ),
    Fault(
        "log lines without the request id",
        "a statement in main.py calling a function named …request_id…",
        ASSEMBLY,
        request_id_log_wiring,
    ),
    Fault(
        "answers without the request id",
        "a statement in main.py adding a middleware named …RequestId…",
        ASSEMBLY,
        request_id_middleware,
    ),
    Fault(
        "routes without their scopes",
        "a comparison of scopes with a granted `…scopes` set (in/not in, issubset, difference)",
        APP_SOURCES,
        scope_comparisons,
    ),
)


def splice(source: str, sites: list[Site]) -> str:
    """The source with each site's node replaced by its text; the result must parse (a mutant that fails to import
    would be "caught" by every test, proving nothing)."""
    data = source.encode()
    # ast's columns count UTF-8 bytes (the Korean bake's comments and strings are not ASCII).
    line_starts = [0]
    for line in data.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))
    spans = []
    for site in sites:
        node = site.node
        assert node.end_lineno is not None and node.end_col_offset is not None
        start = line_starts[node.lineno - 1] + node.col_offset
        spans.append((start, line_starts[node.end_lineno - 1] + node.end_col_offset, site.replacement))
    # From the end of the file backwards, so each replacement leaves the offsets of those still to come intact.
    spans.sort(reverse=True)
    for (later_start, _, _), (earlier_start, earlier_end, _) in zip(spans, spans[1:]):
        if earlier_end > later_start:
            raise SiteError(f"overlapping sites at bytes {earlier_start}-{earlier_end} and {later_start}")
    for start, end, replacement in spans:
        data = data[:start] + replacement.encode() + data[end:]
    mutated = data.decode()
    try:
        ast.parse(mutated)
    except SyntaxError as error:
        raise SiteError(f"the mutant does not parse: {error}") from error
    return mutated


def mutants(project: Path, fault: Fault) -> dict[Path, str]:
    """The mutated text of each file the fault changes; SiteError unless exactly fault.sites sites are found."""
    paths = sorted({path for pattern in fault.files for path in project.glob(pattern)})
    changed, found = {}, 0
    for path in paths:
        source = path.read_text(encoding="utf-8")
        sites = fault.find(ast.parse(source, filename=str(path)))
        if sites:
            try:
                changed[path] = splice(source, sites)
            except SiteError as error:
                raise SiteError(f"fault {fault.name}: in {path.relative_to(project)}, {error}") from error
            found += len(sites)
    if found != fault.sites:
        where = ", ".join(str(path.relative_to(project)) for path in changed) or f"{len(paths)} files searched"
        raise SiteError(
            f"fault {fault.name}: site not found: expected {fault.sites} of {fault.searched_for}"
            f" ({' '.join(fault.files)}), found {found} ({where})"
        )
    return changed


def first_failure(output: str) -> str | None:
    """The id of the first test pytest's summary lists as failed or in error."""
    # A parametrized id may hold spaces; the summary line ends in " - <message>" when pytest has one.
    match = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", output, flags=re.MULTILINE)
    return match.group(1) if match else None


@dataclass(frozen=True)
class SuiteRun:
    status: int
    output: str
    seconds: float


def run_generated_suite(project: Path) -> SuiteRun:
    """The generated suite, without bytecode files: a mutant's compiled module must never outlive it."""
    for cache in project.glob("**/__pycache__"):
        if ".venv" not in cache.relative_to(project).parts:
            shutil.rmtree(cache)
    started = time.monotonic()
    result = subprocess.run(
        [*GENERATED_SUITE, *WITHOUT_SCAFFOLD],
        cwd=project,
        env=project_env(PYTHONDONTWRITEBYTECODE="1"),
        capture_output=True,
        text=True,
        timeout=SUITE_TIMEOUT,
        check=False,
    )
    return SuiteRun(result.returncode, result.stdout + result.stderr, time.monotonic() - started)


def check_fault(project: Path, fault: Fault) -> tuple[bool, str]:
    """Apply the fault, run the suite, put the files back; whether it was caught, and the line saying so."""
    try:
        changed = mutants(project, fault)
    except SiteError as error:
        return False, str(error)
    originals = {path: path.read_text(encoding="utf-8") for path in changed}
    try:
        for path, text in changed.items():
            path.write_text(text, encoding="utf-8")
        run = run_generated_suite(project)
    finally:
        for path, text in originals.items():
            path.write_text(text, encoding="utf-8")
    failed = first_failure(run.output)
    if run.status == 0:
        return False, f"fault {fault.name}: NOT caught ({run.seconds:.0f} s)"
    if run.status != TESTS_FAILED or failed is None:
        tail = "\n".join(run.output.splitlines()[-20:])
        return False, f"fault {fault.name}: the suite did not run its tests (exit {run.status}):\n{tail}"
    return True, f"fault {fault.name}: caught by {failed} ({run.seconds:.0f} s)"


def bake(output: Path) -> Path:
    """The default project, as `cookiecutter --no-input` bakes it (its hook locks and syncs), synced once more so that
    a sync the hook could not finish stops here with uv's message. Run as a command, so that the hook's output is
    shown only when the bake fails."""
    run_command([sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(output), str(TEMPLATE_ROOT)], output)
    (project,) = output.iterdir()
    run_command(["uv", "sync", "--frozen", "-q"], project, project_env())
    return project


def check(project: Path) -> bool:
    """Print the unmutated run's result, then one line per fault; whether all is well."""
    clean = run_generated_suite(project)
    if clean.status != 0:
        print(clean.output)
        print(f"the unmutated suite failed (exit {clean.status}): no fault can be judged")
        return False
    print(f"unmutated suite: passed ({clean.seconds:.0f} s)", flush=True)
    results = []
    for fault in FAULTS:
        caught, line = check_fault(project, fault)
        print(line, flush=True)
        results.append(caught)
    return all(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--project", type=Path, help="a baked project to check instead of a fresh default bake (restored afterwards)"
    )
    arguments = parser.parse_args(argv)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutation-check-") as directory:
        if arguments.project:
            project = arguments.project.resolve()
        else:
            try:
                project = bake(Path(directory))
            except HarnessError as error:
                print(f"the bake failed: {error}")
                return 1
            print(f"baked {project.name} ({time.monotonic() - started:.0f} s)", flush=True)
        passed = check(project)
    print(f"mutation check {'passed' if passed else 'FAILED'} in {time.monotonic() - started:.0f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
