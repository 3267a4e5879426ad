"""The suite stops at once, with one message, when uv cannot find a Python version the template offers."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from tests.conftest import TEMPLATE_ROOT
from tests.harness import missing_pythons_message
from tests.packaging_tools import HarnessError, run_command


def test_a_version_uv_cannot_find_is_named_with_how_to_provide_it() -> None:
    message = missing_pythons_message(["3.99"])
    assert message is not None
    assert message.startswith("uv cannot find Python 3.99, which the template offers"), message
    assert "    uv python install 3.99\n" in message and "PYENV_VERSION" in message, message
    assert "uv said for 3.99: " in message, message


def stand_in_uv(folder: Path, missing: str) -> Path:
    """A uv whose `python find` fails for one version and finds every other one."""
    folder.mkdir()
    uv = folder / "uv"
    uv.write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2" = "python find" ] && [ "$4" = "{missing}" ]; then\n'
        f'  echo "error: No interpreter found for Python {missing}" >&2; exit 2\n'
        "fi\n"
        f"echo {sys.executable}\n"
    )
    uv.chmod(uv.stat().st_mode | stat.S_IXUSR)
    return folder


def test_the_suite_stops_once_before_any_test_when_a_version_is_missing(tmp_path: Path) -> None:
    """Run under xdist with two workers: the controller says it once, no worker starts a test."""
    env = {**os.environ, "PATH": f"{stand_in_uv(tmp_path / 'bin', '3.13')}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "pytest", "-n", "2", "-p", "no:cacheprovider", "tests/test_prompts.py"]
    with pytest.raises(HarnessError) as failure:
        run_command(command, TEMPLATE_ROOT, env, timeout=120)
    output = str(failure.value)
    assert f"exited {pytest.ExitCode.USAGE_ERROR.value}" in output.splitlines()[0], output
    assert output.count("uv cannot find Python 3.13,") == 1, output
    assert "passed" not in output and "error" not in output.replace("error: No interpreter", ""), output
