"""Run every benchmark and print one table: `uv run python benchmarks/run.py` (add --quick for a smoke run).

Each comparison is measured in the same run on the same machine; ratios are what to read, absolute figures are
context. Nothing here asserts a time: the numbers are for people. The database benchmarks start a throwaway MariaDB
server from the installed binaries (apt: mariadb-server).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
# Run as a script, Python puts benchmarks/ on sys.path but not the repository root, whose tests/packaging_tools.py
# packages a bake the way the template's tests do.
sys.path.insert(0, str(TEMPLATE_ROOT))

import background_jobs  # noqa: E402
import cold_start  # noqa: E402
import database_modes  # noqa: E402
import throughput  # noqa: E402
import variants  # noqa: E402
from cold_start import HEALTH_EVENT  # noqa: E402
from throughput import READ_EVENT  # noqa: E402

from tests.lambda_events import LAMBDA_ENV  # noqa: E402
from tests.local_services import (  # noqa: E402
    MOTO_AWS_ENV,
    MariaDB,
    create_database,
    moto_secrets_server,
    secrets_client,
    throwaway_mariadb,
)
from tests.packaging_tools import (  # noqa: E402
    ELF_MACHINES,
    HarnessError,
    find_python,
    host_architecture,
    sizes,
    unpacked_read_only,
)

# Cold-start ratio limits from the performance issue; the one against the bare floor is a stretch goal.
TARGETS = {
    "floor": (1.5, "stretch target"),
    "floor_db": (1.1, "target"),
    "plugin_default": (0.4, "target"),
    # What identity and scopes (api_auth=jwt) add to a cold start: at most 2% (issue #19).
    "open": (1.02, "target"),
}
LABELS = {
    "ours": "ours (default bake, make package)",
    "floor": "(a) floor: FastAPI + Mangum, one route",
    "floor_db": "(b) floor + SQLAlchemy async, aiomysql, pydantic-settings",
    "plugin_default": "(c) default bake, plugin's default packaging",
    "open": "(e) the same bake with api_auth=none: no identity, scopes or owner filter",
}
# The apps of the database benchmarks: ours, and (d), which reads the same row with plain SQLAlchemy and needs the
# database settings to start (so it is not in the GET /health cold starts).
READERS = {"ours": "ours", "floor_read": "(d) floor + DB read: (b)'s packages, plain SQLAlchemy"}
# The database and user the database benchmarks create on their throwaway MariaDB server.
DATABASE = {"DB_NAME": "bench", "DB_USER": "bench", "DB_PASSWORD": "bench-password"}  # nosec B105
# Milliseconds to load the app's Secrets Manager client and fetch the database secret once, in a process that has
# imported the app (the part of a first database request that the Secrets Manager mode adds).
SECRET_FETCH_PROBE = """
import time
import main
started = time.perf_counter()
from app.database.secret_login import fetch_login
fetch_login({arn!r}, 5)
print((time.perf_counter() - started) * 1000)
"""
# Milliseconds to load the app's IAM login and make one token, in a process that has imported the app (the part of a
# first database request that the IAM mode adds, against SECRET_FETCH_PROBE).
IAM_TOKEN_PROBE = """
import time
import main
started = time.perf_counter()
from app.database.iam_login import IamLogin
IamLogin().token("127.0.0.1", 3306, {user!r})
print((time.perf_counter() - started) * 1000)
"""
# Requests/s, p50 ms and p99 ms of one uvicorn load round.
UvicornRound = tuple[float, float, float]
# Rate (per second), p50 and p99 (ms) of warm invocations, per request name.
WarmRound = dict[str, dict[str, float]]


@dataclass(frozen=True)
class Plan:
    """How much to measure: a full run, or a quick one that only proves the benchmarks run."""

    quick: bool
    processes: int
    bake_runs: int
    warm_rounds: int
    concurrency: list[int]

    @classmethod
    def of(cls, quick: bool, processes: int | None) -> Plan:
        """The plan for the command-line options."""
        return cls(
            quick=quick,
            processes=processes or (3 if quick else 15),
            bake_runs=1 if quick else 3,
            warm_rounds=1 if quick else 5,
            concurrency=[1, 8] if quick else [1, 8, 64],
        )


@dataclass(frozen=True)
class Results:
    """Every figure of one run, each round kept: the report derives medians and per-round ratios from them."""

    plan: Plan
    day: str
    machine: str
    cores: int | None
    runtime: str
    architecture: str
    cold_starts: dict[str, list[float]]
    sizes: dict[str, tuple[float, float]]
    other_architecture: str
    other_size: tuple[float, float]
    warm: dict[str, list[WarmRound]]
    cold_reads: dict[str, list[float]]
    warm_reads: dict[str, list[WarmRound]]
    uvicorn: dict[str, dict[int, list[UvicornRound]]]
    # Cold milliseconds per request ("health", "read") and compared bake (database_modes.COMPARED_ANSWERS), and of
    # the IAM token alone ("token").
    database_modes: dict[str, dict[str, list[float]]]
    # Cold milliseconds of GET /health per compared bake (background_jobs.COMPARED_ANSWERS, "no_again" the no bake
    # measured twice), and the modules each has loaded once it answered.
    background_jobs: dict[str, list[float]]
    background_job_modules: dict[str, set[str]]
    render_times: list[float]
    uv_times: list[float]


def bake(output: Path, skip_uv: bool, *answers: str) -> tuple[Path, float]:
    """Bake the default project, or with other answers (`api_auth=none`); returns its folder and the wall time in
    seconds."""
    env = {**os.environ, "CHALLENGE_BACKEND_SKIP_UV": "1" if skip_uv else "0"}
    command = [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE_ROOT), "--output-dir", str(output)]
    command += list(answers)
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"bake failed:\n{result.stderr}")
    return output / "challenge-backend", elapsed


def measure_bakes(work: Path, runs: int) -> tuple[Path, list[float], list[float]]:
    """Render-only and full bake times (uv on a warm cache); returns a full bake for the other benchmarks too."""
    render_times = [bake(work / f"render-{n}", skip_uv=True)[1] for n in range(runs)]
    bake(work / "warm-up", skip_uv=False)  # fills uv's cache, as on a developer's machine
    uv_runs = [bake(work / f"uv-{n}", skip_uv=False) for n in range(runs)]
    return uv_runs[0][0], render_times, [elapsed for _, elapsed in uv_runs]


def full_version(python: str) -> str:
    """The interpreter's version with its patch level, e.g. 3.12.1."""
    command = [python, "-c", "import platform; print(platform.python_version())"]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def alternating(names: list[str], rounds: int) -> list[list[str]]:
    """The order of each round, flipped every other round: drift on a shared machine and the position in a round
    affect every app alike."""
    return [names if round_number % 2 == 0 else names[::-1] for round_number in range(rounds)]


