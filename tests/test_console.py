"""The console's files as the webrtc service serves them: only the folder's own files, each with its content
type and the strict Content-Security-Policy, open with API keys on (the page asks for the key; the API checks
it; /console/config.json tells the page whether to ask). The console in a browser: tests/test_console_browser*.py."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from services.webrtc.routers.console import ROOT
from tests.in_process import ServiceApp


@pytest.fixture
def webrtc(service_app: ServiceApp, tmp_path: Path) -> TestClient:
    with service_app("webrtc", tmp_path, AUTH_REQUIRED="true") as client:
        yield client


def test_every_console_file_is_served_with_its_type_and_the_policy(webrtc: TestClient) -> None:
    files = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*") if p.is_file())
    assert {"index.html", "app.js", "api.js", "pcm-worklet.js", "console.css"} <= set(files)
    types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
    for name in files:
        response = webrtc.get(f"/console/{name}")
        assert response.status_code == 200, name
        assert response.headers["content-type"].startswith(types[Path(name).suffix]), name
        policy = response.headers["content-security-policy"]
        assert policy.startswith("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self';")
        assert "unsafe" not in policy and "http" not in policy
    assert webrtc.get("/console/").text == (ROOT / "index.html").read_text()
    redirect = webrtc.get("/console", follow_redirects=False)
    assert (redirect.status_code, redirect.headers["location"]) == (308, "/console/")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/console/../main.py", 401),  # the client sends /main.py: outside the console, it needs a key
        ("/console/%2e%2e/main.py", 404),
        ("/console/panels", 404),
        ("/console/missing.js", 404),
    ],
)
def test_nothing_else_is_served(webrtc: TestClient, path: str, status: int) -> None:
    assert webrtc.get(path).status_code == status


def test_the_page_is_open_while_the_api_wants_a_key(webrtc: TestClient) -> None:
    assert webrtc.get("/console/app.js").status_code == 200
    assert webrtc.get("/ice-servers").status_code == 401


def test_the_page_names_no_other_origin() -> None:
    for path in (p for p in ROOT.rglob("*") if p.is_file()):
        text = path.read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path


@pytest.mark.parametrize("required", [True, False])
def test_the_page_learns_whether_it_needs_a_key(service_app: ServiceApp, tmp_path: Path, required: bool) -> None:
    with service_app("webrtc", tmp_path, AUTH_REQUIRED=str(required).lower()) as client:
        answer = client.get("/console/config.json")
    assert answer.status_code == 200 and answer.json() == {"auth_required": required}
    assert answer.headers["content-security-policy"].startswith("default-src 'self'")
