"""The generated README's "From an empty AWS account" (database=aurora only): its steps in the order AWS needs them, and
a cost table whose arithmetic holds, in both languages."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from tests.conftest import default_context
from tests.template_files import render_template_file
from tests.test_docs_languages import DOCUMENTS, LANGUAGES, render_variant

SECTION_HEADINGS = {"en": "## From an empty AWS account", "ko": "## 빈 AWS 계정에서 첫 요청까지"}
# The CI stack imports the database stack's exports, so it cannot come first; the deploy needs both.
STEP_ORDER = ("make -C infra database-prod", "make -C infra ci-access", "make -C infra deploy-dev")
# What a team that brings its own cluster sets by hand (the API's login, the migration's secret and key, the
# functions' network, the CI stack's VPC switch, the endpoint stack, the exported host). An aurora bake reads none of
# them, so its documents must not ask for any.
OWN_CLUSTER_SETTINGS = re.compile(
    r"DB_RESOURCE_ID|DB_MIGRATION_SECRET_ARN|DB_SECRET_KMS_KEY_ARN|VPC_SUBNET_IDS|VPC_SECURITY_GROUP_IDS|VPC=true"
    r"|secrets-endpoint\.yml|export DB_"
)
# Every list of the GitHub environment's secrets names this one.
SECRETS_LIST_MEMBER = "AWS_MIGRATION_ROLE_ARN"
MONEY = re.compile(r"\$(\d[\d,]*(?:\.\d+)?)")
# A figure of the arithmetic: a number, with or without its dollar sign, or an operator standing alone.
TERM = re.compile(r"\$?(\d[\d,]*(?:\.\d+)?)|(?<![\w-])(x|\+)(?![\w-])")


def section(language: str, **answers: str) -> str:
    """The section as a bake in this language renders it ("" when it has none)."""
    readme = render_variant("README", language, answers)
    heading = SECTION_HEADINGS[language]
    if heading not in readme:
        return ""
    start = readme.index(heading)
    return readme[start : readme.index("\n## ", start + len(heading))]


def secrets_lists(markdown: str) -> list[str]:
    """The lines that list the GitHub environment's secrets."""
    return [line for line in markdown.splitlines() if SECRETS_LIST_MEMBER in line]


def money(cell: str) -> Decimal:
    """The last dollar amount of a cell (its result)."""
    amounts = MONEY.findall(cell)
    assert amounts, cell
    return Decimal(amounts[-1].replace(",", ""))


def evaluate(expression: str) -> Decimal:
    """A sum of products as the table writes it: `2 x 730 h x $0.01`, `$14.60 + 1 GB x $0.01` (units are words)."""
    total, product = Decimal(0), Decimal(1)
    for number, operator in TERM.findall(expression):
        if operator == "+":
            total, product = total + product, Decimal(1)
        elif number:
            product *= Decimal(number.replace(",", ""))
    return total + product


def cost_rows(text: str) -> list[list[str]]:
    """The cells of the cost table's rows below its header, the total last."""
    rows = [line.strip("|").split("|") for line in text.splitlines() if line.startswith("|")]
    table = [[cell.strip() for cell in row] for row in rows if len(row) == 6]
    header = next(index for index, row in enumerate(table) if row[2].startswith("dev"))
    return [row for row in table[header + 1 :] if not set(row[0]) <= {"-"}]


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_section_is_in_aurora_bakes_only(language: str) -> None:
    assert section(language, database="aurora")
    assert section(language, database="existing") == ""


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_steps_come_in_the_order_the_stacks_need(language: str) -> None:
    text = section(language, database="aurora", use_github_actions="yes")
    positions = [text.index(command) for command in STEP_ORDER]
    assert positions == sorted(positions)


# Background jobs add the SQS endpoint's row, and so change the totals.
ITEMS = {"no": 7, "yes": 8}  # capacity, proxy, storage, I/O, key, Secrets Manager endpoint, (SQS endpoint,) secret


@pytest.mark.parametrize("background_jobs", ITEMS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_cost_is_the_arithmetic_it_shows_and_the_totals_add_up(language: str, background_jobs: str) -> None:
    rows = cost_rows(section(language, database="aurora", background_jobs=background_jobs))
    *items, total = rows
    assert len(items) == ITEMS[background_jobs], rows
    columns = range(2, 6)
    for row in items:
        for column in columns:
            left, equals, result = row[column].rpartition("=")
            if equals:
                assert evaluate(left).quantize(Decimal("0.01")) == money(result), row[column]
    for column in columns:
        column_sum = sum((money(row[column]) for row in items if MONEY.search(row[column])), Decimal(0))
        assert money(total[column]) == column_sum, (column, total)


@pytest.mark.parametrize("aws_credentials", ("oidc", "access_keys"))
@pytest.mark.parametrize("use_github_actions", ("yes", "no"))
@pytest.mark.parametrize("document", DOCUMENTS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_aurora_documents_ask_for_no_setting_of_a_cluster_the_team_brings(
    language: str, document: str, use_github_actions: str, aws_credentials: str
) -> None:
    """Nothing about the database comes from the deploying shell, the CI stack's parameters or the GitHub
    environment's secrets: the stacks import it from the database stack."""
    answers = {"use_github_actions": use_github_actions, "aws_credentials": aws_credentials}
    text = render_variant(document, language, {**answers, "database": "aurora", "db_credentials": "iam"})
    assert OWN_CLUSTER_SETTINGS.findall(text) == []
    assert [line for line in secrets_lists(text) if "`DB_" in line] == []
    if document == "README":
        # The same answers with a cluster of the team's own name them: the checks are not vacuous.
        existing = render_variant(document, language, {**answers, "database": "existing", "db_credentials": "iam"})
        assert OWN_CLUSTER_SETTINGS.search(existing)
        if use_github_actions == "yes":
            assert [line for line in secrets_lists(existing) if "`DB_HOST`" in line]


def test_the_database_stack_outputs_ask_for_no_setting_of_a_cluster_the_team_brings() -> None:
    """`make -C infra database-<stage>` prints the outputs' descriptions: none may read as a variable to set."""
    assert OWN_CLUSTER_SETTINGS.findall(render_template_file("infra/database.yml", default_context())) == []