def measure_warm(tasks: dict[str, Path], python: str, env: dict[str, str], plan: Plan) -> dict[str, list[WarmRound]]:
    """Warm invocations through main.handler, ours (with the example module's read on SQLite) and the floor, per
    round."""
    warm: dict[str, list[WarmRound]] = {"ours": [], "floor": []}
    for order in alternating(["ours", "floor"], plan.warm_rounds):
        for name in order:
            ours = name == "ours"
            measured = [("health", HEALTH_EVENT)] + ([("read", READ_EVENT)] if ours else [])
            warm[name].append(throughput.warm_invocations(tasks[name], python, env, measured, ours, plan.quick))
    return warm


def secret_in_moto(work: Path, stack: ExitStack) -> dict[str, str]:
    """The benchmark database's login as a secret that moto serves on loopback until the stack closes; returns the
    variables that point an app at it."""
    endpoint = stack.enter_context(moto_secrets_server(work))
    secret = {"username": DATABASE["DB_USER"], "password": DATABASE["DB_PASSWORD"]}
    secret_arn = secrets_client(endpoint).create_secret(Name="bench-db", SecretString=json.dumps(secret))["ARN"]
    return {**MOTO_AWS_ENV, "AWS_ENDPOINT_URL_SECRETS_MANAGER": endpoint, "DB_SECRET_ARN": secret_arn}


