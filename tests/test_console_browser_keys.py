"""The console on a fleet with API keys on (AUTH_REQUIRED=true), in Chromium through the repository's
gateway: it asks for a key before calling the API, refuses a wrong one with the server's reason and asks
again, keeps the right one in sessionStorage only, and sends it as `Authorization: Bearer` on HTTP and as
the `voicefleet.key.<key>` subprotocol on WebSockets (tests/console_page.py for the browser).

Not the session's `fleet` (`make run`, keys off): its own six services with keys on, on ports of their own,
behind a gateway of its own (as tests/test_auth_gateway.py does), a scripted LLM, and keys made with
`python -m services.catalog.keys`."""

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.async_api import Page

from tests.conftest import DATA, REPO, manifest
from tests.console_page import SHOTS, ConsolePage, open_console, open_tab, submit, until
from tests.gateway import gateway_process
from tests.processes import service_process
from tests.scripted_llm import scripted_llm_server
from tests.test_webrtc_browser import CLIP
from tests.webrtc_peer import assert_heard

pytestmark = pytest.mark.fleet  # every model of the fleet, loaded once more with keys on

PORTS = {"catalog": 8380, "asr": 8381, "tts": 8382, "voice": 8383, "voicechat": 8384, "webrtc": 8385}
GATEWAY = {"main": 8386, "bridge": 8387, "speech": 8388, "ping": 8390}
LLM_PORT = 8389
SERVICE_TOKEN = "console-keys-fleet-token-" + "t" * 20
UNKNOWN_KEY = "vf_000000000000_" + "A" * 43  # well formed, never made
KEY_STORAGE = "voicefleet.apiKey"


def url(service: str) -> str:
    return f"http://127.0.0.1:{PORTS[service]}"


@pytest.fixture(scope="module")
def keyed_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The gateway's URL and the catalog's data directory (where keys are made)."""
    work = tmp_path_factory.mktemp("console-keys")
    keys_on = {
        "AUTH_REQUIRED": "true",
        "SERVICE_TOKEN": SERVICE_TOKEN,
        "AUTH_VERIFY_URL": f"{url('catalog')}/internal/auth/verify",
        "CATALOG_URL": url("catalog"),
        "LOG_JSON": "false",
        "AUTH_CACHE_S": "0",  # a revoked key is refused by every service at once
    }
    ws = {name: url(name).replace("http", "ws") for name in PORTS}
    extra = {
        "asr": {"VOICE_URL": url("voice")},
        "voicechat": {
            "LLM_BASE_URL": f"http://127.0.0.1:{LLM_PORT}/v1",
            "TTS_WS_URL": f"{ws['tts']}/ws/tts",
            "ASR_WS_URL": f"{ws['asr']}/ws/transcribe/vad",
        },
        "webrtc": {"VOICECHAT_WS_URL": f"{ws['voicechat']}/ws/voice-chat"},
    }
    with ExitStack() as stack:
        stack.enter_context(scripted_llm_server(LLM_PORT))
        for name, port in PORTS.items():
            app = f"services.{name}.main:app"
            env = {**keys_on, **extra.get(name, {})}
            stack.enter_context(service_process(app, port, work / name, timeout=300, **env))
        backends = {f"{name.upper()}_URL": url(name) for name in PORTS}
        yield stack.enter_context(gateway_process(work / "gateway", **GATEWAY, **backends)), work / "catalog"


def keys_cli(catalog_dir: Path, *args: str) -> str:
    """`python -m services.catalog.keys ...` on the keyed fleet's catalog database; its output."""
    return subprocess.run(
        [sys.executable, "-m", "services.catalog.keys", *args],
        cwd=REPO,
        env={**os.environ, "DATA_DIR": str(catalog_dir)},  # the catalog's own settings, as service_process
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def make_key(catalog_dir: Path, user: str, scopes: str = "all") -> str:
    return keys_cli(catalog_dir, "create-key", "--user", user, "--scopes", scopes).split()[0]


@pytest.fixture
async def keyed_console(
    keyed_fleet: tuple[str, Path], tmp_path: Path, microphone: Path, request: pytest.FixtureRequest
) -> AsyncIterator[ConsolePage]:
    async with open_console(keyed_fleet[0], tmp_path / "profile", microphone, request.node.name) as watched:
        yield watched


async def enter_key(page: Page, key: str) -> None:
    await page.wait_for_selector("#key-form:not([hidden])")
    await page.fill("#api-key", key)
    await page.press("#api-key", "Enter")


async def stored_keys(page: Page) -> dict[str, object]:
    return await page.evaluate(
        "name => ({session: sessionStorage.getItem(name), local: localStorage.length, cookies: document.cookie})",
        KEY_STORAGE,
    )


async def test_the_console_asks_for_a_key_and_refuses_a_wrong_one(
    keyed_console: ConsolePage, keyed_fleet: tuple[str, Path]
) -> None:
    page = keyed_console.page
    refused: list[str] = []
    page.on("response", lambda r: refused.append(r.url) if r.status == 401 else None)
    await page.wait_for_selector("#key-form:not([hidden])")
    assert await page.inner_text("#key-reason") == "This fleet requires an API key."
    assert await page.evaluate("document.activeElement.id") == "api-key"
    assert not refused  # asked before any API call, so none was refused

    await page.fill("#api-key", "not-a-key")  # the form says what a key looks like, and sends nothing
    await page.press("#api-key", "Enter")
    assert await page.evaluate("!document.getElementById('api-key').checkValidity()")

    await enter_key(page, UNKNOWN_KEY)
    await until(page, "document.getElementById('key-reason').textContent.startsWith('The key was refused')")
    reason = await page.inner_text("#key-reason")
    assert "the API key is not valid" in reason and reason.endswith("Enter another key."), reason
    assert await page.is_visible("#key-form") and await page.input_value("#api-key") == ""
    assert (await stored_keys(page))["session"] is None  # a refused key is forgotten
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / "keys-a-wrong-key-refused.png"))
    assert refused and keyed_console.take_refusals(401, set(refused)) == len(refused)

    key = make_key(keyed_fleet[1], "dora")
    await enter_key(page, key)
    await page.wait_for_selector("#key-form", state="hidden")
    await until(page, "document.querySelectorAll('#tts-speaker option').length > 1")  # the catalog, with the key
    assert await stored_keys(page) == {"session": key, "local": 0, "cookies": ""}

    await page.reload()  # the tab keeps its key
    await until(page, "document.querySelectorAll('#tts-speaker option').length > 1")
    assert await page.is_hidden("#key-form")
    other_tab = await page.context.new_page()  # another tab has none
    await other_tab.goto(page.url)
    await other_tab.wait_for_selector("#key-form:not([hidden])")
    assert (await stored_keys(other_tab))["session"] is None
    await other_tab.close()


