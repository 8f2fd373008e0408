"""What a warm Lambda environment keeps between invocations: the container, built once."""

from __future__ import annotations

import functools
import os

from encore_backend.aws.secrets import secret_settings
from encore_backend.bootstrap import Container, build
from encore_backend.config import load_settings


@functools.cache
def container() -> Container:
    """Settings from the environment and Secrets Manager, wired once per environment."""
    return build(load_settings(**secret_settings(os.environ)))
