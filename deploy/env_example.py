"""Write deploy/.env.example from the settings classes: every variable every service reads, with its
description and default. `make env-example` runs it; tests/test_deploy.py fails when the file is stale.

    python deploy/env_example.py > deploy/.env.example
"""

import json
import sys
import textwrap
from pathlib import Path

from pydantic import SecretStr
from pydantic.fields import FieldInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from service_settings import SERVICES, settings_class  # noqa: E402

from services.common.settings import ServiceSettings  # noqa: E402

HEADER = """\
# voicefleet configuration for `docker compose` (deploy/docker-compose.yml): `make deploy-secrets` writes
# deploy/.env with the three secrets below (or copy this file to deploy/.env and set them), then uncomment what
# you change. Every service reads deploy/.env; a variable that
# docker-compose.yml sets in a service's `environment` without ${...} (the URLs between the services,
# SPEAKER_AUDIO_DIR) takes precedence. Kubernetes takes the same variables through the Helm values.
# Generated from the settings classes by `python deploy/env_example.py`: do not edit by hand.

# == Compose ================================================================================================
# Password of the bundled PostgreSQL (required); DATABASE_URL below defaults to that database.
POSTGRES_PASSWORD=
# The admin API key, vf_<12 of a-z0-9>_<43 of A-Za-z0-9_-> (required): make the users' keys with it
# (docs/SECURITY.md). ADMIN_API_KEY under catalog below.
ADMIN_API_KEY=
# The fleet's shared service token (required): SERVICE_TOKEN below.
SERVICE_TOKEN=
# Compose turns API keys on (AUTH_REQUIRED below defaults to false, for `make run`); false turns them off.
# AUTH_REQUIRED=true
# Tag of the images docker compose builds (voicefleet/<service>:<tag>, -gpu for the GPU images).
# VOICEFLEET_TAG=latest
"""


def default_text(field: FieldInfo) -> str:
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is None or isinstance(value, SecretStr):
        return ""
    if isinstance(value, Path) and value.is_relative_to(Path.home()):
        return f"~/{value.relative_to(Path.home())}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def section(title: str, fields: dict[str, FieldInfo]) -> str:
    lines = [f"# == {title} ".ljust(110, "=")]
    for name, field in fields.items():
        lines += textwrap.wrap(field.description or "", 108, initial_indent="# ", subsequent_indent="# ")
        lines.append(f"# {name.upper()}={default_text(field)}")
    return "\n".join(lines) + "\n"


def render() -> str:
    common = ServiceSettings.model_fields
    parts = [HEADER, section("Every service (services/common/settings.py)", common)]
    for service in SERVICES:
        cls = settings_class(service)
        own = {name: field for name, field in cls.model_fields.items() if name not in common}
        parts.append(section(f"{service} (services/{service}/settings.py, {cls.__name__})", own))
    return "\n".join(parts)


if __name__ == "__main__":
    sys.stdout.write(render())
