"""`make jobs` (scripts/jobs.py): every job of the registered modules with its module, class and schedule, and the
schedules file the infrastructure makes its EventBridge schedules from."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs import Job, JobDefinitionError, Schedule
from app.registry import module_jobs

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SendInvoice(Job):
    """On demand, defined the way a module's jobs.py defines it."""

    __module__ = "app.module.orders.jobs"
    name = "orders.send-invoice"
    order_id: int

    async def run(self, session: AsyncSession) -> None:
        """Nothing: only the listing reads this job."""


class CloseStaleOrders(Job):
    __module__ = "app.module.orders.jobs"
    name = "orders.close-stale"
    schedule = Schedule("rate(1 hour)")

    async def run(self, session: AsyncSession) -> None:
        """Nothing: only the listing reads this job."""


class MonthlyReport(Job):
    """Defined outside a module's jobs.py: listed with its Python module."""

    __module__ = "app.billing.reports"
    name = "billing.monthly-report"
    schedule = Schedule("cron(0 9 1 * ? *)", "Asia/Seoul")

    async def run(self, session: AsyncSession) -> None:
        """Nothing: only the listing reads this job."""


JOBS: dict[str, type[Job]] = {job.name: job for job in (SendInvoice, CloseStaleOrders, MonthlyReport)}


@pytest.fixture(scope="module")
def script() -> ModuleType:
    """scripts/jobs.py, imported (it is a script, not a package module)."""
    spec = importlib.util.spec_from_file_location("jobs_script", PROJECT_ROOT / "scripts" / "jobs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_listing_names_each_job_by_name_with_its_module_class_and_schedule(script: ModuleType) -> None:
    assert script.listing(JOBS).splitlines() == [
        "job                     module               class             schedule",
        "billing.monthly-report  app.billing.reports  MonthlyReport     cron(0 9 1 * ? *) Asia/Seoul",
        "orders.close-stale      orders               CloseStaleOrders  rate(1 hour) UTC",
        "orders.send-invoice     orders               SendInvoice       on demand",
    ]


def test_the_listing_says_where_jobs_come_from_when_there_are_none(script: ModuleType) -> None:
    assert "a module defines them in its jobs.py" in script.listing({})


def test_make_jobs_lists_every_job_of_the_registered_modules() -> None:
    result = subprocess.run(
        ["make", "-s", "jobs", f"PYTHON={sys.executable}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    jobs = module_jobs()
    listed = [line.split()[0] for line in result.stdout.splitlines()[1:]] if jobs else []
    assert listed == sorted(jobs)
{%- if cookiecutter.include_example_module == "yes" %}
    assert "challenge.count-words   challenge  CountChallengeWords" in result.stdout
    assert result.stdout.rstrip().endswith("challenge  DailyChallengeReport  cron(0 0 * * ? *) Asia/Seoul")
{%- endif %}


def test_the_schedules_file_holds_each_scheduled_job_sorted_by_name(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script, "module_jobs", lambda: JOBS)
    path = tmp_path / "schedules.json"
    assert script.main(["--schedules-json", str(path)]) == 0
    assert json.loads(path.read_text(encoding="utf-8")) == [
        {"job": "billing.monthly-report", "expression": "cron(0 9 1 * ? *)", "timezone": "Asia/Seoul"},
        {"job": "orders.close-stale", "expression": "rate(1 hour)", "timezone": "UTC"},
    ]


def test_the_schedules_file_is_an_empty_list_without_scheduled_jobs(
    script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(script, "module_jobs", lambda: {SendInvoice.name: SendInvoice})
    path = tmp_path / "schedules.json"
    assert script.main(["--schedules-json", str(path)]) == 0
    assert json.loads(path.read_text(encoding="utf-8")) == []


def test_jobs_the_registry_refuses_are_named_without_a_traceback(
    script: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refused() -> dict[str, type[Job]]:
        # What app/registry.py raises for two jobs with one name (and app/jobs/job.py for a bad declaration).
        raise JobDefinitionError("two jobs named 'orders.send-invoice': SendInvoice and ResendInvoice")

    monkeypatch.setattr(script, "module_jobs", refused)
    assert script.main([]) == 1
    assert capsys.readouterr().err == (
        "Cannot list the jobs: two jobs named 'orders.send-invoice': SendInvoice and ResendInvoice\n"
    )