def measure_database(
    tasks: dict[str, Path], python: str, server: MariaDB, plan: Plan, secret_env: dict[str, str]
) -> tuple[dict[str, list[float]], dict[str, list[WarmRound]]]:
    """The example module's read on MariaDB over TLS, ours against the floor doing the same read: cold (a new process
    and its first connection, as a new Lambda container serves it; ours also with its credentials in Secrets Manager)
    and warm (through main.handler), per round."""
    create_database(str(server.socket), DATABASE["DB_NAME"], DATABASE["DB_USER"], DATABASE["DB_PASSWORD"])
    function_env = {
        "ENVIRONMENT": "dev",
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(server.port),
        **DATABASE,
        "DB_SSL_CA": str(server.ca),
    }
    env = {"PATH": os.environ.get("PATH", ""), **function_env}
    readers = {name: tasks[name] for name in READERS}
    throughput.prepare_database(tasks["ours"], python, env)
    # The Secrets Manager mode: ours again, with the password in the secret instead of in DB_PASSWORD; the difference
    # is what fetching the secret adds to a container's first database request.
    env_by_name = {"ours_secret": {**secret_env, "DB_PASSWORD": ""}}
    cold = cold_start.measure(
        {**readers, "ours_secret": tasks["ours"]}, python, plan.processes, READ_EVENT, function_env, env_by_name
    )
    # The fetch alone, in fresh processes after the app is imported: loading the client and one GetSecretValue.
    fetch_env = {**env, **secret_env}
    cold["secret_fetch"] = [
        float(
            cold_start.run_in_task(
                python, tasks["ours"], fetch_env, SECRET_FETCH_PROBE.format(arn=secret_env["DB_SECRET_ARN"])
            )
        )
        for _ in range(plan.processes)
    ]
    warm: dict[str, list[WarmRound]] = {name: [] for name in readers}
    for order in alternating(list(readers), plan.warm_rounds):
        for name in order:
            measured = [("read", READ_EVENT)]
            warm[name].append(throughput.warm_invocations(readers[name], python, env, measured, False, plan.quick))
    return cold, warm


def measure_database_modes(
    tasks: dict[str, Path], python: str, server: MariaDB, plan: Plan, secret_env: dict[str, str]
) -> dict[str, dict[str, list[float]]]:
    """The compared bakes cold, in the same rounds: GET /health, then the example module's read with the process's
    first login, each bake reaching MariaDB through its relay (see database_modes)."""
    login = database_modes.Login(DATABASE["DB_USER"], DATABASE["DB_PASSWORD"], DATABASE["DB_NAME"])
    with (
        database_modes.running(database_modes.PassthroughRelay(server)) as passthrough,
        database_modes.running(database_modes.IamLoginRelay(server, login)) as iam_login,
    ):
        shared = {"ENVIRONMENT": "dev", "DB_HOST": "127.0.0.1", "DB_SSL_CA": str(server.ca), **MOTO_AWS_ENV}
        shared |= {"DB_NAME": DATABASE["DB_NAME"], "DB_USER": DATABASE["DB_USER"]}
        env_by_name = {
            "existing": {**secret_env, "DB_PORT": str(passthrough.port)},
            "aurora_iam": {"DB_IAM_AUTH": "true", "DB_PORT": str(iam_login.port)},
        }
        # The existing bake twice in each round, the IAM one between: existing / existing again shows how far the
        # comparison moves by noise alone.
        env_by_name["existing_again"] = env_by_name["existing"]
        in_rounds = {**tasks, "existing_again": tasks["existing"]}
        figures = {
            request: cold_start.measure(in_rounds, python, plan.processes, event, shared, env_by_name)
            for request, event in (("health", HEALTH_EVENT), ("read", READ_EVENT))
        }
    token_env = {"PATH": os.environ.get("PATH", ""), **shared, **env_by_name["aurora_iam"]}
    token_probe = IAM_TOKEN_PROBE.format(user=DATABASE["DB_USER"])
    figures["token"] = {
        "aurora_iam": [
            float(cold_start.run_in_task(python, tasks["aurora_iam"], token_env, token_probe))
            for _ in range(plan.processes)
        ]
    }
    return figures


