"""List the background jobs: `make jobs` (or `python scripts/jobs.py`).

Each job of the modules in app/registry.py (their jobs.py), by name: the module and class that define it, and its
schedule (an EventBridge Scheduler expression and time zone) or "on demand" for a job only routes enqueue.
`--schedules-json <path>` writes the scheduled ones for the infrastructure instead: infra/Makefile runs it before
packaging, and infra/deploy-settings.js makes one schedule of each entry.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from app.jobs import Job, JobDefinitionError  # noqa: E402
from app.registry import module_jobs  # noqa: E402

ON_DEMAND = "on demand"
MODULE_PREFIX, MODULE_SUFFIX = "app.module.", ".jobs"


def defining_module(job: type[Job]) -> str:
    """The business module whose jobs.py defines the job ("challenge"), or the Python module when it is elsewhere."""
    module = job.__module__
    if module.startswith(MODULE_PREFIX) and module.endswith(MODULE_SUFFIX):
        return module.removeprefix(MODULE_PREFIX).removesuffix(MODULE_SUFFIX)
    return module


def schedule_text(job: type[Job]) -> str:
    """The job's schedule as a person reads it ("cron(0 0 * * ? *) Asia/Seoul"), or "on demand"."""
    if job.schedule is None:
        return ON_DEMAND
    return f"{job.schedule.expression} {job.schedule.timezone}"


def listing(jobs: Mapping[str, type[Job]]) -> str:
    """A table of the jobs by name: job, module, class, schedule."""
    if not jobs:
        return "No jobs: a module defines them in its jobs.py (README: Background jobs)."
    rows = [("job", "module", "class", "schedule")]
    rows += [(name, defining_module(job), job.__name__, schedule_text(job)) for name, job in sorted(jobs.items())]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    return "\n".join(
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)), row[3]]) for row in rows
    )


def schedules(jobs: Mapping[str, type[Job]]) -> list[dict[str, str]]:
    """The scheduled jobs as the infrastructure reads them, sorted by job name."""
    return [
        {"job": name, "expression": job.schedule.expression, "timezone": job.schedule.timezone}
        for name, job in sorted(jobs.items())
        if job.schedule is not None
    ]


def main(argv: list[str] | None = None) -> int:
    """Print the jobs, or write the schedules to the path given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--schedules-json", type=Path, metavar="PATH", help="write the schedules as JSON to PATH instead of listing"
    )
    arguments = parser.parse_args(argv)
    try:
        jobs = module_jobs()
    except JobDefinitionError as error:  # a schedule or name the job API refuses: the message names the job
        print(f"Cannot list the jobs: {error}", file=sys.stderr)
        return 1
    if arguments.schedules_json is None:
        print(listing(jobs))
        return 0
    entries = schedules(jobs)
    arguments.schedules_json.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    print(f"Wrote {len(entries)} schedule(s) to {arguments.schedules_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
