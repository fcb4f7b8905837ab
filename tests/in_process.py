"""A service's app built in the test's own process, as `uvicorn services.<name>.main:app` would build it
with the environment given: its lifespan runs (models load in the background as in a process) and a
TestClient, an httpx.Client, talks to it, WebSockets included. No port, no process start, no second
import of torch; tests may swap a dependency with `client.app.dependency_overrides`."""

import importlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.conftest import wait_until

ServiceApp = Callable[..., AbstractContextManager[TestClient]]


def build_service_app(service: str, data_dir: Path, **env: str) -> FastAPI:
    """`services.<service>.main.build_app()` with DATA_DIR=`data_dir` and `env` in the environment; the
    environment and the cached settings are put back afterwards."""
    dependencies = importlib.import_module(f"services.{service}.dependencies")
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"DATA_DIR": str(data_dir), **env}.items():
            patch.setenv(name, value)
        dependencies.get_settings.cache_clear()
        try:
            # A first import builds the module's own `app` too: with this environment, not the caller's.
            return importlib.import_module(f"services.{service}.main").build_app()
        finally:
            dependencies.get_settings.cache_clear()


def settled(client: TestClient) -> bool:
    """Models loaded, or failed for good (the same test as tests/processes.py's)."""
    response = client.get("/readyz")
    return response.status_code == 200 or "loading" not in response.text


@contextmanager
def running_service(service: str, data_dir: Path, timeout: float = 60, **env: str) -> Iterator[TestClient]:
    """The app of `service`, its lifespan started and its models settled; stopped on exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    app = build_service_app(service, data_dir, **env)
    with TestClient(app, raise_server_exceptions=False) as client:
        wait_until(lambda: settled(client), timeout, f"the {service} models")
        yield client


@pytest.fixture
def service_app() -> ServiceApp:
    """`service_app("voice", data_dir, KEEP_VERIFY_AUDIO="false")`: a context manager yielding a
    TestClient of that service built in this process (a test using it is a `service` test)."""
    return running_service
