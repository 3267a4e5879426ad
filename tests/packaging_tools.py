"""How the template's tests and benchmarks package a bake: run a command (in an environment without the caller's
virtualenv), find an interpreter, package offline with osls for a Lambda architecture, read the ELF machines in a
zip and unpack it read-only as Lambda's /var/task. Free of pytest: the benchmarks import it too.

Functions raise HarnessError carrying the failed command's output; tests turn it into a failure, benchmarks into
an exit message.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import stat
import subprocess
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import trustme

# What `make package` needs from the deploying shell of the default bake (db_credentials=secrets_manager: the secret's
# ARN, a placeholder; SERVERLESS_ORG only matters to the v4 flavour; api_auth=jwt: a Cognito user pool's issuer and
# two app client ids, which an api_auth=none bake ignores).
PACKAGE_ENV = {
    "DB_HOST": "db.invalid",
    "DB_SECRET_ARN": "arn:aws:secretsmanager:ap-northeast-2:123456789012:secret:app-db-AbCdEf",
    "SERVERLESS_ORG": "example-org",
    "JWT_ISSUER_URL": "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_AbCdEf123",
    "JWT_AUDIENCE": "4b1tq8rvd2mdb0example01,7uuo3mu3ohp6qexample02",
}
# Where `make ca-bundle` puts AWS's CAs of RDS and RDS Proxy, which packaging requires (infra/Makefile, check-ca).
CA_BUNDLE = Path("certs") / "aws-database-ca-bundle.pem"
OSLS = "osls@4.3.1"
# The SLS value for `make package` once osls is installed in infra/node_modules.
OSLS_SLS = "npx osls"
NPM = ["npm", "--no-audit", "--no-fund", "--loglevel=error"]
# The ELF header's e_machine for each Lambda architecture.
ELF_MACHINES = {"x86_64": 62, "arm64": 183}


class HarnessError(RuntimeError):
    """A command the harness ran failed; the message holds the command and its output."""


def run_command(command: list[str], cwd: Path, env: Mapping[str, str] | None = None, timeout: int = 600) -> str:
    """Run a command and return its output; raise HarnessError with that output when it exits non-zero."""
    result = subprocess.run(
        command, cwd=cwd, env=dict(env or os.environ), capture_output=True, text=True, timeout=timeout, check=False
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise HarnessError(f"{' '.join(command)} exited {result.returncode} in {cwd}:\n{output}")
    return output


def project_env(**overrides: str) -> dict[str, str]:
    """The environment for running a baked project's tools: no inherited virtualenv, no settings leaking in."""
    env = {key: value for key, value in os.environ.items() if key not in {"VIRTUAL_ENV", "DATABASE_URL"}}
    env.update(overrides)
    return env


def find_python(version: str) -> str:
    """The system interpreter of a Python version (it has pip, which serverless-python-requirements needs)."""
    result = subprocess.run(["uv", "python", "find", "--system", version], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise HarnessError(f"Python {version} not found by uv: {result.stderr.strip()}")
    return result.stdout.strip()


def uses_v4_cli(infra: Path) -> bool:
    """Whether the bake's infra/ installs Serverless v4 (the default flavour) rather than osls."""
    package_json = json.loads((infra / "package.json").read_text(encoding="utf-8"))
    return "serverless" in package_json["devDependencies"]


def drop_v4_org(infra: Path) -> None:
    """serverless.yml without `org` (v4's dashboard key, which osls rejects), so that osls packages a v4 bake."""
    config = infra / "serverless.yml"
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    config.write_text("".join(line for line in lines if not line.startswith("org:")), encoding="utf-8")


def install_osls_for_v4(infra: Path) -> None:
    """Put osls in place of the v4 CLI, which downloads its binary and needs an account: same serverless.yml, minus
    `org`."""
    drop_v4_org(infra)
    run_command([*NPM, "install", "--no-save", OSLS], infra)


def host_architecture() -> str:
    """The Lambda architecture this machine runs: only packages built for it can be invoked here."""
    return "arm64" if platform.machine().lower() in {"aarch64", "arm64"} else "x86_64"


def make_package(
    project: Path,
    python: str,
    sls: str | None = None,
    architecture: str | None = None,
    stage: str | None = None,
    env_overrides: Mapping[str, str] | None = None,
) -> Path:
    """`make package` in a project laid out like a bake, dependencies built by `python`, for the bake's architecture
    or the one given (LAMBDA_ARCHITECTURE, the deploy-time override), for the bake's default stage or `stage`, with
    PACKAGE_ENV plus env_overrides as the deploying shell; returns the zip."""
    command = ["make", "package"] + ([f"SLS={sls}"] if sls else []) + ([f"STAGE={stage}"] if stage else [])
    env = project_env(PYTHON_BIN=python, **PACKAGE_ENV)
    env.pop("LAMBDA_ARCHITECTURE", None)
    if architecture:
        env["LAMBDA_ARCHITECTURE"] = architecture
    env.update(env_overrides or {})
    run_command(command, project / "infra", env, timeout=900)
    zips = list((project / "infra" / ".serverless").glob("*.zip"))
    if len(zips) != 1:
        raise HarnessError(f"expected one zip in {project / 'infra' / '.serverless'}, found {zips}")
    return zips[0]


def package_offline(
    project: Path,
    python: str,
    architecture: str | None = None,
    stage: str | None = None,
    env_overrides: Mapping[str, str] | None = None,
) -> Path:
    """npm ci from the committed lock, osls for the v4 flavour, a test CA in place of AWS's bundle unless one is
    there already (`make ca-bundle` needs the internet), then `make package` (see make_package); returns the zip."""
    infra = project / "infra"
    if not (infra / CA_BUNDLE).exists():
        (infra / CA_BUNDLE).parent.mkdir(parents=True, exist_ok=True)
        trustme.CA().cert_pem.write_to_path(str(infra / CA_BUNDLE))
    run_command([*NPM, "ci"], infra)
    sls = None
    if uses_v4_cli(infra):
        install_osls_for_v4(infra)
        sls = OSLS_SLS
    return make_package(project, python, sls, architecture, stage, env_overrides)


def elf_machines(zip_path: Path) -> dict[str, int]:
    """The e_machine of every ELF file in a zip (shared objects, mostly), by name."""
    machines = {}
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            with archive.open(info) as member:
                header = member.read(20)
            if header[:4] == b"\x7fELF" and len(header) == 20:
                machines[info.filename] = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")
    return machines


def sizes(zip_path: Path) -> tuple[float, float]:
    """Zipped and unzipped size in MB."""
    with zipfile.ZipFile(zip_path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    return zip_path.stat().st_size / 1e6, unzipped / 1e6


def copy_project(source: Path, destination: Path) -> Path:
    """Copy a baked project without its virtual environment, so packaging cannot touch the shared bake."""
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".venv", "node_modules"))
    return destination


def set_write_bits(folder: Path, writable: bool) -> None:
    """Remove every write bit under folder, like Lambda's /var/task, or give the owner write access back."""
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod((mode | stat.S_IWUSR) if writable else (mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)))


@contextmanager
def unpacked_read_only(zip_path: Path, destination: Path) -> Iterator[Path]:
    """The zip unpacked into a fresh read-only folder; write bits come back on exit, so the folder can be deleted."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(destination)
    set_write_bits(destination, writable=False)
    try:
        yield destination
    finally:
        set_write_bits(destination, writable=True)
