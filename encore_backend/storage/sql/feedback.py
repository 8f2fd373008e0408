"""PLACEHOLDER: to be implemented (owner named in the brief)."""

from __future__ import annotations

from sqlalchemy import Engine


class SqlFeedbackStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
