"""Reading the generated suite's output: which operations of the app's OpenAPI document schemathesis fuzzed."""

from __future__ import annotations

import re

# The generated tests/test_api_contract.py (schemathesis) has one test per operation of the app's OpenAPI document,
# and one for workflows across operations; -rsp lists each that passed (and the skip reasons, as -rs did).
FUZZED_OPERATION = re.compile(r"^PASSED tests/test_api_contract\.py::test_every_operation_keeps", re.MULTILINE)
FUZZED_WORKFLOWS = re.compile(r"^PASSED tests/test_api_contract\.py::test_workflows_across_operations", re.MULTILINE)
# GET /health and /health/ready; the example module adds POST /challenges, GET /challenges and GET /challenges/{id}.
HEALTH_OPERATIONS = 2
EXAMPLE_MODULE_OPERATIONS = 3


def documented_operations(include_example_module: str) -> int:
    """How many operations the OpenAPI document of a bake lists."""
    return HEALTH_OPERATIONS + (EXAMPLE_MODULE_OPERATIONS if include_example_module == "yes" else 0)


def assert_api_fuzzed(output: str, operations: int) -> None:
    """The generated suite's output (run with -rsp) shows every operation and the workflows fuzzed, and passed."""
    assert len(FUZZED_OPERATION.findall(output)) == operations, output
    assert FUZZED_WORKFLOWS.search(output), output
