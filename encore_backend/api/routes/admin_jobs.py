"""PLACEHOLDER: to be implemented (owner named in the brief)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
