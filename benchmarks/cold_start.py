"""Cold start of an unpacked deployment zip: fresh processes on a read-only copy, as on Lambda.

Each process imports `main` and serves one API Gateway HTTP API (v2) request through `main.handler`: GET /health, or
a read that opens the process's first database connection; the time from the first line of the process's script to
the response is what a cold invocation costs beyond the runtime's own start. Packages are measured round-robin, so
drift on the machine affects them alike.
"""

from __future__ import annotations

import os
import statistics
import subprocess
from pathlib import Path
from typing import Any

from tests.lambda_events import LAMBDA_ENV, http_api_event

HEALTH_EVENT = http_api_event("GET", "/health")
PROBE = """
import time
started = time.perf_counter()
import main
response = main.handler({event!r}, None)
assert response["statusCode"] == 200, response
print((time.perf_counter() - started) * 1000)
"""


def run_in_task(python: str, task: Path, env: dict[str, str], script: str, timeout: int = 120) -> str:
    """Run a script in a fresh interpreter with the unpacked package first on sys.path, as Lambda does; its last
    output line. -I: no user site or PYTHON* variables; -B: never write bytecode (root ignores read-only bits)."""
    result = subprocess.run(
        [python, "-I", "-B", "-c", f"import sys; sys.path.insert(0, '.'); {script}"],
        cwd=task,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"benchmark process failed in {task}:\n{result.stderr}")
    return result.stdout.strip().splitlines()[-1]


def measure(
    task_dirs: dict[str, Path],
    python: str,
    processes: int,
    event: dict[str, Any] = HEALTH_EVENT,
    function_env: dict[str, str] = LAMBDA_ENV,
    env_by_name: dict[str, dict[str, str]] | None = None,
) -> dict[str, list[float]]:
    """Milliseconds per cold start for each package, `processes` fresh processes each, interleaved in rounds whose
    order flips each round (as in the warm and uvicorn benchmarks), so no package always runs first. env_by_name adds
    variables for some names (two names may then measure one package under two configurations)."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **function_env}
    env = {name: {**base, **(env_by_name or {}).get(name, {})} for name in task_dirs}
    probe = PROBE.format(event=event)
    files_before = {name: sum(1 for _ in task.rglob("*")) for name, task in task_dirs.items()}
    timings: dict[str, list[float]] = {name: [] for name in task_dirs}
    for round_number in range(processes):
        order = list(task_dirs) if round_number % 2 == 0 else list(reversed(task_dirs))
        for name in order:
            timings[name].append(float(run_in_task(python, task_dirs[name], env[name], probe)))
    for name, task in task_dirs.items():
        if sum(1 for _ in task.rglob("*")) != files_before[name]:
            raise SystemExit(f"the {name} package was written to during the cold starts: the figures are not cold")
    return timings


def summary(values: list[float]) -> tuple[float, float, float]:
    """Median, and the spread as the 25th and 75th percentiles."""
    if len(values) < 4:
        return statistics.median(values), min(values), max(values)
    quartiles = statistics.quantiles(values, n=4)
    return statistics.median(values), quartiles[0], quartiles[2]


def p99(values: list[float]) -> float:
    """The 99th percentile, within the values measured (with fewer than 100, close to the slowest)."""
    return statistics.quantiles(values, n=100, method="inclusive")[98] if len(values) > 1 else values[0]