def default_answers(answers: tuple[str, ...]) -> bool:
    """Whether cookiecutter answers (key=value) are all the template's defaults (the first choice of a list)."""
    defaults = json.loads((TEMPLATE_ROOT / "cookiecutter.json").read_text())
    for answer in answers:
        key, value = answer.split("=", 1)
        default = defaults[key]
        if (default[0] if isinstance(default, list) else default) != value:
            return False
    return True


def build_compared(
    project: Path,
    ours: Path,
    work: Path,
    python: str,
    architecture: str,
    compared: dict[str, tuple[str, ...]],
    inputs: dict[str, dict[str, str]],
) -> dict[str, variants.Package]:
    """The packages of compared bakes (name: cookiecutter answers): ours where the answers are the defaults, else a
    render packaged like ours with its extra inputs to `make package` (`inputs`, by name)."""
    others = {
        name: bake(work / "compared" / name, True, *answers)[0]
        for name, answers in compared.items()
        if not default_answers(answers)
    }
    built = variants.build_like_ours(
        project, others, work / "variants", python, architecture, {name: inputs.get(name, {}) for name in others}
    )
    packages = {package.name: package for package in built}
    return {name: packages.get(name, variants.Package(name, ours)) for name in compared}


def measure_background_jobs(
    tasks: dict[str, Path], python: str, plan: Plan
) -> tuple[dict[str, list[float]], dict[str, set[str]]]:
    """The default bake and the background_jobs=yes one cold in the same rounds, the default twice (see
    background_jobs); then the modules each has loaded once it answered GET /health."""
    env_by_name = {name: background_jobs.FUNCTION_ENV.get(name, {}) for name in background_jobs.COMPARED_ANSWERS}
    env_by_name["no_again"] = env_by_name["no"]
    in_rounds = {"no": tasks["no"], "yes": tasks["yes"], "no_again": tasks["no"]}
    rounds = plan.processes * background_jobs.ROUNDS_FACTOR
    figures = cold_start.measure(in_rounds, python, rounds, HEALTH_EVENT, LAMBDA_ENV, env_by_name)
    probe = background_jobs.MODULES_PROBE.format(event=HEALTH_EVENT)
    base = {"PATH": os.environ.get("PATH", ""), **LAMBDA_ENV}
    modules = {
        name: set(cold_start.run_in_task(python, tasks[name], {**base, **env_by_name[name]}, probe).split())
        for name in background_jobs.COMPARED_ANSWERS
    }
    return figures, modules


def measure_uvicorn(
    project: Path, work: Path, env: dict[str, str], plan: Plan
) -> dict[str, dict[int, list[UvicornRound]]]:
    """uvicorn under load, ours and the floor app both served by the bake's own virtualenv."""
    floor_app = work / "floor-app"
    floor_app.mkdir()
    (floor_app / "main.py").write_text(variants.FLOOR_MAIN)
    venv_python = str(project / ".venv" / "bin" / "python")
    apps = {"ours": project, "floor": floor_app}
    rounds: dict[str, dict[int, list[UvicornRound]]] = throughput.uvicorn_load(
        venv_python, apps, env, plan.concurrency, plan.quick
    )
    return rounds