async def test_a_key_opens_transcription_and_the_live_stream(
    keyed_console: ConsolePage, keyed_fleet: tuple[str, Path]
) -> None:
    page = keyed_console.page
    key = make_key(keyed_fleet[1], "erin", "asr,catalog,voice")
    urls: list[str] = []
    page.on("request", lambda r: urls.append(r.url))
    page.on("websocket", lambda ws: urls.append(ws.url))
    await enter_key(page, key)
    await page.wait_for_selector("#key-form", state="hidden")

    async with page.expect_request(lambda r: r.url.endswith("/transcribe")) as sent:
        await page.set_input_files("#tr-file", str(DATA / "asr" / "en_jfk.flac"))
        await page.click("#tr-form button[type=submit]")
    assert (await (await sent.value).all_headers())["authorization"] == f"Bearer {key}"
    await page.wait_for_selector("#tr-result:not([hidden])", timeout=120_000)
    assert "ask not what your country can do for you" in (await page.inner_text("#tr-text")).lower()

    await open_tab(page, "live")  # a WebSocket: the key goes as its subprotocol
    await page.click("#live-start")
    await page.wait_for_selector("#live-finals .final", timeout=60_000)
    assert_heard({"text": await page.inner_text("#live-finals .final .text")}, CLIP)
    assert await page.inner_text("#live-error") == ""
    assert await stored_keys(page) == {"session": key, "local": 0, "cookies": ""}
    assert urls and not [u for u in urls if key in u or "api_key" in u]


async def test_a_key_speaks_with_the_agent_and_owns_what_it_creates(
    keyed_console: ConsolePage, keyed_fleet: tuple[str, Path]
) -> None:
    page = keyed_console.page
    await enter_key(page, make_key(keyed_fleet[1], "fred"))
    await page.wait_for_selector("#key-form", state="hidden")
    await open_tab(page, "chat")  # the voice chat's WebSocket, and through it asr, the LLM and tts
    await page.select_option("#chat-language", "en")
    await page.click("#chat-start")
    await page.wait_for_selector("#chat-log .transcription", timeout=60_000)
    await until(page, "document.querySelector('#chat-log .agent-text')?.textContent.startsWith('You said')", 60)
    await page.click("#chat-stop")

    await open_tab(page, "tts")  # a cloned speaker made with the key belongs to the key's user
    await page.fill("#clone-name", "Fred's voice")
    await page.fill("#clone-text", manifest()["asr/en_jfk.flac"])
    await page.set_input_files("#clone-file", str(DATA / "asr" / "en_jfk.flac"))
    speaker = await submit(page, "#clone-save", "/api/speakers")
    assert speaker["user_id"] == "fred"
    row = page.locator(f"#tts-speakers tbody tr[data-id='{speaker['id']}']")
    await row.wait_for()
    assert "fred" in await row.inner_text()


async def test_a_key_revoked_while_the_page_is_open_is_asked_for_again(
    keyed_console: ConsolePage, keyed_fleet: tuple[str, Path]
) -> None:
    page = keyed_console.page
    key = make_key(keyed_fleet[1], "gina")
    await enter_key(page, key)
    await page.wait_for_selector("#key-form", state="hidden")
    assert "revoked" in keys_cli(keyed_fleet[1], "revoke-key", key.split("_")[1])
    await open_tab(page, "live")
    await page.click("#live-start")  # the stream's socket is refused with an `error` event, not a 401
    await page.wait_for_selector("#key-form:not([hidden])")
    assert (await page.inner_text("#key-reason")).startswith("The key was refused: the API key is not valid")
    assert "not valid" in await page.inner_text("#live-error")
    assert (await stored_keys(page))["session"] is None
