"""On every backend a write the database rejects reaches the caller as the ports' StorageError
(not an outage, and not the driver's exception), with the database's message kept."""

from __future__ import annotations

import pytest

from encore_backend.bootstrap import Container
from encore_backend.storage.errors import StorageError, StorageUnavailable


def test_a_rejected_write_is_a_storage_error_on_every_backend(ctx: Container) -> None:
    token = {"token_id": "t1", "name": "ci", "role": "admin", "venue_id": None}
    ctx.tokens.create(**token, token_hash="a" * 64, now=ctx.clock.now())
    with pytest.raises(StorageError) as raised:
        ctx.tokens.create(**token, token_hash="b" * 64, now=ctx.clock.now())
    assert not isinstance(raised.value, StorageUnavailable)
    assert str(raised.value) == str(raised.value.__cause__)
    assert ctx.tokens.find_active_by_hash("b" * 64) is None
