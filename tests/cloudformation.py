"""Reading the CloudFormation the tests check: a package's packaged template, its resources by type, its functions'
properties and roles' statements; infra/ci-access.yml evaluated as CloudFormation would create it, and its service
role; checkov's findings on a template."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

from tests.conftest import tool
from tests.packages import SECRET_ARN, Package


def packaged_template(package: Package) -> dict[str, Any]:
    template: dict[str, Any] = json.loads(
        (package.infra / ".serverless" / "cloudformation-template-update-stack.json").read_text()
    )
    return template


def resources_of_type(resources: Mapping[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The properties of every resource of one CloudFormation type, by logical id."""
    return {name: resource["Properties"] for name, resource in resources.items() if resource["Type"] == kind}


def role_statements(resources: Mapping[str, Any], role: str) -> list[dict[str, Any]]:
    (policy,) = resources[role]["Properties"]["Policies"]
    return list(policy["PolicyDocument"]["Statement"])


def function_properties(resources: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: resources[f"{name.capitalize()}LambdaFunction"]["Properties"] for name in ("api", "migrate")}


# What active tracing needs of a function's role; X-Ray's actions take no resource.
TRACE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")

# The pseudo parameters CloudFormation fills in, for evaluating ci-access.yml as a stack in the test account.
PSEUDO_PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "ap-northeast-2",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}

NO_VALUE_MARK = object()


def evaluated(template: Mapping[str, Any], parameters: Mapping[str, str], section: str = "Resources") -> dict[str, Any]:
    """The template's Resources (or another section) as CloudFormation would create them with these parameters: Ref
    of a parameter or pseudo parameter, conditions, Fn::If (AWS::NoValue removes the item), Fn::Sub, Fn::Select,
    Fn::Split, Fn::Join and Fn::GetAZs resolved; references to resources (Ref, Fn::GetAtt, ${Resource.Arn}) and the
    functions given them left as written."""
    declared = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    given = {**declared, **parameters}
    lists = {name for name, spec in template["Parameters"].items() if spec["Type"].endswith(("List", ">"))}
    values = {**given, **{name: str(given[name]).split(",") for name in lists}, **PSEUDO_PARAMETERS}
    conditions: dict[str, bool] = {}

    def condition(name: str) -> bool:
        if name not in conditions:
            conditions[name] = bool(resolve(template["Conditions"][name]))
        return conditions[name]

    def substitute(text: str, names: Mapping[str, Any]) -> str:
        return re.sub(r"\$\{([^}]+)\}", lambda m: str({**values, **names}.get(m[1], m[0])), text)

    def resolve(node: Any) -> Any:
        if isinstance(node, list):
            return [item for item in map(resolve, node) if item is not NO_VALUE_MARK]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, argument),) = node.items()
            if key == "Ref":
                return NO_VALUE_MARK if argument == "AWS::NoValue" else values.get(argument, {"Ref": argument})
            if key == "Fn::If":
                return resolve(argument[1] if condition(argument[0]) else argument[2])
            if key == "Fn::And":
                return all(resolve(argument))
            if key == "Fn::Or":
                return any(resolve(argument))
            if key == "Condition" and isinstance(argument, str):
                return condition(argument)
            if key == "Fn::GetAZs":
                return [f"{values['AWS::Region']}{zone}" for zone in "abc"]
            if key == "Fn::Equals":
                first, second = resolve(argument)
                return first == second
            if key == "Fn::Not":
                return not resolve(argument[0])
            if key == "Fn::Select":
                index, items = resolve(argument)
                return items[int(index)] if isinstance(items, list) else {key: [index, items]}
            if key == "Fn::Split":
                text = resolve(argument[1])
                return {key: [argument[0], text]} if isinstance(text, dict) else str(text).split(argument[0])
            if key == "Fn::Join":
                items = resolve(argument[1])
                if all(isinstance(item, str) for item in items):
                    return argument[0].join(items)
                return {key: [argument[0], items]}
            if key == "Fn::Sub":
                if isinstance(argument, str):
                    return substitute(argument, {})
                text, names = resolve(argument)
                # A name given an import (or any function CloudFormation resolves at deploy time) stays as written.
                if not all(isinstance(value, str) for value in names.values()):
                    return {key: [text, names]}
                return substitute(text, names)
        return {
            key: value
            for key, value in ((key, resolve(value)) for key, value in node.items())
            if value is not NO_VALUE_MARK
        }

    return resolve(dict(template[section]))  # type: ignore[no-any-return]


def created(template: Mapping[str, Any], parameters: Mapping[str, str], section: str = "Resources") -> dict[str, Any]:
    """evaluated(), without the resources (or outputs) whose Condition is false with these parameters."""
    guarded = {
        name: ({"Fn::If": [entry["Condition"], entry, {"Ref": "AWS::NoValue"}]} if "Condition" in entry else entry)
        for name, entry in template[section].items()
    }
    return evaluated({**template, section: guarded}, parameters, section)


def ci_access_template(project: Path) -> dict[str, Any]:
    """infra/ci-access.yml as data, read with CloudFormation's loader (the file has !Ref tags)."""
    template: dict[str, Any] = cfn_yaml.loads((project / "infra" / "ci-access.yml").read_text())
    return template


def service_role(project: Path) -> dict[str, Any]:
    """The CloudFormation service role of ci-access.yml, evaluated for the prod stage."""
    resources = evaluated(ci_access_template(project), {"DatabaseSecretArn": SECRET_ARN})
    role: dict[str, Any] = resources["CloudFormationRole"]["Properties"]
    return role


def checkov_failures(template: Path, skips: Mapping[str, str], require_checks: bool = True) -> list[str]:
    """checkov's failed checks on a CloudFormation file, offline, the skipped ones left out. require_checks=False for
    a file of resource types checkov has no check for yet (it then prints its summary alone)."""
    command = [tool("checkov"), "-f", str(template), "--framework", "cloudformation", "--skip-download"]
    command += ["--output", "json", "--skip-check", ",".join(skips) or "NONE"]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=template.parent)
    report = json.loads(result.stdout)
    summary = report.get("summary", report)
    assert summary["parsing_errors"] == 0 and (summary["passed"] > 0 or not require_checks), result.stdout
    return [f"{check['check_id']} {check['resource']}" for check in report.get("results", {}).get("failed_checks", [])]
