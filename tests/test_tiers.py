"""The tier rule of tests/conftest.py, run on a suite of its own: each test gets the tier its fixtures
imply unless it is marked, `-m` selects by it, and a test with two tiers or one below its fixtures' is
a collection error."""

import pytest

pytest_plugins = ["pytester"]

CONFTEST = """
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import pytest_collection_modifyitems  # noqa: F401  (the rule under test)


@pytest.fixture
def fleet() -> str:
    return "http://127.0.0.1:8124"


@pytest.fixture
def gateway(fleet: str) -> str:
    return fleet


@pytest.fixture
def app_client() -> Iterator[TestClient]:
    yield None
"""
INI = """
[pytest]
addopts = --strict-markers
asyncio_default_fixture_loop_scope = function
markers =
    unit: u
    service: s
    fleet: f
    slow: sl
"""
SUITE = """
import pytest


def test_plain():
    pass


def test_through_the_gateway(gateway):
    pass


def test_with_an_app(app_client):
    pass


@pytest.mark.service
def test_with_a_real_model():
    pass


@pytest.mark.fleet
def test_marked_above_its_fixtures(app_client):
    pass
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    return pytester


def selected(pytester: pytest.Pytester, expression: str) -> set[str]:
    result = pytester.runpytest("--collect-only", "-q", "-m", expression)
    return {line.split("::")[1] for line in result.outlines if "::" in line}


def test_each_test_gets_the_tier_its_fixtures_or_its_mark_give(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_suite=SUITE)
    assert selected(suite, "unit") == {"test_plain"}
    assert selected(suite, "service") == {"test_with_an_app", "test_with_a_real_model"}
    assert selected(suite, "fleet") == {"test_through_the_gateway", "test_marked_above_its_fixtures"}


@pytest.mark.parametrize(
    ("test", "message"),
    [
        ("@pytest.mark.unit\ndef test_x(gateway):\n    pass\n", "is marked unit but its fixtures make it a fleet test"),
        ("@pytest.mark.unit\ndef test_x(app_client):\n    pass\n", "is marked unit but its fixtures make it a service"),
        ("@pytest.mark.unit\n@pytest.mark.fleet\ndef test_x():\n    pass\n", "has 2 tier marks ['fleet', 'unit']"),
    ],
    ids=["unit-with-the-fleet", "unit-with-an-app", "two-tiers"],
)
def test_a_wrong_tier_is_a_collection_error(suite: pytest.Pytester, test: str, message: str) -> None:
    suite.makepyfile(test_suite="import pytest\n\n" + test)
    result = suite.runpytest("--collect-only", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in "\n".join(result.errlines + result.outlines)
