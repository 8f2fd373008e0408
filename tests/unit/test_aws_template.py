"""deploy/aws/template.yaml: valid for cfn-lint, its schedules the registry's, least privilege."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from cfnlint.decode import decode
from typer.testing import CliRunner

from encore_backend.aws.schedules import NotExpressible, expression, schedule_resources
from encore_backend.cli import app
from encore_backend.config import Settings
from encore_backend.scheduler.cron import Cron
from encore_backend.scheduler.registry import REGISTRY, Every
from encore_backend.storage.dynamodb.connection import Dynamo
from encore_backend.storage.dynamodb.schema import TABLES, TTL_ATTRIBUTE
from encore_backend.storage.dynamodb.tables import create_table_request

TEMPLATE = Path(__file__).parents[2] / "deploy" / "aws" / "template.yaml"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    decoded, problems = decode(str(TEMPLATE))
    assert not problems
    return json.loads(json.dumps(decoded))  # plain dicts and lists


@pytest.fixture
def defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    """The settings' own defaults, whatever this shell exports (or a .env file says)."""
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def of_type(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def test_cfn_lint_passes() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    done = subprocess.run([str(cfn_lint), str(TEMPLATE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_template_schedules_are_the_registry_s(
    template: dict[str, Any], defaults: Settings
) -> None:
    """One schedule per job, exactly as `encore aws render-schedules` derives it."""
    assert of_type(template, "AWS::Scheduler::Schedule") == schedule_resources(defaults)


def test_schedules_fire_on_time_with_the_scheduled_time_as_input(template: dict[str, Any]) -> None:
    schedules = of_type(template, "AWS::Scheduler::Schedule").values()
    inputs = [json.loads(s["Properties"]["Target"]["Input"]) for s in schedules]
    assert sorted(i["job_id"] for i in inputs) == sorted(spec.id for spec in REGISTRY)
    assert {i["scheduled_time"] for i in inputs} == {"<aws.scheduler.scheduled-time>"}
    for schedule in schedules:
        assert schedule["Properties"]["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert schedule["Properties"]["Target"]["RetryPolicy"]["MaximumRetryAttempts"] > 0


def test_the_seed_intervals_and_crons(defaults: Settings) -> None:
    by_job = {spec.id: expression(spec.schedule, defaults) for spec in REGISTRY}
    assert by_job == {
        "stats_aggregator": "rate(5 minutes)",
        "alert_detector": "rate(5 minutes)",
        "ai_generator": "rate(10 minutes)",
        "email_sender": "rate(5 minutes)",
        "daily_report": "cron(5 * * * ? *)",
        "weekly_report": "cron(5 * * * ? *)",
        "weekly_cleanup": "cron(0 3 ? * SUN *)",
        "response_sla": "rate(15 minutes)",
    }


def test_expressions_follow_the_settings(defaults: Settings) -> None:
    settings = defaults.model_copy(
        update={"scheduler_stats_interval_minutes": 1, "scheduler_cleanup_weekday": "wed"}
    )
    assert expression(Every("scheduler_stats_interval_minutes"), settings) == "rate(1 minute)"
    assert expression(Every(minutes=90), settings) == "rate(90 minutes)"
    assert expression(Cron(minute=30, hour_setting="scheduler_cleanup_hour"), settings) == (
        "cron(30 3 * * ? *)"
    )
    weekly = Cron(
        hour_setting="scheduler_cleanup_hour", weekday_setting="scheduler_cleanup_weekday"
    )
    assert expression(weekly, settings) == "cron(0 3 ? * WED *)"


@pytest.mark.parametrize("minutes", [0.05, 2.5])
def test_rates_eventbridge_cannot_express_are_refused(defaults: Settings, minutes: float) -> None:
    settings = defaults.model_copy(update={"scheduler_ai_interval_minutes": minutes})
    with pytest.raises(NotExpressible, match="SCHEDULER_AI_INTERVAL_MINUTES"):
        expression(Every("scheduler_ai_interval_minutes"), settings)


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_render_schedules_prints_them(defaults: Settings, fmt: str) -> None:
    result = CliRunner().invoke(app, ["aws", "render-schedules", "--format", fmt])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout) if fmt == "json" else yaml.safe_load(result.stdout)
    assert printed == schedule_resources(defaults)


def test_render_schedules_refuses_a_sub_minute_interval(
    defaults: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCHEDULER_EMAIL_INTERVAL_MINUTES", "0.05")
    result = CliRunner().invoke(app, ["aws", "render-schedules"])
    assert result.exit_code == 2
    assert "SCHEDULER_EMAIL_INTERVAL_MINUTES=0.05" in result.output


def test_the_functions_handlers_exist(template: dict[str, Any]) -> None:
    functions = of_type(template, "AWS::Serverless::Function")
    assert set(functions) == {"JobFunction", "HttpFunction"}
    for function in functions.values():
        (handler,) = function["Properties"]["ImageConfig"]["Command"]
        module, _, name = handler.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))


def actions(node: Any) -> Iterator[str]:
    """Every IAM action named anywhere in the template."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Action":
                yield from [value] if isinstance(value, str) else value
            else:
                yield from actions(value)
    elif isinstance(node, list):
        for item in node:
            yield from actions(item)


def test_iam_names_every_action(template: dict[str, Any]) -> None:
    named = set(actions(template["Resources"]))
    assert "*" not in "".join(named)
    assert {"ses:SendRawEmail", "bedrock:InvokeModel", "lambda:InvokeFunction"} <= named
    assert "secretsmanager:GetSecretValue" in named


def test_the_dynamodb_tables_are_the_schema_s(template: dict[str, Any]) -> None:
    """The template's tables equal storage/dynamodb/schema.py: keys, indexes, TTL, billing."""

    def described(props: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": props["TableName"]["Fn::Sub"].replace("${TablePrefix}", ""),
            "billing": props["BillingMode"],
            "attributes": sorted(
                (a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]
            ),
            "keys": [(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]],
            "indexes": sorted(
                (i["IndexName"], tuple((k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]))
                for i in props.get("GlobalSecondaryIndexes", [])
            ),
            "ttl": props.get("TimeToLiveSpecification", {}).get("AttributeName"),
        }

    dynamo = Dynamo(boto3.client("dynamodb", region_name="us-east-1"), prefix="")
    expected = []
    for spec in TABLES:
        request = create_table_request(dynamo, spec)
        request["TableName"] = {"Fn::Sub": "${TablePrefix}" + request["TableName"]}
        if spec.ttl:
            request["TimeToLiveSpecification"] = {"AttributeName": TTL_ATTRIBUTE}
        expected.append(described(request))
    tables = of_type(template, "AWS::DynamoDB::Table").values()
    actual = [described(t["Properties"]) for t in tables]
    assert sorted(actual, key=lambda t: t["name"]) == sorted(expected, key=lambda t: t["name"])
