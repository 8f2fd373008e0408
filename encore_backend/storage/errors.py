"""The exceptions every store raises, whatever its backend: callers catch these, never a
driver's or an ORM's own (the adapter's error stays attached as the cause)."""

from __future__ import annotations


class StorageError(Exception):
    """A store could not do what was asked."""


class StorageUnavailable(StorageError):
    """The store could not be reached, or dropped the connection: trying later may work."""


class VenueExistsError(StorageError):
    """A venue with this id already exists."""
