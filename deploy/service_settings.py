"""The services and their settings classes, for the tools that document and check the deployment
(deploy/env_example.py, deploy/k8s/values_schema.py, tests/test_deploy.py, tests/test_helm_chart.py)."""

import importlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from services.common.settings import ServiceSettings  # noqa: E402

SERVICES = ("asr", "voice", "tts", "catalog", "voicechat", "webrtc")


def settings_class(service: str) -> type[ServiceSettings]:
    """The one `ServiceSettings` subclass in services/<service>/settings.py."""
    module = importlib.import_module(f"services.{service}.settings")
    (cls,) = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, ServiceSettings) and value is not ServiceSettings
    ]
    return cls


def setting_names(service: str) -> set[str]:
    """The environment variables the service's settings class reads."""
    return {name.upper() for name in settings_class(service).model_fields}
