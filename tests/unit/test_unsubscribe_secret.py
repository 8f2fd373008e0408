"""Which key signs unsubscribe links: the dedicated secret, else the admin token, else a dev key."""

from __future__ import annotations

from encore_backend.config import Settings
from encore_backend.services.email_service import DEV_UNSUBSCRIBE_SECRET, unsubscribe_secret


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_dedicated_secret_wins_over_the_admin_token() -> None:
    both = settings(encore_unsubscribe_secret="links-key", encore_admin_token="admin")
    assert unsubscribe_secret(both) == "links-key"


def test_without_it_the_admin_token_signs_then_the_dev_key() -> None:
    assert unsubscribe_secret(settings(encore_admin_token="admin")) == "admin"
    assert unsubscribe_secret(settings()) == DEV_UNSUBSCRIBE_SECRET


def test_the_setting_is_read_from_the_environment(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ENCORE_UNSUBSCRIBE_SECRET", "from-env")
    assert unsubscribe_secret(settings()) == "from-env"
