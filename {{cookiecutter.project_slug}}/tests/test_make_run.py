"""`make run` restarts uvicorn when the code or .env changes: settings are read from .env once per process (a cached
getter), so only a new process serves a changed value. (The template's own tests run `make run` and edit .env.)"""

import re
import shlex

from tests.conftest import PROJECT_ROOT


def make_run_uvicorn_arguments() -> list[str]:
    """The arguments `make run` gives uvicorn (the Makefile's run recipe), with PORT at its default."""
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe is not None, "no run target in the Makefile"
    command = next(line for line in recipe.group(1).splitlines() if " uvicorn " in line)
    arguments = shlex.split(command.replace("$(PORT)", "8000"))
    return arguments[arguments.index("uvicorn") + 1 :]


def test_make_run_restarts_on_changes_to_dot_env_and_the_code_but_not_the_database_file() -> None:
    from uvicorn.config import Config
    from uvicorn.main import main as uvicorn_command
    from uvicorn.supervisors import ChangeReload
    from uvicorn.supervisors.watchfilesreload import FileFilter, WatchFilesReload

    options = uvicorn_command.make_context("uvicorn", make_run_uvicorn_arguments()).params
    # log_config=None: building a Config must not reconfigure this process's logging.
    config = Config(
        options["app"], reload=options["reload"], reload_includes=list(options["reload_includes"]), log_config=None
    )
    # uvicorn's other reloader (StatReload, without watchfiles) watches *.py files only, whatever --reload-include says.
    assert ChangeReload is WatchFilesReload
    restarts_on = FileFilter(config)
    assert restarts_on(PROJECT_ROOT / ".env")
    assert restarts_on(PROJECT_ROOT / "app" / "common" / "settings.py")
    assert not restarts_on(PROJECT_ROOT / "local.db")
