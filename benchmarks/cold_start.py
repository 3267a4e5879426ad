"""Cold start of an unpacked deployment zip: fresh processes on a read-only copy, as on Lambda.

Each process imports `main` and serves one API Gateway HTTP API (v2) GET /health through `main.handler`; the time
from the first line of the process's script to the response is what a cold invocation costs beyond the runtime's own
start. Packages are measured round-robin, so drift on the machine affects them alike.
"""

from __future__ import annotations

import os
import stat
import statistics
import subprocess
import zipfile
from pathlib import Path

HEALTH_EVENT = {
    "version": "2.0",
    "routeKey": "$default",
    "rawPath": "/health",
    "rawQueryString": "",
    "headers": {"host": "api.example.com"},
    "requestContext": {
        "http": {"method": "GET", "path": "/health", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1"},
        "stage": "$default",
    },
    "isBase64Encoded": False,
}
PROBE = f"""
import time
started = time.perf_counter()
import main
response = main.handler({HEALTH_EVENT!r}, None)
assert response["statusCode"] == 200, response
print((time.perf_counter() - started) * 1000)
"""
# The function's environment on Lambda (a deployed stage); /health never touches the database.
LAMBDA_ENV = {"ENVIRONMENT": "dev", "DB_HOST": "db.invalid", "DB_PASSWORD": "placeholder"}


def unpack_read_only(zip_path: Path, destination: Path) -> Path:
    """Unzip into a fresh folder and remove every write bit, like Lambda's /var/task."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(destination)
    for path in [destination, *destination.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return destination


def sizes(zip_path: Path) -> tuple[float, float]:
    """Zipped and unzipped size in MB."""
    with zipfile.ZipFile(zip_path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    return zip_path.stat().st_size / 1e6, unzipped / 1e6


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


def measure(task_dirs: dict[str, Path], python: str, processes: int) -> dict[str, list[float]]:
    """Milliseconds per cold start for each package, `processes` fresh processes each, interleaved in rounds whose
    order flips each round (as in the warm and uvicorn benchmarks), so no package always runs first."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **LAMBDA_ENV}
    files_before = {name: sum(1 for _ in task.rglob("*")) for name, task in task_dirs.items()}
    timings: dict[str, list[float]] = {name: [] for name in task_dirs}
    for round_number in range(processes):
        order = list(task_dirs) if round_number % 2 == 0 else list(reversed(task_dirs))
        for name in order:
            timings[name].append(float(run_in_task(python, task_dirs[name], env, PROBE)))
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