def measure(work: Path, plan: Plan) -> Results:
    """Bake, package and run every benchmark in the scratch folder `work`; nothing is printed."""
    project, render_times, uv_times = measure_bakes(work, plan.bake_runs)
    python_version = (project / ".python-version").read_text().strip()
    python = find_python(python_version)
    # Packages for this machine's architecture are measured; ours for the other one is built for its size only.
    architecture = host_architecture()
    other_architecture = next(name for name in ELF_MACHINES if name != architecture)
    open_project = bake(work / "open", True, "api_auth=none")[0]
    packages = variants.build_all(project, open_project, work / "variants", python, python_version, architecture)
    ours_zip = next(package.zip_path for package in packages if package.name == "ours")
    mode_packages = build_compared(
        project, ours_zip, work, python, architecture, database_modes.COMPARED_ANSWERS, database_modes.PACKAGE_INPUTS
    )
    # The yes bake's `make package` lists its schedules with the project's interpreter: a render has no uv.lock, and
    # the default bake's virtualenv holds the same dependencies.
    job_inputs = {"yes": {"PYTHON": str(project / ".venv" / "bin" / "python")}}
    job_packages = build_compared(
        project, ours_zip, work, python, architecture, background_jobs.COMPARED_ANSWERS, job_inputs
    )
    other = variants.build_ours_for(project, work / "variants", python, other_architecture)
    database = work / "bench.db"
    local_env = {"PATH": os.environ.get("PATH", ""), "ENVIRONMENT": "local", "SQLITE_PATH": str(database)}
    (work / "mariadb").mkdir()
    with ExitStack() as stack:
        tasks = {
            package.name: stack.enter_context(unpacked_read_only(package.zip_path, work / "task" / package.name))
            for package in packages
        }
        # (e) between ours and ours again (the same package, measured once more in each round): the two differ by a
        # few milliseconds of identity code, and ours / ours again shows how far these ratios move on their own.
        order = ["ours", "open", "ours_again", *(name for name in LABELS if name not in {"ours", "open"})]
        cold_tasks = {**tasks, "ours_again": tasks["ours"]}
        cold_starts = cold_start.measure({name: cold_tasks[name] for name in order}, python, plan.processes)
        warm = measure_warm(tasks, python, local_env, plan)
        mode_tasks = {
            name: stack.enter_context(unpacked_read_only(package.zip_path, work / "task" / f"mode-{name}"))
            for name, package in mode_packages.items()
        }
        server = stack.enter_context(throwaway_mariadb(work / "mariadb"))
        secret_env = secret_in_moto(work, stack)
        cold_reads, warm_reads = measure_database(tasks, python, server, plan, secret_env)
        modes = measure_database_modes(mode_tasks, python, server, plan, secret_env)
        job_tasks = {
            name: stack.enter_context(unpacked_read_only(package.zip_path, work / "task" / f"jobs-{name}"))
            for name, package in job_packages.items()
        }
        job_figures, job_modules = measure_background_jobs(job_tasks, python, plan)
    database.unlink(missing_ok=True)
    return Results(
        plan=plan,
        day=date.today().isoformat(),
        machine=platform.machine(),
        cores=os.cpu_count(),
        runtime=full_version(python),
        architecture=architecture,
        cold_starts=cold_starts,
        sizes={package.name: sizes(package.zip_path) for package in packages}
        | {f"mode-{name}": sizes(package.zip_path) for name, package in mode_packages.items()}
        | {f"jobs-{name}": sizes(package.zip_path) for name, package in job_packages.items()},
        other_architecture=other_architecture,
        other_size=sizes(other.zip_path),
        warm=warm,
        cold_reads=cold_reads,
        warm_reads=warm_reads,
        uvicorn=measure_uvicorn(project, work, local_env, plan),
        database_modes=modes,
        background_jobs=job_figures,
        background_job_modules=job_modules,
        render_times=render_times,
        uv_times=uv_times,
    )


def per_round_ratio(ours: list[float], other: list[float]) -> float:
    """The median of ours / other over rounds that measured both: drift between rounds cancels out."""
    return statistics.median(ours_round / other_round for ours_round, other_round in zip(ours, other, strict=True))


