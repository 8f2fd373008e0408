"""The EventBridge Scheduler schedules of the SAM template, derived from the job registry.

`encore aws render-schedules` prints them; a test holds deploy/aws/template.yaml to them, so
the template and the registry cannot drift apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from encore_backend.config import WEEKDAYS, Settings
from encore_backend.scheduler.cron import Cron
from encore_backend.scheduler.registry import REGISTRY, Every, JobSpec, Schedule

FUNCTION = "JobFunction"  # the template's logical ids the schedules point at
ROLE = "SchedulerRole"
DEAD_LETTERS = "DeadLetterQueue"
TIMEZONE = "UTC"  # the registry's crons are UTC; reports find each venue's local hour
MAX_RETRY_ATTEMPTS = 10
EVENT_AGE = (60, 86400)  # the bounds EventBridge Scheduler accepts, in seconds


class NotExpressible(ValueError):
    """A registry schedule EventBridge Scheduler cannot express (e.g. a sub-minute rate)."""


def expression(schedule: Schedule, settings: Settings) -> str:
    """`rate(…)` for an interval job, `cron(…)` for a wall-clock one."""
    if isinstance(schedule, Every):
        return _rate(schedule, settings)
    if isinstance(schedule, Cron):
        return _cron(schedule, settings)
    raise NotExpressible(f"no EventBridge expression for {schedule!r}")


def _rate(schedule: Every, settings: Settings) -> str:
    minutes = schedule.interval(settings).total_seconds() / 60
    if minutes < 1 or minutes != int(minutes):
        name = (schedule.setting or "interval").upper()
        raise NotExpressible(
            f"{name}={minutes:g}: EventBridge Scheduler rates are whole minutes, at least 1"
        )
    count = int(minutes)
    return f"rate({count} minute{'' if count == 1 else 's'})"


def _cron(schedule: Cron, settings: Settings) -> str:
    hour, weekday = schedule.hour(settings), schedule.weekday(settings)
    if hour is None:
        return f"cron({schedule.minute} * * * ? *)"
    if weekday is None:
        return f"cron({schedule.minute} {hour} * * ? *)"
    return f"cron({schedule.minute} {hour} ? * {WEEKDAYS[weekday].upper()} *)"


def logical_id(job_id: str) -> str:
    """stats_aggregator -> StatsAggregatorSchedule"""
    return "".join(part.title() for part in job_id.split("_")) + "Schedule"


def tick_input(job_id: str) -> str:
    """The event each tick sends: the job and the time the tick was scheduled for."""
    event = {"job_id": job_id, "scheduled_time": "<aws.scheduler.scheduled-time>"}
    return json.dumps(event, separators=(", ", ": "))


def schedule_resource(spec: JobSpec, settings: Settings) -> dict[str, Any]:
    """One AWS::Scheduler::Schedule: on time (no flexible window), retried within the job's
    catch-up window (a later tick would be recorded `missed` anyway)."""
    low, high = EVENT_AGE
    max_age = int(min(max(spec.catch_up(settings).total_seconds(), low), high))
    return {
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {
            "Description": f"encore {spec.id}: {spec.description}"[:512],
            "ScheduleExpression": expression(spec.schedule, settings),
            "ScheduleExpressionTimezone": TIMEZONE,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {
                "Arn": {"Fn::GetAtt": [FUNCTION, "Arn"]},
                "RoleArn": {"Fn::GetAtt": [ROLE, "Arn"]},
                "Input": tick_input(spec.id),
                "RetryPolicy": {
                    "MaximumEventAgeInSeconds": max_age,
                    "MaximumRetryAttempts": MAX_RETRY_ATTEMPTS,
                },
                "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [DEAD_LETTERS, "Arn"]}},
            },
        },
    }


def schedule_resources(
    settings: Settings, specs: Iterable[JobSpec] = REGISTRY
) -> dict[str, dict[str, Any]]:
    """Every job's schedule, by the template's logical id."""
    return {logical_id(spec.id): schedule_resource(spec, settings) for spec in specs}


def render(settings: Settings, *, fmt: str) -> str:
    """The schedules as JSON, or as YAML ready to paste under the template's Resources."""
    resources = schedule_resources(settings)
    if fmt == "json":
        return json.dumps(resources, indent=2)
    import yaml

    return str(yaml.safe_dump(resources, sort_keys=False, width=100))
