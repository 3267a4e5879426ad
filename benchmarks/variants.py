"""Build the Lambda packages the benchmarks compare, all from one baked project and its own infra/ folder.

- ours: the default bake, `make package` as a team runs it.
- floor: FastAPI + Mangum with one route, packaged the same way (same serverless.yml, plugins and Makefile).
- floor_db: the floor plus the same database stack (SQLAlchemy async, aiomysql, pydantic-settings), same way.
- floor_read: floor_db's packages serving the example module's read, GET /challenges/{id}, with plain SQLAlchemy: a
  model of the same table, an async engine on aiomysql with TLS and one pooled connection, a session per request.
- plugin_default: the default bake packaged the way serverless-python-requirements does by default
  (no bytecode step, no slimming).
- open: the same bake with api_auth=none (no authorizer, identity, scopes or owner filter), packaged like ours: the
  baseline of what authentication costs.

All are built for the architecture this machine runs, so they can be measured here; ours is built once more for the
other architecture, for its size.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.packaging_tools import OSLS_SLS, drop_v4_org, make_package, package_offline

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
FLOOR_READ_MAIN = '''"""FastAPI + Mangum reading one row with plain SQLAlchemy: async engine, aiomysql, TLS, one pooled
connection; settings straight from the environment."""

import os
import ssl
from datetime import datetime

from fastapi import FastAPI, HTTPException
from mangum import Mangum
from sqlalchemy import URL, DateTime, Integer, String, Text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Challenge(Base):
    __tablename__ = "challenge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)


url = URL.create(
    "mysql+aiomysql",
    username=os.environ["DB_USER"],
    password=os.environ["DB_PASSWORD"],
    host=os.environ["DB_HOST"],
    port=int(os.environ["DB_PORT"]),
    database=os.environ["DB_NAME"],
    query={"charset": "utf8mb4"},
)
tls = ssl.create_default_context(cafile=os.environ["DB_SSL_CA"])
engine = create_async_engine(url, pool_size=1, max_overflow=0, connect_args={"ssl": tls})
session_factory = async_sessionmaker(engine, expire_on_commit=False)
app = FastAPI()


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/challenges/{challenge_id}")
async def read_challenge(challenge_id: int) -> dict[str, object]:
    async with session_factory() as session:
        challenge = await session.get(Challenge, challenge_id)
    if challenge is None:
        raise HTTPException(status_code=404)
    return {
        "id": challenge.id,
        "title": challenge.title,
        "description": challenge.description,
        "created_at": challenge.created_at.isoformat(),
    }


handler = Mangum(app, lifespan="off")
'''
FLOOR_PACKAGES = {"fastapi", "mangum"}
FLOOR_DB_PACKAGES = FLOOR_PACKAGES | {"sqlalchemy", "aiomysql", "pydantic-settings", "greenlet"}


@dataclass(frozen=True)
class Package:
    """A built deployment zip."""

    name: str
    zip_path: Path


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
    # The Makefile stages the migration function too; the floors have none, and an empty one adds nothing to measure.
    (destination / "migrate.py").write_text("")
    (destination / "migrations").mkdir()
    (destination / "requirements.txt").write_text(requirements)
    return destination


def plugin_default_config(serverless_yml: Path) -> None:
    """Rewrite serverless.yml to use serverless-python-requirements with its defaults only."""
    config = yaml.safe_load(serverless_yml.read_text())
    config["plugins"] = ["serverless-python-requirements"]
    python_requirements = config["custom"]["pythonRequirements"]
    config["custom"]["pythonRequirements"] = {key: python_requirements[key] for key in ("fileName", "pythonBin")}
    # The same files as ours (the CA bundle too: a deployed stage refuses to start without it), the plugin's defaults
    # for everything else.
    config["package"]["patterns"] = ["!**", "main.py", "migrate.py", "app/**", "migrations/**", "certs/*.pem"]
    serverless_yml.write_text(yaml.safe_dump(config, sort_keys=False))


def kept(name: str, zip_path: Path, workdir: Path) -> Package:
    """The zip moved out of .serverless/, where the next `make package` of the same project would replace it."""
    destination = workdir / "zips" / f"{name}.zip"
    destination.parent.mkdir(parents=True, exist_ok=True)
    return Package(name, Path(shutil.move(zip_path, destination)))


def build_all(
    baked: Path, open_bake: Path, workdir: Path, python: str, python_version: str, architecture: str
) -> list[Package]:
    """Ours packaged offline as the tests package a bake (npm ci, osls), then the others with its node_modules, all
    for `architecture`; open_bake is a render of the api_auth=none bake."""
    infra = baked / "infra"
    packages = [kept("ours", package_offline(baked, python, architecture), workdir)]
    db_requirements = pinned(baked, FLOOR_DB_PACKAGES, python_version)
    siblings = {
        "floor": (FLOOR_MAIN, pinned(baked, FLOOR_PACKAGES, python_version)),
        "floor_db": (FLOOR_MAIN + FLOOR_DB_IMPORTS, db_requirements),
        "floor_read": (FLOOR_READ_MAIN, db_requirements),
    }
    for name, (main_source, requirements) in siblings.items():
        sibling = sibling_project(baked, workdir / name, main_source, requirements)
        packages.append(kept(name, make_package(sibling, python, OSLS_SLS, architecture), workdir))
    default = workdir / "plugin_default"
    shutil.copytree(
        baked, default, ignore=shutil.ignore_patterns(".venv", "node_modules", ".serverless"), symlinks=True
    )
    (default / "infra" / "node_modules").symlink_to(infra / "node_modules")
    plugin_default_config(default / "infra" / "serverless.yml")
    packages.append(kept("plugin_default", make_package(default, python, OSLS_SLS, architecture), workdir))
    packages.append(
        kept("open", make_package(packaged_like(baked, open_bake), python, OSLS_SLS, architecture), workdir)
    )
    return packages


def packaged_like(baked: Path, other: Path) -> Path:
    """Another render of the template made ready to package as ours was: the same pinned requirements, node_modules
    and CA bundle, and no v4 `org` (osls packages it)."""
    shutil.copy(baked / "requirements.txt", other / "requirements.txt")
    shutil.copytree(baked / "infra" / "certs", other / "infra" / "certs", dirs_exist_ok=True)
    (other / "infra" / "node_modules").symlink_to(baked / "infra" / "node_modules")
    drop_v4_org(other / "infra")
    return other


def build_like_ours(
    baked: Path,
    others: dict[str, Path],
    workdir: Path,
    python: str,
    architecture: str,
    inputs: dict[str, dict[str, str]],
) -> list[Package]:
    """Other renders of the template, each packaged as ours was (see packaged_like) with its own extra inputs to
    `make package`."""
    return [
        kept(
            name,
            make_package(packaged_like(baked, other), python, OSLS_SLS, architecture, env_overrides=inputs[name]),
            workdir,
        )
        for name, other in others.items()
    ]


def build_ours_for(baked: Path, workdir: Path, python: str, architecture: str) -> Package:
    """Ours packaged again for another architecture (after build_all, whose npm ci and osls it reuses)."""
    return kept(f"ours_{architecture}", make_package(baked, python, OSLS_SLS, architecture), workdir)
