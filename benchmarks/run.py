"""Run every benchmark and print one table: `uv run python benchmarks/run.py` (add --quick for a smoke run).

Each comparison is measured in the same run on the same machine; ratios are what to read, absolute figures are
context. Nothing here asserts a time: the numbers are for people.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import cold_start
import throughput
import variants

TEMPLATE_ROOT = Path(__file__).resolve().parent.parent
# Cold-start ratio limits from the performance issue; the one against the bare floor is a stretch goal.
TARGETS = {"floor": (1.5, "stretch target"), "floor_db": (1.1, "target"), "plugin_default": (0.4, "target")}
LABELS = {
    "ours": "ours (default bake, make package)",
    "floor": "(a) floor: FastAPI + Mangum, one route",
    "floor_db": "(b) floor + SQLAlchemy async, aiomysql, pydantic-settings",
    "plugin_default": "(c) default bake, plugin's default packaging",
}


def bake(output: Path, skip_uv: bool) -> tuple[Path, float]:
    """Bake the default project; returns its folder and the wall time in seconds."""
    env = {**os.environ, "CHALLENGE_BACKEND_SKIP_UV": "1" if skip_uv else "0"}
    command = [sys.executable, "-m", "cookiecutter", "--no-input", str(TEMPLATE_ROOT), "--output-dir", str(output)]
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"bake failed:\n{result.stderr}")
    return output / "challenge-backend", elapsed


def find_python(version: str) -> str:
    result = subprocess.run(["uv", "python", "find", "--system", version], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"Python {version} not found: {result.stderr}")
    return result.stdout.strip()


def per_round_ratio(ours: list[float], other: list[float]) -> float:
    """The median of ours / other over rounds that measured both: drift between rounds cancels out."""
    return statistics.median(ours_round / other_round for ours_round, other_round in zip(ours, other, strict=True))


def median_figures(rounds: list[tuple[float, ...]]) -> tuple[float, ...]:
    """The median of each figure over the rounds."""
    return tuple(statistics.median(values) for values in zip(*rounds))


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few processes and short loads: proves the benchmarks run")
    parser.add_argument("--processes", type=int, help="cold-start processes per package (default 15, quick 3)")
    args = parser.parse_args()
    processes = args.processes or (3 if args.quick else 15)
    bake_runs = 1 if args.quick else 3

    with tempfile.TemporaryDirectory(prefix="benchmarks-") as scratch:
        work = Path(scratch)
        render_times = [bake(work / f"render-{n}", skip_uv=True)[1] for n in range(bake_runs)]
        bake(work / "warm-up", skip_uv=False)  # fills uv's cache, as on a developer's machine
        uv_runs = [bake(work / f"uv-{n}", skip_uv=False) for n in range(bake_runs)]
        project = uv_runs[0][0]
        python_version = (project / ".python-version").read_text().strip()
        python = find_python(python_version)
        runtime = subprocess.run(
            [python, "-c", "import platform; print(platform.python_version())"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

        packages = variants.build_all(project, work / "variants", python, python_version)
        tasks = {
            package.name: cold_start.unpack_read_only(package.zip_path, work / "task" / package.name)
            for package in packages
        }
        sizes = {package.name: cold_start.sizes(package.zip_path) for package in packages}
        timings = cold_start.measure(tasks, python, processes)

        database = work / "bench.db"
        local_env = {"PATH": os.environ.get("PATH", ""), "ENVIRONMENT": "local", "SQLITE_PATH": str(database)}
        # Alternating rounds (the order flips each round), median per figure: drift on a shared machine and the
        # position in a round affect both apps alike.
        warm: dict[str, list[dict[str, float]]] = {"ours": [], "floor": []}
        for round_number in range(1 if args.quick else 5):
            order = ["ours", "floor"] if round_number % 2 == 0 else ["floor", "ours"]
            for name in order:
                with_database = name == "ours"
                warm[name].append(
                    throughput.warm_invocations(tasks[name], python, local_env, with_database, args.quick)
                )
        warm_ours = {key: statistics.median(result[key] for result in warm["ours"]) for key in ("health", "read")}
        warm_floor = {"health": statistics.median(result["health"] for result in warm["floor"])}
        warm_ratio = per_round_ratio(
            [rate["health"] for rate in warm["ours"]], [rate["health"] for rate in warm["floor"]]
        )

        venv_python = str(project / ".venv" / "bin" / "python")
        floor_app = work / "floor-app"
        floor_app.mkdir()
        (floor_app / "main.py").write_text(variants.FLOOR_MAIN)
        concurrency = [1, 8] if args.quick else [1, 8, 64]
        database.unlink(missing_ok=True)
        http = throughput.uvicorn_load(
            venv_python, {"ours": project, "floor": floor_app}, local_env, concurrency, args.quick
        )
        http_ours, http_floor = http["ours"], http["floor"]
        for task in tasks.values():
            for path in [task, *task.rglob("*")]:
                path.chmod(path.stat().st_mode | 0o200)
        shutil.rmtree(work / "task")

    print(
        f"# Benchmarks ({date.today().isoformat()}, {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {runtime}{', quick mode' if args.quick else ''})\n"
    )
    print(f"## Cold start: import main + first GET /health, {processes} fresh processes each, read-only package\n")
    rows = []
    for name in LABELS:
        median, low, high = cold_start.summary(timings[name])
        zipped, unzipped = sizes[name]
        rows.append([LABELS[name], f"{median:.0f}", f"{low:.0f}-{high:.0f}", f"{zipped:.1f}", f"{unzipped:.1f}"])
    print(table(["package", "median ms", "p25-p75 ms", "zipped MB", "unzipped MB"], rows))
    print()
    for name, (limit, kind) in TARGETS.items():
        ratio = per_round_ratio(timings["ours"], timings[name])
        print(f"- ours / {name}, median of per-round ratios: {ratio:.2f} ({kind} <= {limit})")
    print(f"- zipped size of ours: {sizes['ours'][0]:.1f} MB (target <= 10)\n")

    print("## Warm invocations per second through main.handler\n")
    print(
        table(
            ["app", "GET /health", "GET /challenges/1 (embedded SQLite)"],
            [
                ["ours", f"{warm_ours['health']:.0f}", f"{warm_ours['read']:.0f}"],
                ["(a) floor", f"{warm_floor['health']:.0f}", "-"],
            ],
        )
    )
    print(f"\n- ours / floor on GET /health, median of per-round ratios: {warm_ratio:.2f} (target >= 0.9)\n")

    print("## uvicorn, GET /health, one worker, loopback load generator\n")
    rows = []
    for connections in concurrency:
        ours, floor = median_figures(http_ours[connections]), median_figures(http_floor[connections])
        ratio = per_round_ratio(
            [figures[0] for figures in http_ours[connections]], [figures[0] for figures in http_floor[connections]]
        )
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
    print(table(["connections", "ours req/s", "floor req/s", "ratio", "ours p50 / p99 ms", "floor p50 / p99 ms"], rows))
    print("\n- ratio: ours / floor req/s, median of per-round ratios (target >= 0.9)")
    print("\n## Bake time (default answers)\n")
    print(
        table(
            ["bake", "median s", "target"],
            [
                ["render only (CHALLENGE_BACKEND_SKIP_UV=1)", f"{statistics.median(render_times):.2f}", "< 1"],
                ["with uv lock/sync/export, warm cache", f"{statistics.median(t for _, t in uv_runs):.2f}", "< 10"],
            ],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
