"""Retries of short write transactions: deadlock victims, and writes that must outlast a
database outage (tenacity policies shared by every store).

MariaDB and PostgreSQL may pick one of two concurrent transactions as a deadlock victim (the
job-run claim, a finish and a lease sweep touch the same index entries in different orders);
the victim was rolled back whole, so running it again is safe.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random_exponential,
)

log = logging.getLogger("encore.storage")
P = ParamSpec("P")
R = TypeVar("R")
DEADLOCK_CODES = (1213, 1205, "40P01", "40001")  # MariaDB deadlock/lock wait; PG deadlock/serial


def is_deadlock(exc: BaseException) -> bool:
    """True for a transaction the database rolled back to break a deadlock."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or (orig.args[0] if orig and orig.args else None)
    return code in DEADLOCK_CODES


def deadlock_retrying(tries: int = 4) -> Retrying:
    """A tenacity policy: retry a deadlock victim with a short random backoff."""
    return Retrying(
        retry=retry_if_exception(is_deadlock),
        stop=stop_after_attempt(tries),
        wait=wait_random_exponential(multiplier=0.02, max=0.5),
        before_sleep=before_sleep_log(log, logging.INFO),
        reraise=True,
    )


def retry_deadlocks(write: Callable[P, R]) -> Callable[P, R]:
    """Decorate a method that runs one write transaction: a deadlock victim runs again."""

    @functools.wraps(write)
    def retried(*args: P.args, **kwargs: P.kwargs) -> R:
        return deadlock_retrying()(write, *args, **kwargs)

    return retried


OUTAGE_SECONDS = 120.0  # longer than a database restart; shorter than a run's lease (2 min+)


def is_unreachable(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (not a rejected write)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError) and not is_deadlock(exc)


def retry_through_outage(write: Callable[P, R]) -> Callable[P, R]:
    """Decorate an idempotent write that must not be lost to a database restart (a run's
    outcome): it is retried with backoff until the database answers again."""

    @functools.wraps(write)
    def retried(*args: P.args, **kwargs: P.kwargs) -> R:
        policy = Retrying(
            retry=retry_if_exception(is_unreachable),
            stop=stop_after_delay(OUTAGE_SECONDS),
            wait=wait_exponential(multiplier=0.5, max=5),
            before_sleep=before_sleep_log(log, logging.WARNING),
            reraise=True,
        )
        return policy(write, *args, **kwargs)

    return retried