def median_figures(rounds: list[UvicornRound]) -> tuple[float, ...]:
    """The median of each figure over the rounds."""
    return tuple(statistics.median(values) for values in zip(*rounds))


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def section(*parts: str) -> str:
    """A report section: its heading, tables and lines, a blank line apart."""
    return "\n\n".join(parts)


def title(results: Results) -> str:
    """The report's heading: when, where and on which Python the figures were taken."""
    mode = ", quick mode" if results.plan.quick else ""
    return (
        f"# Benchmarks ({results.day}, {results.machine}, {results.cores} cores, Python {results.runtime}, "
        f"{results.architecture} packages{mode})"
    )


def timing_row(label: str, values: list[float]) -> list[str]:
    """A label with p50, p99 and the p25-p75 spread of timings in milliseconds."""
    median, low, high = cold_start.summary(values)
    return [label, f"{median:.0f}", f"{cold_start.p99(values):.0f}", f"{low:.0f}-{high:.0f}"]


def cold_start_section(results: Results) -> str:
    """Cold-start times and package sizes, then each ratio against its target."""
    rows = []
    for name, label in LABELS.items():
        zipped, unzipped = results.sizes[name]
        rows.append([*timing_row(label, results.cold_starts[name]), f"{zipped:.1f}", f"{unzipped:.1f}"])
    ratios = [
        f"- ours / {name}, median of per-round ratios: "
        f"{per_round_ratio(results.cold_starts['ours'], results.cold_starts[name]):.2f} ({kind} <= {limit})"
        for name, (limit, kind) in TARGETS.items()
    ]
    ratios.append(
        "- ours / ours again (the same package measured twice in each round: how far a ratio moves by noise): "
        f"{per_round_ratio(results.cold_starts['ours'], results.cold_starts['ours_again']):.2f}"
    )
    other = results.other_architecture
    ratios.append(
        f"- zipped size of ours: {results.sizes['ours'][0]:.1f} MB ({results.architecture}), "
        f"{results.other_size[0]:.1f} MB ({other}, built for its size, not run here) (target <= 10)"
    )
    return section(
        "## Cold start: import main + first GET /health, "
        f"{results.plan.processes} fresh processes each, read-only package",
        table(["package", "p50 ms", "p99 ms", "p25-p75 ms", "zipped MB", "unzipped MB"], rows),
        "\n".join(ratios),
    )


def database_section(results: Results) -> str:
    """The cold database request (new process, first connection, first read) and warm reads on MariaDB, ours
    against the floor doing the same read."""
    cold_rows = [
        [*timing_row(label, results.cold_reads[name]), f"{results.sizes[name][0]:.1f}"]
        for name, label in READERS.items()
    ]
    secret_label = "ours, credentials from Secrets Manager (moto)"
    cold_rows.append([*timing_row(secret_label, results.cold_reads["ours_secret"]), f"{results.sizes['ours'][0]:.1f}"])
    cold_ratio = per_round_ratio(results.cold_reads["ours"], results.cold_reads["floor_read"])
    warm_rows = []
    for name, label in READERS.items():
        figures = [round_figures["read"] for round_figures in results.warm_reads[name]]
        rate, p50, p99 = (statistics.median(figure[key] for figure in figures) for key in ("rate", "p50", "p99"))
        warm_rows.append([label, f"{rate:.0f}", f"{p50:.2f}", f"{p99:.2f}"])
    warm_ratio = per_round_ratio(
        [round_figures["read"]["rate"] for round_figures in results.warm_reads["ours"]],
        [round_figures["read"]["rate"] for round_figures in results.warm_reads["floor_read"]],
    )
    return section(
        "## Cold database request: import main + first GET /challenges/1, new TLS connection to MariaDB, "
        f"{results.plan.processes} fresh processes each",
        table(["app", "p50 ms", "p99 ms", "p25-p75 ms", "zipped MB"], cold_rows),
        f"- ours / (d), median of per-round ratios: {cold_ratio:.2f} (target <= 1.1)\n"
        f"- {secret_fetch_line(results)}",
        "## Warm reads through main.handler: GET /challenges/1 on MariaDB over TLS, one pooled connection",
        table(["app", "reads/s", "p50 ms", "p99 ms"], warm_rows),
        f"- ours / (d) reads/s, median of per-round ratios: {warm_ratio:.2f} (target >= 0.9)",
    )


