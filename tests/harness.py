"""What only the template's tests do with a bake: the message when an offered Python is missing, a warm Lambda
container emulated around an unpacked package, and the head revisions of a bake's migrations. What the benchmarks
share with the tests is in tests/packaging_tools.py, tests/lambda_events.py and tests/local_services.py.
"""

from __future__ import annotations

import json
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.packaging_tools import HarnessError


def missing_pythons_message(versions: Sequence[str]) -> str | None:
    """None when uv finds an interpreter of every version; otherwise one message naming those it cannot find and how
    to provide them."""
    uv = shutil.which("uv")
    if uv is None:
        return "uv is not on PATH: the bakes lock and sync with it. Install it (https://docs.astral.sh/uv/)."
    missing: dict[str, str] = {}
    for version in versions:
        # --system, as find_python: a bake's `uv sync` builds its .venv from a base interpreter, never from the
        # virtual environment the tests run in.
        result = subprocess.run(
            [uv, "python", "find", "--system", version], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            missing[version] = (result.stderr.strip().splitlines() or [f"exit code {result.returncode}"])[0]
    if not missing:
        return None
    names = " and ".join(f"Python {version}" for version in missing)
    first = next(iter(missing))
    return "\n".join(
        [
            f"uv cannot find {names}, which the template offers (python_version in cookiecutter.json); every bake of"
            " it would fail. Make it available, then run the tests again, with one of:",
            *(f"    uv python install {version}" for version in missing),
            "      (a download: not with UV_PYTHON_DOWNLOADS=never)",
            f"    pyenv install {first}, then list every version uv needs in PYENV_VERSION"
            " (for example PYENV_VERSION=3.13.0:3.12.1)",
            f"    a python{first} on PATH from your system's packages",
            *(f"uv said for {version}: {reason}" for version, reason in missing.items()),
        ]
    )


# Runs in the runtime's Python inside an unzipped package: one JSON request per stdin line
# ({"handler": "module.function", "event": {...}} or {"modules": true}), one JSON line back on the original stdout.
# A handler that raises answers {"errorMessage", "errorType"}, as Lambda reports a failed invocation. Anything the app
# writes (its log lines, through a root handler as Lambda's runtime installs one, in Lambda's JSON log format when
# AWS_LAMBDA_LOG_FORMAT says so, as the packaged LoggingConfig makes it) goes to stderr.
LAMBDA_DRIVER = r"""
import importlib, json, logging, os, sys, time
replies = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.stderr
current_request_id = None


class JsonFormatter(logging.Formatter):
    # Lambda's runtime with the JSON log format (AWS_LAMBDA_LOG_FORMAT=JSON): its fields, then every attribute the
    # app set on the record, as one JSON object per line.
    reserved = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}
    converter = time.gmtime

    def format(self, record):
        line = {"timestamp": self.formatTime(record, "%Y-%m-%dT%H:%M:%SZ"), "level": record.levelname,
                "message": record.getMessage(), "logger": record.name, "requestId": current_request_id}
        line.update((key, value) for key, value in vars(record).items() if key not in self.reserved | set(line))
        return json.dumps(line, default=str, ensure_ascii=False)


handler = logging.StreamHandler(sys.stderr)
if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
    handler.setFormatter(JsonFormatter())
else:
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
logging.basicConfig(level=logging.INFO, handlers=[handler])


class Context:
    function_name = "function"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:function"

    def __init__(self, number):
        global current_request_id
        self.aws_request_id = current_request_id = f"request-{number}"

    def get_remaining_time_in_millis(self):
        return 29000


for number, line in enumerate(sys.stdin):
    request = json.loads(line)
    if request.get("modules"):
        result = sorted(sys.modules)
    else:
        module_name, _, function_name = request["handler"].rpartition(".")
        try:
            handler = getattr(importlib.import_module(module_name), function_name)
            result = handler(request["event"], Context(number))
        except Exception as error:
            result = {"errorMessage": str(error), "errorType": type(error).__name__}
    replies.write(json.dumps(result) + "\n")
    replies.flush()
"""


class LambdaProcess:
    """One warm Lambda container, emulated: the runtime's Python alone (-S: no site-packages) in an unpacked package,
    invoking handlers one request at a time in the same process, as Lambda does between a cold start and a freeze."""

    def __init__(self, python: str, task: Path, env: Mapping[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as errors:
            self.process = subprocess.Popen(
                [python, "-S", "-c", LAMBDA_DRIVER],
                cwd=task,
                env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", **env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        self.replies: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read_replies, daemon=True).start()

    def _read_replies(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.replies.put(line)

    def _ask(self, request: Mapping[str, Any], timeout: float) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        try:
            return json.loads(self.replies.get(timeout=timeout))
        except queue.Empty:
            raise HarnessError(f"no answer within {timeout} s; its log:\n{self.logged()}") from None

    def invoke(self, handler: str, event: Mapping[str, Any], timeout: float = 60) -> Any:
        """The handler's return value, or {"errorMessage", "errorType"} when it raised."""
        return self._ask({"handler": handler, "event": event}, timeout)

    def modules(self) -> list[str]:
        """Every module the process has imported so far."""
        return list(self._ask({"modules": True}, 10))

    def logged(self) -> str:
        """What the process wrote to stderr so far (its log lines)."""
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def head_revisions(migrations: Path) -> str:
    """The revisions no other revision follows, in both folders (the team's and the template's), joined by commas as
    the migrate function reports them."""
    revisions, parents = set(), set()
    for path in migrations.glob("*/*.py"):
        text = path.read_text()
        revisions.update(re.findall(r'^revision(?:: str)? = "(\w+)"', text, re.M))
        for parent in re.findall(r"^down_revision(?:: [^=]+)? = (.+)$", text, re.M):
            parents.update(re.findall(r'"(\w+)"', parent))
    return ",".join(sorted(revisions - parents))
