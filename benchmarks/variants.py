"""Build the Lambda packages the benchmarks compare, all from one baked project and its own infra/ folder.

- ours: the default bake, `make package` as a team runs it.
- floor: FastAPI + Mangum with one route, packaged the same way (same serverless.yml, plugins and Makefile).
- floor_db: the floor plus the same database stack (SQLAlchemy async, aiomysql, pydantic-settings), same way.
- plugin_default: the default bake packaged the way serverless-python-requirements does by default
  (no bytecode step, no slimming).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

FLOOR_MAIN = '''"""The smallest FastAPI app on Lambda: one route."""

from fastapi import FastAPI
from mangum import Mangum

app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


handler = Mangum(app, lifespan="off")
'''
FLOOR_DB_IMPORTS = """
# The database stack the template uses, imported as an app using it would.
import aiomysql  # noqa: E402,F401
import pydantic_settings  # noqa: E402,F401
import sqlalchemy.ext.asyncio  # noqa: E402,F401
import sqlalchemy.orm  # noqa: E402,F401
"""
FLOOR_PACKAGES = {"fastapi", "mangum"}
FLOOR_DB_PACKAGES = FLOOR_PACKAGES | {"sqlalchemy", "aiomysql", "pydantic-settings", "greenlet"}
# What `make package` needs from the shell; placeholders, since nothing is deployed.
PACKAGE_ENV = {"DB_HOST": "db.invalid", "DB_PASSWORD": "placeholder", "SERVERLESS_ORG": "benchmark"}


@dataclass(frozen=True)
class Package:
    """A built deployment zip."""

    name: str
    zip_path: Path


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run a build step; show its output only when it fails."""
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{result.stdout}{result.stderr}")


def pinned(baked: Path, names: set[str], python_version: str) -> str:
    """The dependency closure of the given packages, at the versions the bake's requirements.txt pins."""
    result = subprocess.run(
        ["uv", "pip", "compile", "-", "--constraint", "requirements.txt", "--python-version", python_version]
        + ["--no-header", "--no-annotate", "--quiet"],
        cwd=baked,
        input="\n".join(sorted(names)),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"uv pip compile failed: {result.stderr}")
    return result.stdout


def make_package(project: Path, python: str, sls: str) -> Path:
    """`make package` in a project laid out like the bake; returns the zip."""
    env = {**os.environ, **PACKAGE_ENV, "PYTHON_BIN": python}
    run(["make", "package", f"SLS={sls}"], project / "infra", env)
    return next((project / "infra" / ".serverless").glob("*.zip"))


def sibling_project(baked: Path, destination: Path, main_source: str, requirements: str) -> Path:
    """A project with its own main.py and requirements, sharing the bake's infra (node_modules linked)."""
    destination.mkdir(parents=True)
    shutil.copytree(
        baked / "infra", destination / "infra", ignore=shutil.ignore_patterns("node_modules", ".serverless", "app")
    )
    (destination / "infra" / "node_modules").symlink_to(baked / "infra" / "node_modules")
    (destination / "main.py").write_text(main_source)
    (destination / "app").mkdir()
    (destination / "app" / "__init__.py").write_text("")
    (destination / "requirements.txt").write_text(requirements)
    return destination


def plugin_default_config(serverless_yml: Path) -> None:
    """Rewrite serverless.yml to use serverless-python-requirements with its defaults only."""
    config = yaml.safe_load(serverless_yml.read_text())
    config["plugins"] = ["serverless-python-requirements"]
    python_requirements = config["custom"]["pythonRequirements"]
    config["custom"]["pythonRequirements"] = {key: python_requirements[key] for key in ("fileName", "pythonBin")}
    config["package"]["patterns"] = ["!**", "main.py", "app/**"]
    serverless_yml.write_text(yaml.safe_dump(config, sort_keys=False))


def build_all(baked: Path, workdir: Path, python: str, python_version: str) -> list[Package]:
    """npm ci once, then the four packages."""
    infra = baked / "infra"
    if not (infra / "node_modules").exists():
        run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], infra)
    if not (infra / "node_modules" / ".bin" / "osls").exists():
        # The v4 CLI needs a Serverless account; osls packages the same serverless.yml offline.
        run(["npm", "install", "--no-save", "--no-audit", "--no-fund", "osls@4.3.1"], infra)
    config = (infra / "serverless.yml").read_text()
    if re.search(r"^org:", config, flags=re.MULTILINE):
        (infra / "serverless.yml").write_text(re.sub(r"^org:.*\n", "", config, flags=re.MULTILINE))
    sls = "npx osls"

    packages = [Package("ours", make_package(baked, python, sls))]
    floor = sibling_project(baked, workdir / "floor", FLOOR_MAIN, pinned(baked, FLOOR_PACKAGES, python_version))
    packages.append(Package("floor", make_package(floor, python, sls)))
    floor_db = sibling_project(
        baked, workdir / "floor_db", FLOOR_MAIN + FLOOR_DB_IMPORTS, pinned(baked, FLOOR_DB_PACKAGES, python_version)
    )
    packages.append(Package("floor_db", make_package(floor_db, python, sls)))
    default = workdir / "plugin_default"
    shutil.copytree(
        baked, default, ignore=shutil.ignore_patterns(".venv", "node_modules", ".serverless"), symlinks=True
    )
    (default / "infra" / "node_modules").symlink_to(infra / "node_modules")
    plugin_default_config(default / "infra" / "serverless.yml")
    packages.append(Package("plugin_default", make_package(default, python, sls)))
    return packages