def comparison(ours: list[float], other: list[float]) -> str:
    """The median of per-round ratios and of per-round differences in milliseconds."""
    added = statistics.median(ours_round - other_round for ours_round, other_round in zip(ours, other, strict=True))
    return f"median of per-round ratios {per_round_ratio(ours, other):.3f}, of per-round differences {added:+.1f} ms"


def database_modes_section(results: Results) -> str:
    """The IAM mode against today's Secrets Manager mode, cold: each figure, then what IAM adds, against the
    issue's limits."""
    rows, lines = [], []
    for request, path in (("health", "GET /health"), ("read", "GET /challenges/1")):
        figures = results.database_modes[request]
        for name, label in database_modes.LABELS.items():
            rows.append([path, *timing_row(label, figures[name]), f"{results.sizes[f'mode-{name}'][0]:.1f}"])
        iam, existing, again = figures["aurora_iam"], figures["existing"], figures["existing_again"]
        lines.append(
            f"- {path}: aurora/iam / existing, {comparison(iam, existing)} (targets <= {database_modes.RATIO_LIMIT} "
            f"and <= +{database_modes.MILLISECONDS_LIMIT:.0f} ms); existing / existing again (noise alone): "
            f"{comparison(existing, again)}"
        )
    token, fetch = results.database_modes["token"]["aurora_iam"], results.cold_reads["secret_fetch"]
    lines.append(
        f"- the IAM token alone (loading the token code + one token, fresh processes): p50 "
        f"{statistics.median(token):.1f} ms, p99 {cold_start.p99(token):.1f} ms, against the secret's fetch alone: "
        f"p50 {statistics.median(fetch):.1f} ms, p99 {cold_start.p99(fetch):.1f} ms (in AWS add the fetch's network "
        "time)"
    )
    heading = f"## Database modes, cold: import main + first request, {results.plan.processes} fresh processes each"
    header = ["request", "bake", "p50 ms", "p99 ms", "p25-p75 ms", "zipped MB"]
    return section(heading + ", in the same rounds", table(header, rows), "\n".join(lines))


def background_jobs_section(results: Results) -> str:
    """The background_jobs=yes bake against the default one, cold on GET /health: each figure, what yes adds against
    the issue's limit, and the modules it adds to the cold path."""
    figures = results.background_jobs
    rows = [
        [*timing_row(label, figures[name]), f"{results.sizes[f'jobs-{name}'][0]:.1f}"]
        for name, label in background_jobs.LABELS.items()
    ]
    modules = results.background_job_modules
    added = background_jobs.added_modules(modules["no"], modules["yes"])
    lines = [
        f"- yes / no, {comparison(figures['yes'], figures['no'])} (target <= {background_jobs.RATIO_LIMIT}); "
        f"no / no again (noise alone): {comparison(figures['no'], figures['no_again'])}",
        f"- modules loaded once GET /health answered: no {len(modules['no'])}, yes {len(modules['yes'])}; "
        f"added by yes: {', '.join(added) or 'none'}",
    ]
    heading = (
        f"## Background jobs, cold: import main + first GET /health, {len(figures['no'])} fresh processes each, "
        "in the same rounds"
    )
    return section(heading, table(["bake", "p50 ms", "p99 ms", "p25-p75 ms", "zipped MB"], rows), "\n".join(lines))


