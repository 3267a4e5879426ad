"""Warm throughput: invocations per second through `main.handler`, and uvicorn under a loopback load generator.

Every loop is bounded in count and time. The load generator speaks plain HTTP/1.1 with keep-alive on 127.0.0.1,
so it measures the app and server rather than a client library.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from cold_start import run_in_task

from tests.lambda_events import WRITER_CLAIMS, http_api_event
from tests.local_services import free_port

# With the claims a deployed stage's JWT authorizer passes on (api_auth=jwt; the floors and an api_auth=none app ignore
# them), so the read pays for the identity check and owner filter a deployed read pays for.
READ_EVENT = http_api_event("GET", "/challenges/1", claims=WRITER_CLAIMS)
CREATE_EVENT = http_api_event(
    "POST",
    "/challenges",
    body=json.dumps({"title": "benchmark"}),
    headers={"content-type": "application/json"},
    claims=WRITER_CLAIMS,
)
# Creates the example module's table in the app's database and one row through the app (id 1 in a new table).
CREATE_TABLES = f"""
from app.database.base import Base
from app.database.config import get_engine
from app.registry import import_models

import_models()


async def create_tables():
    async with get_engine().begin() as connection:
        await connection.run_sync(Base.metadata.create_all)

asyncio.get_event_loop().run_until_complete(create_tables())
assert main.handler({CREATE_EVENT!r}, None)["statusCode"] == 201
"""
WARM_SCRIPT = """
import asyncio, json, statistics, time
import main
{setup}
results = {{}}
for name, event in {measured!r}:
    for _ in range(50):
        assert main.handler(event, None)["statusCode"] == 200
    latencies, started = [], time.perf_counter()
    while len(latencies) < {max_calls} and time.perf_counter() - started < {seconds}:
        call = time.perf_counter()
        main.handler(event, None)
        latencies.append(time.perf_counter() - call)
    cuts = statistics.quantiles(latencies, n=100)
    rate = len(latencies) / (time.perf_counter() - started)
    results[name] = {{"rate": rate, "p50": cuts[49] * 1000, "p99": cuts[98] * 1000}}
print(json.dumps(results))
"""
# Invocations per second, and p50 and p99 milliseconds per invocation, of each measured request.
WarmFigures = dict[str, dict[str, float]]


def warm_invocations(
    task: Path, python: str, env: dict[str, str], measured: list[tuple[str, dict[str, Any]]], setup: bool, quick: bool
) -> WarmFigures:
    """Warm figures of each (name, event) in one process, after creating the example table and row when `setup`."""
    script = WARM_SCRIPT.format(
        setup=CREATE_TABLES if setup else "",
        measured=measured,
        max_calls=2_000 if quick else 20_000,
        seconds=1.0 if quick else 5.0,
    )
    output = run_in_task(python, task, env, script, timeout=300)
    figures: WarmFigures = json.loads(output)
    return figures


def prepare_database(task: Path, python: str, env: dict[str, str]) -> None:
    """Create the example table and its first row in the database `env` points the app at, through the app."""
    script = f"import asyncio\nimport main\n{CREATE_TABLES}\n"
    script += "asyncio.get_event_loop().run_until_complete(get_engine().dispose())\nprint('ready')\n"
    run_in_task(python, task, env, script)


async def _client(port: int, requests: int, deadline: float, latencies: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        for _ in range(requests):
            if time.perf_counter() > deadline:
                break
            started = time.perf_counter()
            writer.write(request)
            headers = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
    finally:
        writer.close()


async def _load(port: int, connections: int, total_requests: int, seconds: float) -> tuple[float, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    per_connection = max(1, total_requests // connections)
    await asyncio.gather(*(_client(port, per_connection, deadline, latencies) for _ in range(connections)))
    return len(latencies) / (time.perf_counter() - started), latencies


def wait_until_serving(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("uvicorn exited before serving")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("uvicorn did not start within 30 s")


def start_uvicorn(python: str, app_dir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """One uvicorn worker serving app_dir's main:app on a free loopback port."""
    port = free_port()
    command = [python, "-m", "uvicorn", "main:app", "--app-dir", str(app_dir), "--port", str(port)]
    command += ["--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(command, cwd=app_dir, env={**os.environ, **env}, stdout=subprocess.DEVNULL)
    wait_until_serving(port, server)
    return server, port


def separate_cores(servers: list[subprocess.Popen[bytes]]) -> set[int]:
    """Pin the servers to the last core and this process (the load generator) to the others, where the platform
    allows it: client and server then stop preempting each other, which was most of the run-to-run noise (ratios
    of ours to the floor ranged 0.81-1.11 across runs unpinned, 0.95-1.02 pinned). Returns the cores to restore."""
    if not hasattr(os, "sched_setaffinity"):
        return set()
    own_cores = os.sched_getaffinity(0)
    if len(own_cores) >= 2:
        server_core = max(own_cores)
        for server in servers:
            os.sched_setaffinity(server.pid, {server_core})
        os.sched_setaffinity(0, own_cores - {server_core})
    return own_cores


def uvicorn_load(
    python: str, app_dirs: dict[str, Path], env: dict[str, str], concurrency: list[int], quick: bool
) -> dict[str, dict[int, list[tuple[float, float, float]]]]:
    """Requests/s, p50 and p99 latency (ms) of GET /health per app and concurrency level, one entry per round.

    All servers run at once and are loaded in alternating rounds whose order flips each round, so machine drift and
    the position in a round affect every app alike; the n-th entries of two apps come from the same round."""
    servers = {name: start_uvicorn(python, app_dir, env) for name, app_dir in app_dirs.items()}
    own_cores = separate_cores([server for server, _ in servers.values()])
    total, seconds, rounds = (2_000, 3.0, 1) if quick else (10_000, 5.0, 5)
    try:
        results: dict[str, dict[int, list[tuple[float, float, float]]]] = {name: {} for name in app_dirs}
        for connections in concurrency:
            samples = {name: results[name].setdefault(connections, []) for name in app_dirs}
            for name, (_, port) in servers.items():
                asyncio.run(_load(port, connections, 200, 2.0))  # warm-up
            for round_number in range(rounds):
                order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
                for name in order:
                    port = servers[name][1]
                    rate, latencies = asyncio.run(_load(port, connections, total, seconds))
                    cuts = statistics.quantiles(latencies, n=100)
                    samples[name].append((rate, cuts[49] * 1000, cuts[98] * 1000))
        return results
    finally:
        if own_cores:
            os.sched_setaffinity(0, own_cores)
        for server, _ in servers.values():
            server.terminate()
            server.wait(timeout=15)
