"""The edge of the SQL adapters: what leaves a store's public method is a port exception
(storage.errors), never SQLAlchemy's, so callers do not depend on the backend.

The translation wraps the public methods only, outside their own retry decorators: deadlock and
outage retries (retries.py) still see the database's errors, and only what they give up on is
translated. Private helpers keep raising SQLAlchemy errors for the store itself to handle.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from encore_backend.storage.errors import StorageError, StorageUnavailable
from encore_backend.storage.sql.retries import is_unreachable

T = TypeVar("T", bound=type)
TRANSLATED = "_encore_translated"


def to_port_error(exc: SQLAlchemyError) -> StorageError:
    """The port exception for a database error (its message kept)."""
    kind = StorageUnavailable if is_unreachable(exc) else StorageError
    return kind(str(exc))


def _translating(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except SQLAlchemyError as exc:
            raise to_port_error(exc) from exc

    setattr(call, TRANSLATED, True)
    return call


def raises_port_errors(cls: T) -> T:
    """Class decorator for a SQL store: every public method (inherited ones too) raises
    StorageError / StorageUnavailable instead of SQLAlchemy's exceptions."""
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if not name.startswith("_") and not getattr(member, TRANSLATED, False):
            setattr(cls, name, _translating(member))
    return cls