def secret_fetch_line(results: Results) -> str:
    """What fetching the credentials from Secrets Manager adds to a container's first database request."""
    with_secret, with_variable = results.cold_reads["ours_secret"], results.cold_reads["ours"]
    added = statistics.median(with_secret) - statistics.median(with_variable)
    fetch = results.cold_reads["secret_fetch"]
    return (
        f"ours with the secret from Secrets Manager (moto on loopback): p50 {statistics.median(with_secret):.0f} ms, "
        f"{added:+.0f} ms and ratio {per_round_ratio(with_secret, with_variable):.2f} against the password in "
        f"DB_PASSWORD; the fetch alone (client import + one GetSecretValue, fresh processes): p50 "
        f"{statistics.median(fetch):.1f} ms, p99 {cold_start.p99(fetch):.1f} ms (in AWS add the call's network time)"
    )


def warm_section(results: Results) -> str:
    """Warm invocations per second through main.handler, and ours / floor on GET /health."""
    ours, floor = results.warm["ours"], results.warm["floor"]
    health = statistics.median(figures["health"]["rate"] for figures in ours)
    read = statistics.median(figures["read"]["rate"] for figures in ours)
    floor_health = statistics.median(figures["health"]["rate"] for figures in floor)
    ratio = per_round_ratio(
        [figures["health"]["rate"] for figures in ours], [figures["health"]["rate"] for figures in floor]
    )
    rows = [["ours", f"{health:.0f}", f"{read:.0f}"], ["(a) floor", f"{floor_health:.0f}", "-"]]
    return section(
        "## Warm invocations per second through main.handler",
        table(["app", "GET /health", "GET /challenges/1 (embedded SQLite)"], rows),
        f"- ours / floor on GET /health, median of per-round ratios: {ratio:.2f} (target >= 0.9)",
    )


def uvicorn_section(results: Results) -> str:
    """Requests per second and latency under uvicorn per connection count, and ours / floor."""
    rows = []
    for connections in results.plan.concurrency:
        ours_rounds, floor_rounds = results.uvicorn["ours"][connections], results.uvicorn["floor"][connections]
        ours, floor = median_figures(ours_rounds), median_figures(floor_rounds)
        ratio = per_round_ratio([figures[0] for figures in ours_rounds], [figures[0] for figures in floor_rounds])
        rows.append(
            [
                str(connections),
                f"{ours[0]:.0f}",
                f"{floor[0]:.0f}",
                f"{ratio:.2f}",
                f"{ours[1]:.1f} / {ours[2]:.1f}",
                f"{floor[1]:.1f} / {floor[2]:.1f}",
            ]
        )
    header = ["connections", "ours req/s", "floor req/s", "ratio", "ours p50 / p99 ms", "floor p50 / p99 ms"]
    return section(
        "## uvicorn, GET /health, one worker, loopback load generator",
        table(header, rows),
        "- ratio: ours / floor req/s, median of per-round ratios (target >= 0.9)",
    )


def bake_section(results: Results) -> str:
    """Median bake times, render only and with uv."""
    rows = [
        ["render only (CHALLENGE_BACKEND_SKIP_UV=1)", f"{statistics.median(results.render_times):.2f}", "< 1"],
        ["with uv lock/sync/export, warm cache", f"{statistics.median(results.uv_times):.2f}", "< 10"],
    ]
    return section("## Bake time (default answers)", table(["bake", "median s", "target"], rows))


SECTIONS: list[Callable[[Results], str]] = [
    title,
    cold_start_section,
    database_section,
    database_modes_section,
    background_jobs_section,
    warm_section,
    uvicorn_section,
    bake_section,
]


def report(results: Results) -> str:
    """The whole report, sections apart by a blank line; the README's tables are copied from it."""
    return section(*(make_section(results) for make_section in SECTIONS))


def main() -> int:
    """Measure everything in a scratch folder, then print the report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few processes and short loads: proves the benchmarks run")
    parser.add_argument("--processes", type=int, help="cold-start processes per package (default 15, quick 3)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchmarks-") as scratch:
        try:
            results = measure(Path(scratch), Plan.of(args.quick, args.processes))
        except HarnessError as error:
            raise SystemExit(str(error)) from error
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
