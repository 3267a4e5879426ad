"""Validate every answer before cookiecutter writes anything.

All problems are reported at once, each naming the variable, the bad value and what is allowed. The answers reach
this file as JSON data (never as Python source), so no value can break or inject into the hook.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping

ANSWERS: dict[str, object] = json.loads(r"""{{ cookiecutter | tojson }}""")

# Regions where AWS Lambda runs, as listed by botocore for the aws, aws-cn and aws-us-gov partitions.
# tests/test_hooks.py compares this list with the installed botocore, so a new region fails the suite until added.
AWS_REGIONS = frozenset(
    {
        "af-south-1",
        "ap-east-1",
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-6",
        "ap-southeast-7",
        "ca-central-1",
        "ca-west-1",
        "cn-north-1",
        "cn-northwest-1",
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "il-central-1",
        "me-central-1",
        "me-south-1",
        "mx-central-1",
        "sa-east-1",
        "us-east-1",
        "us-east-2",
        "us-gov-east-1",
        "us-gov-west-1",
        "us-west-1",
        "us-west-2",
    }
)
PYTHON_VERSIONS = ("3.12", "3.13")
LAMBDA_ARCHITECTURES = ("arm64", "x86_64")
LANGUAGES = ("ko", "en")
YES_NO = ("yes", "no")
SERVERLESS_FLAVOURS = ("v4", "osls")
AWS_CREDENTIALS = ("access_keys", "oidc")
LINT_STACKS = ("black_isort_flake8", "ruff")
DB_CREDENTIALS = ("iam", "secrets_manager", "environment")
DATABASES = ("aurora", "existing")
API_AUTH = ("jwt", "none")

# The slug names the folder, the pyproject package and the Serverless service. Lambda function names
# ("<service>-<stage>-migrate") are limited to 64 characters: 40 + 16 each, and together at most FUNCTION_NAME_ROOM
# (cross_problems).
FUNCTION_NAME_ROOM = 64 - len("--migrate")
SLUG_RE = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-)){0,38}[a-z0-9]$")
STAGE_RE = re.compile(r"^[a-z][a-z0-9]{0,15}$")
SERVERLESS_ORG_RE = re.compile(r"^(?:[a-z0-9][a-z0-9-]{0,38})?$")
# A conservative subset of MySQL's unquoted identifiers: no "$" (it means something to the shell, Make and
# Serverless variables), not digits only. MySQL allows 64 characters for database names and 32 for user names.
DB_NAME_RE = re.compile(r"^(?![0-9]+$)[A-Za-z0-9_]{1,64}$")
DB_USER_RE = re.compile(r"^(?![0-9]+$)[A-Za-z0-9_]{1,32}$")
HOST_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
# Control characters, line and paragraph separators, and lone surrogates break "one line of text" in some file.
LINE_BREAKING_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}

Check = Callable[[str], "str | None"]


def free_text(max_length: int, required: bool = True) -> Check:
    """Allow one line of any printable text (quotes, non-ASCII and emoji included) up to max_length."""

    def check(value: str) -> str | None:
        if required and not value.strip():
            return "must not be empty"
        if value != value.strip():
            return "must not start or end with spaces"
        if any(unicodedata.category(character) in LINE_BREAKING_CATEGORIES for character in value):
            return "must be a single line without control characters (tabs, newlines, line separators)"
        if len(value) > max_length:
            return f"must be at most {max_length} characters (got {len(value)})"
        return None

    return check


def pattern(regex: re.Pattern[str], allowed: str) -> Check:
    """Allow values matching regex; allowed describes them to the user."""

    def check(value: str) -> str | None:
        return None if regex.fullmatch(value) else f"allowed: {allowed}"

    return check


def one_of(choices: tuple[str, ...] | frozenset[str], hint: str = "") -> Check:
    """Allow exactly one of choices."""

    def check(value: str) -> str | None:
        if value in choices:
            return None
        listed = ", ".join(sorted(choices)) if len(choices) <= 8 else hint
        return f"allowed: {listed}"

    return check


def integer(low: int, high: int) -> Check:
    """Allow a whole number between low and high inclusive."""

    def check(value: str) -> str | None:
        if not re.fullmatch(r"[0-9]+", value) or not low <= int(value) <= high:
            return f"allowed: a whole number from {low} to {high}"
        return None

    return check


def hostname(value: str) -> str | None:
    """Allow a DNS host name or an IPv4 address (what MySQL clients and docker-compose accept)."""
    labels = value.split(".")
    # A numeric last label is never a DNS top-level name, so the value must then be a dotted IPv4 address.
    if re.fullmatch(r"[0-9]+", labels[-1]):
        valid = len(labels) == 4 and all(re.fullmatch(r"[0-9]{1,3}", label) and int(label) <= 255 for label in labels)
    else:
        valid = len(value) <= 253 and all(HOST_LABEL_RE.fullmatch(label) for label in labels)
    return None if valid else "allowed: a host name (letters, digits, hyphens, dots) or an IPv4 address"


CHECKS: dict[str, Check] = {
    "project_name": free_text(80),
    "project_slug": pattern(
        SLUG_RE, "2-40 lowercase letters, digits and single hyphens, starting with a letter, not ending in a hyphen"
    ),
    "description": free_text(200, required=False),
    "language": one_of(LANGUAGES),
    "python_version": one_of(PYTHON_VERSIONS),
    "aws_region": one_of(AWS_REGIONS, "an AWS region where Lambda runs, such as ap-northeast-2 or us-east-1"),
    "lambda_architecture": one_of(LAMBDA_ARCHITECTURES),
    "serverless_flavour": one_of(SERVERLESS_FLAVOURS),
    "serverless_org": pattern(SERVERLESS_ORG_RE, "empty, or up to 39 lowercase letters, digits and hyphens"),
    "default_stage": pattern(STAGE_RE, "1-16 lowercase letters and digits, starting with a letter (e.g. dev)"),
    "api_auth": one_of(API_AUTH),
    "db_credentials": one_of(DB_CREDENTIALS),
    "database": one_of(DATABASES),
    "db_name": pattern(DB_NAME_RE, "1-64 letters, digits and underscores, not digits only"),
    "db_user": pattern(DB_USER_RE, "1-32 letters, digits and underscores, not digits only"),
    "db_host": hostname,
    "db_port": integer(1, 65535),
    "background_jobs": one_of(YES_NO),
    "use_github_actions": one_of(YES_NO),
    "aws_credentials": one_of(AWS_CREDENTIALS),
    "use_docker": one_of(YES_NO),
    "include_example_module": one_of(YES_NO),
    "lint_stack": one_of(LINT_STACKS),
    "author_name": free_text(100),
    "author_email": pattern(EMAIL_RE, "an e-mail address such as dev@example.com"),
    "run_uv_sync": one_of(YES_NO),
    "git_init": one_of(YES_NO),
}


def find_problems(answers: Mapping[str, object]) -> list[str]:
    """Return one message per invalid answer, in cookiecutter.json order."""
    problems = []
    for name, check in CHECKS.items():
        value = answers.get(name)
        if not isinstance(value, str):
            problems.append(f"{name}: missing or not text (got {value!r})")
            continue
        reason = check(value)
        if reason:
            problems.append(f"{name}: invalid value {value!r}; {reason}")
    return problems or cross_problems(answers)


def cross_problems(answers: Mapping[str, object]) -> list[str]:
    """Problems of valid answers taken together."""
    problems = []
    slug, stage = str(answers["project_slug"]), str(answers["default_stage"])
    if len(slug) + len(stage) > FUNCTION_NAME_ROOM:
        problems.append(
            f"project_slug and default_stage: {slug!r} and {stage!r} are {len(slug) + len(stage)} characters "
            f"together; allowed: at most {FUNCTION_NAME_ROOM}, since the Lambda function name "
            f"{slug}-{stage}-migrate may have at most 64"
        )
    # The cluster this template provisions has no password a function could hold: its master secret belongs to the
    # migration alone, so the API logs in with IAM tokens.
    if answers["database"] == "aurora" and answers["db_credentials"] != "iam":
        problems.append(
            f"database and db_credentials: database 'aurora' with db_credentials {answers['db_credentials']!r}; "
            "allowed: db_credentials 'iam' with database 'aurora' (the API logs in to the provisioned cluster with "
            "IAM tokens), or database 'existing' to bring a server of your own"
        )
    return problems


def main() -> int:
    """Print every problem and return 1, or return 0 when all answers are valid."""
    problems = find_problems(ANSWERS)
    if not problems:
        return 0
    print("Cannot generate the project; fix these answers and run cookiecutter again:", file=sys.stderr)
    for problem in problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
