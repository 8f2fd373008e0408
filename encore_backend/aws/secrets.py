"""Settings kept in AWS Secrets Manager, read once per cold start.

The function's configuration names the secrets (their ARNs), never their values: anyone who
may read the function's settings still cannot read the database password.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from encore_backend.config import ConfigError

# Environment variable holding a secret's ARN -> the setting its SecretString provides.
SECRET_SETTINGS = {
    "ENCORE_DATABASE_URL_SECRET_ARN": "encore_database_url",
    "ENCORE_UNSUBSCRIBE_SECRET_ARN": "encore_unsubscribe_secret",
}


def secret_settings(environ: Mapping[str, str], client: Any | None = None) -> dict[str, str]:
    """The settings whose secrets `environ` names; ConfigError naming the variable when one
    cannot be read."""
    named = {env: environ[env] for env in SECRET_SETTINGS if environ.get(env)}
    if not named:
        return {}
    # A session of its own: the process-wide default one would keep these credentials.
    session = boto3.session.Session()
    client = client or session.client("secretsmanager", region_name=environ.get("AWS_REGION"))
    return {SECRET_SETTINGS[env]: _read(client, env, arn) for env, arn in named.items()}


def _read(client: Any, env: str, arn: str) -> str:
    try:
        value = client.get_secret_value(SecretId=arn).get("SecretString")
    except (ClientError, BotoCoreError) as exc:
        raise ConfigError(f"{env}: cannot read secret {arn}: {exc}") from None
    if not value:
        raise ConfigError(f"{env}: secret {arn} has no text value (SecretString)")
    return str(value).strip()
