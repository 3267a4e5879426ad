"""infra/database.yml, the database stack of a stage, evaluated as CloudFormation would create it for dev and prod:
Aurora MySQL Serverless v2 that pauses in dev and keeps a minimum in prod, RDS Proxy in prod only, a network the
database accepts only the functions from, a customer managed key, IAM database authentication, TLS required, no
password anywhere; cfn-lint and checkov on the file; `make -C infra database-<stage>` with a stand-in aws."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from tests.cloudformation import checkov_failures, created, resources_of_type
from tests.conftest import default_context, run, tool
from tests.stand_ins import calls, parameter_overrides, stub_env
from tests.template_files import render_template_file

pytestmark = pytest.mark.slow

CONTEXT = default_context()
SLUG = CONTEXT["project_slug"]
STAGES = ["dev", "prod"]


@pytest.fixture(scope="module")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default bake's infra/Makefile and infra/database.yml, rendered without a bake."""
    folder = tmp_path_factory.mktemp("database-stack") / "infra"
    folder.mkdir()
    for name in ("Makefile", "database.yml"):
        (folder / name).write_text(render_template_file(f"infra/{name}", CONTEXT))
    return folder


@pytest.fixture(scope="module")
def template(infra: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.loads((infra / "database.yml").read_text())
    return loaded


def stack(template: dict[str, Any], stage: str, **parameters: str) -> dict[str, Any]:
    """The resources CloudFormation creates for a stage with these parameters."""
    return created(template, {"Stage": stage, **parameters})


def test_the_database_stack_passes_cfn_lint_and_checkov(infra: Path) -> None:
    """Every checkov finding is skipped in the file itself, with its reason beside it."""
    path = infra / "database.yml"
    run([tool("cfn-lint"), str(path)], infra)
    assert checkov_failures(path, {}) == []
    skips = [
        skip
        for resource in cfn_yaml.loads(path.read_text())["Resources"].values()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips and all(len(skip["comment"]) > 40 for skip in skips)


@pytest.mark.parametrize("stage", STAGES)
def test_dev_pauses_when_idle_and_prod_keeps_a_minimum_behind_a_proxy(template: dict[str, Any], stage: str) -> None:
    """dev: 0 ACU (auto-pause), no proxy (it would keep the cluster awake), short backups, deletable; prod: 0.5 ACU,
    RDS Proxy, two weeks of backups, deletion protection. Both keep a final snapshot on deletion or replacement."""
    resources = stack(template, stage)
    prod = stage == "prod"
    cluster = resources["DatabaseCluster"]
    scaling = cluster["Properties"]["ServerlessV2ScalingConfiguration"]
    assert scaling == {"MinCapacity": 0.5 if prod else 0, "MaxCapacity": 8 if prod else 2, "SecondsUntilAutoPause": 300}
    assert cluster["Properties"]["DeletionProtection"] is prod
    assert cluster["Properties"]["BackupRetentionPeriod"] == (14 if prod else 1)
    assert (cluster["DeletionPolicy"], cluster["UpdateReplacePolicy"]) == ("Snapshot", "Snapshot")
    assert cluster["Properties"]["CopyTagsToSnapshot"] is True
    proxies = {name for name, resource in resources.items() if resource["Type"].startswith("AWS::RDS::DBProxy")}
    assert proxies == ({"DatabaseProxy", "ProxyTargetGroup"} if prod else set())
    assert ("ProxyRole" in resources) is prod


def test_the_stage_defaults_give_way_to_the_parameters(template: dict[str, Any]) -> None:
    resources = stack(template, "prod", MinCapacity="0", MaxCapacity="16", UseProxy="false", BackupRetentionDays="35")
    cluster = resources["DatabaseCluster"]["Properties"]
    assert cluster["ServerlessV2ScalingConfiguration"]["MinCapacity"] == "0"
    assert cluster["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == "16"
    assert cluster["BackupRetentionPeriod"] == "35"
    assert "DatabaseProxy" not in resources
    assert "DatabaseProxy" in stack(template, "dev", UseProxy="true")
    dev = stack(template, "dev", MaxCapacity="4")["DatabaseCluster"]["Properties"]
    assert (dev["ServerlessV2ScalingConfiguration"]["MinCapacity"], dev["BackupRetentionPeriod"]) == (0, 1)
    assert dev["ServerlessV2ScalingConfiguration"]["MaxCapacity"] == "4"


def ingress_rules(resources: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every ingress rule as (the group it admits into, the rule), inline or a resource of its own."""
    rules = [
        (properties["GroupId"]["Ref"], properties)
        for properties in resources_of_type(resources, "AWS::EC2::SecurityGroupIngress").values()
    ]
    for name, properties in resources_of_type(resources, "AWS::EC2::SecurityGroup").items():
        rules += [(name, rule) for rule in properties.get("SecurityGroupIngress", [])]
    return rules


@pytest.mark.parametrize("stage", STAGES)
def test_only_the_functions_reach_the_database_and_nothing_reaches_the_internet(
    template: dict[str, Any], stage: str
) -> None:
    """The database's group admits MySQL from the functions' group (and the proxy's), the proxy's from the functions'
    only, the endpoint's HTTPS from the functions' only; no address range is admitted anywhere, no route leads out."""
    resources = stack(template, stage)
    sources = {
        (group, rule["SourceSecurityGroupId"]["Ref"], rule["IpProtocol"], rule["FromPort"], rule["ToPort"])
        for group, rule in ingress_rules(resources)
    }
    expected = {
        ("DatabaseSecurityGroup", "FunctionSecurityGroup", "tcp", 3306, 3306),
        ("EndpointSecurityGroup", "FunctionSecurityGroup", "tcp", 443, 443),
    }
    if stage == "prod":
        expected |= {
            ("DatabaseSecurityGroup", "ProxySecurityGroup", "tcp", 3306, 3306),
            ("ProxySecurityGroup", "FunctionSecurityGroup", "tcp", 3306, 3306),
        }
    assert sources == expected
    assert all("CidrIp" not in rule and "CidrIpv6" not in rule for _, rule in ingress_rules(resources))
    text = json.dumps(resources)
    assert "0.0.0.0/0" not in text and "::/0" not in text
    outward = ("InternetGateway", "NatGateway", "EgressOnlyInternetGateway", "VPCGatewayAttachment", "EIP", "Route")
    assert [name for name, resource in resources.items() if resource["Type"].split("::")[-1] in outward] == []
    subnets = resources_of_type(resources, "AWS::EC2::Subnet")
    assert len(subnets) == 2 and all(subnet["MapPublicIpOnLaunch"] is False for subnet in subnets.values())
    assert {subnet["AvailabilityZone"] for subnet in subnets.values()} == {"ap-northeast-2a", "ap-northeast-2b"}
    assert resources["DatabaseInstance"]["Properties"]["PubliclyAccessible"] is False
    functions_egress = resources["FunctionSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert [(rule["FromPort"], rule.get("CidrIp")) for rule in functions_egress] == [(3306, None), (443, "10.0.0.0/16")]


def test_an_existing_vpc_replaces_the_created_network(template: dict[str, Any]) -> None:
    subnets = "subnet-0a1b2c3d,subnet-4e5f6a7b"
    resources = stack(template, "prod", ExistingVpcId="vpc-0a1b2c3d", ExistingSubnetIds=subnets, VpcCidr="10.8.0.0/16")
    assert {"Vpc", "PrivateSubnetA", "PrivateSubnetB"} & set(resources) == set()
    groups = resources_of_type(resources, "AWS::EC2::SecurityGroup")
    assert {group["VpcId"] for group in groups.values()} == {"vpc-0a1b2c3d"}
    assert resources["DatabaseSubnetGroup"]["Properties"]["SubnetIds"] == subnets.split(",")
    assert resources["DatabaseProxy"]["Properties"]["VpcSubnetIds"] == subnets.split(",")
    assert "SecretsManagerEndpoint" not in stack(template, "dev", CreateSecretsManagerEndpoint="false")


@pytest.mark.parametrize("stage", STAGES)
def test_storage_secret_and_logins_are_encrypted_and_need_tls(template: dict[str, Any], stage: str) -> None:
    """A customer managed key with rotation encrypts the storage, the RDS-managed master secret and the logs; IAM
    database authentication is on; the server refuses connections without TLS; the cluster pins a version that can
    pause (Aurora MySQL 3.08 or later)."""
    resources = stack(template, stage)
    key = resources["DatabaseKey"]
    assert key["Properties"]["EnableKeyRotation"] is True and key["DeletionPolicy"] == "Retain"
    cluster = resources["DatabaseCluster"]["Properties"]
    assert cluster["StorageEncrypted"] is True
    assert cluster["KmsKeyId"] == {"Fn::GetAtt": ["DatabaseKey", "Arn"]}
    assert cluster["ManageMasterUserPassword"] is True
    assert cluster["MasterUserSecret"] == {"KmsKeyId": {"Ref": "DatabaseKey"}}
    assert cluster["EnableIAMDatabaseAuthentication"] is True
    assert cluster["Engine"] == "aurora-mysql"
    version = re.fullmatch(r"8\.0\.mysql_aurora\.3\.(\d+)\.\d+", cluster["EngineVersion"])
    assert version and int(version[1]) >= 8
    parameters = resources[cluster["DBClusterParameterGroupName"]["Ref"]]["Properties"]
    assert parameters["Family"] == "aurora-mysql8.0"
    assert parameters["Parameters"]["require_secure_transport"] == "ON"
    assert parameters["Parameters"]["slow_query_log"] == "1"
    logs = resources_of_type(resources, "AWS::Logs::LogGroup")
    assert sorted(group["LogGroupName"] for group in logs.values()) == [
        f"/aws/rds/cluster/{SLUG}-{stage}/{kind}" for kind in cluster["EnableCloudwatchLogsExports"]
    ]
    assert cluster["DBClusterIdentifier"] == f"{SLUG}-{stage}"
    assert all(group["RetentionInDays"] == 30 and group["KmsKeyId"] for group in logs.values())


def test_no_password_is_a_parameter_an_output_or_a_property(template: dict[str, Any]) -> None:
    """RDS makes and keeps the master password (ManageMasterUserPassword); the stack never holds one."""
    names = [*template["Parameters"], *template["Outputs"]]
    outputs = created(template, {"Stage": "prod"}, "Outputs")
    assert [name for name in names if "password" in name.lower()] == []
    assert "password" not in json.dumps(outputs).lower()
    properties = json.dumps({name: resource.get("Properties") for name, resource in stack(template, "prod").items()})
    # RDS's own password switch is the only property that names one.
    assert re.findall(r'"(\w*password\w*)":', properties, flags=re.IGNORECASE) == ["ManageMasterUserPassword"]


def test_the_proxy_logs_in_with_iam_as_the_app_user_only(template: dict[str, Any]) -> None:
    """End-to-end IAM: TLS and IAM tokens from the clients, no secret; the proxy's role may connect as exactly the
    app user on exactly this cluster, trusted by RDS for this account."""
    resources = stack(template, "prod")
    proxy = resources["DatabaseProxy"]["Properties"]
    assert (proxy["EngineFamily"], proxy["RequireTLS"], proxy["DefaultAuthScheme"]) == ("MYSQL", True, "IAM_AUTH")
    assert "Auth" not in proxy
    role = resources["ProxyRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "rds.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "rds-db:connect"
    assert statement["Resource"] == (
        "arn:aws:rds-db:ap-northeast-2:123456789012:dbuser:${DatabaseCluster.DBClusterResourceId}/"
        f"{CONTEXT['db_user']}"
    )
    assert "ManagedPolicyArns" not in role


@pytest.mark.parametrize("stage", STAGES)
def test_the_outputs_are_exported_and_point_the_api_at_the_proxy_in_prod(template: dict[str, Any], stage: str) -> None:
    """Exported as "<stack>-<output>", so the service stack imports them; the API's host and rds-db:connect resource
    are the proxy's in prod (its prx- id is the last part of its ARN), the cluster's in dev."""
    outputs = created(template, {"Stage": stage}, "Outputs")
    assert {name: output["Export"]["Name"] for name, output in outputs.items()} == {
        name: f"${{AWS::StackName}}-{name}" for name in outputs
    }
    values = {name: output["Value"] for name, output in outputs.items()}
    cluster_host = {"Fn::GetAtt": ["DatabaseCluster", "Endpoint.Address"]}
    if stage == "prod":
        assert values["DatabaseHost"] == {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]}
        proxy_arn = {"Fn::GetAtt": ["DatabaseProxy", "DBProxyArn"]}
        assert values["ConnectResourceId"] == {"Fn::Select": [6, {"Fn::Split": [":", proxy_arn]}]}
        assert "arn:aws:rds:ap-northeast-2:123456789012:db-proxy:prx-0123abcd".split(":")[6] == "prx-0123abcd"
    else:
        assert values["DatabaseHost"] == cluster_host
        assert values["ConnectResourceId"] == {"Fn::GetAtt": ["DatabaseCluster", "DBClusterResourceId"]}
    assert values["ClusterHost"] == cluster_host
    assert values["MasterSecretArn"] == {"Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]}
    assert values["DatabaseName"] == CONTEXT["db_name"] and values["AppUser"] == CONTEXT["db_user"]
    assert values["SubnetIds"] == {"Fn::Join": [",", [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]]}
    assert values["FunctionSecurityGroupId"] == {"Ref": "FunctionSecurityGroup"}


def database_calls(stage: str, parameters: str) -> list[str]:
    """The aws calls of one `make -C infra database-<stage>`: the stack deployed, then its outputs."""
    stack_name = f"{SLUG}-database-{stage}"
    return [
        f"cloudformation deploy --region ap-northeast-2 --template-file database.yml --stack-name {stack_name}"
        f" --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset --parameter-overrides {parameters}",
        f"cloudformation describe-stacks --region ap-northeast-2 --stack-name {stack_name}"
        " --query Stacks[0].Outputs[].[Description,OutputValue] --output table",
    ]


@pytest.mark.parametrize("stage", STAGES)
def test_make_database_deploys_the_stage_with_its_defaults(infra: Path, stubs: Path, stage: str) -> None:
    run(["make", "-C", "infra", f"database-{stage}"], infra.parent, stub_env(stubs))
    assert calls(stubs, "aws") == database_calls(stage, f"Stage={stage}")


def test_make_database_passes_exactly_the_settings_it_is_given(
    infra: Path, template: dict[str, Any], stubs: Path
) -> None:
    settings = {
        "DB_MIN_CAPACITY": ("MinCapacity", "0.5"),
        "DB_MAX_CAPACITY": ("MaxCapacity", "4"),
        "DB_USE_PROXY": ("UseProxy", "false"),
        "DB_BACKUP_DAYS": ("BackupRetentionDays", "7"),
        "DB_VPC_ID": ("ExistingVpcId", "vpc-0a1b2c3d"),
        "DB_SUBNET_IDS": ("ExistingSubnetIds", "subnet-0a1b2c3d,subnet-4e5f6a7b"),
        "DB_VPC_CIDR": ("VpcCidr", "10.8.0.0/16"),
        "DB_SECRETS_ENDPOINT": ("CreateSecretsManagerEndpoint", "false"),
    }
    arguments = [f"{variable}={value}" for variable, (_, value) in settings.items()]
    run(["make", "-C", "infra", "database-prod", *arguments], infra.parent, stub_env(stubs))
    deploy, _ = calls(stubs, "aws")
    passed = parameter_overrides(deploy)
    assert passed == {"Stage": "prod", **dict(settings.values())}
    assert set(passed) <= set(template["Parameters"])


def test_make_database_refuses_a_stage_it_does_not_know(infra: Path, stubs: Path) -> None:
    refused = subprocess.run(
        ["make", "-C", "infra", "database-staging"],
        cwd=infra.parent,
        env=stub_env(stubs),
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0 and "unknown stage staging" in refused.stdout + refused.stderr
    assert calls(stubs, "aws") == []
